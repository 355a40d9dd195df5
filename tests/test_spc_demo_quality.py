"""The demo's planted Lakeside blood-pressure improvement through the chart the Quality page draws
(vbc.readings.chart_for): with the shipped change point it reads "special cause — improvement" and
the months before the improvement are judged against their own limits; without it, the chart
proposes the change point; `python -m vbc spc --by organization` prints what the page draws."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from vbc import readings, spc, stats
from vbc.registry import load_registry
from vbc.security import Viewer

BP = "controlling_blood_pressure"


@pytest.fixture(scope="module")
def built_demo(demo_extract, tmp_path_factory):
    """The session's demo extract (2,500 members, 24 months, seed 11) built in a state directory the
    command line finds too (VBC_STATE_DIR)."""
    from vbc.workspace import Workspace

    state = tmp_path_factory.mktemp("spc-quality-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VBC_STATE_DIR", str(state))
        ws = Workspace.open(demo_extract)
        result = ws.ensure_built()
    assert result is None or result.ok
    return ws, state


@pytest.fixture(scope="module")
def story(demo_extract):
    return json.loads((demo_extract / "_demo.json").read_text())["stories"]["quality_improvement"]


@pytest.fixture(scope="module")
def lakeside(built_demo, story):
    """Lakeside's chart as the Quality page draws it for the payer with Lakeside chosen."""
    ws, _ = built_demo
    cps = tuple(spc.load_change_points(ws.data_dir))
    return readings.chart_for(
        ws,
        load_registry(),
        Viewer("payer"),
        BP,
        filters={"organization": story["organization"]},
        change_points=cps,
    )


def test_the_demo_declares_its_planted_change(built_demo, story):
    ws, _ = built_demo
    (cp,) = spc.load_change_points(ws.data_dir)
    assert (cp.metric_id, cp.organization, cp.month) == (BP, story["organization"], story["start_month"])


def test_planted_improvement_reads_improvement_without_blaming_the_past(lakeside, story):
    res = lakeside
    start = story["start_month"]
    assert res["reading"] == stats.IMPROVEMENT
    before, after = res["phases"]
    assert after["first"] == start and after["source"] == "change point"
    assert after["centre"] > before["centre"]
    pre = [s for m, s in zip(res["months"], res["signal"]) if m < start]
    assert pre and "concern" not in pre
    assert res["change"]["side"] == 1 and any("limits rebased at" in d for d in res["detail"])


def test_without_the_change_point_the_chart_proposes_it(built_demo, lakeside, story):
    ws, _ = built_demo
    # The same months, no change point declared: fix-and-extend limits and a proposal.
    res = readings.chart_of_series(ws, load_registry().get(BP), lakeside["series"], ())
    assert res["proposal"] == {"month": story["start_month"]}
    assert res["reading"] == stats.IMPROVEMENT
    assert f"a sustained shift from {story['start_month']}: confirm it as a change point" in " ".join(
        res["detail"]
    )
    assert "concern" not in [s for m, s in zip(res["months"], res["signal"]) if m < story["start_month"]]


def test_cli_by_organization_agrees_with_the_quality_page(built_demo, lakeside, story):
    ws, state = built_demo
    out = run_cli(
        "spc",
        "--data",
        str(ws.data_dir),
        "--metric",
        BP,
        "--by",
        "organization",
        "--format",
        "json",
        state=state,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    org = story["organization"]
    charts = {c["organization"]: c for c in doc["charts"]}
    assert charts[org]["reading"] == stats.IMPROVEMENT
    assert [p["first"] for p in charts[org]["phases"]] == [lakeside["months"][0], story["start_month"]]
    for other, chart in charts.items():
        if other != org:
            assert chart["reading"] == stats.COMMON, other
    rows = [r for r in doc["rows"] if r["organization"] == org]
    page = readings.point_rows(lakeside, {"organization": org})
    assert len(rows) == len(page)
    for c, p in zip(rows, page):
        for k, v in p.items():
            assert c[k] == (pytest.approx(v, rel=1e-12) if isinstance(v, float) else v), (p["month"], k)
