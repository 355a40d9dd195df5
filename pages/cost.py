"""Cost: PMPM raw and completed for claims run-out, by category, against the benchmark, capped or
not, risk-adjusted, and what moved since last year. Layout only: numbers come from vbc.engine,
vbc.completion, vbc.cost and vbc.risk."""

import pandas as pd
import streamlit as st

from vbc import completion, cost, formats, risk
from vbc.engine import data_period
from vbc.marts import CATEGORY_LABELS, SERVICE_CATEGORIES
from vbc.scope import organization_in_view
from vbc.security import NotEntitled
from vbc.ui import context, notes, widgets

ctx = context.current()
widgets.header(ctx, "Cost of care")

# The organization in view: the viewer's own, or the one chosen in the sidebar.
org = organization_in_view(ctx.viewer, ctx.organization)
paid_through = ctx.stamp["paid_through"]
full = data_period(ctx.ws)

# ------------------------------------------------------------------ controls
cap_choice = cost.contract_cap(ctx.ws, ctx.viewer, org, ctx.period.start.year)
c1, c2 = st.columns([2, 3])
with c1:
    capped = st.toggle(
        f"Cap high-cost claimants at {cap_choice.label}",
        value=False,
        key="cost_cap",
        help="Each member's paid dollars above the cap in a calendar year are removed "
        f"(cap from {cap_choice.source}).",
    )
with c2:
    st.caption(
        f"High-cost cap: **{cap_choice.label}** — {cap_choice.source}. "
        f"Claims paid through **{paid_through}**; recent months are completed for claims still "
        "to arrive (chain ladder on the lag triangle, vbc/completion.py)."
    )
cap = cap_choice.cap if capped else None

# ------------------------------------------------------------------ headline
try:
    exp = context.compute(ctx, cost.expenditure, period=ctx.period, organization=org, cap=cap)
except NotEntitled as exc:
    st.error(str(exc))
    st.stop()
bench = cost.contract_benchmark(ctx.ws, ctx.viewer, org, ctx.period.start.year)
t1, t2, t3, t4 = st.columns(4)
with t1, st.container(border=True):
    st.markdown("**Completed PMPM**" + (" (capped)" if capped else ""))
    st.markdown(f"### ${exp['pmpm']:,.2f}")
    st.caption(
        f"range ${exp['pmpm_low']:,.2f} – ${exp['pmpm_high']:,.2f} · "
        f"{exp['member_months']:,.0f} member months"
    )
with t2, st.container(border=True):
    st.markdown("**Raw PMPM (paid so far)**")
    st.markdown(f"### ${exp['pmpm_raw']:,.2f}")
    inc = exp["incomplete_months"]
    st.caption(f"{len(inc)} incomplete month(s): {', '.join(inc)}" if inc else "every month complete")
with t3, st.container(border=True):
    st.markdown("**Benchmark PMPM**")
    if bench:
        gap = exp["pmpm"] - bench[0]
        st.markdown(f"### ${bench[0]:,.2f}")
        st.caption(
            f"completed is **${abs(gap):,.2f} ({abs(gap) / bench[0]:.1%}) "
            f"{'above' if gap > 0 else 'below'}** the benchmark · {bench[1]}"
        )
    else:
        st.markdown("### —")
        st.caption(
            "Choose an organization: a contract benchmark belongs to one organization."
            if not org
            else f"No contract with a fixed benchmark PMPM for {org}."
        )
with t4, st.container(border=True):
    st.markdown("**Dollars removed by the cap**")
    if capped:
        st.markdown(f"### ${exp['capped_dollars']:,.0f}")
        st.caption(
            f"{exp['capped_dollars'] / exp['member_months']:,.2f} PMPM" if exp["member_months"] else ""
        )
    else:
        st.markdown("### not applied")
        st.caption("Turn on the cap above to remove each member's dollars above it.")

