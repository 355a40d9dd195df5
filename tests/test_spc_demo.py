"""The demo's planted stories through the charts the pages draw (vbc.readings.chart_for), on three
years of demo data: the winter ED pattern is judged against the usual season, the organizations'
charts read common-cause, the high-cost claimant is a signal only uncapped, and `python -m vbc spc`
prints what the pages draw, point by point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from vbc import cost, readings, spc, stats
from vbc.registry import load_registry
from vbc.security import Viewer

ORGS = ("Riverbend Health Partners", "Lakeside Physician Group", "Cedar Hollow Family Medicine")
SUMMER = ("06", "07", "08")


@pytest.fixture(scope="module")
def demo36(tmp_path_factory):
    """Three years of demo data (6,000 members, seed 7): enough complete months to test a season.
    The session's demo_extract has 24 months, of which only 20 are complete."""
    from vbc.demo import generate
    from vbc.workspace import Workspace

    base = tmp_path_factory.mktemp("demo36")
    data, state = base / "data", base / "state"
    generate(data, members=6000, months=36, seed=7)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VBC_STATE_DIR", str(state))
        ws = Workspace.open(data)
        result = ws.build()
    assert result.ok, result.report.text()
    return ws, state


@pytest.fixture(scope="module")
def reg():
    return load_registry()


def _story(ws, name: str) -> dict:
    return json.loads((Path(ws.data_dir) / "_demo.json").read_text())["stories"][name]


@pytest.mark.parametrize("viewer", ["payer", "joint"])
def test_ed_chart_is_judged_against_the_season_and_its_summers_are_ordinary(demo36, reg, viewer):
    ws, _ = demo36
    res = readings.chart_for(ws, reg, Viewer.parse(viewer), "ed_visits_per_1000")
    assert res["season"].seasonal, res["season"].note  # the planted winter pattern is found
    assert res["reading"] == stats.COMMON
    assert "judged against the usual season" in res["detail"][0]
    summers = [s for m, s in zip(res["months"], res["signal"]) if m[5:] in SUMMER and s != "left out"]
    assert len(summers) >= 6 and set(summers) == {"common"}
    # Winter is expected higher than summer: the expectation carries the season.
    exp = dict(zip(res["months"], res["expectation"]))
    assert exp["2025-01"] > exp["2025-07"]


@pytest.mark.parametrize("org", ORGS)
def test_organizations_cost_and_ed_charts_read_common_cause(demo36, reg, org):
    ws, _ = demo36
    for metric_id in ("total_cost_pmpm_completed", "ed_visits_per_1000"):
        res = readings.chart_for(ws, reg, Viewer("payer"), metric_id, filters={"organization": org})
        assert res["reading"] == stats.COMMON, (metric_id, res["detail"])
        assert res["season"].tested  # 32 complete months: the season could be tested
        if res["season"].seasonal:
            assert "concern" not in res["signal"] and "improvement" not in res["signal"], metric_id


def test_planted_high_cost_claimant_is_a_signal_only_uncapped(demo36, reg):
    ws, _ = demo36
    story = _story(ws, "high_cost_claimant")
    flagged = {}
    for name, cap in (("uncapped", None), ("capped", cost.DEFAULT_CAP)):
        res = readings.chart_for(
            ws,
            reg,
            Viewer("payer"),
            "total_cost_pmpm_completed",
            filters={"organization": story["organization"]},
            cap=cap,
        )
        flagged[name] = {
            m: s for m, s in zip(res["months"], res["signal"]) if s in ("concern", "improvement")
        }
    assert flagged["uncapped"] and set(flagged["uncapped"]) <= set(story["months"])
    assert set(flagged["uncapped"].values()) == {"concern"}
    assert not set(flagged["capped"]) & set(story["months"])


def _cli_rows(state: Path, ws, *args: str) -> dict:
    out = run_cli("spc", "--data", str(ws.data_dir), *args, "--format", "json", state=state)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _same(cli_rows: list[dict], page_rows: list[dict]) -> None:
    assert len(cli_rows) == len(page_rows)
    for c, p in zip(cli_rows, page_rows):
        assert c.keys() == p.keys()
        for k in p:
            if isinstance(p[k], float):
                assert c[k] == pytest.approx(p[k], rel=1e-12, abs=1e-12), (p["month"], k)
            else:
                assert c[k] == p[k], (p["month"], k)


def test_cli_agrees_point_by_point_with_the_pages(demo36, reg):
    """The Utilization page's ED chart (joint view) and the Cost page's capped chart for one
    organization, as the pages compute them (vbc.ui.context.spc_chart: chart_for with the data
    directory's change points), against `python -m vbc spc`."""
    ws, state = demo36
    cps = tuple(spc.load_change_points(ws.data_dir))
    page = readings.chart_for(ws, reg, Viewer("joint"), "ed_visits_per_1000", filters={}, change_points=cps)
    doc = _cli_rows(state, ws, "--metric", "ed_visits_per_1000", "--viewer", "joint")
    _same(doc["rows"], readings.point_rows(page))
    assert doc["charts"][0]["reading"] == page["reading"] and doc["stamp"]["viewer"] == "joint"

    org = "Lakeside Physician Group"
    doc = _cli_rows(
        state, ws, "--metric", "total_cost_pmpm_completed", "--by", "organization", "--cap", "250000"
    )
    assert {c["organization"] for c in doc["charts"]} >= set(ORGS)
    page = readings.chart_for(
        ws,
        reg,
        Viewer("payer"),
        "total_cost_pmpm_completed",
        filters={"organization": org},
        cap=cost.DEFAULT_CAP,
        change_points=cps,
    )
    rows = [r for r in doc["rows"] if r["organization"] == org]
    _same(rows, readings.point_rows(page, {"organization": org}))
