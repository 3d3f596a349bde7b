"""Helpers shared by the statistics modules: p-value display, notes, the ratings matrix, groups.

Inputs are the tidy frames of ``lib.store``: ratings (round, panelist, statement_id, rating,
no_opinion), statements (round, statement_id, domain, text, revised_from), metrics, respondents
(round, panelist), response rates and panel attributes.  Where a statistic is undefined the
``note`` column of its frame says why.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["format_p", "notes", "quiet", "wide", "wide_groups", "groups", "key_cols"]

NO_DOMAIN = "(no domain)"


def format_p(p: float | None) -> str:
    """A p-value for display: '< 0.001', '0.043', or '–' when undefined.

    >>> format_p(0.04288), format_p(7e-31), format_p(float("nan"))
    ('0.043', '< 0.001', '–')
    """
    if p is None or not math.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def notes(*parts: str | None) -> str:
    """The non-empty parts, joined into one note."""
    return "; ".join(p for p in parts if p)


def quiet(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` with its warnings silenced (the note column says what matters)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def wide(frame: pd.DataFrame) -> pd.DataFrame:
    """Panelists × statements of one round (both sorted): the first rating given, or NaN for
    blank / no opinion.  As ``groupby(...).first().unstack()``, from integer codes: that took
    0.12 s per round of 2,000 panelists, mostly grouping the two text columns."""
    who, panelists = pd.factorize(frame["panelist"], sort=True)
    what, statements = pd.factorize(frame["statement_id"], sort=True)
    out = _first_ratings(
        who, what, frame["rating"].to_numpy(float), len(panelists), len(statements)
    )
    return pd.DataFrame(
        out,
        index=pd.Index(panelists, name="panelist"),
        columns=pd.Index(statements, name="statement_id"),
    )


def _first_ratings(
    who: np.ndarray, what: np.ndarray, rating: np.ndarray, rows: int, cols: int
) -> np.ndarray:
    """The ``rows`` × ``cols`` matrix of the first rating of each (who, what) cell, NaN where
    none; a code of -1 (a missing id, as ``pd.factorize`` codes it) lands in no cell."""
    rated = ~np.isnan(rating) & (who >= 0) & (what >= 0)
    cell = who[rated] * cols + what[rated]
    value = rating[rated]
    if len(cell) and np.bincount(cell).max() > 1:  # a repeated cell: keep its first rating
        _, first = np.unique(cell, return_index=True)
        cell, value = cell[first], value[first]
    out = np.full(rows * cols, np.nan)
    out[cell] = value
    return out.reshape(rows, cols)


def _present(codes: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """``codes`` (of ``size`` sorted values, -1 for missing) renumbered over the values present,
    keeping their order, and how many are present."""
    known = codes >= 0
    seen = np.zeros(size, bool)
    seen[codes[known] if not known.all() else codes] = True
    n = int(seen.sum())
    if n == size:  # every value present: the codes stand
        return codes, n
    local = np.cumsum(seen) - 1
    return np.where(known, local[codes], -1), n


def groups(
    ratings: pd.DataFrame, statements: pd.DataFrame | None, by_domain: bool
) -> Iterator[tuple[dict[str, Any], pd.DataFrame]]:
    """(key, ratings) per round, or per round and domain (``statements`` gives the domains)."""
    if not by_domain:
        for rnd, frame in ratings.groupby("round", sort=True):
            yield {"round": int(rnd)}, frame
        return
    if statements is None:
        raise ValueError("by_domain needs the statements frame (for each statement's domain)")
    domains = statements[["round", "statement_id", "domain"]].drop_duplicates(
        ["round", "statement_id"]
    )
    merged = ratings.merge(domains, on=["round", "statement_id"], how="left")
    merged["domain"] = merged["domain"].fillna(NO_DOMAIN)
    for (rnd, dom), frame in merged.groupby(["round", "domain"], sort=True):
        yield {"round": int(rnd), "domain": dom}, frame


def wide_groups(
    ratings: pd.DataFrame,
    statements: pd.DataFrame | None,
    by_domain: bool,
    sorted_rows: bool = True,
) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """(key, ``wide(frame).to_numpy()``) for each (key, frame) of :func:`groups`: the same
    matrices, from ids coded once for all groups (per-group frames cost twice the statistic
    they feed at 2,000 panelists × 200 statements × 4 rounds).  ``sorted_rows=False`` leaves
    the panelists in first-seen order, for a statistic that does not depend on it (sorting
    2,000 identities over 1.4 M ratings costs a tenth of Kendall's W)."""
    if by_domain and statements is None:
        raise ValueError("by_domain needs the statements frame (for each statement's domain)")
    if ratings.empty:
        return
    who, panelists = pd.factorize(ratings["panelist"], sort=sorted_rows)
    what, ids = pd.factorize(ratings["statement_id"], sort=True)
    rating = ratings["rating"].to_numpy(float)
    rnd, rounds = _round_codes(ratings["round"])
    if by_domain:
        dom, domains = _domain_codes(rnd, rounds, what, ids, statements)
        key = np.where(rnd >= 0, rnd * len(domains) + dom, -1)
    else:
        key = rnd
    if (key[1:] < key[:-1]).any():  # a store's ratings come by round: mostly no sort
        order = np.argsort(key, kind="stable")  # keeps each group's rows in their order
        key, who, what, rating = key[order], who[order], what[order], rating[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    for start, stop in zip(starts, [*starts[1:], len(key)], strict=True):
        k = int(key[start])
        if k < 0:  # a rating without a round belongs to no group, as in groupby
            continue
        rows, n_rows = _present(who[start:stop], len(panelists))
        cols, n_cols = _present(what[start:stop], len(ids))
        label = (
            {"round": int(rounds[k // len(domains)]), "domain": domains[k % len(domains)]}
            if by_domain
            else {"round": int(rounds[k])}
        )
        yield label, _first_ratings(rows, cols, rating[start:stop], n_rows, n_cols)


def _round_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(column, sort=True)``, for whole-number rounds by counting (a quarter of
    the time at 1.4 M ratings)."""
    values = column.to_numpy()
    if np.issubdtype(values.dtype, np.integer) and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low <= 1_000_000:
            offset = values.astype(np.intp) - low
            seen = np.zeros(high - low + 1, bool)
            seen[offset] = True
            return (np.cumsum(seen) - 1)[offset], np.flatnonzero(seen) + low
    codes, uniques = pd.factorize(column, sort=True)
    return codes, np.asarray(uniques)


def _domain_codes(
    rnd: np.ndarray,
    rounds: pd.Index,
    what: np.ndarray,
    ids: pd.Index,
    statements: pd.DataFrame,
) -> tuple[np.ndarray, Any]:
    """Each rating's domain (code, and the sorted domain names), as :func:`groups` merges it:
    the first row of ``statements`` for its round and statement, else '(no domain)'."""
    first = statements.drop_duplicates(["round", "statement_id"])
    names = first["domain"].fillna(NO_DOMAIN)
    code, domains = pd.factorize(pd.concat([names, pd.Series([NO_DOMAIN])]), sort=True)
    table = np.full((len(rounds), len(ids)), code[-1])  # (round, statement) -> domain code
    r = pd.Index(rounds).get_indexer(first["round"])
    s = pd.Index(ids).get_indexer(first["statement_id"])
    ok = (r >= 0) & (s >= 0)
    table[r[ok], s[ok]] = code[:-1][ok]
    dom = np.where((rnd >= 0) & (what >= 0), table[rnd, what], code[-1])
    return dom, domains


def key_cols(by_domain: bool) -> list[str]:
    """The key columns of a per-round (or per round and domain) frame."""
    return ["round", "domain"] if by_domain else ["round"]
