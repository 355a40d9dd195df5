"""Real deliveries: file formats and names, reversals, missing paid dates, partial deliveries, the
stamp under concurrent builds, and a state directory that cannot be written.

Expected figures are worked out by hand from the small fixture (tests/conftest.py, 2025-01..06:
19 member months, $11,990 paid, of which D's August $300 has no member month) unless said.
"""

from __future__ import annotations

import csv
import errno
import json
import shutil
import threading
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.conftest import _line, open_page, run_cli, write_table
from vbc import completion, workspace
from vbc.engine import compute_metrics, stamp
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import Viewer
from vbc.validate import validate
from vbc.workspace import Workspace

H1 = Period.from_months("2025-01", "2025-06")


def _build(data: Path, state: Path, **kw) -> tuple[Workspace, object]:
    ws = Workspace(data.resolve(), state)
    return ws, ws.build(**kw)


def _total(ws: Workspace, period: Period = H1) -> tuple[float, float]:
    row = compute_metrics(ws, load_registry(), ["total_cost_pmpm"], Viewer("payer"), period).iloc[0]
    return float(row["numerator"]), float(row["denominator"])


def _to_csv(data: Path, table: str, delimiter: str = ",", name: str | None = None) -> Path:
    rows = pq.read_table(data / f"{table}.parquet").to_pylist()
    (data / f"{table}.parquet").unlink()
    out = data / (name or f"{table}.csv")
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
        w.writeheader()
        w.writerows(rows)
    return out


# ------------------------------------------------------------------------------------ files
def test_csv_tables_and_unread_files(small_extract, tmp_path):
    _to_csv(small_extract, "pharmacy_claim")
    _to_csv(small_extract, "eligibility", "|", "eligibility.psv")
    (small_extract / "notes.xlsx").write_bytes(b"not an extract")
    report = validate(small_extract)
    assert report.ok, report.text()
    unread = [f for f in report.warnings if f.check == "unread_file"]
    assert len(unread) == 1 and "notes.xlsx" in unread[0].message
    ws, result = _build(small_extract, tmp_path / "state")
    assert result.ok and _total(ws) == (11_990, 19)  # the pharmacy $50 is read from the CSV


def test_a_folder_mixing_formats_is_refused(small_extract):
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    (small_extract / "medical_claim.parquet").unlink()
    folder = small_extract / "medical_claim"
    write_table(folder, "medical_claim", rows[:5]).rename(folder / "part-0.parquet")
    write_table(small_extract, "medical_claim", rows[5:])
    _to_csv(small_extract, "medical_claim", name="medical_claim/part-1.csv")
    report = validate(small_extract)
    err = [f for f in report.errors if f.check == "mixed_formats"]
    assert err and err[0].table == "medical_claim"
    assert "part-0.parquet" in err[0].message and "part-1.csv" in err[0].message


def test_column_mapping_renames_and_constants(small_extract, tmp_path):
    rows = pq.read_table(small_extract / "eligibility.parquet").to_pylist()
    for r in rows:
        r["patient_id"] = r.pop("person_id")
        r.pop("plan")
    shutil.copy(small_extract / "eligibility.parquet", tmp_path / "keep.parquet")
    (small_extract / "eligibility.parquet").unlink()
    with open(small_extract / "eligibility.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (small_extract / "columns.yaml").write_text(
        "eligibility:\n  patient_id: person_id\n  plan: {value: ACO}\n"
    )
    ws, result = _build(small_extract, tmp_path / "state")
    assert result.ok, result.report.text()
    assert _total(ws) == (11_990, 19)
    con = ws.connect()
    try:
        assert con.execute("SELECT DISTINCT plan FROM member_months").fetchall() == [("ACO",)]
    finally:
        con.close()


