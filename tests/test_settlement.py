"""Settlement on hand-worked cases, to the cent (the working is in the comments), and the sliding MSR.

Unless a case says otherwise the contract is: fixed benchmark $1,000 PMPM, MSR 2%, shared savings
rate 50%, savings cap 10% of the benchmark, one-sided, no quality condition; 12,000 member months
(1,000 members), so the benchmark expenditure is 1,000 x 12,000 = $12,000,000.00.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import built_workspace
from vbc import settlement_claims
from vbc.security import Viewer
from vbc.settlement import (
    Figures,
    baseline_benchmark,
    benchmark_steps,
    expenditure_steps,
    member_steps,
    mssp_msr,
    quality_steps,
    settle,
    shared_losses_steps,
    sharing_steps,
    threshold_steps,
    trend_factor,
)
from vbc.settlement_claims import Projection, SettlementEstimate, random_half_width, settlement_for
from vbc.terms import Benchmark, Quality, load_terms, parse_terms

ROOT = Path(__file__).resolve().parents[1]

BASE = {
    "contract_id": "T",
    "payer": "Medicare",
    "provider_organization": "Alpha Care",
    "performance_year": 2025,
    "benchmark": {"pmpm": 1000},
    "minimum_savings_rate": 0.02,
    "shared_savings_rate": 0.5,
    "savings_cap": 0.10,
    "two_sided": False,
}
TWO_SIDED = {"two_sided": True, "minimum_loss_rate": 0.02, "shared_loss_rate": 0.4, "loss_cap": 0.05}


def run(actual_pmpm, mm=12_000, members=None, score=None, **terms):
    t = parse_terms({**BASE, **terms})
    return settle(t, Figures(member_months=mm, actual_pmpm=actual_pmpm, members=members, quality_score=score))


CASES = [
    # id, actual PMPM, extra terms, quality, expected final payment
    # savings 12,000,000 - 11,820,000 = 180,000 = 1.5% < 2% MSR -> nothing
    ("below MSR", 985, {}, None, 0.00),
    # savings 600,000 = 5% >= 2% -> 50% from the first dollar = 300,000
    ("above MSR", 950, {}, None, 300_000.00),
    # savings 240,000 = exactly 2.0% -> met -> 120,000
    ("exactly at MSR", 980, {}, None, 120_000.00),
    # losses 480,000 = 4% >= 2% MLR -> 40% = 192,000 owed (cap 5% = 600,000 not binding)
    ("losses two-sided", 1040, TWO_SIDED, None, -192_000.00),
    # losses 180,000 = 1.5% < 2% MLR -> nothing
    ("losses below MLR", 1015, TWO_SIDED, None, 0.00),
    # one-sided contracts never pay losses
    ("losses one-sided", 1040, {}, None, 0.00),
    # savings 2,400,000 = 20% x 60% = 1,440,000 > cap 10% x 12,000,000 = 1,200,000 -> 1,200,000
    ("savings cap binds", 800, {"shared_savings_rate": 0.6}, None, 1_200_000.00),
    # losses 2,400,000 = 20% x 40% = 960,000 > loss cap 5% x 12,000,000 = 600,000 -> -600,000
    ("loss cap binds", 1200, TWO_SIDED, None, -600_000.00),
    # savings 1,440,000 = 12%: band 0-5% = 600,000 x 0.4 = 240,000; 5-10% = 600,000 x 0.6 = 360,000;
    # 10%+ = 240,000 x 0.8 = 192,000; total 792,000 (< cap 1,200,000)
    (
        "corridors",
        880,
        {
            "corridors": [
                {"from": 0, "to": 0.05, "rate": 0.4},
                {"from": 0.05, "to": 0.10, "rate": 0.6},
                {"from": 0.10, "rate": 0.8},
            ]
        },
        None,
        792_000.00,
    ),
    # corridors and the cap: savings 3,600,000 = 30%: 240,000 + 360,000 + 2,400,000 x 0.8 =
    # 2,520,000 -> cap 1,200,000
    (
        "corridors capped",
        700,
        {
            "corridors": [
                {"from": 0, "to": 0.05, "rate": 0.4},
                {"from": 0.05, "to": 0.10, "rate": 0.6},
                {"from": 0.10, "rate": 0.8},
            ]
        },
        None,
        1_200_000.00,
    ),
    # quality gate 50, score 45 -> failed gate shares nothing (savings 600,000 = 5%)
    ("failed quality gate", 950, {"quality": {"gate": 50}}, 45, 0.00),
    # score exactly at the gate passes -> 300,000
    ("quality gate met", 950, {"quality": {"gate": 50}}, 50, 300_000.00),
    # scaled quality: 600,000 x 50% x 80/100 = 240,000
    ("scaled quality", 950, {"quality": {"mode": "scaled"}}, 80, 240_000.00),
]


@pytest.mark.parametrize("case,actual,terms,quality,expected", CASES, ids=[c[0] for c in CASES])
def test_hand_worked_cases(case, actual, terms, quality, expected):
    s = run(actual, score=quality, **terms)
    assert s.value("benchmark_expenditure") == 12_000_000.00
    assert s.value("final_payment") == expected


def test_cents_are_rounded_half_up():
    # 1,234 member months: benchmark 1,234,000.00; actual 962.345 x 1,234 = 1,187,533.73;
    # savings 46,466.27 (3.77%, members 1,234/12 = 102.8 -> 103; MSR fixed 2%) x 50% = 23,233.135 -> 23,233.14
    s = run(962.345, mm=1_234)
    assert s.value("actual_expenditure") == 1_187_533.73
    assert s.value("gross_savings") == 46_466.27
    assert s.value("attributed_members") == 103
    assert s.value("final_payment") == 23_233.14


def test_every_step_is_named_with_formula_and_value():
    s = run(950, **TWO_SIDED)
    keys = [st.key for st in s.steps]
    assert keys[:4] == ["member_months", "attributed_members", "benchmark_pmpm", "benchmark_expenditure"]
    for k in (
        "actual_expenditure",
        "gross_savings",
        "savings_rate",
        "minimum_savings_rate",
        "msr_met",
        "minimum_loss_rate",
        "quality_result",
        "sharing_rate",
        "savings_limit",
        "final_payment",
    ):
        assert k in keys
    assert all(st.name and st.formula for st in s.steps)
    assert s.value("savings_rate") == 0.05 and s.value("msr_met") is True
    assert s.value("savings_limit") == 1_200_000.00


def test_sliding_msr_payment_at_the_band_value():
    # 5,500 members -> MSR 3.75%. 66,000 member months: benchmark 66,000,000.
    # actual 962.50 -> savings 2,475,000 = exactly 3.75% -> met -> 50% = 1,237,500 (cap 6,600,000)
    met = run(962.50, mm=66_000, members=5_500, minimum_savings_rate="mssp")
    assert met.value("minimum_savings_rate") == 0.0375
    assert met.value("final_payment") == 1_237_500.00
    # a cent more per member month: savings 2,474,340 = 3.749% -> not met
    missed = run(962.51, mm=66_000, members=5_500, minimum_savings_rate="mssp")
    assert missed.value("msr_met") is False and missed.value("final_payment") == 0.00


@pytest.mark.parametrize(
    "members,pct",
    [
        (0, "12.2"),
        (499, "12.2"),
        (500, "12.2"),
        (750, "10.446"),
        (999, "8.7"),
        (1000, "8.7"),
        (2000, "6.849"),
        (2999, "5.0"),
        (3000, "5.0"),
        (4999, "3.9"),
        (5000, "3.9"),
        (5500, "3.75"),
        (5999, "3.6"),
        (6000, "3.6"),
        (9999, "3.0"),
        (10000, "3.0"),
        (12000, "2.88"),
        (14999, "2.7"),
        (15000, "2.7"),
        (19999, "2.5"),
        (20000, "2.5"),
        (35000, "2.35"),
        (49999, "2.2"),
        (50000, "2.2"),
        (59999, "2.0"),
        (60000, "2.0"),
        (250000, "2.0"),
    ],
)
def test_mssp_sliding_msr_band_edges(members, pct):
    # Linear within each band, bounds inclusive: e.g. 750 = 12.2 - (250/499) x 3.5 = 10.4465 -> 10.446%;
    # 2,000 = 8.7 - (1000/1999) x 3.7 = 6.849%; 12,000 = 3.0 - (2000/4999) x 0.3 = 2.880%.
    assert mssp_msr(members) == Decimal(pct) / 100


def test_members_default_to_member_months_over_twelve():
    # 6,006 / 12 = 500.5 -> 501 members -> MSR 12.2 - (1/499) x 3.5 = 12.193%
    s = run(900, mm=6_006, minimum_savings_rate="mssp")
    assert s.value("attributed_members") == 501
    assert s.value("minimum_savings_rate") == 0.12193


def test_baseline_benchmark_trend_and_capped_risk():
    terms = parse_terms(
        {
            **BASE,
            "benchmark": {
                "baseline": {"start": "2024-01", "end": "2024-12"},
                "trend": 0.04,
                "risk_adjustment": {"positive_growth_cap": 0.03},
            },
        }
    )
    # 900 x 1.04 x min(1.10 / 1.00, 1.03) = 900 x 1.04 x 1.03 = 964.08
    s = settle(
        terms,
        Figures(
            member_months=12_000,
            actual_pmpm=900,
            baseline_pmpm=900,
            trend_years=1,
            baseline_risk=1.0,
            performance_risk=1.10,
        ),
    )
    assert s.value("risk_factor") == 1.03 and s.value("benchmark_pmpm") == 964.08
    # decreases are not floored: 900 x 1.04 x 0.95 = 889.20
    s = settle(
        terms,
        Figures(
            member_months=12_000,
            actual_pmpm=900,
            baseline_pmpm=900,
            trend_years=1,
            baseline_risk=1.0,
            performance_risk=0.95,
        ),
    )
    assert s.value("benchmark_pmpm") == 889.20


def _cli(*args, state=None):
    env = {**os.environ, **({"VBC_STATE_DIR": str(state)} if state else {})}
    return subprocess.run(
        [sys.executable, "-m", "vbc", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_cli_given_figures_json_and_csv_agree(tmp_path):
    f = tmp_path / "c.yaml"
    import yaml

    f.write_text(yaml.safe_dump({**BASE, "minimum_savings_rate": "mssp"}))
    args = [
        "settlement",
        "--contract",
        str(f),
        "--benchmark-pmpm",
        "1000",
        "--actual-pmpm",
        "962.50",
        "--member-months",
        "66000",
        "--members",
        "5500",
    ]
    out = _cli(*args, "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = {r["key"]: r for r in json.loads(out.stdout)["rows"]}
    assert rows["minimum_savings_rate"]["value"] == 0.0375
    assert rows["final_payment"]["value"] == 1_237_500.00
    csv_out = _cli(*args, "--format", "csv")
    assert csv_out.returncode == 0, csv_out.stderr
    csv_rows = {r["key"]: r for r in csv.DictReader(io.StringIO(csv_out.stdout))}
    assert set(csv_rows) == set(rows)
    for k, r in rows.items():
        assert csv_rows[k]["value"] == ("" if r["value"] is None else str(r["value"]))
    # without --members, members = 66,000 / 12 = 5,500 too
    out = _cli(
        "settlement",
        "--contract",
        str(f),
        "--benchmark-pmpm",
        "1000",
        "--actual-pmpm",
        "962.50",
        "--member-months",
        "66000",
    )
    assert {r["key"]: r for r in json.loads(out.stdout)["rows"]}["attributed_members"]["value"] == 5500


def test_cli_needs_figures_without_data(tmp_path):
    out = _cli(
        "settlement",
        "--contract",
        str(ROOT / "data/contracts/demo/lakeside_2026.yaml"),
        "--actual-pmpm",
        "1000",
        "--member-months",
        "1200",
    )
    assert out.returncode == 2 and "--benchmark-pmpm" in out.stderr


# ---------------------------------------------------------------- the page, JSON and CSV agree
BETA = {
    "contract_id": "BETA-2025",
    "payer": "Medicare",
    "provider_organization": "Beta Health",
    "performance_year": 2025,
    "benchmark": {"pmpm": 2000},
    "high_cost_cap": {"amount": 250000},
    "minimum_savings_rate": "mssp",
    "minimum_loss_rate": 0.02,
    "shared_savings_rate": 0.5,
    "shared_loss_rate": 0.4,
    "savings_cap": 0.1,
    "loss_cap": 0.05,
    "two_sided": True,
    "quality": {"gate": 40},
}


@pytest.fixture
def with_contract(small_extract, tmp_path, monkeypatch):
    import yaml

    (small_extract / "contracts").mkdir()
    (small_extract / "contracts" / "beta_2025.yaml").write_text(yaml.safe_dump(BETA))
    monkeypatch.setenv("VBC_DATA_DIR", str(small_extract))
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    return small_extract


def _page(viewer, monkeypatch):
    """The Settlement page signed in as the test account of `viewer` (tests/conftest.py)."""
    from tests.conftest import open_page

    return open_page(
        Path(os.environ["VBC_DATA_DIR"]),
        "pages/settlement.py",
        viewer,
        monkeypatch,
        period="2025",
        timeout=180,
    )


def test_page_json_and_csv_show_the_same_steps(with_contract, tmp_path, monkeypatch):
    from vbc.settlement import format_step

    state = Path(os.environ["VBC_STATE_DIR"])
    contract = str(with_contract / "contracts" / "beta_2025.yaml")
    js = _cli(
        "settlement", "--data", str(with_contract), "--contract", contract, "--format", "json", state=state
    )
    assert js.returncode == 0, js.stderr
    rows = json.loads(js.stdout)["rows"]
    cs = _cli(
        "settlement", "--data", str(with_contract), "--contract", contract, "--format", "csv", state=state
    )
    csv_rows = list(csv.DictReader(io.StringIO(cs.stdout)))
    assert [r["key"] for r in csv_rows] == [r["key"] for r in rows]
    for j, c in zip(rows, csv_rows):
        assert c["value"] == ("" if j["value"] is None else str(j["value"])), j["key"]
    # Beta Health, Jan-Jun 2025 (hand-worked in test_engine): member months 7, paid $11,360
    by_key = {r["key"]: r for r in rows}
    assert by_key["benchmark_expenditure"]["value"] == pytest.approx(2000 * by_key["member_months"]["value"])
    assert by_key["attributed_members"]["value"] == 2  # B and C

    at = _page("payer", monkeypatch)
    table = next(d.value for d in at.dataframe if "Formula" in d.value.columns)
    assert table["Step"].tolist() == [r["name"] for r in rows]
    assert table["Value"].tolist() == [format_step(r) for r in rows]
    assert any(format_step(by_key["final_payment"]) in m.value for m in at.markdown)


def test_joint_view_suppresses_small_member_counts_and_org_sees_only_its_own(with_contract, monkeypatch):
    # Beta Health has 2 members: its dollars would give the count away, so the joint view shows none.
    at = _page("joint", monkeypatch)
    assert not any("Formula" in d.value.columns for d in at.dataframe)
    assert any("1 to 10 attributed members" in i.value for i in at.info)
    state = Path(os.environ["VBC_STATE_DIR"])
    joint = _cli(
        "settlement",
        "--data",
        str(with_contract),
        "--contract",
        str(with_contract / "contracts" / "beta_2025.yaml"),
        "--viewer",
        "joint",
        state=state,
    )
    assert joint.returncode != 0 and "de-identified" in joint.stderr and "rows" not in joint.stdout
    other = _page("org:Alpha Care", monkeypatch)
    assert not any("Formula" in d.value.columns for d in other.dataframe)
    assert any("No contract terms" in i.value for i in other.info)
    state = Path(os.environ["VBC_STATE_DIR"])
    refused = _cli(
        "settlement",
        "--data",
        str(with_contract),
        "--contract",
        str(with_contract / "contracts" / "beta_2025.yaml"),
        "--viewer",
        "org:Alpha Care",
        state=state,
    )
    assert refused.returncode != 0 and "only see its own" in refused.stderr


@pytest.mark.parametrize(
    "actual,terms,bars",
    [
        # savings 2,400,000 x 60% = 1,440,000 shared; cap 1,200,000 takes 240,000; 960,000 not shared
        (
            800,
            {"shared_savings_rate": 0.6},
            [12_000_000, -9_600_000, 2_400_000, 2_400_000, -960_000, -240_000, 1_200_000],
        ),
        # losses 480,000 x 40% = 192,000 owed; 288,000 not owed; loss cap 600,000 does not bind
        (1040, TWO_SIDED, [12_000_000, -12_480_000, -480_000, -480_000, 288_000, 0, -192_000]),
        # one-sided losses: all 480,000 not owed, final 0
        (1040, {}, [12_000_000, -12_480_000, -480_000, -480_000, 480_000, 0, 0]),
    ],
)
def test_waterfall_runs_from_benchmark_to_final_payment(actual, terms, bars):
    from vbc.settlement import waterfall

    w = waterfall(run(actual, **terms))
    assert [b["value"] for b in w] == bars
    # Each stage's relative steps add up to its total.
    for stage in ("expenditure", "sharing"):
        part = [b for b in w if b["stage"] == stage]
        assert part[0]["value"] + sum(b["value"] for b in part[1:-1]) == pytest.approx(part[-1]["value"])


# ---------------------------------------------------------------- each step on its own
# settle() runs one function per step; each is checked here on a case worked out by hand.


def test_member_steps_default_to_member_months_over_twelve():
    # 6,006 member months / 12 = 500.5 -> 501 (half up); a given count wins over the default.
    steps, mm, members = member_steps(Figures(member_months=6_006, actual_pmpm=900))
    assert [s.key for s in steps] == ["member_months", "attributed_members"]
    assert mm == Decimal(6006) and members == 501
    assert steps[1].formula == "Member months / 12, rounded (not given)"
    _, _, given = member_steps(Figures(member_months=6_006, actual_pmpm=900, members=480))
    assert given == 480
    with pytest.raises(ValueError, match="member months must be positive"):
        member_steps(Figures(member_months=0, actual_pmpm=900))


def test_benchmark_fixed_or_given():
    b = Benchmark(pmpm=1000.0)
    # The contract's 1,000 given back is still the contract's; 1,010 is a given figure.
    steps, pmpm = benchmark_steps(b, Figures(member_months=12, actual_pmpm=900, benchmark_pmpm=1000))
    assert pmpm == Decimal("1000") and steps[0].formula == "Fixed by the contract"
    steps, pmpm = benchmark_steps(b, Figures(member_months=12, actual_pmpm=900, benchmark_pmpm=1010))
    assert pmpm == Decimal("1010") and steps[0].formula == "Given"
    steps, pmpm = benchmark_steps(b, Figures(member_months=12, actual_pmpm=900))
    assert pmpm == Decimal("1000") and steps[0].inputs == {"benchmark.pmpm": 1000.0}


def test_baseline_benchmark_with_a_capped_risk_ratio():
    """Baseline $1,000.00 PMPM, trend 3% for 2 years: 1.03^2 = 1.0609. Risk 1.20 / 1.00 = 1.20,
    positive growth capped at 5% -> 1.05. Benchmark 1,000 x 1.0609 x 1.05 = 1,113.945 -> $1,113.95
    (half up)."""
    b = Benchmark(
        baseline_start="2023-01", baseline_end="2023-12", trend=0.03, risk_adjust=True, risk_growth_cap=0.05
    )
    fig = Figures(
        member_months=12,
        actual_pmpm=900,
        baseline_pmpm=1000,
        trend_years=2,
        baseline_risk=1.0,
        performance_risk=1.2,
    )
    steps, pmpm = baseline_benchmark(b, fig)
    by_key = {s.key: s for s in steps}
    assert [s.key for s in steps] == ["baseline_pmpm", "trend_factor", "risk_factor", "benchmark_pmpm"]
    assert by_key["trend_factor"].value == 1.0609
    assert by_key["risk_factor"].value == 1.05 and by_key["risk_factor"].inputs["uncapped_ratio"] == 1.2
    assert "capped at 5.0%" in by_key["risk_factor"].formula
    assert pmpm == Decimal("1113.95") and by_key["benchmark_pmpm"].value == 1113.95
    # Without risk adjustment: 1,000 x 1.0609 = 1,060.90, and no risk step.
    steps, pmpm = baseline_benchmark(
        Benchmark(baseline_start="2023-01", baseline_end="2023-12", trend=0.03), fig
    )
    assert "risk_factor" not in [s.key for s in steps] and pmpm == Decimal("1060.90")
    with pytest.raises(ValueError, match="historical baseline"):
        baseline_benchmark(b, Figures(member_months=12, actual_pmpm=900))


def test_trend_factor_for_whole_and_fractional_years():
    # 1.04^1 = 1.04 exactly; 1.04^1.5 = 1.04 x sqrt(1.04) = 1.04 x 1.0198039 = 1.0605961 -> 1.060596.
    assert trend_factor(0.04, Decimal(1)) == Decimal("1.040000")
    assert trend_factor(0.04, Decimal("1.5")) == Decimal("1.060596")


def test_expenditure_steps_round_actual_dollars_half_up():
    """Benchmark $1,000 PMPM x 1,000 member months = $1,000,000.00. Actual dollars $969,999.985 ->
    $969,999.99 (half up; half-even would give .98). Gross savings 30,000.01; rate 0.03000001."""
    fig = Figures(member_months=1000, actual_pmpm=970, actual_dollars=969_999.985)
    steps, benchmark, gross, rate = expenditure_steps(fig, Decimal(1000), Decimal(1000))
    assert [s.key for s in steps] == [
        "benchmark_expenditure",
        "actual_pmpm",
        "actual_expenditure",
        "gross_savings",
        "savings_rate",
    ]
    assert benchmark == Decimal("1000000.00") and gross == Decimal("30000.01")
    assert rate == Decimal("0.03000001") and steps[-1].value == 0.03
    assert steps[2].value == 969_999.99
    # Without actual dollars: 970 x 1,000 = 970,000.00.
    steps, _, gross, _ = expenditure_steps(
        Figures(member_months=1000, actual_pmpm=970), Decimal(1000), Decimal(1000)
    )
    assert gross == Decimal("30000.00") and steps[2].formula == "Actual PMPM x member months"


def test_threshold_steps_msr_exactly_met_and_sliding_mlr():
    # Savings rate exactly 3% against a 3% MSR: met. One-sided: no MLR steps, MLR never met.
    t = parse_terms({**BASE, "minimum_savings_rate": 0.03})
    steps, msr_met, mlr_met = threshold_steps(t, 1000, Decimal("30000.00"), Decimal("0.03"))
    assert [s.key for s in steps] == ["minimum_savings_rate", "msr_met"] and msr_met and not mlr_met
    # Two-sided, sliding MLR at 2,000 members: 8.7 - (1000/1999) x 3.7 = 6.849%. Losses of 7% meet it.
    t = parse_terms({**BASE, **TWO_SIDED, "minimum_loss_rate": "mssp"})
    steps, msr_met, mlr_met = threshold_steps(t, 2000, Decimal("-70000.00"), Decimal("-0.07"))
    assert [s.key for s in steps] == ["minimum_savings_rate", "msr_met", "minimum_loss_rate", "mlr_met"]
    assert steps[2].value == 0.06849 and mlr_met and not msr_met


def test_quality_steps_gate_scaled_and_none():
    # Gate 40: 39.99 fails (factor 0), 40 passes, no score is assumed to pass.
    assert quality_steps(Quality("gate", 40.0), 39.99)[1] == 0
    assert quality_steps(Quality("gate", 40.0), 40)[1] == 1
    steps, factor = quality_steps(Quality("gate", 40.0), None)
    assert (
        factor == 1 and steps[1].value == "pass" and steps[1].formula.endswith("(no score: assumed to pass)")
    )
    # Scaled: 87.655 / 100 = 0.87655 -> 0.8766 (four decimals, half up).
    steps, factor = quality_steps(Quality("scaled"), 87.655)
    assert factor == Decimal("0.8766") and steps[1].value == 0.8766
    assert quality_steps(Quality("none"), 10)[1] == 1


def test_sharing_steps_corridors_split_across_two_bands():
    """Benchmark $1,000,000.00, gross savings $70,000.00 (7%), quality factor 0.9. Band 0-5%:
    50,000 x 0.4 x 0.9 = 18,000.00; band 5%+: 20,000 x 0.6 x 0.9 = 10,800.00; shared 28,800.00;
    savings cap 2% = 20,000.00 binds -> final payment 20,000.00."""
    t = parse_terms(
        {
            **BASE,
            "savings_cap": 0.02,
            "corridors": [{"from": 0, "to": 0.05, "rate": 0.4}, {"from": 0.05, "rate": 0.6}],
        }
    )
    steps = sharing_steps(t, Decimal("70000.00"), Decimal("1000000.00"), Decimal("0.9"), True, False)
    by_key = {s.key: s.value for s in steps}
    assert list(by_key) == [
        "sharing_rate",
        "corridor_1",
        "corridor_2",
        "shared_savings",
        "savings_limit",
        "final_payment",
    ]
    assert by_key["sharing_rate"] == "by corridor"
    assert (by_key["corridor_1"], by_key["corridor_2"]) == (18_000.00, 10_800.00)
    assert by_key["shared_savings"] == 28_800.00 and by_key["savings_limit"] == 20_000.00
    assert by_key["final_payment"] == 20_000.00
    # MSR not met: every band shares 0.
    steps = sharing_steps(t, Decimal("70000.00"), Decimal("1000000.00"), Decimal("0.9"), False, False)
    assert [s.value for s in steps if s.key.startswith("corridor_")] == [0.0, 0.0]


def test_shared_losses_steps_loss_limit_and_one_sided():
    # Losses 90,000 x 30% = 27,000.00 owed; loss cap 2% of 1,000,000 = 20,000.00 binds -> -20,000.00.
    t = parse_terms({**BASE, **TWO_SIDED, "shared_loss_rate": 0.3, "loss_cap": 0.02})
    steps, final, _ = shared_losses_steps(t, Decimal("90000.00"), Decimal("1000000.00"), True)
    assert [s.value for s in steps] == [27_000.00, 20_000.00] and final == Decimal("-20000.00")
    # 33,333.33 x 30% = 9,999.999 -> 10,000.00 (below the limit)
    _, final, _ = shared_losses_steps(t, Decimal("33333.33"), Decimal("1000000.00"), True)
    assert final == Decimal("-10000.00")
    # One-sided: losses are never paid; only the sharing rate and the final payment.
    one = parse_terms(BASE)
    steps = sharing_steps(one, Decimal("-90000.00"), Decimal("1000000.00"), Decimal(1), False, False)
    assert [s.key for s in steps] == ["sharing_rate", "final_payment"] and steps[-1].value == 0.0


# ---------------------------------------------------------------- from the claims, piece by piece


def test_projection_of_the_remaining_months():
    """10 months observed: 1,000 member months, $1,000,000 completed (PMPM 1,000). The last month's
    100 members for 2 more months = 200 member months at 1,000 x 1.10 = $220,000. Year: 1,200 member
    months, (1,000,000 + 220,000) / 1,200 = $1,016.67 PMPM."""
    p = Projection(1000.0, 2, 200.0, 0.10)
    assert p.member_months == 1200.0
    assert p.pmpm(1_000_000.0) == pytest.approx(1016.6667, abs=1e-4)


def test_random_half_width_is_the_clustered_ratio_interval():
    """Three members (y dollars, d months): (1200, 12), (600, 12), (0, 6). R = 1,800 / 30 = 60;
    residuals y - R d: 480, -120, -360; squares 230,400 + 14,400 + 129,600 = 374,400;
    var = 3/2 x 374,400 / 30^2 = 624; half-width 1.959964 x sqrt(624) = 48.96."""
    per_person = pd.DataFrame({"y": [1200.0, 600.0, 0.0], "d": [12, 12, 6]})
    assert random_half_width(per_person) == pytest.approx(1.959964 * math.sqrt(624), rel=1e-12)
    assert round(random_half_width(per_person), 2) == 48.96
    assert math.isnan(random_half_width(per_person.head(1)))


def test_settlement_from_claims_is_a_picklable_estimate(with_contract):
    # The page caches the estimate with st.cache_data, which pickles it. The fixture's data run
    # Jan-Jun 2025: 6 months observed, the rest forecast. Without a registry there is no composite:
    # the gate is assumed met.
    ws = built_workspace(with_contract)
    terms = load_terms(with_contract / "contracts" / "beta_2025.yaml")
    est = settlement_for(ws, terms, Viewer.parse("payer"))
    assert isinstance(est, SettlementEstimate)
    assert (est.status, est.observed_months, est.period.label) == ("forecast", 6, "2025-01 to 2025-06")
    assert est.persons == 2 and est.figures.members == 2  # B and C
    assert est.figures.quality_score is None and est.settlement.value("quality_result") == "pass"
    again = pickle.loads(pickle.dumps(est))
    assert again.settlement.rows() == est.settlement.rows() and again.range == est.range
    assert [t.contract_id for t in settlement_claims.contracts_for_viewer(ws, Viewer.parse("payer"))] == [
        "BETA-2025"
    ]
    assert settlement_claims.contracts_for_viewer(ws, Viewer.parse("org:Alpha Care")) == []
