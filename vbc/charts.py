"""Plotly figures for the charts both parties read: SPC charts, p-charts with a rolling line and
completion charts. Pure plotly (no Streamlit), so a page and an exported image draw the same figure.

Colours are the Okabe-Ito colour-blind-safe palette; common-cause points stay grey, and only SPC
signals get colour (blue improvement, orange concern), so noise is never coloured as good or bad.
Incomplete or left-out months are drawn hollow.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vbc.formats import format_value
from vbc.registry import Metric

GREY = "#7F7F7F"
BLUE = "#0072B2"  # improvement
ORANGE = "#E69F00"  # concern
INK = "#1F2933"
LIMIT = "#9AA5B1"
FONT = dict(size=16)
INCOMPLETE_TEXT = "incomplete: claims still arriving"


def point_colours(metric: Metric, flags: dict, left_out) -> list[str]:
    """Only signals get colour: blue for improvement, orange for concern; left-out months hollow."""
    out = []
    for i, hollow in enumerate(left_out):
        if hollow:
            out.append("white")
        elif flags["any"][i]:
            good = (flags["side"][i] > 0) == (metric.direction == "higher")
            out.append(BLUE if good else ORANGE)
        else:
            out.append(GREY)
    return out


def _line(months, y, name: str, **line) -> go.Scatter:
    return go.Scatter(x=months, y=np.asarray(y, dtype=float), mode="lines", name=name, line=line)


def _points(
    metric: Metric, months, values, res: dict, left_out, name: str, hover: str, note: str
) -> go.Scatter:
    return go.Scatter(
        x=months,
        y=np.asarray(values, dtype=float),
        mode="lines+markers",
        name=name,
        line=dict(color=GREY, width=2),
        marker=dict(
            size=11, color=point_colours(metric, res["flags"], left_out), line=dict(color=INK, width=1.5)
        ),
        customdata=np.array([note if hollow else "" for hollow in left_out]),
        hovertemplate=f"%{{x}}: {hover} %{{customdata}}<extra></extra>",
    )


def _incomplete_band(fig: go.Figure, months, incomplete, text: str = INCOMPLETE_TEXT, opacity=0.35) -> None:
    flagged = [i for i, flag in enumerate(incomplete) if flag]
    if flagged:
        fig.add_vrect(
            x0=months[flagged[0]],
            x1=months[-1],
            fillcolor="#DDDDDD",
            opacity=opacity,
            line_width=0,
            annotation_text=text,
            annotation_position="top left",
            annotation_font=dict(size=14),
        )


def _layout(fig: go.Figure, height: int, yaxis: dict, xaxis: dict | None = None, top: int = 30) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=top, b=10),
        font=FONT,
        plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=14)),
        yaxis=dict(gridcolor="#EEEEEE", **yaxis),
        xaxis=dict(title=None, gridcolor="#F5F5F5", **(xaxis or {})),
    )
    return fig


def spc_figure(
    metric: Metric, months, values, res: dict, *, target: float | None = None, y_title: str | None = None
) -> go.Figure:
    """An XmR (or p/u) chart computed by vbc.spc.monthly_chart."""
    incomplete = np.asarray(res["incomplete"], dtype=bool)
    fig = go.Figure()
    for name, arr in (("Upper process limit", res["upper"]), ("Lower process limit", res["lower"])):
        fig.add_trace(_line(months, arr, name, color=LIMIT, dash="dash", width=1.5).update(hoverinfo="skip"))
    fig.add_trace(_line(months, res["centre"], "Centre (mean)", color=INK, width=1.5))
    note = "incomplete (claims still arriving)"
    fig.add_trace(_points(metric, months, values, res, incomplete, metric.name, "%{y:,.2f}", note))
    if target is not None:
        fig.add_hline(
            y=target,
            line=dict(color=BLUE, dash="dot", width=2),
            annotation_text=f"Target {format_value(metric, target)}",
            annotation_font=FONT,
        )
    _incomplete_band(fig, months, incomplete)
    return _layout(fig, 430, dict(title=y_title or metric.unit, tickformat=",.0f"))


def p_chart_figure(
    metric: Metric,
    months,
    res: dict,
    *,
    rolling=None,
    target: float | None = None,
    target_label: str = "Target",
    left_out=None,
    left_out_label: str = "left out of the limits",
) -> go.Figure:
    """A p-chart of monthly proportions (limits per point from its own denominator, computed by
    vbc.spc.p_chart) with an optional rolling 12-month line; percent axis."""
    values = np.asarray(res["values"], dtype=float)
    left_out = np.asarray(left_out if left_out is not None else [False] * len(values), bool)
    limit = dict(color=LIMIT, dash="dash", width=1.5, shape="hvh")
    fig = go.Figure()
    fig.add_trace(_line(months, np.where(left_out, np.nan, res["upper"]), "Process limits (3σ)", **limit))
    fig.add_trace(
        _line(months, np.where(left_out, np.nan, res["lower"]), "", **limit).update(showlegend=False)
    )
    for trace in fig.data:
        trace.hoverinfo = "skip"
    fig.add_trace(_line(months, res["centre"], "Centre (mean)", color=INK, width=1.5))
    if rolling is not None:
        fig.add_trace(
            _line(months, rolling, "Rolling 12 months", color=BLUE, width=3, dash="dot").update(
                hovertemplate="%{x}: rolling 12 months %{y:.1%}<extra></extra>"
            )
        )
    fig.add_trace(
        _points(metric, months, values, res, left_out, "Month on its own", "%{y:.1%}", left_out_label)
    )
    if target is not None:
        fig.add_hline(
            y=target,
            line=dict(color=INK, dash="dot", width=2),
            annotation_text=f"{target_label} {format_value(metric, target)}",
            annotation_font=FONT,
            annotation_position="top left",
        )
    title = "Rate" + (" (lower is better)" if metric.direction == "lower" else "")
    return _layout(fig, 460, dict(title=title, tickformat=".0%"), dict(type="category"), top=40)


def completion_figure(
    months,
    raw,
    completed,
    low,
    high,
    incomplete,
    *,
    benchmark: float | None = None,
    benchmark_label: str = "Benchmark",
    y_title: str = "dollars per member month",
    paid_through: str | None = None,
) -> go.Figure:
    """Raw and completed values side by side: completed (bold, with its range) is the number to
    read; raw (thin, dashed) shows what has been paid so far. Incomplete months are shaded, so a
    raw drop in the last months is never shown on its own as a fall."""
    fig = go.Figure()
    fig.add_trace(_line(months, high, "", width=0).update(showlegend=False, hoverinfo="skip"))
    fig.add_trace(
        _line(months, low, "Completion range (95%)", width=0).update(
            fill="tonexty", fillcolor="rgba(0,114,178,0.18)", hoverinfo="skip"
        )
    )
    for y, name, style, label in (
        (raw, "Raw (paid so far)", dict(color=GREY, width=2, dash="dash"), "raw"),
        (completed, "Completed (estimate)", dict(color=BLUE, width=4), "completed"),
    ):
        fig.add_trace(
            _line(months, y, name, **style).update(
                mode="lines+markers",
                marker=dict(size=10 if label == "completed" else 7),
                hovertemplate=f"%{{x}}: {label} %{{y:$,.2f}}<extra></extra>",
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
    text = INCOMPLETE_TEXT + (f" (paid through {paid_through})" if paid_through else "")
    _incomplete_band(fig, months, incomplete, text, opacity=0.4)
    return _layout(
        fig,
        440,
        dict(title=y_title, tickformat="$,.0f", rangemode="tozero"),
        dict(type="category", nticks=12),
    )
