"""lib.coordination: the Coordinator page's live state, publication, its tables and sentences.

The publication rule itself is tested in tests/test_publish.py."""

from __future__ import annotations

import pandas as pd
import pytest

from lib import coordination, publication, store
from lib.pipeline import refresh
from lib.sources import read_workbook
from lib.textsafe import plural


def test_state_of_the_demo_has_one_snapshot_and_one_nonresponder(demo_db, demo_cfg):
    state = coordination.read_state(demo_db, demo_cfg.source)
    # the demo database as the app builds it: published with every round closed
    assert (state.latest, state.published, state.closed_rounds) == (1, 1, [1, 2, 3])
    assert state.snapshots["snapshot_id"].tolist() == [1]
    assert state.log["outcome"].tolist() == ["new"]
    assert state.missing[["round", "panelist"]].values.tolist() == [[3, "P05"]]
    assert state.rates["invited"].tolist() == [15, 15, 15]
    assert state.seen["tabs"] == ["Round 1", "Round 2", "Round 3", "Statements", "Panel"]


def test_what_another_source_showed_is_not_reported_as_this_ones(demo_db):
    assert coordination.read_state(demo_db, "https://example.invalid/other").seen == {}


def test_an_empty_database_has_no_snapshot_and_no_nonresponders(fresh_db):
    state = coordination.read_state(fresh_db, None)
    assert state.latest is state.published is state.missing is state.rates is None
    assert state.publications.empty and state.closed_rounds == []
    assert state.snapshots.empty and state.log.empty


def test_a_refresh_changes_the_latest_but_not_what_is_published(demo_db, demo_cfg):
    raw = read_workbook(demo_cfg.source)
    raw.tabs["Panel"][1][2] = "Portugal"  # any edit of the sheet makes a new snapshot
    assert refresh(demo_cfg, demo_db, raw=raw).snapshot_id == 2
    state = coordination.read_state(demo_db, demo_cfg.source)
    assert (state.published, state.latest) == (1, 2)
    assert "Snapshot 2 is the latest" in coordination.publication_caption(state)
    publication.publish(demo_db, 2, close_rounds=[1, 2, 3])
    state = coordination.read_state(demo_db, demo_cfg.source)
    assert (state.published, state.latest, state.closed_rounds) == (2, 2, [1, 2, 3])
    with store.connect(demo_db) as con:
        assert store.published_snapshot_id(con) == 2


def test_tabs_table_before_the_first_read_says_not_read_yet(demo_cfg):
    table = coordination.tabs_table(demo_cfg, None)
    assert table["tab"].tolist() == ["Round 1", "Round 2", "Round 3", "Statements", "Panel"]
    assert set(table["in the source"]) == {"not read yet"}
    assert table.set_index("tab").loc["Panel", "used as"] == "Panel (optional)"


def test_tabs_table_marks_missing_tabs_and_lists_unused_ones(demo_cfg):
    table = coordination.tabs_table(demo_cfg, ["Round 1", "Round 2", "Notes"]).set_index("tab")
    assert table.loc["Round 3", "in the source"] == "missing"
    assert table.loc["Round 1", "in the source"] == "yes"
    assert table.loc["Notes", "used as"] == "not used"


def _snapshots(sources: list[str]) -> pd.DataFrame:
    n = len(sources)
    return pd.DataFrame(
        {
            "snapshot_id": list(range(n, 0, -1)),
            "created_at": pd.to_datetime(["2026-10-01 09:00"] * n),
            "source": sources,
            "n_respondents": [14] * n,
            "content_hash": ["x"] * n,
        }
    )


def _publications(snapshot_ids: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"snapshot_id": snapshot_ids, "closed_rounds": [[]] * len(snapshot_ids)})


def test_history_view_marks_the_published_snapshot_and_drops_a_single_source():
    view = coordination.history_view(_snapshots(["a", "a", "a"]), _publications([2, 1]))
    assert view["published"].tolist() == ["", "◀ observers see this", "published before"]
    assert "content_hash" not in view and "source" not in view


def test_history_view_keeps_the_source_when_it_changed():
    view = coordination.history_view(_snapshots(["a", "b"]), _publications([]))
    assert "source" in view and set(view["published"]) == {""}


def test_snapshot_labels_name_date_and_respondents():
    labels = coordination.snapshot_labels(_snapshots(["a"]))
    assert labels == {1: "Snapshot 1 · 01 Oct 2026 09:00 · 14 respondents"}


@pytest.mark.parametrize(
    "panel_tab,tabs,listed",
    [
        ("Panel", None, True),  # not read yet: assumed present
        ("Panel", ["Round 1", "Panel"], True),
        ("Panel", ["Round 1"], False),
        ("", ["Round 1", "Panel"], False),
    ],
)
def test_panel_tab_listed(demo_cfg, panel_tab, tabs, listed):
    from dataclasses import replace

    cfg = replace(demo_cfg, panel_tab=panel_tab)
    seen = {} if tabs is None else {"tabs": tabs}
    assert coordination.panel_tab_listed(cfg, seen) is listed


def test_nonresponse_caption_counts_every_round():
    missing = pd.DataFrame({"round": [2, 3, 3], "panelist": ["P01", "P01", "P02"]})
    rates = pd.DataFrame({"round": [1, 2, 3], "invited": [15, 15, 15]})
    assert coordination.nonresponse_caption(missing, rates, 4) == (
        "Round 1: 0 of 15 not responded · Round 2: 1 of 15 not responded · Round 3: 2 of 15 "
        "not responded (snapshot 4). Identities: coordinator only."
    )


def test_stored_message_counts_with_plurals():
    counts = {"n_respondents": 14, "n_invited": 15, "n_ratings": 600, "n_problems": 1}
    assert coordination.stored_message(2, 1.234, counts) == (
        "Snapshot 2 stored in 1.2 s: 14 respondents of 15 invited, 600 ratings, "
        "1 validation problem."
    )
    assert plural(0, "problem") == "0 problems"


def test_refresh_steps_name_the_source():
    assert coordination.refresh_steps(True)["fetch"] == "Fetching from Google Sheets"
    assert coordination.refresh_steps(False)["fetch"] == "Reading the workbook"


def test_sheet_source_says_why_address_and_account_are_unknown(monkeypatch):
    for name in ("DELPHI_GOOGLE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    src = coordination.sheet_source("not a sheet", {})
    assert src.url is None and src.url_error
    assert src.email is None and "Service account credentials: none configured" in src.email_error


def test_sheet_source_gives_the_address_and_the_account(rsa_private_key):
    from tests.fake_sheets import DEFAULT_KEY, generate_service_account

    info, _ = generate_service_account("https://oauth2.example/token", rsa_private_key)
    src = coordination.sheet_source(DEFAULT_KEY, {"credentials_info": info})
    assert src.url == f"https://docs.google.com/spreadsheets/d/{DEFAULT_KEY}/edit"
    assert src.email == info["client_email"] and src.email_error is None
