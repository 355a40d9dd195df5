"""Definitions: every metric as both parties can audit it — description, source, SQL, history."""

import pandas as pd
import streamlit as st

from vbc import formats
from vbc.registry import render_definition
from vbc.ui import context, widgets
from vbc.valuesets import all_value_sets

ctx = context.current()
widgets.header(ctx, "Definitions")

st.markdown(
    f"{len(ctx.registry.metrics)} metric definitions, fingerprint `{ctx.stamp['definitions_fingerprint']}`."
    " Each is one file under `metrics/`; the numbers on every page come from exactly this SQL."
)

catalog = pd.DataFrame(
    [
        {
            "id": m.id,
            "name": m.name,
            "version": m.version,
            "domain": m.domain,
            "kind": m.kind,
            "better when": f"{m.direction}",
            "target": "" if m.target is None else formats.format_value(m, m.target),
        }
        for m in ctx.registry
    ]
)
st.dataframe(catalog, hide_index=True)

value_sets = all_value_sets()
metric_ids = sorted(ctx.registry.metrics)
chosen = st.query_params.get("metric", metric_ids[0])
chosen = st.selectbox(
    "Definition",
    metric_ids,
    index=metric_ids.index(chosen) if chosen in metric_ids else 0,
    format_func=lambda i: f"{ctx.registry.get(i).name} ({i})",
    key="definition_pick",
)
st.query_params["metric"] = chosen
m = ctx.registry.get(chosen)

st.subheader(f"{m.name} — version {m.version}")
widgets.definition_source(m)
st.markdown(
    f"**Kind:** {m.kind} · **better when** {m.direction} · **unit:** {m.unit or '—'} · "
    f"**numerator:** {m.numerator_label} · **denominator:** {m.denominator_label}"
)
st.markdown("**SQL** (person-level rows: person_id, payer, year_month, numerator, denominator)")
st.code(m.sql, language="sql")
if m.value_sets:
    st.markdown("**Value sets**")
    for name in m.value_sets:
        vs = value_sets[name]
        with st.expander(f"{name} — {len(vs.codes)} {vs.code_system} codes"):
            st.markdown(f"{vs.description}\n\n*Source:* {vs.source}")
            st.write(", ".join(vs.codes))
if m.history:
    st.markdown("**Version history**")
    st.dataframe(pd.DataFrame(list(m.history)), hide_index=True)

# ---------------------------------------------------------------------------- variants
base_id = m.variant_of or m.id
family = [ctx.registry.get(base_id)] + [v for v in ctx.registry if v.variant_of == base_id]
if len(family) > 1:
    st.divider()
    st.subheader("The same measure, two definitions")
    st.markdown(
        "A contract may use its own variant of a measure. A variant is a small override of the "
        "base definition; the lines that differ are highlighted, and the rate under each "
        "definition is computed for the same members and period, so both parties can see how "
        "much of a gap is definition and how much is care."
    )
    others = [v.id for v in family[1:]]
    other = others[0] if len(others) == 1 else st.selectbox("Variant", others, key="variant_pick")
    base, variant = family[0], ctx.registry.get(other)
    if variant.id == base.id:
        variant = ctx.registry.get(others[0])
    rates = context.metrics(ctx, [base.id, variant.id])
    left, right = widgets.diff_lines(render_definition(base), render_definition(variant))
    cols = st.columns(2)
    for col, metric, lines in ((cols[0], base, left), (cols[1], variant, right)):
        with col:
            st.markdown(
                f"**{metric.name}** (`{metric.id}`"
                + (", base)" if not metric.variant_of else f", variant of `{metric.variant_of}`)")
            )
            row = rates[rates["metric_id"] == metric.id]
            widgets.metric_tile(metric, row.iloc[0] if len(row) else None)
            st.markdown(widgets.diff_html(lines), unsafe_allow_html=True)
    changed = sum(1 for _, c in left if c)
    st.caption(
        f"{changed} line(s) differ. Highlighted lines are where the two definitions differ; "
        "everything else is shared."
    )
