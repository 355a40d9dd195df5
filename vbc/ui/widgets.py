"""Reusable page pieces: the stamp header, metric tiles, charts with their readings, exports.

Figures come from vbc.charts and number formats from vbc.formats (no Streamlit there), so a page
and a packet draw and write the same thing; this module only puts them on the page.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from vbc import audit, charts
from vbc.formats import format_count, format_value, interval_text, reading_text
from vbc.registry import Metric
from vbc.ui.context import Context


def header(ctx: Context, title: str) -> None:
    """Page title, demo badge, the stamp and any build warning: the same on every page."""
    left, right = st.columns([3, 2])
    with left:
        st.title(title)
    with right:
        s = ctx.stamp
        badges = []
        if s.get("demo"):
            badges.append(":orange-badge[DEMO DATA — generated, not real members]")
        if ctx.identity.mode == "demo":
            badges.append(":red-badge[DEMO MODE — no sign-in: anyone may switch roles]")
        badges.append(f":blue-badge[Viewing as: {ctx.viewer.label}]")
        st.markdown(" ".join(badges))
        st.markdown(
            f"**Paid through** {s['paid_through']} · **Incurred through** {s['incurred_through']}  \n"
            f"**Fingerprint** `{s['fingerprint']}` · period {ctx.period.label}",
            help="Two people who see the same fingerprint are looking at the same numbers: it hashes "
            "the input extracts and the metric definitions.",
        )
    if ctx.failed_report is not None:
        st.warning(
            f"The newest extracts failed validation ({len(ctx.failed_report.errors)} error(s)); "
            f"these pages still show the last good build from {ctx.ws.good.get('built_at')}. "
            "See Data health for what is wrong.",
            icon=":material/warning:",
        )


def metric_tile(metric: Metric, row: pd.Series | None) -> None:
    """One headline number with its interval and denominator (or why it is hidden)."""
    with st.container(border=True):
        st.markdown(f"**{metric.name}**")
        if row is None:
            st.markdown("No data for this selection.")
            return
        if bool(row.get("suppressed")):
            st.markdown("### Suppressed")
            st.caption("Fewer than 11 people or events: hidden in the de-identified view.")
            return
        st.markdown(f"### {format_value(metric, row['value'])}")
        st.caption(
            f"95% interval {interval_text(metric, row['ci_low'], row['ci_high'])}"
            f" · {metric.denominator_label.lower()}: {format_count(row['denominator'])}"
            + (" · **too few to judge**" if row.get("too_few") else "")
        )


def definition_source(metric: Metric) -> None:
    """What a definition says it measures, the specification it adapts and every simplification."""
    st.markdown(metric.description)
    st.markdown(f"**Adapted from:** {metric.source.get('specification')}")
    differences = metric.source.get("differences") or []
    if differences:
        st.markdown("**How it differs:**\n" + "\n".join(f"- {d}" for d in differences))


def table_for_display(metric: Metric, df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Formatted rows for st.dataframe: one per group, suppressed cells shown as such."""
    out = pd.DataFrame()
    for b in by:
        out[b.capitalize() if b != "npi" else "PCP NPI"] = df[b].fillna("Unattributed")
    out[metric.numerator_label] = [
        "suppressed" if s else format_count(v) if metric.kind != "pmpm" else f"${v:,.0f}"
        for v, s in zip(df["numerator"], df["suppressed"])
    ]
    out[metric.denominator_label] = [
        "suppressed" if s else format_count(v) for v, s in zip(df["denominator"], df["suppressed"])
    ]
    out["Value"] = [
        "suppressed" if s else format_value(metric, v) for v, s in zip(df["value"], df["suppressed"])
    ]
    out["95% interval"] = [
        interval_text(metric, lo, hi, s) for lo, hi, s in zip(df["ci_low"], df["ci_high"], df["suppressed"])
    ]
    return out


def spc_chart(
    metric: Metric,
    months: list[str],
    values,
    res: dict,
    *,
    target: float | None = None,
    y_title: str | None = None,
    key: str | None = None,
) -> None:
    """Draw a chart computed by vbc.spc.monthly_chart (through vbc.readings.chart_for) and state its
    reading in plain words: phases, change points and the seasonal expectation are drawn.

    Incomplete months (claims still arriving) are drawn hollow; they were left out of the limits
    and rules."""
    fig = charts.spc_figure(metric, months, values, res, target=target, y_title=y_title)
    draw_notes(fig, metric.id, months, res)
    st.plotly_chart(fig, key=key, config={"displaylogo": False})
    st.markdown(reading_text(res))


def no_paid_dates_note() -> None:
    """Said wherever completion would be shown, for extracts without paid dates."""
    st.warning(
        "These extracts carry no paid dates, so how far recent months are from complete cannot be "
        "measured: values are shown raw (not completed) and no month is marked incomplete.",
        icon=":material/event_busy:",
    )


def csv_bytes(df: pd.DataFrame, stamp: dict) -> bytes:
    """The CSV of an export: the rows, then the stamp, the viewer and the account in `stamp_*`
    columns (the same columns as the command line's CSV)."""
    out = df.copy()
    for k in ("paid_through", "incurred_through", "fingerprint", "viewer", "account"):
        out[f"stamp_{k}"] = stamp.get(k)
    buf = io.StringIO()
    out.to_csv(buf, index=False)
    return buf.getvalue().encode()


