"""Overview: the study at a glance, and the status of every statement (in every group, and
one group's next to the panel's)."""

import streamlit as st

from lib import ui
from lib.analysis import summary
from lib.charts.base import STATUS_LABELS
from lib.charts.results import status_by_round_chart

ui.require_router()

cfg = ui.config()
ui.plain_title(cfg.title)
ui.snapshot_caption()
ui.require_ratings()

m = ui.metrics()
rates = ui.rates()
rounds = summary.round_summary(m, rates)
final = summary.final_statements(m)

with st.container(horizontal=True):
    st.metric("Panel", f"{int(rates['invited'].max())} experts", border=True)
    st.metric("Rounds", len(rounds), border=True)
    st.metric("Statements", len(final), border=True, help=summary.COUNT_HELP)
    st.metric(
        "Consensus reached",
        f"{int((final['status'] != 'no_consensus').sum())} of {len(final)}",
        border=True,
        help="Final versions with consensus in or out (as the report counts them).",
    )

st.subheader("Rounds")
st.dataframe(
    rounds.rename(columns={"consensus_in": "in", "consensus_out": "out", "no_consensus": "none"}),
    hide_index=True,
    column_order=[
        "round",
        "invited",
        "responded",
        "response_rate",
        "statements",
        "in",
        "out",
        "none",
    ],
    column_config=ui.columns.ROUNDS,
)
st.caption(ui.groups_rule_caption())
st.plotly_chart(ui.figure(status_by_round_chart, m), key="status_chart")
ui.run_another_round(m)  # the pre-registered stopping rule after the last round rated

st.subheader("Statements")
with st.container(horizontal=True, vertical_alignment="bottom"):
    rounds_shown = {
        "Each statement's final version": "latest",
        **{f"Round {r}": int(r) for r in sorted(m["round"].unique())},
    }
    choice = rounds_shown[st.selectbox("Round", list(rounds_shown), key="ov_round")]
    domains = st.multiselect(
        "Domain", sorted(m["domain"].dropna().unique()), key="ov_domain", placeholder="All domains"
    )
    shown = st.pills(
        "Status", list(STATUS_LABELS.values()), selection_mode="multi", key="ov_status"
    )
with st.container(horizontal=True, vertical_alignment="bottom"):
    view = ui.group_view("ov_group_by")  # the committee may compare any panel attribute
    group = ui.group_filter(view, "ov_group")
by_label = {v: k for k, v in STATUS_LABELS.items()}
table = summary.status_table(m, choice, domains, [by_label[s] for s in shown or []])
if cfg.scale_map.mixed:  # "% agree" of a Yes/No question is its share of Yes
    table.insert(3, "scale", cfg.scale_map.described(table))
ui.statements_table(table, view, group, key="ov_table")
st.caption(summary.shown_caption(len(table), choice, len(final)))
