"""Panel: who was invited and who responded, by round and by panel attribute, and whether
those who dropped out rated differently. Counts only: no identities, no pseudonyms."""

import streamlit as st

from lib import charts, stats, ui

ui.require_router()

st.title("Panel")
ui.snapshot_caption()
cfg = ui.config()
committee = ui.at_least("committee")
small = None if committee else cfg.min_group_size

part = ui.cached_stat("participation")
first, last = part.iloc[0], part.iloc[-1]
with st.container(horizontal=True):
    st.metric("Invited", int(first["invited"]), border=True)
    st.metric("Responded, round 1", f"{int(first['responded'])} ({first['response_rate']:.0f}%)",
              border=True)
    st.metric(f"Responded, round {int(last['round'])}",
              f"{int(last['responded'])} ({last['response_rate']:.0f}%)", border=True)
    st.metric("Lost since round 1", int(first["responded"] - last["responded"]), border=True)

st.plotly_chart(ui.figure(charts.participation_chart, part), key="pa_chart")
st.dataframe(part, hide_index=True, key="pa_table", column_config={
    "round": st.column_config.NumberColumn("Round", format="%d"), "invited": "Invited",
    "responded": "Responded", "response_rate": st.column_config.NumberColumn(
        "Response %", format="%.0f"), "new": "New", "retained": "Retained", "lost": "Lost",
    "attrition_pct": st.column_config.NumberColumn("Attrition %", format="%.0f")})

st.subheader("Participation by panel attribute")
by_attr = ui.cached_stat("participation_by_attribute", small)
if by_attr.empty:
    st.caption("The panel list has no attributes to break participation down by.")
else:
    attr = st.selectbox("Attribute", sorted(by_attr["attribute"].unique()), key="pa_attribute")
    f = by_attr[by_attr["attribute"] == attr]
    shown = f.assign(cell=[h or f"{r:.0f} of {i:.0f}" for h, r, i in
                           zip(f["hidden"], f["responded"], f["invited"], strict=True)])
    table = shown.pivot(index="group", columns="round", values="cell")
    table.columns = [f"Round {c}" for c in table.columns]
    st.plotly_chart(ui.figure(charts.group_rate_chart, by_attr, attr), key="pa_group_chart")
    st.dataframe(table.reset_index().rename(columns={"group": "Group"}),
                 hide_index=True, key="pa_group_table")
    if small:
        st.caption(f"Groups smaller than {small} are hidden; if only one group would be hidden, "
                   "the next smallest is hidden too, so its size cannot be worked out.")

st.subheader("Did those who dropped out rate differently?")
groups, test = ui.cached_stat("attrition_bias", cfg.rule.agree)
dropped = int(groups.loc[groups["group"] == "dropped out", "n_panelists"].iloc[0])
if dropped == 0:
    st.caption("Nobody who rated in round 1 missed the last round.")
elif small and dropped < small:
    st.caption(f"Fewer than {small} panelists dropped out: their ratings are shown to the "
               "steering committee only.")
else:
    st.dataframe(groups, hide_index=True, key="pa_attrition", column_config={
        "group": "Round-1 ratings of", "n_panelists": "Panelists", "n_ratings": "Ratings",
        "mean_rating": st.column_config.NumberColumn("Mean rating", format="%.2f"),
        "pct_agree": st.column_config.NumberColumn("% agree", format="%.0f")})
    t = test.iloc[0]
    st.caption(f"Mann-Whitney U = {t['u']:.1f}, p = {stats.format_p(t['p'])}" if not t["note"]
               else f"No test: {t['note']}.")
st.caption(stats.ATTRITION_RULE)
