"""Consensus under other rules: each preset (and the study's own rule) applied to the ratings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from lib.analysis.consensus import compute_metrics
from lib.analysis.rules import PRESETS, STATUSES, Rule, preset

__all__ = ["sensitivity_by_statement", "sensitivity_counts"]

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