# ------------------------------------------------------------------ trend
st.subheader("Monthly PMPM: raw and completed")
choices = ["total", *SERVICE_CATEGORIES]
labels = {"total": "Total cost of care", **CATEGORY_LABELS}
cat = st.radio("Category", choices, format_func=labels.get, horizontal=True, key="cost_cat")
if cat == "total" and capped:
    m = context.compute(ctx, cost.monthly_cost, period=full, organization=org, payer=ctx.payer, cap=cap)
    trend = pd.DataFrame(
        {
            "month": m["month"],
            "raw": m["pmpm_capped_raw"],
            "completed": m["pmpm"],
            "low": m["pmpm_low"],
            "high": m["pmpm_high"],
            "incomplete": m["incomplete"],
            "suppressed": False,
        }
    )
else:
    base = "total_cost_pmpm" if cat == "total" else f"pmpm_{cat}"
    frame = context.metrics(ctx, [base, f"{base}_completed"], by=["month"], period=full)
    raw = frame[frame["metric_id"] == base].set_index("month")
    comp = frame[frame["metric_id"] == f"{base}_completed"].set_index("month")
    months = sorted(raw.index.dropna())
    trend = pd.DataFrame(
        {
            "month": months,
            "raw": raw["value"].reindex(months).to_numpy(),
            "completed": comp["value"].reindex(months).to_numpy(),
            "low": comp["ci_low"].reindex(months).to_numpy(),
            "high": comp["ci_high"].reindex(months).to_numpy(),
            "incomplete": comp["incomplete"].reindex(months).fillna(False).astype(bool).to_numpy(),
            "suppressed": raw["suppressed"].reindex(months).fillna(False).to_numpy(),
        }
    )
if trend["suppressed"].any():
    st.info("Some months are suppressed in the de-identified view (fewer than 11 people).")
if not ctx.ws.good.get("paid_dates", True):
    widgets.no_paid_dates_note()
widgets.completion_chart(
    trend["month"].tolist(),
    trend["raw"].tolist(),
    trend["completed"].tolist(),
    trend["low"].tolist(),
    trend["high"].tolist(),
    trend["incomplete"].tolist(),
    benchmark=bench[0] if (bench and cat == "total") else None,
    paid_through=paid_through,
    key="cost_completion_chart",
    metric_id="total_cost_pmpm" if cat == "total" else f"pmpm_{cat}",
)
n_inc = int(trend["incomplete"].sum())
st.caption(
    f"Paid through **{paid_through}**. The shaded {n_inc} month(s) still have claims arriving (less than "
    f"{completion.COMPLETE_SHARE:.1%} of their dollars paid by now): read the **completed** line, not the "
    "raw one, whose drop there is only unpaid claims. The band is the completion range (95%, Mack's "
    "standard error of the chain ladder)."
)

st.markdown("**Is the completed PMPM changing? (XmR chart)**")
chart_id = "total_cost_pmpm_completed" if cat == "total" else f"pmpm_{cat}_completed"
chart = context.spc_chart(ctx, chart_id, cap=cap if cat == "total" else None)
widgets.spc_chart(
    ctx.registry.get(chart_id),
    chart["months"],
    chart["values"],
    chart,
    y_title="completed PMPM ($)",
    key="cost_xmr",
)
st.caption(
    "Limits are 2.66 × the mean moving range around the mean of complete months, per phase; hollow "
    "points are incomplete months, kept out of the limits and the rules."
    + (
        " With the cap on, a single catastrophic case no longer drives the chart."
        if capped
        else " A single catastrophic case can make a month a signal: compare with the cap on."
    )
)
notes.under_chart(ctx, chart_id, chart, trend, f"pmpm_{cat}_completed_by_month.csv", "cost")

# ------------------------------------------------------------------ by category
st.subheader(f"By service category, {ctx.period.label}")
ids = []
for c in SERVICE_CATEGORIES:
    ids += [f"pmpm_{c}", f"pmpm_{c}_completed"]
