"""Panel: who was invited and who responded, by round and by panel attribute, whether those who
dropped out rated differently, and how many meet the pre-registered eligibility criteria.
Counts only: no identities, no pseudonyms; groups under the minimum are pooled for every role,
as in the report (the coordinator has the sheet)."""

import streamlit as st

from lib import ui
from lib.analysis import format_p, groups, participation, summary
from lib.charts.panel import group_rate_chart, participation_chart

ui.require_router()

st.title("Panel")
ui.snapshot_caption()
ui.require_ratings()
cfg = ui.config()
small = cfg.min_group_size

part = ui.stat(participation.participation)
first, last = part.iloc[0], part.iloc[-1]
with st.container(horizontal=True):
    st.metric("Invited", int(first["invited"]), border=True)
    st.metric(
        "Responded, round 1",
        f"{int(first['responded'])} ({first['response_rate']:.0f}%)",
        border=True,
    )
    st.metric(
        f"Responded, round {int(last['round'])}",
        f"{int(last['responded'])} ({last['response_rate']:.0f}%)",
        border=True,
    )
    st.metric("Lost since round 1", int(first["responded"] - last["responded"]), border=True)

st.plotly_chart(ui.figure(participation_chart, part), key="pa_chart")
st.dataframe(
    summary.participation_view(part),
    hide_index=True,
    key="pa_table",
    column_config=ui.columns.PARTICIPATION,
)
st.caption("Retained, lost and attrition compare each round with the one before: “—” in round 1.")

st.subheader("Participation by panel attribute")
by_attr = ui.stat(participation.participation_by_attribute, small)
if by_attr.empty:
    st.caption("The panel list has no attributes to break participation down by.")
else:
    attr = st.selectbox("Attribute", sorted(by_attr["attribute"].unique()), key="pa_attribute")
    if summary.all_groups_hidden(by_attr, attr, groups.other_label(small)):
        st.info(
            f"Every group of “{ui.escape(attr)}” has fewer than {small} panelists, so none is "
            "shown on its own (they are pooled, or hidden): the table below gives their counts "
            "together, and there is no group to compare in a chart.",
            icon=":material/visibility_off:",
        )
    else:
        st.plotly_chart(ui.figure(group_rate_chart, by_attr, attr), key="pa_group_chart")
    st.dataframe(summary.attribute_table(by_attr, attr), hide_index=True, key="pa_group_table")
    st.caption(groups.pooling_rule(small))

st.subheader("Did those who dropped out rate differently?")
attrition = ui.stat(participation.attrition_groups, cfg.rule.agree, small, cfg.scale_map)
dropped = int(attrition.loc[attrition["group"] == "dropped out", "n_panelists"].iloc[0])
if dropped == 0:
    st.caption("Nobody who rated in round 1 missed the last round.")
elif participation.attrition_too_small(attrition["n_panelists"], small):
    stayed = int(attrition.loc[attrition["group"] == "stayed", "n_panelists"].iloc[0])
    st.caption(
        f"Dropped out: {dropped}; stayed: {stayed}. With fewer than {small} panelists in a "
        "group, its round-1 ratings could be one person's, so neither group's are shown."
    )
else:
    st.dataframe(attrition, hide_index=True, key="pa_attrition", column_config=ui.columns.ATTRITION)
    t = ui.stat(participation.attrition_test, small).iloc[0]
    st.caption(
        f"Mann-Whitney U = {t['u']:.1f}, p = {format_p(t['p'])}"
        if not t["note"]
        else f"No test: {t['note']}."
    )
st.caption(participation.ATTRITION_RULE)

st.subheader("Eligibility (pre-registered criteria)")
ui.eligibility_counts()  # counts for everyone; what changes without them, committee and up
