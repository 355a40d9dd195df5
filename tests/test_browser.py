"""Every page in a real browser (Debian's headless Chromium): no exception, the stamp, real charts.

AppTest cannot see charts or layout; this can. Playwright drives /usr/bin/chromium and never
downloads a browser. Screenshots land in the test's tmp folder for a human to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from vbc.ui.navigation import DEFAULT
from vbc.ui.navigation import PAGES as NAVIGATION

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def need_chromium() -> None:
    """Skip without Debian's chromium; in CI (where ./test.sh installs it) fail instead."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; ./test.sh installs Debian's package")
        pytest.skip("chromium is not installed (./test.sh installs it)")


# The root URL (the default page) and every page at its own URL.
PAGES = [("", DEFAULT.title)] + [(p.url_path, p.title) for p in NAVIGATION]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    from tests.conftest import build_small_extract

    base = tmp_path_factory.mktemp("browser")
    data = build_small_extract(base / "extract")
    (data / "_demo.json").write_text("{}")  # show the demo badge too
    from tests.test_browser_auth import _serve, _stop

    url, proc = _serve(base, data, {})
    yield url, base
    _stop(proc)


def _load(browser, url: str, shot: Path):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("text=Fingerprint", timeout=60_000)
    # Streamlit keeps rendering after the first paint; wait until the script run has finished.
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(3000)
    page.screenshot(path=str(shot), full_page=True)
    return page


def test_deep_link_on_a_fresh_server(server, browser):
    """The first request a new server sees is a link straight to a page (a shared bookmark)."""
    url, base = server
    page = _load(browser, f"{url}/settlement?viewer=payer", base / "deep-link.png")
    try:
        assert page.locator("h1", has_text="Settlement").count() >= 1
        assert page.get_by_text("Page not found").count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 1
    finally:
        page.close()


# Every page as the payer; the de-identified view on the pages that aggregate the most (AppTest
# covers every page for every viewer).
CASES = [(path, title, "payer") for path, title in PAGES] + [
    (path, title, "joint") for path, title in PAGES if path in ("", "quality", "settlement")
]


@pytest.mark.parametrize("path,title,viewer", CASES)
def test_page_in_browser(server, browser, path, title, viewer):
    url, base = server
    page = _load(
        browser,
        f"{url}/{path}?viewer={viewer}&period=All+months",
        base / f"{path or 'root'}-{viewer}.png",
    )
    try:
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator("h1", has_text=title).count() >= 1
        assert page.get_by_text("Page not found").count() == 0
        body = page.inner_text("body")
        assert "Paid through" in body and "DEMO DATA" in body
        assert "Traceback" not in body
        if path in ("", DEFAULT.url_path):
            # The trend chart really drew its points (AppTest cannot see this). Plotly's bundle
            # loads after the script run ends, so on a busy machine the chart can lag behind it.
            page.wait_for_function(
                "() => document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length >= 4",
                timeout=60_000,
            )
    finally:
        page.close()
