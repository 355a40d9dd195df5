"""Settlement: what the contract pays, step by step, with the forecast range and what-if controls."""

import json

import pandas as pd
import streamlit as st

from vbc import charts, formats, settlement
from vbc.security import NotEntitled
from vbc.settlement_claims import SettlementEstimate, contracts_for_viewer, settlement_for
from vbc.ui import context, widgets

ctx = context.current()
widgets.header(ctx, "Settlement")


def _settle(terms, quality: float | None, trend: float, members: int | None) -> SettlementEstimate:
    """The settlement of `terms` for this view (cached per build, viewer, terms and what-if)."""
    return context.compute(
        ctx, settlement_for, terms=terms, quality_score=quality, remaining_trend=trend, members=members
    )


_money = formats.whole_dollars


found = contracts_for_viewer(ctx.ws, ctx.viewer)
if ctx.organization:
    found = [t for t in found if t.provider_organization == ctx.organization]
if not found:
    st.info(
        "No contract terms for this view. Put one YAML file per contract and performance year in "
        "`<data>/contracts/` (see the README, “Contract terms”)."
    )
    st.stop()
labels = {f"{t.provider_organization} — {t.performance_year} ({t.contract_id})": t for t in found}
default = next((i for i, t in enumerate(found) if t.performance_year == ctx.period.end.year), 0)
choice = st.selectbox("Contract and performance year", list(labels), index=default, key="settle_contract")
terms = labels[choice]
try:
    agreed = _settle(terms, None, 0.0, None)
except NotEntitled as exc:
    st.info(str(exc))
    st.stop()
except ValueError as exc:
    st.warning(f"This contract cannot be settled on these data: {exc}")
    st.stop()
s = agreed.settlement
rows = s.rows()
by_key = {r["key"]: r for r in rows}
rng = agreed.range
status = agreed.status

status_text = {
    "final": "**Year-end figures**: the year is complete and its claims run-out has closed.",
    "preliminary": "**Preliminary**: the year is complete but claims for its latest months are still "
    "arriving; expenditure is completed for run-out.",
    "forecast": f"**Forecast for the current year**: {agreed.observed_months} of 12 months observed; "
    "the rest are projected at the observed completed PMPM.",
}[status]
st.markdown(status_text)
for note in agreed.notes:
    st.caption(note)

c1, c2, c3 = st.columns(3)
with c1:
    with st.container(border=True):
        st.markdown("**Final payment**")
        st.markdown(f"### {settlement.format_step(by_key['final_payment'])}")
        st.caption("Positive: the payer pays the organization; negative: the organization pays.")
with c2:
    with st.container(border=True):
        st.markdown("**Savings rate vs minimum savings rate**")
        st.markdown(f"### {settlement.format_step(by_key['savings_rate'])}")
        st.caption(
            f"MSR {settlement.format_step(by_key['minimum_savings_rate'])} · "
            f"met: {settlement.format_step(by_key['msr_met'])}"
        )
with c3:
    with st.container(border=True):
        st.markdown("**Range (95%)**")
        st.markdown(f"### {_money(rng['payment_low'])} to {_money(rng['payment_high'])}")
        st.caption(
            f"Savings rate {rng['savings_rate_low'] * 100:.2f}% to {rng['savings_rate_high'] * 100:.2f}%"
        )

if rng["straddles_msr"]:
    st.warning(
        "The range crosses the minimum savings rate: the result could still land on either side of it.",
        icon=":material/balance:",
    )
elif rng.get("straddles_mlr"):
    st.warning(
        "The range crosses the minimum loss rate: losses could still be shared or not.",
        icon=":material/balance:",
    )
with st.expander("How the range is worked out"):
    st.markdown(
        f"Two sources of uncertainty, combined as independent (square root of the sum of squares):\n\n"
        f"- **Incomplete months** (claims still arriving): the completed-expenditure range from the lag "
        f"triangles, ±${rng['half_width_completion']:,.2f} PMPM.\n"
        f"- **Panel size** (random variation): 1.96 × the standard error of the PMPM from the spread of "
        f"members' annual cost (a ratio estimate clustered by member), "
        f"±${(rng['half_width_random'] or 0):,.2f} PMPM. This is why small panels have a high minimum "
        f"savings rate.\n\n"
        f"Actual PMPM {rng['actual_pmpm_low']:,.2f} to {rng['actual_pmpm_high']:,.2f}; every figure in the "
        f"range is settled with the same steps as the headline."
    )

