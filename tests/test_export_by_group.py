"""``python -m lib export --by-group``, run as a real process: one row per round × statement ×
group (``All`` for the whole panel), the rule's verdict within each group and the study's.

The study (``tests/groups_study``) is refreshed and published into a temporary DuckDB file.
The expected numbers are a pandas groupby written here over the answer lists, with COMET 70/15
applied by hand; nothing is taken from ``lib.analysis``.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.analysis.consensus import METRIC_COLUMNS
from tests.groups_study import answers, build, study_toml

ROOT = Path(__file__).resolve().parent.parent
OTHER = "Other (groups under 5)"
# Pooling by hand (privacy.min_group_size = 5): Researchers (2) are under 5 and would still be
# 2 alone, so the next smallest group, Clinicians (7), joins them.
POOLED = {"Patients": "Patients", "Clinicians": OTHER, "Researchers": OTHER}
HEADER = ["round", "statement_id", "group", "domain", "text", "n_panelists", *METRIC_COLUMNS]
HEADER.append("status_study")


def comet(agree: float, disagree: float) -> str:
    """COMET 70/15 (DELPHI.md): in = ≥ 70% rate 7–9 and < 15% rate 1–3; out = the mirror."""
    if agree >= 70 and disagree < 15:
        return "consensus_in"
    if disagree >= 70 and agree < 15:
        return "consensus_out"
    return "no_consensus"


def expected(column: str = "group", groups: dict[str, str] | None = None) -> pd.DataFrame:
    """Per (round, statement, group of ``column``) and for All: n, % agree, % 1–3, median,
    quartiles (R type 7) and the COMET status, by a groupby of the answers."""
    a = answers().rename(columns={column: "by"})
    a["by"] = a["by"].map(groups) if groups else a["by"]
    both = pd.concat([a.assign(by="All"), a])
    rows = []
    for (rnd, sid, group), part in both.groupby(["round", "statement_id", "by"]):
        r = part["rating"].dropna()
        agree, disagree = 100 * (r >= 7).mean(), 100 * (r <= 3).mean()
        q1, median, q3 = np.percentile(r, [25, 50, 75])
        rows.append(
            (rnd, sid, group, part["identity"].nunique(), len(r), int(part["no_opinion"].sum()))
            + (agree, disagree, median, q1, q3, comet(agree, disagree))
        )
    cols = ["round", "statement_id", "group", "n_panelists", "n", "n_no_opinion"]
    cols += ["pct_agree", "pct_disagree", "median", "q1", "q3", "status"]
    return pd.DataFrame(rows, columns=cols)


def every_group(frame: pd.DataFrame) -> dict[tuple[int, str], str]:
    """[groups] consensus = "every_group", by hand: in (out) when every group is in (out)."""
    out = {}
    for key, part in frame[frame["group"] != "All"].groupby(["round", "statement_id"]):
        statuses = set(part["status"])
        out[key] = statuses.pop() if len(statuses) == 1 else "no_consensus"
    return out


def run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DELPHI_STUDY", "DELPHI_DB")}
    return subprocess.run(
        [sys.executable, "-m", "lib", "export", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict:
    return build(tmp_path_factory.mktemp("export_groups"))


@pytest.fixture(scope="module")
def no_groups(tmp_path_factory) -> dict:
    """The same study without [groups]: the stored status is the panel's own."""
    return build(tmp_path_factory.mktemp("export_no_groups"), groups=False)


def _files(study: dict) -> list[str]:
    return ["--study", str(study["study"]), "--db", str(study["db"])]


def _export(study: dict, tmp_path: Path, *args: str) -> list[dict[str, str]]:
    out = tmp_path / "by_group.csv"
    res = run("--by-group", *_files(study), "--out", str(out), *args)
    assert res.returncode == 0, res.stderr
    return read(out)


def _check(rows: list[dict[str, str]], want: pd.DataFrame) -> None:
    """Each row's numbers and status against the expected frame, and nothing more or less."""
    ref = want.set_index(["round", "statement_id", "group"])
    assert sorted((int(r["round"]), r["statement_id"], r["group"]) for r in rows) == sorted(
        ref.index
    )
    for r in rows:
        w = ref.loc[(int(r["round"]), r["statement_id"], r["group"])]
        assert (int(r["n"]), int(r["n_panelists"])) == (w["n"], w["n_panelists"])
        assert int(r["n_no_opinion"]) == w["n_no_opinion"]
        assert float(r["pct_agree"]) == pytest.approx(w["pct_agree"])
        assert float(r["pct_disagree"]) == pytest.approx(w["pct_disagree"])
        assert [float(r[c]) for c in ("median", "q1", "q3")] == pytest.approx(
            [w["median"], w["q1"], w["q3"]]
        )
        assert r["status"] == w["status"], (r["round"], r["statement_id"], r["group"])


