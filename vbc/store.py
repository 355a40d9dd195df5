"""The state store: what people write (accounts, sign-ins, the audit log; next annotations, action
items and meetings), kept apart from the marts because it must survive every rebuild.

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


# ------------------------------------------------------------------ migrations, oldest first
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


MIGRATIONS: list[Callable[[Connection], None]] = [
    _m001_accounts_sessions_audit,
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
