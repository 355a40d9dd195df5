"""The state store on both databases (SQLite and a throwaway PostgreSQL): schema versions and
in-place upgrades, the append-only audit log, and a SQLite file that survives rebuilds."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Connection, String, Table, create_engine, insert, inspect, select, text

from tests.conftest import built_workspace
from vbc import accounts, audit
from vbc import store as state
from vbc.store import LATEST, MIGRATIONS, metadata, open_store, upgrade


def test_a_new_store_is_at_the_latest_version(store):
    with store.connect() as conn:
        assert state.version(conn) == LATEST == len(MIGRATIONS)
        names = [r.name for r in conn.execute(select(state.schema_version).order_by("version"))]
    assert names == [m.__name__ for m in MIGRATIONS]


def test_the_migrations_build_exactly_the_schema_the_code_queries(store):
    """The module-level tables (what queries use) and what the migrations built agree, column by
    column: a migration added without updating the tables (or the reverse) fails here."""
    found = inspect(store)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in found.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_upgrading_twice_changes_nothing(store):
    assert upgrade(store) == LATEST
    assert upgrade(store) == LATEST


def test_a_new_migration_is_applied_in_place_and_keeps_the_data(store_url, monkeypatch):
    """What the next engineer does: append a function to MIGRATIONS. Existing rows survive."""
    engine = create_engine(store_url)
    assert upgrade(engine) == LATEST
    accounts.add(engine, "keep@plan.test", "payer", by="test")

    def _m999_annotations(conn: Connection) -> None:
        from sqlalchemy import MetaData

        Table("annotations_test", MetaData(), Column("id", String(10), primary_key=True)).create(conn)

    monkeypatch.setattr(state, "MIGRATIONS", [*MIGRATIONS, _m999_annotations])
    monkeypatch.setattr(state, "LATEST", LATEST + 1)
    assert upgrade(engine) == LATEST + 1
    assert "annotations_test" in inspect(engine).get_table_names()
    assert accounts.get(engine, "keep@plan.test") is not None
    with engine.connect() as conn:
        assert state.version(conn) == LATEST + 1
    engine.dispose()


def test_the_audit_log_refuses_updates_and_deletes(store):
    audit.record(store, audit.cli_actor("payer"), "export", detail={"command": "metrics"}, row_count=3)
    for sql in ("UPDATE audit_log SET account = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            with store.begin() as conn:
                conn.execute(text(sql))
    assert len(audit.read(store)) == 1
    with store.begin() as conn:  # appending still works
        conn.execute(
            insert(state.audit_log).values(at=state.utcnow(), account="x", action="sign_in", source="web")
        )


def test_sqlite_store_is_in_wal_mode_in_the_state_directory_and_survives_rebuilds(
    small_extract, tmp_path, monkeypatch
):
    monkeypatch.delenv("VBC_STATE_URL", raising=False)
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    ws = built_workspace(small_extract)
    engine = open_store(small_extract)
    assert engine.url.database.startswith(str(ws.state_dir))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    accounts.add(engine, "stays@plan.test", "payer", by="test")
    (small_extract / "pharmacy_claim.parquet").unlink()  # a new delivery: rebuild twice
    assert ws.build().ok
    assert ws.build().ok
    assert sorted(p.name for p in ws.state_dir.glob("state.sqlite*"))[0] == "state.sqlite"
    assert accounts.get(open_store(small_extract), "stays@plan.test") is not None


def test_state_url_selects_postgresql(postgres_url, monkeypatch, tmp_path):
    monkeypatch.setenv("VBC_STATE_URL", postgres_url)
    assert state.store_url(tmp_path) == postgres_url
    assert open_store(tmp_path).dialect.name == "postgresql"