def test_every_group_matches_a_groupby_of_the_answers(study, tmp_path):
    rows = _export(study, tmp_path, "--all-groups")
    assert list(rows[0]) == HEADER
    _check(rows, expected())


def test_status_study_is_the_every_group_verdict_on_each_row(study, tmp_path):
    rows = _export(study, tmp_path, "--all-groups")
    verdict = every_group(expected())
    for r in rows:
        assert r["status_study"] == verdict[(int(r["round"]), r["statement_id"])]


def test_panel_in_but_a_group_not_means_no_consensus_in_the_study(study, tmp_path):
    # round 1, S02: 14 of 17 rate 7–9 (COMET in for the panel); Patients 5 of 8 (62.5%)
    rows = {(r["round"], r["statement_id"], r["group"]): r for r in _export(study, tmp_path)}
    panel, patients = rows[("1", "S02", "All")], rows[("1", "S02", "Patients")]
    assert panel["status"] == "consensus_in" and patients["status"] == "no_consensus"
    assert float(patients["pct_agree"]) == 62.5
    assert panel["status_study"] == patients["status_study"] == "no_consensus"


def test_pooled_by_default_never_names_the_small_group(study, tmp_path):
    rows = _export(study, tmp_path)
    assert "Researchers" not in (tmp_path / "by_group.csv").read_text(encoding="utf-8")
    assert {r["group"] for r in rows} == {"All", "Patients", OTHER}
    _check(rows, expected(groups=POOLED))
    assert _export(study, tmp_path, "--pooled") == rows


def test_one_round(study, tmp_path):
    rows = _export(study, tmp_path, "--round", "2", "--all-groups")
    assert {r["round"] for r in rows} == {"2"} and len(rows) == 2 * 4  # S02, S03 × All + 3


def test_what_was_written_is_said(study, tmp_path):
    out = tmp_path / "x.csv"
    res = run("--by-group", *_files(study), "--out", str(out))
    assert res.stdout.strip() == (
        f"Wrote 18 rows (per Stakeholder group, groups under 5 pooled) of snapshot 1 to {out}"
    )


def test_without_groups_the_attribute_must_be_named(no_groups, tmp_path):
    out = tmp_path / "x.csv"
    res = run("--by-group", *_files(no_groups), "--out", str(out))
    assert res.returncode == 2 and not out.exists()
    assert res.stderr.strip() == (
        "error: --by-group needs the study's [groups] table or --attribute NAME, one of the "
        "panel attributes (Country, Stakeholder group)"
    )


def test_any_panel_attribute_may_be_the_groups(no_groups, tmp_path):
    rows = _export(no_groups, tmp_path, "--attribute", "country", "--all-groups")
    want = expected(column="country")
    _check(rows, want)
    # no [groups]: the study's verdict is the whole panel's
    panel = {(r["round"], r["statement_id"]): r["status"] for r in rows if r["group"] == "All"}
    assert all(r["status_study"] == panel[(r["round"], r["statement_id"])] for r in rows)


def test_an_unknown_attribute_exits_2(no_groups, tmp_path):
    out = tmp_path / "x.csv"
    res = run("--by-group", "--attribute", "Name", *_files(no_groups), "--out", str(out))
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "error: --attribute 'Name' is not a panel attribute (Country, Stakeholder group)"
    )


def test_group_options_need_by_group(study, tmp_path):
    res = run("--all-groups", "--db", str(study["db"]), "--out", str(tmp_path / "x.csv"))
    assert res.returncode == 2
    assert "go with --by-group" in res.stderr


def test_a_database_of_another_study_is_refused(study, tmp_path):
    other = tmp_path / "other.toml"
    toml = study_toml().replace('title = "Core outcomes for X"', 'title = "Another study"')
    other.write_text(toml.replace('source = "cos.xlsx"', 'source = "other.xlsx"'), "utf-8")
    out = tmp_path / "x.csv"
    res = run("--by-group", "--study", str(other), "--db", str(study["db"]), "--out", str(out))
    assert res.returncode == 2 and not out.exists()
    assert res.stderr.startswith("error: ")
