"""Meetings, annotations, action items and decisions in the state store, on SQLite and PostgreSQL:
created, edited and closed; a concurrent edit refused rather than lost; soft deletes by the author
or an administrator only; who sees what; CSV import in one transaction; nothing lost to a rebuild
of the marts or a restart."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from vbc import actions, annotations, audit, collab, meetings
from vbc.collab import Author, Conflict, Invalid, NotAllowed
from vbc.registry import load_registry
from vbc.security import Viewer
from vbc.spc import ChangePoint

PAYER = Author("payer@plan.test", "payer", actor=audit.Actor("payer@plan.test", "payer", "payer"))
ALPHA = Author("quality@alpha.test", "org", "Alpha Care")
BETA = Author("quality@beta.test", "org", "Beta Health")
COMMITTEE = Author("committee@plan.test", "committee")
ADMIN = Author("admin@plan.test", "admin")


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_annotations_are_created_edited_and_deleted_with_their_history(store):
    a = annotations.add(store, PAYER, title="Flu outbreak", text="February", start_month="2025-02")
    assert (a.start_month, a.end_month, a.version, a.visibility) == ("2025-02", "2025-02", 1, "both")
    b = annotations.edit(store, COMMITTEE, a, title="Flu outbreak (confirmed)", end_month="2025-03")
    assert (b.title, b.end_month, b.version, b.updated_by) == (
        "Flu outbreak (confirmed)",
        "2025-03",
        2,
        "committee@plan.test",
    )
    with pytest.raises(NotAllowed, match="only its author"):
        annotations.delete(store, COMMITTEE, b)
    annotations.delete(store, PAYER, b)
    assert annotations.get(store, a.id) is None
    assert annotations.visible(store, Viewer("payer")) == []
    changes = [h["change"] for h in collab.history(store, "annotation", a.id)]
    assert changes == ["create", "edit", "delete"]
    logged = audit.read(store)["action"].tolist()
    assert logged[:2] == [
        "annotation_delete",
        "annotation_add",
    ]  # newest first; the committee's edit had no actor


def test_an_administrator_may_delete_anyones_note(store):
    a = annotations.add(
        store, ALPHA, title="New cardiology group", start_month="2025-03", organization="Alpha Care"
    )
    annotations.delete(store, ADMIN, a)
    assert annotations.get(store, a.id) is None


def test_a_concurrent_edit_is_refused_not_lost(store):
    """Two people open the same note; the second save names the first saver and keeps their text."""
    seen_by_payer = annotations.add(store, PAYER, title="ED spike", start_month="2025-01")
    seen_by_committee = annotations.get(store, seen_by_payer.id)
    annotations.edit(store, PAYER, seen_by_payer, text="Flu season started early")
    with pytest.raises(Conflict, match=r"changed by payer@plan\.test at \d{4}-\d\d-\d\d .* reload"):
        annotations.edit(store, COMMITTEE, seen_by_committee, text="Urgent care closed")
    assert annotations.get(store, seen_by_payer.id).text == "Flu season started early"


def test_two_connections_saving_at_the_same_moment_one_wins(store):
    """Real concurrency: two threads, each on its own connection, save version 1 at once."""
    item = actions.add(
        store, PAYER, what="Call the SNF", owner_party="payer", owner_person="Ann", due_on="2026-01-31"
    )
    barrier = threading.Barrier(2)
    results: list = []

    def save(author: Author, status: str) -> None:
        barrier.wait()
        try:
            results.append(actions.set_status(store, author, item, status, f"{author.name} moved it"))
        except Conflict as exc:
            results.append(exc)

    threads = [
        threading.Thread(target=save, args=(a, s)) for a, s in ((PAYER, "in progress"), (COMMITTEE, "done"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    won = [r for r in results if isinstance(r, actions.ActionItem)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "reload" in str(lost[0])
    final = actions.get(store, item.id)
    assert final.status == won[0].status and final.version == 2
    assert len([h for h in actions.history(store, final) if h["change"] == "status"]) == 1


def test_action_items_move_through_statuses_with_a_comment_each(store):
    item = actions.add(
        store,
        ALPHA,
        what="Follow up discharges within 7 days",
        owner_party="org:Alpha Care",
        owner_person="Dr Lee",
        due_on=date(2025, 3, 31),
        metric_id="followup_7day_after_discharge",
        organization="Alpha Care",
    )
    assert item.status == "open" and item.overdue(date(2025, 4, 1))
    with pytest.raises(Invalid, match="say why"):
        actions.set_status(store, ALPHA, item, "in progress", "")
    item = actions.set_status(store, ALPHA, item, "in progress", "Nurse calls started")
    item = actions.set_status(store, PAYER, item, "done", "Rate up two points")
    assert item.status == "done" and not item.overdue(date(2030, 1, 1))
    steps = [(h["from_status"], h["to_status"], h["comment"]) for h in actions.history(store, item)]
    assert steps == [
        (None, "open", None),
        ("open", "in progress", "Nurse calls started"),
        ("in progress", "done", "Rate up two points"),
    ]
    assert [
        a.id for a in actions.visible(store, Viewer("payer"), metric_id="followup_7day_after_discharge")
    ] == [item.id]
    with pytest.raises(NotAllowed):
        actions.set_status(store, BETA, item, "open", "not ours")


def test_overdue_items_are_seen_by_both_parties_but_not_by_another_organization(store):
    late = actions.add(
        store,
        PAYER,
        what="Send the roster",
        owner_party="payer",
        owner_person="Bo",
        due_on="2025-01-15",
        organization="Alpha Care",
    )
    for viewer in (Viewer("payer"), Viewer("joint"), Viewer("org", "Alpha Care")):
        assert [a.id for a in actions.overdue(store, viewer, date(2025, 2, 1))] == [late.id]
    assert actions.overdue(store, Viewer("org", "Beta Health"), date(2025, 2, 1)) == []


def test_only_my_side_notes_stay_on_that_side(store):
    mine = annotations.add(
        store, ALPHA, title="Our staffing gap", start_month="2025-04", visibility="org:Alpha Care"
    )
    payer_only = annotations.add(
        store, PAYER, title="Contract renewal", start_month="2025-04", visibility="payer"
    )
    shared = annotations.add(
        store, BETA, title="Beta EHR change", start_month="2025-04", organization="Beta Health"
    )

    def ids(viewer):
        return {a.id for a in annotations.visible(store, viewer)}

    assert ids(Viewer("org", "Alpha Care")) == {mine.id}
    assert ids(Viewer("org", "Beta Health")) == {shared.id}
    assert ids(Viewer("payer")) == {payer_only.id, shared.id}
    assert ids(Viewer("joint")) == {shared.id}
    with pytest.raises(Invalid, match="visibility"):
        annotations.add(store, COMMITTEE, title="x", start_month="2025-04", visibility="committee")
    with pytest.raises(NotAllowed):
        annotations.add(store, ALPHA, title="x", start_month="2025-04", organization="Beta Health")


def test_change_point_annotations_are_the_spc_charts_change_points(store):
    annotations.add(
        store,
        PAYER,
        title="New cardiology group",
        text="joined in March",
        start_month="2025-03",
        metric_id="total_cost_pmpm_completed",
        organization="Alpha Care",
        change_point=True,
    )
    annotations.add(store, PAYER, title="Just a note", start_month="2025-05")
    assert annotations.change_points(store) == [
        ChangePoint(
            month="2025-03",
            title="New cardiology group",
            reason="joined in March",
            metric_id="total_cost_pmpm_completed",
            organization="Alpha Care",
        )
    ]
    with pytest.raises(Invalid, match="visible to both"):
        annotations.add(store, PAYER, title="x", start_month="2025-03", visibility="payer", change_point=True)


def test_a_bad_csv_row_is_refused_with_its_line_and_nothing_is_imported(store, registry):
    good = "metric_id,organization,start_month,end_month,title,text,visibility\n"
    good += ",,2025-02,,Flu outbreak,February flu,both\n"
    good += "total_cost_pmpm,Alpha Care,2025-03,2025-05,New cardiology group,,both\n"
    bad = good + "no_such_metric,,2025-06,,Oops,,both\n"
    with pytest.raises(Invalid, match="line 4: unknown metric_id 'no_such_metric'"):
        annotations.import_csv(store, PAYER, bad, registry.metrics, ["Alpha Care"])
    assert annotations.visible(store, Viewer("payer")) == []
    with pytest.raises(Invalid, match="line 2: expected a month"):
        annotations.import_csv(store, PAYER, good.replace("2025-02", "Feb 2025"), registry.metrics)
    saved = annotations.import_csv(store, PAYER, good, registry.metrics, ["Alpha Care"])
    assert [(a.title, a.months_text) for a in saved] == [
        ("Flu outbreak", "2025-02"),
        ("New cardiology group", "2025-03 to 2025-05"),
    ]
    rows = annotations.export_rows(annotations.visible(store, Viewer("payer")))
    assert rows[1]["organization"] == "Alpha Care" and rows[1]["author"] == "payer@plan.test"
    assert "annotation_import" in audit.read(store)["action"].tolist()


def test_meetings_and_decisions(store, built, registry):
    ws = built("small")
    first = meetings.open_meeting(
        store, COMMITTEE, ws, registry, held_on=date(2025, 6, 2), attendees="Ann (plan); Bo (Alpha)"
    )
    assert first.attendees == ("Ann (plan)", "Bo (Alpha)")
    assert first.stamp["fingerprint"] and first.snapshot["viewer"] == "joint"
    second = meetings.open_meeting(store, PAYER, ws, registry, held_on=date(2025, 9, 1), title="Q3 review")
    assert meetings.previous(store, second).id == first.id
    d = meetings.add_decision(
        store, COMMITTEE, second, decision="Adopt the 7-day follow-up bundle", rationale="SPC shows a shift"
    )
    with pytest.raises(Invalid, match="rationale"):
        meetings.add_decision(store, PAYER, second, decision="x", rationale="")
    d2 = meetings.edit_decision(store, PAYER, d, rationale="SPC shows a sustained shift since March")
    with pytest.raises(Conflict):
        meetings.edit_decision(store, COMMITTEE, d, rationale="stale")
    assert meetings.decisions_of(store, second.id)[0].rationale == d2.rationale
    meetings.delete_decision(store, COMMITTEE, d2)
    assert meetings.decisions_of(store, second.id) == []
    with pytest.raises(NotAllowed):
        meetings.open_meeting(store, BETA, ws, registry, held_on=date(2025, 9, 1), organization="Alpha Care")


def test_nothing_written_is_lost_to_a_rebuild_or_a_restart(small_extract, tmp_path, monkeypatch):
    from tests.conftest import built_workspace
    from vbc import store as state

    monkeypatch.delenv("VBC_STATE_URL", raising=False)
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    ws = built_workspace(small_extract)
    engine = state.open_store(small_extract)
    note = annotations.add(engine, PAYER, title="Flu outbreak", start_month="2025-02")
    item = actions.add(
        engine, PAYER, what="Check", owner_party="payer", owner_person="Ann", due_on="2025-05-01"
    )
    (small_extract / "pharmacy_claim.parquet").unlink()  # a new delivery, rebuilt twice
    assert ws.build().ok and ws.build().ok
    engine.dispose()
    state._engine.cache_clear()  # a restarted app opens the store anew
    again = state.open_store(small_extract)
    assert annotations.get(again, note.id).title == "Flu outbreak"
    assert actions.get(again, item.id).what == "Check"
