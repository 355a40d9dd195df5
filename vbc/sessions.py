"""Sign-in sessions: one row per sign-in, so an idle session expires for good.

A session lives in the store, not in the browser: after `idle` without activity it is ended
("idle") and can never be resumed; the person signs in again. For single sign-on the session's id
is derived from the identity token (subject and issue time), so a reload of the same sign-in finds
the same session, expired or not, while a fresh sign-in at the identity provider starts a new one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from vbc.store import sessions, utcnow

IDLE_ENV = "VBC_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30.0
# Activity is written at most this often: every widget click reruns the page.
TOUCH_EVERY = timedelta(seconds=15)


def idle_timeout() -> timedelta:
    """VBC_IDLE_MINUTES (fractions allowed), default 30 minutes."""
    raw = os.environ.get(IDLE_ENV, "").strip()
    try:
        minutes = float(raw) if raw else DEFAULT_IDLE_MINUTES
    except ValueError:
        minutes = DEFAULT_IDLE_MINUTES
    return timedelta(minutes=max(minutes, 0.01))


@dataclass(frozen=True)
class Session:
    id: str
    account_id: int
    method: str
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    end_reason: str | None


def new_id() -> str:
    return secrets.token_hex(24)


def sso_id(subject: str, issued_at: object, email: str) -> str:
    """A stable id for one single sign-on (the same cookie, the same id; a new sign-in, a new id)."""
    return hashlib.sha256(f"sso|{subject}|{issued_at}|{email}".encode()).hexdigest()[:48]


def get(store: Engine, session_id: str) -> Session | None:
    with store.connect() as conn:
        row = conn.execute(select(sessions).where(sessions.c.id == session_id)).first()
    return Session(**row._mapping) if row else None


def start(store: Engine, account_id: int, method: str, session_id: str | None = None) -> Session:
    now = utcnow()
    sid = session_id or new_id()
    with store.begin() as conn:
        conn.execute(
            insert(sessions).values(
                id=sid, account_id=account_id, method=method, started_at=now, last_seen_at=now
            )
        )
    return get(store, sid)


def is_expired(session: Session, now: datetime | None = None, idle: timedelta | None = None) -> bool:
    now = now or utcnow()
    return session.ended_at is not None or now - session.last_seen_at > (idle or idle_timeout())


def touch(store: Engine, session: Session, now: datetime | None = None) -> None:
    now = now or utcnow()
    if now - session.last_seen_at < min(TOUCH_EVERY, idle_timeout() / 4):
        return
    with store.begin() as conn:
        conn.execute(
            update(sessions)
            .where(sessions.c.id == session.id, sessions.c.ended_at.is_(None))
            .values(last_seen_at=now)
        )


def end(store: Engine, session_id: str, reason: str) -> None:
    with store.begin() as conn:
        conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason=reason)
        )
