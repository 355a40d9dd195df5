"""Who is signed in, before any page draws a number.

Four modes, decided per run from the configuration and the state store:
- sso: an `[auth]` section in `.streamlit/secrets.toml`; Streamlit's `st.login` (OIDC) signs in and
  the identity's e-mail is matched to an account (no account: a page that says so, nothing else);
- password: accounts exist and no identity provider is configured; local e-mail + password;
- demo: generated demo data and no accounts; the visitor may switch roles freely (labelled so);
- closed: real extracts and no accounts; no data, and how to create the first administrator.

After sign-in both ways take the same path: a session row in the store (idle timeout), the
account's allowed viewers, audit rows. The viewer is chosen in the sidebar among those the
account's role allows and kept in the server-side session, never in the URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st
from sqlalchemy import Engine

from vbc import accounts, audit, sessions
from vbc.accounts import Account
from vbc.security import Viewer

SESSION_KEY = "vbc_session_id"
NOTICE_KEY = "vbc_notice"
VIEW_KEY = "vbc_view"
CHOICE_KEY = "vbc_view_choice"
DENIED_KEY = "vbc_denied_audited"
DEMO_ACCOUNT = "demo visitor"


@dataclass(frozen=True)
class Identity:
    """The signed-in person (or the demo visitor) and the viewers they may use, own view first."""

    mode: str
    account: Account | None
    session_id: str | None
    viewers: tuple[Viewer, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.account.email if self.account else DEMO_ACCOUNT

    @property
    def role(self) -> str:
        return self.account.role if self.account else "demo"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" or self.mode == "demo"

    def actor(self, viewer: Viewer | None) -> audit.Actor:
        return audit.Actor(
            account=self.name,
            role=self.role,
            viewer=viewer.key if viewer else None,
            source="web",
            session_id=self.session_id,
        )


def sso_configured() -> bool:
    """An identity provider is configured: `[auth]` in `.streamlit/secrets.toml`."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # an unreadable secrets file configures nothing
        return False


def mode_for(store: Engine, is_demo: bool) -> str:
    has_accounts = accounts.count(store) > 0
    if not has_accounts:
        return "demo" if is_demo else "closed"
    return "sso" if sso_configured() else "password"


def gate(store: Engine, data_dir: str, is_demo: bool) -> Identity | None:
    """The signed-in identity, or None after drawing the page that says what to do (no data)."""
    mode = mode_for(store, is_demo)
    if mode == "demo":
        return Identity("demo", None, None)
    if mode == "closed":
        _closed_page(data_dir)
        return None
    if mode == "sso":
        return _sso_gate(store)
    return _password_gate(store)


# ------------------------------------------------------------------ local accounts
def _password_gate(store: Engine) -> Identity | None:
    sid = st.session_state.get(SESSION_KEY)
    if sid:
        identity = _resume(store, sid, "password")
        if identity is not None:
            return identity
    _sign_in_page(store)
    return None


def _resume(store: Engine, sid: str, mode: str) -> Identity | None:
    """The identity of a live session; None (and a notice) when it expired or was ended."""
    sess = sessions.get(store, sid)
    account = accounts.get_by_id(store, sess.account_id) if sess else None
    if sess is None or account is None or account.disabled:
        _forget()
        return None
    if sessions.is_expired(sess):
        if sess.ended_at is None:
            sessions.end(store, sid, "idle")
            audit.record(store, _actor(account, sid), "session_expired")
        minutes = sessions.idle_timeout().total_seconds() / 60
        ended_by_idle = sess.end_reason in (None, "idle")
        st.session_state[NOTICE_KEY] = (
            f"Your session ended after {minutes:g} minutes without activity. Sign in again to continue."
            if ended_by_idle
            else "This session has ended. Sign in again to continue."
        )
        _forget(keep_notice=True)
        return None
    sessions.touch(store, sess)
    return Identity(mode, account, sid, tuple(accounts.viewers_for(account)))


def _actor(account: Account, sid: str | None) -> audit.Actor:
    return audit.Actor(account.email, account.role, accounts.viewers_for(account)[0].key, "web", sid)


def _forget(keep_notice: bool = False) -> None:
    for key in (SESSION_KEY, VIEW_KEY, CHOICE_KEY, "vbc_last_view"):
        st.session_state.pop(key, None)
    if not keep_notice:
        st.session_state.pop(NOTICE_KEY, None)


def _title(subtitle: str) -> None:
    st.title("Shared VBC performance")
    st.subheader(subtitle)


