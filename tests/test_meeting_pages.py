"""The Meeting page and the notes on other pages, headless (AppTest), signed in as the test accounts:
open a meeting from the form, assign and follow up an action item, record a decision, present in
the joint view; overdue items on the Overview for both parties; a metric's actions on Quality."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import open_page
from vbc import actions, meetings
from vbc.collab import Author
from vbc.registry import load_registry
from vbc.store import open_store
from vbc.workspace import Workspace

MEETING = "pages/meeting.py"
PAYER = Author("payer@plan.test", "payer")


@pytest.fixture
def env(small_extract, tmp_path, monkeypatch):
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("VBC_STATE_URL", raising=False)
    return small_extract


def _text(at) -> str:
    return "\n".join(
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [w.value for w in at.warning]
        + [i.value for i in at.info]
    )


def _late_item(data) -> actions.ActionItem:
    return actions.add(
        open_store(data),
        PAYER,
        what="Send the corrected roster",
        owner_party="org:Alpha Care",
        owner_person="Dr Lee",
        due_on=date(2025, 1, 15),
        metric_id="followup_7day_after_discharge",
    )


@pytest.mark.parametrize("viewer", ["payer", "joint"])
def test_overdue_items_show_on_the_overview_for_both_parties(env, monkeypatch, viewer):
    at = open_page(env, "pages/overview.py", "payer", monkeypatch)  # creates the store and accounts
    _late_item(env)
    at = open_page(env, "pages/overview.py", viewer, monkeypatch)
    assert "overdue action item" in _text(at) and "Send the corrected roster" in _text(at)


def test_open_a_meeting_assign_follow_up_and_decide(env, monkeypatch):
    at = open_page(env, MEETING, "joint", monkeypatch)
    assert "No meeting yet" in _text(at)
    at.text_input(key="m_title").input("Q3 joint review")
    at.text_area(key="m_people").input("Ann (plan)\nBo (Alpha Care)")
    at.button(key="FormSubmitter:open_meeting-Open the meeting").click().run()
    assert not at.exception, [e.value for e in at.exception]
    store = open_store(env)
    (m,) = meetings.visible(store, _payer())
    assert m.title == "Q3 joint review" and m.attendees == ("Ann (plan)", "Bo (Alpha Care)")
    assert [t.label for t in at.tabs][:2] == ["Q3 joint review", "What changed since the last meeting"]

    at.text_input(key="a_what").input("Call every discharged member within 7 days")
    at.text_input(key="a_person").input("Dr Lee")
    at.button(key="FormSubmitter:new_action-Assign").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (item,) = actions.visible(store, _payer())
    assert item.meeting_id == m.id and item.status == "open"

    at.text_area(key="d_text").input("Adopt the discharge call bundle")
    at.text_area(key="d_why").input("Follow-up is short of target in both quarters")
    at.button(key="FormSubmitter:new_decision-Record").click().run()
    assert [d.decision for d in meetings.decisions_of(store, m.id)] == ["Adopt the discharge call bundle"]

    at.selectbox(key=f"s_{item.id}").select("in progress")
    at.text_input(key=f"c_{item.id}").input("Nurse line staffed")
    at.button(key=f"FormSubmitter:status_{item.id}-Update").click().run()
    assert actions.get(store, item.id).status == "in progress"


def test_a_stale_status_update_is_refused_on_the_page(env, monkeypatch):
    at = open_page(env, "pages/overview.py", "payer", monkeypatch)
    store = open_store(env)
    ws = Workspace.open(env)
    meetings.open_meeting(store, PAYER, ws, load_registry(), held_on=date(2025, 9, 1))
    item = _late_item(env)
    at = open_page(env, MEETING, "payer", monkeypatch)
    actions.set_status(store, PAYER, item, "in progress", "someone else, meanwhile")  # another session
    at.selectbox(key=f"s_{item.id}").select("done")
    at.text_input(key=f"c_{item.id}").input("my stale update")
    at.button(key=f"FormSubmitter:status_{item.id}-Update").click().run()
    assert any("changed by payer@plan.test" in e.value and "reload" in e.value for e in at.error)
    assert actions.get(store, item.id).status == "in progress"


def test_presenter_mode_is_the_joint_view_one_section_per_screen(env, monkeypatch):
    at = open_page(env, "pages/overview.py", "payer", monkeypatch)
    meetings.open_meeting(
        open_store(env), PAYER, Workspace.open(env), load_registry(), held_on=date(2025, 9, 1)
    )
    at = open_page(env, MEETING, "payer", monkeypatch)
    at.toggle(key="m_present").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    text = _text(at)
    assert "Section 1 of 9" in text and "viewer: Joint view (de-identified)" in text
    at.button(key="pres_next").click().run()
    assert "Section 2 of 9" in _text(at)
    assert "What changed since the last meeting" in [h.value for h in at.header]


def test_a_measure_shows_the_actions_taken_on_it(env, monkeypatch):
    at = open_page(env, "pages/overview.py", "payer", monkeypatch)
    _late_item(env)
    at = open_page(env, "pages/quality.py", "payer", monkeypatch, measure="followup_7day_after_discharge")
    assert "Actions taken on this metric" in _text(at)
    assert "does not say the action caused it" in _text(at)


def _payer():
    from vbc.security import Viewer

    return Viewer("payer")
