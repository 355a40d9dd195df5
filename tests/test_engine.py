"""Metric engine on the hand-worked fixture (tests/conftest.py: build_small_extract).

Worked by hand for 2025-01..2025-06:
  member months  A 6 (from Jan 15), B 3, C 4 (died Apr 10), D 6            = 19
  paid dollars   A 80 + 50 rx = 130; B 120 + 80 + 10,000 + 200 = 10,400;
                 C 110 + 700 + 150 = 960; D 500 (D's $300 in August has no member month)
  attribution    A -> Alpha (T1, N1, step 1); B -> Beta (T2 $150 beats T1 $100, step 1);
                 C -> Beta (T3, cardiology only, step 2); D -> nobody
  ED visits      C on Feb 2 (facility + physician = one visit), D on May 5; B's ED visit on
                 Mar 1 became an admission, so it is counted once, as that admission.
"""

from __future__ import annotations

import pytest

from tests.conftest import built_workspace
from vbc.engine import compute_metrics, export_rows
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import NotEntitled, Viewer

PERIOD = Period.from_months("2025-01", "2025-06")


@pytest.fixture
def ws(built):
    """The small fixture, built once per session (these tests only read it)."""
    return built("small")


@pytest.fixture
def own_ws(small_extract, tmp_path, monkeypatch):
    """A private build of the small fixture, for a test that changes the extract."""
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    return built_workspace(small_extract)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _one(df, metric_id, **where):
    rows = df[df["metric_id"] == metric_id]
    for k, v in where.items():
        rows = rows[rows[k].isna()] if v is None else rows[rows[k] == v]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_total_pmpm_and_ed_rate(ws, registry):
    df = compute_metrics(ws, registry, ["total_cost_pmpm", "ed_visits_per_1000"], Viewer("payer"), PERIOD)
    pmpm = _one(df, "total_cost_pmpm")
    assert (pmpm.numerator, pmpm.denominator) == (11_990, 19)
    assert pmpm.value == pytest.approx(11_990 / 19)
    assert pmpm.ci_low <= pmpm.value <= pmpm.ci_high
    ed = _one(df, "ed_visits_per_1000")
    assert (ed.numerator, ed.denominator) == (2, 19)
    assert ed.value == pytest.approx(2 / 19 * 12_000)


def test_by_organization(ws, registry):
    df = compute_metrics(ws, registry, ["total_cost_pmpm"], Viewer("payer"), PERIOD, ["organization"])
    assert _one(df, "total_cost_pmpm", organization="Alpha Care")[["numerator", "denominator"]].tolist() == [
        130,
        6,
    ]
    assert _one(df, "total_cost_pmpm", organization="Beta Health")[["numerator", "denominator"]].tolist() == [
        11_360,
        7,
    ]
    assert _one(df, "total_cost_pmpm", organization=None)[["numerator", "denominator"]].tolist() == [500, 6]


def test_by_tin_npi_and_month(ws, registry):
    df = compute_metrics(ws, registry, ["total_cost_pmpm"], Viewer("payer"), PERIOD, ["tin", "npi"])
    assert _one(df, "total_cost_pmpm", tin="T3", npi="N3")[["numerator", "denominator"]].tolist() == [960, 4]
    monthly = compute_metrics(ws, registry, ["total_cost_pmpm"], Viewer("payer"), PERIOD, ["month"])
    march = _one(monthly, "total_cost_pmpm", month="2025-03")
    # March: A (rx $50), B (inpatient $10,000 + ED physician $200), C, D
    assert (march.numerator, march.denominator) == (10_250, 4)
    assert monthly["denominator"].sum() == 19


def test_period_is_respected(ws, registry):
    df = compute_metrics(
        ws, registry, ["total_cost_pmpm"], Viewer("payer"), Period.from_months("2025-04", "2025-06")
    )
    row = _one(df, "total_cost_pmpm")
    # Apr-Jun: A 3 months (no claims), C April only, D 3 months ($500)
    assert (row.numerator, row.denominator) == (500, 7)


def test_org_viewer_sees_only_its_own_rows(ws, registry):
    viewer = Viewer("org", "Beta Health")
    df = compute_metrics(
        ws, registry, ["total_cost_pmpm", "ed_visits_per_1000"], viewer, PERIOD, ["organization"]
    )
    assert set(df["organization"]) == {"Beta Health"}
    total = compute_metrics(ws, registry, ["total_cost_pmpm"], viewer, PERIOD)
    assert (total.iloc[0].numerator, total.iloc[0].denominator) == (11_360, 7)
    # Asking for another organization through the filter cannot widen or move the scope: refused.
    with pytest.raises(NotEntitled):
        compute_metrics(
            ws,
            registry,
            ["total_cost_pmpm"],
            viewer,
            PERIOD,
            ["organization"],
            {"organization": "Alpha Care"},
        )


