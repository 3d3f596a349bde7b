"""Set up a study: read a sheet, see what was found, adjust, save the study file, first refresh."""

import streamlit as st

from lib import setup, ui
from lib.config import ConfigError
from lib.sources import SourceError
from lib.ui.messages import error_detail

ui.require_router()
# it reads any sheet or server file and writes study files: a signed-in coordinator only, never
# demo mode (where every visitor is the coordinator)
if not ui.at_least("coordinator") or ui.demo_mode():
    st.error("This page is for the study coordinator: sign in first.", icon=":material/lock:")
    st.stop()

st.title("Set up a study")
st.caption(
    "The Google Sheet your forms write to (shared with the service account as Viewer), or a "
    "workbook on this server: its tabs are read once, and nothing is stored until you save."
)
with st.form("setup_read", border=False):
    source = st.text_input("Google Sheet address or workbook path", key="setup_source")
    if st.form_submit_button("Read the tabs", icon=":material/search:"):
        for key in ("setup_raw", "setup_done"):
            st.session_state.pop(key, None)
        try:
            st.session_state["setup_raw"] = setup.read_tabs(source, ui.google_credentials())
        except SourceError as exc:
            st.error(error_detail(exc, coordinator=True), icon=":material/error:")
            if getattr(exc, "kind", "") == "credentials":
                st.caption(setup.CREDENTIALS_HINT)
if (raw := st.session_state.get("setup_raw")) is None:
    st.stop()

st.subheader("What was found")
first = setup.propose(raw)
tabs = st.data_editor(
    setup.rounds_frame(first), hide_index=True, disabled=setup.FIXED, key="setup_tabs",
    alt="The source's tabs: the round number of each round tab (empty: not a round)",
)  # fmt: skip
identity = st.selectbox(
    "Identity column", first.headers, setup.identity_index(first), key="setup_identity"
)
found = setup.propose(raw, rounds=setup.rounds_from(tabs), identity=identity)
for key, frame, alt in setup.found_tables(found):  # columns and tabs chosen; statements found
    st.dataframe(frame, hide_index=True, key=key, alt=alt)
for note in found.notes:
    st.warning(ui.escape(note), icon=":material/help:")

st.subheader("Answers and their scores")
labels = st.data_editor(
    setup.labels_frame(found), hide_index=True, disabled=setup.FIXED, key="setup_labels",
    alt="Every answer label seen, with its proposed score and whether it means no opinion",
)  # fmt: skip
rules = setup.RULE_CHOICES  # the presets, and "choose later"
preset = st.selectbox("Consensus rule", list(rules), format_func=rules.get, key="setup_preset")
version = st.text_input(
    "Rule version", key="setup_rule_version", placeholder="v1, pre-registered YYYY-MM-DD",
    help="The rule's version as you pre-registered it: every report prints it.",
)  # fmt: skip
if preset and not version.strip():
    st.caption("Give the rule's version (and the date it was fixed): reports print it.")
title = st.text_input("Study title", found.title, key="setup_title")
final = setup.with_labels(found, labels, preset, title, version)
slug = st.text_input("File name", setup.slugify(final.title), key="setup_slug")
try:
    paths = setup.study_paths(slug)
    text = setup.proposal_toml(final, paths.study.parent)
    result = setup.check(raw, setup.config_of(text, paths.study.parent))
except (ValueError, ConfigError) as exc:
    st.error(error_detail(exc, coordinator=True), icon=":material/error:")
    st.stop()

st.subheader("The study file")
st.code(text, language="toml")
st.markdown(f"**As a refresh would read it:** {ui.escape(setup.summary(result))}")
ui.problems_table(result.problems, key="setup_problems")
exists = paths.study.exists()
replace = exists and st.checkbox(f"Replace {ui.escape(paths.study.name)}", key="setup_replace")
save = "Save and run the first refresh"
if st.button(save, type="primary", key="setup_save", disabled=exists and not replace):
    setup.write_study(text, paths.study, force=replace)
    with st.status("Refreshing…", expanded=True) as status:
        tell = lambda words: status.update(label=f"{words}…")  # noqa: E731
        st.session_state["setup_done"] = setup.first_refresh(paths, ui.google_credentials(), tell)
if done := st.session_state.get("setup_done"):
    if done.failed:
        st.error(ui.escape(done.message), icon=":material/error:")
    else:
        st.success(ui.escape(done.message), icon=":material/save:")
    ui.problems_table(done.problems, key="setup_refresh_problems")
    if done.command:
        st.caption("Serve the new study (its Coordinator page publishes the snapshot):")
        st.code(done.command, language="bash")
