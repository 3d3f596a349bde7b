"""Run another round?  The pre-registered stopping rule (``[stopping]``) applied after a round,
with its reasons: the statements still open, how stable they are, how many reached consensus,
how many rounds remain, and where the rule and the stability verdicts disagree.

Frames in (``lib.store.metrics_for``'s metrics, ``lib.analysis.stability.stability``'s frame),
a :class:`Verdict` out.  Counts only: no panelist appears in anything this module returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from lib.analysis.rules import EPS
from lib.analysis.summary import final_statements
from lib.config import StoppingRule
from lib.textsafe import plural

__all__ = ["STOPPING_NOTE", "Verdict", "verdict", "describe", "open_statements"]

STOPPING_NOTE = (
    "Counted over the latest version of every statement rated up to the round named (a revised "
    "statement counts once, as its latest wording). Consensus counts consensus in and consensus "
    "out, as the Overview's “Consensus reached”. A statement is open when its latest version "
    "was rated in that round without reaching consensus; one left without consensus in an "
    "earlier round and not rated since was dropped, and is not open. Each open statement is "
    "classed by the stability verdict of its latest pair of rounds (the same panelists' ratings "
    "of this version and of the one before it, see the stability rule): still moving, stable, or "
    "not assessable — first rated in that round (nothing to compare), fewer than 3 panelists "
    "rated both versions, or its two versions rated on different scales (not comparable). A "
    "statement that is not assessable has not been shown stable: “every open statement is "
    "stable” needs each one to be stable, so it holds only when none is still moving and none "
    "is not assessable."
)
# The verdict of an open statement's latest pair -> what it counts as; no pair: "first rated".
_COUNTED = {
    "still moving": "still moving",
    "stable": "stable",
    "not assessable": "not assessable",
    "not comparable": "not assessable",
    "first rated": "not assessable",
}


@dataclass(frozen=True)
class Verdict:
    """The answer to "run another round?" after ``last_round``: the decision, its reasons as
    short sentences, the counts they rest on, and a conflict between rule and stability."""

    decision: str  # "stop" | "continue" | "no rule"
    reasons: list[str]
    last_round: int
    n_statements: int
    n_consensus: int
    pct_consensus: float
    n_open: int
    n_moving: int
    n_stable: int
    n_not_assessable: int
    rounds_left: int | None
    conflict: str | None = None
    # the parts of the counts above, for the sentences and for reports
    n_consensus_in: int = 0
    n_consensus_out: int = 0
    n_dropped: int = 0
    n_first_rated: int = 0  # of n_not_assessable: first rated in last_round
    n_not_comparable: int = 0  # of n_not_assessable: versions on different scales
    rule: str = field(default="")

    @property
    def headline(self) -> str:
        """The decision in one sentence."""
        if self.decision == "stop":
            return f"Stop after round {self.last_round}: the pre-registered rule is met."
        if self.decision == "continue":
            return (
                f"Run another round (round {self.last_round + 1}): "
                "the pre-registered rule is not met yet."
            )
        return (
            "No stopping rule was pre-registered: the counts below are for the committee to weigh."
        )


def describe(rule: StoppingRule | None) -> str:
    """The pre-registered stopping rule in a sentence, or that there is none.

    >>> describe(StoppingRule(max_rounds=3, when_stable=True))
    'Rounds stop when every statement without consensus is stable between two rounds or after round 3 at the latest.'
    >>> describe(None)
    'No stopping rule was pre-registered (no [stopping] table in the study file).'
    """  # noqa: E501
    if rule is None:
        return "No stopping rule was pre-registered (no [stopping] table in the study file)."
    return rule.describe()


def open_statements(
    metrics: pd.DataFrame, stability: pd.DataFrame, last_round: int | None = None
) -> pd.DataFrame:
    """The statements still open after ``last_round`` (default: the last round rated), one row
    each: its latest version, % agree, the stability verdict of its latest pair ("first rated"
    when it has none) and what that counts as (still moving, stable or not assessable)."""
    final = _final(metrics, last_round)
    last = int(final["round"].max()) if len(final) else 0
    rows = final[(final["round"] == last) & (final["status"] == "no_consensus")]
    pairs = stability.loc[stability["round"] == last, ["statement_id", "verdict", "note"]]
    out = rows.merge(pairs.drop_duplicates("statement_id"), on="statement_id", how="left")
    out["verdict"] = out["verdict"].fillna("first rated")
    first = out["verdict"] == "first rated"
    out.loc[first, "note"] = f"first rated in round {last}: no earlier version to compare"
    out["counted_as"] = out["verdict"].map(_COUNTED)
    cols = ["statement_id", "round", "text", "pct_agree", "verdict", "counted_as", "note"]
    return out[[c for c in cols if c in out]].reset_index(drop=True)


def verdict(
    metrics: pd.DataFrame,
    stability: pd.DataFrame,
    rule: StoppingRule | None,
    last_round: int | None = None,
) -> Verdict:
    """Run another round?  ``rule`` applied after ``last_round`` (default: the last round in
    ``metrics``; later rounds are ignored, and a round nobody rated yet does not count), with
    its reasons (see ``STOPPING_NOTE``).

    Stop when ``last_round`` reached ``max_rounds``, or (``when_stable``) every open statement is
    stable — none still moving, none not assessable; with none open this holds —, or at least
    ``min_consensus_pct`` percent of the statements reached consensus; continue otherwise.
    Without a rule the decision is "no rule", with the same counts.
    """
    final = _final(metrics, last_round)
    if final.empty:
        raise ValueError("no statement was rated up to this round: there is nothing to judge")
    last = int(final["round"].max())  # a round without ratings yet is not "the last round"
    opened = open_statements(metrics, stability, last)
    counted = opened["counted_as"].value_counts()
    n = len(final)
    n_in = int((final["status"] == "consensus_in").sum())
    n_out = int((final["status"] == "consensus_out").sum())
    most = rule.max_rounds if rule is not None else None
    v = Verdict(
        decision="no rule",
        reasons=[],
        last_round=last,
        n_statements=n,
        n_consensus=n_in + n_out,
        pct_consensus=100 * (n_in + n_out) / n if n else 0.0,
        n_open=len(opened),
        n_moving=int(counted.get("still moving", 0)),
        n_stable=int(counted.get("stable", 0)),
        n_not_assessable=int(counted.get("not assessable", 0)),
        rounds_left=None if most is None else max(0, most - last),
        n_consensus_in=n_in,
        n_consensus_out=n_out,
        n_dropped=int(((final["round"] < last) & (final["status"] == "no_consensus")).sum()),
        n_first_rated=int((opened["verdict"] == "first rated").sum()),
        n_not_comparable=int((opened["verdict"] == "not comparable").sum()),
        rule=describe(rule),
    )
    facts = _facts(v)
    if rule is None:
        return replace(v, reasons=[*facts, describe(None)])
    met, unmet = _criteria(v, rule)
    decision = "stop" if met else "continue"
    said = [sentence for sentence, _ in met + unmet]
    if most is None:
        said.append("The rule sets no maximum number of rounds.")
    return replace(v, decision=decision, reasons=[*said, *facts], conflict=_conflict(v, met, unmet))


def _final(metrics: pd.DataFrame, last_round: int | None) -> pd.DataFrame:
    """The latest version of every statement rated up to ``last_round``."""
    rated = metrics if last_round is None else metrics[metrics["round"] <= last_round]
    return final_statements(rated)


def _pct(x: float, need: float | None = None) -> str:
    """A percentage to one decimal ("88.1%", "50%"), never rounded up onto ``need``.

    >>> _pct(100 * 37 / 42), _pct(50.0), _pct(79.96, need=80)
    ('88.1%', '50%', '79.9%')
    """
    text = f"{x:.1f}".removesuffix(".0")
    if need is not None and x < need - EPS and float(text) >= need:
        text = f"{math.floor(x * 10) / 10:.1f}"
    return f"{text}%"


def _are(n: int, one: str = "is", many: str = "are") -> str:
    return one if n == 1 else many


def _criteria(
    v: Verdict, rule: StoppingRule
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The rule's criteria met and not met: each as (its sentence, a few words for a conflict)."""
    met, unmet = [], []
    last = v.last_round
    if rule.max_rounds is not None:
        most, short = rule.max_rounds, f"round {last} of {rule.max_rounds}"
        if last > most:
            met.append((f"Round {last} is past round {most}, the last the rule allows.", short))
        elif last == most:
            met.append((f"Round {last} of at most {most}: the last round the rule allows.", short))
        else:
            left = f"{plural(most - last, 'round')} {_are(most - last, 'remains', 'remain')}"
            unmet.append((f"Round {last} of at most {most}: {left}.", short))
    if rule.when_stable:
        if v.n_open == 0:
            met.append(("No statement is open, so none is left to become stable.", "nothing open"))
        elif v.n_stable == v.n_open:
            said = f"Every open statement is stable ({v.n_open} of {v.n_open})."
            met.append((said, "every open statement is stable"))
        else:
            counts = {"still moving": v.n_moving, "not assessable": v.n_not_assessable}
            parts = [f"{k} {what}" for what, k in counts.items() if k]
            said = f"Not every open statement is stable: {' and '.join(parts)} (of {v.n_open})."
            unmet.append((said, "not every open statement is stable"))
    if rule.min_consensus_pct is not None:
        need = rule.min_consensus_pct
        got = _pct(v.pct_consensus, need)
        short = f"{got} reached consensus, {need:g}% asked"
        asks = f"the rule asks for at least {need:g}%"
        if v.n_statements and v.pct_consensus >= need - EPS:
            met.append((f"{got} of the statements reached consensus; {asks}.", short))
        else:
            unmet.append((f"Only {got} of the statements reached consensus; {asks}.", short))
    return met, unmet


