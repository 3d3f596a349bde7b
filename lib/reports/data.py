"""What a report holds, built from frames the caller passes (a snapshot's stored queries).

``build_report_data`` and ``build_feedback_data`` are pure: they take the frames of
``lib.store``'s named queries (``lib.reports.inputs``) and compute the statistics the report
shows.
"""

from __future__ import annotations

import datetime as dt
import platform
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from lib.analysis import agreement, participation, stability, stopping
from lib.analysis.rules import Rule
from lib.analysis.scales import ScaleMap
from lib.config import StudyConfig, config_from_dict
from lib.reports import narrative
from lib.reports.charts import clean_labels
from lib.reports.decisions import Eligibility, Stopping, eligibility_of, stopping_of
from lib.reports.groups import (
    FeedbackGroups,
    GroupResults,
    feedback_groups,
    group_results,
    snapshot_groups,
)
from lib.reports.inputs import FeedbackInputs, ReportInputs
from lib.reports.tables import annotate_metrics, panel_composition, round_flow
from lib.reports.uncertainty import Uncertainty, uncertainty_of

__all__ = [
    "ReportData",
    "FeedbackData",
    "build_report_data",
    "build_feedback_data",
    "final_round",
    "with_narrative",
    "panel_statistics",
    "software_versions",
    "scale_labels",
    "snapshot_scales",
    "rule_from_dict",
    "rule_check",
]

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class ReportData:
    """Everything the consensus report shows: aggregates only, never a rating by a person."""

    title: str
    snapshot: dict[str, Any]
    rule: Rule  # the rule the snapshot's metrics were computed with (main scale)
    config_rule: Rule  # the rule in the study configuration now
    scale: dict[int, str]  # the main scale's labels
    no_opinion: tuple[str, ...]  # the main scale's
    no_opinion_in_denominator: bool  # the main scale's
    scales: ScaleMap  # each (round, statement)'s own scale (``snapshot_scales``)
    metrics: pd.DataFrame  # per round × statement: metrics, entry, fate, Wilson CI, cut-off
    distribution: pd.DataFrame
    rates: pd.DataFrame  # per round: invited, responded, response rate, new, retained, lost
    flow: pd.DataFrame  # per round: statements by how they entered and what became of them
    panel: pd.DataFrame  # attribute, value, count (small groups pooled for observers)
    comments: pd.DataFrame | None  # None: not shown to this audience
    kendall: pd.DataFrame
    stability: pd.DataFrame
    stats_note: str
    software: dict[str, str]
    generated_at: dt.datetime
    narrative: str = ""
    groups: GroupResults | None = None  # results per stakeholder group, when the study has them
    # the statements that ended without consensus; None: every statement reached consensus
    uncertainty: Uncertainty | None = None
    stopping: Stopping | None = None  # the stopping rule (or that there is none) and its verdict
    eligibility: Eligibility | None = None  # counts per criterion; None: no criterion checked


@dataclass(frozen=True)
class FeedbackData:
    """One round's results and each panelist's own ratings (pseudonyms only; coordinator use)."""

    title: str
    round: int
    snapshot: dict[str, Any]
    rule: Rule  # the main scale's, as the snapshot's metrics were computed
    scale: dict[int, str]  # the main scale's labels
    no_opinion: tuple[str, ...]  # the main scale's
    scales: ScaleMap  # each statement's own scale (``snapshot_scales``)
    metrics: pd.DataFrame  # this round, with domain and text
    distribution: pd.DataFrame  # this round
    comments: pd.DataFrame  # this round, anonymous
    ratings: pd.DataFrame  # this round: panelist, statement_id, rating, no_opinion
    panelists: tuple[str, ...]  # everyone to write to
    responded: frozenset[str]
    groups: FeedbackGroups | None = None  # each panelist's group, when the study has them
    # the study's last round: the last rated, and the stopping rule says stop after it (then
    # the feedback thanks the panel instead of inviting it to the next round)
    final: bool = False


