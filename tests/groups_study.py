"""A core-outcome-set study with three stakeholder groups, one under privacy.min_group_size.

Built here in the Google Forms layout (numbers for a 1–9 linear scale) and refreshed into a
DuckDB file by the tests.  The answers are returned as plain lists so that each test computes
what it expects on its own (a pandas groupby written in the test, or a count by hand):

- Patients (8; one skips round 2), Clinicians (7), Researchers (2: under the minimum of 5).
- COMET 70/15 on 1–9, and ``[groups] consensus = "every_group"``.
- S01 consensus in every group; S02 in the panel (14/17 rate 7–9) but not among Patients (5/8,
  62.5%), so no consensus in the study in round 1, then in every group in round 2; S03
  Patients out and Clinicians in (discordant) in both rounds; S04 out in every group.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib import store
from lib.config import StudyConfig, config_from_dict, load_config
from lib.pipeline import refresh
from lib.publication import publish
from lib.sources import RawSource

__all__ = [
    "ATTRIBUTE",
    "GROUP_OF",
    "PANEL",
    "RATINGS",
    "TEXT",
    "UNABLE",
    "answers",
    "build",
    "groups_config",
    "study_toml",
]

ATTRIBUTE = "Stakeholder group"
UNABLE = "Unable to judge"
GROUP_OF = {
    **{f"patient{i}@cos.example": "Patients" for i in range(1, 9)},
    **{f"clinician{i}@cos.example": "Clinicians" for i in range(1, 8)},
    **{f"researcher{i}@cos.example": "Researchers" for i in range(1, 3)},
}
PANEL = list(GROUP_OF)  # 8 patients, 7 clinicians, 2 researchers, in this order
COUNTRY = {p: ("Italy" if i % 2 else "Spain") for i, p in enumerate(PANEL)}
TEXT = {
    "S01": "Overall survival",
    "S02": "Quality of life",
    "S03": "Treatment burden",
    "S04": "Hospital parking",
}
# RATINGS[round][statement]: one answer per panelist in PANEL's order (None: did not respond).
_P8_ABSENT = None
RATINGS: dict[int, dict[str, list[Any]]] = {
    1: {
        "S01": [8, 9, 7, 8, 9, 7, 8, 9] + [9, 8, 7, 7, 8, 9, 8] + [9, 8],
        "S02": [7, 8, 5, 6, 9, 5, 8, 7] + [9, 9, 8, 8, 7, 9, 8] + [8, 9],
        "S03": [2, 3, 2, 1, 4, 3, 2, 5] + [8, 9, 7, 8, 9, 8, 7] + [5, 6],
        "S04": [1, 2, 1, 3, 2, 1, 2, 1] + [2, 1, 3, 2, 1, 2, 1] + [1, 2],
    },
    2: {
        "S02": [7, 8, 7, 6, 9, 7, 8, _P8_ABSENT] + [9, 9, 8, 8, 8, 9, 8] + [8, 9],
        "S03": [2, 3, 3, 2, 4, 3, 2, _P8_ABSENT] + [8, 9, 8, 8, 9, 8, 7] + [UNABLE, 6],
    },
}


def study_toml(groups: bool = True, consensus: str = "every_group") -> str:
    """The study file: 1–9, COMET 70/15, two rounds, two panel attributes, and (``groups``)
    the stakeholder attribute with the study-level choice ``consensus``."""
    table = f'\n[groups]\nattribute = "{ATTRIBUTE}"\nconsensus = "{consensus}"\n'
    return f"""
title = "Core outcomes for X"
source = "cos.xlsx"
timezone = "UTC"
panel_tab = "Panel"
panel_attributes = ["{ATTRIBUTE}", "Country"]

[rounds]
"Round 1" = 1
"Round 2" = 2

[scale]
min = 1
max = 9
no_opinion = ["{UNABLE}"]

[scale.labels]
"Not important" = 1
"Critical" = 9

[consensus]
preset = "comet_70_15"
{table if groups else ""}"""


def groups_config(groups: bool = True, consensus: str = "every_group") -> StudyConfig:
    """The study's configuration, parsed."""
    return config_from_dict(tomllib.loads(study_toml(groups, consensus)))


def _tab(rnd: int) -> list[list[Any]]:
    answers = RATINGS[rnd]
    header = ["Timestamp", "Email Address"]
    for sid in answers:
        header += [f"{sid}. {TEXT[sid]}", "Comments (optional)"]
    rows = [header]
    start = dt.datetime(2026, 3 * rnd, 1, 9)
    for i, email in enumerate(PANEL):
        if all(said[i] is None for said in answers.values()):
            continue
        row: list[Any] = [start + dt.timedelta(hours=i), email]
        for sid, said in answers.items():
            row += [said[i], f"{GROUP_OF[email]} view on {sid}" if i in (0, 8) else ""]
        rows.append(row)
    return rows


def tabs(names: dict[str, str] | None = None) -> dict[str, list[list[Any]]]:
    """The workbook's tabs: two rounds and the Panel (names, group and country), the groups
    renamed by ``names`` if given."""
    names = names or {}
    panel = [["Email Address", "Name", ATTRIBUTE, "Country"]]
    panel += [
        [p, p.split("@")[0].title(), names.get(GROUP_OF[p], GROUP_OF[p]), COUNTRY[p]] for p in PANEL
    ]
    return {"Round 1": _tab(1), "Round 2": _tab(2), "Panel": panel}


def build(
    folder: Path,
    groups: bool = True,
    consensus: str = "every_group",
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write the study file, refresh it into ``folder/study.duckdb`` (groups renamed by
    ``names``) and publish the snapshot with both rounds closed; return the paths, the
    configuration and identity -> pseudonym."""
    study = folder / "study.toml"
    study.write_text(study_toml(groups, consensus), encoding="utf-8")
    cfg = load_config(study)
    db = folder / "study.duckdb"
    t = tabs(names)
    refresh(cfg, db, raw=RawSource(tabs=t, source="cos.xlsx", title="COS", all_tabs=list(t)))
    publish(db, None, close_rounds=[1, 2])
    with store.connect(db, read_only=True) as con:
        pseudonyms = dict(con.execute("SELECT identity, panelist FROM identity_map").fetchall())
    return {"study": study, "db": db, "cfg": cfg, "pseudonym": pseudonyms}


def answers() -> pd.DataFrame:
    """Every answer given, one row each: round, statement_id, identity, group, country,
    rating (NaN for "Unable to judge") and no_opinion; non-respondents have no row."""
    rows = [
        (rnd, sid, who, GROUP_OF[who], COUNTRY[who], said[i])
        for rnd, statements in RATINGS.items()
        for sid, said in statements.items()
        for i, who in enumerate(PANEL)
        if said[i] is not None
    ]
    out = pd.DataFrame(rows, columns=["round", "statement_id", "identity", "group", "country", "a"])
    out["no_opinion"] = out["a"] == UNABLE
    out["rating"] = np.where(out["no_opinion"], np.nan, pd.to_numeric(out["a"], errors="coerce"))
    return out.drop(columns="a")
