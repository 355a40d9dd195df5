"""Action items: what was agreed, who owns it (party and person), by when, and what became of it.

Statuses: open, in progress, done, dropped. Every status change carries a comment and is kept in
the item's history (vbc.collab revisions), so the next meeting reads what happened, not only where
it stands. An item links to the metric, organization and meeting it came from; a metric's detail
lists the actions taken on it, next to its SPC reading (which says whether anything changed; the
two side by side claim no cause).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlalchemy import Engine, select

from vbc import collab
from vbc.collab import Author, Invalid
from vbc.security import Viewer
from vbc.store import action_items

STATUSES = ("open", "in progress", "done", "dropped")
OPEN = ("open", "in progress")


@dataclass(frozen=True)
class ActionItem:
    id: int
    what: str
    owner_party: str
    owner_person: str
    due_on: date
    status: str
    metric_id: str | None
    organization: str | None
    meeting_id: int | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    version: int

    def overdue(self, today: date | None = None) -> bool:
        return self.status in OPEN and self.due_on < (today or date.today())

    @property
    def owner_text(self) -> str:
        return f"{self.owner_person} ({collab.party_label(self.owner_party)})"


def _from_row(row: dict) -> ActionItem:
    names = {f.name for f in fields(ActionItem)}
    return ActionItem(**{k: v for k, v in row.items() if k in names})


def _due(value) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid(f"due date must be YYYY-MM-DD, got {value!r}") from None


def _clean(author: Author, what: str, owner_party: str, owner_person: str, due_on, organization) -> dict:
    what, owner_person, owner_party = (
        (what or "").strip(),
        (owner_person or "").strip(),
        (owner_party or "").strip(),
    )
    if not what:
        raise Invalid("say what is to be done")
    if not owner_person:
        raise Invalid("name the person who owns it")
    if owner_party != "payer" and owner_party != "committee" and not owner_party.startswith("org:"):
        raise Invalid("the owner's party is payer, committee or org:NAME")
    collab.check_organization(author, organization)
    return {"what": what, "owner_party": owner_party, "owner_person": owner_person, "due_on": _due(due_on)}


def add(
    store: Engine,
    author: Author,
    *,
    what: str,
    owner_party: str,
    owner_person: str,
    due_on,
    metric_id: str | None = None,
    organization: str | None = None,
    meeting_id: int | None = None,
) -> ActionItem:
    collab.check_writer(author)
    organization = organization or None
    row = _clean(author, what, owner_party, owner_person, due_on, organization)
    row.update(status="open", metric_id=metric_id or None, organization=organization, meeting_id=meeting_id)
    with store.begin() as conn:
        saved = collab.create(conn, "action_item", row, author)
    collab.audit_change(store, author, "action_item", "create", saved)
    return _from_row(saved)


def set_status(store: Engine, author: Author, item: ActionItem, status: str, comment: str) -> ActionItem:
    """Move an item to `status` with a comment (kept in its history); Conflict if changed meanwhile."""
    if status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}")
    comment = (comment or "").strip()
    if not comment:
        raise Invalid("say why the status changes (the next meeting reads it)")
    collab.check_organization(author, item.organization)
    row = collab.change(
        store,
        "action_item",
        item.id,
        item.version,
        {"status": status},
        author,
        change="status",
        comment=comment,
    )
    return _from_row(row)


def edit(store: Engine, author: Author, item: ActionItem, **changes) -> ActionItem:
    """Change what, owner or due date of an item as read; Conflict if someone saved meanwhile."""
    current = {k: getattr(item, k) for k in ("what", "owner_party", "owner_person", "due_on")}
    merged = {**current, **changes}
    row = _clean(author, organization=item.organization, **merged)
    return _from_row(collab.change(store, "action_item", item.id, item.version, row, author))


def delete(store: Engine, author: Author, item: ActionItem) -> None:
    collab.delete(store, "action_item", item.id, item.version, author)


def get(store: Engine, item_id: int) -> ActionItem | None:
    row = collab.get(store, "action_item", item_id)
    return _from_row(row) if row and row["deleted_at"] is None else None


def visible(
    store: Engine,
    viewer: Viewer,
    *,
    metric_id: str | None = None,
    organization: str | None = None,
    meeting_id: int | None = None,
    open_only: bool = False,
) -> list[ActionItem]:
    """Items `viewer` may see (an organization's viewer: its own and those of all organizations),
    by due date; `organization` keeps that organization's and all-organization items."""
    t = action_items
    q = select(t).where(collab.live(t), collab.scope_clause(t, viewer))
    if organization:
        q = q.where((t.c.organization.is_(None)) | (t.c.organization == organization))
    if meeting_id is not None:
        q = q.where(t.c.meeting_id == meeting_id)
    if open_only:
        q = q.where(t.c.status.in_(OPEN))
    with store.connect() as conn:
        rows = [_from_row(dict(r._mapping)) for r in conn.execute(q.order_by(t.c.due_on, t.c.id))]
    if metric_id:
        from vbc.annotations import same_metric

        rows = [a for a in rows if a.metric_id and same_metric(a.metric_id, metric_id)]
    return rows


def overdue(
    store: Engine, viewer: Viewer, today: date | None = None, organization: str | None = None
) -> list[ActionItem]:
    """Open or in-progress items past their due date."""
    return [a for a in visible(store, viewer, organization=organization, open_only=True) if a.overdue(today)]


def history(store: Engine, item: ActionItem) -> list[dict]:
    """Status changes oldest first: at, by, from_status, to_status, comment."""
    out = []
    for r in collab.history(store, "action_item", item.id):
        if r["change"] in ("create", "status", "delete"):
            out.append({k: r[k] for k in ("at", "by", "change", "from_status", "to_status", "comment")})
    return out


def last_comment(store: Engine, item: ActionItem) -> str:
    comments = [h for h in history(store, item) if h["comment"]]
    return comments[-1]["comment"] if comments else ""


def rows(
    store: Engine, items: list[ActionItem], today: date | None = None, names: dict | None = None
) -> list[dict]:
    """Items as table rows (also the CSV and the packet's table)."""
    names = names or {}
    return [
        {
            "id": a.id,
            "what": a.what,
            "owner": a.owner_text,
            "due": a.due_on.isoformat(),
            "status": a.status + (" (overdue)" if a.overdue(today) else ""),
            "metric": names.get(a.metric_id, a.metric_id or "all metrics"),
            "organization": a.organization or "all",
            "latest comment": last_comment(store, a),
        }
        for a in items
    ]
