"""Would the verdict survive?  Attrition what-ifs, who changed their rating between rounds, and
one robust / fragile mark per statement with its reasons.

Frames in (the store's ratings, respondents, statements and metrics), tidy frames out.  Every
status is recomputed with the statement's own scale, rule and denominator
(:func:`lib.analysis.consensus.study_metrics`, which runs ``compute_metrics`` scale by scale):
nothing here re-implements a consensus rule.  Statuses are the whole panel's (the rule's
verdict on everyone's ratings).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.analysis.consensus import study_metrics
from lib.analysis.flow import families, previous_versions
from lib.analysis.rules import EPS, PRESETS
from lib.analysis.scales import Scale, ScaleMap
from lib.analysis.sensitivity import sensitivity_by_scale
from lib.analysis.solidity import solidity_by_scale, wilson_interval

__all__ = [
    "ATTRITION_RULE",
    "CHANGES_RULE",
    "MARK_RULE",
    "FRAGILE_VOTES",
    "attrition",
    "rating_changes",
    "change_counts",
    "marks",
    "robustness",
]

FRAGILE_VOTES = 1  # one panelist answering otherwise is 6.7 points of a 15-member panel
ATTRITION_RULE = (
    "Missing panelists: those who rated an earlier version of the statement (the same ID in an "
    "earlier round, or a version it was revised from, back along its revisions) but gave no "
    "answer to this version: they did not respond to this round (dropped out) or left it blank "
    "(skipped). A “no opinion” answer is an answer and is never replaced. Last rating kept: each "
    "missing panelist's latest rating of an earlier version on the same scale is added to this "
    "version's ratings (a rating on another scale is not carried). Worst case: every missing "
    "panelist rates the end of the scale opposite the verdict: the lowest point (No on a Yes/No "
    "question) against consensus in, the highest against consensus out; the end of the scale "
    "is the worst a vote can do under every rule (it counts in the opposite range, moves the "
    "median furthest and widens the IQR most). “No consensus” is overturned by consensus either "
    "way, so both ends are tried, the highest first. Each status is recomputed with the "
    "statement's own rule and denominator; a verdict flips when it differs from the status of "
    "the ratings given. For observers, the last ratings of fewer than the privacy minimum of "
    "panelists are not used (the worst case uses only their number)."
)
CHANGES_RULE = (
    "A change: a panelist who rated this version and the one before it (the same ID in the "
    "latest earlier round it was rated, else the version it was revised from) with different "
    "ratings; a change to or from “no opinion” or a blank is not counted. Each rating falls in "
    "its version's agree range, disagree range, or between them (neutral); a change crosses a "
    "boundary when it moves into or out of the agree or the disagree range (disagree to agree "
    "crosses both). Versions rated on different scales (a 9-point round, then a Yes/No vote) "
    "are not compared."
)
MARK_RULE = (
    "The verdict judged is the whole panel's, under the statement's own rule. Strong signs: "
    f"(1) {FRAGILE_VOTES} changed vote or fewer would flip it (votes to flip, as in “How solid "
    "is each result”); (2) it flips if the missing panelists had kept their last rating. Weak "
    "signs: (3) the Wilson 95% interval of the share the verdict rests on contains the rule's "
    "threshold, bounds included (% agree for consensus in, % disagree for consensus out, either "
    "for no consensus) — with 15 panelists at 75% only 15 of 15 clears it, so on its own it "
    "marks nearly every verdict; (4) it flips in the worst case (every missing panelist voting "
    "against it); (5) another consensus rule (each preset adapted to the statement's scale) "
    "gives another status. A verdict is fragile with one strong sign or two weak ones, robust "
    "otherwise; every sign found is listed with the mark. A check that does not apply (votes "
    "to flip under a median or IQR rule, the interval under a rule without a threshold) is "
    "named as such and counts for neither mark."
)

_KEYS = ["round", "statement_id"]
_PAIR = ["round", "statement_id", "prev_round", "prev_statement_id"]
_ANSWER = ["round", "statement_id", "rating", "no_opinion"]
_WORDS = {
    "consensus_in": "consensus in",
    "consensus_out": "consensus out",
    "no_consensus": "no consensus",
}


# --- lineage ------------------------------------------------------------------------------------


def _rated(ratings: pd.DataFrame, statements: pd.DataFrame) -> pd.DataFrame:
    """The statements of the rounds in which they have a rating: a round whose tab has no
    answers yet is no version to compare with or carry from."""
    keys = ratings.loc[ratings["rating"].notna(), _KEYS].drop_duplicates()
    return statements.drop_duplicates(_KEYS).merge(keys, on=_KEYS)


def _earlier_versions(statements: pd.DataFrame) -> pd.DataFrame:
    """Each (round, statement) with every earlier version of it, following
    :func:`~lib.analysis.flow.previous_versions` back to the first (a previous version is
    always of an earlier round, so the walk ends)."""
    prev = previous_versions(statements)
    step = {(r, s): (pr, ps) for r, s, pr, ps in prev[_PAIR].itertuples(index=False)}
    rows = []
    for key in step:
        node = key
        while node in step:
            node = step[node]
            rows.append((*key, *node))
    return pd.DataFrame(rows, columns=_PAIR)


def _scale_pairs(pairs: pd.DataFrame, scales: ScaleMap) -> dict[tuple, bool]:
    """(round, id, prev_round, prev_id) -> whether both versions are on the same scale."""
    out = {}
    for r, s, pr, ps in pairs[_PAIR].drop_duplicates().itertuples(index=False):
        out[(r, s, pr, ps)] = scales.scale_for(int(pr), ps).same_as(scales.scale_for(int(r), s))
    return out


def _point(scale: Scale, point: int) -> str:
    """A scale point in words: "No", "1 (Strongly disagree)", "1 - Not important" (a label
    that starts with its number), or "1" when it has no label."""
    label = scale.point_labels()[point]
    if scale.yes_no or label.startswith(str(point)):
        return label
    return f"{point} ({label})"


# --- attrition ----------------------------------------------------------------------------------


def _missing(
    ratings: pd.DataFrame,
    respondents: pd.DataFrame,
    earlier: pd.DataFrame,
    scales: ScaleMap,
) -> pd.DataFrame:
    """One row per (round, statement, panelist) missing from it (``ATTRITION_RULE``):
    ``dropped`` (did not respond to the round) and ``last_rating`` (NaN: none on this scale)."""
    cols = [*_KEYS, "panelist", "dropped", "last_rating"]
    valid = ratings.loc[ratings["rating"].notna(), ["round", "statement_id", "panelist", "rating"]]
    had = earlier.merge(
        valid.rename(columns={"round": "prev_round", "statement_id": "prev_statement_id"}),
        on=["prev_round", "prev_statement_id"],
    )
    answered = ratings.loc[
        ratings["rating"].notna() | ratings["no_opinion"].eq(True), [*_KEYS, "panelist"]
    ].drop_duplicates()
    had = had.merge(answered, on=[*_KEYS, "panelist"], how="left", indicator=True)
    had = had[had["_merge"] == "left_only"]
    if had.empty:
        return pd.DataFrame(columns=cols)
    same = _scale_pairs(had, scales)
    on_scale = had[[same[k] for k in zip(*(had[c] for c in _PAIR), strict=True)]]
    last = (
        on_scale.sort_values("prev_round", kind="stable")
        .groupby([*_KEYS, "panelist"])["rating"]
        .last()
        .rename("last_rating")
        .reset_index()
    )
    came = respondents[["round", "panelist"]].drop_duplicates().assign(came=True)
    who = had[[*_KEYS, "panelist"]].drop_duplicates()
    who = who.merge(came, on=["round", "panelist"], how="left")
    who = who.merge(last, on=[*_KEYS, "panelist"], how="left")
    return who.assign(dropped=who["came"].isna())[cols].reset_index(drop=True)


def _statuses(answers: pd.DataFrame, scales: ScaleMap) -> pd.DataFrame:
    """(round, statement_id, n, status) of ``answers`` under each statement's own rule."""
    if answers.empty:
        return pd.DataFrame(columns=[*_KEYS, "n", "status"])
    return study_metrics(answers[_ANSWER], scales)[[*_KEYS, "n", "status"]]


