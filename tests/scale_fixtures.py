"""Studies that change scale: a 7-point round 1 (one statement there a Yes/No question) and a
Yes/No inclusion vote in round 2 with "Don't know" counted in the denominator.

Built here in the Google Forms layout (answers as Forms writes them: numbers for a linear
scale, the option text for multiple choice), with the answers returned so that tests compute
the expected figures themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MixedStudy", "mixed_study", "write_workbook", "MIXED_TOML"]

DONT_KNOW = "Don't know"
MIXED_TOML = """\
title = "Mixed scales study"
source = "mixed.xlsx"
identity_column = "Email Address"
timezone = "UTC"

[scale]
min = 1
max = 7
no_opinion = ["Unable to judge"]

[rounds]
"Round 1" = 1
"Round 2" = 2

[consensus]
preset = "pct75"

[[scales]]
name = "Inclusion vote"
rounds = [2]
type = "yes_no"
no_opinion = ["Don't know"]
no_opinion_in_denominator = true
[scales.consensus]
threshold = 70

[[scales]]
name = "Feasibility check"
rounds = [1]
statements = ["S05"]
type = "yes_no"
"""


@dataclass
class MixedStudy:
    """The tabs, and each (round, statement)'s answers as written in the sheet."""

    tabs: dict[str, list[list[Any]]]
    answers: dict[tuple[int, str], list[Any]]


def mixed_study(n: int = 12, seed: int = 7) -> MixedStudy:
    """Round 1: S01–S04 on 1–7, S05 Yes/No; round 2: S02 and S03 again as a Yes/No vote."""
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2026, 9, 1, 9)
    emails = [f"p{i:02d}@x.example" for i in range(n)]
    answers: dict[tuple[int, str], list[Any]] = {}
    for sid in ("S01", "S02", "S03", "S04"):
        values: list[Any] = [int(v) for v in rng.integers(1, 8, n)]
        values[0] = "Unable to judge"
        answers[(1, sid)] = values
    answers[(1, "S05")] = [str(v) for v in rng.choice(["Yes", "No"], n, p=[0.8, 0.2])]
    for sid in ("S02", "S03"):
        answers[(2, sid)] = [str(v) for v in rng.choice(["Yes", "No", DONT_KNOW], n)]
    titles = {
        "S01": "S01. Low doses improve skin texture",
        "S02": "S02. Monitoring lipids is needed",
        "S03": "S03. Photoprotection is advised",
        "S04": "S04. Six months is a minimum course",
        "S05": "S05. A one-page consent form is feasible",
    }
    tabs: dict[str, list[list[Any]]] = {}
    for rnd, sids in ((1, ["S01", "S02", "S03", "S04", "S05"]), (2, ["S02", "S03"])):
        rows = [["Timestamp", "Email Address", *(titles[s] for s in sids)]]
        for i, email in enumerate(emails):
            when = t0 + dt.timedelta(days=14 * (rnd - 1), minutes=i)
            rows.append([when, email, *(answers[(rnd, s)][i] for s in sids)])
        tabs[f"Round {rnd}"] = rows
    return MixedStudy(tabs, answers)


def write_workbook(tabs: dict[str, list[list[Any]]], path: Path) -> Path:
    """The tabs as a real .xlsx workbook (openpyxl), one sheet per tab, in order."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in tabs.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path
