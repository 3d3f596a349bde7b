"""Statements: one statement across rounds — wording and its changes, distribution, metrics,
how solid the result is, stability between rounds, other consensus rules, comments."""

import streamlit as st

from lib import ui, wording
from lib.analysis import flow, format_p, sensitivity, solidity, stability, summary
from lib.charts.base import STATUS_LABELS
from lib.charts.results import likert_chart
from lib.textsafe import short

ui.require_router()

st.title("Statements")
ui.snapshot_caption()
cfg = ui.config()
m = ui.metrics()

latest = summary.latest_per_statement(m)
options = latest["statement_id"].tolist()
texts = dict(zip(latest["statement_id"], latest["text"], strict=True))
with st.container(horizontal=True, vertical_alignment="bottom"):
    domain = st.selectbox("Domain", ["All", *sorted(latest["domain"].unique())], key="st_domain")
    if domain != "All":
        options = latest[latest["domain"] == domain]["statement_id"].tolist()
    labels = {f"{s} — {short(texts[s], 90)}": s for s in options}
    sid = labels[st.selectbox("Statement", list(labels), key="st_statement")]

family = summary.lineage(ui.statements(), sid, ui.stat(flow.families))
ids = set(family["statement_id"])

st.subheader("Wording per round")
for row in summary.wording_history(family).itertuples():
    with st.container(border=True):
        st.caption(
            f"Round {row.round} · {ui.escape(row.statement_id)} · {ui.escape(row.domain)}"
            + (f" · revised from {ui.escape(row.revised)}" if row.revised else "")
            + (f" · {row.change}" if row.change else "")
        )
        if row.before is None:
            ui.plain(row.text)
        elif row.change != "unchanged":
            st.markdown(wording.diff_markdown(row.before, row.text))
if len(family["text"].unique()) > 1:
    st.caption(
        "Changes from the previous round's wording: :red[~~removed~~] words struck "
        "through, :blue[**added**] words in bold."
    )

dist = ui.distribution()
st.plotly_chart(
    ui.figure(
        likert_chart, dist[dist["statement_id"].isin(ids)], ui.scale_labels(), "Ratings per round"
    ),
    key="st_likert",
)

st.subheader("Metrics and status per round")
fam_metrics = m[m["statement_id"].isin(ids)].sort_values("round")
st.dataframe(
    fam_metrics.assign(status=fam_metrics["status"].map(STATUS_LABELS))[ui.columns.METRICS_SHOWN],
    hide_index=True,
    key="st_metrics",
    column_config=ui.columns.METRICS,
)

st.subheader("How solid is each result")
solid = ui.stat(solidity.solidity, cfg.rule, cfg.no_opinion_in_denominator)
solid = solid[solid["statement_id"].isin(ids)]
st.dataframe(
    solid.assign(
        status=solid["status"].map(STATUS_LABELS), flip_to=solid["flip_to"].map(STATUS_LABELS)
    ),
    hide_index=True,
    key="st_solidity",
    column_order=ui.columns.SOLIDITY_ORDER,
    column_config=ui.columns.SOLIDITY,
)
st.caption(
    "Wilson 95% interval for % agree (Newcombe 1998). Votes needed: the integer "
    f"cut-off of the rule. {solidity.FLIP_RULE}"
)

st.subheader("Stability between rounds")
stab = ui.stat(stability.stability, cfg.rule.agree)
stab = stab[stab["statement_id"].isin(ids)]
if stab.empty:
    st.caption("Rated in one round only: nothing to compare.")
else:
    st.dataframe(
        stab.assign(
            wilcoxon_p=stab["wilcoxon_p"].map(format_p), mcnemar_p=stab["mcnemar_p"].map(format_p)
        ),
        hide_index=True,
        key="st_stability",
        column_order=ui.columns.STABILITY_ORDER,
        column_config=ui.columns.STABILITY,
    )
    st.caption(stability.STABILITY_RULE)

st.subheader("Under other consensus definitions")
scale = (cfg.scale_min, cfg.scale_max, cfg.rule)
per = ui.stat(sensitivity.sensitivity_by_statement, *scale, cfg.no_opinion_in_denominator)
counts = ui.stat(sensitivity.sensitivity_counts, per, *scale)
names = {r: lab for r, lab in zip(counts["rule"], counts["label"], strict=True) if r in per}
st.dataframe(
    per[per["statement_id"].isin(ids)].replace(STATUS_LABELS),
    hide_index=True,
    key="st_rules",
    column_order=["round", "statement_id", *names],
    column_config={"round": ui.columns.ROUND, "statement_id": "ID", **names},
)
ui.inapplicable_captions(counts)

st.subheader("Comments")
if ui.at_least("committee") or cfg.observer_comments:
    comments = ui.comments()
    comments = comments[comments["statement_id"].isin(ids)]
    if comments.empty:
        st.caption("No comments on this statement.")
    elif len(comments) > ui.MANY_COMMENTS:  # a table scrolls and searches; 200 lines would not
        st.caption(f"{len(comments)} comments: search them with the table's search icon.")
        st.dataframe(
            comments[["round", "comment"]],
            hide_index=True,
            key="st_comments",
            column_config=ui.columns.COMMENTS,
        )
    else:
        for row in comments.itertuples():
            st.text(f"Round {row.round}: {row.comment}")
else:
    st.caption("Comments are shown to the steering committee only.")
