"""Data health: what the last build found, dollars that match no member month, claims run-out."""
import pandas as pd
import plotly.express as px
import streamlit as st

from vbc import health
from vbc.ui import context, widgets

ctx = context.current()
widgets.header(ctx, "Data health")

good = ctx.ws.good
st.markdown(
    f"Extracts: `{ctx.ws.data_dir}` · last good build {good.get('built_at')} · "
    f"attribution: {good.get('attribution_source')}")

if ctx.failed_report is not None:
    st.subheader("The newest extracts failed validation")
    st.error("Nothing below changed: the last good build keeps serving until these are fixed.")
    st.dataframe(pd.DataFrame([f.__dict__ for f in ctx.failed_report.errors])
                 [["table", "column", "rows", "message"]], hide_index=True)

report = ctx.ws.report()
st.subheader("Findings of the build now serving")
if report.findings:
    findings = pd.DataFrame([f.__dict__ for f in report.findings])
    findings["amount"] = findings["amount"].map(lambda a: "" if pd.isna(a) else f"${a:,.2f}")
    st.dataframe(findings[["severity", "table", "column", "rows", "amount", "message"]],
                 hide_index=True)
else:
    st.success("No problems found in the extracts.")

st.subheader("Dollars that match no member month")
unmatched = health.unmatched_dollars(ctx.ws, ctx.viewer)
if unmatched.empty:
    st.success("Every paid dollar falls in a month with eligibility for that person and payer.")
else:
    total = unmatched["paid_amount"].sum()
    st.warning(f"${total:,.2f} paid in {int(unmatched['claim_lines'].sum()):,} claim lines falls in "
               "months with no eligibility. These dollars are in no PMPM; they are listed here so "
               "they can be traced, not dropped silently.")
    st.dataframe(unmatched.assign(paid_amount=unmatched["paid_amount"].map("${:,.2f}".format)),
                 hide_index=True)

st.subheader("Rows per table")
st.dataframe(health.table_counts(ctx.ws), hide_index=True)

st.subheader("Claims run-out: how long claims take to be paid")
lag = health.payment_lag(ctx.ws)
if lag.empty:
    st.info("Not enough history (12 months) to measure payment lags yet.")
else:
    runout = health.runout_months(ctx.ws)
    fig = px.bar(lag, x="lag", y="cumulative",
                 labels={"lag": "Months from service to payment", "cumulative": "Share of dollars paid"})
    fig.update_traces(marker_color=widgets.BLUE)
    fig.update_layout(height=360, font=widgets.FONT, yaxis_tickformat=".0%", plot_bgcolor="white")
    st.plotly_chart(fig, key="lag_chart")
    st.caption(f"{health.COMPLETE_SHARE:.1%} of dollars are paid within {runout} month(s) of the "
               f"month of service, so the latest {runout} incurred month(s) are marked incomplete.")
