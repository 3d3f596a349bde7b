"""Sheets API requests per refresh, and the fetch itself, against the local fake Sheets API.

Real gspread + google-auth over HTTP to ``tests/fake_sheets.py`` on 127.0.0.1 (a throwaway
service account; nothing contacts Google).  The request count is read from the fake's own log
and from ``RefreshResult.requests``; it must not grow with the number of rounds.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.generate import Size, study_config, study_tabs
from lib.pipeline import refresh

__all__ = ["requests_per_rounds", "timed_fetch"]


def _fake(tabs: dict[str, list[list[Any]]]) -> tuple[Any, dict[str, Any]]:
    """A started fake holding ``tabs`` and the ``google`` arguments that reach it."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.fake_sheets import FakeSheets, fake_session, generate_service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # 1024: fast, test only
    fake = FakeSheets(tabs, title="Benchmark", public_keys=[key.public_key()]).start()
    info, _ = generate_service_account(fake.token_uri, key)
    return fake, {"credentials_info": info, "session": fake_session(fake.url)}


def requests_per_rounds(
    max_rounds: int = 10, panelists: int = 15, statements: int = 40
) -> list[dict[str, Any]]:
    """One refresh from the fake sheet per number of rounds, 1..max_rounds: requests made."""
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-sheets-") as tmp:
        for rounds in range(1, max_rounds + 1):
            size = Size(f"R{rounds}", panelists, statements, rounds)
            fake, google = _fake(study_tabs(size))
            try:
                res = refresh(
                    study_config(size),
                    Path(tmp) / f"r{rounds}.duckdb",
                    source=fake.sheet_url,
                    google=google,
                )
                out.append(
                    {
                        "rounds": rounds,
                        "requests": res.requests,
                        "server_saw": fake.count(),
                        "tabs": len(fake.tabs),
                    }
                )
            finally:
                google["session"].close()
                fake.stop()
    return out


def timed_fetch(size: Size) -> dict[str, Any]:
    """Seconds for ``lib.sources.gsheets.read_sheet`` of a study's tabs from the local fake."""
    from lib.sources.gsheets import read_sheet

    fake, google = _fake(study_tabs(size))
    try:
        t0 = time.perf_counter()
        raw = read_sheet(fake.sheet_url, study_config(size).tabs(), **google)
        seconds = time.perf_counter() - t0
    finally:
        google["session"].close()
        fake.stop()
    return {"seconds": seconds, "requests": raw.requests}
