"""What the committee writes, whoever writes it: authors and their side, who may see and change what,
and saving without losing a colleague's edit.

Every meeting, annotation, action item and decision row carries a `version`. An edit names the
version it was made on, and the UPDATE's WHERE clause requires it: when someone saved first, the
update changes nothing and the edit is refused with "changed by X at T — reload" instead of
overwriting theirs (optimistic concurrency; it holds across processes and on both databases,
because the check is in the same statement as the write). Deleting is a soft delete by the author
or an administrator. Every change is appended to `revisions` (which the database keeps
append-only), so the history of an item survives its deletion.

Sides: the payer (payer and admin accounts), one organization (`org:NAME`), or the joint committee.
A note "only my side" is shown to its own side only; the joint (screen-shared) view shows only what
both parties see, and an organization never sees another organization's items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, Table, and_, insert, or_, select, update

from vbc.security import Viewer
from vbc.store import action_items, annotations, decisions, meetings, revisions, utcnow

BOTH = "both"
TABLES: dict[str, Table] = {
    "meeting": meetings,
    "annotation": annotations,
    "action_item": action_items,
    "decision": decisions,
}
WRITERS = ("payer", "org", "committee", "admin", "demo", "cli")


class Conflict(RuntimeError):
    """Someone else saved (or deleted) the item since it was read; nothing was overwritten."""


class NotAllowed(PermissionError):
    """The author's role or side does not allow this change."""


class Invalid(ValueError):
    """What was entered cannot be saved (said in plain words)."""


@dataclass(frozen=True)
class Author:
    """Who writes: an account (e-mail and role), the demo visitor or the command line's OS user.

    `viewer` is the view they are working in; in demo mode (no accounts) it decides the side."""

    name: str
    role: str
    organization: str | None = None
    viewer: Viewer | None = None
    actor: object = None  # vbc.audit.Actor: every change is audited under it when given

    @property
    def side(self) -> str:
        if self.role in ("payer", "admin", "cli"):
            return "payer"
        if self.role == "org":
            return f"org:{self.organization}"
        if self.role == "demo" and self.viewer is not None and self.viewer.kind != "joint":
            return self.viewer.key
        return "committee"

    @property
    def is_admin(self) -> bool:
        return self.role in ("admin", "demo")

    @property
    def own_organization(self) -> str | None:
        side = self.side
        return side[4:] if side.startswith("org:") else None


def side_label(side: str | None) -> str:
    if not side or side == BOTH:
        return "both parties"
    if side == "payer":
        return "payer only"
    if side == "committee":
        return "joint committee"
    return f"{side[4:]} only"


def party_label(party: str) -> str:
    """An owner's party for display: the payer, an organization, or the committee."""
    if party.startswith("org:"):
        return party[4:]
    return {"payer": "Payer", "committee": "Joint committee"}.get(party, party)


def check_writer(author: Author) -> None:
    if author.role not in WRITERS:
        raise NotAllowed(f"a {author.role} account may not write notes or action items")


def check_organization(author: Author, organization: str | None) -> None:
    """An organization's author writes about its own organization (or all), never another's."""
    own = author.own_organization
    if own and organization and organization != own:
        raise NotAllowed(f"{own} may not write about {organization}")


def sides_seen(viewer: Viewer) -> tuple[str, ...]:
    """The visibility values a viewer is shown: what both parties see, plus its own side's notes
    (the joint view, being on a shared screen, shows only what both parties see)."""
    if viewer.kind == "payer":
        return (BOTH, "payer")
    if viewer.kind == "org":
        return (BOTH, viewer.key)
    return (BOTH,)


def scope_clause(table: Table, viewer: Viewer):
    """Rows a viewer may see by organization: an organization's viewer sees items about itself or
    about all organizations, never another organization's."""
    if viewer.kind != "org":
        return table.c.id.isnot(None)
    return or_(table.c.organization.is_(None), table.c.organization == viewer.organization)


def live(table: Table):
    return table.c.deleted_at.is_(None)


AUDIT_ACTIONS = {
    ("annotation", "create"): "annotation_add",
    ("annotation", "edit"): "annotation_edit",
    ("annotation", "delete"): "annotation_delete",
    ("action_item", "create"): "action_add",
    ("action_item", "edit"): "action_update",
    ("action_item", "status"): "action_update",
    ("action_item", "delete"): "action_delete",
    ("meeting", "create"): "meeting_open",
    ("meeting", "edit"): "meeting_edit",
    ("meeting", "delete"): "meeting_edit",
    ("decision", "create"): "decision_add",
    ("decision", "edit"): "decision_edit",
    ("decision", "delete"): "decision_delete",
}


def audit_change(store: Engine, author: Author, kind: str, change: str, row: dict, **detail) -> None:
    """One audit row for a change: the item's id, kind and organization, never its text."""
    if author.actor is None:
        return
    from vbc import audit

    action = AUDIT_ACTIONS[(kind, change)]
    values = {"item_id": row.get("id"), "organization": row.get("organization"), **detail}
    if kind == "meeting":
        values["meeting_id"] = row.get("id")
    elif row.get("meeting_id"):
        values["meeting_id"] = row["meeting_id"]
    audit.record(store, author.actor, action, detail={k: v for k, v in values.items() if v is not None})


