"""Overview: the study at a glance, and the status of every statement."""

import streamlit as st

from lib import charts, summary, ui
from lib.charts import STATUS_LABELS

ui.require_router()

cfg = ui.config()
ui.plain_title(cfg.title)
ui.snapshot_caption()

m = ui.metrics()
rates = ui.load("response_rates")
rounds = summary.round_summary(m, rates)
final = summary.final_statements(m)

with st.container(horizontal=True):
    st.metric("Panel", f"{int(rates['invited'].max())} experts", border=True)
    st.metric("Rounds", len(rounds), border=True)
    st.metric("Statements", len(final), border=True,
              help="Final versions: a revised wording replaces the one it was revised from.")
    st.metric("Consensus reached", f"{int((final['status'] != 'no_consensus').sum())} of "
              f"{len(final)}", border=True)

left, right = st.columns([3, 2])
with left:
    st.subheader("Rounds")
    st.dataframe(
        rounds.rename(columns={"consensus_in": "in", "consensus_out": "out",
                               "no_consensus": "none"}),
        hide_index=True,
        column_order=["round", "invited", "responded", "response_rate", "statements", "in",
                      "out", "none"],
        column_config={
            "round": st.column_config.NumberColumn("Round", format="%d"),
            "response_rate": st.column_config.ProgressColumn(
                "Response rate", format="%.0f%%", min_value=0, max_value=100),
            "invited": "Invited", "responded": "Responded", "statements": "Rated",
            "in": "Consensus in", "out": "Consensus out", "none": "No consensus",
        })
    st.caption(f"Consensus rule: {ui.escape(cfg.rule.describe())}.")
with right:
    st.plotly_chart(ui.figure(charts.status_by_round_chart, m), key="status_chart")

st.subheader("Statements")
with st.container(horizontal=True, vertical_alignment="bottom"):
    rounds_shown = {"Each statement's last round": "latest",
                    **{f"Round {r}": int(r) for r in sorted(m["round"].unique())}}
    choice = rounds_shown[st.selectbox("Round", list(rounds_shown), key="ov_round")]
    domains = st.multiselect("Domain", sorted(m["domain"].dropna().unique()), key="ov_domain",
                             placeholder="All domains")
    shown = st.pills("Status", list(STATUS_LABELS.values()), selection_mode="multi",
                     key="ov_status")
by_label = {v: k for k, v in STATUS_LABELS.items()}
table = summary.status_table(m, choice, domains, [by_label[s] for s in shown or []])
st.dataframe(
    table.assign(status=table["status"].map(STATUS_LABELS)), hide_index=True, key="ov_table",
    column_config={
        "statement_id": "ID", "round": st.column_config.NumberColumn("Round", format="%d"),
        "domain": "Domain", "text": st.column_config.TextColumn("Statement", width="large"),
        "n": "n", "pct_agree": st.column_config.NumberColumn("% agree", format="%.0f"),
        "median": st.column_config.NumberColumn("Median", format="%.1f"),
        "iqr": st.column_config.NumberColumn("IQR", format="%.2f"), "status": "Status",
    })
st.caption(f"{len(table)} statements shown.")
