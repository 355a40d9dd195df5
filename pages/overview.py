"""Overview: the headline numbers for the period, by organization, and the monthly trend."""

import pandas as pd
import streamlit as st

from vbc import readings
from vbc.ui import context, notes, widgets

ctx = context.current()
widgets.header(ctx, "Overview")
notes.overdue_banner(ctx)

metrics = {m.id: m for m in ctx.registry.for_page("overview")}
HEADLINE = list(metrics)

totals = context.metrics(ctx, HEADLINE)
cols = st.columns(len(HEADLINE))
for col, metric_id in zip(cols, HEADLINE):
    rows = totals[totals["metric_id"] == metric_id]
    with col:
        widgets.metric_tile(metrics[metric_id], rows.iloc[0] if len(rows) else None)

st.subheader("By organization")
by_org = context.metrics(ctx, HEADLINE, by=["organization"])
tabs = st.tabs([metrics[m].name for m in HEADLINE])
for tab, metric_id in zip(tabs, HEADLINE):
    with tab:
        rows = by_org[by_org["metric_id"] == metric_id]
        st.dataframe(widgets.table_for_display(metrics[metric_id], rows, ["organization"]), hide_index=True)

st.subheader("Monthly trend")
incomplete_set = set(context.incomplete_months(ctx))
choice = st.radio(
    "Measure", HEADLINE, format_func=lambda m: metrics[m].name, horizontal=True, key="overview_trend"
)
# Every month of data, whatever the period: a season and a phase can only be judged over years.
# Dollars are charted completed for claims run-out, so recent months never read as a drop.
charted = ctx.registry.completed_of(choice) or metrics[choice]
chart = context.spc_chart(ctx, charted.id, target=charted.target)
if chart["series"]["suppressed"].any():
    st.info("Some months are suppressed in the de-identified view (fewer than 11 people or events).")
widgets.spc_chart(charted, chart["months"], chart["values"], chart, target=charted.target, key="overview_spc")
if not ctx.ws.good.get("paid_dates", True):
    widgets.no_paid_dates_note()
elif incomplete_set:
    st.caption(
        f"Incurred months {min(incomplete_set)} to {max(incomplete_set)} are inside the claims run-out "
        f"window at the paid-through date {ctx.stamp['paid_through']} (from how long claims in this "
        "extract take to be paid): they are drawn hollow and kept out of the limits, because their "
        "claims are still arriving"
        + (
            "; dollars are shown completed (the Cost page shows the range)."
            if charted.completed_from
            else "."
        )
    )
notes.under_chart(
    ctx,
    choice,
    chart,
    pd.DataFrame(readings.point_rows(chart)),
    f"{charted.id}_spc_by_month.csv",
    "overview",
    metric_ids=[charted.id],
)
