"""Utilization counts on a hand-built fixture: the small extract (tests/conftest.py) plus a transfer,
an ED visit that became that admission, two SNF stays (one billed over two months) and imaging.

Worked by hand for 2025-01..2025-06 (19 member months, as in tests/test_engine.py):
  admissions   B Mar 1-5 (4 days, $10,000); A Apr 1-3 at one hospital, transferred the same day
               to another until Apr 8: one admission of 7 days, $5,000 + $7,000    -> 2 admissions, 11 days
  ED visits    C Feb 2 ($700 facility + $150 physician = one visit), D May 5 ($500); B's (Mar 1) and
               A's (Apr 1) visits became admissions and count as those               -> 2 visits, $1,350
  SNF          A Apr 8-30 and May 1-20 (monthly bills, one stay); D Jun 10-15         -> 2 stays
  office E&M   A Feb 10 (99213), B Jan 20 (99214), B Feb 12 (99213), C Jan 15 (99214) -> 4 visits
  imaging      A Feb 15 MRI 72148 (reading only); D May 20 CT 74177, hospital and radiologist
               bills for the same study                                              -> 2 studies
"""

from __future__ import annotations

import pytest

from vbc.engine import PER_1000_SCALE, compute_metrics
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import Viewer

PERIOD = Period.from_months("2025-01", "2025-06")
MM = 19


@pytest.fixture
def ws(built):
    """The utilization fixture (tests/conftest.py), built once per session."""
    return built("utilization")


EXPECTED = {
    "inpatient_admits_per_1000": 2,
    "inpatient_days_per_1000": 11,
    "ed_visits_per_1000": 2,
    "snf_admits_per_1000": 2,
    "office_visits_per_1000": 4,
    "advanced_imaging_per_1000": 2,
}


def test_utilization_counts_match_the_hand_built_fixture(ws):
    df = compute_metrics(ws, load_registry(), list(EXPECTED), Viewer("payer"), PERIOD)
    got = df.set_index("metric_id")
    for metric_id, events in EXPECTED.items():
        row = got.loc[metric_id]
        assert (row.numerator, row.denominator) == (events, MM), metric_id
        assert row.value == pytest.approx(events / MM * PER_1000_SCALE)
        assert row.ci_low < row.value < row.ci_high


def test_unit_costs(ws):
    df = compute_metrics(
        ws, load_registry(), ["cost_per_admission", "cost_per_ed_visit"], Viewer("payer"), PERIOD
    ).set_index("metric_id")
    assert (df.loc["cost_per_admission", "numerator"], df.loc["cost_per_admission", "denominator"]) == (
        22_000,
        2,
    )
    assert df.loc["cost_per_admission", "value"] == pytest.approx(11_000)
    assert (df.loc["cost_per_ed_visit", "numerator"], df.loc["cost_per_ed_visit", "denominator"]) == (
        1_350,
        2,
    )
    assert df.loc["cost_per_ed_visit", "value"] == pytest.approx(675)


def test_stays_marts(ws):
    con = ws.connect()
    try:
        stays = con.execute(
            "SELECT person_id, admission_date::VARCHAR, discharge_date::VARCHAR, length_of_stay, "
            "claims, paid_amount FROM inpatient_stays ORDER BY admission_date"
        ).fetchall()
        snf = con.execute(
            "SELECT person_id, admission_date::VARCHAR, discharge_date::VARCHAR, claims "
            "FROM snf_stays ORDER BY admission_date"
        ).fetchall()
    finally:
        con.close()
    assert stays == [
        ("B", "2025-03-01", "2025-03-05", 4, 1, 10_000.0),
        ("A", "2025-04-01", "2025-04-08", 7, 2, 12_000.0),
    ]
    assert snf == [("A", "2025-04-08", "2025-05-20", 2), ("D", "2025-06-10", "2025-06-15", 1)]


def test_by_month_and_organization(ws):
    registry = load_registry()
    monthly = compute_metrics(ws, registry, ["inpatient_admits_per_1000"], Viewer("payer"), PERIOD, ["month"])
    counts = dict(zip(monthly["month"], monthly["numerator"]))
    assert counts["2025-03"] == 1 and counts["2025-04"] == 1 and monthly["numerator"].sum() == 2
    beta = compute_metrics(ws, registry, ["office_visits_per_1000"], Viewer("org", "Beta Health"), PERIOD)
    # Beta Health: B (Jan 20, Feb 12) and C (Jan 15); 7 member months
    assert (beta.iloc[0].numerator, beta.iloc[0].denominator) == (3, 7)
