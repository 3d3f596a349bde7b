"""The sign-in throttle: failures per role, exponential lock-out, shared by sessions and
persisted in ``<db>.signin.json`` so ``python -m lib unlock`` can clear it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lib.auth.passwords import HASH_KEYS, PASSWORD_ROLES, password_roles, verify_password

try:
    import fcntl
except ImportError:  # Windows: the throttle file is then guarded by the in-process lock only
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "lockout_seconds",
    "SignInResult",
    "SignInThrottle",
    "throttle_path",
    "clear_lockout",
]

log = logging.getLogger(__name__)


def lockout_seconds(
    failures: int, limit: int = 5, base: float = 60.0, cap: float = 3600.0
) -> float:
    """Seconds a role is locked after its ``failures``-th consecutive failure.

    >>> [lockout_seconds(n) for n in (4, 5, 6, 7, 11, 50)]
    [0.0, 60.0, 120.0, 240.0, 3600.0, 3600.0]
    """
    if failures < limit:
        return 0.0
    return float(min(cap, base * 2 ** min(failures - limit, 32)))


@dataclass(frozen=True)
class SignInResult:
    """One password attempt: ``granted`` (``role`` set), ``wrong``, or ``locked`` (not checked).

    ``wait`` is the seconds before the role(s) tried can be tried again; ``locked`` lists the roles
    that were skipped because they are locked out.
    """

    outcome: Literal["granted", "wrong", "locked"]
    role: str | None = None
    wait: float = 0.0
    locked: tuple[str, ...] = ()


class SignInThrottle:
    """Per-role sign-in throttle, shared by every session of the server and persisted to a file.

    Failures are counted per role attempted: with ``role`` given (the form's role choice) a wrong
    password counts against that role only; without it the password is tried against every
    password role not locked out, and a failure counts against each role tried.  A role's first
    ``limit`` - 1 consecutive failures are free; the ``limit``-th locks it for ``base`` seconds,
    each further failure doubles that, capped at ``cap`` (1 min doubling to 1 h).  While a role is
    locked its hash is not even checked, and those refused attempts neither count nor extend the
    lock-out, so nobody can lock a role out for longer than ``cap`` after their last counted
    guess; at the cap an attacker gets one guess per hour.  A success for role X resets X only; a
    quiet ``forget_after`` seconds since a role's last failure forgets its count.  A lock-out of
    the coordinator blocks coordinator password sign-in only: the committee, and OIDC sign-in,
    are unaffected, and the deployer can clear it with ``python -m lib unlock``.

    Check, verify and record happen under one lock (a thread lock plus ``fcntl.flock`` on
    ``<path>.lock``), so concurrent guesses cannot race past the check; this also keeps the
    server to one PBKDF2 computation at a time.  The state lives in the JSON file ``path``
    (written atomically), read afresh on every check; without a path, or when the folder is not
    writable, it is kept in memory.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        limit: int = 5,
        base: float = 60.0,
        cap: float = 3600.0,
        forget_after: float = 86_400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path) if path else None
        self.limit, self.base, self.cap, self.forget_after = limit, base, cap, forget_after
        self.clock = clock
        self._lock = threading.Lock()
        self._memory: dict[str, dict[str, float]] = {}
        self._in_memory = self.path is None

    def wait_seconds(self, role: str) -> float:
        """Seconds until ``role`` may try a password again (0 when it may)."""
        with self._state() as roles:
            return self._wait(roles, role, self.clock())

    def attempt(
        self, password: str, access: Mapping[str, Any], role: str | None = None
    ) -> SignInResult:
        """Check ``password`` for ``role`` (or every password role), counting a failure."""
        candidates = (role,) if role else password_roles(access)
        candidates = tuple(r for r in candidates if r in password_roles(access))
        with self._state() as roles:
            now = self.clock()
            locked = tuple(r for r in candidates if self._wait(roles, r, now))
            open_ = [r for r in candidates if r not in locked]
            if candidates and not open_:
                return SignInResult(
                    "locked", wait=min(self._wait(roles, r, now) for r in locked), locked=locked
                )
            for r in open_:
                if verify_password(password, str(access[HASH_KEYS[r]])):
                    roles.pop(r, None)
                    return SignInResult("granted", role=r, locked=locked)
            for r in open_:
                self._fail(roles, r, now)
            wait = max((self._wait(roles, r, now) for r in open_), default=0.0)
            return SignInResult("wrong", wait=wait, locked=locked)

    def clear(self, role: str | None = None) -> list[str]:
        """Forget the failures of ``role`` (or of every role); the roles that had any."""
        with self._state() as roles:
            cleared = [r for r in list(roles) if role in (None, r)]
            for r in cleared:
                del roles[r]
            return cleared

    def _wait(self, roles: Mapping[str, Mapping[str, float]], role: str, now: float) -> float:
        entry = roles.get(role, {})
        # never longer than cap after the last failure, whatever the file or the clock says
        until = min(entry.get("locked_until", 0.0), entry.get("last_failure", now) + self.cap)
        return max(0.0, until - now)

    def _fail(self, roles: dict[str, dict[str, float]], role: str, now: float) -> None:
        entry = roles.get(role, {})
        failures = int(entry.get("failures", 0))
        if now - float(entry.get("last_failure", now)) >= self.forget_after:
            failures = 0
        failures += 1
        lock = lockout_seconds(failures, self.limit, self.base, self.cap)
        roles[role] = {
            "failures": failures,
            "last_failure": now,
            "locked_until": now + lock if lock else 0.0,
        }

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, dict[str, float]]]:
        """The per-role state, under the thread lock and the file lock; saved if changed.

        When the file cannot be locked or written (a read-only data folder, a full disk) the
        throttle carries on in memory from the last state it knew, so failures still count.
        """
        with self._lock:
            fd = None if self._in_memory else self._open_lock()
            if fd is None:
                yield self._memory
                return
            try:
                if fcntl is not None:
                    with contextlib.suppress(OSError):  # a filesystem without locks: threads only
                        fcntl.flock(fd, fcntl.LOCK_EX)
                roles = _read_state(self.path)
                before = json.dumps(roles, sort_keys=True)
                yield roles
                if json.dumps(roles, sort_keys=True) != before and not _write_state(
                    self.path, roles
                ):
                    self._to_memory(roles)
            finally:
                os.close(fd)  # closing releases the flock

    def _open_lock(self) -> int | None:
        try:
            return os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            self._to_memory(_read_state(self.path))
            return None

    def _to_memory(self, roles: dict[str, dict[str, float]]) -> None:
        log.warning("sign-in throttle file %s not usable; counting in memory", self.path)
        self._memory, self._in_memory = roles, True


