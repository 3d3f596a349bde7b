"""Panel statistics per round, stability between rounds, and how solid each result is.

Inputs are the tidy frames of ``lib.store``: ratings (round, panelist, statement_id, rating,
no_opinion), statements (round, statement_id, domain, text, revised_from), metrics, respondents
(round, panelist), response rates and panel attributes. Every public function returns a small
tidy DataFrame with snake_case columns; where a statistic is undefined the ``note`` column says
why. pingouin and krippendorff are imported inside the functions that use them: importing
pingouin takes about two seconds and the app's cold start should not pay for it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from lib.consensus import _EPS as _RULE_EPS  # apply_rule's tolerance (votes to flip)
from lib.consensus import PRESETS, Rule, apply_rule, cutoff_votes, metrics_from_ratings, preset

__all__ = [
    "INPUTS", "STABILITY_RULE", "CV_CHANGE_LIMIT", "STABILITY_P", "MIN_PAIRED", "FLIP_RULE",
    "MISSING_RULE", "ATTRITION_RULE", "format_p", "families", "kendall_w", "krippendorff_alpha",
    "previous_versions", "stability", "wilson_interval", "solidity", "sensitivity",
    "statement_flow", "participation", "participation_by_attribute", "attrition_bias",
]

# The lib.store queries each function takes first, in order (lib.ui.cached_stat loads them).
INPUTS: dict[str, tuple[str, ...]] = {
    "families": ("statements_for",),
    "kendall_w": ("ratings_for", "statements_for"),
    "krippendorff_alpha": ("ratings_for", "statements_for"),
    "stability": ("ratings_for", "statements_for"),
    "solidity": ("metrics_for",),
    "sensitivity": ("ratings_for",),
    "statement_flow": ("metrics_for", "statements_for"),
    "participation": ("respondents_for", "response_rates"),
    "participation_by_attribute": ("respondents_for", "panel_attributes"),
    "attrition_bias": ("ratings_for", "respondents_for"),
}

MISSING_RULE = (
    "Kendall's W needs every panelist to rate every statement of the round (or domain): a "
    "panelist with any blank or 'no opinion' answer there is left out (complete cases, as in "
    "pingouin and JASP), and so is a statement nobody rated. Krippendorff's alpha uses every "
    "rating and tolerates missing ones.")

CV_CHANGE_LIMIT = 15.0  # percent; Dajani, Sincoff & Talley 1979 (unverified, see DELPHI.md)
STABILITY_P = 0.05
MIN_PAIRED = 3
STABILITY_RULE = (
    f"A statement is stable between two rounds when the coefficient of variation "
    f"(CV = SD / mean of the panelists who rated both versions) changed by less than "
    f"{CV_CHANGE_LIMIT:g}% of its earlier value (a threshold attributed to Dajani et al. 1979, "
    f"unverified) and the paired Wilcoxon signed-rank test finds no shift "
    f"(p ≥ {STABILITY_P:g}, or nobody changed their rating; exact p without ties, else the "
    f"normal approximation with continuity correction, as R's wilcox.test); otherwise it is "
    f"still moving. "
    f"A CV that grows from 0 (a unanimous panel starting to split) counts as moving. With fewer "
    f"than {MIN_PAIRED} paired ratings it is not assessable. McNemar's test on agree / not agree "
    f"and the share of panelists who changed their rating are shown for information. A revised "
    f"statement is compared with the version it was revised from.")

FLIP_RULE = (
    "Votes to flip: the fewest panelists who would have to answer differently (moving between "
    "the agree, neutral and disagree ranges, with the number of valid ratings unchanged) for the "
    "rule to give a different status. Computed for percentage rules; rules that also test the "
    "median or IQR are not covered.")

ATTRITION_RULE = (
    "Panelists who rated in round 1 are split into those who also responded in the last round "
    "(stayed) and those who did not (dropped out). Their round-1 ratings are compared: mean "
    "rating, share in the agree range, and a Mann-Whitney U test on each panelist's mean "
    "round-1 rating (one value per panelist).")


# --- helpers -----------------------------------------------------------------------------------

def format_p(p: float | None) -> str:
    """A p-value for display: '< 0.001', '0.043', or '–' when undefined.

    >>> format_p(0.04288), format_p(7e-31), format_p(float("nan"))
    ('0.043', '< 0.001', '–')
    """
    if p is None or not math.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def _notes(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    """Panelists × statements of one round (both sorted): the first rating given, or NaN for
    blank / no opinion.  As ``groupby(...).first().unstack()``, from integer codes: that took
    0.12 s per round of 2,000 panelists, mostly grouping the two text columns."""
    who, panelists = pd.factorize(frame["panelist"], sort=True)
    what, statements = pd.factorize(frame["statement_id"], sort=True)
    rating = frame["rating"].to_numpy(float)
    rated = ~np.isnan(rating) & (who >= 0) & (what >= 0)  # factorize codes a missing id -1
    cell = who[rated] * len(statements) + what[rated]
    _, first = np.unique(cell, return_index=True)  # the first rating of each cell
    wide = np.full(len(panelists) * len(statements), np.nan)
    wide[cell[first]] = rating[rated][first]
    return pd.DataFrame(wide.reshape(len(panelists), len(statements)),
                        index=pd.Index(panelists, name="panelist"),
                        columns=pd.Index(statements, name="statement_id"))


def _groups(ratings: pd.DataFrame, statements: pd.DataFrame | None, by_domain: bool):
    if not by_domain:
        for rnd, frame in ratings.groupby("round", sort=True):
            yield {"round": int(rnd)}, frame
        return
    if statements is None:
        raise ValueError("by_domain needs the statements frame (for each statement's domain)")
    domains = statements[["round", "statement_id", "domain"]].drop_duplicates(
        ["round", "statement_id"])
    merged = ratings.merge(domains, on=["round", "statement_id"], how="left")
    merged["domain"] = merged["domain"].fillna("(no domain)")
    for (rnd, dom), frame in merged.groupby(["round", "domain"], sort=True):
        yield {"round": int(rnd), "domain": dom}, frame


def _key_cols(by_domain: bool) -> list[str]:
    return ["round", "domain"] if by_domain else ["round"]


# --- lineage -------------------------------------------------------------------------------

def families(statements: pd.DataFrame) -> pd.DataFrame:
    """Each statement's family: the root of its ``revised_from`` chain and every version's id.

    >>> s = pd.DataFrame({"round": [1, 2, 3], "statement_id": ["S07", "S07a", "S07b"],
    ...                   "revised_from": [None, "S07", "S07a"]})
    >>> families(s)["family_label"].tolist()
    ['S07 → S07a → S07b', 'S07 → S07a → S07b', 'S07 → S07a → S07b']
    """
    parent = (statements.dropna(subset=["revised_from"]).drop_duplicates("statement_id")
              .set_index("statement_id")["revised_from"].to_dict())
    first_round = statements.groupby("statement_id")["round"].min()
    root = {}
    for sid in first_round.index:
        node, seen = sid, {sid}
        while node in parent and parent[node] not in seen:
            node = parent[node]
            seen.add(node)
        root[sid] = node
    out = pd.DataFrame({"statement_id": list(root), "family": list(root.values())})
    out["first_round"] = out["statement_id"].map(first_round)
    members = out.sort_values(["first_round", "statement_id"]).groupby("family")["statement_id"]
    labels = members.agg(lambda ids: " → ".join(ids))
    out["family_label"] = out["family"].map(labels)
    out["versions"] = out["family"].map(members.size())
    return out.sort_values(["first_round", "statement_id"]).reset_index(drop=True)


# --- panel-level agreement per round -----------------------------------------------------------

def kendall_w(ratings: pd.DataFrame, statements: pd.DataFrame | None = None,
              by_domain: bool = False) -> pd.DataFrame:
    """Kendall's W (tie-corrected) per round, or per round and domain, with χ², df and p.

    Complete cases: see ``MISSING_RULE``; the counts left out are in ``panelists_dropped`` and
    ``statements_dropped``.
    """
    rows = [{**key, **_kendall_one(frame)}
            for key, frame in _groups(ratings, statements, by_domain)]
    cols = [*_key_cols(by_domain), "n_panelists", "n_statements", "panelists_dropped",
            "statements_dropped", "w", "chi2", "df", "p", "note"]
    return pd.DataFrame(rows, columns=cols)


def _kendall_one(frame: pd.DataFrame) -> dict[str, Any]:
    wide = _wide(frame)
    rated = wide.dropna(axis=1, how="all")
    complete = rated.dropna(axis=0, how="any")
    m, n = complete.shape
    out = {"n_panelists": m, "n_statements": n, "panelists_dropped": len(rated) - m,
           "statements_dropped": wide.shape[1] - n, "w": np.nan, "chi2": np.nan,
           "df": n - 1 if n else np.nan, "p": np.nan}
    dropped = _notes(
        f"{out['panelists_dropped']} panelist(s) left out for a blank or no-opinion answer"
        if out["panelists_dropped"] else None,
        f"{out['statements_dropped']} statement(s) with no ratings left out"
        if out["statements_dropped"] else None)
    if m < 2:
        return {**out, "note": _notes("fewer than 2 panelists rated every statement", dropped)}
    if n < 2:
        return {**out, "note": _notes("fewer than 2 statements: nothing to rank", dropped)}
    if (complete.nunique(axis=1) == 1).all():
        return {**out, "note": _notes("every panelist gave all statements the same rating: "
                                      "W undefined", dropped)}
    import pingouin as pg

    long = complete.stack().rename("rating").reset_index()
    res = _quiet(pg.friedman, long, dv="rating", within="statement_id", subject="panelist")
    row = res.iloc[0]
    return {**out, "w": float(row["W"]), "chi2": float(row["Q"]), "df": int(row["ddof1"]),
            "p": float(row["p_unc"]), "note": dropped}


def krippendorff_alpha(ratings: pd.DataFrame, statements: pd.DataFrame | None = None,
                       by_domain: bool = False, level: str = "ordinal") -> pd.DataFrame:
    """Krippendorff's alpha per round (or round and domain); missing ratings are tolerated."""
    rows = [{**key, **_alpha_one(frame, level)}
            for key, frame in _groups(ratings, statements, by_domain)]
    cols = [*_key_cols(by_domain), "n_panelists", "n_statements", "n_ratings", "alpha",
            "level", "note"]
    return pd.DataFrame(rows, columns=cols)


