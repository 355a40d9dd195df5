"""Quality measures: person-level results, trends with SPC, care gaps and the contract composite.

Every rate here comes from the metric engine (`vbc.engine.compute_metric`) over the measure's own
definition in `metrics/`, so the Quality page, the command line and the settlement read the same
numbers. This module adds what a measure needs beyond a rate:

- `measure_results`: one row per person (or per index discharge) with in-denominator, excluded and
  why, in-numerator and the evidence. Member-level: refused for the joint view; a provider
  organization's viewer only ever gets its own attributed members (a bound parameter in SQL).
- `trend`: for each month, the measure over that month alone (the monthly point a p-chart needs:
  non-overlapping periods, so points are independent) and over the 12 months ending that month
  (the rolling value, for the trend line; autocorrelated, so never put through the SPC rules).
  What a monthly point means for each measure is written in its definition (`trend.monthly`);
  measures whose annual denominator counts people without an event that month (blood pressure,
  HbA1c) restrict the monthly point to people with a reading that month (`trend.monthly_filter`),
  and measures whose lookback windows the specification anchors to the period's first day read a
  month's point with windows of the 12 months ending that month (`trend.constants`), so every
  point looks back equally far.
- `control_chart`: p-chart (or Laney p′, see below) with the NHS "Making Data Count" rules.
- `care_gaps`: members in a denominator without the numerator (for lower-is-better measures: in
  the numerator), with what would close the gap, the attributed PCP and the last primary care visit.
- `quality_composite`: the contract's weighted 0-100 score and share of measures meeting target.

Laney p′ or p: monthly denominators here run from dozens to thousands. With large denominators a
plain p-chart's limits are so tight that ordinary month-to-month (over-dispersed) variation would
be flagged; Laney p′ widens the limits by σz, the spread of the points' z-scores (their average
moving range / 1.128). We use p′ when σz > 1 (more spread than the binomial alone explains) and
the plain p-chart otherwise, so limits are never narrower than binomial noise requires.
"""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from vbc import completion, engine, serving, spc
from vbc.periods import Period, add_months, month_label, month_range
from vbc.registry import Metric, Registry, with_constants
from vbc.scope import clean_filters, member_scope
from vbc.security import Viewer, require_member_level
from vbc.workspace import Workspace

ROLLING_MONTHS = 12
# Control charts show the latest TREND_MONTHS months (NHS guidance: 20 or more points).
TREND_MONTHS = 24
# Composite: a measure short of its target earns points falling linearly to 0 at this many
# percentage points (as a fraction) short of the target.
PARTIAL_SPAN = 0.20
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
RESULT_COLUMNS = [
    "person_id",
    "payer",
    "anchor_month",
    "organization",
    "tin",
    "npi",
    "in_denominator",
    "excluded",
    "exclusion_reason",
    "in_numerator",
    "evidence_code",
    "evidence_date",
    "detail",
]


# ------------------------------------------------------------------------------------------------
# The catalog


def quality_metrics(registry: Registry, include_variants: bool = False) -> list[Metric]:
    """Quality-domain proportion measures, in scorecard order (the definitions' `display.quality`),
    then any others by id."""
    ms = [
        m
        for m in registry
        if m.domain == "quality" and m.kind == "proportion" and (include_variants or not m.variant_of)
    ]
    last = len(ms) + 1_000
    return sorted(ms, key=lambda m: (m.display.get("quality", last), m.id))


def monthly_note(metric: Metric) -> str:
    return str((metric.options.get("trend") or {}).get("monthly", "")).strip()


def gap_action(metric: Metric) -> str | None:
    gap = metric.options.get("care_gap")
    return (gap or {}).get("action") if isinstance(gap, dict) else None


# ------------------------------------------------------------------------------------------------
# Contract targets


def target_for(metric: Metric, contract) -> tuple[float | None, str]:
    """(target, where it comes from): the contract's measure target, else the definition's."""
    if contract is not None and metric.id in contract.measures:
        return contract.measures[metric.id].target, f"contract {contract.contract_id}"
    if metric.target is not None:
        return metric.target, "definition"
    return None, ""


