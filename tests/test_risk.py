"""Risk adjustment: payer-supplied scores worked by hand on the small fixture, CMS-HCC scores
computed with hccinfhir when none are supplied, and the population ratio of 1.0.

Hand-worked (small fixture, 2025-01..06; payer scores A 2.0, B 1.0, C 0.5, D 1.5):
  member months A 6, B 3, C 4, D 6 = 19; mean score over member months = (12 + 3 + 2 + 9) / 19 = 26/19
  normalized: A 2 × 19/26, B 19/26, C 0.5 × 19/26, D 1.5 × 19/26
  population PMPM 11,990 / 19
  Alpha Care (A): observed 130 / 6; expected = 11,990/19 × 2 × 19/26 = 11,990 × 2 / 26
  Beta Health (B, C): average normalized = (3 × 1 + 4 × 0.5) / 7 × 19/26 = 5/7 × 19/26
                      observed 11,360 / 7; expected = 11,990/19 × 5/7 × 19/26 = 11,990 × 5 / (7 × 26)
"""

from __future__ import annotations

import pytest

from tests.conftest import built_workspace, write_table
from vbc import risk
from vbc.periods import Period
from vbc.security import NotEntitled, Viewer

PERIOD = Period.from_months("2025-01", "2025-06")


@pytest.fixture
def scored_ws(small_extract, tmp_path, monkeypatch):
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    write_table(
        small_extract,
        "risk_score",
        [
            dict(person_id="A", year=2025, risk_score=2.0, model="CMS-HCC V24"),
            dict(person_id="B", year=2025, risk_score=1.0, model="CMS-HCC V24"),
            dict(person_id="C", year=2025, risk_score=0.5, model="CMS-HCC V24"),
            dict(person_id="D", year=2025, risk_score=1.5, model="CMS-HCC V24"),
        ],
    )
    ws = built_workspace(small_extract)
    return ws


def test_payer_scores_observed_expected_by_hand(scored_ws):
    table, sources = risk.risk_adjusted(scored_ws, Viewer("payer"), PERIOD, "organization")
    assert sources == {2025: "payer-supplied risk_score (CMS-HCC V24)"}
    t = table.set_index("group")
    assert t.loc["Alpha Care", "observed_pmpm"] == pytest.approx(130 / 6)
    assert t.loc["Alpha Care", "expected_pmpm"] == pytest.approx(11_990 * 2 / 26)
    assert t.loc["Alpha Care", "risk"] == pytest.approx(2 * 19 / 26)
    assert t.loc["Beta Health", "expected_pmpm"] == pytest.approx(11_990 * 5 / (7 * 26))
    assert t.loc["Beta Health", "ratio"] == pytest.approx((11_360 / 7) / (11_990 * 5 / (7 * 26)))
    total = t.loc["All (this view)"]
    assert total["ratio"] == pytest.approx(1.0) and total["risk"] == pytest.approx(1.0)
    assert total["observed_pmpm"] == pytest.approx(11_990 / 19)


def test_average_risk_for_settlement(scored_ws):
    assert risk.average_risk(scored_ws, Viewer("payer"), PERIOD, "Alpha Care") == pytest.approx(2 * 19 / 26)
    assert risk.average_risk(scored_ws, Viewer("payer"), PERIOD) == pytest.approx(1.0)
    beta = Viewer("org", "Beta Health")
    assert risk.average_risk(scored_ws, beta, PERIOD) == pytest.approx(5 / 7 * 19 / 26)
    with pytest.raises(NotEntitled):
        risk.average_risk(scored_ws, beta, PERIOD, "Alpha Care")


def test_org_viewer_table_holds_only_its_members(scored_ws):
    table, _ = risk.risk_adjusted(scored_ws, Viewer("org", "Beta Health"), PERIOD, "npi")
    assert set(table["group"]) == {"N2", "N3", "All (this view)"}
    assert table.set_index("group").loc["All (this view)", "ratio"] == pytest.approx(1.0)


def test_computed_cms_hcc_scores_when_none_supplied(small_extract, tmp_path, monkeypatch):
    from hccinfhir import Demographics, HCCInFHIR

    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    import pyarrow.parquet as pq

    rows = pq.read_table(small_extract / "medical_claim.parquet").to_pylist()
    for r in rows:
        if r["person_id"] == "C":
            r["diagnosis_code_1"] = "I5022"  # chronic systolic heart failure: an HCC in V28
    write_table(small_extract, "medical_claim", rows)
    ws = built_workspace(small_extract)
    scores = risk.computed_scores(ws, 2025).set_index("person_id")["risk_score"]
    assert set(scores.index) == {"A", "B", "C", "D"}
    model = HCCInFHIR(model_name="CMS-HCC Model V28")
    # A and B only have hypertension (no HCC in V28): demographic score only (aged 74, born 1950-06-01).
    assert scores["A"] == pytest.approx(
        model.calculate_from_diagnosis([], Demographics(age=74, sex="F")).risk_score
    )
    assert scores["B"] == pytest.approx(
        model.calculate_from_diagnosis([], Demographics(age=74, sex="M")).risk_score
    )
    assert scores["C"] > scores["A"]  # same age and sex, plus heart failure
    table, sources = risk.risk_adjusted(ws, Viewer("payer"), PERIOD, "tin")
    assert sources[2025].startswith("computed: CMS-HCC Model V28 (hccinfhir")
    assert table.iloc[-1]["ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize("by", ["organization", "tin", "npi"])
def test_population_ratio_is_one_on_demo_data(demo_ws, by):
    ws = demo_ws
    table, _ = risk.risk_adjusted(ws, Viewer("payer"), Period.from_months("2025-01", "2025-12"), by)
    total = table.iloc[-1]
    assert total["group"] == "All (this view)" and total["ratio"] == pytest.approx(1.0)
    groups = table.iloc[:-1]
    # Member-month-weighted expected PMPM over the groups equals the population PMPM.
    assert (groups["expected_pmpm"] * groups["member_months"]).sum() / groups[
        "member_months"
    ].sum() == pytest.approx(total["observed_pmpm"])
    joint, _ = risk.risk_adjusted(ws, Viewer("joint"), Period.from_months("2025-01", "2025-12"), by)
    assert joint.loc[joint["suppressed"], "observed_pmpm"].isna().all()