def _alpha_one(frame: pd.DataFrame, level: str) -> dict[str, Any]:
    wide = _wide(frame)
    values = wide.to_numpy(dtype=float)
    pairable = (~np.isnan(values)).sum(axis=0) >= 2
    out = {"n_panelists": wide.shape[0], "n_statements": int(pairable.sum()),
           "n_ratings": int((~np.isnan(values[:, pairable])).sum()), "alpha": np.nan,
           "level": level}
    if pairable.sum() < 2:
        return {**out, "note": "fewer than 2 statements rated by 2 or more panelists: alpha "
                               "compares statements, so it needs at least 2"}
    if len(np.unique(values[:, pairable][~np.isnan(values[:, pairable])])) < 2:
        return {**out, "note": "every rating had the same value: alpha undefined"}
    import krippendorff

    alpha = krippendorff.alpha(reliability_data=values[:, pairable], level_of_measurement=level)
    return {**out, "alpha": float(alpha), "note": ""}


# --- stability between rounds -----------------------------------------------------------------

def previous_versions(statements: pd.DataFrame) -> pd.DataFrame:
    """Each (round, statement) with the version it follows: the same id, else ``revised_from``.

    The latest earlier round in which the same id was rated wins; failing that, the latest
    earlier round in which its ``revised_from`` id was rated.
    """
    seen = statements.groupby("statement_id")["round"].apply(lambda r: sorted(set(r))).to_dict()
    rows = []
    for row in statements.drop_duplicates(["round", "statement_id"]).itertuples():
        for candidate in (row.statement_id, row.revised_from):
            if not isinstance(candidate, str) or not candidate:
                continue
            earlier = [r for r in seen.get(candidate, []) if r < row.round]
            if earlier:
                rows.append((int(row.round), row.statement_id, int(earlier[-1]), candidate,
                             candidate != row.statement_id))
                break
    return pd.DataFrame(rows, columns=["round", "statement_id", "prev_round",
                                       "prev_statement_id", "revised"])


