"""Annotations written on a chart (vbc.chart_notes): the title is chart text, not a tooltip; labels
that would overlap go on separate rows; a range is a band; the CSV column lists them by month."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import plotly.graph_objects as go

from vbc import chart_notes

MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]


def note(i: int, start: str, end: str | None = None, title: str = "A note", organization: str | None = None):
    return SimpleNamespace(
        id=i,
        start_month=start,
        end_month=end or start,
        title=title,
        text="",
        organization=organization,
        created_at=datetime(2025, 1, 1),
    )


def _labels(fig: go.Figure) -> list:
    return [a for a in fig.layout.annotations if "more note" not in a.text]


def test_titles_are_written_on_the_chart_on_rows_that_do_not_overlap():
    fig = go.Figure(go.Scatter(x=MONTHS, y=list(range(12))))
    notes = [
        note(1, "2025-03", title="Flu outbreak in the valley"),
        note(2, "2025-04", title="New cardiology group joined"),
        note(3, "2025-10", title="EHR switch"),
    ]
    assert chart_notes.add_notes(fig, MONTHS, notes) == 3
    labels = _labels(fig)
    assert [a.text for a in labels] == [n.title for n in notes]
    assert labels[0].y != labels[1].y  # two neighbours: two rows
    assert labels[2].y == labels[0].y  # far apart: the first row again
    assert all(a.showarrow is False for a in labels)
    assert len(fig.layout.shapes) == 3  # a dashed line per single month


def test_a_range_is_a_band_and_rows_start_below_the_charts_own_labels():
    fig = go.Figure(go.Scatter(x=MONTHS, y=list(range(12))))
    chart_notes.add_notes(fig, MONTHS, [note(1, "2025-02", "2025-05", "Staffing gap")], first_row=2)
    (shape,) = fig.layout.shapes
    assert (shape.x0, shape.x1) == (0.5, 4.5)
    (label,) = _labels(fig)
    assert label.y == 1.0 - 2 * chart_notes.ROW_STEP


def test_notes_outside_the_chart_are_skipped_and_too_many_are_counted():
    fig = go.Figure()
    assert chart_notes.add_notes(fig, MONTHS, [note(1, "2024-01")]) == 0
    crowded = [note(i, "2025-06", title=f"Note number {i}") for i in range(chart_notes.MAX_ROWS + 2)]
    assert chart_notes.add_notes(fig, MONTHS, crowded) == chart_notes.MAX_ROWS
    assert any("+2 more note(s)" in a.text for a in fig.layout.annotations)


def test_the_csv_column_and_the_organization_prefix():
    notes = [
        note(1, "2025-02", "2025-03", "Flu"),
        note(2, "2025-03", title="New group", organization="Alpha Care"),
    ]
    assert chart_notes.notes_by_month(["2025-01", "2025-02", "2025-03"], notes) == [
        "",
        "Flu",
        "Flu; Alpha Care: New group",
    ]
    assert chart_notes.notes_by_month(["2025-03"], notes, "Alpha Care") == ["Flu; New group"]