@pytest.mark.parametrize(
    "text,where",
    [
        ("eligibility:\n  patient_idd: person_idd\n", "eligibility.patient_idd"),
        ("elig:\n  patient_id: person_id\n", "elig"),
        ("eligibility:\n  plan: {valu: ACO}\n", "eligibility.plan"),
        ("read:\n  medical_claim: {delimeter: '|'}\n", "read.medical_claim.delimeter"),
    ],
)
def test_mapping_mistakes_name_file_and_key(small_extract, text, where):
    (small_extract / "columns.yaml").write_text(text)
    report = validate(small_extract)
    assert not report.ok
    msg = report.errors[0].message
    assert msg.startswith(f"columns.yaml: {where}:"), msg


def test_mapping_from_a_column_the_extract_lacks(small_extract):
    (small_extract / "columns.yaml").write_text("eligibility:\n  patient_id: person_id\n")
    report = validate(small_extract)
    err = [f for f in report.errors if f.check == "mapping"]
    assert err and err[0].table == "eligibility" and "no column 'patient_id'" in err[0].message


def test_a_column_of_codes_that_are_not_codes_is_a_warning(small_extract):
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    for r in rows:
        r["hcpcs_code"] = "office visit" if r["hcpcs_code"] else None
    write_table(small_extract, "medical_claim", rows)
    report = validate(small_extract)
    warn = [f for f in report.warnings if f.check == "code_format" and f.column == "hcpcs_code"]
    # Seven lines carry a HCPCS code (a1, b1, b2, b4, c1, c3, d2); the institutional ones have none.
    assert warn and warn[0].table == "medical_claim" and warn[0].rows == 7
    assert "'office visit'" in warn[0].message and "0% of 7 values" in warn[0].message


