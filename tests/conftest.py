"""One fixture builder for every test: small extracts written as Parquet per the data contract."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vbc.contract import DATE, INTEGER, NUMBER, TABLES

ARROW = {DATE: pa.date32(), NUMBER: pa.float64(), INTEGER: pa.int64()}


def write_table(data_dir: Path, name: str, rows: list[dict], drop: tuple[str, ...] = ()) -> Path:
    """Write `rows` as `<name>.parquet` with every contract column (missing ones null)."""
    table = TABLES[name]
    cols = [c for c in table.columns if c.name not in drop]
    arrays, fields = [], []
    for c in cols:
        typ = ARROW.get(c.type, pa.string())
        values = [r.get(c.name) for r in rows]
        if c.type == DATE:
            values = [date.fromisoformat(v) if isinstance(v, str) else v for v in values]
        arrays.append(pa.array(values, type=typ))
        fields.append(pa.field(c.name, typ))
    path = data_dir / f"{name}.parquet"
    data_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), path)
    return path


def _elig(pid, start, end, death=None, gender="female", birth="1950-06-01"):
    return dict(
        person_id=pid,
        member_id="M" + pid,
        gender=gender,
        birth_date=birth,
        death_date=death,
        enrollment_start_date=start,
        enrollment_end_date=end,
        payer="Medicare",
        payer_type="medicare",
        plan="ACO",
    )


def _line(
    claim_id,
    line,
    pid,
    start,
    paid,
    *,
    claim_type="professional",
    hcpcs=None,
    pos=None,
    npi=None,
    tin=None,
    bill=None,
    rev=None,
    end=None,
    admit=None,
    discharge=None,
    allowed=None,
    paid_date=None,
    disposition=None,
    dx="I10",
):
    return dict(
        claim_id=claim_id,
        claim_line_number=line,
        claim_type=claim_type,
        person_id=pid,
        member_id="M" + pid,
        payer="Medicare",
        plan="ACO",
        claim_start_date=start,
        claim_end_date=end or start,
        claim_line_start_date=start,
        claim_line_end_date=end or start,
        admission_date=admit,
        discharge_date=discharge,
        discharge_disposition_code=disposition,
        paid_date=paid_date or "2025-09-30",
        bill_type_code=bill,
        revenue_center_code=rev,
        place_of_service_code=pos,
        hcpcs_code=hcpcs,
        rendering_npi=npi,
        billing_npi=npi,
        billing_tin=tin,
        facility_npi="F1" if claim_type == "institutional" else None,
        paid_amount=paid,
        allowed_amount=allowed if allowed is not None else paid,
        diagnosis_code_1=dx,
    )


def build_small_extract(data_dir: Path) -> Path:
    """The hand-worked fixture; expected figures are worked out in tests/test_engine.py."""
    write_table(
        data_dir,
        "eligibility",
        [
            _elig("A", "2025-01-15", "2025-06-30"),
            _elig("B", "2025-01-01", "2025-03-31", gender="male"),
            _elig("C", "2025-01-01", "2025-12-31", death="2025-04-10"),
            _elig("D", "2025-01-01", "2025-06-30"),
        ],
    )
    write_table(
        data_dir,
        "provider",
        [
            dict(
                npi="N1",
                provider_name="Dr One",
                specialty="internal medicine",
                tin="T1",
                provider_organization="Alpha Care",
            ),
            dict(
                npi="N2",
                provider_name="Dr Two",
                specialty="family practice",
                tin="T2",
                provider_organization="Beta Health",
            ),
            dict(
                npi="N3",
                provider_name="Dr Three",
                specialty="cardiology",
                tin="T3",
                provider_organization="Beta Health",
            ),
            dict(
                npi="N4",
                provider_name="Dr Four",
                specialty="emergency medicine",
                tin="T9",
                provider_organization=None,
            ),
            dict(
                npi="F1",
                provider_name="General Hospital",
                specialty="acute care hospital",
                tin="T8",
                provider_organization=None,
            ),
        ],
    )
    write_table(
        data_dir,
        "medical_claim",
        [
            _line(
                "a1", 1, "A", "2025-02-10", 80.0, hcpcs="99213", pos="11", npi="N1", tin="T1", allowed=100.0
            ),
            _line(
                "b1", 1, "B", "2025-01-20", 120.0, hcpcs="99214", pos="11", npi="N2", tin="T2", allowed=150.0
            ),
            _line(
                "b2", 1, "B", "2025-02-12", 80.0, hcpcs="99213", pos="11", npi="N1", tin="T1", allowed=100.0
            ),
            _line(
                "b3",
                1,
                "B",
                "2025-03-01",
                1000.0,
                claim_type="institutional",
                bill="111",
                rev="0450",
                end="2025-03-05",
                admit="2025-03-01",
                discharge="2025-03-05",
                disposition="01",
            ),
            _line(
                "b3",
                2,
                "B",
                "2025-03-01",
                9000.0,
                claim_type="institutional",
                bill="111",
                rev="0120",
                end="2025-03-05",
                admit="2025-03-01",
                discharge="2025-03-05",
                disposition="01",
            ),
            _line("b4", 1, "B", "2025-03-01", 200.0, hcpcs="99284", pos="23", npi="N4", tin="T9"),
            _line(
                "c1", 1, "C", "2025-01-15", 110.0, hcpcs="99214", pos="11", npi="N3", tin="T3", allowed=140.0
            ),
            _line("c2", 1, "C", "2025-02-02", 700.0, claim_type="institutional", bill="131", rev="0450"),
            _line("c3", 1, "C", "2025-02-02", 150.0, hcpcs="99283", pos="23", npi="N4", tin="T9"),
            _line("d1", 1, "D", "2025-05-05", 500.0, claim_type="institutional", bill="131", rev="0450"),
            _line("d2", 1, "D", "2025-08-01", 300.0, hcpcs="71046", pos="22", npi="N4", tin="T9"),
        ],
    )
    write_table(
        data_dir,
        "pharmacy_claim",
        [
            dict(
                claim_id="rx1",
                claim_line_number=1,
                person_id="A",
                member_id="MA",
                payer="Medicare",
                plan="ACO",
                prescribing_provider_npi="N1",
                dispensing_date="2025-03-05",
                ndc_code="00071015523",
                quantity=30.0,
                days_supply=30,
                paid_date="2025-03-06",
                paid_amount=50.0,
                allowed_amount=55.0,
            ),
        ],
    )
    return data_dir


@pytest.fixture
def small_extract(tmp_path: Path) -> Path:
    return build_small_extract(tmp_path / "extract")


@pytest.fixture(scope="session")
def demo_extract(tmp_path_factory) -> Path:
    """A small generated demo extract shared by the tests that need realistic volume."""
    from vbc.demo import generate

    out = tmp_path_factory.mktemp("demo")
    generate(out, members=2500, months=24, seed=11)
    return out


def built_workspace(data_dir: Path):
    """The workspace on `data_dir`, built (VBC_STATE_DIR set by the caller); fails with the report."""
    from vbc.workspace import Workspace

    ws = Workspace.open(data_dir)
    result = ws.build()
    assert result.ok, result.report.text()
    return ws


def copy_extract(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".vbc"))
    return dst