def stability(ratings: pd.DataFrame, statements: pd.DataFrame,
              agree: tuple[float, float] = (4, 5)) -> pd.DataFrame:
    """Per statement and round, the paired comparison with its previous version (see
    ``STABILITY_RULE``): Wilcoxon, McNemar on agree / not agree, share changed, change in CV."""
    valid = ratings.dropna(subset=["rating", "panelist"])
    # Positions of each (round, statement)'s ratings, paired by panelist code with numpy: a
    # pandas join per pair took 1.3 of the 3.3 s at 2,000 panelists.
    who = pd.factorize(valid["panelist"])[0]
    score = valid["rating"].to_numpy(float)
    at = valid.groupby(["round", "statement_id"]).indices
    none = np.array([], dtype=np.intp)
    rows = []
    for pair in previous_versions(statements).itertuples(index=False):
        prev = at.get((pair.prev_round, pair.prev_statement_id), none)
        cur = at.get((pair.round, pair.statement_id), none)
        # a panelist rated a version twice only if ingest failed to de-duplicate: the first counts
        _, i, j = np.intersect1d(who[prev], who[cur], return_indices=True)
        rows.append({**pair._asdict(), **_paired(score[prev[i]], score[cur[j]], agree)})
    cols = ["round", "statement_id", "prev_round", "prev_statement_id", "revised", "n_paired",
            "n_changed", "pct_changed", "mean_prev", "mean", "mean_change", "cv_prev", "cv",
            "cv_change_pct", "wilcoxon_w", "wilcoxon_p", "n_to_agree", "n_from_agree",
            "mcnemar_p", "verdict", "note"]
    return pd.DataFrame(rows, columns=cols)


