"""Utilization: events per 1,000 members per year and unit cost, with XmR trends. Layout only."""

import pandas as pd
import streamlit as st

from vbc import readings, seasonality
from vbc.engine import PER_1000_SCALE
from vbc.ui import context, notes, widgets

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
metric = metrics[choice]
chart = context.spc_chart(ctx, choice, target=metric.target)
series = chart["series"]
if series["suppressed"].any():
    st.info("Some months are suppressed in the de-identified view (fewer than 11 people or events).")
widgets.spc_chart(metric, chart["months"], chart["values"], chart, target=metric.target, key="util_spc")
runout = series.loc[series["incomplete"], "month"].tolist()
complete = series.loc[~series["incomplete"], "month"].tolist()
st.caption(
    "XmR chart over every month of data (limits 2.66 × the mean moving range, computed per phase). "
    f"Months after {complete[-1] if complete else '—'} are inside the claims run-out window "
    f"({len(runout)} month(s)): drawn hollow and kept out of the limits, because their claims are "
    "still arriving."
)

if metric.kind == "per_1000":
    shown = series[~series["suppressed"] & ~series["incomplete"]]
    season = seasonality.winter_summer(
        shown["month"], shown["numerator"], shown["denominator"], scale=PER_1000_SCALE
    )
    if season is not None:
        st.markdown(
            f"**Season:** winter months (Dec–Feb) average **{season.winter:,.1f}** per 1,000 a year "
            f"against **{season.summer:,.1f}** in summer (Jun–Aug): "
            f"{'+' if season.change >= 0 else '−'}{abs(season.change):.0%}. "
            + (
                "The chart judges each month against the usual level for its time of year, so a "
                "winter peak or a summer trough is not read as a change in care."
                if chart["season"] is not None and chart["season"].seasonal
                else ""
            )
        )
notes.under_chart(
    ctx,
    choice,
    chart,
    pd.DataFrame(readings.point_rows(chart)),
    f"{choice}_spc_by_month.csv",
    "util",
    metric_ids=[choice],
)

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
