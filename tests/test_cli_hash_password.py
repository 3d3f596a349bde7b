"""``python -m lib hash-password``: reads a password, prints only its salted hash."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from lib import __main__ as cli
from lib.auth import verify_password
from tests.helpers import ROOT

PASSWORD = "correct horse battery"


class _Terminal(io.StringIO):
    """A stdin that says it is a terminal (and must not be read: getpass reads the tty)."""

    def isatty(self) -> bool:
        return True


def test_password_from_stdin_prints_only_its_hash(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["hash-password"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 and err == ""
    assert out.startswith("pbkdf2_sha256$600000$") and PASSWORD not in out
    assert verify_password(PASSWORD, out.strip())


def test_at_a_terminal_the_password_is_asked_twice_without_echo(monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD])
    prompts = []
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(
        cli.getpass, "getpass", lambda prompt: prompts.append(prompt) or next(answers)
    )
    assert cli.main(["hash-password"]) == 0
    assert prompts == ["Password: ", "Password again: "]
    assert verify_password(PASSWORD, capsys.readouterr().out.strip())


def test_two_different_passwords_print_nothing(monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: next(answers))
    assert cli.main(["hash-password"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "differ" in err and PASSWORD not in err


@pytest.mark.parametrize("given", ["", "\n", "short\n"])
def test_empty_or_short_password_is_refused(monkeypatch, capsys, given):
    monkeypatch.setattr(sys, "stdin", io.StringIO(given))
    assert cli.main(["hash-password"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "shorter than 8 characters" in err


def test_hash_password_as_a_process_reads_a_pipe():
    done = subprocess.run(
        [sys.executable, "-m", "lib", "hash-password"],
        cwd=ROOT,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert verify_password(PASSWORD, done.stdout.strip())