def build_report_data(
    frames: ReportInputs,
    cfg: StudyConfig,
    statistics: Callable[[], tuple[pd.DataFrame, pd.DataFrame]] | None = None,
) -> ReportData:
    """A snapshot's report: metrics, flows, panel, statistics and a drafted narrative.

    The panel's groups are pooled under ``cfg.min_group_size`` whoever asks: a report is made
    to be passed on, and it shows the sizes the Panel page shows.  The results per stakeholder
    group (``[groups]``) show every group only in a report made with ``all_groups`` (the
    committee's); otherwise small groups are pooled as observers see them.  The stopping rule
    is the study file's (``cfg.stopping``, as the Overview judges it), applied after the last
    round rated; the eligibility counts are the snapshot's own.

    ``statistics`` returns Kendall's W per round and the stability between rounds as the
    caller already computed them for this snapshot and rule (the pages' cached ones, the same
    calls as :func:`panel_statistics`); None: computed here from the ratings.
    """
    info = frames.info
    scales = snapshot_scales(info, cfg)
    rule, denom = scales.main.rule, scales.main.no_opinion_in_denominator
    metrics = annotate_metrics(frames.metrics, frames.statements, rule, denom, scales)
    if statistics is None:
        kendall, stab, note = panel_statistics(frames.ratings, frames.statements, rule, scales)
    else:
        kendall, stab, note = _given(statistics)
    choice = snapshot_groups(info, cfg)
    groups = None
    if choice is not None:
        groups = group_results(
            choice,
            cfg.groups,
            metrics,
            frames.ratings,
            frames.panel_attributes,
            scales,
            cfg.min_group_size,
            pooled=not frames.all_groups,
        )
    rates = participation.participation(frames.respondents, frames.response_rates)
    data = ReportData(
        title=info.get("study_title") or cfg.title,
        snapshot={
            k: info[k]
            for k in ("snapshot_id", "created_at", "content_hash", "source_title", "n_problems")
        },
        rule=rule,
        config_rule=cfg.rule,
        scale=scale_labels(cfg),
        no_opinion=cfg.no_opinion,
        no_opinion_in_denominator=denom,
        scales=scales,
        metrics=metrics,
        distribution=frames.distribution,
        rates=rates,
        flow=round_flow(metrics),
        panel=panel_composition(frames.panel_attributes, cfg.min_group_size),
        comments=frames.comments,
        kendall=kendall,
        stability=stab,
        stats_note=note,
        software=software_versions(),
        generated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
        groups=groups,
        uncertainty=uncertainty_of(
            metrics, frames.statements, frames.distribution, scales, frames.comments
        ),
        stopping=stopping_of(cfg.stopping, metrics, stab, note),
        eligibility=eligibility_of(frames.eligibility, int(rates["invited"].max())),
    )
    return replace(data, narrative=narrative.draft_narrative(data))


def build_feedback_data(
    frames: FeedbackInputs,
    cfg: StudyConfig,
    round_: int | None = None,
    statistics: Callable[[], tuple[pd.DataFrame, pd.DataFrame]] | None = None,
) -> FeedbackData:
    """What the feedback after ``round_`` (default: the last round) needs; ``statistics`` as
    for :func:`build_report_data` (only the stability is used: was this the last round?)."""
    info, metrics = frames.info, frames.metrics
    rounds = sorted(metrics["round"].unique())
    rnd = rounds[-1] if round_ is None else round_
    if rnd not in rounds:
        raise ValueError(
            f"round {rnd} is not in snapshot {info['snapshot_id']} "
            f"(rounds: {', '.join(map(str, rounds))})"
        )

    def this(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["round"] == rnd].reset_index(drop=True)

    resp, scales = frames.respondents, snapshot_scales(info, cfg)
    choice = snapshot_groups(info, cfg)
    ratings = this(frames.ratings)
    groups = None
    if choice is not None:
        groups = feedback_groups(
            ratings, frames.panel_attributes, choice.attribute, scales, cfg.min_group_size
        )
    return FeedbackData(
        title=info.get("study_title") or cfg.title,
        round=int(rnd),
        snapshot={k: info[k] for k in ("snapshot_id", "created_at", "content_hash")},
        rule=scales.main.rule,
        scale=scale_labels(cfg),
        no_opinion=cfg.no_opinion,
        scales=scales,
        metrics=this(metrics),
        distribution=this(frames.distribution),
        comments=this(frames.comments),
        ratings=ratings,
        panelists=tuple(frames.recipients["panelist"]),
        responded=frozenset(resp.loc[resp["round"] == rnd, "panelist"]),
        groups=groups,
        final=final_round(frames, cfg, int(rnd), scales, statistics),
    )


