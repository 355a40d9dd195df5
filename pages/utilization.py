"""Utilization: events per 1,000 members per year and unit cost, with XmR trends. Layout only."""

import streamlit as st

from vbc import seasonality, spc
from vbc.engine import PER_1000_SCALE, data_period
from vbc.ui import context, widgets

ctx = context.current()
widgets.header(ctx, "Utilization")

metrics = {m.id: m for m in ctx.registry.for_page("utilization")}
IDS = list(metrics)

st.markdown(
    f"Per 1,000 members per year (member months ÷ 12), {ctx.period.label}; 95% intervals are "
    "exact Poisson for rates and clustered by person for unit costs."
)
totals = context.metrics(ctx, IDS)
for chunk in (IDS[:4], IDS[4:]):
    cols = st.columns(4)
    for col, metric_id in zip(cols, chunk):
        rows = totals[totals["metric_id"] == metric_id]
        with col:
            widgets.metric_tile(metrics[metric_id], rows.iloc[0] if len(rows) else None)

st.subheader("Monthly trend")
choice = st.radio(
    "Measure",
    IDS,
    format_func=lambda m: metrics[m].name,
    horizontal=False,
    key="util_trend",
    index=IDS.index("ed_visits_per_1000") if "ed_visits_per_1000" in IDS else 0,
)
monthly = context.metrics(ctx, [choice], by=["month"], period=data_period(ctx.ws))
months = sorted(monthly["month"].dropna().unique())
runout = set(context.incomplete_months(ctx))
incomplete = [m in runout for m in months]
rows = monthly.set_index("month").reindex(months)
if rows["suppressed"].fillna(False).any():
    st.info("Some months are suppressed in the de-identified view (fewer than 11 people or events).")
metric = metrics[choice]
chart = spc.monthly_chart(metric, rows["value"], kind="xmr", incomplete=incomplete, target=metric.target)
widgets.spc_chart(metric, months, rows["value"], chart, target=metric.target, key="util_spc")
complete = [m for m in months if m not in runout]
st.caption(
    f"XmR chart over every month of data (limits 2.66 × mean moving range). Months after "
    f"{complete[-1] if complete else '—'} are inside the claims run-out window ({len(runout)} month(s)): "
    "drawn hollow and kept out of the limits, because their claims are still arriving."
)

if metric.kind == "per_1000":
    shown = rows[~rows["suppressed"].fillna(False).astype(bool) & ~rows.index.isin(runout)]
    season = seasonality.winter_summer(
        shown.index, shown["numerator"], shown["denominator"], scale=PER_1000_SCALE
    )
    if season is not None:
        st.markdown(
            f"**Season:** winter months (Dec–Feb) average **{season.winter:,.1f}** per 1,000 a year "
            f"against **{season.summer:,.1f}** in summer (Jun–Aug): "
            f"{'+' if season.change >= 0 else '−'}{abs(season.change):.0%}."
        )
        if season.seasonal:
            st.caption(
                "A series this seasonal can cross its limits in its peak and trough months "
                "without any change in care: compare a winter high or a summer low with the "
                "same months a year earlier before reading it as a change."
            )
widgets.csv_download(monthly, ctx.stamp, f"{choice}_by_month.csv", key="util_csv")

st.subheader("By organization, TIN and PCP")
group = st.radio(
    "Group by",
    ["organization", "tin", "npi"],
    horizontal=True,
    key="util_group",
    format_func={"organization": "Organization", "tin": "TIN", "npi": "PCP"}.get,
)
by = context.metrics(ctx, IDS, by=[group])
tabs = st.tabs([metrics[m].name for m in IDS])
for tab, metric_id in zip(tabs, IDS):
    with tab:
        part = by[by["metric_id"] == metric_id]
        st.dataframe(
            widgets.table_for_display(metrics[metric_id], part, [group]), hide_index=True, width="stretch"
        )
