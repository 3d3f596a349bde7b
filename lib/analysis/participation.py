"""Participation: response and attrition per round, response by panel attribute, and whether
those who dropped out had rated differently.

The Mann-Whitney U test is written out (:func:`mann_whitney`, checked against pingouin in
``tests/test_mann_whitney.py``): importing pingouin took 0.7 s of the Panel page's first render.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from lib.analysis.groups import BLANK, other_label, pool_small_groups
from lib.analysis.scales import ScaleMap
from lib.analysis.stability import MIN_PAIRED

__all__ = [
    "ATTRITION_RULE",
    "participation",
    "attribute_groups",
    "participation_by_attribute",
    "attrition_groups",
    "attrition_too_small",
    "attrition_test",
    "mann_whitney",
]

ATTRITION_RULE = (
    "Panelists who rated in round 1 are split into those who also responded in the last round "
    "(stayed) and those who did not (dropped out). Their round-1 ratings are compared: mean "
    "rating, share in the agree range, and a Mann-Whitney U test on each panelist's mean "
    "round-1 rating (one value per panelist)."
)


def participation(respondents: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Per round: invited, responded, response rate, and who was new, retained or lost."""
    who = respondents.groupby("round")["panelist"].apply(set).to_dict()
    rows, before = [], None
    for r in sorted(rates["round"]):
        now = who.get(r, set())
        row = {"round": int(r), "responded": len(now)}
        if before is None:
            row.update(new=len(now), retained=np.nan, lost=np.nan, attrition_pct=np.nan)
        else:
            lost = len(before - now)
            row.update(
                new=len(now - before),
                retained=len(now & before),
                lost=lost,
                attrition_pct=100 * lost / len(before) if before else np.nan,
            )
        rows.append(row)
        before = now
    counts = pd.DataFrame(
        rows, columns=["round", "responded", "new", "retained", "lost", "attrition_pct"]
    )
    out = rates[["round", "invited"]].merge(counts, on="round")
    out["response_rate"] = 100 * out["responded"] / out["invited"].where(out["invited"] > 0)
    return out[
        [
            "round",
            "invited",
            "responded",
            "response_rate",
            "new",
            "retained",
            "lost",
            "attrition_pct",
        ]
    ]


def _bin_numeric(values: pd.Series) -> pd.Series | None:
    """Numbers with many distinct values, grouped into at most four equal-width ranges.

    >>> _bin_numeric(pd.Series(["3", "8", "12", "25", "31"])).tolist()
    ['0–9', '0–9', '10–19', '20–29', '30–39']
    >>> _bin_numeric(pd.Series(["1", "40", "900", "7000", "2000000000"])).tolist()
    ['0–999999999', '0–999999999', '0–999999999', '0–999999999', '2000000000–2999999999']
    """
    num = pd.to_numeric(values, errors="coerce")
    if num.isna().any() or not np.isfinite(num).all() or num.nunique() <= 4:
        return None
    step = _bin_width(float(num.min()), float(num.max()))
    start = np.floor(num / step) * step
    return start.map(lambda s: f"{s:.0f}–{s + step - 1:.0f}" if step > 1 else f"{s:.0f}")


