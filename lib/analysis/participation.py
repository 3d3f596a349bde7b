"""Participation: response and attrition per round, response by panel attribute, and whether
those who dropped out had rated differently.

pingouin is imported inside the test that uses it (it takes about two seconds to import).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from lib.analysis._common import quiet
from lib.analysis.stability import MIN_PAIRED

__all__ = [
    "ATTRITION_RULE",
    "participation",
    "participation_by_attribute",
    "attrition_groups",
    "attrition_test",
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


def participation_by_attribute(
    respondents: pd.DataFrame, panel: pd.DataFrame, min_group_size: int | None = None
) -> pd.DataFrame:
    """Per panel attribute, group and round: invited, responded, response rate.

    Numeric attributes are grouped into ranges. With ``min_group_size``, groups smaller than it
    are hidden (counts NaN, ``hidden`` says why); when that would hide a single group of an
    attribute, the next smallest is hidden too, so that no count follows by subtraction.
    """
    rounds = sorted(respondents["round"].unique())
    who = respondents.groupby("round")["panelist"].apply(set).to_dict()
    rows = []
    for attr, frame in panel.dropna(subset=["attribute"]).groupby("attribute", sort=True):
        binned = _bin_numeric(frame["value"])
        groups = frame.assign(group=binned if binned is not None else frame["value"])
        hidden = _hidden_groups(groups.groupby("group")["panelist"].nunique(), min_group_size)
        for group, members in groups.groupby("group", sort=True)["panelist"]:
            members = set(members)
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
                        "hidden": hidden.get(group, ""),
                    }
                )
    out = pd.DataFrame(
        rows,
        columns=["attribute", "group", "round", "invited", "responded", "response_rate", "hidden"],
    )
    out.loc[out["hidden"] != "", ["invited", "responded", "response_rate"]] = np.nan
    return out


def _hidden_groups(sizes: pd.Series, min_size: int | None) -> dict[str, str]:
    if not min_size:
        return {}
    hidden = {g: f"fewer than {min_size}" for g in sizes[sizes < min_size].index}
    if len(hidden) == 1 and len(sizes) > 1:
        other = sizes.drop(list(hidden)).sort_values().index[0]
        hidden[other] = "hidden (else a smaller group could be worked out)"
    return hidden


def _round_one(ratings: pd.DataFrame, respondents: pd.DataFrame) -> pd.DataFrame:
    """Round-1 ratings, with ``group``: stayed (responded in the last round) or dropped out."""
    first, last = ratings["round"].min(), respondents["round"].max()
    r1 = ratings[(ratings["round"] == first)].dropna(subset=["rating"])
    stayed = set(respondents.loc[respondents["round"] == last, "panelist"])
    return r1.assign(group=np.where(r1["panelist"].isin(stayed), "stayed", "dropped out"))


def attrition_groups(
    ratings: pd.DataFrame, respondents: pd.DataFrame, agree: tuple[float, float] = (4, 5)
) -> pd.DataFrame:
    """Round-1 ratings of panelists who stayed vs those who dropped out (``ATTRITION_RULE``):
    per group n_panelists, n_ratings, mean_rating and pct_agree."""
    r1 = _round_one(ratings, respondents)
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
    return groups


def attrition_test(ratings: pd.DataFrame, respondents: pd.DataFrame) -> pd.DataFrame:
    """A one-row Mann-Whitney U test (with a note) on the per-panelist mean round-1 ratings of
    those who dropped out vs those who stayed (``ATTRITION_RULE``)."""
    r1 = _round_one(ratings, respondents)
    return _mwu(r1.groupby(["group", "panelist"])["rating"].mean())


def _mwu(per_panelist: pd.Series) -> pd.DataFrame:
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
    elif min(len(x), len(y)) < MIN_PAIRED:
        row["note"] = (
            f"too few panelists in a group for a test (at least {MIN_PAIRED} needed in each)"
        )
    else:
        import pingouin as pg

        res = quiet(pg.mwu, x, y).iloc[0]
        row.update(u=float(res["U_val"]), p=float(res["p_val"]))
    return pd.DataFrame([row])
