"""Competent peers of the dashboard's statistics: the same numbers by other means, timed in CPU.

Three peers, each written as a capable analyst would, from the snapshot's ratings and statements
frames (as ``bench.baseline``):

* ``numpy``  — pandas + numpy, vectorised: sorted arrays and ``bincount`` for the metrics, a
  ``groupby().rank()`` for the signed ranks, a panelists × statements matrix per round for W;
* ``duckdb`` — one SQL query per statistic (``quantile_cont``, window functions for average
  ranks), the p-values from the SQL's statistics with scipy;
* ``polars`` — Polars expressions (``rank("average").over(...)``), p-values as ``duckdb``.

Each returns the frames ``bench.compare`` checks against ours: metrics (``METRIC_NUMBERS``),
stability (``STABILITY_NUMBERS``: R's ``wilcox.test`` definition, exact p without ties or zeros,
else the normal approximation with tie and continuity corrections) and Kendall's W (complete
raters, tie-corrected, as ``pingouin.friedman``).  The agree range, disagree range and threshold
are ``bench.baseline``'s defaults, which the benchmark study uses.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from bench.baseline import _previous

__all__ = ["PEERS", "available", "run_peer"]

AGREE, DISAGREE, THRESHOLD = (4, 5), (1, 2), 75.0
QUANTILES = {"q1": 0.25, "median": 0.5, "q3": 0.75, "p30": 0.3, "p70": 0.7}


# --- shared by the peers: p-values from each sample's statistics ----------------------------


@cache
def _signrank_cdf(n: int) -> np.ndarray:
    """P(V <= k) for n pairs without ties: the 2^n sign patterns counted by subset sums."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1
    for r in range(1, n + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    return np.cumsum(counts) / 2.0**n


def _wilcoxon_p(v: np.ndarray, n: np.ndarray, ties: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Two-sided p of V (the positive ranks' sum) for samples of n non-zero differences."""
    from scipy.stats import norm

    n = n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = v - n * (n + 1) / 4
        z = (z - np.sign(z) * 0.5) / np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - ties / 48)
        p = 2 * norm.sf(np.abs(z))
    for i in np.flatnonzero(exact):  # P(V >= v) = P(V <= n(n+1)/2 - v) by symmetry
        cdf, k, m = _signrank_cdf(int(n[i])), int(v[i]), int(n[i])
        p[i] = min(1.0, 2 * min(cdf[k], cdf[m * (m + 1) // 2 - k]))
    return p


def _stability_frame(pairs: pd.DataFrame, per_pair: pd.DataFrame) -> pd.DataFrame:
    """The stability columns from per-pair n_paired, n_changed, V, n (non-zero), ties, exact."""
    s = pairs.join(per_pair, how="left").fillna({"n_paired": 0, "n_changed": 0, "nz": 0})
    s["n_paired"], s["n_changed"] = s["n_paired"].astype(int), s["n_changed"].astype(int)
    s["pct_changed"] = np.where(s["n_paired"] > 0, 100 * s["n_changed"] / s["n_paired"], np.nan)
    tested = (s["n_paired"] >= 3) & (s["nz"] > 0)
    p = _wilcoxon_p(
        s["v"].to_numpy(float),
        s["nz"].to_numpy(float),
        s["ties"].to_numpy(float),
        (s["exact"].fillna(False) & tested).to_numpy(bool),
    )
    half = s["nz"] * (s["nz"] + 1) / 2
    s["wilcoxon_w"] = np.where(tested, np.minimum(s["v"], half - s["v"]), np.nan)
    s["wilcoxon_p"] = np.where(tested, p, np.nan)
    cols = ["round", "statement_id", "prev_statement_id", "n_paired", "n_changed"]
    return s.reset_index()[[*cols, "pct_changed", "wilcoxon_w", "wilcoxon_p"]]


def _pairs(statements: pd.DataFrame) -> pd.DataFrame:
    """(round, statement, the statement it follows in round - 1), indexed 0..n-1 (``pair``)."""
    out = pd.DataFrame(
        _previous(statements), columns=["round", "statement_id", "prev_statement_id"]
    )
    return out.rename_axis("pair")


def _kendall_from(
    n: np.ndarray, k: np.ndarray, ssbn: np.ndarray, ties: np.ndarray
) -> dict[str, np.ndarray]:
    """W, χ² and p per round from complete raters n, statements k, Σ R_j² and Σ t(t² - 1)."""
    from scipy.stats import chi2

    with np.errstate(divide="ignore", invalid="ignore"):
        w = (12 * ssbn - 3 * n**2 * k * (k + 1) ** 2) / (n**2 * k * (k - 1) * (k + 1) - n * ties)
        q = n * (k - 1) * w
        p = chi2.sf(q, k - 1)
    ok = n >= 2
    return {
        "w": np.where(ok, w, np.nan),
        "chi2": np.where(ok, q, np.nan),
        "p": np.where(ok, p, np.nan),
    }


def _status(m: pd.DataFrame) -> pd.Series:
    inside, out = m["pct_agree"] >= THRESHOLD, m["pct_disagree"] >= THRESHOLD
    return pd.Series(
        np.where(inside, "consensus_in", np.where(out, "consensus_out", "no_consensus")),
        index=m.index,
    )


def _percentages(m: pd.DataFrame) -> pd.DataFrame:
    n = m["n"].where(m["n"] > 0)
    m["pct_agree"] = 100.0 * m["n_agree"] / n
    m["pct_neutral"] = 100.0 * (m["n"] - m["n_agree"] - m["n_disagree"]) / n
    m["pct_disagree"] = 100.0 * m["n_disagree"] / n
    m["iqr"] = m["q3"] - m["q1"]
    m["status"] = _status(m)
    return m


# --- pandas + numpy -------------------------------------------------------------------------


def _versions(ratings: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's (round, statement) code, and the (round, statement_id) of each code, sorted."""
    sid, ids = pd.factorize(ratings["statement_id"], sort=True)
    rnd, rounds = pd.factorize(ratings["round"], sort=True)
    code, at = pd.factorize(rnd.astype(np.int64) * len(ids) + sid, sort=True)
    keys = pd.DataFrame(
        {"round": rounds.to_numpy()[at // len(ids)], "statement_id": ids.to_numpy()[at % len(ids)]}
    )
    return code, keys


def numpy_metrics(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per (round, statement): one sort, counts and sums by ``bincount``, type-7 quantiles
    from each group's slice of the sorted ratings."""
    g, keys = _versions(ratings)
    x = ratings["rating"].to_numpy(float)
    rated = ~np.isnan(x)
    no_op = ratings["no_opinion"].to_numpy(bool)
    k = len(keys)
    n = np.bincount(g[rated], minlength=k)
    out = keys.copy()
    out["n"] = n
    out["n_no_opinion"] = np.bincount(g, weights=no_op, minlength=k).astype(int)
    out["n_missing"] = np.bincount(g, weights=~rated & ~no_op, minlength=k).astype(int)
    gx, xs = g[rated], x[rated]
    out["n_agree"] = np.bincount(gx, (xs >= AGREE[0]) & (xs <= AGREE[1]), k).astype(int)
    out["n_disagree"] = np.bincount(gx, (xs >= DISAGREE[0]) & (xs <= DISAGREE[1]), k).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(gx, xs, k) / n
        out["mean"] = mean
        out["sd"] = np.sqrt(np.bincount(gx, (xs - mean[gx]) ** 2, k) / (n - 1))
    order = np.lexsort((xs, gx))
    xs = xs[order]
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    has = n > 0
    last = np.maximum(start + n - 1, 0)
    out["min"] = np.where(has, xs[np.minimum(start, len(xs) - 1)], np.nan) if len(xs) else np.nan
    out["max"] = np.where(has, xs[np.minimum(last, len(xs) - 1)], np.nan) if len(xs) else np.nan
    for name, q in QUANTILES.items():
        h = (n - 1) * q
        lo = np.floor(h).astype(int)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        a = xs[np.minimum(start + lo, len(xs) - 1)] if len(xs) else np.zeros(k)
        b = xs[np.minimum(start + hi, len(xs) - 1)] if len(xs) else np.zeros(k)
        out[name] = np.where(has, a + (h - lo) * (b - a), np.nan)
    return _percentages(out)


def numpy_stability(ratings: pd.DataFrame, statements: pd.DataFrame) -> pd.DataFrame:
    """Pairs through a versions × panelists matrix; signed ranks by ``groupby().rank()``."""
    pairs = _pairs(statements)
    valid = ratings.dropna(subset=["rating"])
    who, people = pd.factorize(valid["panelist"])
    ver, versions = _versions(valid)
    matrix = np.full((len(versions) + 1, len(people)), np.nan)
    matrix[ver, who] = valid["rating"].to_numpy(float)
    at = pd.MultiIndex.from_frame(versions)
    prev_key = pd.MultiIndex.from_arrays([pairs["round"] - 1, pairs["prev_statement_id"]])
    cur_key = pd.MultiIndex.from_arrays([pairs["round"], pairs["statement_id"]])
    prev, cur = matrix[at.get_indexer(prev_key)], matrix[at.get_indexer(cur_key)]
    both = ~np.isnan(prev) & ~np.isnan(cur)
    pair = np.nonzero(both)[0]
    d = cur[both] - prev[both]
    k = len(pairs)
    per = pd.DataFrame(
        {
            "n_paired": np.bincount(pair, minlength=k),
            "n_changed": np.bincount(pair, d != 0, k),
            "nz": np.bincount(pair[d != 0], minlength=k),
        }
    )
    nonzero = pd.DataFrame({"pair": pair[d != 0], "d": d[d != 0]})
    nonzero["a"] = nonzero["d"].abs()
    nonzero["rank"] = nonzero.groupby("pair")["a"].rank(method="average")
    per["v"] = nonzero["rank"].where(nonzero["d"] > 0, 0).groupby(nonzero["pair"]).sum()
    t = nonzero.groupby(["pair", "a"]).size()
    per["ties"] = (t**3 - t).groupby(level="pair").sum()
    per["exact"] = (per["ties"] == 0) & (per["nz"] == per["n_paired"])
    return _stability_frame(pairs, per.rename_axis("pair"))


def numpy_kendall(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per round: the panelists × statements matrix, complete rows ranked with scipy."""
    from scipy.stats import rankdata

    rows = []
    for rnd, part in ratings.groupby("round", sort=True):
        who, _ = pd.factorize(part["panelist"])
        what, ids = pd.factorize(part["statement_id"])
        x = np.full((who.max() + 1, len(ids)), np.nan)
        x[who, what] = part["rating"].to_numpy(float)
        x = x[~np.isnan(x).any(axis=1)]
        n, k = x.shape
        ranks = rankdata(x, axis=1)
        ties = sum(((x == v).sum(axis=1) ** 3 - (x == v).sum(axis=1)).sum() for v in np.unique(x))
        ssbn = float((ranks.sum(axis=0) ** 2).sum())
        rows.append((int(rnd), n, k, ssbn, float(ties)))
    out = pd.DataFrame(rows, columns=["round", "n_panelists", "n_statements", "ssbn", "ties"])
    return _kendall_frame(out)


def _kendall_frame(out: pd.DataFrame) -> pd.DataFrame:
    stats = _kendall_from(
        out["n_panelists"].to_numpy(float),
        out["n_statements"].to_numpy(float),
        out["ssbn"].to_numpy(float),
        out["ties"].to_numpy(float),
    )
    return out.drop(columns=["ssbn", "ties"]).assign(**stats)


# --- DuckDB SQL ---------------------------------------------------------------------------

_METRICS_SQL = """
SELECT round, statement_id,
       count(rating) AS n,
       count(*) FILTER (WHERE no_opinion) AS n_no_opinion,
       count(*) FILTER (WHERE rating IS NULL AND NOT no_opinion) AS n_missing,
       count(*) FILTER (WHERE rating BETWEEN $a0 AND $a1) AS n_agree,
       count(*) FILTER (WHERE rating BETWEEN $d0 AND $d1) AS n_disagree,
       avg(rating) AS mean, stddev_samp(rating) AS sd, min(rating) AS min, max(rating) AS max,
       quantile_cont(rating, [0.25, 0.5, 0.75, 0.3, 0.7]) AS q
FROM ratings GROUP BY ALL ORDER BY ALL
"""
_STABILITY_SQL = """
WITH cur AS MATERIALIZED (  -- else the planner joins the ratings with themselves first
    SELECT p.pair, p.prev_round, p.prev_statement_id, c.panelist, c.rating
    FROM pairs p JOIN ratings c ON c.round = p.round AND c.statement_id = p.statement_id
    WHERE c.rating IS NOT NULL
), d AS (
    SELECT cur.pair, cur.rating - b.rating AS d
    FROM cur JOIN ratings b ON b.round = cur.prev_round
        AND b.statement_id = cur.prev_statement_id AND b.panelist = cur.panelist
    WHERE b.rating IS NOT NULL
), ranked AS (
    SELECT pair, d, abs(d) AS a,
           rank() OVER w + (count(*) OVER (PARTITION BY pair, abs(d)) - 1) / 2 AS r
    FROM d WHERE d <> 0 WINDOW w AS (PARTITION BY pair ORDER BY abs(d))
), tied AS (
    SELECT pair, sum(t * t * t - t) AS ties FROM (
        SELECT pair, a, count(*) AS t FROM ranked GROUP BY ALL) GROUP BY pair
), signed AS (
    SELECT pair, count(*) AS nz, sum(r) FILTER (WHERE d > 0) AS v FROM ranked GROUP BY pair
)
SELECT pair, count(*) AS n_paired, count(*) FILTER (WHERE d.d <> 0) AS n_changed,
       any_value(s.nz) AS nz, coalesce(any_value(s.v), 0) AS v, any_value(t.ties) AS ties
FROM d LEFT JOIN signed s USING (pair) LEFT JOIN tied t USING (pair)
GROUP BY pair
"""
_KENDALL_SQL = """
WITH k AS (SELECT round, count(DISTINCT statement_id) AS k FROM ratings GROUP BY round),
complete AS (
    SELECT r.round, r.panelist FROM ratings r JOIN k USING (round)
    WHERE r.rating IS NOT NULL GROUP BY r.round, r.panelist, k.k HAVING count(*) = k.k
), x AS (
    SELECT r.round, r.panelist, r.statement_id, r.rating FROM ratings r
    JOIN complete USING (round, panelist)
), ranked AS (
    SELECT round, statement_id,
           rank() OVER (PARTITION BY round, panelist ORDER BY rating)
             + (count(*) OVER (PARTITION BY round, panelist, rating) - 1) / 2 AS r
    FROM x
), tied AS (
    SELECT round, sum(t * (t * t - 1)) AS ties
    FROM (SELECT round, panelist, rating, count(*) AS t FROM x GROUP BY ALL) GROUP BY round
), sums AS (
    SELECT round, sum(r) AS rj FROM ranked GROUP BY round, statement_id
)
SELECT k.round, coalesce(c.n, 0) AS n_panelists, k.k AS n_statements,
       coalesce(s.ssbn, 0) AS ssbn, coalesce(t.ties, 0) AS ties
FROM k
LEFT JOIN (SELECT round, count(*) AS n FROM complete GROUP BY round) c USING (round)
LEFT JOIN (SELECT round, sum(rj * rj) AS ssbn FROM sums GROUP BY round) s USING (round)
LEFT JOIN tied t USING (round)
ORDER BY k.round
"""


def _duck(ratings: pd.DataFrame) -> Any:
    import duckdb

    con = duckdb.connect()
    con.register("ratings", ratings[["round", "panelist", "statement_id", "rating", "no_opinion"]])
    return con


def duckdb_metrics(ratings: pd.DataFrame) -> pd.DataFrame:
    """One GROUP BY with ``quantile_cont`` (type 7) and filtered counts."""
    with _duck(ratings) as con:
        m = con.execute(
            _METRICS_SQL,
            {"a0": AGREE[0], "a1": AGREE[1], "d0": DISAGREE[0], "d1": DISAGREE[1]},
        ).df()
    q = pd.DataFrame(
        [v if v is not None else [np.nan] * 5 for v in m.pop("q")],
        columns=["q1", "median", "q3", "p30", "p70"],
    )
    return _percentages(pd.concat([m, q], axis=1))


def duckdb_stability(ratings: pd.DataFrame, statements: pd.DataFrame) -> pd.DataFrame:
    """A join per pair of versions; average ranks by ``rank() + (ties - 1) / 2``."""
    pairs = _pairs(statements)
    with _duck(ratings) as con:
        con.register("pairs", pairs.reset_index().assign(prev_round=pairs["round"] - 1))
        per = con.execute(_STABILITY_SQL).df().set_index("pair")
    per["exact"] = (per["ties"] == 0) & (per["nz"] == per["n_paired"])
    return _stability_frame(pairs, per)


def duckdb_kendall(ratings: pd.DataFrame) -> pd.DataFrame:
    """Complete raters, ranks within each panelist by window, Σ R_j² and ties per round."""
    with _duck(ratings) as con:
        out = con.execute(_KENDALL_SQL).df()
    return _kendall_frame(out.astype({"n_panelists": int, "n_statements": int}))


# --- Polars ---------------------------------------------------------------------------------


def _polars(ratings: pd.DataFrame) -> Any:
    import polars as pl

    cols = ["round", "panelist", "statement_id", "rating", "no_opinion"]
    return pl.from_pandas(ratings[cols], nan_to_null=True)


def polars_metrics(ratings: pd.DataFrame) -> pd.DataFrame:
    """One ``group_by().agg()``; quantiles with ``interpolation="linear"`` (type 7)."""
    import polars as pl

    r, x = _polars(ratings), pl.col("rating")
    aggs = [
        x.count().alias("n"),
        pl.col("no_opinion").sum().alias("n_no_opinion"),
        (x.is_null() & ~pl.col("no_opinion")).sum().alias("n_missing"),
        x.is_between(*AGREE).sum().alias("n_agree"),
        x.is_between(*DISAGREE).sum().alias("n_disagree"),
        x.mean().alias("mean"),
        x.std().alias("sd"),
        x.min().alias("min"),
        x.max().alias("max"),
        *[x.quantile(q, interpolation="linear").alias(name) for name, q in QUANTILES.items()],
    ]
    m = r.group_by(["round", "statement_id"]).agg(aggs).sort(["round", "statement_id"])
    return _percentages(m.to_pandas())


def polars_stability(ratings: pd.DataFrame, statements: pd.DataFrame) -> pd.DataFrame:
    """A join per pair of versions; ``rank("average").over("pair")`` for the signed ranks."""
    import polars as pl

    pairs = _pairs(statements)
    r = _polars(ratings).drop_nulls("rating")
    p = pl.from_pandas(pairs.reset_index())
    cur = p.join(r, on=["round", "statement_id"])
    prev = r.select(
        (pl.col("round") + 1).alias("round"),
        pl.col("statement_id").alias("prev_statement_id"),
        "panelist",
        pl.col("rating").alias("rating_prev"),
    )
    d = cur.join(prev, on=["round", "prev_statement_id", "panelist"]).select(
        "pair", (pl.col("rating") - pl.col("rating_prev")).alias("d")
    )
    nz = d.filter(pl.col("d") != 0).with_columns(pl.col("d").abs().alias("a"))
    nz = nz.with_columns(pl.col("a").rank("average").over("pair").alias("r"))
    signed = nz.group_by("pair").agg(
        pl.len().alias("nz"), pl.col("r").filter(pl.col("d") > 0).sum().alias("v")
    )
    t = nz.group_by(["pair", "a"]).agg(pl.len().cast(pl.Float64).alias("t"))
    tied = t.group_by("pair").agg((pl.col("t") ** 3 - pl.col("t")).sum().alias("ties"))
    per = (
        d.group_by("pair")
        .agg(pl.len().alias("n_paired"), (pl.col("d") != 0).sum().alias("n_changed"))
        .join(signed, on="pair", how="left")
        .join(tied, on="pair", how="left")
        .to_pandas()
        .set_index("pair")
    )
    per["exact"] = (per["ties"] == 0) & (per["nz"] == per["n_paired"])
    return _stability_frame(pairs, per)


def polars_kendall(ratings: pd.DataFrame) -> pd.DataFrame:
    """Complete raters, ``rank("average").over(["round", "panelist"])``, sums per round."""
    import polars as pl

    r = _polars(ratings)
    k = r.group_by("round").agg(pl.col("statement_id").n_unique().alias("k"))
    x = (
        r.drop_nulls("rating")
        .join(k, on="round")
        .filter(pl.len().over(["round", "panelist"]) == pl.col("k"))
    )
    x = x.with_columns(pl.col("rating").rank("average").over(["round", "panelist"]).alias("r"))
    ssbn = (
        x.group_by(["round", "statement_id"])
        .agg(pl.col("r").sum().alias("rj"))
        .group_by("round")
        .agg((pl.col("rj") ** 2).sum().alias("ssbn"))
    )
    t = x.group_by(["round", "panelist", "rating"]).agg(pl.len().cast(pl.Float64).alias("t"))
    tied = t.group_by("round").agg((pl.col("t") * (pl.col("t") ** 2 - 1)).sum().alias("ties"))
    n = x.group_by("round").agg(pl.col("panelist").n_unique().alias("n_panelists"))
    out = (
        k.join(n, on="round", how="left")
        .join(ssbn, on="round", how="left")
        .join(tied, on="round", how="left")
        .sort("round")
        .to_pandas()
        .rename(columns={"k": "n_statements"})
        .fillna({"n_panelists": 0, "ssbn": 0.0, "ties": 0.0})
    )
    out = out.astype({"n_panelists": int, "n_statements": int})
    return _kendall_frame(out[["round", "n_panelists", "n_statements", "ssbn", "ties"]])


# --- running them ---------------------------------------------------------------------------

PEERS: dict[str, dict[str, Callable[..., pd.DataFrame]]] = {
    "numpy": {"metrics": numpy_metrics, "stability": numpy_stability, "kendall": numpy_kendall},
    "duckdb": {"metrics": duckdb_metrics, "stability": duckdb_stability, "kendall": duckdb_kendall},
    "polars": {"metrics": polars_metrics, "stability": polars_stability, "kendall": polars_kendall},
}


def available() -> list[str]:
    """The peers whose library is installed (Polars is a development dependency)."""
    return [p for p in PEERS if p != "polars" or importlib.util.find_spec("polars") is not None]


def run_peer(name: str, ratings: pd.DataFrame, statements: pd.DataFrame) -> dict[str, Any]:
    """One peer's three frames and the CPU seconds of each (every thread of the process)."""
    out: dict[str, Any] = {}
    cpu: dict[str, float] = {}
    for part, fn in PEERS[name].items():
        c0 = time.process_time()
        out[part] = fn(ratings) if part != "stability" else fn(ratings, statements)
        cpu[part] = time.process_time() - c0
    cpu["total"] = sum(cpu.values())
    out["cpu"] = cpu
    return out