def _paired(prev: np.ndarray, cur: np.ndarray, agree: tuple[float, float]) -> dict[str, Any]:
    """The stability figures of one statement: ``prev[k]`` and ``cur[k]`` are one panelist's."""
    n = len(prev)
    changed = int((prev != cur).sum())
    out: dict[str, Any] = {
        "n_paired": n, "n_changed": changed, "pct_changed": 100 * changed / n if n else np.nan,
        "mean_prev": prev.mean() if n else np.nan, "mean": cur.mean() if n else np.nan}
    out["mean_change"] = out["mean"] - out["mean_prev"]
    if n < MIN_PAIRED:
        return {**out, "cv_prev": np.nan, "cv": np.nan, "cv_change_pct": np.nan,
                "wilcoxon_w": np.nan, "wilcoxon_p": np.nan, "n_to_agree": np.nan,
                "n_from_agree": np.nan, "mcnemar_p": np.nan, "verdict": "not assessable",
                "note": f"too few paired ratings ({n}; at least {MIN_PAIRED} needed)"}
    cv, cv_note = _cv_change(prev, cur)
    wil, wil_note = _wilcoxon(prev, cur)
    mcn, mcn_note = _mcnemar(prev, cur, agree)
    out = {**out, **cv, **wil, **mcn}
    cv_moved = abs(out["cv_change_pct"]) >= CV_CHANGE_LIMIT  # False when the CV is undefined
    moving = cv_moved or (not math.isnan(out["wilcoxon_p"]) and out["wilcoxon_p"] < STABILITY_P)
    out["verdict"] = "still moving" if moving else "stable"
    out["note"] = _notes(cv_note, wil_note, mcn_note)
    return out


