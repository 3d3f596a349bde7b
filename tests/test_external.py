"""Reproduce another team's published analysis: Unisanté's fast-track Delphi demo.

Source: Duperrex O, Velarde Crézé C. Fast-track Delphi: code with demo data and results, v0.5,
2023, Unisanté, Lausanne (DOI 10.16909/dataset/41), results in output/checks/dt_exec_summary.xlsx,
laid out as a Google Sheet in ../shared/external/unisante-fast-track/.  Their rule
(code/000_parameters.R): agreement if median ≥ 7, disagreement if median ≤ 3; consensus if
IQR ≤ 3; R type-7 quartiles; "Sans opinion" excluded.  All 26 published rows must match exactly
(the shared workbook was corrected for R3-13; see its README).
"""

from __future__ import annotations

import pandas as pd
import pytest

from lib import store
from lib.config import config_from_dict
from lib.pipeline import refresh
from tests.helpers import SHARED

EXTERNAL = SHARED / "external" / "unisante-fast-track"
pytestmark = pytest.mark.skipif(
    not (EXTERNAL / "responses.xlsx").exists(),
    reason=f"external validation data not found at {EXTERNAL} (../shared is absent)",
)


def _unisante_config():
    return config_from_dict(
        {
            "title": "Unisanté fast-track Delphi (demo)",
            "source": str(EXTERNAL / "responses.xlsx"),
            "identity_column": "Email Address",
            "panel_tab": "",
            "scale": {"min": 1, "max": 9, "no_opinion": ["Sans opinion"]},
            "rounds": {"Round 2": 2, "Round 3": 3},
            "consensus": {"preset": "median_iqr"},
        }
    )


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> pd.DataFrame:
    db = tmp_path_factory.mktemp("unisante") / "u.duckdb"
    res = refresh(_unisante_config(), db)  # the same path a user's sheet takes
    with store.connect(db) as con:
        return store.metrics_for(con, res.snapshot_id).set_index(["round", "statement_id"])


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(EXTERNAL / "expected.csv").set_index(["round", "statement_id"])


def test_every_published_row_is_present(ours, expected):
    assert set(expected.index) <= set(ours.index)


@pytest.mark.parametrize("column", ["n", "min", "q1", "median", "q3", "max", "iqr"])
def test_numbers_match_published_results(ours, expected, column):
    rows = list(expected.index)
    assert (
        ours.loc[rows, column].astype(float).tolist()
        == expected.loc[rows, column].astype(float).tolist()
    )


def test_no_answer_counts_match(ours, expected):
    rows = list(expected.index)
    got = ours.loc[rows, "n_no_opinion"] + ours.loc[rows, "n_missing"]
    assert got.tolist() == expected.loc[rows, "n_no_answer"].tolist()


def test_agreement_and_consensus_match(ours, expected):
    rows = list(expected.index)
    assert ours.loc[rows, "direction"].tolist() == expected.loc[rows, "agreement"].tolist()
    assert ours.loc[rows, "dispersion_ok"].tolist() == expected.loc[rows, "consensus"].tolist()


def test_all_26_published_rows_are_compared(expected):
    # Unisanté's dt_exec_summary.xlsx has 26 statement x round rows; every one is checked above.
    assert len(expected) == 26
