"""What the build precomputes (vbc.serving) gives exactly the numbers computed on demand.

Pages read member-month facts for cost and utilization and the precomputed person-level quality
results; `serving.on_demand()` switches both off, so every figure below is computed twice, once
from the serving tables and once from the claim lines, and the two must be equal. Each check
first asserts that the build really holds the precomputed tables, so the comparison can never be
between two on-demand computations.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from vbc import attribution, cost, quality, serving
from vbc.attribution import AttributionSettings
from vbc.engine import compute_metrics, data_period
from vbc.periods import Period, month_range
from vbc.registry import load_registry
from vbc.security import Viewer

REGISTRY = load_registry()


def _viewers(ws) -> list[Viewer]:
    orgs = ws.connect().execute("SELECT DISTINCT organization FROM member_months ORDER BY 1").fetchall()
    return [Viewer("payer"), Viewer("joint"), Viewer.parse(f"org:{orgs[0][0]}")]


def _both(fn, *args):
    fast = fn(*args)
    with serving.on_demand():
        slow = fn(*args)
    return fast, slow


def _same(fast: pd.DataFrame, slow: pd.DataFrame, what: str) -> None:
    assert len(fast) == len(slow), f"{what}: {len(fast)} rows precomputed, {len(slow)} on demand"
    keys = [c for c in fast.columns if fast[c].dtype == object or str(fast[c].dtype).startswith("str")]
    fast = fast.sort_values(keys).reset_index(drop=True) if keys else fast
    slow = slow.sort_values(keys).reset_index(drop=True) if keys else slow
    pd.testing.assert_frame_equal(fast, slow[fast.columns], check_dtype=False, rtol=1e-9, obj=what)


def _served(ws) -> serving.Served:
    con = ws.connect()
    try:
        return serving.served(ws, con, REGISTRY)
    finally:
        con.close()


def _precomputed_periods(ws) -> list[Period]:
    """Periods the pages offer: the last calendar year and the whole span of the build."""
    span = data_period(ws)
    plan = serving.plan_periods(span.start, span.end, quality.TREND_MONTHS, quality.ROLLING_MONTHS)
    return list(plan.pages)[-2:]


@pytest.mark.parametrize("fixture", ["small", "utilization", "categories", "runout"])
def test_every_metric_equals_its_on_demand_computation(built, fixture):
    ws = built(fixture)
    served = _served(ws)
    assert served.facts, "the build holds no member-month facts"
    cost_like = [m.id for m in REGISTRY if m.id in served.facts]
    assert "total_cost_pmpm" in cost_like
    for period in _precomputed_periods(ws):
        for viewer in _viewers(ws):
            for by in ((), ("organization",), ("month",), ("tin", "npi")):
                fast, slow = _both(compute_metrics, ws, REGISTRY, cost_like, viewer, period, by)
                _same(fast, slow, f"{fixture} {period} {viewer} by {by}")
    # Every other metric (the measures read their precomputed results) once, by organization.
    period = _precomputed_periods(ws)[-1]
    others = [m.id for m in REGISTRY if m.id not in served.facts]
    fast, slow = _both(
        lambda: compute_metrics(ws, REGISTRY, others, Viewer("payer"), period, ("organization",))
    )
    _same(fast, slow, f"{fixture} every other metric")


@pytest.mark.parametrize("fixture", ["small", "utilization", "categories", "runout"])
def test_category_dollars_and_events_equal_their_on_demand_computation(built, fixture):
    """What moved (the Cost page) reads each category's dollars and events from the facts."""
    ws = built(fixture)
    assert serving.has_claim_facts(ws)
    span = data_period(ws)
    orgs = [None, *sorted({v.organization for v in _viewers(ws) if v.organization})]
    for viewer in _viewers(ws):
        for org in orgs if viewer.kind == "payer" else [None]:
            (fast, fast_mm), (slow, slow_mm) = _both(cost.category_events, ws, viewer, span, org)
            assert serving.has_claim_facts(ws)
            keys = ["category", "month"]
            _same(fast.sort_values(keys), slow.sort_values(keys), f"{fixture} {viewer} {org} events")
            _same(fast_mm, slow_mm, f"{fixture} {viewer} {org} member months")
            assert len(fast) > 0


@pytest.mark.parametrize("fixture", ["small", "categories", "runout"])
def test_lag_triangles_and_completion_equal_their_on_demand_computation(built, fixture):
    """Completion factors and ranges from the build's lag facts equal those from claim lines."""
    from vbc import completion
    from vbc.marts import SERVICE_CATEGORIES

    ws = built(fixture)
    assert serving.lag_facts_through(ws) == completion.paid_through(ws)

    def table(viewer, category):
        con = ws.connect()
        try:
            return completion.completion_table(con, ws, viewer, None, category)
        finally:
            con.close()

    for viewer in _viewers(ws):
        for category in (None, *SERVICE_CATEGORIES):
            fast, slow = _both(table, viewer, category)
            _same(fast, slow, f"{fixture} {viewer} {category} completion")


