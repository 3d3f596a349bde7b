#!/usr/bin/env python3
"""One command to set up and run Delphi Dashboard, or its tests, on a machine with only Python.

    python3 run.py            # set up .venv, build the study ($DELPHI_STUDY, else the demo), serve
    python3 run.py test       # set up .venv (+ Chromium, LibreOffice for the tests), run every test
    python3 run.py bench      # the performance benchmark (see README)
    python3 run.py --help     # these commands, and how to choose the port and address

Set-up is idempotent: the virtual environment is (re)installed only when a requirements file
changed.  Extra arguments after ``test`` go to pytest; after ``run`` to ``streamlit run``.
"""

from __future__ import annotations

import errno
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
# Debian packages the tests use, and the program each puts on the PATH: the browser tests drive
# Chromium; the Word documents' tests print them with LibreOffice and read the PDF with poppler.
TEST_PACKAGES = {"chromium": "chromium", "libreoffice-writer-nogui": "soffice"}
TEST_PACKAGES["poppler-utils"] = "pdftoppm"
DPKG_LOCKS = (Path("/var/lib/dpkg/lock-frontend"), Path("/var/lib/dpkg/lock"))
USAGE = """\
usage: python3 run.py [COMMAND] [ARGUMENTS...]

Sets up .venv (first run only; again when a requirements file changes), then:

  run     build the study's database if it has no snapshot yet ($DELPHI_STUDY, else the bundled
          demo) and serve the dashboard with Streamlit (the default command)
  test    install what the tests need (Debian's chromium, libreoffice-writer-nogui and
          poppler-utils, as root with apt-get), then ruff and pytest; arguments go to pytest
  bench   the performance benchmark (python -m bench); arguments go to it

Arguments after `run` (or with no command) go to `streamlit run app.py`. The dashboard listens
on port 8501 on every address; choose another port or address with Streamlit's options:

  python3 run.py run --server.port 8502
  python3 run.py run --server.address 127.0.0.1 --server.port 8080

Examples:
  python3 run.py                        serve the demo study on http://localhost:8501
  DELPHI_STUDY=my_study.toml python3 run.py
  python3 run.py test tests/test_docx.py -q
"""


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


def missing_test_packages() -> list[str]:
    """The Debian packages of ``TEST_PACKAGES`` whose program is not installed."""
    found = {"chromium": CHROMIUM.exists()}
    return [
        pkg
        for pkg, program in TEST_PACKAGES.items()
        if not found.get(pkg, shutil.which(program) is not None)
    ]


def dpkg_busy(locks: tuple[Path, ...] = DPKG_LOCKS) -> bool:
    """Whether another process holds the package manager's lock (apt or dpkg is running, e.g.
    an unattended upgrade): the lock is taken and released again at once, as apt takes it."""
    import fcntl

    for lock in locks:
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            continue  # no such lock file, or not ours to open: nothing to wait for
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return True
        finally:
            os.close(fd)  # closing releases a lock taken here
    return False


def ensure_test_packages(
    missing: list[str] | None = None, locks: tuple[Path, ...] = DPKG_LOCKS
) -> str | None:
    """Install the Debian packages the tests use (default: ``missing_test_packages()``) when
    missing and we may (root + apt).

    Never fails the run: when the package manager is busy (another process holds one of
    ``locks``) or the install fails, it says so and the tests that need a missing program
    skip.  Returns why they could not be installed (None: nothing is missing any more), which
    the test run passes on to the tests' skip reasons (``DELPHI_TEST_PACKAGES``)."""
    missing = missing_test_packages() if missing is None else missing
    if not missing:
        return None
    skipped = (
        "the browser tests (chromium) and the Word documents' LibreOffice tests "
        "(libreoffice-writer-nogui, poppler-utils) that need them will be skipped"
    )
    if not (shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0):
        why = f"not installed and cannot be installed here: {', '.join(missing)}"
        _say(f"{why[0].upper()}{why[1:]}; {skipped}")
        return why
    if dpkg_busy(locks):
        _say(
            f"The package manager is busy (another process holds the dpkg lock), so "
            f"{', '.join(missing)} cannot be installed now; {skipped}. Run the tests again "
            "when it has finished."
        )
        return f"the package manager was busy, so {', '.join(missing)} could not be installed"
    _say(f"Installing Debian's {', '.join(missing)} for the tests (first run only)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ("-o", "DPkg::Lock::Timeout=60")  # a lock taken since the check above: wait a minute
    try:
        _run("apt-get", *wait, "update", "-qq", env=env)
        _run(
            "apt-get", *wait, "install", "-y", "-qq", "--no-install-recommends", *missing,
            env=env, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        _say(f"apt-get exited with {exc.returncode}: {skipped}")
        return f"apt-get exited with {exc.returncode} installing {', '.join(missing)}"
    return None


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
    why = ensure_test_packages()
    env = {**os.environ, "DELPHI_TEST_PACKAGES": why} if why else None
    _say("Lint and format check (ruff)")
    _run(PY, "-m", "ruff", "check", ".")
    _run(PY, "-m", "ruff", "format", "--check", ".")
    _say("Tests (pytest: tests/ and the doctests in lib/)")
    return subprocess.call([str(PY), "-m", "pytest", *extra], cwd=ROOT, env=env)


def cmd_bench(extra: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    return subprocess.call([str(PY), "-m", "bench", *extra], cwd=ROOT)


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"], ["help"]):
        print(USAGE, end="")
        return 0
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