def _jsonable(row: dict) -> str:
    return json.dumps(
        {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in row.items()},
        sort_keys=True,
        default=str,
    )


def _revision(conn: Connection, kind: str, row: dict, by: str, change: str, **extra) -> None:
    conn.execute(
        insert(revisions).values(
            kind=kind,
            item_id=row["id"],
            version=row["version"],
            at=row["updated_at"],
            by=by,
            change=change,
            snapshot=_jsonable(row),
            **extra,
        )
    )


def create(conn: Connection, kind: str, values: dict, author: Author) -> dict:
    """Insert an item (version 1) and its first revision, in the caller's transaction."""
    table = TABLES[kind]
    now = utcnow()
    stamp = {
        "created_by": author.name,
        "created_side": author.side,
        "created_at": now,
        "updated_by": author.name,
        "updated_at": now,
        "version": 1,
    }
    new_id = conn.execute(insert(table).values(**values, **stamp).returning(table.c.id)).scalar_one()
    row = dict(conn.execute(select(table).where(table.c.id == new_id)).one()._mapping)
    _revision(conn, kind, row, author.name, "create", to_status=row.get("status"))
    return row


def _conflict(kind: str, row) -> Conflict:
    what = kind.replace("_", " ")
    if row is None:
        return Conflict(f"{what} not found — reload")
    if row.deleted_at is not None:
        return Conflict(
            f"{what} {row.id} was deleted by {row.deleted_by} at {row.deleted_at:%Y-%m-%d %H:%M} UTC — reload"
        )
    return Conflict(
        f"{what} {row.id} was changed by {row.updated_by} at {row.updated_at:%Y-%m-%d %H:%M:%S} UTC — reload"
    )


def get(store: Engine, kind: str, item_id: int) -> dict | None:
    table = TABLES[kind]
    with store.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == item_id)).first()
    return dict(row._mapping) if row else None


def change(
    store: Engine,
    kind: str,
    item_id: int,
    version: int,
    values: dict,
    author: Author,
    *,
    change: str = "edit",
    comment: str | None = None,
) -> dict:
    """Save `values` on the item if it is still at `version`; else raise Conflict (nothing written).

    The version test is part of the UPDATE itself, so two people saving at once cannot both pass
    it: the database applies one, and the other's WHERE no longer matches."""
    check_writer(author)
    table = TABLES[kind]
    with store.begin() as conn:
        before = conn.execute(select(table).where(table.c.id == item_id)).first()
        now = utcnow()
        done = conn.execute(
            update(table)
            .where(and_(table.c.id == item_id, table.c.version == version, live(table)))
            .values(**values, version=table.c.version + 1, updated_by=author.name, updated_at=now)
        )
        if done.rowcount != 1:
            raise _conflict(kind, before)
        row = dict(conn.execute(select(table).where(table.c.id == item_id)).one()._mapping)
        status = {}
        if "status" in values:
            status = {"from_status": before.status, "to_status": values["status"]}
        _revision(conn, kind, row, author.name, change, comment=comment, **status)
    audit_change(store, author, kind, change, row, status=status.get("to_status"))
    return row


def delete(store: Engine, kind: str, item_id: int, version: int, author: Author) -> dict:
    """Soft-delete: only the item's author or an administrator; kept in `revisions`."""
    check_writer(author)
    current = get(store, kind, item_id)
    if current is None:
        raise _conflict(kind, None)
    if not author.is_admin and current["created_by"] != author.name:
        raise NotAllowed(
            f"only its author ({current['created_by']}) or an administrator may delete this "
            + kind.replace("_", " ")
        )
    now = utcnow()
    table = TABLES[kind]
    with store.begin() as conn:
        done = conn.execute(
            update(table)
            .where(and_(table.c.id == item_id, table.c.version == version, live(table)))
            .values(
                deleted_at=now,
                deleted_by=author.name,
                version=table.c.version + 1,
                updated_by=author.name,
                updated_at=now,
            )
        )
        if done.rowcount != 1:
            raise _conflict(kind, conn.execute(select(table).where(table.c.id == item_id)).first())
        row = dict(conn.execute(select(table).where(table.c.id == item_id)).one()._mapping)
        _revision(conn, kind, row, author.name, "delete")
    audit_change(store, author, kind, "delete", row)
    return row


def history(store: Engine, kind: str, item_id: int) -> list[dict]:
    """Every change of an item, oldest first: who, when, what (and a status change's comment)."""
    q = (
        select(revisions)
        .where(and_(revisions.c.kind == kind, revisions.c.item_id == item_id))
        .order_by(revisions.c.id)
    )
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q).all()]


def month_text(value) -> str:
    """A month as YYYY-MM (from 'YYYY-MM', 'YYYY-MM-DD' or a date); Invalid otherwise."""
    if isinstance(value, date):
        return f"{value:%Y-%m}"
    text = str(value or "").strip()
    try:
        return f"{datetime.strptime(text[:7], '%Y-%m'):%Y-%m}" if len(text) in (7, 10) else _bad(text)
    except ValueError:
        return _bad(text)


def _bad(text: str) -> str:
    raise Invalid(f"expected a month as YYYY-MM, got {text!r}")
