"""Marts and metrics on generated demo data, checked against plain pandas computations
straight from the Parquet files (a second, independent way to the same numbers)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import built_workspace, copy_extract, write_table
from vbc.engine import compute_metrics
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import Viewer


def _read(data: Path, table: str) -> pd.DataFrame:
    return (
        pd.read_parquet(data / table)
        if (data / table).is_dir()
        else pd.read_parquet(data / f"{table}.parquet")
    )


def plain_member_months(data: Path) -> pd.DataFrame:
    elig = _read(data, "eligibility")
    rows = []
    for r in elig.itertuples():
        end = r.enrollment_end_date if pd.isna(r.death_date) else min(r.enrollment_end_date, r.death_date)
        start = pd.Timestamp(r.enrollment_start_date).to_period("M")
        for p in pd.period_range(start, pd.Timestamp(end).to_period("M"), freq="M"):
            rows.append((r.person_id, r.payer, p))
    return pd.DataFrame(rows, columns=["person_id", "payer", "month"]).drop_duplicates()


def plain_paid(data: Path) -> pd.DataFrame:
    med = _read(data, "medical_claim")
    rx = _read(data, "pharmacy_claim")
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "person_id": med.person_id,
                    "payer": med.payer,
                    "paid": med.paid_amount,
                    "month": pd.to_datetime(med.claim_start_date).dt.to_period("M"),
                }
            ),
            pd.DataFrame(
                {
                    "person_id": rx.person_id,
                    "payer": rx.payer,
                    "paid": rx.paid_amount,
                    "month": pd.to_datetime(rx.dispensing_date).dt.to_period("M"),
                }
            ),
        ]
    )


@pytest.fixture(scope="module")
def built(demo_ws):
    """The demo, built once per session (tests/conftest.py)."""
    return demo_ws


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_member_months_match_plain_count(built, demo_extract):
    mm = plain_member_months(demo_extract)
    con = built.connect()
    try:
        n = con.execute("SELECT count(*) FROM member_months").fetchall()[0][0]
    finally:
        con.close()
    assert n == len(mm)


def test_every_paid_dollar_is_in_claim_lines(built, demo_extract):
    paid = plain_paid(demo_extract)
    con = built.connect()
    try:
        total, lines = con.execute("SELECT sum(paid_amount), count(*) FROM claim_lines").fetchall()[0]
    finally:
        con.close()
    assert lines == len(paid)
    assert total == pytest.approx(paid["paid"].sum(), abs=0.01)


@pytest.mark.parametrize(
    "start,end", [(None, None), ("2025-01", "2025-12"), ("2025-06", "2025-06"), ("2024-11", "2025-04")]
)
def test_total_cost_pmpm_equals_plain_computation(built, demo_extract, registry, start, end):
    mm = plain_member_months(demo_extract)
    paid = plain_paid(demo_extract)
    first, last = mm["month"].min(), mm["month"].max()
    s = pd.Period(start, "M") if start else first
    e = pd.Period(end, "M") if end else last
    mm_in = mm[(mm.month >= s) & (mm.month <= e)]
    matched = paid.merge(mm_in, on=["person_id", "payer", "month"])
    expected = matched["paid"].sum() / len(mm_in)
    period = Period.from_months(str(s), str(e))
    row = compute_metrics(built, registry, ["total_cost_pmpm"], Viewer("payer"), period).iloc[0]
    assert row.denominator == len(mm_in)
    assert row.value == pytest.approx(expected, rel=1e-9)


def test_pmpm_by_organization_with_supplied_attribution(demo_extract, tmp_path, monkeypatch, registry):
    """With a payer-supplied attribution extract, each organization's PMPM equals a plain
    computation over that organization's member months."""
    data = copy_extract(demo_extract, tmp_path / "with_attr")
    mm = plain_member_months(data)
    orgs = ["North", "South", "East"]
    # Every ninth member month is left unattributed.
    mm["org"] = pd.Series(
        [
            orgs[int(hashlib.md5(f"{p}{m}".encode()).hexdigest(), 16) % 3] if i % 9 else None
            for i, (p, m) in enumerate(zip(mm.person_id, mm.month.astype(str)))
        ],
        dtype="object",
        index=mm.index,
    )
    write_table(
        data,
        "provider_attribution",
        [
            dict(
                person_id=r.person_id,
                year_month=r.month.strftime("%Y%m"),
                payer=r.payer,
                payer_attributed_provider=None,
                payer_attributed_provider_practice=f"TIN-{r.org}",
                payer_attributed_provider_organization=r.org,
            )
            for r in mm.itertuples()
            if isinstance(r.org, str)
        ],
    )
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    ws = built_workspace(data)
    paid = plain_paid(data)
    s, e = pd.Period("2025-01", "M"), pd.Period("2025-09", "M")
    period = Period.from_months("2025-01", "2025-09")
    got = compute_metrics(ws, registry, ["total_cost_pmpm"], Viewer("payer"), period, ["organization"])
    for org in orgs:
        mine = mm[(mm.org == org) & (mm.month >= s) & (mm.month <= e)]
        expected = paid.merge(mine, on=["person_id", "payer", "month"])["paid"].sum() / len(mine)
        row = got[got.organization == org].iloc[0]
        assert row.denominator == len(mine)
        assert row.value == pytest.approx(expected, rel=1e-9)
        # And the organization's own viewer sees exactly that row and nothing else.
        own = compute_metrics(
            ws, registry, ["total_cost_pmpm"], Viewer("org", org), period, ["organization", "month"]
        )
        assert set(own.organization) == {org}
        assert own.numerator.sum() == pytest.approx(row.numerator)


def plain_stays(data: Path) -> int:
    med = _read(data, "medical_claim")
    inst = med[
        (med.claim_type == "institutional")
        & med.bill_type_code.fillna("").str.lstrip("0").str.startswith("11")
    ]
    claims = (
        inst.groupby("claim_id")
        .agg(
            person_id=("person_id", "first"),
            payer=("payer", "first"),
            admit=("admission_date", "min"),
            start=("claim_start_date", "min"),
            discharge=("discharge_date", "max"),
            end=("claim_end_date", "max"),
            disposition=("discharge_disposition_code", "first"),
        )
        .reset_index()
    )
    claims["admit"] = claims["admit"].fillna(claims["start"])
    claims["discharge"] = claims["discharge"].fillna(claims["end"])
    stays = 0
    for _, g in claims.sort_values(["admit", "discharge", "claim_id"]).groupby(["person_id", "payer"]):
        running, last_disp = None, None
        for r in g.itertuples():
            transfer_next_day = (
                running is not None
                and last_disp in ("02", "05", "65", "66")
                and (pd.Timestamp(r.admit) - pd.Timestamp(running)).days == 1
            )
            if running is None or (r.admit > running and not transfer_next_day):
                stays += 1
            if running is None or r.discharge >= running:
                running, last_disp = r.discharge, r.disposition
    return stays


def test_inpatient_stays_match_plain_assembly(built, demo_extract):
    con = built.connect()
    try:
        n = con.execute("SELECT count(*) FROM inpatient_stays").fetchall()[0][0]
    finally:
        con.close()
    assert n == plain_stays(demo_extract)
