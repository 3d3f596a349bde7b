"""The Coordinator page's Publish panel: what publishing a snapshot would change, and why it
would be refused (the rule is :func:`lib.publication.publish`)."""

from __future__ import annotations

import streamlit as st

from lib import coordination, publication, store
from lib.coordination import CoordinatorState
from lib.publication import PublicationCheck, PublishRefused
from lib.ui import columns
from lib.ui.messages import error_detail
from lib.ui.session import config, db_path
from lib.ui.snapshot import db_signature, storage_failed

__all__ = ["publish_panel"]


def publish_panel(state: CoordinatorState) -> None:
    """Choose a snapshot and the rounds to close, see the check round by round, publish."""
    st.markdown(coordination.publication_caption(state))
    if "co_published" in st.session_state:
        kind, text = st.session_state.pop("co_published")
        (st.success if kind == "ok" else st.error)(text)
    labels = coordination.snapshot_labels(state.snapshots)
    if st.session_state.get("co_publish_latest") != state.latest:  # a new snapshot: offer it
        st.session_state.pop("co_publish_choice", None)
        st.session_state["co_publish_latest"] = state.latest
    with st.container(horizontal=True, vertical_alignment="bottom"):
        sid = st.selectbox(
            "Snapshot to publish", list(labels), key="co_publish_choice", format_func=labels.get
        )
        k = config().min_group_size
        check = _check(db_path(), db_signature(), sid, k, ())
        closing = st.multiselect(
            "Close rounds",
            check.rounds["round"].tolist(),
            key="co_close_rounds",
            format_func=lambda r: f"Round {r}" + (" (closed)" if r in state.closed_rounds else ""),
            help="Close a round when it has ended: it is then published as it is, however few "
            "responses changed since the last publication.",
        )
    if closing:
        check = _check(db_path(), db_signature(), sid, k, tuple(closing))
    since = f"snapshot {check.published}" if check.published else "nothing published"
    st.caption(
        f"Respondents per round of snapshot {sid} compared with {since}; a round may change "
        f"by 0 or at least {check.min_group_size} respondents (privacy.min_group_size), "
        "unless this publication closes it."
    )
    st.dataframe(
        check.rounds, hide_index=True, key="co_publish_check", column_config=columns.PUBLICATION
    )
    for reason in check.refusals:
        st.warning(f"Not publishable: {reason}.", icon=":material/block:")
    for warning in check.warnings:
        st.info(warning, icon=":material/visibility:")
    st.button(
        f"Publish snapshot {sid}",
        type="primary",
        key="co_publish",
        icon=":material/publish:",
        disabled=not check.allowed or check.changes_nothing,
        on_click=_publish,
        args=(sid, tuple(closing)),
        help="Already published, and closes no new round" if check.changes_nothing else None,
    )


@st.cache_data(ttl=5, max_entries=16, show_spinner=False)
def _check(
    db: str, signature: tuple, sid: int, k: int, closing: tuple[int, ...]
) -> PublicationCheck:
    """The check, again only when the database was written (``signature``) or after 5 s."""
    try:
        return publication.check_publication(db, sid, min_group_size=k, close_rounds=closing)
    except store.StoreError as exc:  # a plain message, not a traceback
        storage_failed(exc)


def _publish(sid: int, closing: tuple[int, ...]) -> None:
    """Button callback: publish, and say what happened on the next run."""
    try:
        publication.publish(
            db_path(), sid, min_group_size=config().min_group_size, close_rounds=closing
        )
    except PublishRefused as exc:
        why = str(exc)
        st.session_state["co_published"] = ("error", f"{why[:1].upper()}{why[1:]}.")
        return
    except store.StoreError as exc:  # busy, or a read-only data folder: nothing was published
        detail = error_detail(exc, coordinator=True)
        st.session_state["co_published"] = ("error", f"Not published: {detail}")
        return
    st.session_state["co_published"] = (
        "ok",
        f"Snapshot {sid} is published: observers see it from their next click.",
    )
    st.session_state.pop("co_close_rounds", None)