def _what_ifs(ratings: pd.DataFrame, missing: pd.DataFrame, scales: ScaleMap) -> pd.DataFrame:
    """Per (round, statement) with missing panelists: its status with their last ratings added
    (``carried``), with all of them at the scale's lowest point (``low``) and highest (``high``)."""
    touched = missing[_KEYS].drop_duplicates()
    given = ratings[_ANSWER].merge(touched, on=_KEYS)
    ends = {
        (r, s): scales.scale_for(int(r), s) for r, s in touched.itertuples(index=False, name=None)
    }
    keys = list(zip(missing["round"], missing["statement_id"], strict=True))
    kept = missing.dropna(subset=["last_rating"])
    added = {
        "carried": kept[_KEYS].assign(rating=kept["last_rating"].astype(float)),
        "low": missing[_KEYS].assign(rating=[float(ends[k].min) for k in keys]),
        "high": missing[_KEYS].assign(rating=[float(ends[k].max) for k in keys]),
    }
    out = touched
    for name, extra in added.items():
        frame = pd.concat([given, extra.assign(no_opinion=False)], ignore_index=True)
        status = _statuses(frame, scales)[[*_KEYS, "status"]].rename(columns={"status": name})
        out = out.merge(status, on=_KEYS, how="left")
    return out


def attrition(
    ratings: pd.DataFrame,
    respondents: pd.DataFrame,
    statements: pd.DataFrame,
    scales: ScaleMap,
    min_group_size: int = 1,
) -> pd.DataFrame:
    """Per (round, statement): its status, the panelists missing from it, and its status if
    they had kept their last rating and in the worst case (``ATTRITION_RULE``).

    Columns: ``status`` (of the ratings given), ``n``, ``n_dropped`` (did not respond to the
    round), ``n_skipped`` (responded, left it blank), ``n_carried`` (last ratings kept),
    ``status_carried``, ``flips_carried``, ``worst_case`` (in words), ``status_worst``,
    ``flips_worst``, ``note``.  With ``min_group_size`` (observers' privacy minimum), fewer
    carried ratings than that are not used: ``status_carried`` and ``flips_carried`` are blank.

    Examples
    --------
    E rated 2 in round 1 and did not respond to round 2: 3 of 4 = 75% agree is consensus in,
    but 3 of 5 = 60% with E's rating kept (or with E at 1) is not.

    >>> from lib.analysis.rules import preset
    >>> r = pd.DataFrame({"round": [1] * 5 + [2] * 4, "panelist": list("ABCDEABCD"),
    ...                   "statement_id": "S1", "rating": [5, 4, 4, 4, 2, 4, 4, 4, 3.0],
    ...                   "no_opinion": False})
    >>> s = pd.DataFrame({"round": [1, 2], "statement_id": "S1", "revised_from": None})
    >>> one = ScaleMap.single(preset("pct75", 1, 5), 1, 5)
    >>> a = attrition(r, r[["round", "panelist"]].drop_duplicates(), s, one)
    >>> a.loc[1, ["status", "status_carried", "status_worst"]].tolist()
    ['consensus_in', 'no_consensus', 'no_consensus']
    """
    earlier = _earlier_versions(_rated(ratings, statements))
    out = _what_ifs_counted(ratings, _missing(ratings, respondents, earlier, scales), scales)
    hidden = (out["n_carried"] > 0) & (out["n_carried"] < min_group_size)
    out = _verdicts(out, hidden, scales)
    first = ~pd.Series(
        list(zip(out["round"], out["statement_id"], strict=True)), index=out.index
    ).isin(set(zip(earlier["round"], earlier["statement_id"], strict=True)))
    out["note"] = [
        _attrition_note(f, n, c, h, min_group_size)
        for f, n, c, h in zip(first, out["n_absent"], out["n_carried"], hidden, strict=True)
    ]
    cols = [
        *_KEYS, "status", "n", "n_dropped", "n_skipped", "n_carried", "status_carried",
        "flips_carried", "worst_case", "status_worst", "flips_worst", "note",
    ]  # fmt: skip
    return out[cols].sort_values(_KEYS, ignore_index=True)


