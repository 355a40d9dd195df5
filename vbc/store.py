"""The state store: what people write (accounts, sign-ins, the audit log, meetings, annotations,
action items and decisions), kept apart from the marts because it must survive every rebuild.

One SQLAlchemy Core schema on two databases: a SQLite file in WAL mode in the data directory's
state directory (next to the `marts-*.duckdb` builds, which are pruned by name and never touch
it), or PostgreSQL when `VBC_STATE_URL=postgresql+psycopg://...` is set.

The schema is versioned in place. `MIGRATIONS` is an ordered list; migration N (1-based) brings the
schema from version N-1 to N and is applied once, in a transaction that also records it in
`schema_version`. To change the schema: write `_mNNN_what(conn)` with the DDL as it must run at that
point (its own Table objects, never the module-level ones, which describe the newest schema), append
it to `MIGRATIONS`, and update the module-level tables below to match; `tests/test_store.py` fails
when the two disagree.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    exc,
    func,
    insert,
    select,
    text,
)

from vbc.workspace import state_dir_for

STATE_FILE = "state.sqlite"
URL_ENV = "VBC_STATE_URL"

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
ID = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Every time in the store is UTC without a zone (one convention for both databases)."""
    return datetime.now(UTC).replace(tzinfo=None)


# ------------------------------------------------------------------ the newest schema (for queries)
metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("applied_at", DateTime, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("organization", String(200)),
    Column("password_hash", String(255)),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_count", Integer, nullable=False, default=0),
    Column("failed_since", DateTime),
    Column("locked_until", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("method", String(16), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("end_reason", String(40)),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("account", String(320), nullable=False),
    Column("role", String(16)),
    Column("viewer", String(220)),
    Column("action", String(40), nullable=False),
    Column("page", String(100)),
    Column("detail", Text),
    Column("row_count", Integer),
    Column("fingerprint", String(64)),
    Column("paid_through", String(10)),
    Column("source", String(10), nullable=False),
    Column("session_id", String(64)),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_account", "account"),
    Index("ix_audit_log_action", "action"),
)


# Meetings and what people write at and between them: annotations on the charts, action items,
# decisions. Every row carries `version` (optimistic concurrency: an UPDATE names the version it
# read and changes nothing when someone saved first) and a soft delete (`deleted_at`), and every
# change is appended to `revisions`, so nothing written is lost to a rebuild, a restart or a
# colleague saving at the same moment.
meetings = Table(
    "meetings",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("held_on", Date, nullable=False),
    Column("title", String(200), nullable=False),
    Column("organization", String(200)),
    Column("attendees", Text, nullable=False),
    Column("period_start", String(7), nullable=False),
    Column("period_end", String(7), nullable=False),
    Column("stamp", Text, nullable=False),
    Column("fingerprint", String(64)),
    Column("paid_through", String(10)),
    Column("snapshot", Text),
    Column("created_by", String(320), nullable=False),
    Column("created_side", String(220), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_by", String(320), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted_at", DateTime),
    Column("deleted_by", String(320)),
)

annotations = Table(
    "annotations",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("metric_id", String(100)),
    Column("organization", String(200)),
    Column("start_month", String(7), nullable=False),
    Column("end_month", String(7), nullable=False),
    Column("title", String(120), nullable=False),
    Column("text", Text, nullable=False),
    Column("visibility", String(220), nullable=False),
    Column("change_point", Boolean, nullable=False, default=False),
    Column("meeting_id", ID, ForeignKey("meetings.id")),
    Column("created_by", String(320), nullable=False),
    Column("created_side", String(220), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_by", String(320), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted_at", DateTime),
    Column("deleted_by", String(320)),
    Index("ix_annotations_months", "start_month", "end_month"),
)

action_items = Table(
    "action_items",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("what", Text, nullable=False),
    Column("owner_party", String(220), nullable=False),
    Column("owner_person", String(320), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("metric_id", String(100)),
    Column("organization", String(200)),
    Column("meeting_id", ID, ForeignKey("meetings.id")),
    Column("created_by", String(320), nullable=False),
    Column("created_side", String(220), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_by", String(320), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted_at", DateTime),
    Column("deleted_by", String(320)),
    Index("ix_action_items_due", "due_on"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("meeting_id", ID, ForeignKey("meetings.id"), nullable=False),
    Column("decision", Text, nullable=False),
    Column("rationale", Text, nullable=False),
    Column("metric_id", String(100)),
    Column("organization", String(200)),
    Column("created_by", String(320), nullable=False),
    Column("created_side", String(220), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_by", String(320), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted_at", DateTime),
    Column("deleted_by", String(320)),
)

revisions = Table(
    "revisions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("item_id", ID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("at", DateTime, nullable=False),
    Column("by", String(320), nullable=False),
    Column("change", String(20), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("comment", Text),
    Column("snapshot", Text, nullable=False),
    Index("ix_revisions_item", "kind", "item_id"),
)


# ------------------------------------------------------------------ migrations, oldest first
# Each migration spells out the tables as they were when it was written, rather than reusing the
# live Table objects above: a later change to those must not change what an old migration creates
# on a store that is still at that version. A migration is one schema version, so it is one
# function however many tables it declares.
def _m001_accounts_sessions_audit(conn: Connection) -> None:
    """Accounts, sign-in sessions and the append-only audit log (issue 13)."""
    md = MetaData()
    Table(
        "accounts",
        md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("email", String(320), nullable=False, unique=True),
        Column("role", String(16), nullable=False),
        Column("organization", String(200)),
        Column("password_hash", String(255)),
        Column("disabled", Boolean, nullable=False, default=False),
        Column("failed_count", Integer, nullable=False, default=0),
        Column("failed_since", DateTime),
        Column("locked_until", DateTime),
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(320), nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )
    Table(
        "sessions",
        md,
        Column("id", String(64), primary_key=True),
        Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
        Column("method", String(16), nullable=False),
        Column("started_at", DateTime, nullable=False),
        Column("last_seen_at", DateTime, nullable=False),
        Column("ended_at", DateTime),
        Column("end_reason", String(40)),
    )
    Table(
        "audit_log",
        md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("at", DateTime, nullable=False),
        Column("account", String(320), nullable=False),
        Column("role", String(16)),
        Column("viewer", String(220)),
        Column("action", String(40), nullable=False),
        Column("page", String(100)),
        Column("detail", Text),
        Column("row_count", Integer),
        Column("fingerprint", String(64)),
        Column("paid_through", String(10)),
        Column("source", String(10), nullable=False),
        Column("session_id", String(64)),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_account", "account"),
        Index("ix_audit_log_action", "action"),
    )
    md.create_all(conn)
    _append_only(conn, "audit_log")


def _append_only(conn: Connection, table: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE) on `table` in the database itself, so no code path,
    ours or a console's, can rewrite history. `table` is a constant of a migration, never input."""
    if conn.dialect.name == "sqlite":
        for op in ("UPDATE", "DELETE"):
            conn.execute(
                text(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
            )
        return
    conn.execute(
        text(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
        )
    )
    conn.execute(
        text(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        )
    )


def _m002_meetings_annotations_actions(conn: Connection) -> None:
    """Meetings, annotations, action items, decisions and their append-only revisions."""
    md = MetaData()

    def audit_columns() -> list[Column]:
        return [
            Column("created_by", String(320), nullable=False),
            Column("created_side", String(220), nullable=False),
            Column("created_at", DateTime, nullable=False),
            Column("updated_by", String(320), nullable=False),
            Column("updated_at", DateTime, nullable=False),
            Column("version", Integer, nullable=False),
            Column("deleted_at", DateTime),
            Column("deleted_by", String(320)),
        ]

    Table(
        "meetings",
        md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("held_on", Date, nullable=False),
        Column("title", String(200), nullable=False),
        Column("organization", String(200)),
        Column("attendees", Text, nullable=False),
        Column("period_start", String(7), nullable=False),
        Column("period_end", String(7), nullable=False),
        Column("stamp", Text, nullable=False),
        Column("fingerprint", String(64)),
        Column("paid_through", String(10)),
        Column("snapshot", Text),
        *audit_columns(),
    )
    Table(
        "annotations",
        md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("metric_id", String(100)),
        Column("organization", String(200)),
        Column("start_month", String(7), nullable=False),
        Column("end_month", String(7), nullable=False),
        Column("title", String(120), nullable=False),
        Column("text", Text, nullable=False),
        Column("visibility", String(220), nullable=False),
        Column("change_point", Boolean, nullable=False, default=False),
        Column("meeting_id", ID, ForeignKey("meetings.id")),
        *audit_columns(),
        Index("ix_annotations_months", "start_month", "end_month"),
    )
    Table(
        "action_items",
        md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("what", Text, nullable=False),
        Column("owner_party", String(220), nullable=False),
        Column("owner_person", String(320), nullable=False),
        Column("due_on", Date, nullable=False),
        Column("status", String(16), nullable=False),
        Column("metric_id", String(100)),
        Column("organization", String(200)),
        Column("meeting_id", ID, ForeignKey("meetings.id")),
        *audit_columns(),
        Index("ix_action_items_due", "due_on"),
    )
    Table(
        "decisions",
        md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("meeting_id", ID, ForeignKey("meetings.id"), nullable=False),
        Column("decision", Text, nullable=False),
        Column("rationale", Text, nullable=False),
        Column("metric_id", String(100)),
        Column("organization", String(200)),
        *audit_columns(),
    )
    Table(
        "revisions",
        md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("kind", String(20), nullable=False),
        Column("item_id", ID, nullable=False),
        Column("version", Integer, nullable=False),
        Column("at", DateTime, nullable=False),
        Column("by", String(320), nullable=False),
        Column("change", String(20), nullable=False),
        Column("from_status", String(16)),
        Column("to_status", String(16)),
        Column("comment", Text),
        Column("snapshot", Text, nullable=False),
        Index("ix_revisions_item", "kind", "item_id"),
    )
    md.create_all(conn)
    _append_only(conn, "revisions")


MIGRATIONS: list[Callable[[Connection], None]] = [
    _m001_accounts_sessions_audit,
    _m002_meetings_annotations_actions,
]
LATEST = len(MIGRATIONS)


# ------------------------------------------------------------------ connecting and upgrading
def store_url(data_dir: Path | str | None = None) -> str:
    """VBC_STATE_URL when set, else the SQLite file in `data_dir`'s state directory."""
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        return url
    if data_dir is None:
        raise ValueError(f"no state store: give a data directory or set {URL_ENV}")
    state = state_dir_for(Path(data_dir))
    state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state / STATE_FILE}"


def _sqlite_pragmas(dbapi_con, _record) -> None:
    # WAL lets the app's many readers run while one sign-in or audit row is written; the busy
    # timeout makes a second writer wait instead of failing.
    cur = dbapi_con.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@lru_cache(maxsize=16)
def _engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    upgrade(engine)
    return engine


def open_store(data_dir: Path | str | None = None, url: str | None = None) -> Engine:
    """The state store's engine (one per URL per process), upgraded to the newest schema."""
    return _engine(url or store_url(data_dir))


def version(conn: Connection) -> int:
    """The schema version of the database `conn` is on (0 for an empty database)."""
    schema_version.create(conn, checkfirst=True)
    return conn.execute(select(func.coalesce(func.max(schema_version.c.version), 0))).scalar_one()


def upgrade(engine: Engine, target: int | None = None) -> int:
    """Apply the pending migrations up to `target` (default: all), each in its own transaction.

    Two processes starting at once both try; the version row is written first, so the second
    blocks on it (or fails on its key), rolls back and finds the migration done."""
    target = LATEST if target is None else target
    with engine.begin() as conn:
        current = version(conn)
    for number in range(current + 1, target + 1):
        migration = MIGRATIONS[number - 1]
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(schema_version).values(
                        version=number, name=migration.__name__, applied_at=utcnow()
                    )
                )
                migration(conn)
        except exc.IntegrityError:
            with engine.begin() as conn:
                if version(conn) < number:
                    raise
    with engine.begin() as conn:
        return version(conn)
