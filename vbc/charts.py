"""Plotly figures for the charts both parties read: SPC charts, p-charts with a rolling line and
completion charts. Pure plotly (no Streamlit), so a page and an exported image draw the same figure.

Colours are the Okabe-Ito colour-blind-safe palette; common-cause points stay grey, and only SPC
signals get colour (blue improvement, orange concern), so noise is never coloured as good or bad.
Incomplete or left-out months are drawn hollow.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vbc.formats import format_value, whole_dollars
from vbc.registry import Metric

GREY = "#7F7F7F"
BLUE = "#0072B2"  # improvement
ORANGE = "#E69F00"  # concern
INK = "#1F2933"
LIMIT = "#9AA5B1"
FONT = dict(size=16)
INCOMPLETE_TEXT = "incomplete: claims still arriving"


SIGNAL_COLOURS = {
    "improvement": BLUE,
    "concern": ORANGE,
    "possible": "#5F6B7A",
    "common": GREY,
    "left out": "white",
}
SIGNAL_WORDS = {
    "improvement": "special cause — improvement",
    "concern": "special cause — concern",
    "possible": "beyond the rules, but the season cannot yet be separated",
    "common": "common cause",
    "left out": "left out of the limits",
}


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


def _signals(metric: Metric, res: dict, left_out) -> list[str]:
    """Each point's class: the chart's own (vbc.spc) or, for an older result, from its flags."""
    if "signal" in res:
        return ["left out" if hollow else sig for sig, hollow in zip(res["signal"], left_out)]
    colours = point_colours(metric, res["flags"], left_out)
    names = {BLUE: "improvement", ORANGE: "concern", GREY: "common", "white": "left out"}
    return [names[c] for c in colours]


def _line(months, y, name: str, **line) -> go.Scatter:
    return go.Scatter(x=months, y=np.asarray(y, dtype=float), mode="lines", name=name, line=line)


def _points(
    metric: Metric, months, values, res: dict, left_out, name: str, hover: str, note: str
) -> go.Scatter:
    signals = _signals(metric, res, left_out)
    return go.Scatter(
        x=months,
        y=np.asarray(values, dtype=float),
        mode="lines+markers",
        name=name,
        line=dict(color=GREY, width=2),
        marker=dict(
            size=[14 if s == "possible" else 11 for s in signals],
            symbol=["diamond" if s == "possible" else "circle" for s in signals],
            color=[SIGNAL_COLOURS[s] for s in signals],
            line=dict(color=INK, width=1.5),
        ),
        customdata=np.array([note if s == "left out" else SIGNAL_WORDS[s] for s in signals]),
        hovertemplate=f"%{{x}}: {hover} — %{{customdata}}<extra></extra>",
    )


def _phase_traces(fig: go.Figure, months, res: dict, centre_name: str, step: bool, hide=None) -> None:
    """Centre (or seasonal expectation) and process limits drawn phase by phase, so a rebased
    phase never appears joined to the one before it; `hide` blanks the limits of left-out months."""
    phase = np.asarray(res.get("phase", np.ones(len(months), int)))
    hide = np.zeros(len(months), bool) if hide is None else np.asarray(hide, bool)
    shape = "hvh" if step else "linear"
    tick = ".1%" if step else ",.1f"
    limit = dict(color=LIMIT, dash="dash", width=1.5, shape=shape)
    centre = dict(color=INK, width=2, shape=shape)
    centre_key = "expectation" if "expectation" in res else "centre"
    months = np.asarray(months)
    for k, p in enumerate(np.unique(phase)):
        on = phase == p
        for key, name, style in (
            ("upper", "Process limits", limit),
            ("lower", "Process limits", limit),
            (centre_key, centre_name, centre),
        ):
            y = np.asarray(res[key], dtype=float)
            y = np.where(hide & (key != centre_key), np.nan, y)[on]
            fig.add_trace(
                _line(months[on], y, name, **style).update(
                    legendgroup=name,
                    showlegend=k == 0 and key != "lower",
                    hovertemplate=f"%{{x}}: {name.lower()} %{{y:{tick}}}<extra></extra>",
                )
            )


def _change_lines(fig: go.Figure, months, res: dict) -> None:
    """A labelled vertical line where each declared phase starts, and a dotted one at a proposed
    change point, placed between the months so no point is hidden."""
    months = list(months)
    marks = [(p["first"], f"{p['first']} · {p['title']}", INK, "solid") for p in res.get("phases", [])[1:]]
    if res.get("proposal"):
        m = res["proposal"]["month"]
        marks.append((m, f"{m} · sustained shift? confirm to rebase", SIGNAL_COLOURS["possible"], "dot"))
    for row, (month, text, colour, dash) in enumerate(marks):
        if month not in months:
            continue
        x = months.index(month) - 0.5
        fig.add_shape(
            type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line=dict(color=colour, width=2, dash=dash)
        )
        fig.add_annotation(
            x=x,
            y=1.0 - 0.09 * row,
            yref="paper",
            text=text,
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font=dict(size=14, color=colour),
            bgcolor="rgba(255,255,255,0.85)",
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
    """An XmR chart computed by vbc.spc.monthly_chart: limits and centre per phase (around the
    seasonal expectation when the series has a season), change points as labelled lines."""
    incomplete = np.asarray(res["incomplete"], dtype=bool)
    season = res.get("season")
    seasonal = season is not None and season.seasonal
    fig = go.Figure()
    _phase_traces(
        fig, months, res, "Expected for the month (usual season)" if seasonal else "Centre (mean)", False
    )
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
    _change_lines(fig, months, res)
    return _layout(
        fig, 460, dict(title=y_title or metric.unit, tickformat=",.0f"), dict(type="category", nticks=12)
    )


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
    fig = go.Figure()
    _phase_traces(fig, months, res, "Centre (mean)", True, hide=left_out)
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
    _change_lines(fig, months, res)
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


def waterfall_figure(bars: list[dict]) -> go.Figure:
    """A settlement from benchmark to final payment (vbc.settlement.waterfall's bars), in two panels,
    each on its own scale: the sharing steps are a few percent of the benchmark and would be
    invisible on its scale."""
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.45, 0.55],
        horizontal_spacing=0.09,
        subplot_titles=(
            "Benchmark − actual = gross savings / losses",
            "Gross savings / losses → final payment (own scale)",
        ),
    )
    for col, stage in ((1, "expenditure"), (2, "sharing")):
        part = [b for b in bars if b["stage"] == stage]
        levels, level = [], 0.0
        for b in part:
            level = b["value"] if b["measure"] in ("absolute", "total") else level + b["value"]
            levels.append(level)
        fig.add_trace(
            go.Waterfall(
                x=[b["label"] for b in part],
                y=[0 if b["measure"] == "total" else b["value"] for b in part],
                measure=[b["measure"] for b in part],
                text=[whole_dollars(b["value"]) for b in part],
                textposition="outside",
                textfont=dict(size=15),
                cliponaxis=False,
                increasing=dict(marker=dict(color=BLUE)),
                decreasing=dict(marker=dict(color=ORANGE)),
                totals=dict(marker=dict(color=GREY)),
                connector=dict(line=dict(color=LIMIT)),
            ),
            row=1,
            col=col,
        )
        lo, hi = min(0.0, *levels), max(0.0, *levels)
        pad = 0.18 * max(hi - lo, 1.0)
        fig.update_yaxes(range=[lo - pad, hi + pad], row=1, col=col)
    fig.update_yaxes(tickformat="$,.3s", gridcolor="#EEEEEE", zeroline=True, zerolinecolor=INK)
    fig.update_xaxes(tickfont=dict(size=14), tickangle=0)
    fig.update_annotations(font=dict(size=15))
    fig.update_layout(
        height=470, font=FONT, plot_bgcolor="white", margin=dict(l=10, r=10, t=50, b=10), showlegend=False
    )
    return fig