def _what_ifs_counted(
    ratings: pd.DataFrame, missing: pd.DataFrame, scales: ScaleMap
) -> pd.DataFrame:
    """Each (round, statement)'s status and n, its missing panelists counted, and the
    statuses of :func:`_what_ifs` (its own status where nobody is missing)."""
    counts = missing.groupby(_KEYS).agg(
        n_absent=("panelist", "size"),
        n_dropped=("dropped", "sum"),
        n_carried=("last_rating", "count"),
    )
    out = _statuses(ratings, scales).merge(counts.reset_index(), on=_KEYS, how="left")
    for col in ("n_absent", "n_dropped", "n_carried"):
        out[col] = out[col].fillna(0).astype(int)
    out["n_skipped"] = out["n_absent"] - out["n_dropped"]
    if missing.empty:
        out = out.assign(carried=out["status"], low=out["status"], high=out["status"])
    else:
        out = out.merge(_what_ifs(ratings, missing, scales), on=_KEYS, how="left")
    return out


def _verdicts(out: pd.DataFrame, hidden: pd.Series, scales: ScaleMap) -> pd.DataFrame:
    """The what-if statuses as ``ATTRITION_RULE`` reads them: the last ratings kept (blank
    where ``hidden``), the worst case against the verdict, whether each flips it."""
    out = out.copy()
    absent = out["n_absent"] > 0
    carried = out["carried"].where(absent, out["status"])
    out["status_carried"] = carried.where(~hidden, None)
    out["flips_carried"] = pd.array(carried != out["status"], dtype="boolean")
    out.loc[hidden, "flips_carried"] = pd.NA
    up = (out["status"] == "consensus_out") | (
        (out["status"] == "no_consensus") & (out["high"] != out["status"])
    )
    out["status_worst"] = np.where(absent, np.where(up, out["high"], out["low"]), out["status"])
    out["flips_worst"] = out["status_worst"] != out["status"]
    out["worst_case"] = [
        _worst_words(int(n), scales.scale_for(int(r), s), bool(u), st, bool(f))
        for r, s, n, u, st, f in zip(
            out["round"], out["statement_id"], out["n_absent"], up, out["status"],
            out["flips_worst"], strict=True,
        )
    ]  # fmt: skip
    return out


