"""Contract terms: every shipped demo contract parses, and bad files get messages naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vbc.attribution import AttributionSettings
from vbc.settlement import Figures, settle
from vbc.terms import CONTRACT_DIR, ContractTermsError, contracts, contracts_for, load_terms, parse_terms

GOOD = {
    "contract_id": "X",
    "payer": "Medicare",
    "provider_organization": "Alpha",
    "performance_year": 2025,
    "benchmark": {"pmpm": 1000},
    "minimum_savings_rate": 0.02,
    "shared_savings_rate": 0.5,
}


def test_demo_contracts_cover_three_organizations_and_two_years():
    found = contracts(CONTRACT_DIR)
    assert {(t.provider_organization, t.performance_year) for t in found} == {
        (o, y)
        for o in ("Riverbend Health Partners", "Lakeside Physician Group", "Cedar Hollow Family Medicine")
        for y in (2025, 2026)
    }
    lake = next(t for t in found if t.contract_id == "DEMO-LAKESIDE-2026")
    assert (
        not lake.benchmark.fixed and lake.benchmark.trend == 0.04 and lake.benchmark.risk_growth_cap == 0.03
    )
    assert next(t for t in found if t.contract_id == "DEMO-LAKESIDE-2025").corridors[1].rate == 0.6


def test_defaults():
    t = parse_terms(GOOD)
    assert t.two_sided is False and t.minimum_loss_rate == 0.0 and t.quality.mode == "none"
    assert t.attribution == AttributionSettings(12, "retrospective") and t.corridors == ()


@pytest.mark.parametrize(
    "change,message",
    [
        ({"benchmark": None}, "missing required key 'benchmark'"),
        ({"shared_savings_rate": 50}, "'shared_savings_rate' must be between 0 and 1"),
        ({"minimum_savings_rate": "sliding"}, "'minimum_savings_rate' must be a number or 'mssp'"),
        ({"two_sided": True}, "missing required key 'minimum_loss_rate'"),
        ({"quality": {"gate": 140}}, "'quality.gate' must be a score from 0 to 100"),
        ({"quality": {"mode": "sometimes"}}, "'quality' must be {gate: N} or {mode: scaled}"),
        (
            {"corridors": [{"from": 0, "to": 0.05, "rate": 0.4}, {"from": 0.06, "rate": 0.6}]},
            "must start where the previous band ends",
        ),
        ({"corridors": [{"from": 0.01, "to": 0.05, "rate": 0.4}]}, "must start 'from: 0'"),
        ({"corridors": [{"from": 0, "rate": 0.4, "side": "both"}]}, "'side' must be savings or losses"),
        ({"attribution": {"window_months": 18}}, "window_months must be 12 or 24"),
        ({"attribution": {"mode": "concurrent"}}, "mode must be 'retrospective' or 'prospective'"),
        ({"shared_saving_rate": 0.5}, "unknown key(s) shared_saving_rate"),
        ({"benchmark": {"baseline": {"start": "2024-01"}}}, "needs start and end"),
        ({"high_cost_cap": {"percentile": 20}}, "between 50 and 100"),
        ({"performance_year": "next"}, "'performance_year' must be a year"),
    ],
)
def test_bad_terms_are_named(change, message):
    with pytest.raises(ContractTermsError) as err:
        parse_terms({**GOOD, **change}, "c.yaml")
    assert message in str(err.value) and str(err.value).startswith("c.yaml")


def test_loss_corridors_and_file_loading(tmp_path: Path):
    doc = {
        **GOOD,
        "two_sided": True,
        "minimum_loss_rate": 0.02,
        "shared_loss_rate": 0.4,
        "corridors": [
            {"from": 0, "to": 0.05, "rate": 0.5},
            {"from": 0, "to": 0.03, "rate": 0.3, "side": "losses"},
            {"from": 0.03, "rate": 0.6, "side": "losses"},
        ],
    }
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "a.yaml").write_text(yaml.safe_dump(doc))
    (found,) = contracts_for(tmp_path)
    assert [c.side for c in found.corridors] == ["savings", "losses", "losses"]
    assert found.path.name == "a.yaml"
    (tmp_path / "bad.yaml").write_text("contract_id: [unclosed")
    with pytest.raises(ContractTermsError, match="bad.yaml: not valid YAML"):
        load_terms(tmp_path / "bad.yaml")


def test_loss_corridors_settle():
    # losses 1,200,000 = 10% of 12,000,000 (MLR 2% met): band 0-3% = 360,000 x 0.3 = 108,000;
    # 3%+ = 840,000 x 0.6 = 504,000; total 612,000; loss cap 10% = 1,200,000 not binding -> -612,000
    t = parse_terms(
        {
            **GOOD,
            "two_sided": True,
            "minimum_loss_rate": 0.02,
            "shared_loss_rate": 0.4,
            "loss_cap": 0.10,
            "corridors": [
                {"from": 0, "to": 0.03, "rate": 0.3, "side": "losses"},
                {"from": 0.03, "rate": 0.6, "side": "losses"},
            ],
        }
    )
    s = settle(t, Figures(member_months=12_000, actual_pmpm=1100))
    assert s.value("final_payment") == -612_000.00