def final_round(
    frames: FeedbackInputs,
    cfg: StudyConfig,
    rnd: int,
    scales: ScaleMap,
    statistics: Callable[[], tuple[pd.DataFrame, pd.DataFrame]] | None = None,
) -> bool:
    """Whether round ``rnd`` ended the study: it is the last round rated and the pre-registered
    stopping rule (``[stopping]``, ``lib.analysis.stopping``) says stop after it.  Without a
    rule, or a "when stable" rule without the statements to judge stability by, it did not."""
    rule = cfg.stopping
    if rule is None or rnd != int(frames.metrics["round"].max()):
        return False
    if rule.max_rounds is not None and rnd >= rule.max_rounds:
        return True  # no need to compute the stability between rounds
    if rule.when_stable and frames.statements is None:
        return False
    stab = pd.DataFrame(columns=["round", "statement_id", "verdict", "note"])
    if rule.when_stable:
        per_scale = scales if scales.mixed else None
        try:
            stab = (
                statistics()[1]
                if statistics is not None
                else stability.stability(
                    frames.ratings, frames.statements, scales.main.rule.agree, per_scale
                )
            )
        except Exception:  # as panel_statistics: not computed, so not judged
            return False
    try:
        return stopping.verdict(frames.metrics, stab, rule, rnd).decision == "stop"
    except ValueError:  # nothing rated up to the round
        return False


def with_narrative(data: ReportData, text: str | None) -> ReportData:
    """The same report with the coordinator's edited methods-and-results text."""
    return replace(data, narrative=text if text and text.strip() else data.narrative)


def scale_labels(cfg: StudyConfig) -> dict[int, str]:
    """Score -> label of the study's scale (the score itself where no label is configured; a
    Forms-style "1 - Strongly disagree" without the score it repeats)."""
    names = {v: k for k, v in cfg.labels.items()}
    return clean_labels({s: names.get(s, str(s)) for s in range(cfg.scale_min, cfg.scale_max + 1)})


def snapshot_scales(info: dict[str, Any], cfg: StudyConfig) -> ScaleMap:
    """The scales a snapshot's metrics were computed with: the main scale with the snapshot's
    stored rule and no-opinion denominator, and the ``[[scales]]`` of its stored configuration
    (today's, if the stored one cannot be read)."""
    stored = info.get("config") or {}
    denom = stored.get("scale", {}).get("no_opinion_in_denominator", cfg.no_opinion_in_denominator)
    try:
        uses = config_from_dict(stored).scales
    except (ValueError, TypeError, AttributeError):  # an old or partial stored configuration
        uses = cfg.scales
    main = replace(
        cfg.scale, rule=rule_from_dict(info["rule"]), no_opinion_in_denominator=bool(denom)
    )
    return ScaleMap(main, uses)


def rule_from_dict(d: dict[str, Any]) -> Rule:
    """The ``Rule`` stored with a snapshot (lists back to tuples, unknown keys ignored)."""
    names = {f.name for f in fields(Rule)}
    return Rule(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})


def rule_check(data: ReportData) -> str:
    """Whether the configured rule is still the one the snapshot was computed with."""
    if data.config_rule == data.rule:
        return "same as the rule this snapshot was computed with"
    return (
        f"DIFFERENT: the study configuration now says “{data.config_rule.label} "
        f"{data.config_rule.version}”; refresh to recompute with it"
    )


def panel_statistics(
    ratings: pd.DataFrame, statements: pd.DataFrame, rule: Rule, scales: ScaleMap | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Kendall's W per round and stability between rounds (``lib.analysis``), or a note why not.

    With ``scales`` that give some statements a scale of their own, each round's W is over its
    most used scale and stability compares only versions rated on the same scale."""
    per_scale = scales if scales is not None and scales.mixed else None
    try:
        return (
            agreement.kendall_w(ratings, scales=per_scale),
            stability.stability(ratings, statements, agree=rule.agree, scales=per_scale),
            "",
        )
    except Exception as exc:  # the report must still be produced; the note says what failed
        return pd.DataFrame(), pd.DataFrame(), f"Not computed: {type(exc).__name__}: {exc}"


def _given(
    statistics: Callable[[], tuple[pd.DataFrame, pd.DataFrame]],
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The caller's statistics, or a note why not, as :func:`panel_statistics` gives them."""
    try:
        kendall, stab = statistics()
    except Exception as exc:  # as panel_statistics: the report is still produced
        return pd.DataFrame(), pd.DataFrame(), f"Not computed: {type(exc).__name__}: {exc}"
    return kendall, stab, ""


def software_versions() -> dict[str, str]:
    """Versions of the software a report was computed with."""
    from importlib import metadata

    out = {"Delphi Dashboard": _app_version(), "Python": platform.python_version()}
    for label, dist in (
        ("DuckDB", "duckdb"),
        ("pandas", "pandas"),
        ("NumPy", "numpy"),
        ("SciPy", "scipy"),
        ("Plotly", "plotly"),
        ("openpyxl", "openpyxl"),
    ):
        try:
            out[label] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[label] = "not installed"
    return out


def _app_version() -> str:
    try:
        with open(ROOT / "pyproject.toml", "rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"
