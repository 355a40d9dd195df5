"""The meeting packet both parties take away: the PDF has one page per agenda section with the stamp
on every page (read back with pypdf), the PowerPoint deck the same sections (python-pptx), the
joint view's packet no member identifier and no count from 1 to 10; the command line opens a
meeting, writes the packet and audits it; annotations import and export as CSV."""

from __future__ import annotations

import io
import json
import os
import re
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli
from vbc import actions, agenda, annotations, audit, meetings, packet
from vbc.collab import Author
from vbc.registry import load_registry
from vbc.security import Viewer
from vbc.store import open_store

PAYER = Author("payer@plan.test", "payer")
COMMITTEE = Author("committee@plan.test", "committee")


@pytest.fixture(scope="module")
def joint_packet(demo_ws, tmp_path_factory):
    """A meeting on the demo data with a note, an action item and a decision; its joint agenda,
    PDF and PPTX, made once for the module."""
    store = open_store(url=f"sqlite:///{tmp_path_factory.mktemp('packet') / 'state.sqlite'}")
    registry = load_registry()
    first = meetings.open_meeting(store, PAYER, demo_ws, registry, held_on=date(2026, 6, 1))
    annotations.add(store, PAYER, title="Flu outbreak", text="February", start_month="2026-02")
    actions.add(
        store,
        PAYER,
        what="Review the ED visits of February",
        owner_party="payer",
        owner_person="Ann",
        due_on="2026-03-01",
        meeting_id=first.id,
    )
    second = meetings.open_meeting(
        store, COMMITTEE, demo_ws, registry, held_on=date(2026, 11, 2), attendees="Ann; Bo"
    )
    meetings.add_decision(store, COMMITTEE, second, decision="Adopt the bundle", rationale="Short of target")
    doc = agenda.assemble(demo_ws, registry, store, second, Viewer("joint"))
    pdf, deck = packet.render(doc, "pdf"), packet.render(doc, "pptx")
    if os.environ.get("VBC_SHOTS"):  # for a human to look at (pdftoppm -png)
        (Path(os.environ["VBC_SHOTS"]) / "packet-joint.pdf").write_bytes(pdf)
        (Path(os.environ["VBC_SHOTS"]) / "packet-joint.pptx").write_bytes(deck)
    return doc, pdf, deck


def test_the_pdf_has_one_page_per_section_with_the_stamp_on_each(joint_packet):
    from pypdf import PdfReader

    doc, pdf, _ = joint_packet
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) == len(doc.sections) == 9
    for page, section in zip(pages, doc.sections):
        text = page.extract_text()
        assert section.title in text
        assert f"Paid through {doc.stamp['paid_through']}" in text
        assert f"fingerprint {doc.stamp['fingerprint']}" in text
        assert "viewer: Joint view (de-identified)" in text
    assert "Flu outbreak" in pages[6].extract_text() and "Adopt the bundle" in pages[8].extract_text()


def test_the_deck_has_the_same_sections_and_charts_as_pictures(joint_packet):
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    doc, _, deck = joint_packet
    slides = list(Presentation(io.BytesIO(deck)).slides)
    assert len(slides) == len(doc.sections)
    for slide, section in zip(slides, doc.sections):
        texts = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
        assert texts[0] == section.title
        assert any(f"fingerprint {doc.stamp['fingerprint']}" in t for t in texts)
        pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == len(section.figures)
    assert sum(len(s.figures) for s in doc.sections) >= 4  # the charts are really there


def test_the_joint_packet_has_no_member_identifier_and_no_count_from_1_to_10(joint_packet, demo_ws):
    from pptx import Presentation
    from pypdf import PdfReader

    doc, pdf, deck = joint_packet
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for slide in Presentation(io.BytesIO(deck)).slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                text += "\n" + shape.text_frame.text
            if shape.has_table:
                text += "\n" + " ".join(c.text for row in shape.table.rows for c in row.cells)
    elig = pq.read_table(demo_ws.data_dir / "eligibility.parquet", columns=["person_id", "member_id"])
    ids = set(elig.column("person_id").to_pylist()) | set(elig.column("member_id").to_pylist())
    assert not [i for i in ids if i in text]
    assert not re.search(r"\b[PM]\d{7}\b", text)
    for section in doc.sections:
        for caption, df in section.tables:
            for column in df.columns:
                if column == "id":  # an action item's number, not a count
                    continue
                for cell in df[column].astype(str):
                    if re.fullmatch(r"\d[\d,]*(\.0+)?", cell.strip()):
                        assert not 1 <= float(cell.replace(",", "")) <= 10, (section.key, caption, column)


@pytest.fixture
def cli_env(small_extract, tmp_path, monkeypatch):
    monkeypatch.delenv("VBC_STATE_URL", raising=False)
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    return str(small_extract), tmp_path / "state"


def test_cli_opens_a_meeting_writes_the_packet_and_audits_it(cli_env, tmp_path):
    data, state = cli_env
    opened = run_cli("meeting", "new", "--data", data, "--date", "2025-09-01", "--title", "Q3", state=state)
    assert opened.returncode == 0, opened.stderr
    meeting_id = opened.stdout.strip()
    out = tmp_path / "packet.pdf"
    made = run_cli(
        "packet",
        "--data",
        data,
        "--meeting",
        meeting_id,
        "--viewer",
        "joint",
        "--format",
        "pdf",
        "--out",
        str(out),
        state=state,
    )
    assert made.returncode == 0, made.stderr
    assert out.read_bytes()[:5] == b"%PDF-"
    rows = audit.read(open_store(data), actions=["export"])
    assert json.loads(rows.iloc[0]["detail"])["command"] == "packet"
    refused = run_cli(
        "packet",
        "--data",
        data,
        "--meeting",
        "999",
        "--format",
        "pptx",
        "--out",
        str(tmp_path / "x.pptx"),
        state=state,
    )
    assert refused.returncode != 0 and "no meeting 999" in refused.stderr


def test_cli_annotations_import_is_all_or_nothing_and_export_lists_them(cli_env, tmp_path):
    data, state = cli_env
    store = open_store(data)
    before = len(annotations.visible(store, Viewer("payer")))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "metric_id,organization,start_month,end_month,title,text,visibility\n"
        ",,2025-02,,Flu,February,both\n"
        ",Nowhere Clinic,2025-03,,New group,,both\n"
    )
    out = run_cli("annotations", "import", "--data", data, "--file", str(bad), state=state)
    assert out.returncode == 1 and "line 3" in out.stderr and "nothing was imported" in out.stderr
    assert len(annotations.visible(store, Viewer("payer"))) == before
    good = tmp_path / "good.csv"
    good.write_text(bad.read_text().replace("Nowhere Clinic", "Alpha Care"))
    assert run_cli("annotations", "import", "--data", data, "--file", str(good), state=state).returncode == 0
    exported = run_cli("annotations", "export", "--data", data, "--format", "json", state=state)
    rows = json.loads(exported.stdout)["rows"]
    assert {"Flu", "New group"} <= {r["title"] for r in rows}
    assert {
        "id",
        "metric_id",
        "organization",
        "start_month",
        "end_month",
        "title",
        "text",
        "visibility",
        "author",
        "created_at",
    } <= set(rows[0])