# Waterfall from benchmark to final payment, in two panels: the sharing steps are a few percent of
# the benchmark and would be invisible on its scale.
bars = settlement.waterfall(s)
gross = by_key["gross_savings"]["value"]
st.markdown(
    f"**From benchmark to final payment.** Benchmark expenditure "
    f"**{_money(by_key['benchmark_expenditure']['value'])}** − actual expenditure "
    f"**{_money(by_key['actual_expenditure']['value'])}** = gross "
    f"{'savings' if gross >= 0 else 'losses'} **{_money(abs(gross))}**; then the sharing rules and "
    f"limits give the final payment **{_money(by_key['final_payment']['value'])}**."
)
fig = charts.waterfall_figure(bars)
st.plotly_chart(fig, key="settle_waterfall")
st.caption(
    "Left: benchmark expenditure less actual expenditure is the gross savings (or losses). Right, on "
    "its own scale: the part not shared (sharing rate, quality, minimum savings or loss rate not "
    "met) and any limit come off, leaving the final payment."
)

st.subheader("Every step")
table = pd.DataFrame(
    {
        "#": [r["order"] for r in rows],
        "Step": [r["name"] for r in rows],
        "Value": [settlement.format_step(r, ctx.viewer.suppresses) for r in rows],
        "Formula": [r["formula"] for r in rows],
        "Inputs": [json.dumps(r["inputs"], default=str) if r["inputs"] else "" for r in rows],
    }
)
st.dataframe(table, hide_index=True, key="settle_steps", row_height=36, height=36 * (len(table) + 1) + 4)
export = pd.DataFrame(
    [{**r, "inputs": json.dumps(r["inputs"], sort_keys=True, default=str)} for r in settlement.export_rows(s)]
)
widgets.csv_download(export, ctx.stamp, f"settlement_{terms.contract_id}.csv", key="settle_csv")

st.subheader("What-if (does not change the agreed figures)")
st.caption(
    "Sensitivity only: these controls recompute the steps with other assumptions. The agreed "
    "settlement above, the exports and the contract stay as they are."
)
w1, w2, w3 = st.columns(3)
q_now = by_key["quality_score"]["value"]
with w1:
    q = st.slider(
        "What-if quality score",
        0.0,
        100.0,
        float(q_now if q_now is not None else 80.0),
        1.0,
        key="wi_quality",
    )
with w2:
    trend = st.slider(
        "What-if trend for the remaining months",
        -10.0,
        10.0,
        0.0,
        0.5,
        format="%.1f%%",
        key="wi_trend",
        disabled=status != "forecast",
        help="Only a forecast has remaining months.",
    )
with w3:
    members = st.number_input(
        "What-if attributed members",
        min_value=1,
        step=100,
        value=int(by_key["attributed_members"]["value"]),
        key="wi_members",
        help="Changes the sliding minimum savings rate.",
    )
what_if = _settle(terms, float(q), trend / 100.0, int(members))
wi = {r["key"]: r for r in what_if.settlement.rows()}
st.dataframe(
    pd.DataFrame(
        {
            "Step": [
                by_key[k]["name"]
                for k in (
                    "attributed_members",
                    "minimum_savings_rate",
                    "quality_result",
                    "actual_pmpm",
                    "final_payment",
                )
                if k in by_key
            ],
            "Agreed": [
                settlement.format_step(by_key[k], ctx.viewer.suppresses)
                for k in (
                    "attributed_members",
                    "minimum_savings_rate",
                    "quality_result",
                    "actual_pmpm",
                    "final_payment",
                )
                if k in by_key
            ],
            "What-if": [
                settlement.format_step(wi[k], ctx.viewer.suppresses)
                for k in (
                    "attributed_members",
                    "minimum_savings_rate",
                    "quality_result",
                    "actual_pmpm",
                    "final_payment",
                )
                if k in by_key
            ],
        }
    ),
    hide_index=True,
    key="settle_whatif",
)
