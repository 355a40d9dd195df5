"""Quality: the contract's measures with how sure each rate is, a p-chart per measure, the breakdown
by TIN and PCP, and the definition behind every number."""

import pandas as pd
import streamlit as st

from vbc import formats, quality
from vbc.scope import organization_in_view
from vbc.terms import contract_of
from vbc.ui import context, notes, widgets

ctx = context.current()
widgets.header(ctx, "Quality")


def chart_for(metric_id: str, target: float | None, rolling: bool = True) -> dict:
    """The measure's p-chart and monthly series (vbc.readings.chart_for, as `python -m vbc spc`)."""
    return context.spc_chart(ctx, metric_id, target=target, rolling=rolling)


measures = quality.quality_metrics(ctx.registry)
if not measures:
    st.info("No quality measures are defined in metrics/.")
    st.stop()
ids = [m.id for m in measures]
org = organization_in_view(ctx.viewer, ctx.organization)
contract = contract_of(ctx.ws, org, ctx.period.end.year)

# ---------------------------------------------------------------------------- scorecard
rates = context.metrics(ctx, ids)  # the same engine function the command line calls
st.markdown(
    f"**{len(ids)} measures** for {ctx.period.label}"
    + (
        f" · targets from contract **{contract.contract_id}** ({contract.provider_organization})"
        if contract
        else " · targets from the measure definitions (no contract for this selection)"
    )
    + ". Each rate has a Wilson 95% interval; fewer than 30 in the denominator is *too few to judge*. "
    "↓ marks measures where lower is better."
)

show_readings = st.toggle(
    "Variation reading for each measure (p-chart of the last 24 months; filled in "
    "after the rest of the page the first time)",
    value=True,
    key="q_readings",
)
READING = "Variation (latest month)"
rows, targets = [], {}
for m in measures:
    r = rates[rates["metric_id"] == m.id]
    r = r.iloc[0] if len(r) else None
    target, source = quality.target_for(m, contract)
    targets[m.id] = target
    if r is None or bool(r["suppressed"]):
        rate_txt, ci_txt, n_txt, judge = (
            ("suppressed" if r is not None else "—"),
            "",
            ("suppressed" if r is not None else "—"),
            "—",
        )
    else:
        rate_txt = formats.format_value(m, r["value"])
        ci_txt = formats.interval_text(m, r["ci_low"], r["ci_high"])
        n_txt = formats.format_count(r["denominator"])
        if bool(r["too_few"]):
            judge = "too few to judge"
        else:
            met = quality.meets(m, float(r["value"]), target)
            judge = "—" if met is None else ("meets target" if met else "short of target")
    rows.append(
        {
            "Measure": m.name + (" ↓" if m.direction == "lower" else ""),
            "Rate": rate_txt,
            "95% interval": ci_txt,
            "Denominator (n)": n_txt,
            "Target": formats.format_value(m, target) if target is not None else "—",
            "Against target": judge,
            READING: "computing…" if show_readings else "—",
        }
    )
scorecard = st.empty()  # drawn now, redrawn as each reading arrives (see the end of the page)


def draw_scorecard() -> None:
    scorecard.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


draw_scorecard()
st.caption(
    "Against target compares the period's rate with the target; it is not coloured, because "
    "a rate inside its interval of the target may be noise. The variation reading is the "
    "p-chart's verdict on the latest month (NHS Making Data Count rules)."
)

# ---------------------------------------------------------------------------- composite
comp = context.compute(ctx, quality.quality_composite, terms=contract, period=ctx.period)
with st.container(border=True):
    c1, c2, c3 = st.columns(3)
    c1.metric("Quality composite (0–100)", f"{comp['score']:.1f}")
    c2.metric("Measures meeting target", f"{comp['share_meeting_target']:.0%}")
    c3.metric("Measures judged", f"{comp['judged']} of {len(comp['measures'])}")
    st.caption(
        (
            "Weighted as contract "
            + contract.contract_id
            + " says"
            + (f"; its quality gate is {contract.quality.minimum:g}" if contract.quality.minimum else "")
            if contract
            else "All measures at their definition's target, weight 1"
        )
        + ". A measure meeting its target scores 100; short of it, 100 × (1 − shortfall ÷ 20 "
        "points), so 10 points short scores 50. Measures with too few to judge are left out."
    )

