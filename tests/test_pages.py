"""Every page runs headless (AppTest) for every kind of viewer, with the stamp in its header.

The fixture is real (not demo) data with accounts, so each test signs in through the sign-in form
as the account whose role gives the viewer under test (`ACCOUNTS`): payer, an org account for
Beta Health or Alpha Care, the joint committee. The `viewer` query parameter these tests used to
set is ignored once accounts exist (tests/test_access.py proves it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ACCOUNTS, add_accounts, sign_in
from vbc.ui.navigation import PAGES as NAVIGATION
from vbc.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
PAGES = [p.file for p in NAVIGATION]
VIEWERS = ["payer", "org:Beta Health", "joint"]


@pytest.fixture
def app_env(small_extract, tmp_path, monkeypatch):
    monkeypatch.setenv("VBC_DATA_DIR", str(small_extract))
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("VBC_STATE_URL", raising=False)
    add_accounts(small_extract)
    return small_extract


def run(page: str, viewer: str = "payer", period: str = "All months") -> AppTest:
    """`page` as the account of `viewer` (signed in through the form)."""
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.query_params["period"] = period
    at.run()
    sign_in(at, ACCOUNTS[viewer][0])
    assert not at.exception, [e.value for e in at.exception]
    if page != PAGES[0]:
        at.switch_page(page)
        at.run()
    return at


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def test_navigation_lists_every_page_file_once():
    """dashboard.py's navigation (vbc.ui.navigation.PAGES) and the files in pages/ agree."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))
    assert sorted(PAGES) == files
    assert len({p.url_path for p in NAVIGATION}) == len(NAVIGATION)
    dashboard = (ROOT / "dashboard.py").read_text()
    assert "from vbc.ui.navigation import" in dashboard and "st.Page(" in dashboard


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_stamp(app_env, page, viewer):
    at = run(page, viewer)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    stamp = Workspace.open(app_env).good
    text = _text(at)
    assert f"**Paid through** {stamp['paid_through']}" in text
    assert "**Fingerprint** `" in text
    assert "DEMO DATA" not in text  # the fixture is not demo data


def test_overview_numbers_match_the_engine(app_env):
    at = run(PAGES[0], "payer", "2025")
    text = _text(at)
    # The hand-worked total for 2025 (Jan-Aug data; August's $300 has no member month): 11,990 / 19
    assert "$631.05" in text


def test_org_viewer_overview_lists_only_its_organization(app_env):
    at = run(PAGES[0], "org:Alpha Care", "2025")
    frames = [df.value for df in at.dataframe]
    orgs = set()
    for df in frames:
        if "Organization" in df.columns:
            orgs |= set(df["Organization"])
    assert orgs == {"Alpha Care"}


def test_demo_badge(app_env):
    (app_env / "_demo.json").write_text(json.dumps({"seed": 1}))
    at = run(PAGES[0])
    assert "DEMO DATA" in _text(at)


def test_broken_extract_keeps_serving_with_a_warning(app_env):
    assert Workspace.open(app_env).build().ok
    (app_env / "medical_claim.parquet").write_bytes(b"broken")
    at = run(PAGES[0], "payer", "2025")
    assert not at.exception
    assert any("failed validation" in w.value for w in at.warning)
    assert "$631.05" in _text(at)  # the last good build's numbers
    health = run("pages/data_health.py")
    assert any("medical_claim" in str(df.value.to_dict()) for df in health.dataframe)


def test_no_build_at_all_explains_why(app_env):
    (app_env / "provider.parquet").unlink()
    at = run(PAGES[0])
    assert not at.exception
    assert any("could not be built" in e.value for e in at.error)
