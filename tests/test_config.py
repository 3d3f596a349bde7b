"""lib.config: loading and validating the study TOML."""

from __future__ import annotations

import pytest

from lib.config import ConfigError, load_config
from tests.helpers import tiny_config


def test_demo_config_loads():
    cfg = load_config()
    assert cfg.rounds == {"Round 1": 1, "Round 2": 2, "Round 3": 3}
    assert (cfg.scale_min, cfg.scale_max, cfg.rule.name) == (1, 5, "pct75")
    assert cfg.source.endswith("data/demo/isotretinoin_delphi.xlsx")
    assert cfg.tabs() == ["Round 1", "Round 2", "Round 3", "Statements", "Panel"]


@pytest.mark.parametrize(
    "override,key",
    [
        ({"colour": "blue"}, "'colour' is not a known key"),
        ({"scale": {"min": 1, "max": 5, "labels": {"Agree": 9}}}, "'scale.labels.Agree'"),
        ({"scale": {"min": 1, "max": 5, "steps": 5}}, "'scale.steps' is not a known key"),
        ({"rounds": {"Round 1": 0}}, "'rounds.Round 1' must be a round number"),
        ({"rounds": {"Round 1": 100}}, "'rounds.Round 1' must be a round number from 1 to 99"),
        # past any INTEGER column: used to be accepted, then fail when the snapshot was stored
        ({"rounds": {"R": 10**12}}, "'rounds.R' must be a round number from 1 to 99"),
        ({"rounds": {"R": 2.0}}, "'rounds.R' must be a round number"),
        ({"rounds": {"Round 1": 1, "Round 2": 1}}, "same round number"),
        ({"rounds": {}}, "'rounds' must be a table"),
        ({"timezone": "Mars/Olympus"}, "'timezone' must be an IANA zone"),
        ({"date_order": "DYM"}, "'date_order' must be one of"),
        ({"privacy": {"min_group_size": 0}}, "'privacy.min_group_size'"),
        ({"title": 3}, "'title' must be a str"),
        ({"consensus": {"preset": "pct75", "threshold": 0}}, "consensus.threshold"),
    ],
)
def test_bad_value_names_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace("(", r"\(").replace(".", r"\.")):
        tiny_config(**override)


def test_round_numbers_up_to_99_are_accepted():
    cfg = tiny_config(rounds={"Round 1": 1, "Last": 99})
    assert cfg.rounds == {"Round 1": 1, "Last": 99}


def test_missing_file_says_which(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml_is_reported(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("title = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)


def test_relative_workbook_resolves_next_to_the_config(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('source = "book.xlsx"\n[rounds]\n"R1" = 1\n', encoding="utf-8")
    assert load_config(p).source == str(tmp_path / "book.xlsx")


def test_google_sheet_url_is_kept_as_is(tmp_path):
    p = tmp_path / "s.toml"
    url = "https://docs.google.com/spreadsheets/d/abc/edit"
    p.write_text(f'source = "{url}"\n[rounds]\n"R1" = 1\n', encoding="utf-8")
    assert load_config(p).source == url
