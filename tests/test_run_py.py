"""run.py's own command line: its help, and the test set-up that never fails because the package
manager is busy (another process holding the dpkg lock, as an unattended upgrade does)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import run
from tests.helpers import ROOT


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_help_lists_the_commands_and_how_to_choose_port_and_address(flag):
    out = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), flag], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0
    for command in ("run ", "test ", "bench "):
        assert f"\n  {command}" in out.stdout
    assert "--server.port 8502" in out.stdout and "--server.address 127.0.0.1" in out.stdout
    assert "Creating a virtual environment" not in out.stdout  # help sets nothing up


class HeldLock:
    """Another process holding ``path`` locked as apt and dpkg lock theirs (fcntl), until
    the ``with`` block ends."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> HeldLock:
        code = textwrap.dedent(
            f"""
            import fcntl, os, sys
            fd = os.open({str(self.path)!r}, os.O_RDWR | os.O_CREAT)
            fcntl.lockf(fd, fcntl.LOCK_EX)
            print("held", flush=True)
            sys.stdin.read()
            """
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout.readline().strip() == "held"
        return self

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def test_dpkg_busy_while_another_process_holds_the_lock(tmp_path):
    lock = tmp_path / "lock-frontend"
    lock.touch()
    assert not run.dpkg_busy((lock,))
    with HeldLock(lock):
        assert run.dpkg_busy((tmp_path / "absent", lock))
    assert not run.dpkg_busy((lock,))  # released when that process ended


def test_dpkg_busy_ignores_a_missing_lock_file(tmp_path):
    assert not run.dpkg_busy((tmp_path / "no-such-lock",))


def test_test_setup_skips_installing_when_the_package_manager_is_busy(tmp_path, capsys):
    lock = tmp_path / "lock"
    lock.touch()
    with HeldLock(lock):
        # would run apt-get for a package that does not exist, were the lock free
        why = run.ensure_test_packages(["no-such-package-h1"], locks=(lock,))
    said = capsys.readouterr().out
    assert why is not None and "no-such-package-h1" in why  # passed on to the skip reasons
    assert "package manager is busy" in said and "no-such-package-h1" in said
    assert "will be skipped" in said and "Installing" not in said


def test_test_setup_does_nothing_when_every_package_is_there(capsys):
    assert run.ensure_test_packages([]) is None
    assert capsys.readouterr().out == ""


def test_missing_test_packages_names_debian_packages():
    assert set(run.missing_test_packages()) <= set(run.TEST_PACKAGES)