def _worst_words(n: int, scale: Scale, high: bool, status: str, flipped: bool) -> str:
    """The worst case in words: "all 3 missing panelists rate 1 (Strongly disagree)"."""
    if n == 0:
        return ""
    who = {1: "the missing panelist rates", 2: "both missing panelists rate"}.get(
        n, f"all {n} missing panelists rate"
    )
    top, bottom = _point(scale, scale.max), _point(scale, scale.min)
    if status == "no_consensus" and not flipped:
        return f"{who} {top}, or {bottom}"
    return f"{who} {top if high else bottom}"


def _attrition_note(first: bool, absent: int, carried: int, hidden: bool, minimum: int) -> str:
    if absent == 0:
        return (
            "first version rated: nobody to carry"
            if first
            else "everyone who rated an earlier version answered this one"
        )
    parts = []
    if carried < absent:
        k = absent - carried
        parts.append(f"{k} of them rated earlier versions on another scale only (not carried)")
    if hidden:
        parts.append(f"last ratings of fewer than {minimum} panelists are not shown")
    return "; ".join(parts)


# --- rating changes -----------------------------------------------------------------------------


def _pairs(
    ratings: pd.DataFrame, statements: pd.DataFrame, scales: ScaleMap
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each rated version with the one before it (``compared``: both on one scale), and the
    ratings of the panelists who rated both (``rating_before``, ``rating``, ``comment``)."""
    prev = previous_versions(_rated(ratings, statements))
    same = _scale_pairs(prev, scales)
    compared = [same[k] for k in zip(*(prev[c] for c in _PAIR), strict=True)]
    prev["compared"] = pd.Series(compared, index=prev.index, dtype=bool)
    valid = ratings[ratings["rating"].notna()].drop_duplicates([*_KEYS, "panelist"])
    comment = valid["comment"] if "comment" in valid else pd.Series(None, index=valid.index)
    now = valid[[*_KEYS, "panelist", "rating"]].assign(comment=comment)
    before = valid[[*_KEYS, "panelist", "rating"]].rename(
        columns={
            "round": "prev_round",
            "statement_id": "prev_statement_id",
            "rating": "rating_before",
        }
    )
    both = prev[prev["compared"]][_PAIR].merge(now, on=_KEYS)
    both = both.merge(before, on=["prev_round", "prev_statement_id", "panelist"])
    return prev, both


def _ranges(values: pd.Series, keys: pd.DataFrame, scales: ScaleMap) -> np.ndarray:
    """The range of each rating (agree, disagree or neutral) by the rule of its (round, id)."""
    out = np.full(len(values), "neutral", dtype=object)
    for (r, s), at in keys.groupby(["round", "statement_id"], sort=False).indices.items():
        rule = scales.scale_for(int(r), s).rule
        v = values.to_numpy(float)[at]
        out[at] = np.select(
            [
                (v >= rule.agree[0] - EPS) & (v <= rule.agree[1] + EPS),
                (v >= rule.disagree[0] - EPS) & (v <= rule.disagree[1] + EPS),
            ],
            ["agree", "disagree"],
            "neutral",
        )
    return out


def _crossing(before: str, after: str) -> str:
    """The boundaries a change crosses; "" within a range.

    >>> _crossing("disagree", "agree"), _crossing("neutral", "agree"), _crossing("agree", "agree")
    ('out of disagree, into agree', 'into agree', '')
    """
    if before == after:
        return ""
    parts = [f"out of {before}"] if before != "neutral" else []
    return ", ".join([*parts, *([f"into {after}"] if after != "neutral" else [])])


def rating_changes(
    ratings: pd.DataFrame, statements: pd.DataFrame, scales: ScaleMap
) -> pd.DataFrame:
    """Who changed their rating from the version before (``CHANGES_RULE``), one row per
    panelist (pseudonyms: the steering committee's view), with the ranges before and after,
    the boundaries crossed and the comment they gave with the new rating.

    Columns: round, statement_id, prev_round, prev_statement_id, panelist, rating_before,
    rating, change, range_before, range, crossing ("" within a range), comment.
    """
    return _moved(_pairs(ratings, statements, scales)[1], scales)


def rating_changes_with_comments(
    ratings: pd.DataFrame, statements: pd.DataFrame, comments: pd.DataFrame, scales: ScaleMap
) -> pd.DataFrame:
    """:func:`rating_changes` with each panelist's comment of that round taken from
    ``comments`` (round, panelist, statement_id, comment): the store keeps comments out of the
    ratings frame every statistic reads."""
    keys = [*_KEYS, "panelist"]
    said = comments.drop_duplicates(keys)[[*keys, "comment"]]
    merged = ratings.drop(columns="comment", errors="ignore").merge(said, on=keys, how="left")
    return rating_changes(merged, statements, scales)


def _moved(both: pd.DataFrame, scales: ScaleMap) -> pd.DataFrame:
    """:func:`rating_changes` from :func:`_pairs`' ratings of panelists who rated both."""
    moved = both[both["rating"] != both["rating_before"]].reset_index(drop=True)
    prev_keys = moved[["prev_round", "prev_statement_id"]].set_axis(_KEYS, axis=1)
    moved["change"] = moved["rating"] - moved["rating_before"]
    moved["range_before"] = _ranges(moved["rating_before"], prev_keys, scales)
    moved["range"] = _ranges(moved["rating"], moved[_KEYS], scales)
    moved["crossing"] = [
        _crossing(b, a) for b, a in zip(moved["range_before"], moved["range"], strict=True)
    ]
    cols = [
        *_PAIR, "panelist", "rating_before", "rating", "change", "range_before", "range",
        "crossing", "comment",
    ]  # fmt: skip
    return moved[cols].sort_values([*_KEYS, "panelist"], ignore_index=True)


def change_counts(
    ratings: pd.DataFrame, statements: pd.DataFrame, scales: ScaleMap
) -> pd.DataFrame:
    """Per version and the one before it: how many rated both, moved, and crossed into or out
    of the agree and disagree ranges (``CHANGES_RULE``); no pseudonyms.  A pair on different
    scales has ``compared`` False, blank counts and a note saying so."""
    prev, both = _pairs(ratings, statements, scales)
    moved = _moved(both, scales)
    # "into agree" is no part of "into disagree", nor "out of agree" of "out of disagree"
    said = {
        "n_moved": lambda c: True,
        "n_crossed": lambda c: c != "",
        **{
            words.replace(" ", "_"): (lambda c, w=words: w in c)
            for words in ("into agree", "out of agree", "into disagree", "out of disagree")
        },
    }
    flags = {
        name: pd.Series([test(c) for c in moved["crossing"]], index=moved.index, dtype=int)
        for name, test in said.items()
    }
    counts = pd.DataFrame(flags).groupby([moved[c] for c in _PAIR]).sum()
    paired = both.groupby(_PAIR).size().rename("n_paired")
    out = prev[[*_PAIR, "compared"]].merge(paired.reset_index(), on=_PAIR, how="left")
    out = out.merge(counts.reset_index(), on=_PAIR, how="left")
    numbers = ["n_paired", *said]
    out[numbers] = out[numbers].fillna(0).astype(float).where(out["compared"])
    out["note"] = [
        "" if ok else _not_compared(scales, r, s, pr, ps)
        for r, s, pr, ps, ok in zip(*(out[c] for c in [*_PAIR, "compared"]), strict=True)
    ]
    return out.sort_values(_KEYS, ignore_index=True)


def _not_compared(scales: ScaleMap, r: int, s: str, pr: int, ps: str) -> str:
    was, now = scales.scale_for(int(pr), ps), scales.scale_for(int(r), s)
    return f"rated on {was.describe()} then on {now.describe()}: not compared"


# --- the mark -----------------------------------------------------------------------------------

Check = tuple[bool | None, str]  # (fragile? None: the check does not apply), its sentence


def _votes_check(row: pd.Series) -> Check:
    votes = row["votes_to_flip"]
    if pd.isna(votes):
        return None, row["note"] or "votes to flip not computed"
    if votes <= FRAGILE_VOTES:
        said = "1 changed vote" if votes == 1 else f"{votes:g} changed votes"
        return True, f"{said} would make it {_WORDS[row['flip_to']]}"
    return False, f"{votes:g} votes to flip"


def _interval_check(row: pd.Series, scale: Scale) -> Check:
    rule = scale.rule
    if rule.threshold is None or rule.method != "rule":
        return None, "the rule has no threshold: interval not tested"
    if not row["denominator"] > 0:
        return None, "no valid ratings: interval not tested"
    t = rule.threshold
    agree, disagree = ("% yes", "% no") if scale.yes_no else ("% agree", "% disagree")
    lo, hi = wilson_interval(int(row["n_disagree"]), int(row["denominator"]))
    shares = {
        agree: (row["ci_low"], row["ci_high"]),
        disagree: (100 * lo, 100 * hi),
    }
    used = {"consensus_in": [agree], "consensus_out": [disagree]}.get(
        row["status"], [agree, disagree]
    )
    said = {n: f"{n} {shares[n][0]:.1f}–{shares[n][1]:.1f}%" for n in used}
    hit = [n for n in used if shares[n][0] - EPS <= t <= shares[n][1] + EPS]
    if hit:
        where = " and ".join(said[n] for n in hit)
        return True, f"the 95% interval of {where} contains the {t:g}% threshold"
    if len(used) == 1:
        return False, f"the 95% interval of {said[used[0]]} is clear of the {t:g}% threshold"
    where = " and ".join(said.values())
    return False, f"the 95% intervals of {where} are clear of the {t:g}% threshold"


def _attrition_checks(row: pd.Series | None) -> list[Check]:
    if row is None:
        return [(None, "attrition not computed")]
    absent = int(row["n_dropped"] + row["n_skipped"])
    if absent == 0:
        return [(False, row["note"])]
    kept = (
        "the missing panelist's last rating kept"
        if absent == 1
        else f"the {absent} missing panelists' last ratings kept"
    )
    out: list[Check] = []
    if pd.isna(row["flips_carried"]):
        out.append((None, row["note"]))
    elif row["flips_carried"]:
        out.append((True, f"with {kept} it would be {_WORDS[row['status_carried']]}"))
    if row["flips_worst"]:
        out.append((True, f"it would be {_WORDS[row['status_worst']]} if {row['worst_case']}"))
    if not any(f for f, _ in out):
        carried = "" if pd.isna(row["flips_carried"]) else f"with {kept} and "
        out.append((False, f"it holds {carried}if {row['worst_case']}"))
    return out


def _rules_check(row: pd.Series | None) -> Check:
    if row is None:
        return None, "other rules not computed"
    others = [k for k in PRESETS if k in row.index and pd.notna(row[k])]
    differ = [k for k in others if row[k] != row["study_rule"]]
    if not differ:
        return False, "every other rule that applies gives the same status"
    said = ", ".join(f"{PRESETS[k]}: {_WORDS[row[k]]}" for k in differ)
    return True, f"other rules differ ({said})"


def marks(
    statements: pd.DataFrame,
    solid: pd.DataFrame,
    attr: pd.DataFrame,
    rules: pd.DataFrame,
    scales: ScaleMap,
) -> pd.DataFrame:
    """One "robust" / "fragile" mark per (round, statement) with its reasons (``MARK_RULE``),
    from :func:`~lib.analysis.solidity.solidity_by_scale`, :func:`attrition` and
    :func:`~lib.analysis.sensitivity.sensitivity_by_scale`'s frames.

    Columns: round, statement_id, status, mark, reasons (a fragile mark's reasons; for a
    robust one every check, those that do not apply included), checks (every check's
    sentence), one boolean per check (``fragile_votes``, ``fragile_interval``,
    ``fragile_attrition``, ``fragile_rules``) and ``last_rated`` (the last version rated of
    its family: the statement's mark).
    """
    by_key = {name: f.set_index(_KEYS) for name, f in (("attr", attr), ("rules", rules))}
    rows = []
    for _, row in solid.iterrows():
        key = (row["round"], row["statement_id"])
        scale = scales.scale_for(int(row["round"]), row["statement_id"])
        got = {n: (f.loc[key] if key in f.index else None) for n, f in by_key.items()}
        checks = {
            "votes": [_votes_check(row)],
            "interval": [_interval_check(row, scale)],
            "attrition": _attrition_checks(got["attr"]),
            "rules": [_rules_check(got["rules"])],
        }
        every = [c for cs in checks.values() for c in cs]
        signs = [text for flag, text in every if flag]
        att = got["attr"]
        carried = att is not None and att["flips_carried"] is True
        worst = att is not None and bool(att["flips_worst"])
        strong = any(f for f, _ in checks["votes"]) or carried
        weak = sum(
            [any(f for f, _ in checks["interval"]), worst, any(f for f, _ in checks["rules"])]
        )
        fragile = strong or weak >= 2
        reasons = signs if fragile else [t for _, t in every]
        if signs and not fragile:
            reasons = [*reasons, "one weak sign only: robust"]
        rows.append(
            {
                "round": row["round"],
                "statement_id": row["statement_id"],
                "status": row["status"],
                "mark": "fragile" if fragile else "robust",
                "reasons": "; ".join(reasons),
                "checks": "; ".join(t for _, t in every),
                **{f"fragile_{n}": any(f for f, _ in cs) for n, cs in checks.items()},
            }
        )
    out = pd.DataFrame(rows, columns=_MARK_COLUMNS[:-1])
    return out.assign(last_rated=_last_rated(statements, out)).reset_index(drop=True)


_MARK_COLUMNS = [
    *_KEYS, "status", "mark", "reasons", "checks", "fragile_votes", "fragile_interval",
    "fragile_attrition", "fragile_rules", "last_rated",
]  # fmt: skip


def _last_rated(statements: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """Whether each row is the last version rated of its family (:func:`flow.families`)."""
    fam = families(statements)
    root = dict(zip(fam["statement_id"], fam["family"], strict=True))
    family = rows["statement_id"].map(root).fillna(rows["statement_id"])
    return rows["round"] == rows["round"].groupby(family).transform("max")


def robustness(
    ratings: pd.DataFrame,
    respondents: pd.DataFrame,
    statements: pd.DataFrame,
    metrics: pd.DataFrame,
    scales: ScaleMap,
    min_group_size: int = 1,
) -> pd.DataFrame:
    """:func:`marks` from the store's frames: votes to flip and the interval (``metrics``),
    the attrition what-ifs and the other rules (``ratings``)."""
    return marks(
        statements,
        solidity_by_scale(metrics, scales),
        attrition(ratings, respondents, statements, scales, min_group_size),
        sensitivity_by_scale(ratings, scales),
        scales,
    )