by_cat = context.metrics(ctx, ["total_cost_pmpm", "total_cost_pmpm_completed", "total_allowed_pmpm", *ids])
rows = []
for c in ["total", *SERVICE_CATEGORIES]:
    base = "total_cost_pmpm" if c == "total" else f"pmpm_{c}"
    r = by_cat[by_cat["metric_id"] == base]
    k = by_cat[by_cat["metric_id"] == f"{base}_completed"]
    if r.empty or k.empty:
        continue
    r, k = r.iloc[0], k.iloc[0]
    if r["suppressed"]:
        rows.append(
            {
                "Category": labels[c],
                "Raw PMPM": "suppressed",
                "Completed PMPM": "suppressed",
                "Completion range": "",
                "95% interval (raw)": "",
            }
        )
        continue
    rows.append(
        {
            "Category": labels[c],
            "Raw PMPM": f"${r['value']:,.2f}",
            "Completed PMPM": f"${k['value']:,.2f}",
            "Completion range": f"${k['ci_low']:,.2f} – ${k['ci_high']:,.2f}",
            "95% interval (raw)": formats.interval_text(ctx.registry.get(base), r["ci_low"], r["ci_high"]),
        }
    )
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
allowed = by_cat[by_cat["metric_id"] == "total_allowed_pmpm"]
if len(allowed) and not allowed.iloc[0]["suppressed"]:
    st.caption(f"Uncapped. Allowed (paid + member cost sharing) PMPM: ${allowed.iloc[0]['value']:,.2f}.")

# ------------------------------------------------------------------ by group
st.subheader("By organization, TIN and PCP")
group = st.radio(
    "Group by",
    ["organization", "tin", "npi"],
    horizontal=True,
    key="cost_group",
    format_func={"organization": "Organization", "tin": "TIN", "npi": "PCP"}.get,
)
g = context.metrics(ctx, ["total_cost_pmpm", "total_cost_pmpm_completed"], by=[group])
raw_g = g[g["metric_id"] == "total_cost_pmpm"]
comp_g = g[g["metric_id"] == "total_cost_pmpm_completed"].set_index(raw_g.index)
tbl = widgets.table_for_display(ctx.registry.get("total_cost_pmpm"), raw_g, [group])
tbl["Completed PMPM"] = [
    "suppressed" if s else f"${v:,.2f}" for v, s in zip(comp_g["value"], comp_g["suppressed"])
]
tbl["Completion range"] = [
    "" if s else f"${lo:,.2f} – ${hi:,.2f}"
    for lo, hi, s in zip(comp_g["ci_low"], comp_g["ci_high"], comp_g["suppressed"])
]
st.dataframe(tbl, hide_index=True, width="stretch")

# ------------------------------------------------------------------ risk adjusted
st.subheader("Risk-adjusted: observed against expected")
rby = st.radio(
    "Risk table by",
    ["organization", "tin", "npi"],
    horizontal=True,
    key="risk_group",
    format_func={"organization": "Organization", "tin": "TIN", "npi": "PCP"}.get,
)
rtab, sources = context.compute(
    ctx, risk.risk_adjusted, period=ctx.period, by=rby, organization=org, payer=ctx.payer, cap=cap
)
if rtab.empty:
    st.info("No member months in this selection.")
else:
    show = pd.DataFrame(
        {
            {"organization": "Organization", "tin": "TIN", "npi": "PCP NPI"}[rby]: rtab["group"],
            "Member months": [
                "suppressed" if s else f"{v:,.0f}" for v, s in zip(rtab["member_months"], rtab["suppressed"])
            ],
            "Average risk (normalized)": [
                "" if s else f"{v:.3f}" for v, s in zip(rtab["risk"], rtab["suppressed"])
            ],
            "Observed PMPM": [
                "" if s else f"${v:,.2f}" for v, s in zip(rtab["observed_pmpm"], rtab["suppressed"])
            ],
            "Expected PMPM": [
                "" if s else f"${v:,.2f}" for v, s in zip(rtab["expected_pmpm"], rtab["suppressed"])
            ],
            "Observed / expected": [
                "" if s else f"{v:.2f}" for v, s in zip(rtab["ratio"], rtab["suppressed"])
            ],
        }
    )
    st.dataframe(show, hide_index=True, width="stretch")
    st.caption(
        "Expected PMPM = this view's PMPM × the group's average risk score, normalized so the "
        "whole view averages 1.0 (so its ratio is 1.00). Above 1.0: costlier than its risk "
        "predicts. Paid dollars "
        + ("after the cap" if capped else "uncapped")
        + ", not completed. Risk scores: "
        + "; ".join(f"{y}: {s}" for y, s in sorted(sources.items()))
        + "."
    )

