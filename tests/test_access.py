"""Sign-in and roles on the pages (AppTest): who may see what, whatever the URL says, and the audit
rows a visit writes. Accounts are signed in through the sign-in form (tests/test_pages.py); the
demo-mode tests use generated-demo-like data (`_demo.json`) with no accounts."""

from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ACCOUNTS, PASSWORD, ROOT, add_accounts, sign_in
from tests.test_pages import _text
from vbc import audit
from vbc.store import open_store


@pytest.fixture
def env(small_extract, tmp_path, monkeypatch):
    """Real (not demo) extracts; accounts are added by the tests that want them."""
    monkeypatch.setenv("VBC_DATA_DIR", str(small_extract))
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("VBC_STATE_URL", raising=False)
    monkeypatch.delenv("VBC_IDLE_MINUTES", raising=False)
    return small_extract


@pytest.fixture
def with_accounts(env):
    add_accounts(env)
    return env


def app(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def shows_no_data(at: AppTest) -> None:
    text = _text(at)
    assert "Paid through" not in text and "Fingerprint" not in text
    assert not at.dataframe and not at.metric
    assert not at.exception


def organizations_shown(at: AppTest) -> set[str]:
    orgs = set()
    for df in at.dataframe:
        for col in ("Organization", "organization"):
            if col in df.value.columns:
                orgs |= set(df.value[col].dropna())
    return orgs


def test_real_extracts_without_accounts_show_nothing_and_say_how_to_start(env):
    at = app(viewer="payer")
    shows_no_data(at)
    assert any("no one has an account" in e.value for e in at.error)
    assert any("--role admin" in c.value for c in at.code)


def test_demo_data_without_accounts_is_a_labelled_demo_mode_with_free_switching(env):
    (env / "_demo.json").write_text("{}")
    at = app(viewer="org:Alpha Care", period="All months")
    text = _text(at)
    assert "DEMO MODE" in text and "Viewing as: Alpha Care" in text
    assert organizations_shown(at) == {"Alpha Care"}
    assert at.selectbox(key="q_viewer").value == "org:Alpha Care"


def test_a_wrong_password_ends_on_the_sign_in_page_with_no_data(with_accounts):
    at = sign_in(app(), ACCOUNTS["payer"][0], "not the password at all")
    shows_no_data(at)
    assert any("not recognised" in e.value for e in at.error)
    failed = audit.read(open_store(with_accounts), actions=["sign_in_failed"])
    assert list(failed["account"]) == ["payer@plan.test"]


def test_five_wrong_passwords_lock_the_account(with_accounts):
    at = app()
    for _ in range(5):
        sign_in(at, ACCOUNTS["payer"][0], "wrong password here")
    sign_in(at, ACCOUNTS["payer"][0], PASSWORD)
    shows_no_data(at)
    assert any("locked" in e.value for e in at.error)


def test_an_org_user_cannot_reach_another_organization_through_the_url(with_accounts):
    """A link copied from a payer (viewer=payer, org=Alpha Care) opens as the org user's own view."""
    at = app(viewer="payer", org="Alpha Care", period="All months")
    sign_in(at, ACCOUNTS["org:Beta Health"][0])
    assert "viewer" not in at.query_params
    assert "Viewing as: Beta Health" in _text(at)
    assert organizations_shown(at) == {"Beta Health"}
    assert at.radio(key="vbc_view").options == ["Provider — Beta Health", "Joint view — de-identified"]
    for page in ("pages/care_gaps.py", "pages/attribution.py", "pages/quality.py"):
        at.query_params["viewer"] = "payer"
        at.query_params["org"] = "Alpha Care"
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert "Viewing as: Beta Health" in _text(at), page
        assert organizations_shown(at) <= {"Beta Health"}, page


def test_the_org_user_may_present_the_joint_view_and_it_hides_members(with_accounts):
    at = app(period="All months")
    sign_in(at, ACCOUNTS["org:Beta Health"][0])
    at.radio(key="vbc_view").set_value("joint").run()
    assert "Viewing as: Joint view (de-identified)" in _text(at)
    at.switch_page("pages/care_gaps.py").run()
    assert any("not shown in the joint de-identified view" in i.value for i in at.info)
    assert not at.dataframe


def test_the_committee_sees_only_the_joint_view(with_accounts):
    at = app(viewer="payer", period="All months")
    sign_in(at, ACCOUNTS["joint"][0])
    assert "Viewing as: Joint view (de-identified)" in _text(at)
    assert "vbc_view" not in [r.key for r in at.radio]  # nothing to switch to
    at.switch_page("pages/care_gaps.py").run()
    assert not at.dataframe


def test_one_audit_row_per_care_gap_view(with_accounts):
    store = open_store(with_accounts)
    at = app(period="All months")
    sign_in(at, ACCOUNTS["org:Beta Health"][0])
    at.switch_page("pages/care_gaps.py").run()
    views = audit.read(store, actions=["care_gap_view"])
    assert len(views) == 1
    row = views.iloc[0]
    assert (row["account"], row["role"], row["viewer"], row["page"]) == (
        "quality@beta.test",
        "org",
        "org:Beta Health",
        "care_gaps",
    )
    assert row["fingerprint"] and row["paid_through"] == "2025-09-30"
    at.run()  # the same view again (a rerun): no second row
    assert len(audit.read(store, actions=["care_gap_view"])) == 1
    first = at.multiselect(key="gap_measures").value[0]
    at.multiselect(key="gap_measures").set_value([first]).run()
    views = audit.read(store, actions=["care_gap_view"])
    assert len(views) == 2 and json.loads(views.iloc[0]["detail"])["measures"] == [first]
    # Rows hold what was asked for, never the members listed.
    assert "person" not in views.to_csv().lower()


def test_an_idle_session_expires_to_a_clear_page(with_accounts, monkeypatch):
    monkeypatch.setenv("VBC_IDLE_MINUTES", "0.02")  # 1.2 seconds
    at = app(period="All months")
    sign_in(at, ACCOUNTS["payer"][0])
    assert "Paid through" in _text(at)
    time.sleep(1.5)
    at.run()
    shows_no_data(at)
    assert any("without activity" in w.value for w in at.warning)
    actions = list(audit.read(open_store(with_accounts))["action"])
    assert actions[0] == "session_expired" and "sign_in" in actions


def test_sign_out(with_accounts):
    at = app()
    sign_in(at, ACCOUNTS["payer"][0])
    at.button(key="sign_out").click().run()
    shows_no_data(at)
    assert at.text_input(key="signin_email") is not None
    assert list(audit.read(open_store(with_accounts))["action"])[:2] == ["sign_out", "page_view"]


def test_audit_page_is_for_administrators(with_accounts):
    at = app()
    sign_in(at, ACCOUNTS["payer"][0])
    at.switch_page("pages/audit.py").run()
    assert any("Only administrators" in i.value for i in at.info) and not at.dataframe
    admin = app()
    sign_in(admin, ACCOUNTS["admin"][0])
    admin.switch_page("pages/audit.py").run()
    assert not admin.exception
    log = admin.dataframe[0].value
    assert {"sign_in", "page_view"} <= set(log["Action"])
    assert "payer@plan.test" in set(log["Account"])
    admin.multiselect(key="audit_actions").set_value(["sign_in"]).run()
    assert set(admin.dataframe[0].value["Action"]) == {"sign_in"}
