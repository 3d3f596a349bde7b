"""Files too slow to build on a click: prepared with a progress bar, then offered for download.

A download button builds its file when clicked, with nothing on screen meanwhile; a pack of
2,000 feedback documents (seconds) or of PDFs printed one by one by Chromium (a second each)
needs more.  :func:`prepared_download` shows a "Prepare" button instead: its run writes the file
into a temporary file with ``st.progress`` moving document by document, and a Cancel button
beside it (when ``cancel``) stops it — a click reruns the page, which interrupts the build at
its next progress update (the writer then stops what it started, ``lib.reports.pdf``).  The
finished file is kept in the session for the inputs it was made from (``token``) and offered
by a download button until they change.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Hashable
from typing import Any, BinaryIO

import streamlit as st

__all__ = ["prepared_download"]

# write(out, progress): the file written on ``out``, ``progress(done, total)`` after each part
Writer = Callable[[BinaryIO, Callable[[int, int], None]], None]


def prepared_download(
    label: str,
    write: Writer,
    file_name: str,
    mime: str,
    key: str,
    token: Hashable,
    *,
    icon: str = "download",
    help: str | None = None,
    cancel: bool = False,
    what: str = "document",
) -> None:
    """A "Prepare" button that writes the file with a progress bar (and a Cancel button when
    ``cancel``), then a download button ``key`` for it while ``token`` (what the file was made
    from: snapshot, round) is the same."""
    kept, running = f"{key}__file", f"{key}__running"
    have = st.session_state.get(kept)
    if have is not None and have[0] == token:
        st.download_button(
            label,
            have[1],
            file_name,
            mime,
            key=key,
            on_click="ignore",
            icon=f":material/{icon}:",
            help=help,
        )
        return
    if st.session_state.pop(running, None) == token:
        st.caption(f"{label}: stopped before it was finished; nothing was kept.")
    if not st.button(f"Prepare {label}", key=f"{key}__go", icon=f":material/{icon}:", help=help):
        return
    st.session_state[running] = token  # still set on the next run if this one is interrupted
    bar = st.progress(0.0, text=f"{label}: starting…")
    if cancel:
        st.button("Cancel", key=f"{key}__cancel", icon=":material/cancel:")
    data = _written(write, _progress(bar, label, what))
    st.session_state.pop(running, None)
    st.session_state[kept] = (token, data)
    st.rerun()  # the download button in place of the progress bar


def _written(write: Writer, progress: Callable[[int, int], None]) -> bytes:
    """The file ``write`` makes, written into a temporary file (on disk past 64 MB)."""
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as tmp:
        write(tmp, progress)
        tmp.seek(0)
        return tmp.read()


def _progress(bar: Any, label: str, what: str) -> Callable[[int, int], None]:
    """The bar's update after each part: at most once per percent (2,000 documents would
    otherwise send 2,000 messages to the browser)."""
    shown = [-1]

    def update(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 100
        if pct != shown[0] or done == total:
            shown[0] = pct
            bar.progress(pct / 100, text=f"{label}: {what} {done:,} of {total:,}")

    return update
