"""Annotations drawn on the charts themselves, readable without hovering.

A screen-share or a screenshot shows no tooltip, so each annotation is a vertical line (one month)
or a shaded band (a range of months) with its title written on the chart, near the top, each label
on the first row where it does not overlap another. Labels are placed from an estimate of their
width in months at a typical chart width; rows stop at MAX_ROWS and the rest are counted in one
"+N more" label (the table below the chart and the CSV list them all). Pure plotly, so a page and
the meeting packet draw the same marks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import plotly.graph_objects as go

NOTE = "#CC79A7"  # Okabe-Ito reddish purple: apart from the signal colours (blue, orange) and grey
MAX_ROWS = 5
ROW_STEP = 0.09  # the same step as vbc.charts' change-point labels
CHAR_PX = 7.6  # average width of a 13-px label character
GAP = 0.3  # months kept free between two labels on a row


def label_for(note, chart_organization: str | None) -> str:
    """The text on the chart: the title, and the organization when the chart spans several."""
    prefix = f"{note.organization}: " if note.organization and not chart_organization else ""
    return prefix + note.title


def _span(months: Sequence[str], note) -> tuple[int, int] | None:
    inside = [i for i, m in enumerate(months) if note.start_month <= m <= note.end_month]
    return (inside[0], inside[-1]) if inside else None


def _place(rows: list[list[tuple[float, float]]], lo: float, hi: float) -> int | None:
    for r, taken in enumerate(rows):
        if all(hi + GAP <= a or lo >= b + GAP for a, b in taken):
            taken.append((lo, hi))
            return r
    if len(rows) < MAX_ROWS:
        rows.append([(lo, hi)])
        return len(rows) - 1
    return None


def add_notes(
    fig: go.Figure,
    months: Sequence[str],
    notes: Iterable,
    *,
    chart_organization: str | None = None,
    first_row: int = 0,
    width_px: int = 1100,
) -> int:
    """Draw `notes` (vbc.annotations.Annotation) on a category-axis chart of `months`; rows start
    below `first_row` rows of other labels (e.g. the chart's change-point lines). Returns how many
    were drawn."""
    months = [str(m) for m in months]
    if not months:
        return 0
    per_month = width_px / len(months)
    rows: list[list[tuple[float, float]]] = [[] for _ in range(first_row)]
    for r in rows:
        r.append((-1e9, 1e9))  # rows used by the chart's own labels
    drawn, hidden = 0, 0
    for note in sorted(notes, key=lambda n: (n.start_month, n.id)):
        span = _span(months, note)
        if span is None:
            continue
        a, b = span
        text = label_for(note, chart_organization)
        width = len(text) * CHAR_PX / per_month + 0.6
        x = a - 0.5 if a != b else a
        right = x + width > len(months) - 0.5
        lo, hi = (x - width, x) if right else (x, x + width)
        row = _place(rows, lo, hi)
        if a == b:
            fig.add_shape(
                type="line", x0=a, x1=a, y0=0, y1=1, yref="paper", line=dict(color=NOTE, width=2, dash="dash")
            )
        else:
            fig.add_vrect(x0=a - 0.5, x1=b + 0.5, fillcolor=NOTE, opacity=0.12, line_width=0)
        if row is None:
            hidden += 1
            continue
        fig.add_annotation(
            x=x,
            y=1.0 - ROW_STEP * row,
            yref="paper",
            text=text,
            showarrow=False,
            xanchor="right" if right else "left",
            yanchor="top",
            font=dict(size=13, color="#6B2D55"),
            bgcolor="rgba(255,255,255,0.9)",
            bordercolor=NOTE,
            borderwidth=1,
            hovertext=note.text or note.title,
        )
        drawn += 1
    if hidden:
        fig.add_annotation(
            x=len(months) - 0.5,
            y=1.0 - ROW_STEP * MAX_ROWS,
            yref="paper",
            text=f"+{hidden} more note(s): see the list below the chart",
            showarrow=False,
            xanchor="right",
            yanchor="top",
            font=dict(size=12, color="#6B2D55"),
            bgcolor="rgba(255,255,255,0.9)",
        )
    return drawn


def notes_by_month(
    months: Sequence[str], notes: Iterable, chart_organization: str | None = None
) -> list[str]:
    """For a chart's CSV: the titles of the notes covering each month ("; " between them)."""
    notes = list(notes)
    return [
        "; ".join(label_for(n, chart_organization) for n in notes if n.start_month <= str(m) <= n.end_month)
        for m in months
    ]