# ------------------------------------------------------------------------------------ reversals
def test_reversals_net_and_orphans_are_listed(small_extract, tmp_path):
    """a1 ($80) reversed and re-issued at $90; c2 ($700 ED facility) fully reversed (so C's ED
    visit is the physician's $150 alone); an orphan reversal of $40 for a claim paid before the
    extract. Paid: 11,990 + 10 - 700 = 11,300 over 19 member months; the orphan is in no total."""
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    a1 = next(r for r in rows if r["claim_id"] == "a1")
    c2 = next(r for r in rows if r["claim_id"] == "c2")
    rows += [
        {**a1, "paid_amount": -80.0, "allowed_amount": -100.0, "paid_date": "2025-09-30"},
        {**a1, "paid_amount": 90.0, "allowed_amount": 110.0, "paid_date": "2025-09-30"},
        {**c2, "paid_amount": -700.0, "allowed_amount": -700.0},
        _line("old9", 1, "D", "2025-01-05", -40.0, hcpcs="99213", pos="11", npi="N1", tin="T1"),
    ]
    write_table(small_extract, "medical_claim", rows)
    ws, result = _build(small_extract, tmp_path / "state")
    assert result.ok, result.report.text()
    assert _total(ws) == (11_300, 19)
    orphan = [f for f in result.report.warnings if f.check == "orphan_reversal"]
    assert orphan and orphan[0].rows == 1 and orphan[0].amount == pytest.approx(-40)
    con = ws.connect()
    try:
        assert con.execute("SELECT claim_id, paid_amount FROM reversal_orphans").fetchall() == [
            ("old9", -40.0)
        ]
        visits = con.execute(
            "SELECT person_id, paid_amount FROM ed_visits WHERE NOT led_to_admission ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert visits == [("C", 150.0), ("D", 500.0)]
    assert ws.good["netted"]["medical_claim"]["orphan_lines"] == 1


def test_a_replacement_claim_replaces_its_original(small_extract, tmp_path):
    """d1 ($500 ED facility) is replaced by d1b ($450) which names it; b2 is cancelled by b2x
    (-$80) which names it: both go. Paid 11,990 - 50 - 80 = 11,860."""
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    d1 = next(r for r in rows if r["claim_id"] == "d1")
    b2 = next(r for r in rows if r["claim_id"] == "b2")
    rows += [
        {**d1, "claim_id": "d1b", "paid_amount": 450.0, "allowed_amount": 450.0, "original_claim_id": "d1"},
        {**b2, "claim_id": "b2x", "paid_amount": -80.0, "allowed_amount": -100.0, "original_claim_id": "b2"},
    ]
    write_table(
        small_extract, "medical_claim", [{**r, "original_claim_id": r.get("original_claim_id")} for r in rows]
    )
    ws, result = _build(small_extract, tmp_path / "state")
    assert result.ok, result.report.text()
    assert _total(ws) == (11_860, 19)


def test_repeated_positive_lines_are_still_duplicates(small_extract):
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    write_table(small_extract, "medical_claim", rows + rows[:2])
    report = validate(small_extract)
    assert [f.rows for f in report.errors if f.check == "duplicate"] == [2]


# ------------------------------------------------------------------------------------ paid dates
def test_no_paid_dates_still_builds_with_raw_values(small_extract, tmp_path):
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    write_table(small_extract, "medical_claim", rows, drop=("paid_date",))
    rx = pq.read_table(small_extract / "pharmacy_claim.parquet").to_pylist()
    write_table(small_extract, "pharmacy_claim", rx, drop=("paid_date",))
    ws, result = _build(small_extract, tmp_path / "state")
    assert result.ok, result.report.text()
    warned = {(f.table, f.column) for f in result.report.warnings if f.check == "empty_column"}
    assert ("medical_claim", "paid_date") in warned
    assert ws.good["paid_dates"] is False and completion.incomplete_months(ws) == []
    df = compute_metrics(
        ws, load_registry(), ["total_cost_pmpm", "total_cost_pmpm_completed"], Viewer("payer"), H1
    )
    assert df["numerator"].tolist() == [11_990, 11_990]  # completed = raw: nothing to complete with
    assert stamp(ws, load_registry())["paid_through"] is None


def test_an_empty_optional_column_turns_off_only_what_needs_it(small_extract, tmp_path):
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    for r in rows:
        r["allowed_amount"] = None
    write_table(small_extract, "medical_claim", rows)
    ws, result = _build(small_extract, tmp_path / "state")
    assert result.ok
    warn = [f for f in result.report.warnings if f.check == "empty_column"]
    assert [(f.table, f.column) for f in warn] == [("medical_claim", "allowed_amount")]
    assert _total(ws) == (11_990, 19)


# ------------------------------------------------------------------------------------ deliveries
def test_a_shrunken_delivery_is_refused_then_accepted(small_extract, tmp_path):
    state = tmp_path / "state"
    ws, first = _build(small_extract, state)
    assert first.ok and _total(ws) == (11_990, 19)
    # Only this year's March onwards: January and February lose every dollar.
    rows = [
        r
        for r in pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
        if str(r["claim_start_date"]) >= "2025-03-01"
    ]
    write_table(small_extract, "medical_claim", rows)
    refused = Workspace(small_extract.resolve(), state).build()
    assert not refused.ok
    err = [f for f in refused.report.errors if f.check == "shrunk_delivery"][0]
    assert "2025-01" in err.message and "2025-02" in err.message and "--accept-shrink" in err.message
    again = Workspace(
        small_extract.resolve(), state, Workspace(small_extract.resolve(), state).current_build()
    )
    assert again.build_id == ws.build_id and _total(again) == (11_990, 19)  # the last good serves
    taken = Workspace(small_extract.resolve(), state)
    result = taken.build(accept_shrink=True)
    assert result.ok and taken.good["accepted_shrink"] is True
    assert any(f.check == "shrink_accepted" for f in taken.report().findings)


def test_an_empty_required_table_is_refused(small_extract, tmp_path, monkeypatch):
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "st"))
    assert run_cli("build", "--data", str(small_extract), state=tmp_path / "st").returncode == 0
    good = Workspace.open(small_extract).build_id
    write_table(small_extract, "medical_claim", [])
    out = run_cli("build", "--data", str(small_extract), state=tmp_path / "st")
    assert out.returncode == 1
    assert "medical_claim: the delivery has no rows" in out.stdout
    assert "keeps serving" in out.stderr
    assert Workspace.open(small_extract).build_id == good


