"""Consensus under other rules: each preset (and the study's own rule) applied to the ratings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from lib.analysis.consensus import compute_metrics
from lib.analysis.rules import PRESETS, STATUSES, Rule, preset
from lib.analysis.scales import Scale, ScaleMap, by_scale

__all__ = [
    "sensitivity_by_statement",
    "sensitivity_counts",
    "sensitivity_by_scale",
    "sensitivity_counts_by_scale",
]

_COUNT_COLUMNS = [
    "rule",
    "label",
    "scope",
    "consensus_in",
    "consensus_out",
    "no_consensus",
    "consensus",
    "applicable",
    "note",
]


def _rules(lo: int, hi: int, base_rule: Rule | None) -> list[tuple[str, Rule | None, str]]:
    """(key, rule or None, why not applicable): the study's rule first, then every preset."""
    rules: list[tuple[str, Rule | None, str]] = []
    if base_rule is not None:
        rules.append(("study_rule", base_rule, ""))
    for name in PRESETS:
        try:
            rule = preset(name, lo, hi)
        except ValueError:
            rules.append((name, None, f"not applicable on a {lo}–{hi} scale (needs 1–9)"))
            continue
        if base_rule is None or replace(base_rule, version="") != rule:  # no duplicate row
            rules.append((name, rule, ""))
    return rules


def sensitivity_by_statement(
    ratings: pd.DataFrame,
    lo: int,
    hi: int,
    base_rule: Rule | None = None,
    denom_no_opinion: bool = False,
) -> pd.DataFrame:
    """Each (round, statement)'s status under the study's rule and every applicable preset.

    One status column per rule (``study_rule``, then the preset names), recomputed from the
    ratings; ``n_rules_consensus`` counts the rules that reach consensus (in or out) and
    ``rules_disagree`` says whether the rules give different statuses.
    """
    statuses = {}
    for key, rule, _ in _rules(lo, hi, base_rule):
        if rule is not None:
            m = compute_metrics(ratings, rule, denom_no_opinion)
            statuses[key] = m.set_index(["round", "statement_id"])["status"]
    per = pd.DataFrame(statuses).reset_index()
    per["n_rules_consensus"] = (per[list(statuses)] != "no_consensus").sum(axis=1)
    per["rules_disagree"] = per[list(statuses)].nunique(axis=1) > 1
    return per


def sensitivity_counts(
    by_statement: pd.DataFrame, lo: int, hi: int, base_rule: Rule | None = None
) -> pd.DataFrame:
    """Statements by status under each rule, per round and in each statement's last round rated.

    ``by_statement`` is :func:`sensitivity_by_statement`'s frame for the same ``lo``, ``hi`` and
    ``base_rule``; rules that do not apply to the scale get one row with ``applicable`` False
    and a note.
    """
    counts: list[dict[str, Any]] = []
    for key, rule, note in _rules(lo, hi, base_rule):
        if rule is None:
            counts.append(
                {
                    "rule": key,
                    "label": PRESETS[key],
                    "scope": "all",
                    "applicable": False,
                    "note": note,
                }
            )
            continue
        label = f"This study: {rule.label}" if key == "study_rule" else rule.label
        m = by_statement[["round", "statement_id"]].assign(status=by_statement[key])
        counts += _status_counts(m, key, label)
    return pd.DataFrame(counts).reindex(columns=_COUNT_COLUMNS)


def _status_counts(m: pd.DataFrame, key: str, label: str) -> list[dict[str, Any]]:
    latest = m.sort_values("round").groupby("statement_id").tail(1)
    scopes = [(f"round {r}", m[m["round"] == r]) for r in sorted(m["round"].unique())]
    rows = []
    for scope, frame in [*scopes, ("last round rated", latest)]:
        c = frame["status"].value_counts()
        row = {s: int(c.get(s, 0)) for s in STATUSES}
        rows.append(
            {
                "rule": key,
                "label": label,
                "scope": scope,
                **row,
                "consensus": row["consensus_in"] + row["consensus_out"],
                "applicable": True,
                "note": "",
            }
        )
    return rows


def _scale_rules(scale: Scale) -> list[tuple[str, Rule | None, str]]:
    """:func:`_rules` for one scale; a Yes/No question is judged by its share of Yes only, so
    the median and RAND/UCLA presets do not apply to it."""
    rules = _rules(scale.min, scale.max, scale.rule)
    if not scale.yes_no:
        return rules
    why = "not applicable to a Yes/No question"
    return [(k, None, why) if k in ("median_iqr", "rand_ucla") else (k, r, n) for k, r, n in rules]


def sensitivity_by_scale(ratings: pd.DataFrame, scales: ScaleMap) -> pd.DataFrame:
    """:func:`sensitivity_by_statement` with each statement's own scale: ``study_rule`` is its
    scale's rule, each preset is adapted to its scale, and a preset that does not apply to a
    statement's scale leaves its status blank."""

    def one(part: pd.DataFrame, scale: Scale) -> pd.DataFrame:
        statuses = {}
        for key, rule, _ in _scale_rules(scale):
            if rule is not None:
                m = compute_metrics(part, rule, scale.no_opinion_in_denominator)
                statuses[key] = m.set_index(["round", "statement_id"])["status"]
        return pd.DataFrame(statuses).reset_index()

    per = by_scale(ratings, scales, one)
    keys = ["study_rule", *(k for k in PRESETS if k in per.columns)]
    per = per.reindex(columns=["round", "statement_id", *keys])
    per["n_rules_consensus"] = (per[keys].notna() & (per[keys] != "no_consensus")).sum(axis=1)
    per["rules_disagree"] = per[keys].nunique(axis=1) > 1
    return per


def sensitivity_counts_by_scale(by_statement: pd.DataFrame, scales: ScaleMap) -> pd.DataFrame:
    """:func:`sensitivity_counts` over :func:`sensitivity_by_scale`'s frame: each rule counts
    the statements it applies to, and its note says how many it leaves out."""
    if not scales.mixed:
        main = scales.main
        return sensitivity_counts(by_statement, main.min, main.max, main.rule)
    counts: list[dict[str, Any]] = []
    for key in ["study_rule", *PRESETS]:
        col = by_statement.get(key)
        if col is None or col.isna().all():
            why = "not applicable on this study's scales"
            counts.append(
                {
                    "rule": key,
                    "label": PRESETS.get(key, key),
                    "scope": "all",
                    "applicable": False,
                    "note": why,
                }
            )
            continue
        rated = by_statement[col.notna()]
        m = rated[["round", "statement_id"]].assign(status=rated[key])
        label = "This study's rules" if key == "study_rule" else PRESETS[key]
        rows = _status_counts(m, key, label)
        left = int(col.isna().sum())
        for row in rows:
            row["note"] = f"{left} statement-rounds on a scale it does not apply to" if left else ""
        counts += rows
    return pd.DataFrame(counts).reindex(columns=_COUNT_COLUMNS)