def _read_state(path: Path) -> dict[str, dict[str, float]]:
    """The per-role entries of the file; a missing or damaged file (or entry) counts as none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        roles = data.get("roles", {}) if isinstance(data, dict) else {}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("sign-in throttle file %s unreadable, starting afresh: %s", path, exc)
        return {}
    out = {}
    for role, entry in roles.items() if isinstance(roles, dict) else ():
        with contextlib.suppress(AttributeError, TypeError, ValueError):
            out[role] = {
                "failures": int(entry["failures"]),
                "last_failure": float(entry["last_failure"]),
                "locked_until": float(entry["locked_until"]),
            }
    return {r: v for r, v in out.items() if r in PASSWORD_ROLES}


def _write_state(path: Path, roles: Mapping[str, Any]) -> bool:
    """Write the state to a temporary file beside ``path``, then rename it over ``path``."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "roles": roles}, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return False


def throttle_path(db: str | os.PathLike[str]) -> Path:
    """The throttle's JSON file beside the database: ``<db>.signin.json``."""
    return Path(f"{os.fspath(db)}.signin.json")


def clear_lockout(db: str | os.PathLike[str], role: str | None = None) -> list[str]:
    """Clear the sign-in failures of ``role`` (or all roles) for the database ``db``."""
    path = throttle_path(db)
    if not path.exists():
        return []
    return SignInThrottle(path).clear(role)
