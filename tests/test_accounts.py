"""Accounts, roles, passwords and sessions on both stores (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from vbc import accounts, sessions
from vbc.accounts import AccountError
from vbc.security import Viewer
from vbc.store import accounts as accounts_table
from vbc.store import utcnow

PASSWORD = "correct horse battery staple"


def test_passwords_are_stored_only_as_argon2_hashes(store, store_url, tmp_path):
    accounts.add(store, "Pay@Plan.test", "payer", password=PASSWORD, by="test")
    accounts.set_password(store, "pay@plan.test", PASSWORD + " two")
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(accounts_table))]
    assert len(rows) == 1
    assert rows[0]["password_hash"].startswith("$argon2id$")
    assert not any(PASSWORD in str(v) for v in rows[0].values())
    if store_url.startswith("sqlite"):  # and nowhere in the database file either
        path = store.url.database
        raw = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())
        assert PASSWORD.encode() not in raw


def test_sign_in_checks_the_password(store):
    accounts.add(store, "pay@plan.test", "payer", password=PASSWORD, by="test")
    assert accounts.verify(store, " PAY@plan.test ", PASSWORD).ok
    wrong = accounts.verify(store, "pay@plan.test", "not it at all")
    unknown = accounts.verify(store, "nobody@plan.test", PASSWORD)
    assert (wrong.ok, wrong.reason, unknown.ok, unknown.reason) == (False, "wrong_password", False, "unknown")
    # The page says the same for both, so it does not tell which addresses have accounts.
    assert wrong.message == unknown.message


def test_five_failures_in_fifteen_minutes_lock_for_fifteen_minutes(store):
    accounts.add(store, "pay@plan.test", "payer", password=PASSWORD, by="test")
    t0 = utcnow()
    reasons = [
        accounts.verify(store, "pay@plan.test", "wrong", now=t0 + timedelta(minutes=i)).reason
        for i in range(5)
    ]
    assert reasons == ["wrong_password"] * 4 + ["locked"]
    # Locked: even the right password is refused, and says so.
    locked = accounts.verify(store, "pay@plan.test", PASSWORD, now=t0 + timedelta(minutes=10))
    assert (locked.ok, locked.reason) == (False, "locked")
    assert "locked" in locked.message
    assert accounts.verify(store, "pay@plan.test", PASSWORD, now=t0 + timedelta(minutes=20)).ok


def test_failures_spread_beyond_the_window_do_not_lock(store):
    accounts.add(store, "pay@plan.test", "payer", password=PASSWORD, by="test")
    t0 = utcnow()
    for i in range(8):  # one every 10 minutes: never five within 15 minutes of the first
        r = accounts.verify(store, "pay@plan.test", "wrong", now=t0 + timedelta(minutes=10 * i))
        assert r.reason == "wrong_password"


def test_a_success_resets_the_count_and_set_password_lifts_a_lock(store):
    accounts.add(store, "pay@plan.test", "payer", password=PASSWORD, by="test")
    for _ in range(4):
        accounts.verify(store, "pay@plan.test", "wrong")
    assert accounts.verify(store, "pay@plan.test", PASSWORD).ok
    for _ in range(4):
        assert accounts.verify(store, "pay@plan.test", "wrong").reason == "wrong_password"
    assert accounts.verify(store, "pay@plan.test", "wrong").reason == "locked"
    accounts.set_password(store, "pay@plan.test", PASSWORD)
    assert accounts.verify(store, "pay@plan.test", PASSWORD).ok


def test_disabled_accounts_cannot_sign_in(store):
    accounts.add(store, "pay@plan.test", "payer", password=PASSWORD, by="test")
    accounts.set_disabled(store, "pay@plan.test")
    assert accounts.verify(store, "pay@plan.test", PASSWORD).reason == "disabled"
    accounts.set_disabled(store, "pay@plan.test", False)
    assert accounts.verify(store, "pay@plan.test", PASSWORD).ok


def test_roles_and_their_viewers(store):
    payer = accounts.add(store, "pay@plan.test", "payer", by="t")
    admin = accounts.add(store, "admin@plan.test", "admin", by="t")
    org = accounts.add(store, "beta@beta.test", "org", "Beta Health", by="t")
    committee = accounts.add(store, "jc@plan.test", "committee", by="t")
    assert accounts.viewers_for(payer) == accounts.viewers_for(admin) == [Viewer("payer"), Viewer("joint")]
    assert accounts.viewers_for(org) == [Viewer("org", "Beta Health"), Viewer("joint")]
    assert accounts.viewers_for(committee) == [Viewer("joint")]
    assert [a.email for a in accounts.list_accounts(store)] == sorted(
        ["pay@plan.test", "admin@plan.test", "beta@beta.test", "jc@plan.test"]
    )


@pytest.mark.parametrize(
    "email,role,org,password,message",
    [
        ("not-an-email", "payer", None, None, "not an e-mail"),
        ("a@b.test", "owner", None, None, "role must be one of"),
        ("a@b.test", "org", None, None, "needs --organization"),
        ("a@b.test", "payer", "Beta Health", None, "only an org account"),
        ("a@b.test", "payer", None, "short", "at least 12"),
    ],
)
def test_bad_account_requests_are_refused(store, email, role, org, password, message):
    with pytest.raises(AccountError, match=message):
        accounts.add(store, email, role, org, password, by="t")


def test_an_email_has_one_account(store):
    accounts.add(store, "pay@plan.test", "payer", by="t")
    with pytest.raises(AccountError, match="already exists"):
        accounts.add(store, "PAY@plan.test", "committee", by="t")


def test_sessions_expire_after_the_idle_timeout(store, monkeypatch):
    monkeypatch.setenv("VBC_IDLE_MINUTES", "30")
    account = accounts.add(store, "pay@plan.test", "payer", by="t")
    s = sessions.start(store, account.id, "password")
    assert not sessions.is_expired(s, now=s.last_seen_at + timedelta(minutes=29))
    assert sessions.is_expired(s, now=s.last_seen_at + timedelta(minutes=31))
    sessions.touch(store, s, now=s.last_seen_at + timedelta(minutes=20))
    s2 = sessions.get(store, s.id)
    assert not sessions.is_expired(s2, now=s.last_seen_at + timedelta(minutes=45))
    sessions.end(store, s.id, "sign_out")
    ended = sessions.get(store, s.id)
    assert ended.end_reason == "sign_out" and sessions.is_expired(ended, now=ended.last_seen_at)
    # A single sign-on's session id is stable for one token and new for the next sign-in.
    assert (
        sessions.sso_id("sub", 1, "a@b")
        == sessions.sso_id("sub", 1, "a@b")
        != sessions.sso_id("sub", 2, "a@b")
    )


def test_idle_minutes_is_configurable(monkeypatch):
    monkeypatch.setenv("VBC_IDLE_MINUTES", "5")
    assert sessions.idle_timeout() == timedelta(minutes=5)
    monkeypatch.delenv("VBC_IDLE_MINUTES")
    assert sessions.idle_timeout() == timedelta(minutes=30)