def _bin_width(lo: float, hi: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 50, … that covers ``lo``–``hi`` in at most four bins."""
    for exponent in itertools.count():
        for mantissa in (1, 2, 5):
            step = mantissa * 10.0**exponent
            if math.floor(hi / step) - math.floor(lo / step) + 1 <= 4:
                return step
    raise AssertionError("unreachable: a wide enough step always covers a finite range")


def attribute_groups(panel: pd.DataFrame, min_group_size: int | None = None) -> pd.DataFrame:
    """Each panelist's group of each attribute as shown: panelist, attribute, group.

    Numbers with many values are grouped into ranges and an empty cell is ``groups.BLANK``;
    with ``min_group_size``, groups under it are pooled (``groups.pool_small_groups``) and the
    group of an attribute held by fewer panelists in all is NaN (hidden).
    """
    out = []
    for _, frame in panel.dropna(subset=["attribute"]).groupby("attribute", sort=True):
        values = frame["value"].fillna("").astype(str)
        binned = _bin_numeric(values)
        group = binned if binned is not None else values.where(values.str.strip() != "", BLANK)
        frame = frame.assign(group=group.to_numpy())
        if min_group_size:
            sizes = frame.groupby("group")["panelist"].nunique()
            frame = frame.assign(group=frame["group"].map(pool_small_groups(sizes, min_group_size)))
        out.append(frame[["panelist", "attribute", "group"]])
    columns = ["panelist", "attribute", "group"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)


def participation_by_attribute(
    respondents: pd.DataFrame, panel: pd.DataFrame, min_group_size: int | None = None
) -> pd.DataFrame:
    """Per panel attribute, group and round: invited, responded, response rate.

    Groups are :func:`attribute_groups`: with ``min_group_size`` those under it are pooled into
    one ``Other`` row; an attribute held by fewer panelists in all has one row per round with
    group "All panelists", counts NaN and ``hidden`` saying why (``hidden`` is "" otherwise).
    """
    rounds = sorted(respondents["round"].unique())
    who = respondents.groupby("round")["panelist"].apply(set).to_dict()
    shown = attribute_groups(panel, min_group_size)
    rows = []
    for attr, frame in shown.groupby("attribute", sort=True):
        if frame["group"].isna().all():
            why = f"fewer than {min_group_size} panelists in all"
            rows += [
                {"attribute": attr, "group": "All panelists", "round": int(r), "hidden": why}
                for r in rounds
            ]
            continue
        for group, members in _in_order(frame, min_group_size):
            for r in rounds:
                resp = len(members & who.get(r, set()))
                rows.append(
                    {
                        "attribute": attr,
                        "group": group,
                        "round": int(r),
                        "invited": len(members),
                        "responded": resp,
                        "response_rate": 100 * resp / len(members),
                        "hidden": "",
                    }
                )
    return pd.DataFrame(
        rows,
        columns=["attribute", "group", "round", "invited", "responded", "response_rate", "hidden"],
    )


def _in_order(frame: pd.DataFrame, min_group_size: int | None) -> list[tuple[str, set]]:
    """(group, its panelists), groups sorted by name with the pooled row last."""
    other = other_label(min_group_size) if min_group_size else None
    members = frame.groupby("group")["panelist"].apply(set)
    return sorted(members.items(), key=lambda kv: (kv[0] == other, str(kv[0])))


def _round_one(ratings: pd.DataFrame, respondents: pd.DataFrame) -> pd.DataFrame:
    """Round-1 ratings, with ``group``: stayed (responded in the last round) or dropped out."""
    first, last = ratings["round"].min(), respondents["round"].max()
    r1 = ratings[(ratings["round"] == first)].dropna(subset=["rating"])
    stayed = set(respondents.loc[respondents["round"] == last, "panelist"])
    return r1.assign(group=np.where(r1["panelist"].isin(stayed), "stayed", "dropped out"))


def attrition_groups(
    ratings: pd.DataFrame,
    respondents: pd.DataFrame,
    agree: tuple[float, float] = (4, 5),
    min_group_size: int | None = None,
    scales: ScaleMap | None = None,
) -> pd.DataFrame:
    """Round-1 ratings of panelists who stayed vs those who dropped out (``ATTRITION_RULE``):
    per group n_panelists, n_ratings, mean_rating and pct_agree.

    With ``min_group_size``, when either group has fewer panelists (but some), only the counts
    of panelists are kept: the ratings of a group of one are one person's, and those of the
    other group give them away by difference from the round's results.
    """
    r1 = _round_one(ratings, respondents)
    if scales is not None and scales.mixed:  # each rating against its own scale's agree range
        names = scales.names(r1)
        by_name = {s.name: s.rule.agree for s in scales.all_scales()}
        lo = names.map(lambda n: by_name[n][0])
        hi = names.map(lambda n: by_name[n][1])
        r1 = r1.assign(agrees=(r1["rating"] >= lo) & (r1["rating"] <= hi))
    else:
        if scales is not None:
            agree = scales.main.rule.agree
        r1 = r1.assign(agrees=r1["rating"].between(*agree))
    groups = (
        r1.groupby("group")
        .agg(
            n_panelists=("panelist", "nunique"),
            n_ratings=("rating", "size"),
            mean_rating=("rating", "mean"),
            pct_agree=("agrees", "mean"),
        )
        .reindex(["stayed", "dropped out"])
        .reset_index()
    )
    groups["n_panelists"] = groups["n_panelists"].fillna(0).astype(int)
    groups["n_ratings"] = groups["n_ratings"].fillna(0).astype(int)
    groups["pct_agree"] = 100 * groups["pct_agree"]
    if attrition_too_small(groups["n_panelists"], min_group_size):
        groups[["n_ratings", "mean_rating", "pct_agree"]] = np.nan
    return groups


def attrition_too_small(n_panelists: pd.Series | list[int], min_group_size: int | None) -> bool:
    """Whether a group of the attrition comparison has panelists, but fewer than the minimum.

    >>> attrition_too_small([14, 1], 5), attrition_too_small([15, 0], 5)
    (True, False)
    >>> attrition_too_small([14, 1], None)
    False
    """
    return bool(min_group_size) and any(0 < int(n) < min_group_size for n in n_panelists)


def attrition_test(
    ratings: pd.DataFrame, respondents: pd.DataFrame, min_group_size: int | None = None
) -> pd.DataFrame:
    """A one-row Mann-Whitney U test (with a note) on the per-panelist mean round-1 ratings of
    those who dropped out vs those who stayed (``ATTRITION_RULE``); not run when a group is
    under ``min_group_size`` (:func:`attrition_too_small`)."""
    r1 = _round_one(ratings, respondents)
    return _mwu(r1.groupby(["group", "panelist"])["rating"].mean(), min_group_size)


def _mwu(per_panelist: pd.Series, min_group_size: int | None = None) -> pd.DataFrame:
    x = per_panelist.get("dropped out", pd.Series(dtype=float)).to_numpy()
    y = per_panelist.get("stayed", pd.Series(dtype=float)).to_numpy()
    row = {
        "test": "Mann-Whitney U",
        "n_dropped": len(x),
        "n_stayed": len(y),
        "u": np.nan,
        "p": np.nan,
        "note": "",
    }
    if len(x) == 0:
        row["note"] = "nobody dropped out after round 1"
    elif attrition_too_small([len(x), len(y)], min_group_size):
        row["note"] = f"fewer than {min_group_size} panelists in a group: not shown"
    elif min(len(x), len(y)) < MIN_PAIRED:
        row["note"] = (
            f"too few panelists in a group for a test (at least {MIN_PAIRED} needed in each)"
        )
    else:
        u, p = mann_whitney(x, y)
        row.update(u=u, p=p)
    return pd.DataFrame([row])


def mann_whitney(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test: U of ``x`` and its p, as ``pingouin.mwu`` (and
    ``scipy.stats.mannwhitneyu(x, y, use_continuity=True, method="auto")``, which it calls)
    give them: the exact p when a sample has at most 8 values and there are no ties, else the
    normal approximation with the tie correction and the continuity correction.  Written out
    so that the Panel page does not import pingouin (0.7 s with matplotlib) nor scipy.stats.

    U = R1 − n1(n1+1)/2 (R1: the sum of ``x``'s average ranks in both samples).  Hand-worked:
    x = [1, 2], y = [3, 4, 5] gives R1 = 3, U = 0; of the C(5, 2) = 10 equally likely rank
    sets of x only {1, 2} gives U = 0 and only {4, 5} gives U = 6, so p = 2 × 1/10 = 0.2.

    >>> mann_whitney(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]))
    (0.0, 0.2)
    """
    from scipy.special import ndtr

    n1, n2 = len(x), len(y)
    both = pd.Series(np.concatenate([x, y]).astype(float))
    ranks = both.rank(method="average").to_numpy()
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    u = max(u1, n1 * n2 - u1)
    ties = both.value_counts().to_numpy().astype(float)
    if (n1 > 8 and n2 > 8) or (ties > 1).any():
        n = n1 + n2
        s = math.sqrt(n1 * n2 / 12 * ((n + 1) - float((ties**3 - ties).sum()) / (n * (n - 1))))
        p = 2 * float(ndtr(-(u - n1 * n2 / 2 - 0.5) / s)) if s > 0 else 1.0
    else:
        counts = _u_counts(n1, n2)
        p = 2 * sum(counts[int(round(u)) :]) / math.comb(n1 + n2, n1)
    return u1, min(max(p, 0.0), 1.0)


def _u_counts(n1: int, n2: int) -> list[int]:
    """How many of the C(n1+n2, n1) rank sets give each U = 0 … n1·n2: the coefficients of
    the Gaussian binomial [n1+n2 choose m]_q, m = min(n1, n2), built one factor at a time
    (× (1 − q^(n+i)), ÷ (1 − q^i): every partial product is a polynomial, so integers stay
    exact)."""
    m, n = min(n1, n2), max(n1, n2)
    size = m * n + 1
    c = [1] + [0] * (size - 1)
    for i in range(1, m + 1):
        for k in range(size - 1, n + i - 1, -1):
            c[k] -= c[k - (n + i)]
        for k in range(i, size):
            c[k] += c[k - i]
    return c
