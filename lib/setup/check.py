"""The validation a refresh would produce with a study file, storing nothing; and the first
refresh of a saved one into its own database."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lib.config import ConfigError, StudyConfig, config_from_dict, load_config
from lib.coordination import refresh_steps, stored_message
from lib.ingest import PROBLEM_COLUMNS, IngestError, ingest
from lib.pipeline import Progress, RefreshError, refresh
from lib.setup.files import StudyPaths, serve_command
from lib.sources.base import RawSource, is_google_sheet
from lib.textsafe import plural

__all__ = ["Check", "FirstRefresh", "check", "config_of", "first_refresh", "summary"]


@dataclass(frozen=True)
class Check:
    """What the ingest makes of a source with a configuration: counts and problems, or why a
    refresh would fail."""

    problems: pd.DataFrame  # PROBLEM_COLUMNS
    rounds: int = 0
    statements: int = 0  # distinct statement IDs rated
    panelists: int = 0  # who answered at least one round
    invited: int = 0  # listed on the Panel tab
    ratings: int = 0
    error: str | None = None  # the refresh would fail with this message


def config_of(text: str, folder: str | Path) -> StudyConfig:
    """The configuration a study file's text gives once saved in ``folder`` (ConfigError if
    it is invalid)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Study configuration is not valid TOML: {exc}") from None
    return config_from_dict(data, base_dir=Path(folder).resolve())


def check(raw: RawSource, cfg: StudyConfig) -> Check:
    """Run the real ingest on ``raw`` with ``cfg`` (what a refresh validates), storing nothing."""
    try:
        result = ingest(raw, cfg)
    except IngestError as exc:
        return Check(pd.DataFrame(columns=PROBLEM_COLUMNS), error=str(exc))
    rated = result.ratings[result.ratings["rating"].notna()]
    return Check(
        problems=result.problems,
        rounds=result.respondents["round"].nunique(),
        statements=result.ratings["statement_id"].nunique(),
        panelists=result.respondents["identity"].nunique(),
        invited=len(result.panel),
        ratings=len(rated),
    )


def summary(c: Check) -> str:
    """One sentence: rounds, statements, panelists (of those invited), ratings and problems.

    >>> summary(Check(pd.DataFrame(columns=["tab"]), 3, 40, 15, 15, 1700))
    '3 rounds answered, 40 statements, 15 panelists of 15 invited, 1700 ratings, 0 problems.'
    """
    if c.error:
        return f"A refresh would fail: {c.error}"
    invited = f" of {c.invited} invited" if c.invited else ""
    return (
        f"{plural(c.rounds, 'round')} answered, {plural(c.statements, 'statement')}, "
        f"{plural(c.panelists, 'panelist')}{invited}, {plural(c.ratings, 'rating')}, "
        f"{plural(len(c.problems), 'problem')}."
    )


@dataclass(frozen=True)
class FirstRefresh:
    """What a new study's first refresh did: a sentence, the problems, the serve command."""

    message: str
    problems: pd.DataFrame
    command: str
    failed: bool = False


def first_refresh(
    paths: StudyPaths, google: dict[str, Any] | None = None, progress: Progress | None = None
) -> FirstRefresh:
    """Refresh the saved study file ``paths.study`` into its own database ``paths.db``;
    ``progress`` is told each step in words."""
    cfg = load_config(paths.study)
    steps = refresh_steps(is_google_sheet(cfg.source))
    told = (lambda step: progress(steps.get(step, step))) if progress else None
    try:
        res = refresh(cfg, paths.db, wait=0, google=google, progress=told)
    except RefreshError as exc:
        failed = f"{steps.get(exc.step, exc.step)} failed: {exc.reason}"
        return FirstRefresh(failed, pd.DataFrame(columns=PROBLEM_COLUMNS), "", failed=True)
    if res.outcome == "new":
        said = stored_message(res.snapshot_id, res.seconds, res.counts)
    else:
        said = f"No change: its database already holds this content (snapshot {res.snapshot_id})."
    return FirstRefresh(said, res.problems, serve_command(paths))
