"""Data health: what the last build found, dollars that match no member month, claims run-out."""

import pandas as pd
import plotly.express as px
import streamlit as st

from vbc import charts, completion, health
from vbc.ui import context, widgets

ctx = context.current()
widgets.header(ctx, "Data health")

good = ctx.ws.good
st.markdown(
    f"Extracts: `{ctx.ws.data_dir}` · last good build {good.get('built_at')} · "
    f"attribution: {good.get('attribution_source')}"
)

if ctx.failed_report is not None:
    st.subheader("The newest extracts failed validation")
    st.error("Nothing below changed: the last good build keeps serving until these are fixed.")
    st.dataframe(
        pd.DataFrame([f.__dict__ for f in ctx.failed_report.errors])[["table", "column", "rows", "message"]],
        hide_index=True,
    )

report = ctx.ws.report()
st.subheader("Findings of the build now serving")
if report.findings:
    findings = pd.DataFrame([f.__dict__ for f in report.findings])
    findings["amount"] = findings["amount"].map(lambda a: "" if pd.isna(a) else f"${a:,.2f}")
    findings["column"] = findings["column"].fillna("")
    st.dataframe(findings[["severity", "table", "column", "rows", "amount", "message"]], hide_index=True)
else:
    st.success("No problems found in the extracts.")

st.subheader("Dollars that match no member month")
unmatched = health.unmatched_dollars(ctx.ws, ctx.viewer)
if unmatched.empty:
    st.success("Every paid dollar falls in a month with eligibility for that person and payer.")
else:
    total = unmatched["paid_amount"].sum()
    st.warning(
        f"${total:,.2f} paid in {int(unmatched['claim_lines'].sum()):,} claim lines falls in "
        "months with no eligibility. These dollars are in no PMPM; they are listed here so "
        "they can be traced, not dropped silently."
    )
    st.dataframe(
        unmatched.assign(paid_amount=unmatched["paid_amount"].map("${:,.2f}".format)), hide_index=True
    )

st.subheader("Corrections: reversals and adjustments netted")
netted = health.corrections(ctx.ws)
if netted.empty:
    st.success("No reversal, adjustment or replacement lines in this delivery.")
else:
    st.markdown(
        "Negative and re-issued lines of the same claim line are netted before any number is "
        "computed; a claim fully reversed counts as no service; a claim that names the one it "
        "replaces replaces it. Reversals whose original is not in the extract are left out of "
        "every total and listed below."
    )
    st.dataframe(
        pd.DataFrame(
            {
                "Table": netted["table"],
                "Lines delivered": netted["lines_delivered"].map("{:,}".format),
                "Lines after netting": netted["lines_after_netting"].map("{:,}".format),
                "Dollars reversed": netted["reversed_dollars"].map(lambda v: f"${-v:,.2f}"),
                "Claims replaced": netted["claims_replaced"],
                "Orphan reversal lines": netted["orphan_lines"],
                "Orphan dollars": netted["orphan_dollars"].map(lambda v: f"${-v:,.2f}"),
            }
        ),
        hide_index=True,
    )
    orphans = health.orphan_reversals(ctx.ws, ctx.viewer)
    if len(orphans):
        st.warning(
            f"{len(orphans):,} reversal line(s) (${-orphans['paid_amount'].sum():,.2f}) reverse claims "
            "that are not in the extract, for example because they were paid before it starts."
        )
        st.dataframe(
            orphans.assign(paid_amount=orphans["paid_amount"].map("${:,.2f}".format)), hide_index=True
        )

st.subheader("This delivery against the last good build")
tables, months = health.delivery_comparison(ctx.ws)
if tables.empty:
    st.info("The first build of these extracts: nothing to compare with yet.")
else:
    if ctx.ws.good.get("accepted_shrink"):
        st.warning("This delivery shrank against the previous build and was taken with --accept-shrink.")
    st.dataframe(
        pd.DataFrame(
            {
                "Table": tables["table"],
                "Rows in the last good build": tables["rows_before"].map(
                    lambda v: "" if pd.isna(v) else f"{int(v):,}"
                ),
                "Rows now": tables["rows_now"].map("{:,}".format),
            }
        ),
        hide_index=True,
    )
    if months.empty:
        st.caption("No incurred month's paid dollars changed by more than 1%.")
    else:
        st.markdown("Incurred months whose paid dollars changed by more than 1%:")
        st.dataframe(
            pd.DataFrame(
                {
                    "Table": months["table"],
                    "Incurred month": months["month"],
                    "Paid in the last good build": months["paid_before"].map(
                        lambda v: "" if pd.isna(v) else f"${v:,.2f}"
                    ),
                    "Paid now": months["paid_now"].map("${:,.2f}".format),
                    "Change": months["change"].map(lambda v: "new" if pd.isna(v) else f"{v:+.1%}"),
                }
            ),
            hide_index=True,
        )

st.subheader("Rows per table")
counts = health.table_counts(ctx.ws)
st.dataframe(
    counts.assign(rows=counts["rows"].map("{:,}".format)), hide_index=True, height=36 * (len(counts) + 1) + 4
)

st.subheader("Claims run-out: how long claims take to be paid")
lag = health.payment_lag(ctx.ws)
if not good.get("paid_dates", True):
    widgets.no_paid_dates_note()
elif lag.empty:
    st.info("Not enough history (12 months) to measure payment lags yet.")
else:
    incomplete = completion.incomplete_months(ctx.ws)
    fig = px.bar(
        lag,
        x="lag",
        y="cumulative",
        labels={"lag": "Months from service to payment", "cumulative": "Share of dollars paid"},
    )
    fig.update_traces(marker_color=charts.BLUE)
    fig.update_layout(height=360, font=charts.FONT, yaxis_tickformat=".0%", plot_bgcolor="white")
    st.plotly_chart(fig, key="lag_chart")
    st.caption(
        "Share of the dollars of incurred months at least a year old paid by each month after "
        f"service. Incurred months with less than {completion.COMPLETE_SHARE:.1%} of their dollars "
        "paid by now (estimated by the chain ladder on the lag triangle) are marked incomplete: "
        + (f"{', '.join(incomplete)}." if incomplete else "none.")
    )

st.subheader("How well are recent months completed? (backtest)")


by_lag, cells = context.backtest(ctx)
if by_lag.empty:
    st.info(
        "Not enough history to backtest the completion yet (it needs incurred months that are at "
        "least 12 months old by the paid-through date)."
    )
else:
    st.markdown(
        "The claims were cut at earlier paid-through dates (6 to 18 months before "
        f"{ctx.stamp['paid_through']}), each incurred month was completed with the chain ladder, and the "
        "result compared with what was paid in the end. **Error** is completed ÷ eventually paid − 1; "
        "**raw shortfall** is what the raw (uncompleted) dollars would have said."
    )
    st.dataframe(
        pd.DataFrame(
            {
                "Months since incurral at the cut": by_lag["lag"],
                "Months tested": by_lag["cells"],
                "Mean error": by_lag["mean_error"].map("{:+.1%}".format),
                "Mean absolute error": by_lag["mean_abs_error"].map("{:.1%}".format),
                "Largest absolute error": by_lag["max_abs_error"].map("{:.1%}".format),
                "Raw shortfall": by_lag["raw_shortfall"].map("{:+.1%}".format),
                "Inside the 95% range": by_lag["inside_range"].map("{:.0%}".format),
            }
        ),
        hide_index=True,
    )
    st.caption(f"{cells} (cut, incurred month) comparisons, in this view's scope.")
