"""Panel: who was invited and who responded, by round and by panel attribute, and whether
those who dropped out rated differently. Counts only: no identities, no pseudonyms."""

import streamlit as st

from lib import ui
from lib.analysis import format_p, participation, summary
from lib.charts.panel import group_rate_chart, participation_chart

ui.require_router()

st.title("Panel")
ui.snapshot_caption()
cfg = ui.config()
committee = ui.at_least("committee")
small = None if committee else cfg.min_group_size

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
st.dataframe(part, hide_index=True, key="pa_table", column_config=ui.columns.PARTICIPATION)

st.subheader("Participation by panel attribute")
by_attr = ui.stat(participation.participation_by_attribute, small)
if by_attr.empty:
    st.caption("The panel list has no attributes to break participation down by.")
else:
    attr = st.selectbox("Attribute", sorted(by_attr["attribute"].unique()), key="pa_attribute")
    st.plotly_chart(ui.figure(group_rate_chart, by_attr, attr), key="pa_group_chart")
    st.dataframe(summary.attribute_table(by_attr, attr), hide_index=True, key="pa_group_table")
    if small:
        st.caption(
            f"Groups smaller than {small} are hidden; if only one group would be hidden, "
            "the next smallest is hidden too, so its size cannot be worked out."
        )

st.subheader("Did those who dropped out rate differently?")
groups = ui.stat(participation.attrition_groups, cfg.rule.agree)
dropped = int(groups.loc[groups["group"] == "dropped out", "n_panelists"].iloc[0])
if dropped == 0:
    st.caption("Nobody who rated in round 1 missed the last round.")
elif small and dropped < small:
    st.caption(
        f"Fewer than {small} panelists dropped out: their ratings are shown to the "
        "steering committee only."
    )
else:
    st.dataframe(groups, hide_index=True, key="pa_attrition", column_config=ui.columns.ATTRITION)
    t = ui.stat(participation.attrition_test).iloc[0]
    st.caption(
        f"Mann-Whitney U = {t['u']:.1f}, p = {format_p(t['p'])}"
        if not t["note"]
        else f"No test: {t['note']}."
    )
st.caption(participation.ATTRITION_RULE)
