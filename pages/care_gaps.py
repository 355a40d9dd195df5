"""Care gaps: the members in a measure's denominator who have not met it, with what would close
the gap, their PCP and last visit. Member-level: the payer and the member's own organization only."""

import streamlit as st

from vbc import quality
from vbc.ui import context, widgets

ctx = context.current()
widgets.header(ctx, "Care gaps")

if not ctx.viewer.member_level:
    context.audit_view(ctx)
    st.info(
        "Care gaps list individual members, so they are not shown in the joint de-identified "
        "view. The payer and each provider organization (for its own attributed members) can see "
        "them; switch to that view in the sidebar if your role has it. The Quality page shows every measure's rate here."
    )
    st.stop()


# The viewer is part of the cache key and of the query: an organization only ever gets its members.
gaps = context.compute(ctx, quality.care_gaps, period=ctx.period, filters=ctx.filters)
measures = quality.care_gap_metrics(ctx.registry)
st.markdown(
    f"Open gaps for {ctx.period.label}: members in a measure's denominator who have not met it "
    "(for lower-is-better measures such as HbA1c poor control, members in its numerator). "
    + ("Only your organization's attributed members are listed." if ctx.viewer.kind == "org" else "")
)

c1, c2 = st.columns(2)
names = {m.id: m.name for m in measures}
pick = c1.multiselect("Measures", list(names), default=list(names), format_func=names.get, key="gap_measures")
pcps = gaps[["npi", "pcp_name"]].drop_duplicates().sort_values("pcp_name", na_position="last")
pcp_labels = {"All": "All PCPs"}
for npi, name in zip(pcps["npi"], pcps["pcp_name"]):
    if npi is not None and npi == npi:
        pcp_labels[npi] = f"{name or 'Unknown'} ({npi})"
pcp = c2.selectbox("Attributed PCP", list(pcp_labels), format_func=pcp_labels.get, key="gap_pcp")

view = gaps[gaps["metric_id"].isin(pick)]
if pcp != "All":
    view = view[view["npi"] == pcp]
# One audit row per list shown: what was asked for (measures, PCP, filters), never the members.
context.audit_view(ctx, "care_gap_view", {"measures": sorted(pick), "pcp_npi": None if pcp == "All" else pcp})

counts = view.groupby("measure").size().rename("Open gaps").reset_index()
cols = st.columns(max(1, min(4, len(counts))))
for i, (measure, n) in enumerate(zip(counts["measure"], counts["Open gaps"])):
    cols[i % len(cols)].metric(measure, f"{int(n):,}")

table = view.rename(
    columns={
        "person_id": "Member",
        "measure": "Measure",
        "to_close": "To close",
        "gap": "Gap",
        "pcp_name": "PCP",
        "npi": "PCP NPI",
        "tin": "TIN",
        "organization": "Organization",
        "last_visit": "Last primary care visit",
    }
)
show = ["Member", "Measure", "Gap", "PCP", "PCP NPI", "TIN", "Organization", "Last primary care visit"]
st.dataframe(table[show], hide_index=True, width="stretch", height=520)
st.caption(
    f"{len(view):,} open gaps. The last visit is the member's latest primary care service "
    "on claims up to the period end, with any clinician."
)
widgets.csv_download(
    view[
        [
            "metric_id",
            "measure",
            "person_id",
            "payer",
            "organization",
            "tin",
            "npi",
            "pcp_name",
            "to_close",
            "gap",
            "detail",
            "last_visit",
        ]
    ],
    ctx.stamp,
    f"care_gaps_{ctx.period.start:%Y%m}_{ctx.period.end:%Y%m}.csv",
    label="Download gaps (CSV)",
    key="gaps_csv",
)
