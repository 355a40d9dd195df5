"""Annotations: the explanation of a number, pinned where it belongs and kept for the next meeting.

An annotation is pinned to a metric (or every metric), an organization (or all) and a month or a
range of months, with a title (shown on the chart itself), a short text, its author and who may
see it: both parties, or only the author's side. One marked as a change point ("a new cardiology
group joined in March") also rebases the SPC charts it applies to, like an entry of the data
directory's change_points.yaml: `change_points` returns them in the same form. A change point
changes the limits and readings both parties read, so it must be visible to both.

CSV import is one transaction: a bad row is refused with its line number and nothing of the file
is saved.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Engine, and_, or_, select

from vbc import collab
from vbc.collab import BOTH, Author, Invalid, NotAllowed
from vbc.security import Viewer
from vbc.spc import ChangePoint
from vbc.store import annotations

MAX_TITLE = 80
MAX_TEXT = 1000
CSV_COLUMNS = ["metric_id", "organization", "start_month", "end_month", "title", "text", "visibility"]
EXPORT_COLUMNS = ["id", *CSV_COLUMNS, "change_point", "author", "created_at"]
ANY = object()  # "do not filter by organization"


@dataclass(frozen=True)
class Annotation:
    id: int
    metric_id: str | None
    organization: str | None
    start_month: str
    end_month: str
    title: str
    text: str
    visibility: str
    change_point: bool
    meeting_id: int | None
    created_by: str
    created_side: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    version: int

    @property
    def months_text(self) -> str:
        return (
            self.start_month
            if self.start_month == self.end_month
            else f"{self.start_month} to {self.end_month}"
        )

    def covers(self, month: str) -> bool:
        return self.start_month <= month <= self.end_month

    def applies_to(self, metric_id: str) -> bool:
        return self.metric_id is None or same_metric(self.metric_id, metric_id)


def same_metric(a: str, b: str) -> bool:
    """A metric and its completed version are one line on the charts (total_cost_pmpm's note
    belongs on total_cost_pmpm_completed's chart too)."""
    return a.removesuffix("_completed") == b.removesuffix("_completed")


def _from_row(row: dict) -> Annotation:
    names = {f.name for f in fields(Annotation)}
    return Annotation(**{k: (bool(v) if k == "change_point" else v) for k, v in row.items() if k in names})


def _clean(
    author: Author,
    *,
    title: str,
    text: str = "",
    metric_id: str | None = None,
    organization: str | None = None,
    start_month,
    end_month=None,
    visibility: str = BOTH,
    change_point: bool = False,
    known_metrics: Iterable[str] | None = None,
    known_organizations: Iterable[str] | None = None,
) -> dict:
    """The row to save, or Invalid / NotAllowed saying what is wrong."""
    title, text = (title or "").strip(), (text or "").strip()
    if not title:
        raise Invalid("give the annotation a title (it is what the chart shows)")
    if len(title) > MAX_TITLE:
        raise Invalid(f"keep the title to {MAX_TITLE} characters (it is drawn on the chart)")
    if len(text) > MAX_TEXT:
        raise Invalid(f"keep the text to {MAX_TEXT} characters")
    start = collab.month_text(start_month)
    end = collab.month_text(end_month) if end_month not in (None, "") else start
    if end < start:
        raise Invalid(f"end month {end} is before start month {start}")
    metric_id, organization = (metric_id or None), (organization or None)
    if metric_id and known_metrics is not None and metric_id not in set(known_metrics):
        raise Invalid(f"unknown metric_id {metric_id!r}")
    if organization and known_organizations is not None and organization not in set(known_organizations):
        raise Invalid(f"unknown organization {organization!r}")
    collab.check_organization(author, organization)
    visibility = (visibility or BOTH).strip()
    if visibility not in (BOTH, author.side) or (visibility != BOTH and author.side == "committee"):
        raise Invalid(
            "visibility must be 'both'" + ("" if author.side == "committee" else f" or '{author.side}'")
        )
    if change_point and visibility != BOTH:
        raise Invalid("a change point rebases the charts both parties read: make it visible to both")
    return dict(
        title=title,
        text=text,
        metric_id=metric_id,
        organization=organization,
        start_month=start,
        end_month=end,
        visibility=visibility,
        change_point=bool(change_point),
    )


def add(store: Engine, author: Author, *, meeting_id: int | None = None, **values) -> Annotation:
    """Save a new annotation (see `_clean` for the fields)."""
    collab.check_writer(author)
    row = _clean(author, **values)
    with store.begin() as conn:
        saved = collab.create(conn, "annotation", {**row, "meeting_id": meeting_id}, author)
    collab.audit_change(store, author, "annotation", "create", saved)
    return _from_row(saved)


def edit(store: Engine, author: Author, item: Annotation, **changes) -> Annotation:
    """Change an annotation as read (`item`); refused with Conflict when someone saved meanwhile."""
    current = {f: getattr(item, f) for f in ("title", "text", "metric_id", "organization")}
    current.update(
        start_month=item.start_month,
        end_month=item.end_month,
        visibility=item.visibility,
        change_point=item.change_point,
    )
    collab.check_organization(author, item.organization)
    if item.visibility != BOTH and item.visibility != author.side:
        raise NotAllowed("this note belongs to the other side")
    row = _clean(author, **{**current, **changes})
    return _from_row(collab.change(store, "annotation", item.id, item.version, row, author))


def delete(store: Engine, author: Author, item: Annotation) -> None:
    collab.delete(store, "annotation", item.id, item.version, author)


def get(store: Engine, item_id: int) -> Annotation | None:
    row = collab.get(store, "annotation", item_id)
    return _from_row(row) if row and row["deleted_at"] is None else None


def visible(
    store: Engine,
    viewer: Viewer,
    *,
    metric_id: str | None = None,
    organization=ANY,
    start: str | None = None,
    end: str | None = None,
) -> list[Annotation]:
    """The annotations `viewer` may see, by start month: those of `metric_id` (and of every
    metric), of `organization` (None: the chart across organizations, which shows every
    organization's notes; a name: that organization's and those of all) and overlapping
    `start`..`end`."""
    t = annotations
    q = select(t).where(
        collab.live(t), t.c.visibility.in_(collab.sides_seen(viewer)), collab.scope_clause(t, viewer)
    )
    if organization is not ANY and organization is not None:
        q = q.where(or_(t.c.organization.is_(None), t.c.organization == organization))
    if start:
        q = q.where(t.c.end_month >= start)
    if end:
        q = q.where(t.c.start_month <= end)
    with store.connect() as conn:
        rows = [_from_row(dict(r._mapping)) for r in conn.execute(q.order_by(t.c.start_month, t.c.id))]
    if metric_id:
        rows = [a for a in rows if a.applies_to(metric_id)]
    return rows


def change_points(store: Engine) -> list[ChangePoint]:
    """Annotations marked as change points, as the SPC charts take them (vbc.spc.ChangePoint):
    the month is the annotation's first month, the reason its text."""
    t = annotations
    q = (
        select(t)
        .where(and_(collab.live(t), t.c.change_point.is_(True), t.c.visibility == BOTH))
        .order_by(t.c.start_month, t.c.id)
    )
    with store.connect() as conn:
        rows = conn.execute(q).all()
    return [
        ChangePoint(
            month=r.start_month,
            title=r.title,
            reason=r.text,
            metric_id=r.metric_id,
            organization=r.organization,
        )
        for r in rows
    ]


def import_csv(
    store: Engine,
    author: Author,
    text: str,
    known_metrics: Iterable[str] | None = None,
    known_organizations: Iterable[str] | None = None,
) -> list[Annotation]:
    """Every row of a CSV (columns CSV_COLUMNS, plus an optional change_point yes/no) saved in one
    transaction; the first bad row raises Invalid naming its line, and nothing is saved."""
    collab.check_writer(author)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("start_month", "title") if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid(f"line 1: missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}")
    # An export read back in: its id, author and stamp columns are the export's, not new input.
    unknown = sorted(c for c in set(reader.fieldnames) - {*EXPORT_COLUMNS} if not c.startswith("stamp_"))
    if unknown:
        raise Invalid(f"line 1: unknown column(s) {', '.join(unknown)}; expected {', '.join(CSV_COLUMNS)}")
    metrics = set(known_metrics) if known_metrics is not None else None
    orgs = set(known_organizations) if known_organizations is not None else None
    saved = []
    with store.begin() as conn:
        for record in reader:
            line = reader.line_num
            try:
                row = _clean(
                    author,
                    **{k: (record.get(k) or "") for k in CSV_COLUMNS},
                    change_point=str(record.get("change_point") or "").strip().lower()
                    in ("yes", "true", "1"),
                    known_metrics=metrics,
                    known_organizations=orgs,
                )
            except (Invalid, NotAllowed) as exc:
                raise Invalid(f"line {line}: {exc}") from None
            saved.append(_from_row(collab.create(conn, "annotation", {**row, "meeting_id": None}, author)))
    if author.actor is not None:
        from vbc import audit

        audit.record(store, author.actor, "annotation_import", detail={"format": "csv"}, row_count=len(saved))
    return saved


def export_rows(items: Iterable[Annotation]) -> list[dict]:
    """Rows of the export (and of a re-importable CSV): EXPORT_COLUMNS."""
    return [
        {
            "id": a.id,
            "metric_id": a.metric_id or "",
            "organization": a.organization or "",
            "start_month": a.start_month,
            "end_month": a.end_month if a.end_month != a.start_month else "",
            "title": a.title,
            "text": a.text,
            "visibility": a.visibility,
            "change_point": "yes" if a.change_point else "no",
            "author": a.created_by,
            "created_at": f"{a.created_at:%Y-%m-%d %H:%M:%S}",
        }
        for a in items
    ]
