"""The agenda's own figures (pure plotly, so the page and the packet draw the same ones): quality
rates against their targets, attribution gains and losses, settlement payments with their range.

Same conventions as vbc.charts: Okabe-Ito colours, large type, every figure readable in a
screenshot. The joint view's counts arrive already suppressed (NaN); hidden cells are not drawn and
no total is written on a bar.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from vbc.charts import BLUE, FONT, GREY, INK, ORANGE

LAYOUT = dict(font=FONT, plot_bgcolor="white", margin=dict(l=10, r=20, t=40, b=10))


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def scorecard_figure(rows: list[dict]) -> go.Figure:
    """Each measure's rate (dot) with its 95% interval (bar) and its target (diamond)."""
    shown = [r for r in rows if not _nan(r.get("_value"))]
    names = [r["measure"] for r in shown]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[r["_value"] for r in shown],
            y=names,
            mode="markers",
            name="Rate (95% interval)",
            marker=dict(size=12, color=BLUE),
            error_x=dict(
                type="data",
                symmetric=False,
                array=[(r["_high"] or r["_value"]) - r["_value"] for r in shown],
                arrayminus=[r["_value"] - (r["_low"] or r["_value"]) for r in shown],
                color=BLUE,
                thickness=2,
            ),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[r["_target"] for r in shown],
            y=names,
            mode="markers",
            name="Target",
            marker=dict(size=13, symbol="diamond-open", color=INK, line=dict(width=2)),
        )
    )
    fig.update_layout(
        height=max(260, 44 * len(shown) + 90),
        xaxis=dict(tickformat=".0%", gridcolor="#EEEEEE", title="rate"),
        yaxis=dict(autorange="reversed"),
        legend=dict(orientation="h", y=1.08, x=0),
        **LAYOUT,
    )
    return fig


def moves_figure(moves: pd.DataFrame) -> go.Figure:
    """Gained (up) and lost (down) members by reason and month; hidden counts left out."""
    fig = go.Figure()
    palette = [BLUE, "#56B4E9", "#009E73", ORANGE, "#D55E00", "#CC79A7", GREY]
    shown = moves[~moves["suppressed"].astype(bool)]
    for i, ((direction, reason), part) in enumerate(shown.groupby(["direction", "reason"], sort=True)):
        part = part.groupby("month", as_index=False)["members"].sum()
        sign = 1 if direction == "gained" else -1
        fig.add_trace(
            go.Bar(
                x=part["month"],
                y=sign * part["members"],
                name=f"{direction}: {reason}",
                marker_color=palette[i % len(palette)],
            )
        )
    fig.update_layout(
        barmode="relative",
        height=380,
        yaxis=dict(title="members (lost below zero)", gridcolor="#EEEEEE"),
        xaxis=dict(type="category"),
        legend=dict(font=dict(size=12)),
        **LAYOUT,
    )
    return fig


def settlement_figure(items: list[dict]) -> go.Figure:
    """Each contract's final payment (dot) and its 95% range (bar); zero marked."""
    labels = [f"{r['contract']}" for r in items]
    fig = go.Figure(
        go.Scatter(
            x=[r["payment"] for r in items],
            y=labels,
            mode="markers",
            marker=dict(size=14, color=BLUE),
            name="Estimate",
            error_x=dict(
                type="data",
                symmetric=False,
                array=[r["payment_high"] - r["payment"] for r in items],
                arrayminus=[r["payment"] - r["payment_low"] for r in items],
                color=BLUE,
                thickness=3,
            ),
        )
    )
    fig.add_vline(x=0, line=dict(color=INK, width=1.5))
    fig.update_layout(
        height=max(220, 70 * len(items) + 100),
        xaxis=dict(tickformat="$,.0f", gridcolor="#EEEEEE", title="final payment (payer to organization)"),
        showlegend=False,
        **LAYOUT,
    )
    return fig
