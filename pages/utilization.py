"""Utilization: events per 1,000 members per year and unit cost, with XmR trends. Layout only."""

import pandas as pd
import streamlit as st

from vbc.engine import data_period, describe
from vbc.ui import context, widgets

ctx = context.current()
widgets.header(ctx, "Utilization")

RATES = [
    "inpatient_admits_per_1000",
    "inpatient_days_per_1000",
    "ed_visits_per_1000",
    "snf_admits_per_1000",
    "office_visits_per_1000",
    "advanced_imaging_per_1000",
]
UNIT_COSTS = ["cost_per_admission", "cost_per_ed_visit"]
IDS = [m for m in RATES + UNIT_COSTS if m in ctx.registry.metrics]
metrics = {m: describe(ctx.registry, m) for m in IDS}

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
full = data_period(ctx.ws)
choice = st.radio(
    "Measure",
    IDS,
    format_func=lambda m: metrics[m].name,
    horizontal=False,
    key="util_trend",
    index=IDS.index("ed_visits_per_1000") if "ed_visits_per_1000" in IDS else 0,
)
monthly = context.metrics(ctx, [choice], by=["month"], period=full)
months = sorted(monthly["month"].dropna().unique())
runout = context.runout_months(str(ctx.ws.data_dir), ctx.build_id)
last_complete = len(months) - runout
rows = monthly.set_index("month").reindex(months)
incomplete = [i >= last_complete for i in range(len(months))]
if rows["suppressed"].fillna(False).any():
    st.info("Some months are suppressed in the de-identified view (fewer than 11 people or events).")
metric = metrics[choice]
widgets.spc_chart(
    metric,
    months,
    rows["value"].tolist(),
    kind="xmr",
    incomplete=incomplete,
    target=metric.target,
    key="util_spc",
)
st.caption(
    f"XmR chart over every month of data (limits 2.66 × mean moving range). Months after "
    f"{months[last_complete - 1] if last_complete > 0 else '—'} are inside the claims run-out window "
    f"({runout} month(s)): drawn hollow and kept out of the limits, because their claims are still arriving."
)

# Seasonality in plain words: winter (Dec-Feb) against summer (Jun-Aug), complete months only.
season = rows.iloc[: max(last_complete, 0)].copy()
season = season[~season["suppressed"].fillna(False).astype(bool)]
if len(season) and metric.kind == "per_1000":
    mon = pd.Index(season.index).str[-2:].astype(int)
    winter = season[mon.isin([12, 1, 2])]
    summer = season[mon.isin([6, 7, 8])]
    if winter["denominator"].sum() > 0 and summer["denominator"].sum() > 0 and summer["numerator"].sum() > 0:
        w = winter["numerator"].sum() / winter["denominator"].sum() * 12_000
        s = summer["numerator"].sum() / summer["denominator"].sum() * 12_000
        st.markdown(
            f"**Season:** winter months (Dec–Feb) average **{w:,.1f}** per 1,000 a year against "
            f"**{s:,.1f}** in summer (Jun–Aug): {'+' if w >= s else '−'}{abs(w / s - 1):.0%}."
        )
        if abs(w / s - 1) >= 0.15:
            # XmR limits assume no season; a seasonal series trips them at its peaks and troughs.
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
