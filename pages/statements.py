"""Statements: one statement across rounds — wording, distribution, metrics, comments."""

import streamlit as st

from lib import charts, summary, ui
from lib.charts import STATUS_LABELS
from lib.textsafe import short

st.title("Statements")
ui.snapshot_caption()
cfg = ui.config()
m = ui.metrics()
stmts = ui.load("statements_for")

latest = summary.latest_per_statement(m)
options = latest["statement_id"].tolist()
texts = dict(zip(latest["statement_id"], latest["text"], strict=True))
with st.container(horizontal=True, vertical_alignment="bottom"):
    domain = st.selectbox("Domain", ["All", *sorted(latest["domain"].unique())], key="st_domain")
    if domain != "All":
        options = latest[latest["domain"] == domain]["statement_id"].tolist()
    labels = {f"{s} — {short(texts[s], 90)}": s for s in options}
    sid = labels[st.selectbox("Statement", list(labels), key="st_statement")]

family = summary.lineage(stmts, sid)
fam_metrics = m[m["statement_id"].isin(family["statement_id"])].sort_values("round")

st.subheader("Wording per round")
for row in family.itertuples():
    with st.container(border=True):
        st.caption(f"Round {row.round} · {row.statement_id} · {ui.escape(row.domain)}"
                   + (f" · revised from {row.revised_from}"  # NaN (a float) when not revised
                      if isinstance(row.revised_from, str) and row.revised_from else ""))
        ui.plain(row.text)

dist = ui.load("distribution_for")
dist = dist[dist["statement_id"].isin(family["statement_id"])]
st.plotly_chart(charts.likert_chart(dist, ui.scale_labels(), "Ratings per round"),
                key="st_likert")

st.subheader("Metrics and status per round")
st.dataframe(
    fam_metrics.assign(status=fam_metrics["status"].map(STATUS_LABELS))[
        ["round", "statement_id", "n", "n_no_opinion", "n_missing", "pct_agree", "pct_neutral",
         "pct_disagree", "median", "q1", "q3", "iqr", "mean", "sd", "status"]],
    hide_index=True, key="st_metrics",
    column_config={"round": st.column_config.NumberColumn("Round", format="%d"),
                   **{c: st.column_config.NumberColumn(format="%.1f") for c in
                      ("pct_agree", "pct_neutral", "pct_disagree", "mean", "sd")}})

st.subheader("Comments")
if ui.at_least("committee") or cfg.observer_comments:
    comments = ui.load("comments_for")
    comments = comments[comments["statement_id"].isin(family["statement_id"])]
    if comments.empty:
        st.caption("No comments on this statement.")
    for row in comments.itertuples():
        st.text(f"Round {row.round}: {row.comment}")
else:
    st.caption("Comments are shown to the steering committee only.")