def _cv_change(prev: np.ndarray, cur: np.ndarray) -> tuple[dict[str, float], str | None]:
    if prev.mean() <= 0 or cur.mean() <= 0:  # only on a scale that starts at 0 or below
        return ({"cv_prev": np.nan, "cv": np.nan, "cv_change_pct": np.nan},
                "mean rating not positive: CV undefined, judged on Wilcoxon alone")
    cv_prev, cv = prev.std(ddof=1) / prev.mean(), cur.std(ddof=1) / cur.mean()
    if cv_prev > 0:
        return {"cv_prev": cv_prev, "cv": cv, "cv_change_pct": 100 * (cv - cv_prev) / cv_prev}, None
    if cv == 0:
        return {"cv_prev": cv_prev, "cv": cv, "cv_change_pct": 0.0}, None
    return ({"cv_prev": cv_prev, "cv": cv, "cv_change_pct": math.inf},
            "CV grew from 0 (the panel was unanimous before)")


def _wilcoxon(prev: np.ndarray, cur: np.ndarray) -> tuple[dict[str, float], str | None]:
    if (prev == cur).all():
        return ({"wilcoxon_w": np.nan, "wilcoxon_p": np.nan},
                "all differences zero: Wilcoxon undefined (nobody changed)")
    from scipy.stats import wilcoxon

    d = np.abs(cur - prev)
    # As R's wilcox.test: exact p without ties or zeros, else the normal approximation with
    # continuity correction (scipy would run a slow permutation test for n <= 13).
    exact = (d > 0).all() and len(np.unique(d)) == len(d)
    # The call pingouin.wilcoxon makes (same W and p), without its effect sizes: its CLES is
    # O(n²) and took most of a 2,000-panelist study's 40 s.
    w, p = _quiet(wilcoxon, cur, prev, alternative="two-sided", correction=True,
                  method="exact" if exact else "asymptotic")
    return {"wilcoxon_w": float(w), "wilcoxon_p": float(p)}, None


def _mcnemar(prev: np.ndarray, cur: np.ndarray, agree: tuple[float, float]
             ) -> tuple[dict[str, float], str | None]:
    a_prev = (prev >= agree[0]) & (prev <= agree[1])
    a_cur = (cur >= agree[0]) & (cur <= agree[1])
    to_agree, from_agree = int((~a_prev & a_cur).sum()), int((a_prev & ~a_cur).sum())
    out = {"n_to_agree": to_agree, "n_from_agree": from_agree, "mcnemar_p": np.nan}
    if to_agree + from_agree == 0:
        return out, "no discordant pairs: McNemar undefined (nobody crossed the agree line)"
    from scipy.stats import binom

    # The exact (binomial) p: the χ² approximation is poor with a handful of discordant pairs.
    # pingouin.chi2_mcnemar's p_exact, computed as it does without building its crosstab.
    p = min(1, 2 * binom.cdf(min(to_agree, from_agree), to_agree + from_agree, 0.5))
    return {**out, "mcnemar_p": float(p)}, None


# --- how solid is each result -------------------------------------------------------------

