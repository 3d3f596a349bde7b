"""Statements: one statement across rounds — wording and its changes, distribution, metrics,
how solid the result is, stability between rounds, other consensus rules, comments."""

import streamlit as st

from lib import charts, stats, summary, ui, wording
from lib.charts import STATUS_LABELS
from lib.textsafe import short

ui.require_router()

NUM = st.column_config.NumberColumn
ROUND = NUM("Round", format="%d")

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

family = summary.lineage(stmts, sid, ui.cached_stat("families"))
fam_metrics = m[m["statement_id"].isin(family["statement_id"])].sort_values("round")

st.subheader("Wording per round")
wording_of: dict[str, str] = {}  # each id's latest wording so far: what a version changed
for row in family.itertuples():
    revised = isinstance(row.revised_from, str) and row.revised_from  # NaN when not revised
    before = wording_of.get(row.statement_id, wording_of.get(row.revised_from if revised else ""))
    change = wording.change_summary(before, row.text) if before is not None else ""
    with st.container(border=True):
        st.caption(f"Round {row.round} · {ui.escape(row.statement_id)} · {ui.escape(row.domain)}"
                   + (f" · revised from {ui.escape(row.revised_from)}" if revised else "")
                   + (f" · {change}" if change else ""))
        if before is None:
            ui.plain(row.text)
        elif change != "unchanged":
            st.markdown(wording.diff_markdown(before, row.text))
    wording_of[row.statement_id] = row.text
if len(family["text"].unique()) > 1:
    st.caption("Changes from the previous round's wording: :red[~~removed~~] words struck "
               "through, :blue[**added**] words in bold.")

dist = ui.load("distribution_for")
dist = dist[dist["statement_id"].isin(family["statement_id"])]
st.plotly_chart(ui.figure(charts.likert_chart, dist, ui.scale_labels(), "Ratings per round"),
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

fam_ids = set(family["statement_id"])
st.subheader("How solid is each result")
solid = ui.cached_stat("solidity", cfg.rule, cfg.no_opinion_in_denominator)
solid = solid[solid["statement_id"].isin(fam_ids)]
st.dataframe(
    solid.assign(status=solid["status"].map(STATUS_LABELS),
                 flip_to=solid["flip_to"].map(STATUS_LABELS)),
    hide_index=True, key="st_solidity",
    column_order=["round", "statement_id", "n_agree", "denominator", "pct_agree", "ci_low",
                  "ci_high", "cutoff", "status", "votes_to_flip", "flip_to", "note"],
    column_config={"round": ROUND, "statement_id": "ID", "n_agree": "Agree",
                   "denominator": "Of", "pct_agree": NUM("% agree", format="%.0f"),
                   "ci_low": NUM("95% CI from", format="%.0f"),
                   "ci_high": NUM("95% CI to", format="%.0f"), "cutoff": "Votes needed",
                   "status": "Status", "votes_to_flip": "Votes to flip",
                   "flip_to": "Would become", "note": "Note"})
st.caption("Wilson 95% interval for % agree (Newcombe 1998). Votes needed: the integer "
           f"cut-off of the rule. {stats.FLIP_RULE}")

st.subheader("Stability between rounds")
stab = ui.cached_stat("stability", cfg.rule.agree)
stab = stab[stab["statement_id"].isin(fam_ids)]
if stab.empty:
    st.caption("Rated in one round only: nothing to compare.")
else:
    st.dataframe(
        stab.assign(wilcoxon_p=stab["wilcoxon_p"].map(stats.format_p),
                    mcnemar_p=stab["mcnemar_p"].map(stats.format_p)),
        hide_index=True, key="st_stability",
        column_order=["round", "statement_id", "prev_statement_id", "verdict", "n_paired",
                      "pct_changed", "mean_change", "cv_change_pct", "wilcoxon_p", "mcnemar_p",
                      "n_to_agree", "n_from_agree", "cv_prev", "cv", "note"],
        column_config={"round": ROUND, "statement_id": "ID", "prev_statement_id": "Compared with",
                       "n_paired": "Rated both", "pct_changed": NUM("% changed", format="%.0f"),
                       "mean_change": NUM("Δ mean", format="%+.2f"),
                       "cv_prev": NUM("CV before", format="%.2f"),
                       "cv": NUM("CV after", format="%.2f"),
                       "cv_change_pct": NUM("Δ CV %", format="%+.0f"),
                       "wilcoxon_p": "Wilcoxon p", "n_to_agree": "→ agree",
                       "n_from_agree": "agree →", "mcnemar_p": "McNemar p",
                       "verdict": "Verdict", "note": "Note"})
    st.caption(stats.STABILITY_RULE)

st.subheader("Under other consensus definitions")
counts, per = ui.cached_stat("sensitivity", cfg.scale_min, cfg.scale_max, cfg.rule,
                             cfg.no_opinion_in_denominator)
names = {r: lab for r, lab in zip(counts["rule"], counts["label"], strict=True) if r in per}
st.dataframe(per[per["statement_id"].isin(fam_ids)].replace(STATUS_LABELS), hide_index=True,
             key="st_rules", column_order=["round", "statement_id", *names],
             column_config={"round": ROUND, "statement_id": "ID", **names})
for row in counts[~counts["applicable"]].itertuples():
    st.caption(f"{ui.escape(row.label)}: {ui.escape(row.note)}.")

st.subheader("Comments")
if ui.at_least("committee") or cfg.observer_comments:
    comments = ui.load("comments_for")
    comments = comments[comments["statement_id"].isin(family["statement_id"])]
    if comments.empty:
        st.caption("No comments on this statement.")
    elif len(comments) > ui.MANY_COMMENTS:  # a table scrolls and searches; 200 lines would not
        st.caption(f"{len(comments)} comments: search them with the table's search icon.")
        st.dataframe(comments[["round", "comment"]], hide_index=True, key="st_comments",
                     column_config={"round": ROUND,
                                    "comment": st.column_config.TextColumn("Comment",
                                                                           width="large")})
    else:
        for row in comments.itertuples():
            st.text(f"Round {row.round}: {row.comment}")
else:
    st.caption("Comments are shown to the steering committee only.")