def meets(metric: Metric, rate: float | None, target: float | None) -> bool | None:
    if rate is None or target is None or (isinstance(rate, float) and math.isnan(rate)):
        return None
    return rate >= target if metric.direction == "higher" else rate <= target


# ------------------------------------------------------------------------------------------------
# Person-level results


def _person_rows(
    con: duckdb.DuckDBPyConnection,
    metric: Metric,
    viewer: Viewer,
    period: Period,
    filters: dict,
    npi: str | None = None,
    served: serving.Served = serving.NOTHING,
) -> pd.DataFrame:
    """The metric's own rows joined to the viewer's member months at the anchor month, exactly as
    the engine joins them (so these rows add up to the engine's numerator and denominator); read
    from the build's precomputed results when it holds this period with its detail."""
    scope = member_scope(viewer, {**filters, "npi": npi})
    hit = served.find(metric.id, serving.RATE, period, detail=True)
    if hit:
        key, _, cols = hit
        listed = ", ".join(cols)
        sql = f"""
        SELECT {listed}, organization AS mm_organization, tin AS mm_tin, npi AS mm_npi
        FROM quality_results WHERE result_key = $result_key {scope.sql}
        ORDER BY {listed}
        """
        return con.execute(sql, {**scope.params, "result_key": key}).df()
    params = engine.query_params(metric, period, scope.params)
    serving.ensure_events(con, served)
    serving.set_periods(con, [(0, period.start, period.end)])
    engine.prepare(con, metric)
    sql = f"""
    WITH mm AS (
        SELECT * FROM member_months
        WHERE year_month BETWEEN $month_start AND $month_end {scope.sql}
    ), m AS (
        {metric.sql}
    )
    SELECT m.* EXCLUDE (period_id), mm.organization AS mm_organization, mm.tin AS mm_tin, mm.npi AS mm_npi
    FROM m JOIN mm ON m.person_id = mm.person_id AND m.payer = mm.payer AND m.year_month = mm.year_month
    ORDER BY ALL  -- every column: a person with several index stays gets a stable order
    """
    return con.execute(sql, params).df()


def _iso(v) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, datetime):
        v = v.date()
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def _shape_results(metric: Metric, raw: pd.DataFrame, with_gap: bool = False) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "person_id": raw["person_id"].astype(str),
            "payer": raw["payer"],
            "anchor_month": [_iso(v)[:7] if _iso(v) else None for v in raw["year_month"]],
            "organization": raw["mm_organization"],
            "tin": raw["mm_tin"],
            "npi": raw["mm_npi"],
            "in_denominator": raw["denominator"].fillna(0).astype(float) > 0,
            "excluded": raw["excluded"].fillna(False).astype(bool) if "excluded" in raw else False,
            "exclusion_reason": raw["exclusion_reason"] if "exclusion_reason" in raw else None,
            "in_numerator": (raw["numerator"].fillna(0).astype(float) > 0)
            & (raw["denominator"].fillna(0).astype(float) > 0),
            "evidence_code": raw["evidence_code"] if "evidence_code" in raw else None,
            "evidence_date": [_iso(v) for v in raw["evidence_date"]] if "evidence_date" in raw else None,
            "detail": raw["detail"] if "detail" in raw else None,
        }
    )
    if with_gap and "gap" in raw:
        out["gap"] = raw["gap"]
    for extra in ("stay_id", "discharge_date"):
        if extra in raw:
            out[extra] = [_iso(v) for v in raw[extra]] if extra.endswith("date") else raw[extra]
    for c in ("exclusion_reason", "evidence_code", "detail", "organization", "tin", "npi", "gap", "stay_id"):
        if c in out:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    out.insert(0, "metric_id", metric.id)
    return out.reset_index(drop=True)


