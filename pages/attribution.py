"""Attribution: who counts for each organization, why, and who was gained or lost each month."""

import plotly.express as px
import streamlit as st

from vbc import attribution, charts
from vbc.attribution import AttributionSettings
from vbc.security import NotEntitled
from vbc.ui import context, widgets

SHOWN_ROWS = 1_000

ctx = context.current()
widgets.header(ctx, "Attribution")


c1, c2, c3 = st.columns(3)
with c1:
    mode = st.radio(
        "Assignment",
        ["retrospective", "prospective"],
        horizontal=True,
        key="attr_mode",
        help="Retrospective: the 12 or 24 months ending with each month (at year end, the "
        "year's claims). Prospective: the window ending the December before the year.",
    )
with c2:
    window = st.radio("Window (months)", [12, 24], horizontal=True, key="attr_window")
with c3:
    levels = {
        "Organization": ("organization",),
        "TIN": ("organization", "tin"),
        "PCP (NPI)": ("organization", "tin", "npi"),
    }
    level = st.radio("Count by", list(levels), horizontal=True, key="attr_level")

data = context.compute(
    ctx,
    attribution.page_data,
    start=ctx.period.start,
    end=ctx.period.end,
    settings=AttributionSettings(window, mode),
    by=levels[level],
)
if data["supplied"]:
    st.info(
        "Attribution comes from the payer-supplied provider_attribution extract; the settings above "
        "do not apply."
    )
counts = data["counts"].copy()
if ctx.organization:
    counts = counts[counts["organization"] == ctx.organization]
counts["organization"] = counts["organization"].fillna("Independent (no organization)")

st.subheader("Attributed members over time")
group = {"Organization": "organization", "TIN": "tin", "PCP (NPI)": "npi"}[level]
plot = counts.dropna(subset=["members"])
if group != "organization":
    top = plot.groupby(group)["members"].mean().nlargest(12).index
    plot = plot[plot[group].isin(top)]
if plot.empty:
    st.info("No attributed members to show for this selection.")
else:
    fig = px.line(
        plot,
        x="month",
        y="members",
        color=group,
        markers=True,
        color_discrete_sequence=[
            charts.BLUE,
            charts.ORANGE,
            charts.GREY,
            "#56B4E9",
            "#009E73",
            "#CC79A7",
            "#D55E00",
            "#F0E442",
        ],
    )
    fig.update_layout(
        height=420,
        font=charts.FONT,
        plot_bgcolor="white",
        legend_title_text=level,
        yaxis=dict(title="Attributed members", gridcolor="#EEEEEE", tickformat=",.0f"),
        xaxis_title=None,
        margin=dict(l=10, r=10, t=30, b=10),
    )
    st.plotly_chart(fig, key="attr_counts")
if group != "organization" and counts[group].nunique() > 12:
    st.caption("The 12 largest are drawn; the table has them all.")
if counts["suppressed"].any():
    st.caption(
        "Counts from 1 to 10 are suppressed in the de-identified view (and a second count where "
        "a hidden one could be worked out from a total)."
    )
show = counts.rename(
    columns={
        "month": "Month",
        "organization": "Organization",
        "tin": "TIN",
        "npi": "PCP NPI",
        "members": "Attributed members",
    }
)
show["Attributed members"] = [
    "suppressed" if s else f"{v:,.0f}" for v, s in zip(counts["members"], counts["suppressed"])
]
st.dataframe(show.drop(columns=["suppressed"]), hide_index=True, key="attr_counts_table")

st.subheader("Gained and lost, month over month, by reason")
moves = data["moves"].copy()
orgs = sorted(moves["organization"].dropna().unique())
if ctx.organization:
    orgs = [o for o in orgs if o == ctx.organization]
if not orgs:
    st.info("No organization has attributed members in this period.")
else:
    org = orgs[0] if len(orgs) == 1 else st.selectbox("Organization", orgs, key="attr_moves_org")
    m = moves[moves["organization"] == org].copy()
    m["signed"] = m["members"].where(m["direction"] == "gained", -m["members"])
    fig = px.bar(
        m.dropna(subset=["signed"]),
        x="month",
        y="signed",
        color="reason",
        category_orders={"reason": [*attribution.GAIN_REASONS, *attribution.LOSS_REASONS]},
        color_discrete_sequence=[
            charts.BLUE,
            "#56B4E9",
            "#009E73",
            charts.ORANGE,
            "#D55E00",
            charts.GREY,
            "#CC79A7",
        ],
    )
    fig.update_layout(
        height=420,
        font=charts.FONT,
        plot_bgcolor="white",
        barmode="relative",
        yaxis=dict(title="Members (gained above 0, lost below)", gridcolor="#EEEEEE"),
        xaxis_title=None,
        legend_title_text="Reason",
        margin=dict(l=10, r=10, t=30, b=10),
    )
    st.plotly_chart(fig, key="attr_moves")
    wide = m.assign(
        members=["suppressed" if s else f"{v:,.0f}" for v, s in zip(m["members"], m["suppressed"])]
    )
    wide = wide.pivot_table(
        index=["direction", "reason"], columns="month", values="members", aggfunc="first"
    ).reset_index()
    st.dataframe(wide, hide_index=True, key="attr_moves_table")
    st.caption(
        "Lost: disenrolled, died, moved to another TIN (attributed elsewhere), no qualifying visit "
        "(still enrolled, no primary care service left in the window). Gained: new enrollee, moved "
        "from another TIN, new qualifying visit."
    )

st.subheader("Members and the reason for each")
if not ctx.viewer.member_level:
    st.info(
        "Member-level attribution and the member lookup are not available in the joint "
        "(de-identified) view; the counts above are."
    )
    st.stop()
members = data["members"]
if ctx.organization:
    members = members[members["organization"] == ctx.organization]
month = ctx.period.end.replace(day=1)
st.caption(
    f"In force in {month:%Y-%m}: {int(members['tin'].notna().sum()):,} attributed of "
    f"{len(members):,} enrolled members in this view."
)
listing = members[["person_id", "organization", "tin", "npi", "step", "reason"]]
# Tens of thousands of rows would be sent to the browser on every change of the page; the list
# shows the first rows, the CSV holds every one and the lookup below finds any member.
st.dataframe(listing.head(SHOWN_ROWS), hide_index=True, key="attr_members", height=300)
if len(listing) > SHOWN_ROWS:
    st.caption(
        f"The first {SHOWN_ROWS:,} of {len(listing):,} rows; the CSV has every row, and the lookup "
        "below finds any member."
    )
widgets.csv_download(listing, ctx.stamp, f"attribution_{month:%Y-%m}.csv", key="attr_csv")

pid = st.text_input(
    "Look up a member (person_id)",
    key="attr_lookup",
    value=str(listing[listing["tin"].notna()]["person_id"].iloc[0]) if listing["tin"].notna().any() else "",
)
if pid:
    try:
        detail = context.compute(
            ctx,
            attribution.lookup,
            person_id=pid.strip(),
            month=month,
            settings=AttributionSettings(window, mode),
        )
    except NotEntitled as exc:
        detail = None
        st.warning(str(exc))
    if detail is None:
        st.warning("No such member in your view for this month.")
    else:
        st.markdown(f"**{pid}** — {detail['reason']}")
        if len(detail["by_tin"]):
            st.markdown("Allowed charges for primary care services by TIN (the rule compares these):")
            st.dataframe(detail["by_tin"], hide_index=True, key="attr_by_tin")
            st.markdown("Qualifying services in the window:")
            st.dataframe(detail["services"], hide_index=True, key="attr_services")