def test_quality_results_are_read_precomputed_and_equal_on_demand(built):
    ws = built("quality")
    served = _served(ws)
    periods = _precomputed_periods(ws)
    measures = [m.id for m in quality.quality_metrics(REGISTRY) if m.periodic]
    assert measures
    assert any(served.find(m, serving.RATE, p) for m in measures for p in periods), "nothing precomputed"
    for period in periods:
        for viewer in _viewers(ws):
            if viewer.kind == "joint":
                continue  # person-level results are refused in the joint view
            for metric_id in measures:
                fast, slow = _both(quality.measure_results, ws, REGISTRY, metric_id, viewer, period)
                _same(fast, slow, f"{metric_id} {period} {viewer}")


def test_demo_build_pages_numbers_equal_on_demand(demo_ws):
    """On a generated demo: every metric by organization for the last calendar year, the
    monthly trend of the cost metrics, and each measure's trend and care gaps."""
    ws = demo_ws
    served = _served(ws)
    assert served.facts
    span = data_period(ws)
    year = Period(date(span.end.year - 1, 1, 1), date(span.end.year - 1, 12, 31))
    ids = [m.id for m in REGISTRY]
    payer, org = _viewers(ws)[0], _viewers(ws)[2]
    for viewer in (payer, Viewer("joint"), org):
        fast, slow = _both(compute_metrics, ws, REGISTRY, ids, viewer, year, ("organization",))
        _same(fast, slow, f"demo {viewer} by organization")
    cost_ids = [m for m in ids if m in served.facts]
    fast, slow = _both(compute_metrics, ws, REGISTRY, cost_ids, payer, span, ("month",))
    _same(fast, slow, "demo cost by month")
    for metric in quality.quality_metrics(REGISTRY)[:3]:
        fast, slow = _both(quality.trend, ws, REGISTRY, metric.id, org)
        _same(fast, slow, f"demo {metric.id} trend")
    fast, slow = _both(quality.care_gaps, ws, REGISTRY, org, year)
    _same(fast, slow, "demo care gaps")
    before = Period(date(year.start.year - 1, 1, 1), date(year.start.year - 1, 12, 31))
    fast, slow = _both(cost.what_moved, ws, payer, before, year)
    _same(pd.DataFrame(fast), pd.DataFrame(slow), "demo what moved")
    for viewer in (payer, org):
        fast, slow = _both(
            attribution.page_data, ws, viewer, year.start, year.end, AttributionSettings(), ("tin",)
        )
        for part in ("counts", "moves", "members"):
            _same(fast[part], slow[part], f"demo {viewer} attribution {part}")


def _year_population(ws, settings, year):
    con = ws.connect()
    try:
        source = attribution.year_population(con, settings, year)
        rows = con.execute("SELECT * FROM contract_member_months").df()
        return source, rows
    finally:
        con.close()


@pytest.mark.parametrize("fixture", ["small", "utilization"])
def test_attribution_read_from_the_build_equals_the_pick_on_demand(built, fixture):
    """The Attribution page's counts, gains and losses and member list (with reasons), for every
    setting a page offers, and each performance year's population, equal the pick over the claims."""
    ws = built(fixture)
    con = ws.connect()
    try:
        assert not attribution.supplied(con)
        assert con.execute(f"SELECT count(*) FROM {attribution.PICKS}").fetchall()[0][0] > 0
        span = data_period(ws)
        # The page's default setting is read from the build for every month it shows.
        attribution._assign(con, AttributionSettings(), month_range(span.start, span.end))
        assert attribution._picks_cover(con)
    finally:
        con.close()
    for settings in (AttributionSettings(), AttributionSettings(12, "prospective"), AttributionSettings(24)):
        for viewer in _viewers(ws):
            for by in (("organization",), ("organization", "tin", "npi")):
                fast, slow = _both(attribution.page_data, ws, viewer, span.start, span.end, settings, by)
                for part in ("counts", "moves", "members"):
                    if part in slow:
                        _same(fast[part], slow[part], f"{fixture} {settings} {viewer} {by} {part}")
        for year in range(span.start.year, span.end.year + 1):
            (fast_source, fast), (slow_source, slow) = _both(_year_population, ws, settings, year)
            assert fast_source == slow_source
            _same(fast, slow, f"{fixture} {settings} {year} population")


def test_risk_scores_read_from_the_build_equal_the_model_on_demand(built):
    """The build's CMS-HCC scores (vbc.hcc) are the model's scores computed at view time."""
    from vbc import hcc, risk

    ws = built("small")
    con = ws.connect()
    try:
        years = [r[0] for r in con.execute(f"SELECT DISTINCT year FROM {hcc.TABLE} ORDER BY 1").fetchall()]
    finally:
        con.close()
    span = data_period(ws)
    assert years == list(range(span.start.year, span.end.year + 1))
    for year in years:
        fast, slow = _both(risk.computed_scores, ws, year)
        assert len(fast) > 0
        _same(fast, slow, f"{year} scores")
