"""Trends: how agreement moved across rounds — per statement and group, for the panel, by rule."""

import streamlit as st

from lib import ui
from lib.analysis import agreement, flow, sensitivity, summary
from lib.charts import agreement as agreement_charts
from lib.charts import flow as flow_charts
from lib.charts import trends as charts

ui.require_router()

st.title("Trends")
ui.snapshot_caption()
ui.require_ratings()
cfg = ui.config()
m = ui.metrics()
fams = ui.stat(flow.families)
threshold = cfg.rule.threshold
cut = summary.cutoff_note(m, threshold)

tabs = ["Statements", "Groups", "Panel agreement", "Flow of statements", "Consensus definitions"]
by_statement, by_group, by_panel, flow_tab, by_rule = st.tabs(tabs)

with by_statement:
    shown = m
    if m["statement_id"].nunique() > summary.HEATMAP_ROWS:  # a study at scale: a page at a time
        with st.container(horizontal=True, vertical_alignment="bottom"):
            domains = ["All domains", *sorted(m["domain"].dropna().unique())]
            domain = st.selectbox("Domain", domains, key="tr_heat_domain")
            pages = summary.heatmap_pages(m, fams, None if domain == domains[0] else domain)
            page = st.selectbox("Rows", list(pages), key="tr_heat_page")
        shown = pages.get(page, next(iter(pages.values())))
    st.plotly_chart(ui.figure(charts.agreement_heatmap, shown, fams, threshold), key="tr_heatmap")
    st.caption(
        "One row per statement, named by its latest version: a revised statement stays on "
        "one row (hover a cell for its versions, e.g. S07 → S07a → S07b). Numbers are % "
        "agreement of valid ratings; ● consensus in, ■ consensus out."
    )
    st.subheader("Trajectories")
    picked, repeated = ui.trajectory_picker(m, fams)
    sel = summary.trajectory_rows(m, fams, picked, repeated)
    if sel.empty:
        st.info("No statement matches: pick others, or show statements rated only once.")
    else:
        st.plotly_chart(
            ui.figure(charts.trajectory_chart, sel, fams, threshold, cut), key="tr_traj"
        )

with by_group:  # per stakeholder group: heatmap, concordance, trajectories
    ui.group_trends(m, fams, key="tr_groups")

with by_panel:
    left, right = st.columns(2)
    kendall = ui.stat(agreement.kendall_w, False, cfg.scale_map)
    alpha = ui.stat(agreement.krippendorff_alpha, False, "ordinal", cfg.scale_map)
    left.plotly_chart(ui.figure(agreement_charts.iqr_chart, m), key="tr_iqr")
    right.plotly_chart(
        ui.figure(agreement_charts.agreement_index_chart, kendall, alpha), key="tr_w"
    )
    st.caption(summary.w_coverage(kendall) + " " + summary.W_READING)
    st.caption(
        "Later rounds re-rate only the statements still without consensus, so indices "
        "from different rounds describe different statement sets. "
        + ui.escape(agreement.MISSING_RULE)
    )
    if st.toggle("Kendall's W per domain", key="tr_by_domain"):
        table = summary.w_read(ui.stat(agreement.kendall_w, True, cfg.scale_map))
        st.plotly_chart(ui.figure(agreement_charts.kendall_domain_chart, table), key="tr_w_domain")
    else:
        table = summary.agreement_indices(kendall, alpha)
    ui.agreement_table(table, key="tr_w_table")

with flow_tab:
    st.plotly_chart(
        ui.figure(flow_charts.flow_sankey, ui.stat(flow.statement_flow)), key="tr_sankey"
    )
    st.caption(
        "Statements with consensus leave the questionnaire; the others are carried "
        "unchanged, revised (orange) or dropped. Hover a band for the statement IDs."
    )

with by_rule:
    per = summary.with_study_status(ui.stat(sensitivity.sensitivity_by_scale, cfg.scale_map), m)
    superseded = summary.superseded_ids(m)
    counts = ui.stat(summary.rule_counts, per, cfg.scale_map, superseded)
    scopes = list(dict.fromkeys(counts.loc[counts["applicable"], "scope"]))
    scope = st.segmented_control("Count statements in", scopes, default=scopes[-1], key="tr_scope")
    scope = scope or scopes[-1]
    st.plotly_chart(ui.figure(flow_charts.sensitivity_chart, counts, scope), key="tr_rules")
    ui.inapplicable_captions(counts)
    st.caption(
        "Each statement's status under every rule, recomputed from the ratings of the "
        "round it was rated in. “Final versions” counts each statement once, at the last "
        "round it was rated, as the Overview and the report do; a round counts every wording "
        "rated in it. Had another rule been used, later rounds would have re-rated different "
        "statements."
    )
    only = st.toggle("Only statements where the rules disagree", value=True, key="tr_disagree")
    shown = per[per["rules_disagree"]] if only else per
    ui.rules_table(shown, counts, key="tr_rules_table", texts=summary.short_texts(m, 80))
