"""Sign-in, roles and the audit trail in a real browser (Debian's headless Chromium via Playwright).

Two servers on 127.0.0.1: one with local accounts on real (not demo) extracts, and one whose
`[auth]` secrets point Streamlit's st.login at a local OpenID Connect provider
(oidc-provider-mock, in this process, on 127.0.0.1: nothing is downloaded). Screenshots land in
the module's tmp folder (and in $VBC_SHOTS when set) for a human to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_browser import ROOT, _free_port, need_chromium

pytestmark = pytest.mark.browser
PASSWORD = "a browser test password"
LOCAL = {
    "payer": "payer@plan.test",
    "beta": "quality@beta.test",
    "committee": "committee@plan.test",
    "admin": "admin@plan.test",
}
ROLES = {
    "payer": ("payer", None),
    "beta": ("org", "Beta Health"),
    "committee": ("committee", None),
    "admin": ("admin", None),
}


def _serve(
    base: Path, data: Path, extra_env: dict, extra_args: list[str] = (), port: int | None = None
) -> tuple[str, subprocess.Popen]:
    port = port or _free_port()
    env = {**os.environ, "VBC_DATA_DIR": str(data), "VBC_STATE_DIR": str(base / "state"), **extra_env}
    env.pop("VBC_STATE_URL", None)
    proc = subprocess.Popen(
        # As run.sh starts it.
        [
            sys.executable,
            "-m",
            "vbc",
            "serve",
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--",
            *extra_args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return url, proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("streamlit did not start: " + proc.stdout.read().decode()[-2000:])


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _extract_with_accounts(base: Path, sso: bool = False) -> Path:
    from tests.conftest import build_small_extract
    from vbc import accounts
    from vbc.store import open_store
    from vbc.workspace import Workspace

    data = build_small_extract(base / "extract")
    assert Workspace(data.resolve(), base / "state" / _tag(data)).build().ok
    store = open_store(url=f"sqlite:///{base / 'state' / _tag(data) / 'state.sqlite'}")
    for who, email in LOCAL.items():
        role, org = ROLES[who]
        accounts.add(store, email, role, org, None if sso else PASSWORD, by="test")
    return data


def _tag(data: Path) -> str:
    from vbc.workspace import state_tag

    return state_tag(data)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return Path(os.environ.get("VBC_SHOTS") or tmp_path_factory.mktemp("shots"))


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    need_chromium()
    base = tmp_path_factory.mktemp("auth-local")
    data = _extract_with_accounts(base)
    url, proc = _serve(base, data, {"VBC_IDLE_MINUTES": "30"})
    yield url, base, data
    _stop(proc)


def _settle(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000
    )
    page.wait_for_timeout(1500)


def _open(browser, url: str):
    ctx = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    page = ctx.new_page()
    page.goto(url, wait_until="domcontentloaded")
    return ctx, page


def _sign_in(page, email: str, password: str = PASSWORD, ok: bool = True) -> None:
    page.get_by_label("E-mail").wait_for(timeout=60_000)
    _settle(page)  # a form filled while the first run is still going is drawn anew, empty
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    if ok:
        page.get_by_text("Paid through").first.wait_for(timeout=90_000)
    else:
        page.locator('[data-testid="stAlert"]').first.wait_for(timeout=60_000)
    _settle(page)


def _no_data(page) -> None:
    body = page.inner_text("body")
    assert "Paid through" not in body and "Fingerprint" not in body
    assert page.locator('[data-testid="stDataFrame"]').count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0


def _audit(base: Path, data: Path, **kw):
    from vbc import audit
    from vbc.store import open_store

    return audit.read(open_store(url=f"sqlite:///{base / 'state' / _tag(data) / 'state.sqlite'}"), **kw)


def test_wrong_password_ends_on_a_clear_page_with_no_data(local_server, browser, shots):
    url, _, _ = local_server
    ctx, page = _open(browser, f"{url}/cost?viewer=payer")
    try:
        _sign_in(page, LOCAL["payer"], "not the right password", ok=False)
        assert page.get_by_text("E-mail or password not recognised").count() == 1
        _no_data(page)
        page.screenshot(path=str(shots / "signin-wrong-password.png"), full_page=True)
    finally:
        ctx.close()


def test_an_org_user_cannot_reach_other_organizations(local_server, browser, shots):
    """A payer's deep link, the URL's viewer and organization, the sidebar and a warm cache."""
    url, base, data = local_server
    deep_link = f"{url}/care_gaps?viewer=payer&org=Alpha+Care&period=All+months"
    payer_ctx, payer = _open(browser, deep_link)
    beta_ctx, beta = _open(browser, deep_link)
    try:
        _sign_in(payer, LOCAL["payer"])  # the payer's view is computed and cached first
        assert "Viewing as: Payer" in payer.inner_text("body")
        _sign_in(beta, LOCAL["beta"])
        body = beta.inner_text("body")
        assert "Viewing as: Beta Health" in body and "Alpha Care" not in body
        assert "Care gaps" in body
        labels = beta.locator('[data-testid="stSidebar"] [role="radiogroup"] label').all_inner_texts()
        assert [t.strip() for t in labels] == ["Provider — Beta Health", "Joint view — de-identified"]
        beta.screenshot(path=str(shots / "org-user-care-gaps.png"), full_page=True)
        # Editing the URL is a new page load: a new session, which must sign in again.
        beta.goto(f"{url}/overview?viewer=payer&org=Alpha+Care", wait_until="domcontentloaded")
        beta.get_by_label("E-mail").wait_for(timeout=60_000)
        _no_data(beta)
        _sign_in(beta, LOCAL["beta"])
        body = beta.inner_text("body")
        assert "Viewing as: Beta Health" in body and "Alpha Care" not in body
        assert "viewer=" not in beta.url
        beta.screenshot(path=str(shots / "org-user-overview.png"), full_page=True)
    finally:
        payer_ctx.close()
        beta_ctx.close()
    views = _audit(base, data, actions=["care_gap_view"])
    assert list(views["account"])[::-1] == [LOCAL["payer"], LOCAL["beta"]]


def test_download_writes_one_audit_row_and_names_viewer_and_account(local_server, browser):
    url, base, data = local_server
    ctx, page = _open(browser, f"{url}/care_gaps?period=All+months")
    try:
        _sign_in(page, LOCAL["beta"])
        before = len(_audit(base, data, actions=["export"]))
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="Download gaps (CSV)").click()
        text = Path(info.value.path()).read_text()
    finally:
        ctx.close()
    header, *rows = text.strip().splitlines()
    assert "stamp_viewer" in header and "stamp_account" in header
    assert rows and all("org:Beta Health" in r and LOCAL["beta"] in r for r in rows)
    assert "Alpha Care" not in text
    exports = _audit(base, data, actions=["export"])
    assert len(exports) == before + 1
    assert exports.iloc[0]["row_count"] == len(rows) and exports.iloc[0]["page"] == "care_gaps"


def test_the_committee_sees_the_joint_view_only(local_server, browser, shots):
    url, _, _ = local_server
    ctx, page = _open(browser, f"{url}/?viewer=payer&period=All+months")
    try:
        _sign_in(page, LOCAL["committee"])
        body = page.inner_text("body")
        assert "Viewing as: Joint view (de-identified)" in body
        assert "Suppressed" in body  # the tiles of this small extract: fewer than 11
        page.screenshot(path=str(shots / "committee-overview.png"), full_page=True)
        page.goto(f"{url}/care_gaps?viewer=payer", wait_until="domcontentloaded")
        _sign_in(page, LOCAL["committee"])
        assert page.get_by_text("not shown in the joint de-identified view").count() == 1
        assert page.locator('[data-testid="stDataFrame"]').count() == 0
    finally:
        ctx.close()


def test_admin_reads_the_audit_page(local_server, browser, shots):
    url, _, _ = local_server
    ctx, page = _open(browser, f"{url}/audit")
    try:
        _sign_in(page, LOCAL["admin"])
        # On a loaded machine the page's run can still be drawing when the sign-in settles.
        page.get_by_text("rows, newest first").first.wait_for(timeout=60_000)
        page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "Audit log" in body and "rows, newest first" in body
        assert page.locator('[data-testid="stDataFrame"]').count() == 1
        assert page.locator('[data-testid="stSidebarNav"]').get_by_text("Audit log").count() == 1
        page.screenshot(path=str(shots / "audit-page.png"), full_page=True)
    finally:
        ctx.close()
    ctx, page = _open(browser, f"{url}/")
    try:
        _sign_in(page, LOCAL["payer"])
        assert page.locator('[data-testid="stSidebarNav"]').get_by_text("Audit log").count() == 0
    finally:
        ctx.close()


def test_an_idle_session_expires(tmp_path_factory, browser, shots):
    need_chromium()
    base = tmp_path_factory.mktemp("auth-idle")
    data = _extract_with_accounts(base)
    url, proc = _serve(base, data, {"VBC_IDLE_MINUTES": "0.1"})  # six seconds
    ctx, page = _open(browser, f"{url}/?period=All+months")
    try:
        _sign_in(page, LOCAL["payer"])
        assert "Paid through" in page.inner_text("body")
        page.wait_for_timeout(8000)
        page.get_by_text("Utilization").first.click()
        page.wait_for_timeout(500)
        _settle(page)
        assert page.get_by_text("without activity").count() == 1
        _no_data(page)
        page.screenshot(path=str(shots / "session-expired.png"), full_page=True)
    finally:
        ctx.close()
        _stop(proc)
    assert "session_expired" in set(_audit(base, data)["action"])


# ------------------------------------------------------------------ single sign-on
@pytest.fixture(scope="module")
def identity_provider():
    """oidc-provider-mock on 127.0.0.1 in a thread of this process: any client id is accepted and
    the person types a subject, which becomes their e-mail."""
    import oidc_provider_mock
    import werkzeug.serving

    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory, identity_provider):
    need_chromium()
    base = tmp_path_factory.mktemp("auth-sso")
    data = _extract_with_accounts(base, sso=True)
    port = _free_port()
    secrets = base / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a test cookie secret that is long enough"\n'
        'client_id = "vbc-dashboard"\n'
        'client_secret = "test-secret"\n'
        f'server_metadata_url = "{identity_provider}/.well-known/openid-configuration"\n'
    )
    url, proc = _serve(base, data, {}, ["--secrets.files", str(secrets)], port=port)
    yield url, base, data
    _stop(proc)


def _sso_sign_in(page, email: str) -> None:
    page.get_by_role("button", name="Sign in with single sign-on").click()
    page.locator('input[name="sub"]').wait_for(timeout=60_000)
    page.locator('input[name="sub"]').fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_timeout(1000)
    _settle(page)


def test_single_sign_on_known_email_lands_in_its_role(sso_server, browser, shots):
    url, base, data = sso_server
    ctx, page = _open(browser, f"{url}/")
    try:
        page.get_by_role("button", name="Sign in with single sign-on").wait_for(timeout=60_000)
        _no_data(page)
        page.screenshot(path=str(shots / "sso-sign-in.png"), full_page=True)
        _sso_sign_in(page, LOCAL["beta"])
        page.get_by_text("Paid through").first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "Viewing as: Beta Health" in body and "Alpha Care" not in body
        assert f"Signed in as {LOCAL['beta']}" in body
        page.screenshot(path=str(shots / "sso-org-user.png"), full_page=True)
    finally:
        ctx.close()
    signins = _audit(base, data, actions=["sign_in"])
    assert list(signins["account"]) == [LOCAL["beta"]] and '"sso"' in signins.iloc[0]["detail"]


def test_single_sign_on_unknown_email_sees_nothing(sso_server, browser, shots):
    url, base, data = sso_server
    ctx, page = _open(browser, f"{url}/care_gaps")
    try:
        page.get_by_role("button", name="Sign in with single sign-on").wait_for(timeout=60_000)
        _sso_sign_in(page, "stranger@elsewhere.test")
        page.get_by_text("No access").first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "stranger@elsewhere.test" in body and "Ask your administrator" in body
        _no_data(page)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        page.screenshot(path=str(shots / "sso-no-account.png"), full_page=True)
    finally:
        ctx.close()
    failed = _audit(base, data, actions=["sign_in_failed"])
    assert list(failed["account"]) == ["stranger@elsewhere.test"]