def test_joint_view_suppresses_small_cells_and_their_complements(ws, registry):
    df = compute_metrics(ws, registry, ["total_cost_pmpm"], Viewer("joint"), PERIOD, ["organization"])
    # Every group here has 1-10 people, so every cell is hidden.
    assert df["suppressed"].all()
    assert df[["numerator", "denominator", "value", "ci_low", "ci_high"]].isna().all().all()
    rows = export_rows(df, ["organization"])
    assert all(r["suppressed"] and r["numerator"] is None for r in rows)


def test_complementary_suppression():
    import pandas as pd

    from vbc import suppression

    df = pd.DataFrame(
        {
            "organization": ["big", "mid", "small"],
            "denominator": [5000.0, 800.0, 40.0],
            "n_persons": [400.0, 60.0, 7.0],
        }
    )
    primary = pd.Series([False, False, True])
    hidden = suppression.suppress(
        df, suppression.margins(["organization"]), ["n_persons"], primary, "denominator"
    )
    # With only one hidden cell it could be derived from the total: the smallest other is hidden too.
    assert hidden.tolist() == [False, True, True]


def test_hidden_cells_whose_sum_is_small_are_hidden_further():
    """Months of one organization: two hidden months of 1 person each add up to 2, which the
    year's total minus the shown months would reveal; the smallest shown month is hidden too
    (2 + 12 = 14 > 10), and then the line is safe."""
    import pandas as pd

    from vbc import suppression

    df = pd.DataFrame(
        {
            "organization": ["X"] * 4,
            "month": ["2025-01", "2025-02", "2025-03", "2025-04"],
            "n_persons": [1.0, 1.0, 12.0, 40.0],
            "denominator": [1.0, 1.0, 12.0, 40.0],
        }
    )
    primary = pd.Series([True, True, False, False])
    hidden = suppression.suppress(
        df, suppression.margins(["organization", "month"]), ["n_persons"], primary, "denominator"
    )
    assert hidden.tolist() == [True, True, True, False]


def test_unknown_grouping_is_refused(ws, registry):
    with pytest.raises(ValueError, match="cannot group by"):
        compute_metrics(ws, registry, ["total_cost_pmpm"], Viewer("payer"), PERIOD, ["person_id; drop"])


def test_marts_on_the_fixture(ws):
    con = ws.connect()
    try:
        stays = con.execute(
            "SELECT person_id, admission_date::VARCHAR, discharge_date::VARCHAR, "
            "paid_amount, admitted_via_ed FROM inpatient_stays"
        ).fetchall()
        assert stays == [("B", "2025-03-01", "2025-03-05", 10_000.0, True)]
        visits = con.execute(
            "SELECT person_id, visit_date::VARCHAR, led_to_admission FROM ed_visits ORDER BY 1"
        ).fetchall()
        assert visits == [("B", "2025-03-01", True), ("C", "2025-02-02", False), ("D", "2025-05-05", False)]
        attribution = con.execute(
            "SELECT person_id, organization, tin, npi, step FROM attribution ORDER BY 1"
        ).fetchall()
        assert attribution == [
            ("A", "Alpha Care", "T1", "N1", 1),
            ("B", "Beta Health", "T2", "N2", 1),
            ("C", "Beta Health", "T3", "N3", 2),
        ]
        cats = dict(
            con.execute("SELECT claim_id, any_value(service_category) FROM claim_lines GROUP BY 1").fetchall()
        )
        assert cats["b3"] == "inpatient" and cats["c2"] == "emergency" and cats["b4"] == "emergency"
        assert cats["a1"] == "professional" and cats["rx1"] == "pharmacy" and cats["d2"] == "outpatient"
    finally:
        con.close()


def test_stamp_changes_with_data_and_definitions(own_ws, registry, small_extract, tmp_path):
    import shutil

    import pyarrow.parquet as pq

    from tests.conftest import write_table
    from vbc.engine import stamp
    from vbc.registry import METRIC_DIR

    first = stamp(own_ws, registry)
    assert first["paid_through"] == "2025-09-30" and first["incurred_through"] == "2025-08-01"
    assert len(first["fingerprint"]) == 12
    assert stamp(own_ws, registry) == first  # same inputs, same stamp

    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    rows[0]["paid_amount"] = 81.0
    write_table(small_extract, "medical_claim", rows)
    assert not own_ws.is_current()
    assert own_ws.build().ok
    second = stamp(own_ws, registry)
    assert second["fingerprint"] != first["fingerprint"]
    assert second["definitions_fingerprint"] == first["definitions_fingerprint"]

    defs = tmp_path / "metrics"
    shutil.copytree(METRIC_DIR, defs)
    text = (defs / "total_cost_pmpm.yaml").read_text().replace("First version.", "First version!")
    (defs / "total_cost_pmpm.yaml").write_text(text)
    changed = load_registry(defs, defs / "value_sets")
    assert stamp(own_ws, changed)["fingerprint"] != second["fingerprint"]
