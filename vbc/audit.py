"""The audit log (45 CFR 164.312(b)): who looked at what, and from which numbers.

Append-only: this module only inserts, and the database refuses UPDATE and DELETE on the table
(triggers written by the store's migration). A row says who asked (account, role, effective
viewer), what they asked for (page, filters, metric ids, file name, the row count of an export)
and the data stamp the numbers came from; never a member-level value: a row holds what was asked
for, not what was returned.

Actions: sign_in, sign_in_failed, sign_out, session_expired, page_view, care_gap_view, export,
account_add, account_disable, account_enable, account_password; and for what the committee
writes, annotation_*, action_*, meeting_* and decision_* (the item's id, never its text).
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine, insert, select

from vbc.store import audit_log, utcnow

ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "session_expired",
    "page_view",
    "care_gap_view",
    "export",
    "account_add",
    "account_disable",
    "account_enable",
    "account_password",
    # What the committee writes (vbc.collab): one row per change, naming the item, never its text.
    "annotation_add",
    "annotation_edit",
    "annotation_delete",
    "annotation_import",
    "action_add",
    "action_update",
    "action_delete",
    "meeting_open",
    "meeting_edit",
    "decision_add",
    "decision_edit",
    "decision_delete",
)
# Filter names a row may carry; anything else is refused so no member value slips in by accident.
DETAIL_KEYS = frozenset(
    {
        "period",
        "payer",
        "organization",
        "filters",
        "metric_ids",
        "measures",
        "pcp_npi",
        "file_name",
        "format",
        "command",
        "reason",
        "method",
        "email",
        "target",
        "role",
        "contract",
        "since",
        "until",
        "presenting",
        "meeting_id",
        "item_id",
        "status",
    }
)
COLUMNS = [
    "at",
    "account",
    "role",
    "viewer",
    "action",
    "page",
    "detail",
    "row_count",
    "fingerprint",
    "paid_through",
    "source",
]


@dataclass(frozen=True)
class Actor:
    """Who acts: the signed-in account (or the operating-system user on the command line)."""

    account: str
    role: str | None = None
    viewer: str | None = None
    source: str = "web"
    session_id: str | None = None


def cli_actor(viewer: str | None = None) -> Actor:
    """The command line runs as whoever can read the extracts: its operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(account=f"os:{user}", role=None, viewer=viewer, source="cli")


def _detail_text(detail: dict | None) -> str | None:
    if not detail:
        return None
    unknown = set(detail) - DETAIL_KEYS
    if unknown:
        raise ValueError(f"audit detail may not carry {', '.join(sorted(unknown))}")
    return json.dumps(detail, sort_keys=True, default=str)


def record(
    store: Engine,
    actor: Actor,
    action: str,
    *,
    stamp: dict | None = None,
    page: str | None = None,
    detail: dict | None = None,
    row_count: int | None = None,
) -> None:
    """Write one audit row."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    stamp = stamp or {}
    with store.begin() as conn:
        conn.execute(
            insert(audit_log).values(
                at=utcnow(),
                account=actor.account,
                role=actor.role,
                viewer=actor.viewer,
                action=action,
                page=page,
                detail=_detail_text(detail),
                row_count=row_count,
                fingerprint=stamp.get("fingerprint"),
                paid_through=str(stamp["paid_through"]) if stamp.get("paid_through") else None,
                source=actor.source,
                session_id=actor.session_id,
            )
        )


def export_stamp(stamp: dict, actor: Actor) -> dict:
    """An export's stamp with the viewer and the account that produced it next to it."""
    return {**stamp, "viewer": actor.viewer, "account": actor.account}


def read(
    store: Engine,
    *,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    account: str | None = None,
    actions: list[str] | tuple[str, ...] = (),
    limit: int | None = None,
) -> pd.DataFrame:
    """Audit rows, newest first; `until` is inclusive of its whole day when a date."""
    q = select(*(audit_log.c[c] for c in COLUMNS)).order_by(audit_log.c.id.desc())
    if since is not None:
        q = q.where(audit_log.c.at >= _as_datetime(since))
    if until is not None:
        end = _as_datetime(until)
        if not isinstance(until, datetime):
            end = end + pd.Timedelta(days=1).to_pytimedelta()
            q = q.where(audit_log.c.at < end)
        else:
            q = q.where(audit_log.c.at <= end)
    if account:
        q = q.where(audit_log.c.account == account)
    if actions:
        q = q.where(audit_log.c.action.in_(list(actions)))
    if limit:
        q = q.limit(limit)
    with store.connect() as conn:
        rows = conn.execute(q).all()
    return pd.DataFrame([dict(r._mapping) for r in rows], columns=COLUMNS)


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime(value.year, value.month, value.day)
