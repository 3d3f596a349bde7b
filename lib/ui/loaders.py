"""Typed loaders for this run's snapshot: store queries, statistics and figures, cached.

Every cache is keyed on the database path, the snapshot id and the qualified name of the
function it runs (never on a name a page spells as a string); the function object itself is
passed as an unhashed ``_fn`` argument.  A warm rerun therefore opens no DuckDB connection.

Every read is read-only (a read-only data folder still serves the snapshots), and every loader
turns a storage error into a plain message that stops the run (``snapshot.storage_failed``: a
damaged workbook study is rebuilt), never a traceback.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import pickle
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from lib import coordination, store
from lib.ui.session import config, db_path
from lib.ui.snapshot import db_signature, snapshot_id, storage_failed

__all__ = [
    "metrics",
    "statements",
    "distribution",
    "comments",
    "rates",
    "info",
    "ratings",
    "respondents",
    "panel",
    "eligibility",
    "recipients",
    "problems",
    "nonresponders",
    "stat",
    "figure",
    "coordination_state",
]


def _key(fn: Callable[..., Any]) -> str:
    """The cache key of a function: its module and qualified name."""
    return f"{fn.__module__}.{fn.__qualname__}"


def _frame_digest(frame: pd.DataFrame) -> str:
    """A cache-key digest of a data frame: its pickle, hashed.

    Streamlit hashes a frame column by column through pandas (3-4 ms for the 120-row metrics
    frame, however small); the pickle holds the same values, index and dtypes and hashes in
    0.3 ms.  Two equal frames with different pickles only miss the cache, never share a key."""
    return hashlib.blake2b(pickle.dumps(frame, protocol=5), digest_size=16).hexdigest()


# --- store queries -----------------------------------------------------------------------------


T = TypeVar("T")


def _guarded(call: Callable[[], T]) -> T:
    """``call()``; a storage error (damage only this query met, a busy or vanished file) stops
    the run with a plain message (server paths for the coordinator only), never a traceback."""
    try:
        return call()
    except store.StoreError as exc:
        storage_failed(exc)


def _own(value: Any) -> Any:
    """The caller's own copy of a cached value: a frame's shallow copy (pandas' copy-on-write,
    always on since pandas 3, copies a column the first time it is written, and NumPy views of
    the shared columns are read-only), anything else deep-copied (a snapshot's info)."""
    if isinstance(value, pd.DataFrame):
        return value.copy(deep=False)
    return copy.deepcopy(value)


_reading = threading.local()  # one_connection's: [database path, its ExitStack, connection]


@contextlib.contextmanager
def one_connection() -> Iterator[None]:
    """Every store query this thread runs in the block (a cache miss) reads through one
    connection, opened at the first and closed at the end: a page that reads many frames at
    once (the report's inputs: 13 connections, 14 ms each at L) opens one.  Keep the block to
    the reads: a refresh in another process waits for the connection to close."""
    if getattr(_reading, "open", None) is not None:  # nested: the outer block's connection
        yield
        return
    with contextlib.ExitStack() as stack:
        _reading.open = [db_path(), stack, None]  # the connection: opened by the first read
        try:
            yield
        finally:
            _reading.open = None


def _shared(db: str) -> Any:
    """The connection of the enclosing ``one_connection`` block to ``db`` (opened now if not
    yet), or None outside one (or for another database)."""
    held = getattr(_reading, "open", None)
    if held is None or held[0] != db:
        return None
    if held[2] is None:
        held[2] = held[1].enter_context(store.connect(db, read_only=True))
    return held[2]


@st.cache_resource(max_entries=64, show_spinner=False)
def _stored(db: str, sid: int, key: str, _fn: Callable[..., Any], *args: Any) -> Any:
    """One store query's result, kept as it is (not pickled, as ``st.cache_data`` would on
    each store and read: 0.1-0.3 s of a first render for the 1.47 M ratings of a large study)
    and shared by every session: read it through ``_query``, which hands out a copy."""
    con = _shared(db)
    if con is not None:
        try:
            return _fn(con, sid, *args)
        except Exception:  # noqa: BLE001 - read again alone: ``store.connect`` says what failed
            pass
    with store.connect(db, read_only=True) as con:
        return _fn(con, sid, *args)


def _query(db: str, sid: int, key: str, _fn: Callable[..., Any], *args: Any) -> Any:
    """``_fn(con, sid, *args)``, cached per database, snapshot and query; the caller's own copy,
    which it may change (a new column, a sort in place) without touching the cached one."""
    return _own(_stored(db, sid, key, _fn, *args))


def _load(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(con, snapshot, *args)`` (a lib.store query) for this run's snapshot, cached."""
    sid = snapshot_id()
    return _guarded(lambda: _query(db_path(), sid, _key(fn), fn, *args))


def metrics() -> pd.DataFrame:
    """Metrics with domain and wording, one row per (round, statement)."""
    return _load(store.metrics_for)


def statements() -> pd.DataFrame:
    """Statements, one row per statement per round."""
    return _load(store.statements_for)


def distribution() -> pd.DataFrame:
    """Answer counts per (round, statement, answer); no identities."""
    return _load(store.distribution_for)


def comments() -> pd.DataFrame:
    """Comments (round, statement_id, comment) in a non-identifying order."""
    return _load(store.comments_for)


def rates() -> pd.DataFrame:
    """Invited and responding panelists per round."""
    return _load(store.response_rates)


def info() -> dict[str, Any]:
    """This run's snapshot row (rule and configuration parsed)."""
    return _load(store.snapshot_info)


def ratings() -> pd.DataFrame:
    """Pseudonymised ratings of every round."""
    return _load(store.ratings_for)


def respondents() -> pd.DataFrame:
    """Who responded in which round, by pseudonym."""
    return _load(store.respondents_for)


def panel() -> pd.DataFrame:
    """Non-identifying panel attributes, one row per panelist and attribute."""
    return _load(store.panel_attributes)


def eligibility() -> pd.DataFrame:
    """Each panelist (pseudonym) against each pre-registered criterion, with the value as written
    (the coordinator's alone: counts and reports drop it)."""
    return _load(store.eligibility_for)


def recipients() -> pd.DataFrame:
    """Pseudonym, identity and name of each panelist (coordinator only)."""
    return _load(store.feedback_recipients)


def problems() -> pd.DataFrame:
    """The validation report of this run's snapshot."""
    return _load(store.problems_for)


def nonresponders() -> pd.DataFrame:
    """Invited panelists who did not respond, per round, with identity (coordinator only)."""
    return _load(store.nonresponders)


# --- statistics --------------------------------------------------------------------------------


def _inputs(fn: Callable[..., Any]) -> tuple[Callable[..., Any], ...]:
    """The lib.store queries whose frames ``fn`` takes first, in order.

    The analysis modules are imported here, not at the top, so a page that shows no statistic
    never loads them (nor pingouin, which they load to compute).  The table is built on each
    call, so a function replaced on its module (a test's spy) is found too.
    """
    from lib.analysis import (
        agreement,
        eligibility,
        flow,
        participation,
        robustness,
        sensitivity,
        solidity,
        stability,
        stakeholders,
        summary,
    )

    table = {
        flow.families: (store.statements_for,),
        flow.statement_flow: (store.metrics_for, store.statements_for),
        agreement.kendall_w: (store.ratings_for, store.statements_for),
        agreement.krippendorff_alpha: (store.ratings_for, store.statements_for),
        stability.stability: (store.ratings_for, store.statements_for),
        solidity.solidity: (store.metrics_for,),
        solidity.solidity_by_scale: (store.metrics_for,),
        sensitivity.sensitivity_by_statement: (store.ratings_for,),
        sensitivity.sensitivity_counts: (),  # takes sensitivity_by_statement's frame
        sensitivity.sensitivity_by_scale: (store.ratings_for,),
        sensitivity.sensitivity_counts_by_scale: (),  # takes sensitivity_by_scale's frame
        summary.rule_counts: (),  # takes sensitivity_by_scale's frame
        participation.participation: (store.respondents_for, store.response_rates),
        participation.participation_by_attribute: (store.respondents_for, store.panel_attributes),
        participation.attrition_groups: (store.ratings_for, store.respondents_for),
        participation.attrition_test: (store.ratings_for, store.respondents_for),
        stakeholders.by_group: (store.ratings_for, store.panel_attributes),
        stakeholders.concordance_table: (store.ratings_for, store.panel_attributes),
        stakeholders.verdict_table: (store.ratings_for, store.panel_attributes),
        robustness.attrition: (store.ratings_for, store.respondents_for, store.statements_for),
        robustness.rating_changes: (store.ratings_for, store.statements_for),
        robustness.rating_changes_with_comments: (
            store.ratings_for,
            store.statements_for,
            store.panelist_comments_for,
        ),
        robustness.change_counts: (store.ratings_for, store.statements_for),
        eligibility.counts: (store.eligibility_for,),
        eligibility.sensitivity: (store.ratings_for, store.eligibility_for),
        eligibility.sensitivity_sentence: (store.eligibility_for, store.ratings_for),  # + its frame
        eligibility.panelist_table: (store.eligibility_for, store.ratings_for),  # coordinator
        robustness.marks: (store.statements_for,),  # + solidity, attrition, sensitivity frames
        robustness.robustness: (
            store.ratings_for,
            store.respondents_for,
            store.statements_for,
            store.metrics_for,
        ),
    }
    try:
        return table[fn]
    except KeyError:
        raise KeyError(f"{_key(fn)}: declare its inputs in lib.ui.loaders._inputs") from None


@st.cache_data(
    max_entries=64, show_spinner="Computing statistics…", hash_funcs={pd.DataFrame: _frame_digest}
)
def _stat(
    db: str,
    sid: int,
    key: str,
    _fn: Callable[..., Any],
    _queries: tuple[Callable[..., Any], ...],
    only: tuple[str, ...] | None,
    *args: Any,
    **kwargs: Any,
) -> Any:
    if only is None:
        inputs = [_query(db, sid, _key(query), query) for query in _queries]
    else:
        inputs = [_query_of(db, sid, _key(query), query, only) for query in _queries]
    return _fn(*inputs, *args, **kwargs)


@st.cache_resource(max_entries=64, show_spinner=False)
def _stored_of(
    db: str, sid: int, key: str, _fn: Callable[..., Any], only: tuple[str, ...]
) -> pd.DataFrame:
    from lib.analysis.summary import family_rows

    return family_rows(_query(db, sid, key, _fn), only)


def _query_of(
    db: str, sid: int, key: str, _fn: Callable[..., Any], only: tuple[str, ...]
) -> pd.DataFrame:
    """A store query's rows of the statements ``only`` (a frame without ``statement_id``,
    such as the respondents, whole): shared by the statistics of one statement's family
    (cached as ``_stored``; the caller's own copy)."""
    return _own(_stored_of(db, sid, key, _fn, only))


def stat(
    fn: Callable[..., pd.DataFrame],
    *args: Any,
    only: tuple[str, ...] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """``fn(*inputs, *args)`` for an analysis function on this run's snapshot, cached per
    snapshot; its inputs (store queries) are declared in ``_inputs``.

    ``stat(agreement.kendall_w, True)`` is Kendall's W per round and domain.  A frame among
    ``args`` is part of the key by its pickle digest.

    ``only`` (statement ids: every version of one statement, as ``summary.lineage`` gives
    them) computes ``fn`` on those statements' rows of its inputs: the same rows as the whole
    study's frame for a statistic computed per version and its earlier versions (stability,
    the other consensus rules, the attrition what-ifs, rating changes), at a fraction of the
    cost of the whole study's.  Never for a statistic that pools statements (Kendall's W, a
    multiple-testing correction).
    """
    sid, inputs = snapshot_id(), _inputs(fn)
    key = _key(fn)
    if only is not None:
        only = tuple(sorted(only))
    return _guarded(lambda: _stat(db_path(), sid, key, fn, inputs, only, *args, **kwargs))


# --- figures -----------------------------------------------------------------------------------


@st.cache_resource(max_entries=256, show_spinner=False, hash_funcs={pd.DataFrame: _frame_digest})
def _figure(db: str, sid: int, key: str, _builder: Callable[..., Any], *args: Any) -> Any:
    from lib.charts.base import frozen  # plotly: imported by the first page that draws a chart

    return frozen(_builder(*args))


def figure(builder: Callable[..., Any], *args: Any) -> Any:
    """``builder(*args)`` (a lib.charts function) built once per snapshot and arguments.

    Building a Plotly figure validates every property in Python (tens of ms per chart, most of
    a rerun); the cached figure is shared between sessions, so hand it to ``st.plotly_chart``
    as it is and never change it (``plotly_chart`` only reads it)."""
    return _figure(db_path(), snapshot_id(), _key(builder), builder, *args)


def forget() -> None:
    """Drop the cached query results and figures, which ``st.cache_data.clear()`` leaves (a
    rebuilt database numbers its snapshots from 1 again)."""
    for cached in (_stored, _stored_of, _figure):
        cached.clear()


# --- live state (read again whenever the database file changes) -------------------------------


@st.cache_data(ttl=5, max_entries=4, show_spinner=False)
def _coordination_state(
    db: str, signature: tuple, source: str | None
) -> coordination.CoordinatorState:
    """One connection for the whole Coordinator page.  Any write (a refresh, failed or not, a
    publication) changes ``signature``; 5 s at most otherwise."""
    return coordination.read_state(db, source)


def coordination_state() -> coordination.CoordinatorState:
    """What the Coordinator page shows from the database: log, snapshots, publications,
    non-responders."""
    source = config().source
    return _guarded(lambda: _coordination_state(db_path(), db_signature(), source))