def _facts(v: Verdict) -> list[str]:
    """The counts in sentences: open statements and their stability, consensus, dropped."""
    last, n = v.last_round, v.n_statements
    if v.n_open == 0:
        opened = f"After round {last}, no statement is open: each one rated in round {last} "
        opened += "reached consensus."
    else:
        opened = (
            f"After round {last}, {v.n_open} of {n} statements {_are(v.n_open)} still open "
            f"(no consensus in round {last}): {v.n_moving} still moving, {v.n_stable} stable, "
            f"{v.n_not_assessable} not assessable{_why_not_assessable(v)}."
        )
    out = [
        opened,
        f"{v.n_consensus} of {n} statements reached consensus ({_pct(v.pct_consensus)}): "
        f"{v.n_consensus_in} in, {v.n_consensus_out} out.",
    ]
    if v.n_dropped:
        out.append(
            f"{plural(v.n_dropped, 'statement')} without consensus "
            f"{_are(v.n_dropped, 'was', 'were')} not rated again after an earlier round "
            f"(dropped), and {_are(v.n_dropped)} not counted as open."
        )
    return out


def _why_not_assessable(v: Verdict) -> str:
    """ " (2 first rated in round 3, 1 rated on different scales, …)", or "" when none is."""
    few = v.n_not_assessable - v.n_first_rated - v.n_not_comparable
    parts = [
        f"{v.n_first_rated} first rated in round {v.last_round}" if v.n_first_rated else "",
        f"{v.n_not_comparable} rated on different scales" if v.n_not_comparable else "",
        f"{few} with fewer than 3 panelists rating both versions" if few else "",
    ]
    said = ", ".join(p for p in parts if p)
    return f" ({said})" if said else ""


def _conflict(v: Verdict, met: list[tuple[str, str]], unmet: list[tuple[str, str]]) -> str | None:
    """Where the rule's decision and the stability verdicts disagree, in a sentence; or None."""
    if met and v.n_moving:
        moving = f"{plural(v.n_moving, 'statement')} {_are(v.n_moving)} still moving"
        return f"The rule says stop ({met[0][1]}) but {moving}."
    if met:
        return None
    cause = unmet[0][1]
    if v.n_open == 0:
        return (
            f"The rule says continue ({cause}) but no statement is open: every statement "
            "reached consensus or was dropped, so another round has nothing left to rate."
        )
    if v.n_stable == v.n_open:
        every = f"all {v.n_open} open statements are" if v.n_open > 1 else "the open statement is"
        return (
            f"The rule says continue ({cause}) but {every} stable: another round may change little."
        )
    return None
