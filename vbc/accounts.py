"""Accounts and roles: who may sign in, and which viewers their role allows.

Roles:
- payer: every organization, member-level;
- org: one provider organization (as in the roster), member-level for its own members only;
- committee: the joint de-identified view only (counts 1-10 suppressed);
- admin: manages accounts and reads the audit log; sees data as the payer.

The viewer always comes from the account (`viewers_for`): a payer or admin may present as the
joint view, an org user may switch between its own view and the joint view, never to another
organization. Passwords are hashed with Argon2id (argon2-cffi); the clear text is never stored
or logged. Repeated failures lock an account for a while (`LOCK_AFTER` failures within
`LOCK_WINDOW` lock it for `LOCK_FOR`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, insert, select, update

from vbc.security import Viewer
from vbc.store import accounts, utcnow

ROLES = ("payer", "org", "committee", "admin")
LOCK_AFTER = 5
LOCK_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 12

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so an unknown address costs as long as a wrong
# password and the timing does not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A request about accounts that cannot be carried out (said in plain words)."""


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    organization: str | None
    disabled: bool
    has_password: bool
    locked_until: datetime | None
    created_at: datetime

    @property
    def label(self) -> str:
        role = {"payer": "Payer", "org": "Provider", "committee": "Joint committee", "admin": "Administrator"}
        return f"{role[self.role]}" + (f" — {self.organization}" if self.organization else "")


@dataclass(frozen=True)
class SignInResult:
    ok: bool
    account: Account | None
    reason: str  # ok | unknown | wrong_password | locked | disabled | no_password

    @property
    def message(self) -> str:
        """What the sign-in page says: the same for an unknown e-mail and a wrong password."""
        if self.reason == "locked":
            return (
                "This account is locked after repeated failed sign-ins. Try again in "
                f"{int(LOCK_FOR.total_seconds() // 60)} minutes or ask your administrator."
            )
        if self.reason == "disabled":
            return "This account is disabled. Ask your administrator."
        return "E-mail or password not recognised."


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 320:
        raise AccountError(f"not an e-mail address: {email!r}")
    return email


def viewers_for(account: Account) -> list[Viewer]:
    """The viewers a role may use, its own first (the default)."""
    if account.role in ("payer", "admin"):
        return [Viewer("payer"), Viewer("joint")]
    if account.role == "org":
        return [Viewer("org", account.organization), Viewer("joint")]
    return [Viewer("joint")]


def _row_to_account(row) -> Account:
    return Account(
        id=row.id,
        email=row.email,
        role=row.role,
        organization=row.organization,
        disabled=bool(row.disabled),
        has_password=bool(row.password_hash),
        locked_until=row.locked_until,
        created_at=row.created_at,
    )


def _check_role(role: str, organization: str | None) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    if role == "org" and not (organization or "").strip():
        raise AccountError("an org account needs --organization (the roster's provider_organization)")
    if role != "org" and organization:
        raise AccountError(
            f"only an org account has an organization (a {role} account sees as its role says)"
        )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def hash_password(password: str) -> str:
    _check_password(password)
    return _hasher.hash(password)


def count(store: Engine) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(accounts)).scalar_one()


def get(store: Engine, email: str) -> Account | None:
    try:
        email = normalize_email(email)
    except AccountError:
        return None
    with store.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.email == email)).first()
    return _row_to_account(row) if row else None


def get_by_id(store: Engine, account_id: int) -> Account | None:
    with store.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
    return _row_to_account(row) if row else None


def list_accounts(store: Engine) -> list[Account]:
    with store.connect() as conn:
        rows = conn.execute(select(accounts).order_by(accounts.c.email)).all()
    return [_row_to_account(r) for r in rows]


def add(
    store: Engine,
    email: str,
    role: str,
    organization: str | None = None,
    password: str | None = None,
    *,
    by: str,
) -> Account:
    """A new account. Without a password it can only sign in through single sign-on."""
    email = normalize_email(email)
    organization = (organization or "").strip() or None
    _check_role(role, organization)
    hashed = hash_password(password) if password else None
    now = utcnow()
    with store.begin() as conn:
        if conn.execute(select(accounts.c.id).where(accounts.c.email == email)).first():
            raise AccountError(f"an account for {email} already exists")
        conn.execute(
            insert(accounts).values(
                email=email,
                role=role,
                organization=organization,
                password_hash=hashed,
                disabled=False,
                failed_count=0,
                created_at=now,
                created_by=by,
                updated_at=now,
            )
        )
    return get(store, email)


def _require(store: Engine, email: str) -> Account:
    account = get(store, email)
    if account is None:
        raise AccountError(f"no account for {email}")
    return account


def set_password(store: Engine, email: str, password: str) -> Account:
    """Replace the password (and lift a lock-out: the administrator has just vouched for it)."""
    account = _require(store, email)
    hashed = hash_password(password)
    with store.begin() as conn:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account.id)
            .values(
                password_hash=hashed,
                failed_count=0,
                failed_since=None,
                locked_until=None,
                updated_at=utcnow(),
            )
        )
    return _require(store, email)


def set_disabled(store: Engine, email: str, disabled: bool = True) -> Account:
    account = _require(store, email)
    with store.begin() as conn:
        conn.execute(
            update(accounts).where(accounts.c.id == account.id).values(disabled=disabled, updated_at=utcnow())
        )
    return _require(store, email)


def _record_failure(store: Engine, account_id: int, now: datetime) -> bool:
    """Count a failed password; True when this failure locks the account."""
    with store.begin() as conn:
        row = conn.execute(
            select(accounts.c.failed_count, accounts.c.failed_since).where(accounts.c.id == account_id)
        ).one()
        fresh = row.failed_since is None or now - row.failed_since > LOCK_WINDOW
        failures = 1 if fresh else row.failed_count + 1
        values = {"failed_count": failures, "failed_since": now if fresh else row.failed_since}
        locks = failures >= LOCK_AFTER
        if locks:
            values.update(failed_count=0, failed_since=None, locked_until=now + LOCK_FOR)
        conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))
    return locks


def verify(store: Engine, email: str, password: str, now: datetime | None = None) -> SignInResult:
    """Check an e-mail and password; count failures and lock the account after too many."""
    now = now or utcnow()
    account = get(store, email)
    if account is None or not account.has_password:
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except VerificationError:
            pass
        return SignInResult(False, account, "unknown" if account is None else "no_password")
    if account.locked_until is not None and account.locked_until > now:
        return SignInResult(False, account, "locked")
    with store.connect() as conn:
        stored = conn.execute(
            select(accounts.c.password_hash).where(accounts.c.id == account.id)
        ).scalar_one()
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        locked = _record_failure(store, account.id, now)
        return SignInResult(False, account, "locked" if locked else "wrong_password")
    if account.disabled:
        return SignInResult(False, account, "disabled")
    values = {"failed_count": 0, "failed_since": None, "locked_until": None}
    if _hasher.check_needs_rehash(stored):
        values["password_hash"] = _hasher.hash(password)
    with store.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.id == account.id).values(**values))
    return SignInResult(True, get(store, email), "ok")
