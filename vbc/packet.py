"""The meeting packet both parties take away: the agenda as a PDF (fpdf2) or a PowerPoint deck
(python-pptx), one page or slide per agenda section, every chart as an image, and on every page
the stamp (paid-through date, fingerprint, viewer) and the meeting.

Charts become PNG images with plotly's static export (kaleido 1.x), which drives a Chromium
browser: the system's (`BROWSER_PATH`, default /usr/bin/chromium, Debian's package). Kaleido never
downloads a browser here. One browser serves every chart of a packet.

Every packet is an export and writes one audit row (`export`, with the meeting, viewer and format).
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pandas as pd

from vbc.agenda import Agenda, Section

FORMATS = ("pdf", "pptx")
# A chart is drawn at 1000 x 420 CSS pixels (so its 13-16 px labels stay legible at A4 width) and
# rasterised at twice that for print.
IMAGE_WIDTH, IMAGE_HEIGHT, IMAGE_SCALE = 1000, 420, 2
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
FONT_FILES = {
    "dejavu": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "liberation": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
}
MAX_ROWS = 14  # table rows on one page at most; the rest are counted, and listed on the Meeting page
FIGURE_MM = 78


class PacketError(RuntimeError):
    """The packet cannot be produced (said in plain words)."""


def browser_path() -> str:
    """The Chromium kaleido drives: BROWSER_PATH, else Debian's chromium on the PATH."""
    path = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise PacketError(
            f"no Chromium at {path} for the chart images: install Debian's chromium "
            "(apt-get install chromium) or set BROWSER_PATH"
        )
    return path


def chart_images(figures: list) -> list[bytes]:
    """PNG bytes of each plotly figure, drawn by one kaleido browser session."""
    if not figures:
        return []
    os.environ["BROWSER_PATH"] = browser_path()
    import kaleido

    kaleido.start_sync_server(silence_warnings=True)
    try:
        return [
            kaleido.calc_fig_sync(
                fig,
                opts={"format": "png", "width": IMAGE_WIDTH, "height": IMAGE_HEIGHT, "scale": IMAGE_SCALE},
            )
            for fig in figures
        ]
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


def _figures(agenda: Agenda) -> dict[tuple[int, int], bytes]:
    keys = [(i, j) for i, s in enumerate(agenda.sections) for j in range(len(s.figures))]
    images = chart_images([agenda.sections[i].figures[j][1] for i, j in keys])
    return dict(zip(keys, images))


def footer_text(agenda: Agenda) -> str:
    m = agenda.meeting
    return f"{agenda.stamp_line} · meeting {m.id} of {m.held_on:%Y-%m-%d}"


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v)


def _rows(df: pd.DataFrame) -> tuple[list[str], list[list[str]], int]:
    cols = [str(c) for c in df.columns]
    body = [[_cell(v) for v in row] for row in df.itertuples(index=False)]
    return cols, body[:MAX_ROWS], max(len(body) - MAX_ROWS, 0)


# ------------------------------------------------------------------------------------------------
# PDF


def _font(pdf) -> str:
    """A Unicode TrueType font from Debian's packages (dashes, bullets, accented names)."""
    for folder in FONT_DIRS:
        for regular, bold in FONT_FILES.values():
            if (Path(folder) / regular).is_file() and (Path(folder) / bold).is_file():
                pdf.add_font("Sans", "", str(Path(folder) / regular))
                pdf.add_font("Sans", "B", str(Path(folder) / bold))
                return "Sans"
    raise PacketError("no DejaVu or Liberation font found: install fonts-dejavu-core")


def _pdf_class():
    from fpdf import FPDF

    class Packet(FPDF):
        footer_line = ""
        header_line = ""
        family = "Sans"

        def header(self) -> None:
            self.set_font(self.family, "", 8)
            self.set_text_color(90, 90, 90)
            self.cell(0, 5, self.header_line, new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(self.family, "", 8)
            self.set_text_color(60, 60, 60)
            self.multi_cell(0, 4, f"{self.footer_line} · page {self.page_no()}", align="C")
            self.set_text_color(0, 0, 0)

    return Packet


def _draw_table(pdf, caption: str, cols: list[str], body: list[list[str]], more: int) -> None:
    from fpdf.fonts import FontFace

    pdf.set_font(pdf.family, "B", 10)
    pdf.cell(0, 6, caption, new_x="LMARGIN", new_y="NEXT")
    size = 8 if len(cols) <= 6 else 7
    pdf.set_font(pdf.family, "", size)
    with pdf.table(
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 238, 242)),
        line_height=size * 0.55,
        text_align="LEFT",
        borders_layout="HORIZONTAL_LINES",
        first_row_as_headings=True,
    ) as table:
        for row in [cols, *body]:
            r = table.row()
            for value in row:
                r.cell(value[:160])
    if more:
        pdf.set_font(pdf.family, "", 8)
        pdf.cell(0, 5, f"… and {more} more row(s), listed on the Meeting page", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _pdf_table(pdf, caption: str, df: pd.DataFrame) -> None:
    """The table with as many rows as fit on the section's page (the rest are counted)."""
    cols, body, more = _rows(df)
    keep = len(body)
    while keep > 1:
        with pdf.offset_rendering() as trial:
            _draw_table(trial, caption, cols, body[:keep], more + len(body) - keep)
        if not trial.page_break_triggered:
            break
        keep -= 1
    _draw_table(pdf, caption, cols, body[:keep], more + len(body) - keep)


def _pdf_section(pdf, section: Section, images: dict, index: int) -> None:
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 18)
    pdf.cell(0, 10, section.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 10)
    for line in section.lines:
        pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    # Charts share the page with the tables: at most FIGURE_MM high each (all of one in a section
    # without tables), so a section stays on its page.
    tall = FIGURE_MM if section.tables else FIGURE_MM * 1.5
    for j, (caption, _fig) in enumerate(section.figures):
        pdf.set_font(pdf.family, "B", 10)
        pdf.multi_cell(0, 5, caption, new_x="LMARGIN", new_y="NEXT")
        height = min(tall / len(section.figures), pdf.epw * IMAGE_HEIGHT / IMAGE_WIDTH)
        pdf.image(io.BytesIO(images[(index, j)]), h=height, w=height * IMAGE_WIDTH / IMAGE_HEIGHT)
        pdf.ln(1)
    for caption, df in section.tables:
        _pdf_table(pdf, caption, df)