# ---------------------------------------------------------------------------- detail
st.divider()
chosen = st.query_params.get("measure", ids[0])
chosen = st.selectbox(
    "Measure detail",
    ids,
    index=ids.index(chosen) if chosen in ids else 0,
    format_func=lambda i: ctx.registry.get(i).name,
    key="q_measure",
)
st.query_params["measure"] = chosen
m = ctx.registry.get(chosen)
target, source = quality.target_for(m, contract)
st.subheader(m.name + (" (lower is better)" if m.direction == "lower" else ""))

res = chart_for(m.id, target)
series = res["series"]
months = list(series["month"])
short, runout, hidden, left_out = res["short"], res["runout"], res["hidden"], res["left_out"]
if series.empty or not res["charted"]:
    st.info(
        "No month can be charted for this selection: "
        + (
            "every month's lookback reaches before the first month of data (the definition looks "
            f"back {int((m.options.get('trend') or {}).get('lookback_months') or 0) + 1} months)."
            if all(short)
            else "the months are suppressed or still incomplete."
        )
    )
else:
    widgets.p_chart_with_trend(
        m,
        months,
        res,
        rolling=series["rolling_value"],
        target=target,
        target_label=f"Target ({source})" if source else "Target",
        incomplete=left_out,
        key=f"pchart_{m.id}",
    )
    st.markdown(formats.reading_text(res, rules_prefix="rules: "))
    st.caption(
        f"{res['method']}. Limits come from each month's own denominator. "
        + (
            "Hollow months are left out of the limits and rules: "
            + ", ".join(
                x
                for x, on in (
                    ("their lookback reaches before the first month of data", any(short)),
                    ("claims are still arriving", any(runout)),
                    ("suppressed in the de-identified view", any(hidden)),
                )
                if on
            )
            + ". "
            if any(left_out)
            else ""
        )
        + "The dotted blue line is the rolling 12-month rate (for the trend only: overlapping "
        "windows are not independent, so the rules never run on it)."
    )
notes.notes_table(ctx, notes.for_chart(ctx, m.id, res["organization"]), "q_notes")
notes.annotate_form(ctx, m.id, months, "q_note")
notes.metric_actions(ctx, m.id, res.get("reading"))
note = quality.monthly_note(m)
if note:
    st.markdown(f"**What a month on this chart means.** {note}")

with st.expander("Definition", expanded=False):
    widgets.definition_source(m)
    st.markdown(f"Version {m.version}. Full SQL and value sets: Definitions page (`?metric={m.id}`).")

st.markdown("#### Breakdown by TIN and PCP")
roster = context.compute(ctx, quality.providers)
names = dict(zip(roster["npi"], roster["provider_name"]))
for by, label in (("tin", "TIN"), ("npi", "PCP")):
    df = context.metrics(ctx, [m.id], by=[by])
    if df.empty:
        st.caption(f"No {label} rows for this selection.")
        continue
    table = widgets.table_for_display(m, df, [by])
    if by == "npi":
        table.insert(
            1, "PCP", [names.get(n, "Unattributed" if n is None or n != n else n) for n in df["npi"]]
        )
    table["Judgement"] = [
        "suppressed" if s else ("too few to judge" if tf else "")
        for s, tf in zip(df["suppressed"], df["too_few"])
    ]
    st.markdown(f"**By {label}**")
    st.dataframe(table, hide_index=True, width="stretch")

# ---------------------------------------------------------------------------- readings
# Last, so the rates, the composite and the detail are on screen while a cold cache computes 24
# monthly points per measure; each reading fills its row as soon as it is known.
if show_readings:
    for row, m in zip(rows, measures):
        try:
            rd = chart_for(m.id, targets[m.id], rolling=False)
            row[READING] = rd["reading"]
        except Exception as exc:  # one measure's chart must not take the scorecard down
            row[READING] = f"not available ({type(exc).__name__})"
        draw_scorecard()
