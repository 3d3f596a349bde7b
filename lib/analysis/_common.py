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

__all__ = ["format_p", "notes", "quiet", "wide", "groups", "key_cols"]


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
    rating = frame["rating"].to_numpy(float)
    rated = ~np.isnan(rating) & (who >= 0) & (what >= 0)  # factorize codes a missing id -1
    cell = who[rated] * len(statements) + what[rated]
    _, first = np.unique(cell, return_index=True)  # the first rating of each cell
    out = np.full(len(panelists) * len(statements), np.nan)
    out[cell[first]] = rating[rated][first]
    return pd.DataFrame(
        out.reshape(len(panelists), len(statements)),
        index=pd.Index(panelists, name="panelist"),
        columns=pd.Index(statements, name="statement_id"),
    )


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
    merged["domain"] = merged["domain"].fillna("(no domain)")
    for (rnd, dom), frame in merged.groupby(["round", "domain"], sort=True):
        yield {"round": int(rnd), "domain": dom}, frame


def key_cols(by_domain: bool) -> list[str]:
    """The key columns of a per-round (or per round and domain) frame."""
    return ["round", "domain"] if by_domain else ["round"]