def wilson_interval(k, n, confidence: float = 0.95):
    """Wilson score interval for k successes out of n, as proportions (NaN when n = 0).

    Works on scalars or arrays. Newcombe (1998), Stat Med 17:857, method 3.

    >>> [round(x, 4) for x in wilson_interval(81, 263)]
    [0.2553, 0.3662]
    """
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    k_arr, n_arr = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k_arr / n_arr
        centre = (k_arr + z * z / 2) / (n_arr + z * z)
        half = z / (n_arr + z * z) * np.sqrt(k_arr * (1 - p) + z * z / 4)
        # k = 0 and k = n have exact bounds 0 and 1 (rounding would leave 1e-17 or 0.999…).
        lo = np.where(n_arr > 0, np.where(k_arr == 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
        hi = np.where(n_arr > 0, np.where(k_arr == n_arr, 1.0, np.clip(centre + half, 0, 1)),
                      np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def solidity(metrics: pd.DataFrame, rule: Rule, denom_no_opinion: bool = False
             ) -> pd.DataFrame:
    """Per (round, statement): Wilson 95% interval of % agree, the vote cut-off and the votes
    that would flip the status (``FLIP_RULE``). ``metrics`` must use ``rule``'s agree range."""
    m = apply_rule(metrics, rule)
    denom = m["n"] + (m["n_no_opinion"] if denom_no_opinion else 0)
    lo, hi = wilson_interval(m["n_agree"].to_numpy(), denom.to_numpy())
    out = pd.DataFrame({
        "round": m["round"], "statement_id": m["statement_id"], "n": m["n"],
        "denominator": denom, "n_agree": m["n_agree"], "n_disagree": m["n_disagree"],
        "pct_agree": m["pct_agree"], "ci_low": 100 * lo, "ci_high": 100 * hi,
        "cutoff": [cutoff_votes(rule.threshold, int(d)) for d in denom],
        "status": m["status"]})
    flips = [_flip(int(r.n), int(r.denominator), int(r.n_agree), int(r.n_disagree), r.status,
                   rule) for r in out.itertuples()]
    out["votes_to_flip"] = [f[0] for f in flips]
    out["flip_to"] = [f[1] for f in flips]
    out["note"] = [f[2] for f in flips]
    return out.reset_index(drop=True)


def _flip(n: int, denom: int, agree: int, disagree: int, status: str, rule: Rule
          ) -> tuple[float, str | None, str]:
    """Votes to flip (``FLIP_RULE``): the fewest moves from (agree, disagree) of n valid
    ratings to a split with another status, the status there, and a note.

    A percentage rule makes each status a box in the (agree', disagree') plane: consensus in is
    agree' >= A and disagree' <= D, consensus out is disagree' >= A and agree' <= D (outside the
    first box), where A is the fewest votes that reach the threshold and D the most that stay
    under the opposite cap.  So for each disagree' the splits of one status are one interval of
    agree', and the moves to reach agree' (max(|Δagree|, |Δdisagree|, |Δagree + Δdisagree|),
    convex in agree') are fewest at the interval's point nearest the unconstrained optimum.
    That is O(n) per statement; the scan of every split it replaced took 15 s for the 800
    statement-rounds of the L benchmark (2,000 panelists).  Ties go to the first split in
    (agree, disagree) order, as that scan did; ``tests/test_stats.py`` checks every split of
    small panels against ``apply_rule``.
    """
    if rule.method != "rule" or rule.median_agree is not None or rule.median_disagree is not None \
            or rule.max_iqr is not None:
        return np.nan, None, "rule tests the median or IQR: votes to flip not computed"
    if n == 0 or denom == 0:
        return np.nan, None, "no valid ratings"
    counts = np.arange(n + 1)
    pct = 100 * counts / denom  # as apply_rule computes it, so the comparisons agree exactly
    reach = (np.ones(n + 1, bool) if rule.threshold is None
             else pct >= rule.threshold - _RULE_EPS)
    under = (np.ones(n + 1, bool) if rule.max_opposite is None
             else pct < rule.max_opposite - _RULE_EPS)
    fewest = int(reach.argmax()) if reach.any() else n + 1  # A: reach is monotone rising
    most = int(np.flatnonzero(under)[-1]) if under.any() else -1  # D: under is monotone falling
    d2 = counts  # every disagree' (agree' <= n - disagree')
    room = n - d2
    base = rule.min_n <= n
    in_on = base & (d2 <= most)
    out_on = base & (rule.median_disagree is None) & (d2 >= fewest)
    below_in = np.where(in_on, fewest - 1, room)  # agree' that is not consensus in
    boxes = {  # status: (lowest agree', highest agree') for each disagree'; empty when lo > hi
        "consensus_in": (np.where(in_on, fewest, n + 1), room),
        "consensus_out": (np.where(out_on, 0, n + 1), np.minimum.reduce([
            np.full(n + 1, most), room, below_in])),
        "no_consensus": (np.where(out_on, most + 1, 0), np.minimum(room, below_in)),
    }
    y = d2 - disagree
    best: tuple | None = None
    for target, (lo, hi) in boxes.items():
        if target == status:
            continue
        ok = lo <= hi
        if not ok.any():
            continue
        x = np.clip(np.minimum(0, -y), lo - agree, hi - agree)  # smallest best Δagree
        moves = np.maximum.reduce([abs(x), abs(y), abs(x + y)])
        moves = np.where(ok, moves, n + 1)
        key = np.lexsort((d2, x + agree, moves))[0]  # fewest moves, then agree', disagree'
        cand = (int(moves[key]), int(x[key] + agree), int(d2[key]), target)
        if ok[key] and (best is None or cand[:3] < best[:3]):
            best = cand
    if best is None:
        return np.nan, None, "no answer pattern gives another status"
    return best[0], best[3], ""


def sensitivity(ratings: pd.DataFrame, lo: int, hi: int, base_rule: Rule | None = None,
                denom_no_opinion: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Consensus under the study's rule and every preset, recomputed from the ratings.

    Returns (counts, per_statement): counts per rule and scope (each round, and each
    statement's last round rated); per_statement has one status column per applicable rule.
    """
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
    statuses, counts = {}, []
    for key, rule, note in rules:
        if rule is None:
            counts.append({"rule": key, "label": PRESETS[key], "scope": "all", "applicable": False,
                           "note": note})
            continue
        m = metrics_from_ratings(ratings, rule, denom_no_opinion)
        statuses[key] = m.set_index(["round", "statement_id"])["status"]
        label = f"This study: {rule.label}" if key == "study_rule" else rule.label
        counts += _status_counts(m, key, label)
    per = pd.DataFrame(statuses).reset_index()
    per["n_rules_consensus"] = (per[list(statuses)] != "no_consensus").sum(axis=1)
    per["rules_disagree"] = per[list(statuses)].nunique(axis=1) > 1
    cols = ["rule", "label", "scope", "consensus_in", "consensus_out", "no_consensus",
            "consensus", "applicable", "note"]
    return pd.DataFrame(counts).reindex(columns=cols), per


def _status_counts(m: pd.DataFrame, key: str, label: str) -> list[dict[str, Any]]:
    latest = m.sort_values("round").groupby("statement_id").tail(1)
    scopes = [(f"round {r}", m[m["round"] == r]) for r in sorted(m["round"].unique())]
    rows = []
    for scope, frame in [*scopes, ("last round rated", latest)]:
        c = frame["status"].value_counts()
        row = {s: int(c.get(s, 0)) for s in ("consensus_in", "consensus_out", "no_consensus")}
        rows.append({"rule": key, "label": label, "scope": scope, **row,
                     "consensus": row["consensus_in"] + row["consensus_out"],
                     "applicable": True, "note": ""})
    return rows


# --- flows of statements and panelists ---------------------------------------------------------

def statement_flow(metrics: pd.DataFrame, statements: pd.DataFrame) -> pd.DataFrame:
    """Per (round, statement): its status, how it entered and what became of it next round.

    entry: entered (first round), added, carried, revised. fate: carried, revised, accepted
    (consensus in, not rated again), rejected (consensus out), dropped (no consensus, not rated
    again), open (no consensus in the last round).
    """
    prev = previous_versions(statements)
    m = metrics[["round", "statement_id", "status"]].merge(prev, on=["round", "statement_id"],
                                                           how="left")
    first, last = m["round"].min(), m["round"].max()
    m["entry"] = np.select([m["prev_statement_id"].isna() & (m["round"] == first),
                            m["prev_statement_id"].isna(), m["revised"].eq(True)],
                           ["entered", "added", "revised"], "carried")
    succ = (prev.rename(columns={"statement_id": "next_statement_id", "round": "next_round"})
            .sort_values("revised").drop_duplicates(["prev_round", "prev_statement_id"]))
    m = m.merge(succ[["prev_round", "prev_statement_id", "next_round", "next_statement_id"]]
                .rename(columns={"prev_round": "round", "prev_statement_id": "statement_id"}),
                on=["round", "statement_id"], how="left")
    ended = {"consensus_in": "accepted", "consensus_out": "rejected", "no_consensus": "dropped"}
    m["fate"] = np.where(
        m["next_statement_id"].notna(),
        np.where(m["next_statement_id"] == m["statement_id"], "carried", "revised"),
        np.where((m["round"] == last) & (m["status"] == "no_consensus"), "open",
                 m["status"].map(ended)))
    cols = ["round", "statement_id", "status", "entry", "fate", "next_round",
            "next_statement_id"]
    return m[cols].sort_values(["round", "statement_id"]).reset_index(drop=True)


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
            row.update(new=len(now - before), retained=len(now & before), lost=lost,
                       attrition_pct=100 * lost / len(before) if before else np.nan)
        rows.append(row)
        before = now
    out = rates[["round", "invited"]].merge(pd.DataFrame(rows), on="round")
    out["response_rate"] = 100 * out["responded"] / out["invited"].where(out["invited"] > 0)
    return out[["round", "invited", "responded", "response_rate", "new", "retained", "lost",
                "attrition_pct"]]


def _bin_numeric(values: pd.Series) -> pd.Series | None:
    """Numbers with many distinct values, grouped into at most four equal-width ranges."""
    num = pd.to_numeric(values, errors="coerce")
    if num.isna().any() or num.nunique() <= 4:
        return None
    lo, hi = float(num.min()), float(num.max())
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10**6)
                if math.floor(hi / s) - math.floor(lo / s) + 1 <= 4)
    start = np.floor(num / step) * step
    return start.map(lambda s: f"{s:g}–{s + step - 1:g}" if step > 1 else f"{s:g}")


def participation_by_attribute(respondents: pd.DataFrame, panel: pd.DataFrame,
                               min_group_size: int | None = None) -> pd.DataFrame:
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
                rows.append({"attribute": attr, "group": group, "round": int(r),
                             "invited": len(members), "responded": resp,
                             "response_rate": 100 * resp / len(members),
                             "hidden": hidden.get(group, "")})
    out = pd.DataFrame(rows, columns=["attribute", "group", "round", "invited", "responded",
                                      "response_rate", "hidden"])
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


def attrition_bias(ratings: pd.DataFrame, respondents: pd.DataFrame,
                   agree: tuple[float, float] = (4, 5)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Round-1 ratings of panelists who stayed vs those who dropped out (``ATTRITION_RULE``).

    Returns (groups, test): per group n_panelists, n_ratings, mean_rating, pct_agree; and a
    one-row Mann-Whitney U test on per-panelist mean round-1 ratings, with a note.
    """
    first, last = ratings["round"].min(), respondents["round"].max()
    r1 = ratings[(ratings["round"] == first)].dropna(subset=["rating"])
    stayed = set(respondents.loc[respondents["round"] == last, "panelist"])
    r1 = r1.assign(group=np.where(r1["panelist"].isin(stayed), "stayed", "dropped out"),
                   agrees=r1["rating"].between(*agree))
    groups = (r1.groupby("group").agg(n_panelists=("panelist", "nunique"),
                                      n_ratings=("rating", "size"),
                                      mean_rating=("rating", "mean"),
                                      pct_agree=("agrees", "mean"))
              .reindex(["stayed", "dropped out"]).reset_index())
    groups["n_panelists"] = groups["n_panelists"].fillna(0).astype(int)
    groups["n_ratings"] = groups["n_ratings"].fillna(0).astype(int)
    groups["pct_agree"] = 100 * groups["pct_agree"]
    per_panelist = r1.groupby(["group", "panelist"])["rating"].mean()
    return groups, _mwu(per_panelist)


def _mwu(per_panelist: pd.Series) -> pd.DataFrame:
    x = per_panelist.get("dropped out", pd.Series(dtype=float)).to_numpy()
    y = per_panelist.get("stayed", pd.Series(dtype=float)).to_numpy()
    row = {"test": "Mann-Whitney U", "n_dropped": len(x), "n_stayed": len(y), "u": np.nan,
           "p": np.nan, "note": ""}
    if len(x) == 0:
        row["note"] = "nobody dropped out after round 1"
    elif min(len(x), len(y)) < MIN_PAIRED:
        row["note"] = (f"too few panelists in a group for a test (at least {MIN_PAIRED} "
                       "needed in each)")
    else:
        import pingouin as pg

        res = _quiet(pg.mwu, x, y).iloc[0]
        row.update(u=float(res["U_val"]), p=float(res["p_val"]))
    return pd.DataFrame([row])