def _sign_in_page(store: Engine) -> None:
    _title("Sign in")
    notice = st.session_state.get(NOTICE_KEY)
    if notice:
        st.warning(notice, icon=":material/timer_off:")
    with st.form("sign_in"):
        email = st.text_input("E-mail", key="signin_email")
        password = st.text_input("Password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    st.caption(
        "Member-level data is protected health information: every page view and export is recorded "
        "in the audit log. Forgotten password or locked out? Ask your administrator."
    )
    if not submitted:
        return
    result = accounts.verify(store, email, password)
    if not result.ok:
        audit.record(
            store,
            audit.Actor(account=(email or "").strip().lower()[:320] or "(empty)", source="web"),
            "sign_in_failed",
            detail={"method": "password", "reason": result.reason},
        )
        st.error(result.message, icon=":material/lock:")
        return
    sess = sessions.start(store, result.account.id, "password")
    audit.record(store, _actor(result.account, sess.id), "sign_in", detail={"method": "password"})
    _forget()
    st.session_state[SESSION_KEY] = sess.id
    st.rerun()


# ------------------------------------------------------------------ single sign-on
def _sso_gate(store: Engine) -> Identity | None:
    if not st.user.is_logged_in:
        _sso_page()
        return None
    email = str(st.user.get("email") or "").strip().lower()
    account = accounts.get(store, email) if email else None
    if account is None or account.disabled:
        _no_account_page(store, email, "disabled" if account else "unknown_sso_identity")
        return None
    sid = sessions.sso_id(str(st.user.get("sub") or ""), st.user.get("iat"), email)
    if sessions.get(store, sid) is None:
        sessions.start(store, account.id, "sso", sid)
        audit.record(store, _actor(account, sid), "sign_in", detail={"method": "sso"})
    identity = _resume(store, sid, "sso")
    if identity is None:
        _sso_page()
    return identity


def _sso_page() -> None:
    _title("Sign in")
    notice = st.session_state.get(NOTICE_KEY)
    if notice:
        st.warning(notice, icon=":material/timer_off:")
    st.markdown("Sign in with your organization's single sign-on.")
    if st.button("Sign in with single sign-on", type="primary", key="sso_login"):
        st.session_state.pop(NOTICE_KEY, None)
        st.login()


def _no_account_page(store: Engine, email: str, reason: str) -> None:
    if not st.session_state.get(DENIED_KEY):
        audit.record(
            store,
            audit.Actor(account=email[:320] or "(no e-mail from the identity provider)", source="web"),
            "sign_in_failed",
            detail={"method": "sso", "reason": reason},
        )
        st.session_state[DENIED_KEY] = True
    _title("No access")
    st.error(
        f"You signed in as **{email or 'an identity without an e-mail address'}**, but there is no "
        "active account for it on this dashboard. Ask your administrator to add one for you.",
        icon=":material/block:",
    )
    if st.button("Sign out", key="sso_denied_logout"):
        st.session_state.pop(DENIED_KEY, None)
        st.logout()


# ------------------------------------------------------------------ no accounts, real data
def _closed_page(data_dir: str) -> None:
    _title("No accounts yet")
    st.error(
        "These are real extracts and no one has an account, so no data is shown. "
        "Create the first administrator on the server, then sign in:",
        icon=":material/lock:",
    )
    st.code(
        f"python -m vbc users add --data {data_dir} --email you@example.org --role admin --password-stdin",
        language="bash",
    )
    st.markdown(
        "The password is read from standard input and stored only as an Argon2 hash. The "
        "administrator then adds the others (`python -m vbc users add ... --role payer|org|committee`); "
        "see the README, *Sign-in, roles and the audit log*."
    )


# ------------------------------------------------------------------ the sidebar once signed in
def choose_viewer(identity: Identity) -> Viewer:
    """The viewer of this run: one of the account's, chosen in the sidebar (session, not URL)."""
    labels = {
        "payer": "Payer — all organizations",
        "joint": "Joint view — de-identified",
    }
    options = list(identity.viewers)
    if len(options) == 1:
        st.sidebar.caption(f"Viewing as **{_label(options[0], labels)}**")
        return options[0]
    keys = [v.key for v in options]
    # Kept under a key of its own too: a run that does not draw the widget (a page run before
    # dashboard.py's navigation takes over) would otherwise drop the choice.
    chosen = st.session_state.get(CHOICE_KEY)
    key = st.sidebar.radio(
        "Viewing as",
        keys,
        index=keys.index(chosen) if chosen in keys else 0,
        key=VIEW_KEY,
        format_func=lambda k: _label(Viewer.parse(k), labels),
        help="Your role decides what you may see. Switch to the joint view to present on a shared "
        "screen: it is de-identified and hides counts from 1 to 10.",
    )
    st.session_state[CHOICE_KEY] = key
    return Viewer.parse(key)


def _label(viewer: Viewer, labels: dict) -> str:
    return labels.get(viewer.kind, f"Provider — {viewer.organization}")


def account_box(store: Engine, identity: Identity, viewer: Viewer) -> None:
    """Who is signed in, the role, and sign-out."""
    if identity.mode == "demo":
        return
    st.sidebar.divider()
    st.sidebar.caption(f"Signed in as **{identity.name}** · {identity.account.label}")
    if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
        if identity.session_id:
            sessions.end(store, identity.session_id, "sign_out")
        audit.record(store, identity.actor(viewer), "sign_out")
        _forget()
        if identity.mode == "sso":
            st.logout()
        st.rerun()
