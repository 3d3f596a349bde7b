"""How statements move across rounds: families of versions, previous versions, entry and fate."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["families", "previous_versions", "statement_flow"]


def families(statements: pd.DataFrame) -> pd.DataFrame:
    """Each statement's family: the root of its ``revised_from`` chain and every version's id.

    >>> s = pd.DataFrame({"round": [1, 2, 3], "statement_id": ["S07", "S07a", "S07b"],
    ...                   "revised_from": [None, "S07", "S07a"]})
    >>> families(s)["family_label"].tolist()
    ['S07 → S07a → S07b', 'S07 → S07a → S07b', 'S07 → S07a → S07b']
    """
    parent = (
        statements.dropna(subset=["revised_from"])
        .drop_duplicates("statement_id")
        .set_index("statement_id")["revised_from"]
        .to_dict()
    )
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
                rows.append(
                    (
                        int(row.round),
                        row.statement_id,
                        int(earlier[-1]),
                        candidate,
                        candidate != row.statement_id,
                    )
                )
                break
    return pd.DataFrame(
        rows, columns=["round", "statement_id", "prev_round", "prev_statement_id", "revised"]
    )


def statement_flow(metrics: pd.DataFrame, statements: pd.DataFrame) -> pd.DataFrame:
    """Per (round, statement): its status, how it entered and what became of it next round.

    entry: entered (first round), added, carried, revised. fate: carried, revised, accepted
    (consensus in, not rated again), rejected (consensus out), dropped (no consensus, not rated
    again), open (no consensus in the last round).  Only rated versions count: a round whose
    tab has no answers yet is not "next", so the round before it keeps its statements open.
    """
    rated = metrics[["round", "statement_id"]].drop_duplicates()
    prev = previous_versions(statements.merge(rated, on=["round", "statement_id"]))
    m = metrics[["round", "statement_id", "status"]].merge(
        prev, on=["round", "statement_id"], how="left"
    )
    first, last = m["round"].min(), m["round"].max()
    m["entry"] = np.select(
        [
            m["prev_statement_id"].isna() & (m["round"] == first),
            m["prev_statement_id"].isna(),
            m["revised"].eq(True),
        ],
        ["entered", "added", "revised"],
        "carried",
    )
    succ = (
        prev.rename(columns={"statement_id": "next_statement_id", "round": "next_round"})
        .sort_values("revised")
        .drop_duplicates(["prev_round", "prev_statement_id"])
    )
    m = m.merge(
        succ[["prev_round", "prev_statement_id", "next_round", "next_statement_id"]].rename(
            columns={"prev_round": "round", "prev_statement_id": "statement_id"}
        ),
        on=["round", "statement_id"],
        how="left",
    )
    ended = {"consensus_in": "accepted", "consensus_out": "rejected", "no_consensus": "dropped"}
    m["fate"] = np.where(
        m["next_statement_id"].notna(),
        np.where(m["next_statement_id"] == m["statement_id"], "carried", "revised"),
        np.where(
            (m["round"] == last) & (m["status"] == "no_consensus"), "open", m["status"].map(ended)
        ),
    )
    cols = ["round", "statement_id", "status", "entry", "fate", "next_round", "next_statement_id"]
    return m[cols].sort_values(["round", "statement_id"]).reset_index(drop=True)