# ------------------------------------------------------------------------------------ stamp
def _two_versions(base: Path) -> tuple[Path, dict]:
    """Two deliveries of the same extract whose totals differ: a1 paid $80 or $81."""
    rows = pq.read_table(base / "medical_claim.parquet").to_pylist()
    versions = {}
    for paid in (80.0, 81.0):
        d = base.parent / f"v{int(paid)}"
        shutil.copytree(base, d)
        for r in rows:
            if r["claim_id"] == "a1":
                r["paid_amount"] = paid
        write_table(d, "medical_claim", rows)
        versions[paid] = d
    return base, versions


def test_exports_carry_the_stamp_of_the_build_they_read(small_extract, tmp_path, monkeypatch):
    """A metrics export running while builds swap in: its stamp names the build its numbers came
    from (a1 paid $80 -> total 11,990; $81 -> 11,991), every time, and nothing fails."""
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "st"))
    data = tmp_path / "live"
    shutil.copytree(small_extract, data)
    _, versions = _two_versions(small_extract)
    total = {
        workspace.data_fingerprint(d)[:12]: 11_990.0 if paid == 80.0 else 11_991.0
        for paid, d in versions.items()
    }
    stop = threading.Event()

    def builder():
        i = 0
        while not stop.is_set():
            shutil.copy(
                versions[81.0 if i % 2 == 0 else 80.0] / "medical_claim.parquet",
                data / "medical_claim.parquet",
            )
            Workspace.open(data).build()
            i += 1

    assert Workspace.open(data).build().ok
    t = threading.Thread(target=builder)
    t.start()
    checked = 0
    try:
        for _ in range(12):
            out = run_cli(
                "metrics",
                "--data",
                str(data),
                "--metric",
                "total_cost_pmpm",
                "--start",
                "2025-01",
                "--end",
                "2025-06",
                "--format",
                "json",
                state=tmp_path / "st",
            )
            assert out.returncode == 0, out.stderr
            doc = json.loads(out.stdout)
            want = total.get(doc["stamp"]["data_fingerprint"])
            assert want is not None, doc["stamp"]
            assert doc["rows"][0]["numerator"] == pytest.approx(want), doc["stamp"]
            checked += 1
    finally:
        stop.set()
        t.join()
    assert checked == 12


def test_one_build_at_a_time(small_extract, tmp_path):
    ws = Workspace(small_extract.resolve(), tmp_path / "state")
    with ws._lock():
        busy = Workspace(small_extract.resolve(), tmp_path / "state").build()
    assert busy.busy and not busy.ok
    assert "another build" in busy.report.findings[0].message


# ------------------------------------------------------------------------------------ state dir
def test_a_full_disk_keeps_the_last_good_build(small_extract, tmp_path, monkeypatch):
    state = tmp_path / "state"
    ws, first = _build(small_extract, state)
    real_connect = duckdb.connect

    def full(path=":memory:", *a, **kw):
        if str(path).endswith(".building"):
            raise duckdb.IOException("IO Error: Could not write file: No space left on device")
        return real_connect(path, *a, **kw)

    monkeypatch.setattr(workspace.duckdb, "connect", full)
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    rows[0]["paid_amount"] = 81.0
    write_table(small_extract, "medical_claim", rows)
    again = Workspace(small_extract.resolve(), state)
    result = again.build()
    assert not result.ok and "No space left" in result.report.errors[0].message
    assert "keeps serving" in result.report.errors[0].message
    assert again.current_build() == first.meta["build"]
    assert not list(state.glob(".*.building*"))


