"""Publishing a snapshot for observers, and the rule that refuses one that would reveal a few
respondents' answers by differencing it with an earlier publication.

Observers see only published snapshots, and :func:`publish` refuses a snapshot that differs
from any earlier published one by fewer than ``privacy.min_group_size`` respondents in a round,
unless that publication closes the round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from lib import store
from lib.config import StudyConfig
from lib.textsafe import plural

__all__ = ["PublishRefused", "PublicationCheck", "check_publication", "publish"]


class PublishRefused(ValueError):
    """The snapshot may not be published; the message names each round, its count, and what
    would allow it."""


@dataclass(frozen=True)
class PublicationCheck:
    """Whether ``snapshot_id`` may be published now, round by round."""

    snapshot_id: int
    published: int | None  # what observers see now
    min_group_size: int
    closing: tuple[int, ...]  # rounds this publication closes
    closed: tuple[int, ...]  # rounds closed by earlier publications
    rounds: pd.DataFrame  # round, respondents, added, changed, removed (vs published), verdict
    refusals: tuple[str, ...]  # one sentence per round that blocks publication
    warnings: tuple[str, ...]  # closing rounds that reveal a small change, said plainly

    @property
    def allowed(self) -> bool:
        """No round blocks publication."""
        return not self.refusals

    @property
    def changes_nothing(self) -> bool:
        """Already published, and closes no round that was open."""
        return self.snapshot_id == self.published and set(self.closing) <= set(self.closed)


def check_publication(
    db: str | Path,
    snapshot_id: int,
    *,
    min_group_size: int | None = None,
    close_rounds: tuple[int, ...] | list[int] = (),
) -> PublicationCheck:
    """Whether publishing ``snapshot_id`` (closing ``close_rounds``) would be allowed, and why
    not; writes nothing.  See :func:`publish` for the rule."""
    with store.connect(db, read_only=True) as con:
        return _check(con, snapshot_id, min_group_size, close_rounds)


def publish(
    db: str | Path,
    snapshot_id: int | None = None,
    *,
    min_group_size: int | None = None,
    close_rounds: tuple[int, ...] | list[int] = (),
) -> PublicationCheck:
    """Publish ``snapshot_id`` (default: the latest) to observers, closing ``close_rounds``.

    Refused (:class:`PublishRefused`) when, in a round it does not close, the snapshot differs
    by 1 to ``min_group_size - 1`` respondents (added, removed or changed) from any snapshot
    published before -- or, for the first publication, has that few respondents.  A snapshot
    published before may be published again (observers hold it already).  The group
    size is the stricter of ``min_group_size`` and the one the snapshot was stored under.
    The check and the record are one transaction: two coordinators publishing at once cannot
    both pass against the same earlier publication.
    """
    with store.connect(db) as con:
        sid = snapshot_id if snapshot_id is not None else store.latest_snapshot_id(con)
        if sid is None:
            raise PublishRefused("there is no snapshot to publish yet: refresh first")
        con.execute("BEGIN TRANSACTION")
        try:
            check = _check(con, sid, min_group_size, close_rounds)
            if check.refusals:
                raise PublishRefused(
                    f"snapshot {sid} cannot be published: " + "; ".join(check.refusals)
                )
            if not check.changes_nothing:
                store.add_publication(con, sid, sorted({*check.closed, *check.closing}))
            con.execute("COMMIT")
        except BaseException as exc:
            _rollback(con)
            # the other's commit, seen at our insert or our commit
            if isinstance(exc, (duckdb.TransactionException, duckdb.ConstraintException)):
                raise PublishRefused(
                    "another publication was recorded at the same moment: look at what is "
                    "published now and try again"
                ) from exc
            raise
    return check


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:  # a failed COMMIT has already ended the transaction
        pass


def _check(
    con: duckdb.DuckDBPyConnection,
    sid: int,
    min_group_size: int | None,
    close_rounds: tuple[int, ...] | list[int],
) -> PublicationCheck:
    try:
        info = store.snapshot_info(con, sid)
    except store.StoreError:
        raise PublishRefused(f"snapshot {sid} does not exist") from None
    k = max(min_group_size or 1, _stored_group_size(info["config"]))
    rounds = sorted(set(store.statements_for(con, sid)["round"]))
    closing = tuple(sorted({int(r) for r in close_rounds}))
    unknown = [r for r in closing if r not in rounds]
    if unknown:
        raise PublishRefused(
            f"round {', '.join(map(str, unknown))} is not a round of snapshot {sid} "
            f"(its rounds: {', '.join(map(str, rounds)) or 'none'})"
        )
    pubs = store.publications(con)
    published = store.published_snapshot_id(con)
    closed = tuple(int(r) for r in pubs["closed_rounds"].iloc[0]) if not pubs.empty else ()
    # every snapshot published so far, not just the last: observers may have kept any of them
    baselines = list(dict.fromkeys(pubs["snapshot_id"])) or [None]
    diffs = {b: _differing(store.respondent_differences(con, b, sid)) for b in baselines}
    refusals, warnings, refused = [], [], set()
    # published before: observers hold it already, and it was checked against the others then
    for r in [] if sid in baselines else rounds:
        small = sorted(
            (int(d.loc[r, "differing"]), b)
            for b, d in diffs.items()
            if r in d.index and 0 < d.loc[r, "differing"] < k
        )
        if small and r in closing:
            warnings.append(_closing_warning(r, *small[0]))
        elif small:
            refusals.append(_refusal(r, *small[0], diffs[small[0][1]], k))
            refused.add(r)
    must_close: set[int] = set()
    if baselines == [None] and store.setting(con, store.HISTORY_UNKNOWN):
        for r in rounds:
            if r not in closing and r not in refused and _respondents(diffs[None], r):
                refusals.append(
                    f"round {r}: this database was built by the app itself (a first view, a "
                    "host that lost its disk, or a damaged file rebuilt), so it cannot know what "
                    f"observers were shown before; close round {r} to publish it"
                )
                must_close.add(r)
    table = _verdicts(
        rounds, diffs[published if published in diffs else baselines[0]], closing, refused, k
    )
    table.loc[table["round"].isin(must_close), "verdict"] = "refused: close it (history unknown)"
    return PublicationCheck(
        sid, published, k, closing, closed, table, tuple(refusals), tuple(warnings)
    )


def _respondents(diff: pd.DataFrame, r: int) -> int:
    """Respondents of round ``r`` in a comparison with nothing published (all of them added)."""
    return int(diff.loc[r, "differing"]) if r in diff.index else 0


def _stored_group_size(config: dict[str, Any]) -> int:
    """``privacy.min_group_size`` of the configuration a snapshot was stored with."""
    value = (config.get("privacy") or {}).get("min_group_size", StudyConfig.min_group_size)
    return value if isinstance(value, int) and value > 0 else StudyConfig.min_group_size


def _differing(changes: pd.DataFrame) -> pd.DataFrame:
    out = changes.set_index("round")
    return out.assign(differing=out["added"] + out["removed"] + out["changed"])


def _refusal(r: int, n: int, baseline: int | None, diff: pd.DataFrame, k: int) -> str:
    if baseline is None:
        return (
            f"round {r}: only {plural(n, 'respondent')}, fewer than privacy.min_group_size = "
            f"{k}; publish once {k - n} more have answered, or close round {r}"
        )
    row = diff.loc[r]
    detail = ", ".join(f"{int(row[c])} {c}" for c in ("added", "changed", "removed") if int(row[c]))
    return (
        f"round {r}: {plural(n, 'respondent')} {'differs' if n == 1 else 'differ'} from "
        f"snapshot {baseline}, published "
        f"before ({detail}), fewer than privacy.min_group_size = {k}, so comparing the two "
        f"would reveal their answers; publish once {k - n} more differ, or close round {r}"
    )


def _closing_warning(r: int, n: int, baseline: int | None) -> str:
    if baseline is None:
        return f"Round {r} is published with only {plural(n, 'respondent')} because it closes."
    return (
        f"Closing round {r} publishes a change of {plural(n, 'respondent')} since snapshot "
        f"{baseline}: anyone who compares the two can read their answers to round {r}."
    )


def _verdicts(
    rounds: list[int], diff: pd.DataFrame, closing: tuple[int, ...], refused: set[int], k: int
) -> pd.DataFrame:
    """One row per round: respondents, added, changed, removed, and what publication does."""
    table = diff.reindex(rounds, fill_value=0).rename_axis("round").reset_index()
    table["verdict"] = [
        f"refused: 1 to {k - 1} differ"
        if r in refused
        else "closes: published as it is"
        if r in closing
        else "ok"
        if n
        else "unchanged"
        for r, n in zip(table["round"], table["differing"], strict=True)
    ]
    return table[["round", "respondents", "added", "changed", "removed", "verdict"]]
