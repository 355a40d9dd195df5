"""Notes on the charts and the Meeting page in a real browser (Debian's headless Chromium).

A note added on the Cost page is drawn on the Overview and Quality charts it is pinned to, its
title in the chart's own SVG text (what a screenshot and a screen-share show), not only in a
tooltip; an overdue action item is on the Overview for the payer and for the joint committee; the
Meeting page and its presenter mode draw without an exception. Screenshots land in $VBC_SHOTS (or
the module's tmp folder) for a human to look at.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from tests.test_browser import need_chromium
from tests.test_browser_auth import LOCAL, ROLES, _open, _serve, _settle, _sign_in, _stop, _tag

pytestmark = pytest.mark.browser
TITLE = "Flu outbreak in the valley"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return Path(os.environ.get("VBC_SHOTS") or tmp_path_factory.mktemp("meeting-shots"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_chromium()
    from tests.test_browser_auth import PASSWORD
    from vbc import accounts, actions
    from vbc.collab import Author
    from vbc.demo import generate
    from vbc.store import open_store
    from vbc.workspace import Workspace

    base = tmp_path_factory.mktemp("meeting-browser")
    data = base / "extract"
    generate(data, members=2500, months=24, seed=11)
    assert Workspace(data.resolve(), base / "state" / _tag(data)).build().ok
    store = open_store(url=f"sqlite:///{base / 'state' / _tag(data) / 'state.sqlite'}")
    for who, email in LOCAL.items():
        role, org = ROLES[who]
        accounts.add(store, email, role, org, PASSWORD, by="test")
    actions.add(
        store,
        Author(LOCAL["payer"], "payer"),
        what="Send the corrected roster",
        owner_party="payer",
        owner_person="Ann Analyst",
        due_on=date(2025, 1, 15),
    )
    url, proc = _serve(base, data, {"VBC_IDLE_MINUTES": "30"})
    yield url
    _stop(proc)


def _chart_texts(page) -> list[str]:
    page.locator(".js-plotly-plot").first.wait_for(timeout=240_000)
    _settle(page)
    return page.eval_on_selector_all(".js-plotly-plot svg text", "els => els.map(e => e.textContent)")


def test_a_note_added_on_cost_is_written_on_the_overview_and_quality_charts(server, browser, shots):
    ctx, page = _open(browser, f"{server}/cost?period=All+months")
    try:
        _sign_in(page, LOCAL["payer"])
        _settle(page)
        page.get_by_text("Add a note to this chart").first.click()
        page.get_by_label("Title (shown on the chart)").wait_for(timeout=30_000)
        page.get_by_label("Title (shown on the chart)").fill(TITLE)
        page.get_by_label("What happened").fill("Three care homes closed to visitors")
        page.get_by_text("All metrics").first.click()
        page.get_by_role("button", name="Save note").click()
        try:
            page.get_by_text("Note saved").wait_for(timeout=60_000)
        finally:
            page.screenshot(path=str(shots / "cost-after-save.png"))
        _settle(page)
        assert TITLE in _chart_texts(page)
        page.locator(".js-plotly-plot").first.screenshot(path=str(shots / "cost-chart-with-note.png"))
        for title in ("Overview", "Quality"):
            # Through the sidebar: a new URL is a new session, which asks to sign in again.
            page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
            page.locator("h1", has_text=title).first.wait_for(timeout=90_000)
            if title == "Quality":
                # A measure whose lookback fits in the demo's 24 months, so its p-chart is drawn.
                _settle(page)
                box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Measure detail")
                box.locator("input").click()
                page.keyboard.type("Annual wellness")
                page.keyboard.press("Enter")
                page.get_by_role("heading", name="Annual wellness visit").wait_for(timeout=120_000)
            texts = _chart_texts(page)
            assert TITLE in texts, (title, texts[:40])
            page.locator(".js-plotly-plot").first.screenshot(
                path=str(shots / f"{title.lower()}-chart-with-note.png")
            )
    finally:
        ctx.close()


@pytest.mark.parametrize("who", ["payer", "committee"])
def test_an_overdue_action_item_is_on_the_overview_for_both_parties(server, browser, shots, who):
    ctx, page = _open(browser, f"{server}/")
    try:
        _sign_in(page, LOCAL[who])
        page.get_by_text("Send the corrected roster").first.wait_for(timeout=60_000)
        assert "overdue action item" in page.inner_text("body")
        page.screenshot(path=str(shots / f"overview-overdue-{who}.png"), full_page=True)
    finally:
        ctx.close()


def test_meeting_page_and_presenter_mode(server, browser, shots):
    ctx, page = _open(browser, f"{server}/meeting")
    try:
        _sign_in(page, LOCAL["committee"])
        page.get_by_label("Title").fill("Quarterly joint review")
        page.get_by_role("button", name="Open the meeting").click()
        page.get_by_text("Meeting opened").wait_for(timeout=180_000)
        _settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(shots / "meeting.png"), full_page=True)
        page.get_by_text("Presenter mode").click()
        page.get_by_text("Section 1 of 9").wait_for(timeout=180_000)
        page.get_by_role("button", name="Next ▶").click()
        page.get_by_text("Section 2 of 9").wait_for(timeout=60_000)
        _settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator(".js-plotly-plot").count() >= 1
        page.screenshot(path=str(shots / "presenter-2.png"), full_page=True)
    finally:
        ctx.close()