# ------------------------------------------------------------------ high-cost claimants
st.subheader("High-cost claimants")
claim = context.compute(
    ctx, cost.high_cost_claimants, period=ctx.period, cap=cap_choice.cap, organization=org, payer=ctx.payer
)
if claim.empty:
    st.success(f"Nobody's annual paid cost exceeds the cap ({cap_choice.label}) in this period.")
elif ctx.viewer.member_level:
    st.markdown(
        f"{len(claim)} member-year(s) above the cap; **${claim['capped_dollars'].sum():,.0f}** "
        "would be removed by it."
    )
    st.dataframe(
        claim.assign(
            **{c: claim[c].map("${:,.0f}".format) for c in ("annual_paid", "cap", "capped_dollars")}
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.markdown("De-identified: no member ids; counts of 1 to 10 are hidden.")
    st.dataframe(
        pd.DataFrame(
            {
                "Year": claim["year"],
                "Organization": claim["organization"],
                "Members above the cap": [
                    "1–10 (hidden)" if s else f"{v:,.0f}"
                    for v, s in zip(claim["claimants"], claim["suppressed"])
                ],
                "Dollars above the cap": [
                    "hidden" if s else f"${v:,.0f}"
                    for v, s in zip(claim["capped_dollars"], claim["suppressed"])
                ],
            }
        ),
        hide_index=True,
        width="stretch",
    )

# ------------------------------------------------------------------ what moved
st.subheader("What moved since the same months a year earlier")
before = cost.default_comparison(ctx.period)
if before.start < full.start:
    st.info(f"No data for {before.label} to compare with; choose a later performance period.")
else:
    moved = context.compute(
        ctx, cost.what_moved, before=before, after=ctx.period, organization=org, payer=ctx.payer
    )
    if moved.empty:
        st.info("Nothing to compare.")
    elif ctx.viewer.suppresses:
        st.info(
            "The decomposition is shown to payer and organization viewers only (it is built from "
            "counts that can be small)."
        )
    else:
        total_change = moved["change"].sum()
        st.markdown(
            f"Total cost of care PMPM {'rose' if total_change > 0 else 'fell'} "
            f"**${abs(total_change):,.2f}** from {before.label} to {ctx.period.label} "
            "(completed, uncapped). Largest moves:"
        )
        for r in (
            moved.reindex(moved["change"].abs().sort_values(ascending=False).index).head(4).to_dict("records")
        ):
            st.markdown(f"- {cost.sentence(r)}")
        st.dataframe(
            pd.DataFrame(
                {
                    "Category": moved["label"],
                    "PMPM before": moved["pmpm_before"].map("${:,.2f}".format),
                    "PMPM after": moved["pmpm_after"].map("${:,.2f}".format),
                    "Change": moved["change"].map("${:+,.2f}".format),
                    "Utilization": moved["utilization"].map("${:+,.2f}".format),
                    "Unit cost": moved["unit_cost"].map("${:+,.2f}".format),
                    "Both together (mix)": moved["mix"].map("${:+,.2f}".format),
                    "Events": moved["events"],
                    "Per 1,000 before → after": [
                        f"{a:,.0f} → {b:,.0f}"
                        for a, b in zip(moved["per_1000_before"], moved["per_1000_after"])
                    ],
                }
            ),
            hide_index=True,
            width="stretch",
        )
        st.caption(
            "Utilization = change in events per member month × last year's cost per event; unit "
            "cost = change in cost per event × last year's events per member month; both together "
            "= the product of the two changes. The three add up exactly to the change. Dollars and "
            "events of incomplete months are completed with the category's factors."
        )