def render_pdf(agenda: Agenda) -> bytes:
    """The packet as a landscape A4 PDF: one page per section (longer tables are cut at MAX_ROWS)."""
    images = _figures(agenda)
    pdf = _pdf_class()(orientation="L", format="A4")
    pdf.family = _font(pdf)
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_margins(12, 10, 12)
    m = agenda.meeting
    pdf.header_line = f"{m.title} · {m.held_on:%d %B %Y} · shared VBC performance dashboard"
    pdf.footer_line = footer_text(agenda)
    pdf.set_title(f"{m.title} — meeting packet")
    for i, section in enumerate(agenda.sections):
        _pdf_section(pdf, section, images, i)
    return bytes(pdf.output())


# ------------------------------------------------------------------------------------------------
# PowerPoint


def _pptx_text(slide, left, top, width, height, text: str, size: int, bold: bool = False):
    from pptx.util import Pt

    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    for k, line in enumerate(text.split("\n")):
        p = frame.paragraphs[0] if k == 0 else frame.add_paragraph()
        p.text = line
        p.font.size = Pt(size)
        p.font.bold = bold
    return box


def _pptx_table(slide, df: pd.DataFrame, left, top, width, height) -> None:
    from pptx.util import Pt

    cols, body, more = _rows(df)
    if more:
        body.append([f"… and {more} more row(s)"] + [""] * (len(cols) - 1))
    shape = slide.shapes.add_table(len(body) + 1, len(cols), left, top, width, height)
    for r, row in enumerate([cols, *body]):
        for c, value in enumerate(row):
            cell = shape.table.cell(r, c)
            cell.text = value[:160]
            for p in cell.text_frame.paragraphs:
                p.font.size = Pt(10 if len(cols) <= 6 else 9)


def _pptx_section(prs, section: Section, images: dict, index: int, footer: str) -> None:
    from pptx.util import Emu, Inches

    slide = prs.slides.add_slide(prs.slide_layouts[6])  # blank
    width = prs.slide_width
    margin = Inches(0.4)
    inner = Emu(width - 2 * margin)
    _pptx_text(slide, margin, Inches(0.2), inner, Inches(0.6), section.title, 28, bold=True)
    top = Inches(0.9)
    if section.lines:
        _pptx_text(slide, margin, top, inner, Inches(0.9), "\n".join(section.lines), 13)
        top = Emu(top + Inches(0.25) * min(len(section.lines) + 1, 6))
    bottom = prs.slide_height - Inches(0.55)
    blocks = len(section.figures) + len(section.tables)
    each = Emu(int((bottom - top) / max(blocks, 1)))
    for j, _ in enumerate(section.figures):
        h = min(each, Emu(int(inner * IMAGE_HEIGHT / IMAGE_WIDTH)))
        slide.shapes.add_picture(io.BytesIO(images[(index, j)]), margin, top, height=h)
        top = Emu(top + h)
    for _caption, df in section.tables:
        _pptx_table(slide, df, margin, top, inner, Emu(min(each, Inches(0.3) * (min(len(df), MAX_ROWS) + 1))))
        top = Emu(top + each)
    _pptx_text(slide, margin, Emu(prs.slide_height - Inches(0.45)), inner, Inches(0.4), footer, 10)


def render_pptx(agenda: Agenda) -> bytes:
    """The packet as a 16:9 deck: one slide per section, the stamp at the foot of every slide."""
    from pptx import Presentation
    from pptx.util import Inches

    images = _figures(agenda)
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    footer = footer_text(agenda)
    for i, section in enumerate(agenda.sections):
        _pptx_section(prs, section, images, i, footer)
    prs.core_properties.title = f"{agenda.meeting.title} — meeting packet"
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def render(agenda: Agenda, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return render_pdf(agenda) if fmt == "pdf" else render_pptx(agenda)


def file_name(agenda: Agenda, fmt: str) -> str:
    m = agenda.meeting
    return (
        f"meeting-{m.id}-{m.held_on:%Y-%m-%d}-{agenda.viewer.key.replace(':', '-').replace(' ', '_')}.{fmt}"
    )


def audit_packet(store, actor, agenda: Agenda, fmt: str, name: str, page: str | None = None) -> None:
    """One audit row per packet produced, like every export."""
    from vbc import audit

    audit.record(
        store,
        actor,
        "export",
        stamp=agenda.stamp,
        page=page,
        detail={"file_name": name, "format": fmt, "command": "packet", "meeting_id": agenda.meeting.id},
        row_count=len(agenda.sections),
    )
