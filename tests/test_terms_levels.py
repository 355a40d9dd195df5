"""Contract terms are checked to every level: an unknown key anywhere, a measure id the definitions
do not have, or a value outside its allowed set is refused naming the file and the key path, so a
typo can never quietly change a settlement (a misspelled measure dropped from the composite, an
`attribution: {window: 24}` ignored)."""

from __future__ import annotations

import pytest
import yaml

from vbc.terms import ContractTermsError, load_terms, parse_terms

GOOD = {
    "contract_id": "X",
    "payer": "Medicare",
    "provider_organization": "Alpha",
    "performance_year": 2025,
    "benchmark": {"pmpm": 1000},
    "minimum_savings_rate": 0.02,
    "shared_savings_rate": 0.5,
}


@pytest.mark.parametrize(
    "change,message",
    [
        ({"attribution": {"window": 24}}, "unknown key(s) attribution.window"),
        ({"attribution": {"window_months": "24"}}, "window_months must be 12 or 24"),
        ({"measures": {"breast_cancer_screenin": 0.7}}, "'measures.breast_cancer_screenin': no measure"),
        (
            {"measures": {"breast_cancer_screening": {"target": 0.7, "wieght": 2}}},
            "measures.breast_cancer_screening.wieght",
        ),
        ({"measures": {"breast_cancer_screening": 70}}, "a target is a rate from 0 to 1"),
        ({"benchmark": {"pmpm": 1000, "trnd": 0.03}}, "unknown key(s) benchmark.trnd"),
        (
            {"benchmark": {"baseline": {"start": "2024-01", "end": "2024-12", "until": 1}}},
            "benchmark.baseline.until",
        ),
        (
            {"benchmark": {"baseline": {"start": "2024-1x", "end": "2024-12"}}},
            "'benchmark.baseline.start' must be a month",
        ),
        (
            {
                "benchmark": {
                    "baseline": {"start": "2024-01", "end": "2024-12"},
                    "risk_adjustment": {"cap": 0.03},
                }
            },
            "benchmark.risk_adjustment.cap",
        ),
        ({"quality": {"gate": 40, "minimum": 3}}, "unknown key(s) quality.minimum"),
        ({"quality": {"mode": "scaled-ish"}}, "'quality' must be {gate: N} or {mode: scaled}"),
        ({"corridors": [{"from": 0, "rate": 0.5, "sid": "losses"}]}, "corridors[0].sid"),
        ({"high_cost_cap": {"amount": 250000, "percent": 99}}, "high_cost_cap.percent"),
        ({"high_cost_cap": {"amount": 250000, "percentile": 99}}, "an amount or {percentile: P}"),
    ],
)
def test_mistakes_at_any_depth_name_file_and_key(change, message):
    with pytest.raises(ContractTermsError) as err:
        parse_terms({**GOOD, **change}, "c.yaml")
    assert message in str(err.value) and str(err.value).startswith("c.yaml"), str(err.value)


def test_a_contract_naming_real_measures_loads(tmp_path):
    doc = {
        **GOOD,
        "measures": {"breast_cancer_screening": {"target": 0.7, "weight": 2}, "annual_wellness_visit": 0.5},
    }
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(doc))
    terms = load_terms(tmp_path / "ok.yaml")
    assert terms.measures["breast_cancer_screening"].weight == 2
    assert terms.measures["annual_wellness_visit"].target == 0.5


def test_a_misspelled_measure_in_a_file_names_the_file(tmp_path):
    (tmp_path / "typo.yaml").write_text(
        yaml.safe_dump({**GOOD, "measures": {"controling_blood_pressure": 0.7}})
    )
    with pytest.raises(ContractTermsError, match=r"typo.yaml: 'measures.controling_blood_pressure'"):
        load_terms(tmp_path / "typo.yaml")