def export_producer(
    store,
    actor: audit.Actor,
    df: pd.DataFrame,
    stamp: dict,
    file_name: str,
    page: str | None,
    metric_ids: list[str] | None = None,
) -> Callable[[], bytes]:
    """What the download button calls when the file is produced: one audit row, then the bytes.

    Everything is captured now, so the call (on a thread of its own, without the page's context)
    audits exactly the rows, viewer and stamp the person was shown."""
    if metric_ids is None and "metric_id" in df.columns:
        metric_ids = sorted(str(m) for m in df["metric_id"].dropna().unique())
    frame = df.copy()
    doc_stamp = audit.export_stamp(stamp, actor)

    def produce() -> bytes:
        audit.record(
            store,
            actor,
            "export",
            stamp=stamp,
            page=page,
            detail={"file_name": file_name, "format": "csv", "metric_ids": metric_ids or []},
            row_count=len(frame),
        )
        return csv_bytes(frame, doc_stamp)

    return produce


def csv_download(
    df: pd.DataFrame,
    stamp: dict,
    file_name: str,
    label: str = "Download CSV",
    key: str | None = None,
    metric_ids: list[str] | None = None,
) -> None:
    """CSV export carrying the same stamp as the page, the viewer and the account; audited when
    the file is produced (a click), not when the button is drawn."""
    ctx = st.session_state.get("vbc_ctx")
    if ctx is None:  # no signed-in context, no export
        return
    page = getattr(ctx, "page", None)
    producer = export_producer(ctx.store, ctx.actor, df, stamp, file_name, page, metric_ids)
    st.download_button(label, producer, file_name=file_name, mime="text/csv", key=key, on_click="ignore")


def draw_notes(fig, metric_id: str | None, months, res: dict | None = None, organization=None) -> None:
    """The committee's notes on `metric_id`'s chart, written on the chart (vbc.chart_notes), below
    the chart's own labels (phase lines, a proposed change point, the incomplete band); a change
    point note already drawn as a phase line is not drawn twice."""
    ctx = st.session_state.get("vbc_ctx")
    if ctx is None or metric_id is None:
        return
    from vbc import chart_notes
    from vbc.ui import notes

    res = res or {}
    org = res.get("organization", organization)
    phases = {(p.get("first"), p.get("title")) for p in res.get("phases", [])[1:]}
    shown = [n for n in notes.for_chart(ctx, metric_id, org) if (n.start_month, n.title) not in phases]
    incomplete = res.get("incomplete")
    reserved = (
        len(phases)
        + (1 if res.get("proposal") else 0)
        + (1 if incomplete is not None and bool(np.asarray(incomplete).any()) else 0)
    )
    chart_notes.add_notes(fig, months, shown, chart_organization=org, first_row=reserved)


def completion_chart(*args, key: str | None = None, metric_id: str | None = None, **kwargs) -> None:
    """Raw and completed values with the completion range (vbc.charts.completion_figure), with the
    notes on `metric_id` written on it."""
    fig = charts.completion_figure(*args, **kwargs)
    ctx = st.session_state.get("vbc_ctx")
    if ctx is not None and metric_id:
        from vbc.scope import organization_in_view

        # Row 0 is the incomplete band's label.
        draw_notes(
            fig,
            metric_id,
            args[0],
            {"incomplete": [True]},
            organization_in_view(ctx.viewer, ctx.organization),
        )
    st.plotly_chart(fig, key=key, config={"displaylogo": False})


def p_chart_with_trend(
    metric: Metric,
    months: list[str],
    res: dict,
    *,
    rolling=None,
    target: float | None = None,
    target_label: str = "Target",
    incomplete=None,
    incomplete_label: str = "left out of the limits",
    key: str | None = None,
) -> None:
    """A p-chart of monthly proportions with an optional rolling 12-month line
    (vbc.charts.p_chart_figure); months left out of the limits are drawn hollow."""
    fig = charts.p_chart_figure(
        metric,
        months,
        res,
        rolling=rolling,
        target=target,
        target_label=target_label,
        left_out=incomplete,
        left_out_label=incomplete_label,
    )
    draw_notes(fig, metric.id, months, res)
    st.plotly_chart(fig, key=key, config={"displaylogo": False})


def diff_lines(left: list[str], right: list[str]) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """Two texts aligned line by line (difflib), each line marked True where it differs."""
    import difflib

    a_out: list[tuple[str, bool]] = []
    b_out: list[tuple[str, bool]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, left, right, autojunk=False).get_opcodes():
        a, b = left[i1:i2], right[j1:j2]
        same = tag == "equal"
        n = max(len(a), len(b))
        a_out += [(x, not same) for x in a] + [("", not same)] * (n - len(a))
        b_out += [(x, not same) for x in b] + [("", not same)] * (n - len(b))
    return a_out, b_out


def diff_html(lines: list[tuple[str, bool]]) -> str:
    """Lines as a monospace block with the differing ones highlighted (colour-blind-safe amber)."""
    import html

    rows = []
    for text, changed in lines:
        style = "background:#FFE8B3;font-weight:600;" if changed else ""
        rows.append(
            f'<div style="{style}white-space:pre-wrap;min-height:1.3em">{html.escape(text) or "&nbsp;"}</div>'
        )
    return (
        '<div style="font-family:monospace;font-size:14px;border:1px solid #DDD;padding:8px;'
        'border-radius:6px;overflow-x:auto">' + "".join(rows) + "</div>"
    )