def measure_results(
    ws: Workspace,
    registry: Registry,
    metric_id: str,
    viewer: Viewer,
    period: Period,
    filters: dict | None = None,
    npi: str | None = None,
) -> pd.DataFrame:
    """One row per person (per index discharge for the discharge measures) in the measure's
    initial population: in_denominator, excluded and why, in_numerator, evidence code and date,
    and the attributed organization, TIN and PCP NPI at the anchor month.

    Member-level data: raises NotEntitled for the joint view. A provider organization's viewer
    gets only the members attributed to it (the organization is a bound SQL parameter).
    """
    require_member_level(viewer)
    metric = registry.get(metric_id)
    if metric.kind != "proportion":
        raise ValueError(f"'{metric_id}' is not a person-level measure (kind {metric.kind})")
    con = ws.connect()
    try:
        served = serving.served(ws, con, registry)
        raw = _person_rows(con, metric, viewer, period, clean_filters(filters), npi, served)
    finally:
        con.close()
    return _shape_results(metric, raw)


# ------------------------------------------------------------------------------------------------
# Trends: monthly points for the p-chart, rolling 12-month values for the trend line


def _restricted(metric: Metric, column: str) -> Metric:
    if not _IDENT.match(column):
        raise ValueError(f"{metric.id}: trend.monthly_filter must be a column name, got {column!r}")
    return dataclasses.replace(metric, sql=f"SELECT * FROM (\n{metric.sql}\n) WHERE {column}")


def monthly_metric(metric: Metric) -> Metric:
    """What a trend's monthly point evaluates: the measure with its `trend.constants`, restricted
    by `trend.monthly_filter` when the definition has one."""
    options = metric.options.get("trend") or {}
    monthly = with_constants(metric, options.get("constants") or {})
    column = options.get("monthly_filter")
    return _restricted(monthly, column) if column else monthly


def trend(
    ws: Workspace,
    registry: Registry,
    metric_id: str,
    viewer: Viewer,
    filters: dict | None = None,
    by: list[str] | tuple[str, ...] = (),
    first: date | None = None,
    last: date | None = None,
    rolling: bool = True,
) -> pd.DataFrame:
    """Per month (and per `by` group): the monthly point and the rolling 12-month value.

    Columns: month (YYYY-MM), <by...>, numerator, denominator, value (the monthly point, restricted
    by trend.monthly_filter when the definition has one), suppressed, and rolling_numerator,
    rolling_denominator, rolling_value, rolling_ci_low, rolling_ci_high, rolling_suppressed
    (NaN until 12 months of data precede the month). Every month's point (and every rolling
    window) is read from the build's precomputed results, or evaluated in one query together.
    """
    metric = registry.get(metric_id)
    full = engine.data_period(ws)
    last = (last or full.end).replace(day=1)
    first = max((first or add_months(last, -(TREND_MONTHS - 1))).replace(day=1), full.start.replace(day=1))
    filters = clean_filters(filters)
    by = list(by)
    months = month_range(first, last)
    short = short_history_months(ws, metric, [month_label(m) for m in months])
    # A month whose lookback reaches before the data would be left out of the chart anyway.
    judged = [m for m, too_short in zip(months, short) if not too_short]
    windows = [
        m for m in judged if rolling and add_months(m, -(ROLLING_MONTHS - 1)) >= full.start.replace(day=1)
    ]
    con = ws.connect()
    try:
        served = serving.served(ws, con, registry)
        points = engine.compute_periods_long(
            con,
            monthly_metric(metric),
            viewer,
            [Period.of_months(m, m) for m in judged],
            by,
            filters,
            served,
            serving.MONTHLY,
        )
        rolled = engine.compute_periods_long(
            con,
            metric,
            viewer,
            [Period.of_months(add_months(m, -(ROLLING_MONTHS - 1)), m) for m in windows],
            by,
            filters,
            served,
        )
    finally:
        con.close()
    frames = [_empty_point(m, by) for m in months if m not in set(judged)]
    if judged:
        points = points[["period_index", *by, "numerator", "denominator", "value", "suppressed"]]
        points.insert(0, "month", [month_label(judged[i]) for i in points["period_index"]])
        merged = points.drop(columns=["period_index"])
        if windows:
            rolled = rolled[["period_index", *by, *_ROLLING, "suppressed"]]
            rolled = rolled.rename(columns={c: f"rolling_{c}" for c in rolled.columns if c not in by})
            rolled.insert(0, "month", [month_label(windows[i]) for i in rolled["rolling_period_index"]])
            merged = merged.merge(
                rolled.drop(columns=["rolling_period_index"]),
                on=["month", *by],
                how="outer" if by else "left",
            )
        frames.insert(0, merged)
    out = _trend_frame(frames)
    order = {month_label(m): i for i, m in enumerate(months)}
    out["_order"] = out["month"].map(order)
    out = out.sort_values(["_order", *by], kind="stable", na_position="last").drop(columns=["_order"])
    return out.reset_index(drop=True)


