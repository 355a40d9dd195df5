"""Reusable page pieces: the stamp header, number formats, metric tiles, SPC charts, exports.

Charts use the Okabe-Ito colour-blind-safe palette; common-cause points stay grey, and only SPC
signals get colour (blue improvement, orange concern), so noise is never coloured as good or bad.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from vbc import stats
from vbc.registry import Metric
from vbc.ui.context import Context

GREY = "#7F7F7F"
BLUE = "#0072B2"  # improvement
ORANGE = "#E69F00"  # concern
INK = "#1F2933"
LIMIT = "#9AA5B1"
FONT = dict(size=16)


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


def format_value(metric: Metric, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if metric.kind == "pmpm" or (metric.kind == "ratio" and "dollar" in metric.unit):
        return f"${value:,.2f}"
    if metric.kind == "proportion":
        return f"{value:.1%}"
    if metric.kind == "per_1000":
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def format_count(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


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


def interval_text(metric: Metric, lo: float | None, hi: float | None, suppressed: bool = False) -> str:
    if suppressed:
        return ""
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return "not estimable (too few people)"
    return f"{format_value(metric, lo)} – {format_value(metric, hi)}"


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


def point_colours(metric: Metric, flags: dict, incomplete) -> list[str]:
    """Only signals get colour: blue for improvement, orange for concern; left-out months hollow."""
    out = []
    for i, left_out in enumerate(incomplete):
        if left_out:
            out.append("white")
        elif flags["any"][i]:
            good = (flags["side"][i] > 0) == (metric.direction == "higher")
            out.append(BLUE if good else ORANGE)
        else:
            out.append(GREY)
    return out


def spc_chart(
    metric: Metric,
    months: list[str],
    values: list[float],
    *,
    kind: str = "xmr",
    numerators=None,
    denominators=None,
    incomplete: list[bool] | None = None,
    target: float | None = None,
    y_title: str | None = None,
    key: str | None = None,
) -> dict:
    """Plot a statistical process control chart and state its reading in plain words.

    Incomplete months (claims still arriving) are drawn hollow and left out of the limits and rules,
    so a raw drop in recent months is never read as a change.
    """
    values = np.asarray(values, dtype=float)
    incomplete = np.asarray(incomplete if incomplete is not None else [False] * len(values))
    used = np.where(incomplete, np.nan, values)
    res = stats.spc(
        used,
        metric.direction,
        kind=kind,
        numerators=None if numerators is None else np.where(incomplete, np.nan, numerators),
        denominators=None if denominators is None else np.where(incomplete, 0, denominators),
        target=target,
    )
    flags = res["flags"]
    colours = point_colours(metric, flags, incomplete)
    fig = go.Figure()
    for name, arr, dash in (
        ("Upper process limit", res["upper"], "dash"),
        ("Lower process limit", res["lower"], "dash"),
    ):
        fig.add_trace(
            go.Scatter(
                x=months,
                y=np.asarray(arr, dtype=float),
                mode="lines",
                name=name,
                line=dict(color=LIMIT, dash=dash, width=1.5),
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=np.asarray(res["centre"], dtype=float),
            mode="lines",
            name="Centre (mean)",
            line=dict(color=INK, width=1.5),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=values,
            mode="lines+markers",
            name=metric.name,
            line=dict(color=GREY, width=2),
            marker=dict(size=11, color=colours, line=dict(color=INK, width=1.5)),
            customdata=np.array(["incomplete (claims still arriving)" if inc else "" for inc in incomplete]),
            hovertemplate="%{x}: %{y:,.2f} %{customdata}<extra></extra>",
        )
    )
    if target is not None:
        fig.add_hline(
            y=target,
            line=dict(color=BLUE, dash="dot", width=2),
            annotation_text=f"Target {format_value(metric, target)}",
            annotation_font=FONT,
        )
    if incomplete.any():
        first = int(np.argmax(incomplete))
        fig.add_vrect(
            x0=months[first],
            x1=months[-1],
            fillcolor="#DDDDDD",
            opacity=0.35,
            line_width=0,
            annotation_text="incomplete: claims still arriving",
            annotation_position="top left",
            annotation_font=dict(size=14),
        )
    fig.update_layout(
        height=430,
        margin=dict(l=10, r=10, t=30, b=10),
        font=FONT,
        plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=13)),
        yaxis=dict(title=y_title or metric.unit, gridcolor="#EEEEEE", tickformat=",.0f"),
        xaxis=dict(title=None, gridcolor="#F5F5F5"),
    )
    st.plotly_chart(fig, key=key, config={"displaylogo": False})
    trial = " Limits are *trial* (fewer than 12 points)." if res["trial"] else ""
    rules = f" ({', '.join(res['latest_rules'])})" if res["latest_rules"] else ""
    st.markdown(
        f"**Reading:** {res['reading']}{rules}.{trial}"
        + (f" **Against target:** {res['assurance']}." if res.get("assurance") else "")
    )
    return res


def csv_download(
    df: pd.DataFrame, stamp: dict, file_name: str, label: str = "Download CSV", key: str | None = None
) -> None:
    """CSV export carrying the same stamp as the page."""
    out = df.copy()
    for k in ("paid_through", "incurred_through", "fingerprint"):
        out[f"stamp_{k}"] = stamp[k]
    buf = io.StringIO()
    out.to_csv(buf, index=False)
    st.download_button(label, buf.getvalue(), file_name=file_name, mime="text/csv", key=key)


def completion_chart(
    months: list[str],
    raw: list[float],
    completed: list[float],
    low: list[float],
    high: list[float],
    incomplete: list[bool],
    *,
    benchmark: float | None = None,
    benchmark_label: str = "Benchmark",
    y_title: str = "dollars per member month",
    paid_through: str | None = None,
    key: str | None = None,
) -> None:
    """Raw and completed values side by side: completed (bold, with its range) is the number to
    read; raw (thin, dashed) shows what has been paid so far. Incomplete months are shaded, so a
    raw drop in the last months is never shown on its own as a fall."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=months, y=high, mode="lines", line=dict(width=0), showlegend=False, hoverinfo="skip")
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=low,
            mode="lines",
            line=dict(width=0),
            fill="tonexty",
            fillcolor="rgba(0,114,178,0.18)",
            name="Completion range (95%)",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=raw,
            mode="lines+markers",
            name="Raw (paid so far)",
            line=dict(color=GREY, width=2, dash="dash"),
            marker=dict(size=7),
            hovertemplate="%{x}: raw %{y:$,.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=completed,
            mode="lines+markers",
            name="Completed (estimate)",
            line=dict(color=BLUE, width=4),
            marker=dict(size=10),
            hovertemplate="%{x}: completed %{y:$,.2f}<extra></extra>",
        )
    )
    if benchmark is not None:
        fig.add_hline(
            y=benchmark,
            line=dict(color=ORANGE, dash="dot", width=3),
            annotation_text=f"{benchmark_label} ${benchmark:,.2f}",
            annotation_font=FONT,
            annotation_position="top left",
        )
    inc = [i for i, flag in enumerate(incomplete) if flag]
    if inc:
        text = "incomplete: claims still arriving"
        if paid_through:
            text += f" (paid through {paid_through})"
        fig.add_vrect(
            x0=months[inc[0]],
            x1=months[-1],
            fillcolor="#DDDDDD",
            opacity=0.4,
            line_width=0,
            annotation_text=text,
            annotation_position="top left",
            annotation_font=dict(size=14),
        )
    fig.update_layout(
        height=440,
        margin=dict(l=10, r=10, t=30, b=10),
        font=FONT,
        plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=14)),
        yaxis=dict(title=y_title, gridcolor="#EEEEEE", tickformat="$,.0f", rangemode="tozero"),
        xaxis=dict(title=None, gridcolor="#F5F5F5", type="category", nticks=12),
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
    """A p-chart of monthly proportions (limits per point from its own denominator, precomputed
    by vbc.stats.spc / vbc.quality.control_chart) with an optional rolling 12-month line.

    Only SPC signals get colour (blue improvement, orange concern); months left out of the limits
    (short history, claims still arriving, suppressed) are drawn hollow. Percent axis, large labels.
    """
    values = np.asarray(res["values"], dtype=float)
    flags = res["flags"]
    incomplete = np.asarray(incomplete if incomplete is not None else [False] * len(values), bool)
    colours = point_colours(metric, flags, incomplete)
    lim = lambda a: np.where(incomplete, np.nan, np.asarray(a, dtype=float))  # noqa: E731
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=months,
            y=lim(res["upper"]),
            mode="lines",
            name="Process limits (3σ)",
            line=dict(color=LIMIT, dash="dash", width=1.5, shape="hvh"),
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=lim(res["lower"]),
            mode="lines",
            showlegend=False,
            line=dict(color=LIMIT, dash="dash", width=1.5, shape="hvh"),
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=np.asarray(res["centre"], dtype=float),
            mode="lines",
            name="Centre (mean)",
            line=dict(color=INK, width=1.5),
        )
    )
    if rolling is not None:
        fig.add_trace(
            go.Scatter(
                x=months,
                y=np.asarray(rolling, dtype=float),
                mode="lines",
                name="Rolling 12 months",
                line=dict(color=BLUE, width=3, dash="dot"),
                hovertemplate="%{x}: rolling 12 months %{y:.1%}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=values,
            mode="lines+markers",
            name="Month on its own",
            line=dict(color=GREY, width=2),
            marker=dict(size=11, color=colours, line=dict(color=INK, width=1.5)),
            customdata=np.array([incomplete_label if inc else "" for inc in incomplete]),
            hovertemplate="%{x}: %{y:.1%} %{customdata}<extra></extra>",
        )
    )
    if target is not None:
        fig.add_hline(
            y=target,
            line=dict(color=INK, dash="dot", width=2),
            annotation_text=f"{target_label} {format_value(metric, target)}",
            annotation_font=FONT,
            annotation_position="top left",
        )
    fig.update_layout(
        height=460,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=14)),
        yaxis=dict(
            title="Rate" + (" (lower is better)" if metric.direction == "lower" else ""),
            gridcolor="#EEEEEE",
            tickformat=".0%",
        ),
        xaxis=dict(title=None, gridcolor="#F5F5F5", type="category"),
    )
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
