"""Meetings of the joint operating committee and the decisions taken in them.

Opening a meeting records its date, title, organization (or all), attendees, the performance
period it reviews and the data stamp at that moment, with a snapshot of the headline numbers in
the joint (de-identified) view: the next meeting's agenda says what moved since this one from
those, whatever builds have come and gone in between. Decisions belong to a meeting and carry
their rationale. The agenda itself is assembled in vbc.agenda.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlalchemy import Engine, select

from vbc import collab
from vbc.collab import Author, Invalid
from vbc.periods import Period
from vbc.security import NotEntitled, Viewer
from vbc.store import decisions, meetings


@dataclass(frozen=True)
class Meeting:
    id: int
    held_on: date
    title: str
    organization: str | None
    attendees: tuple[str, ...]
    period_start: str
    period_end: str
    stamp: dict
    snapshot: dict
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    version: int

    @property
    def period(self) -> Period:
        return Period.from_months(self.period_start, self.period_end)

    @property
    def label(self) -> str:
        return f"{self.held_on:%Y-%m-%d} · {self.title}" + (
            f" · {self.organization}" if self.organization else ""
        )


@dataclass(frozen=True)
class Decision:
    id: int
    meeting_id: int
    decision: str
    rationale: str
    metric_id: str | None
    organization: str | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    version: int


def _meeting(row: dict) -> Meeting:
    names = {f.name for f in fields(Meeting)}
    values = {k: v for k, v in row.items() if k in names}
    values["attendees"] = tuple(json.loads(row["attendees"] or "[]"))
    values["stamp"] = json.loads(row["stamp"] or "{}")
    values["snapshot"] = json.loads(row["snapshot"] or "{}")
    return Meeting(**values)


def _decision(row: dict) -> Decision:
    names = {f.name for f in fields(Decision)}
    return Decision(**{k: v for k, v in row.items() if k in names})


def attendee_list(text) -> list[str]:
    """Attendees from a list, or text with one per line or separated by semicolons."""
    items = text if isinstance(text, list | tuple) else str(text or "").replace(";", "\n").splitlines()
    return [a.strip() for a in items if a and a.strip()]


def open_meeting(
    store: Engine,
    author: Author,
    ws,
    registry,
    *,
    held_on: date,
    title: str | None = None,
    organization: str | None = None,
    attendees=(),
    period: Period | None = None,
) -> Meeting:
    """Record a meeting with the data stamp and the joint view's headline numbers as they are now."""
    from vbc import agenda, engine

    collab.check_writer(author)
    collab.check_organization(author, organization)
    organization = organization or None
    if organization and organization not in engine.organizations(ws):
        raise Invalid(f"unknown organization {organization!r}")
    period = period or agenda.default_period(ws)
    stamp = engine.stamp(ws, registry)
    snap = agenda.snapshot(ws, registry, organization, period)
    row = {
        "held_on": held_on,
        "title": (title or "").strip() or f"Joint operating committee {held_on:%B %Y}",
        "organization": organization,
        "attendees": json.dumps(attendee_list(attendees)),
        "period_start": f"{period.start:%Y-%m}",
        "period_end": f"{period.end:%Y-%m}",
        "stamp": json.dumps(stamp, default=str),
        "fingerprint": stamp.get("fingerprint"),
        "paid_through": str(stamp.get("paid_through") or "") or None,
        "snapshot": json.dumps(snap, default=str),
    }
    with store.begin() as conn:
        saved = collab.create(conn, "meeting", row, author)
    collab.audit_change(store, author, "meeting", "create", saved)
    return _meeting(saved)


def edit_meeting(store: Engine, author: Author, meeting: Meeting, *, title=None, attendees=None) -> Meeting:
    values = {}
    if title is not None:
        if not title.strip():
            raise Invalid("a meeting needs a title")
        values["title"] = title.strip()
    if attendees is not None:
        values["attendees"] = json.dumps(attendee_list(attendees))
    collab.check_organization(author, meeting.organization)
    return _meeting(collab.change(store, "meeting", meeting.id, meeting.version, values, author))


def get(store: Engine, meeting_id: int, viewer: Viewer | None = None) -> Meeting | None:
    """A meeting (None when absent or deleted); NotEntitled when `viewer` may not see it."""
    row = collab.get(store, "meeting", meeting_id)
    if row is None or row["deleted_at"] is not None:
        return None
    m = _meeting(row)
    if viewer is not None and viewer.kind == "org" and m.organization not in (None, viewer.organization):
        raise NotEntitled(f"{viewer.organization} may not see a meeting about {m.organization}")
    return m


def visible(store: Engine, viewer: Viewer) -> list[Meeting]:
    """Meetings the viewer may see, newest first."""
    t = meetings
    q = (
        select(t)
        .where(collab.live(t), collab.scope_clause(t, viewer))
        .order_by(t.c.held_on.desc(), t.c.id.desc())
    )
    with store.connect() as conn:
        return [_meeting(dict(r._mapping)) for r in conn.execute(q)]


def previous(store: Engine, meeting: Meeting) -> Meeting | None:
    """The last meeting before this one about the same organization (or all)."""
    t = meetings
    q = select(t).where(collab.live(t), t.c.id != meeting.id, t.c.held_on <= meeting.held_on)
    q = q.where(
        t.c.organization.is_(None)
        if meeting.organization is None
        else t.c.organization == meeting.organization
    )
    q = q.order_by(t.c.held_on.desc(), t.c.id.desc())
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    earlier = [r for r in rows if r["held_on"] < meeting.held_on or r["id"] < meeting.id]
    return _meeting(earlier[0]) if earlier else None


def add_decision(
    store: Engine,
    author: Author,
    meeting: Meeting,
    *,
    decision: str,
    rationale: str,
    metric_id: str | None = None,
) -> Decision:
    """A decision on record, with its rationale, in `meeting`."""
    collab.check_writer(author)
    decision, rationale = (decision or "").strip(), (rationale or "").strip()
    if not decision:
        raise Invalid("say what was decided")
    if not rationale:
        raise Invalid("record why (the rationale): the next meeting will ask")
    collab.check_organization(author, meeting.organization)
    row = {
        "meeting_id": meeting.id,
        "decision": decision,
        "rationale": rationale,
        "metric_id": metric_id or None,
        "organization": meeting.organization,
    }
    with store.begin() as conn:
        saved = collab.create(conn, "decision", row, author)
    collab.audit_change(store, author, "decision", "create", saved)
    return _decision(saved)


def edit_decision(store: Engine, author: Author, item: Decision, **changes) -> Decision:
    values = {k: (changes[k] or "").strip() for k in ("decision", "rationale") if k in changes}
    if any(not v for v in values.values()):
        raise Invalid("a decision needs its text and its rationale")
    collab.check_organization(author, item.organization)
    return _decision(collab.change(store, "decision", item.id, item.version, values, author))


def delete_decision(store: Engine, author: Author, item: Decision) -> None:
    collab.delete(store, "decision", item.id, item.version, author)


def decisions_of(store: Engine, meeting_id: int) -> list[Decision]:
    t = decisions
    q = select(t).where(collab.live(t), t.c.meeting_id == meeting_id).order_by(t.c.id)
    with store.connect() as conn:
        return [_decision(dict(r._mapping)) for r in conn.execute(q)]