_ROLLING = ("numerator", "denominator", "value", "ci_low", "ci_high")


def _empty_point(month: date, by: list[str]) -> pd.DataFrame:
    """A month not computed (its lookback reaches before the data): no denominator."""
    if by:
        return pd.DataFrame(columns=["month", *by])
    row = {"month": month_label(month), "numerator": math.nan, "denominator": 0.0, "value": math.nan}
    return pd.DataFrame([{**row, "suppressed": False}])


def _trend_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    # By groups with no month judged (every lookback reaches before the data) there are no points.
    for c in ("numerator", "denominator", "value"):
        if c not in out:
            out[c] = np.nan
    if "suppressed" not in out:
        out["suppressed"] = False
    for c in (f"rolling_{c}" for c in _ROLLING):
        if c not in out:
            out[c] = np.nan
        out[c] = out[c].astype(float)
    if "rolling_suppressed" not in out:
        out["rolling_suppressed"] = False
    out["rolling_suppressed"] = out["rolling_suppressed"].fillna(False).astype(bool)
    out["suppressed"] = out["suppressed"].fillna(False).astype(bool)
    return out


def short_history_months(ws: Workspace, metric: Metric, months: list[str]) -> list[bool]:
    """Months whose lookback (trend.lookback_months) reaches before the first month of data.

    Such a point sees less history than the definition asks for, so it is biased low and rises as
    history accumulates; charting it would show that rise as a signal. These months are drawn
    hollow and left out of the limits and rules."""
    lookback = int((metric.options.get("trend") or {}).get("lookback_months") or 0)
    first_ok = add_months(engine.data_period(ws).start.replace(day=1), lookback)
    return [m < f"{first_ok:%Y-%m}" for m in months]


def runout_months_flags(ws: Workspace, metric: Metric, months: list[str]) -> list[bool]:
    """Months inside the claims run-out window, for measures whose evidence is on claims."""
    if (metric.options.get("trend") or {}).get("monthly_filter") in ("has_reading", "has_test"):
        return [False] * len(months)
    runout = set(completion.incomplete_months(ws))
    return [m in runout for m in months]


def measure_chart(
    ws: Workspace, metric: Metric, series: pd.DataFrame, target: float | None = None, change_points=()
) -> dict:
    """The p-chart of a measure's monthly series (`trend`), and which months it leaves out and why.

    Months are left out of the limits and rules when their lookback reaches before the data
    (`short`), their claims are still arriving (`runout`) or they are suppressed (`hidden`);
    `left_out` is any of these (drawn hollow). With every month short or still arriving the
    reading is "not judged"; `charted` says whether any month can be drawn filled at all.
    `change_points` (vbc.spc.ChangePoint, already chosen for this chart) start new phases."""
    months = list(series["month"])
    hidden = series["suppressed"].to_numpy(bool)
    num = np.where(hidden, np.nan, series["numerator"].astype(float))
    den = np.where(hidden, 0.0, series["denominator"].astype(float).fillna(0))
    short = short_history_months(ws, metric, months)
    runout = runout_months_flags(ws, metric, months)
    inc = [a or b for a, b in zip(short, runout)]
    flags = {
        "short": short,
        "runout": runout,
        "hidden": list(hidden),
        "left_out": [a or h for a, h in zip(inc, hidden)],
    }
    flags["charted"] = not all(flags["left_out"])
    if all(inc):
        lookback = int((metric.options.get("trend") or {}).get("lookback_months") or 0)
        return {
            "reading": "not judged",
            "code": "none",
            "latest_rules": [],
            "method": "",
            "why": f"every month's lookback ({lookback + 1} months) reaches before the first "
            "month of data, or its claims are still arriving",
            **flags,
        }
    return {**spc.p_chart(metric, num, den, target, inc, months=months, change_points=change_points), **flags}


