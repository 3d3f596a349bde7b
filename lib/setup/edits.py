"""A proposal as tables to show and edit (the set-up page), and the edits applied back."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from lib.analysis.rules import PRESETS
from lib.setup.proposal import Proposal, ScaleDraft

__all__ = [
    "FIXED",
    "found_tables",
    "RULE_CHOICES",
    "identity_index",
    "findings_frame",
    "labels_frame",
    "questions_frame",
    "rounds_frame",
    "rounds_from",
    "with_labels",
]

MAIN = "main scale"
# The columns of the tables below that are what the sheet holds, not the coordinator's choice.
FIXED = ["tab", "taken as", "why", "scale", "label", "how", "answers"]
# The consensus rule the set-up page offers: a preset, or the choice left for later.
RULE_CHOICES: dict[str | None, str] = {
    None: "Choose later (the default, ≥ 75% agreement, applies until then)",
    **PRESETS,
}


def rounds_frame(p: Proposal) -> pd.DataFrame:
    """Every tab of the source: its round number (empty: not a round) and what it was taken
    for."""
    rows = [{"tab": r.tab, "round": r.round, "taken as": r.role, "why": r.why} for r in p.tabs]
    frame = pd.DataFrame(rows, columns=["tab", "round", "taken as", "why"])
    return frame.astype({"round": "Int64"})


def rounds_from(frame: pd.DataFrame) -> dict[str, int]:
    """The round tabs of an edited :func:`rounds_frame`."""
    rounds = frame.dropna(subset=["round"])
    return {str(t): int(r) for t, r in zip(rounds["tab"], rounds["round"], strict=True)}


def identity_index(p: Proposal) -> int:
    """Where the proposed identity column is among ``p.headers`` (0 when it is none of them)."""
    keys = [h.casefold() for h in p.headers]
    column = (p.identity.column or "").casefold()
    return keys.index(column) if column in keys else 0


def found_tables(p: Proposal) -> list[tuple[str, pd.DataFrame, str]]:
    """(key, table, description) of what the set-up page shows as found."""
    return [
        (
            "setup_findings",
            findings_frame(p),
            "The identity and timestamp columns, Statements and Panel tabs found, and why",
        ),
        (
            "setup_questions",
            questions_frame(p),
            "The statements each round asks, and how their IDs were found",
        ),
    ]


def findings_frame(p: Proposal) -> pd.DataFrame:
    """The columns and tabs chosen, each with why."""
    rows = [
        ("identity column", p.identity.column, p.identity.why),
        ("timestamp column", p.timestamp.column, p.timestamp.why),
        ("Statements tab", p.statements_tab, p.statements_why),
        ("Panel tab", p.panel_tab, p.panel_why),
    ]
    return pd.DataFrame(rows, columns=["what", "found", "why"])


def questions_frame(p: Proposal) -> pd.DataFrame:
    """Per round: the statements found, how they were identified, their IDs, and the
    questions that look like ratings but match none."""
    rows = [
        {
            "round": x.round,
            "tab": x.tab,
            "statements": x.matched,
            "identified by": "; ".join(f"{h} ({n})" for h, n in x.how.most_common()),
            "IDs": ", ".join(x.ids),
            "unmatched questions": len(x.unmatched) if x.matched else 0,
        }
        for x in p.questions
    ]
    return pd.DataFrame(rows, columns=[*_QUESTION_COLUMNS])


_QUESTION_COLUMNS = ("round", "tab", "statements", "identified by", "IDs", "unmatched questions")


def labels_frame(p: Proposal) -> pd.DataFrame:
    """Every answer label seen, per scale: its proposed score (empty: none known), whether it
    is a no-opinion answer, how the score was found, and how often it was given."""
    rows = [
        {
            "scale": s.name or MAIN,
            "label": x.label,
            "score": x.score,
            "no opinion": x.no_opinion,
            "how": x.how + (" (check)" if x.check else ""),
            "answers": x.count,
        }
        for s in p.scales
        for x in s.labels
    ]
    columns = ["scale", "label", "score", "no opinion", "how", "answers"]
    return pd.DataFrame(rows, columns=columns).astype({"score": "Int64"})


def with_labels(
    p: Proposal,
    labels: pd.DataFrame | None = None,
    preset: str | None = None,
    title: str = "",
    version: str = "",
) -> Proposal:
    """``p`` with the scores and no-opinion marks of an edited :func:`labels_frame`, the
    coordinator's consensus preset with its version, and title; ``p`` itself is unchanged."""
    rows = [] if labels is None else labels.to_dict("records")
    edits = {(r["scale"], r["label"]): r for r in rows}
    scales = [_edited(s, edits) for s in p.scales]
    return replace(
        p,
        scales=scales,
        preset=preset or None,
        version=version.strip(),
        title=title.strip() or p.title,
    )


def _edited(s: ScaleDraft, edits: dict) -> ScaleDraft:
    out = []
    for x in s.labels:
        row = edits.get((s.name or MAIN, x.label))
        if row is None:
            out.append(x)
            continue
        score = None if pd.isna(row["score"]) else int(row["score"])
        no_op = bool(row["no opinion"])
        changed = score != x.score or no_op != x.no_opinion
        how = "set by you" if changed else x.how
        out.append(
            replace(x, score=score, no_opinion=no_op, how=how, check=x.check and not changed)
        )
    return replace(s, labels=out)
