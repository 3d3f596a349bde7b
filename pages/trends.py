"""Trends: how agreement moved across rounds — per statement, for the whole panel, by rule."""

import streamlit as st

from lib import ui
from lib.analysis import agreement, flow, format_p, sensitivity, summary
from lib.analysis.rules import cutoff_votes
from lib.charts import trends as charts
from lib.charts.base import STATUS_LABELS
from lib.textsafe import short

ui.require_router()

st.title("Trends")
ui.snapshot_caption()
cfg = ui.config()
m = ui.metrics()
fams = ui.stat(flow.families)
threshold = cfg.rule.threshold
n_max = int(m["n"].max())
cut = f" ({cutoff_votes(threshold, n_max)} of {n_max} votes)" if threshold else ""

by_statement, by_panel, flow_tab, by_rule = st.tabs(
    ["Statements", "Panel agreement", "Flow of statements", "Consensus definitions"]
)

with by_statement:
    st.plotly_chart(ui.figure(charts.agreement_heatmap, m, fams, threshold), key="tr_heatmap")
    st.caption(
        "One row per statement; a revised statement stays on its original row "
        "(S07 → S07a → S07b). Numbers are % agreement of valid ratings."
    )
    st.subheader("Trajectories")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        mode = st.segmented_control(
            "Show", ["Domain", "Statements"], default="Domain", key="tr_mode"
        )
        if mode == "Statements":
            labels = list(dict.fromkeys(fams["family_label"]))
            revised = list(dict.fromkeys(fams.loc[fams["versions"] > 1, "family_label"]))
            chosen = st.multiselect(
                "Statements", labels, default=revised[:4], max_selections=8, key="tr_statements"
            )
            picked = fams.loc[fams["family_label"].isin(chosen), "family"]
        else:
            domain = st.selectbox("Domain", sorted(m["domain"].dropna().unique()), key="tr_domain")
            picked = fams.loc[
                fams["statement_id"].isin(m.loc[m["domain"] == domain, "statement_id"]), "family"
            ]
        repeated = st.toggle("Only statements rated more than once", value=True, key="tr_repeated")
    sel = summary.trajectory_rows(m, fams, picked, repeated)
    if sel.empty:
        st.info("No statement matches: pick others, or show statements rated only once.")
    else:
        st.plotly_chart(
            ui.figure(charts.trajectory_chart, sel, fams, threshold, cut), key="tr_traj"
        )

with by_panel:
    left, right = st.columns(2)
    kendall, alpha = ui.stat(agreement.kendall_w), ui.stat(agreement.krippendorff_alpha)
    left.plotly_chart(ui.figure(charts.iqr_chart, m), key="tr_iqr")
    right.plotly_chart(ui.figure(charts.agreement_index_chart, kendall, alpha), key="tr_w")
    st.caption(
        "Later rounds re-rate only the statements still without consensus, so indices "
        "from different rounds describe different statement sets. "
        + ui.escape(agreement.MISSING_RULE)
    )
    if st.toggle("Kendall's W per domain", key="tr_by_domain"):
        table = ui.stat(agreement.kendall_w, True)
        st.plotly_chart(ui.figure(charts.kendall_domain_chart, table), key="tr_w_domain")
    else:
        table = kendall.merge(alpha[["round", "alpha", "n_ratings"]], on="round")
    st.dataframe(
        table.assign(p=table["p"].map(format_p)),
        hide_index=True,
        key="tr_w_table",
        column_config=ui.columns.AGREEMENT_INDEX,
        column_order=[c for c in ui.columns.AGREEMENT_INDEX if c in table],
    )

with flow_tab:
    st.plotly_chart(ui.figure(charts.flow_sankey, ui.stat(flow.statement_flow)), key="tr_sankey")
    st.caption(
        "Statements with consensus leave the questionnaire; the others are carried "
        "unchanged, revised (orange) or dropped. Hover a band for the statement IDs."
    )

with by_rule:
    scale = (cfg.scale_min, cfg.scale_max, cfg.rule)
    per = ui.stat(sensitivity.sensitivity_by_statement, *scale, cfg.no_opinion_in_denominator)
    counts = ui.stat(sensitivity.sensitivity_counts, per, *scale)
    scopes = list(dict.fromkeys(counts.loc[counts["applicable"], "scope"]))
    scope = (
        st.segmented_control("Count statements in", scopes, default=scopes[-1], key="tr_scope")
        or scopes[-1]
    )
    st.plotly_chart(ui.figure(charts.sensitivity_chart, counts, scope), key="tr_rules")
    ui.inapplicable_captions(counts)
    st.caption(
        "Each statement's status under every rule, recomputed from the ratings of the "
        "round it was rated in. Had another rule been used, later rounds would have "
        "re-rated different statements."
    )
    only = st.toggle("Only statements where the rules disagree", value=True, key="tr_disagree")
    shown = per[per["rules_disagree"]] if only else per
    names = {r: lab for r, lab in zip(counts["rule"], counts["label"], strict=False) if r in per}
    texts = dict(zip(m["statement_id"], m["text"].map(lambda t: short(t, 80)), strict=False))
    st.dataframe(
        shown.assign(text=shown["statement_id"].map(texts)).replace(STATUS_LABELS),
        hide_index=True,
        key="tr_rules_table",
        column_order=["round", "statement_id", *names, "text"],
        column_config={
            "round": ui.columns.ROUND,
            "statement_id": "ID",
            "text": "Statement",
            **names,
        },
    )
