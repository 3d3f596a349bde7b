#!/usr/bin/env python3
"""One command to set up and run Delphi Dashboard, or its tests, on a machine with only Python.

    python3 run.py            # set up .venv, build the study ($DELPHI_STUDY, else the demo), serve
    python3 run.py test       # set up .venv (+ Chromium for browser tests), run every test
    python3 run.py bench      # the performance benchmark (see README)

Set-up is idempotent: the virtual environment is (re)installed only when a requirements file
changed.  Extra arguments after ``test`` go to pytest; after ``run`` to ``streamlit run``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent
NOT_BUILT = 3  # build(): the study's database could not be built; the app is served anyway
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
CHROMIUM = Path("/usr/bin/chromium")


def _say(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def _run(*cmd: str | Path, **kw) -> None:
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def ensure_venv(requirements: str) -> None:
    """Create .venv and install ``requirements`` unless the same files are installed already."""
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py must explain itself on old Pythons
        sys.exit(f"Python 3.11 or newer is needed (this is {sys.version.split()[0]}).")
    files = [ROOT / "requirements.txt", ROOT / requirements]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    stamp = VENV / f".installed-{requirements}"
    if PY.exists() and stamp.exists() and stamp.read_text() == digest:
        return
    if not PY.exists():
        _say(f"Creating a virtual environment in {VENV}")
        venv.create(VENV, with_pip=True)
    _say(f"Installing {requirements} (first run only; a few minutes)")
    _run(
        PY, "-m", "pip", "install", "-qq", "--disable-pip-version-check", "-r", ROOT / requirements
    )
    stamp.write_text(digest)


def ensure_chromium() -> None:
    """Install Debian's Chromium for the browser tests when missing and we may (root + apt)."""
    if CHROMIUM.exists():
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        _say("Installing Debian's chromium for the browser tests")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run("apt-get", "update", "-qq", env=env)
        _run("apt-get", "install", "-y", "-qq", "chromium", env=env, stdout=subprocess.DEVNULL)
    else:
        _say(
            "Chromium not found and cannot be installed here: browser tests will be skipped "
            "(install Debian's 'chromium' package to run them)"
        )


def served_study(environ: Mapping[str, str]) -> tuple[str | None, str]:
    """The study ``python3 run.py`` builds and serves, and its database, chosen as the app and
    ``python -m lib`` choose them: ``$DELPHI_STUDY`` (None: the bundled demo), ``$DELPHI_DB``
    else the study's own (``lib.study_db.default_db``).  Runs in .venv."""
    from lib.study_db import default_db

    study = environ.get("DELPHI_STUDY") or None
    return study, environ.get("DELPHI_DB") or str(default_db(study))


def _google(secrets: Path) -> dict:
    """The ``[gcp_service_account]`` table of the app's secrets file, as the app passes it to a
    refresh (without it the sheet reader uses $DELPHI_GOOGLE_CREDENTIALS)."""
    import tomllib

    try:
        table = tomllib.loads(secrets.read_text(encoding="utf-8")).get("gcp_service_account")
    except (OSError, ValueError):
        return {}
    return {"credentials_info": dict(table)} if isinstance(table, dict) else {}


def build(
    environ: Mapping[str, str] = os.environ, secrets: Path = ROOT / ".streamlit" / "secrets.toml"
) -> int:
    """Build the served study's database if it has no snapshot yet, as the app's first page
    view would (runs in .venv).  0 when it has one; NOT_BUILT, with the reason, when it cannot
    (another study's database, no credentials, a sheet not shared): the app then says so too."""
    from lib import store
    from lib.config import ConfigError, load_config
    from lib.pipeline import RefreshError, ensure_demo_db
    from lib.sources import is_google_sheet
    from lib.study_db import is_demo_study, mismatch

    study, db = served_study(environ)
    try:
        cfg = load_config(study)
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        with store.connect(db, read_only=True) as con:
            other = mismatch(con, cfg.source, cfg.title, db=db, study=study)
        if other is not None:
            text = other.message()
            print(f"    {text[:1].upper()}{text[1:]}")
            return NOT_BUILT
        google = _google(secrets) if is_google_sheet(cfg.source) else None
        print("    snapshot", ensure_demo_db(cfg, db, google=google))
    except (ConfigError, RefreshError, store.StoreError, OSError) as exc:
        if is_demo_study(study):
            raise  # the bundled demo always builds: a failure here is a broken installation
        print(f"    The database {db} could not be built: {exc}")
        return NOT_BUILT
    return 0


def cmd_run(extra: list[str]) -> int:
    ensure_venv("requirements.txt")
    study = os.environ.get("DELPHI_STUDY")
    if study:
        _say(f"Building the database of {study} if it has no snapshot yet")
    else:
        _say("Building the demo study database if needed")
    code = [str(PY), "-c", "import run, sys; sys.exit(run.build())"]
    status = subprocess.call(code, cwd=ROOT)
    if status not in (0, NOT_BUILT):  # a broken installation: stop, as before
        raise subprocess.CalledProcessError(status, code)
    anyway = " anyway: its pages say what is wrong" if status else ""
    _say(f"Starting the dashboard{anyway} (Ctrl+C to stop)")
    return subprocess.call([str(PY), "-m", "streamlit", "run", "app.py", *extra], cwd=ROOT)


def cmd_test(extra: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    ensure_chromium()
    _say("Lint and format check (ruff)")
    _run(PY, "-m", "ruff", "check", ".")
    _run(PY, "-m", "ruff", "format", "--check", ".")
    _say("Tests (pytest: tests/ and the doctests in lib/)")
    return subprocess.call([str(PY), "-m", "pytest", *extra], cwd=ROOT)


def cmd_bench(extra: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    return subprocess.call([str(PY), "-m", "bench", *extra], cwd=ROOT)


def main(argv: list[str]) -> int:
    commands = {"run": cmd_run, "test": cmd_test, "bench": cmd_bench}
    name = argv[0] if argv and argv[0] in commands else "run"
    extra = argv[1:] if argv and argv[0] in commands else argv
    try:
        return commands[name](extra)
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(map(str, exc.cmd))} exited with {exc.returncode}", file=sys.stderr)
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