def reading(
    ws: Workspace,
    registry: Registry,
    metric_id: str,
    viewer: Viewer,
    filters: dict | None = None,
    target: float | None = None,
    series: pd.DataFrame | None = None,
) -> dict:
    """The p-chart's plain-words reading of a measure's monthly series for a viewer."""
    df = series if series is not None else trend(ws, registry, metric_id, viewer, filters, rolling=False)
    return measure_chart(ws, registry.get(metric_id), df, target)


# ------------------------------------------------------------------------------------------------
# Care gaps


def _is_gap(metric: Metric, results: pd.DataFrame) -> pd.Series:
    if metric.direction == "higher":
        return results["in_denominator"] & ~results["in_numerator"]
    return results["in_denominator"] & results["in_numerator"]


def care_gap_metrics(registry: Registry) -> list[Metric]:
    return [m for m in quality_metrics(registry) if gap_action(m)]


def providers(ws: Workspace) -> pd.DataFrame:
    """The roster's clinicians (npi, provider_name, specialty, tin, provider_organization)."""
    con = ws.connect()
    try:
        return con.execute(
            "SELECT npi, provider_name, specialty, tin, provider_organization FROM provider"
        ).df()
    finally:
        con.close()


def care_gaps(
    ws: Workspace,
    registry: Registry,
    viewer: Viewer,
    period: Period,
    metric_ids: list[str] | None = None,
    filters: dict | None = None,
    npi: str | None = None,
) -> pd.DataFrame:
    """Open gaps: members in a denominator and not in its numerator (for lower-is-better
    measures, in the numerator: e.g. HbA1c above 9% or not tested), with what would close the gap,
    the attributed PCP and the member's last primary care visit. Member-level: the joint view is
    refused; an organization's viewer sees only its own members (scoped in SQL)."""
    require_member_level(viewer)
    wanted = care_gap_metrics(registry)
    if metric_ids:
        wanted = [m for m in wanted if m.id in metric_ids]
    filters = clean_filters(filters)
    frames = []
    con = ws.connect()
    try:
        served = serving.served(ws, con, registry)
        for m in wanted:
            res = _shape_results(m, _person_rows(con, m, viewer, period, filters, npi, served), with_gap=True)
            gaps = res[_is_gap(m, res)].copy()
            if gaps.empty:
                continue
            gaps["measure"] = m.name
            gaps["to_close"] = gap_action(m)
            gaps["gap"] = gaps["gap"] if "gap" in gaps else gaps["detail"]
            frames.append(gaps)
        cols = [
            "metric_id",
            "measure",
            "person_id",
            "payer",
            "organization",
            "tin",
            "npi",
            "to_close",
            "gap",
            "detail",
        ]
        if not frames:
            return pd.DataFrame(columns=[*cols, "pcp_name", "last_visit"])
        out = pd.concat(frames, ignore_index=True)[cols]
        persons = pd.DataFrame({"person_id": out["person_id"].unique()})
        con.register("gap_persons", persons)
        serving.ensure_events(con, served)
        # Primary care visits are the claim lines whose CPT/HCPCS code the value set names: the
        # build's quality_events rows of that set.
        visits = con.execute(
            """
            SELECT q.person_id, q.payer, max(q.claim_start_date) AS last_visit
            FROM quality_events q JOIN gap_persons g USING (person_id)
            WHERE q.field = 'hcpcs' AND q.value_set = 'primary_care_services' AND q.claim_start_date <= $end
            GROUP BY ALL""",
            {"end": period.end},
        ).df()
        names = con.execute(
            "SELECT npi, any_value(provider_name) AS pcp_name FROM provider GROUP BY npi"
        ).df()
    finally:
        con.close()
    out = out.merge(visits, on=["person_id", "payer"], how="left")
    out["last_visit"] = [_iso(v) for v in out["last_visit"]]
    out = out.merge(names, on="npi", how="left")
    return out.sort_values(["measure", "npi", "person_id"], na_position="last", kind="stable").reset_index(
        drop=True
    )


