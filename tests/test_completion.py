"""Claims run-out: chain-ladder factors on a small hand-worked triangle, the same triangle built
from claims by DuckDB, completed PMPM through the engine and the CLI, and the demo backtest.

Hand-worked triangle (cumulative paid dollars; rows = incurred month, columns = lag in months):

                 lag 0   lag 1   lag 2
    2025-01        100     160     176
    2025-02        200     290       .
    2025-03        300       .       .      (paid through 2025-03-31)

  development factor lag 0 -> 1 = (160 + 290) / (100 + 200) = 450 / 300 = 1.5
  development factor lag 1 -> 2 = 176 / 160                         = 1.1
  cumulative to ultimate:  lag 2: 1,  lag 1: 1.1,  lag 0: 1.5 × 1.1 = 1.65
  completion factor (share paid): Jan 1,  Feb 1/1.1 = 0.9091,  Mar 1/1.65 = 0.6061
  completed dollars:              Jan 176, Feb 290 × 1.1 = 319, Mar 300 × 1.65 = 495  (total 990)

  Mack: individual link ratios at lag 0 are 160/100 = 1.6 and 290/200 = 1.45, so
  sigma0² = (100·(1.6−1.5)² + 200·(1.45−1.5)²) / (2 − 1) = 1 + 0.5 = 1.5; lag 1 rests on one row,
  so sigma1² takes sigma0² = 1.5. Feb's relative variance = sigma1²/f1² · (1/290 + 1/160).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vbc import completion
from vbc.engine import compute_metrics
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import Viewer

HAND = np.array([[100.0, 160.0, 176.0], [200.0, 290.0, np.nan], [300.0, np.nan, np.nan]])


def test_chain_ladder_matches_hand_worked_factors():
    cl = completion.chain_ladder(HAND)
    assert cl["factors"].tolist() == pytest.approx([1.5, 1.1])
    assert cl["cdf"].tolist() == pytest.approx([1.65, 1.1, 1.0])
    assert cl["completion"].tolist() == pytest.approx([1.0, 1 / 1.1, 1 / 1.65])
    assert cl["ultimate"].tolist() == pytest.approx([176.0, 319.0, 495.0])
    assert cl["sigma2"].tolist() == pytest.approx([1.5, 1.5])
    assert cl["rel_se"][0] == 0.0
    assert cl["rel_se"][1] == pytest.approx(math.sqrt(1.5 / 1.1**2 * (1 / 290 + 1 / 160)))
    assert cl["rel_se"][2] > cl["rel_se"][1]


@pytest.fixture
def runout_ws(built):
    """The runout fixture (tests/conftest.py), built once per session."""
    return built("runout")


def test_triangle_from_claims_and_completion_table(runout_ws):
    con = runout_ws.connect()
    try:
        table = completion.completion_table(con, runout_ws, Viewer("payer"))
    finally:
        con.close()
    assert table["month"].tolist() == ["2025-01", "2025-02", "2025-03"]
    assert table["raw"].tolist() == pytest.approx([176, 290, 300])
    assert table["completion_factor"].tolist() == pytest.approx([1.0, 1 / 1.1, 1 / 1.65])
    assert table["completed"].tolist() == pytest.approx([176, 319, 495])
    assert table["incomplete"].tolist() == [False, True, True]


def test_completed_pmpm_through_the_engine(runout_ws):
    registry = load_registry()
    period = Period.from_months("2025-01", "2025-03")
    df = compute_metrics(
        runout_ws,
        registry,
        ["total_cost_pmpm", "total_cost_pmpm_completed"],
        Viewer("payer"),
        period,
        ["month"],
    )
    comp = df[df.metric_id == "total_cost_pmpm_completed"].set_index("month")
    # 2 members each month; completed dollars 176, 319, 495
    assert comp["value"].tolist() == pytest.approx([176 / 2, 319 / 2, 495 / 2])
    assert comp["incomplete"].tolist() == [False, True, True]
    assert comp.loc["2025-01", "ci_low"] == pytest.approx(88.0)  # a complete month has no range
    assert comp.loc["2025-03", "ci_low"] < 495 / 2 < comp.loc["2025-03", "ci_high"]
    total = compute_metrics(runout_ws, registry, ["total_cost_pmpm_completed"], Viewer("payer"), period)
    assert total.iloc[0]["value"] == pytest.approx(990 / 6)
    assert total.iloc[0]["numerator"] == pytest.approx(990)
    # The professional category holds every dollar here, so its completed PMPM is the same.
    prof = compute_metrics(runout_ws, registry, ["pmpm_professional_completed"], Viewer("payer"), period)
    assert prof.iloc[0]["value"] == pytest.approx(990 / 6)


def test_a_sub_group_range_widens_with_its_smaller_volume(runout_ws):
    # Factors f = (1.5, 1.1), sigma2 = (1.5, 1.5); s_k = (300, 160) dollars behind each factor.
    # Feb (lag 1, one step to go): scope 290 = Alpha 200 (X) + Beta 90 (Y). Mack's relative
    # variance for a volume v: 1.5 / 1.1^2 * (1/v + 1/160): the group's own v for the process part.
    # Mar (lag 0): all 300 is Alpha's, so Alpha has the scope's range; Beta has no March dollars.
    registry = load_registry()
    period = Period.from_months("2025-01", "2025-03")
    df = compute_metrics(
        runout_ws, registry, ["total_cost_pmpm_completed"], Viewer("payer"), period, ["organization"]
    ).set_index("organization")
    cl = completion.chain_ladder(HAND)
    rel_feb = lambda v: math.sqrt(1.5 / 1.1**2 * (1 / v + 1 / 160))  # noqa: E731
    rel_mar = cl["rel_se"][2]
    z = completion.Z95
    # Alpha: Jan 100 (complete), Feb 200 x 1.1 = 220, Mar 300 x 1.65 = 495; 3 member months.
    assert df.loc["Alpha Care", "value"] == pytest.approx((100 + 220 + 495) / 3)
    assert df.loc["Alpha Care", "ci_high"] == pytest.approx(
        (100 + 220 * (1 + z * rel_feb(200)) + 495 * (1 + z * rel_mar)) / 3
    )
    # Beta: Jan 76 (complete), Feb 90 x 1.1 = 99; 3 member months.
    assert df.loc["Beta Health", "value"] == pytest.approx((76 + 99) / 3)
    assert df.loc["Beta Health", "ci_low"] == pytest.approx((76 + 99 * (1 - z * rel_feb(90))) / 3)
    assert rel_feb(90) > rel_feb(290) == pytest.approx(cl["rel_se"][1])


def test_cli_exports_completed_metrics_with_their_range(runout_ws, capsys):
    from vbc.cli import main

    assert main(["metrics", "--data", str(runout_ws.data_dir), "--format", "json"]) == 0
    rows = {r["metric_id"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    for cat in (
        "inpatient",
        "outpatient",
        "professional",
        "emergency",
        "snf",
        "home_health",
        "dme",
        "pharmacy",
        "other",
    ):
        assert f"pmpm_{cat}_completed" in rows and f"pmpm_{cat}" in rows
    row = rows["total_cost_pmpm_completed"]
    assert row["value"] == pytest.approx(165.0)
    assert row["ci_low"] < 165.0 < row["ci_high"]
    assert main(["metrics", "--data", str(runout_ws.data_dir), "--metric", "no_such_completed"]) == 2


def test_backtest_on_demo_data_by_lag(demo_ws):
    ws = demo_ws
    bt = completion.backtest(ws)
    table = completion.backtest_by_lag(bt)
    assert table["lag"].tolist()[:3] == [0, 1, 2]
    assert (table["cells"] > 0).all()
    lag0 = table.set_index("lag").loc[0]
    # Raw dollars at lag 0 are far short of what was eventually paid; completion is much closer.
    assert lag0["raw_shortfall"] < -0.5
    assert lag0["mean_abs_error"] < abs(lag0["raw_shortfall"]) / 3
    # Old months are complete: completed == raw == eventually paid.
    assert table.set_index("lag").loc[11, "mean_abs_error"] < 0.01


def test_cli_exports_every_cost_and_utilization_metric(runout_ws, capsys):
    from vbc.cli import main

    registry = load_registry()
    wanted = [m.id for m in registry if m.domain in ("cost", "utilization")]
    assert {
        "total_allowed_pmpm",
        "inpatient_admits_per_1000",
        "advanced_imaging_per_1000",
        "cost_per_admission",
        "cost_per_ed_visit",
    } <= set(wanted)
    assert main(["metrics", "--data", str(runout_ws.data_dir), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert set(wanted) <= {r["metric_id"] for r in rows}
    assert main(["metrics", "--data", str(runout_ws.data_dir), "--format", "json", "--by", "month"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    engine = compute_metrics(
        runout_ws,
        registry,
        ["pmpm_professional_completed"],
        Viewer("payer"),
        Period.from_months("2025-01", "2025-03"),
        ["month"],
    )
    cli = {r["month"]: r["value"] for r in rows if r["metric_id"] == "pmpm_professional_completed"}
    assert cli == {m: pytest.approx(v) for m, v in zip(engine["month"], engine["value"])}


def test_cost_page_shows_the_engine_numbers(runout_ws, monkeypatch, tmp_path):
    from tests.conftest import open_page

    at = open_page(
        runout_ws.data_dir, "pages/cost.py", "payer", monkeypatch, period="2025", state_root=tmp_path
    )
    text = "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)
    assert "$165.00" in text  # completed PMPM, = total_cost_pmpm_completed
    assert "$127.67" in text  # raw PMPM 766 / 6
    assert "2 incomplete month(s): 2025-02, 2025-03" in text