def test_a_read_only_state_directory_keeps_the_last_good_build(small_extract, tmp_path, monkeypatch):
    """A directory the process may not write (tests run as root, so the refusal is simulated where
    the operating system would raise it: opening the build lock)."""
    state = tmp_path / "state"
    ws, first = _build(small_extract, state)
    real_open = open

    def read_only(path, mode="r", *a, **kw):
        if str(path).startswith(str(state)) and any(c in mode for c in "wa+"):
            raise PermissionError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr("builtins.open", read_only)
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    rows[0]["paid_amount"] = 81.0
    write_table(small_extract, "medical_claim", rows)
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "unused"))
    result = Workspace(small_extract.resolve(), state).build()
    monkeypatch.setattr("builtins.open", real_open)
    assert not result.ok and "Read-only file system" in result.report.errors[0].message
    assert Workspace(small_extract.resolve(), state).current_build() == first.meta["build"]


# ------------------------------------------------------------------------------------ misc
def test_unknown_organization_viewer_is_an_error(small_extract, tmp_path):
    out = run_cli("metrics", "--data", str(small_extract), "--viewer", "org:Nobody", state=tmp_path)
    assert out.returncode == 2
    assert "Nobody" in out.stderr and "Alpha Care" in out.stderr and "Beta Health" in out.stderr


@pytest.mark.parametrize(
    "metric_id",
    [f"pmpm_{c}_completed" for c in ("inpatient", "emergency", "professional")]
    + ["total_cost_pmpm_completed"],
)
def test_completed_metrics_by_organization_and_month(built, metric_id):
    """The grouping that crashed (InvalidIndexError): each completed metric by organization and
    month adds up to the same metric by organization alone."""
    ws = built("runout")
    period = Period.from_months("2025-01", "2025-03")
    reg = load_registry()
    both = compute_metrics(ws, reg, [metric_id], Viewer("payer"), period, ["organization", "month"])
    orgs = compute_metrics(ws, reg, [metric_id], Viewer("payer"), period, ["organization"])
    summed = both.groupby("organization")["numerator"].sum()
    for r in orgs.itertuples():
        assert summed[r.organization] == pytest.approx(r.numerator)


def _page(page: str, data: Path, state_root: Path, monkeypatch, viewer: str = "payer"):
    return open_page(data, page, viewer, monkeypatch, state_root=state_root)


def test_data_health_shows_corrections_orphans_and_the_comparison(small_extract, tmp_path, monkeypatch):
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "st"))
    assert Workspace.open(small_extract).build().ok
    # b3's $9,000 line reversed and re-issued at $8,800: March 10,250 -> 10,050 (-2%: shown, not
    # refused); and an orphan reversal of $40.
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    b3 = next(r for r in rows if r["claim_id"] == "b3" and r["claim_line_number"] == 2)
    rows += [
        {**b3, "paid_amount": -9000.0, "allowed_amount": -9000.0},
        {**b3, "paid_amount": 8800.0, "allowed_amount": 8800.0},
        _line("old9", 1, "D", "2025-01-05", -40.0, hcpcs="99213", pos="11", npi="N1", tin="T1"),
    ]
    write_table(small_extract, "medical_claim", rows)
    at = _page("pages/data_health.py", small_extract, tmp_path / "st", monkeypatch)
    tables = [str(df.value.to_dict()) for df in at.dataframe]
    assert any("old9" in t for t in tables)  # the orphan, with its claim id
    assert any("Lines after netting" in t for t in tables)
    assert any("2025-03" in t and "-2.0%" in t for t in tables)  # March against the last build
    text = " ".join(w.value for w in at.warning)
    assert "reverse claims that are not in the extract" in text


def test_pages_say_when_there_are_no_paid_dates(small_extract, tmp_path, monkeypatch):
    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    write_table(small_extract, "medical_claim", rows, drop=("paid_date",))
    rx = pq.read_table(small_extract / "pharmacy_claim.parquet").to_pylist()
    write_table(small_extract, "pharmacy_claim", rx, drop=("paid_date",))
    for page in ("pages/cost.py", "pages/overview.py", "pages/data_health.py"):
        at = _page(page, small_extract, tmp_path / "st", monkeypatch)
        assert any("carry no paid dates" in w.value for w in at.warning), page