# ------------------------------------------------------------------------------------------------
# Composite


def _points(metric: Metric, rate: float, target: float) -> float:
    """100 when the rate meets the target; otherwise falling linearly with the shortfall, to 0 at
    PARTIAL_SPAN (20 percentage points) short of the target."""
    short = (target - rate) if metric.direction == "higher" else (rate - target)
    if short <= 0:
        return 100.0
    return max(0.0, 100.0 * (1.0 - short / PARTIAL_SPAN))


COMPOSITE_COLUMNS = [
    "metric_id",
    "rate",
    "target",
    "met",
    "weight",
    "contract_weight",
    "denominator",
    "too_few",
    "suppressed",
    "points",
    "direction",
]


def _scored_measure(metric: Metric, r: pd.DataFrame, target: float, weight: float) -> dict:
    """One measure's line of the composite: its rate against the target, its points and the
    weight it counts with (0 when it cannot be judged)."""
    rate = float(r["value"].iloc[0]) if len(r) and pd.notna(r["value"].iloc[0]) else math.nan
    den = float(r["denominator"].iloc[0]) if len(r) and pd.notna(r["denominator"].iloc[0]) else 0.0
    suppressed = bool(r["suppressed"].iloc[0]) if len(r) else False
    too_few = den < engine.TOO_FEW
    judged = not (too_few or suppressed or math.isnan(rate))
    return {
        "metric_id": metric.id,
        "rate": rate,
        "target": float(target),
        "met": bool(meets(metric, rate, target)) if judged else None,
        "weight": float(weight) if judged else 0.0,
        "contract_weight": float(weight),
        "denominator": den,
        "too_few": too_few,
        "suppressed": suppressed,
        "points": _points(metric, rate, float(target)) if judged else math.nan,
        "direction": metric.direction,
    }


def quality_composite(ws: Workspace, registry: Registry, terms, viewer: Viewer, period: Period) -> dict:
    """The contract's quality composite for `period`.

    `terms` is a vbc.terms.ContractTerms (its `measures` give targets and weights, and its
    provider_organization the members scored), or None for every quality measure at its
    definition's target, weight 1, over the viewer's members.

    Scoring (documented in the README): each measure scores 100 points when its rate meets the
    target (rate >= target; for lower-is-better measures rate <= target), otherwise
    100 × (1 − shortfall / 0.20), floored at 0 (10 points short earns 50). Measures with a
    denominator under 30 ("too few to judge"), with no denominator, or suppressed are left out of
    both the score and the share (weight 0), and `judged` says how many counted. score is the
    weighted mean of points (0-100); share_meeting_target the share of judged measures meeting
    target. With nothing to judge, score and share are 0.0 (a gate without evidence is not passed).
    """
    if terms is not None:
        wanted = [(mid, t.target, t.weight) for mid, t in terms.measures.items()]
        filters = {"organization": terms.provider_organization}
    else:
        wanted = [(m.id, m.target, 1.0) for m in quality_metrics(registry) if m.target is not None]
        filters = {}
    known = [w for w in wanted if w[0] in registry.metrics]
    missing = [w[0] for w in wanted if w[0] not in registry.metrics]
    df = (
        engine.compute_metrics(ws, registry, [w[0] for w in known], viewer, period, (), filters)
        if known
        else pd.DataFrame()
    )
    rows = [
        _scored_measure(registry.get(mid), df[df["metric_id"] == mid], target, weight)
        for mid, target, weight in known
    ]
    measures = pd.DataFrame(rows, columns=COMPOSITE_COLUMNS)
    judged = measures[measures["weight"] > 0]
    if len(judged):
        score = float((judged["points"] * judged["weight"]).sum() / judged["weight"].sum())
        share = float(judged["met"].astype(bool).mean())
    else:
        score, share = 0.0, 0.0
    return {
        "score": round(score, 2),
        "share_meeting_target": share,
        "measures": measures,
        "judged": int(len(judged)),
        "missing": missing,
        "organization": filters.get("organization"),
        "period": period.label,
    }
