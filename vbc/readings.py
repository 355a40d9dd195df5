"""One source of readings: a metric's monthly series for a viewer, and its SPC chart.

Every page that draws a trend and `python -m vbc spc` call `chart_for`, so the points, limits,
phases and the reading on screen are the ones exported. The series comes from the engine
(`compute_metrics` by month, with the completed PMPM's own incomplete months), from
`cost.monthly_cost` for the capped total, or from `quality.trend` for a quality measure; the chart
from vbc.spc (XmR with a seasonal expectation for cost and utilization, p-chart for quality).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vbc import completion, cost, engine, quality, spc
from vbc.periods import Period
from vbc.registry import Metric, Registry
from vbc.scope import clean_filters
from vbc.security import Viewer
from vbc.terms import HighCostCap
from vbc.workspace import Workspace

# Monthly cost and utilization series are tested for a season; quality measures' monthly points
# are judged on a p-chart as they are.
SEASONAL_DOMAINS = ("cost", "utilization")
CAPPED_METRIC = "total_cost_pmpm_completed"
FLAG_COLUMNS = ("outside", "shift", "trend", "two_of_three")


def chart_for(
    ws: Workspace,
    registry: Registry,
    viewer: Viewer,
    metric_id: str,
    *,
    filters: dict | None = None,
    start: str | None = None,
    end: str | None = None,
    cap: HighCostCap | None = None,
    change_points=None,
    target: float | None = None,
    rolling: bool = False,
) -> dict:
    """The chart of `metric_id`'s months for `viewer` within `filters`, as every page draws it.

    start/end (YYYY-MM): the months charted (default: every month of data; for a quality measure
    the latest quality.TREND_MONTHS). `cap`: the high-cost cap (total_cost_pmpm_completed only).
    `change_points`: ChangePoint list (default: the data directory's change_points.yaml); those of
    other metrics or organizations are ignored. `rolling`: add quality measures' rolling 12-month
    values to the series. Returns vbc.spc's chart dictionary plus `series` (one row per month),
    `metric_id` and `organization` (the organization the chart is scoped to, or None).
    """
    metric = registry.get(metric_id)
    filters = clean_filters(filters)
    if change_points is None:
        change_points = spc.load_change_points(ws.data_dir)
    org = scope_organization(ws, viewer, filters)
    if metric.domain == "quality":
        first, last = (_month_start(m) for m in (start, end))
        series = quality.trend(
            ws, registry, metric.id, viewer, filters, first=first, last=last, rolling=rolling
        )
    else:
        series = monthly_series(ws, registry, viewer, metric, filters, _period(ws, start, end), cap)
    return chart_of_series(ws, metric, series, spc.applicable(change_points, metric.id, org), target, org)


def chart_of_series(
    ws: Workspace, metric: Metric, series: pd.DataFrame, change_points, target=None, organization=None
) -> dict:
    """The chart of a series `chart_for` assembled (quality.trend's for a quality measure, else
    `monthly_series`'), with the change points that apply to it."""
    if metric.domain == "quality":
        res = quality.measure_chart(ws, metric, series, target, change_points)
        if "values" not in res:  # not judged: nothing to chart
            res["months"] = list(series["month"])
    else:
        left_out = series["incomplete"] | series["suppressed"]
        res = spc.monthly_chart(
            metric,
            series["month"],
            series["value"],
            incomplete=left_out.to_numpy(),
            change_points=change_points,
            seasonal=metric.domain in SEASONAL_DOMAINS,
            target=target,
        )
    return {**res, "series": series, "metric_id": metric.id, "organization": organization}


def monthly_series(
    ws: Workspace,
    registry: Registry,
    viewer: Viewer,
    metric: Metric,
    filters: dict,
    period: Period,
    cap: HighCostCap | None = None,
) -> pd.DataFrame:
    """One row per month: month, value, numerator, denominator, suppressed, incomplete (+ raw,
    low, high for completed PMPMs). A completed PMPM says which of its own months are incomplete;
    any other series takes the build's months still inside the claims run-out window."""
    if cap is not None:
        return _capped_series(ws, viewer, metric, filters, period, cap)
    df = engine.compute_metrics(ws, registry, [metric.id], viewer, period, ["month"], filters)
    df = df.dropna(subset=["month"]).sort_values("month").reset_index(drop=True)
    suppressed = df["suppressed"].fillna(False).astype(bool)
    if "incomplete" in df and metric.completed_from:
        incomplete = df["incomplete"].fillna(False).astype(bool)
    else:
        runout = set(completion.incomplete_months(ws))
        incomplete = df["month"].isin(runout)
    out = pd.DataFrame(
        {
            "month": df["month"].astype(str),
            "value": df["value"].astype(float).where(~suppressed),
            "numerator": df["numerator"].astype(float).where(~suppressed),
            "denominator": df["denominator"].astype(float).where(~suppressed),
            "suppressed": suppressed,
            "incomplete": incomplete.to_numpy(bool),
        }
    )
    for col, name in (("raw_value", "raw"), ("ci_low", "low"), ("ci_high", "high")):
        if col in df:
            out[name] = df[col].astype(float).where(~suppressed).to_numpy()
    return out


def _capped_series(ws, viewer, metric, filters, period, cap) -> pd.DataFrame:
    if metric.id != CAPPED_METRIC:
        raise ValueError(f"the high-cost cap applies to {CAPPED_METRIC} only, not {metric.id}")
    if set(filters) - {"organization", "payer"}:
        raise ValueError("the high-cost cap is applied by organization or payer only")
    m = cost.monthly_cost(ws, viewer, period, filters.get("organization"), filters.get("payer"), cap)
    return pd.DataFrame(
        {
            "month": m["month"].astype(str),
            "value": m["pmpm"].astype(float),
            "numerator": m["completed"].astype(float),
            "denominator": m["member_months"].astype(float),
            "suppressed": False,
            "incomplete": m["incomplete"].astype(bool).to_numpy(),
            "raw": m["pmpm_capped_raw"].astype(float),
            "low": m["pmpm_low"].astype(float),
            "high": m["pmpm_high"].astype(float),
        }
    )


def _period(ws: Workspace, start: str | None, end: str | None) -> Period:
    full = engine.data_period(ws)
    return Period.from_months(start or f"{full.start:%Y-%m}", end or f"{full.end:%Y-%m}")


def _month_start(month: str | None):
    return Period.from_months(month, month).start if month else None


def scope_organization(ws: Workspace, viewer: Viewer, filters: dict) -> str | None:
    """The organization a chart is scoped to (for its change points): the viewer's own, the
    organization filter, or the roster organization of a filtered TIN or PCP; None for a chart
    across organizations."""
    if viewer.kind == "org":
        return viewer.organization
    if filters.get("organization"):
        return filters["organization"]
    for key in ("npi", "tin"):
        if filters.get(key):
            roster = quality.providers(ws)
            orgs = roster.loc[roster[key] == filters[key], "provider_organization"].dropna().unique()
            return str(orgs[0]) if len(orgs) == 1 else None
    return None


def charts_by(
    ws: Workspace, registry: Registry, viewer: Viewer, metric_id: str, by: str | None, **kwargs
) -> list[tuple[dict, dict]]:
    """(group, chart) for each organization, TIN or PCP the viewer can see (one chart for the
    viewer's whole scope without `by`): the chart a page draws with that group chosen as a filter.

    Cost and utilization charts are computed group by group with the group as a filter (a
    completed PMPM's factors are its scope's). A quality measure's monthly points are computed once
    for all groups (quality.trend by the grouping: the same counts as filtering, in one pass)."""
    filters = clean_filters(kwargs.pop("filters", None))
    if not by:
        return [({}, chart_for(ws, registry, viewer, metric_id, filters=filters, **kwargs))]
    metric = registry.get(metric_id)
    if metric.domain == "quality":
        return _quality_by(ws, registry, viewer, metric, by, filters, **kwargs)
    period = _period(ws, kwargs.get("start"), kwargs.get("end"))
    groups = engine.compute_metrics(ws, registry, [metric_id], viewer, period, [by], filters)[by]
    out = []
    for group in sorted(str(g) for g in groups.dropna().unique()):
        res = chart_for(ws, registry, viewer, metric_id, filters={**filters, by: group}, **kwargs)
        out.append(({by: group}, res))
    return out


def _quality_by(
    ws, registry, viewer, metric, by, filters, *, start=None, end=None, change_points=None, target=None, **_
):
    if change_points is None:
        change_points = spc.load_change_points(ws.data_dir)
    first, last = (_month_start(m) for m in (start, end))
    df = quality.trend(
        ws, registry, metric.id, viewer, filters, by=[by], first=first, last=last, rolling=False
    )
    months = sorted(df["month"].dropna().unique())
    out = []
    for group in sorted(str(g) for g in df[by].dropna().unique()):
        series = _every_month(df[df[by].astype(str) == group], months)
        org = scope_organization(ws, viewer, {**filters, by: group})
        cps = spc.applicable(change_points, metric.id, org)
        out.append(({by: group}, chart_of_series(ws, metric, series, cps, target, org)))
    return out


def _every_month(group: pd.DataFrame, months: list[str]) -> pd.DataFrame:
    """A group's monthly points on every month of the chart (a month without its members: no
    denominator), in the shape quality.trend gives one scope."""
    g = group.drop_duplicates("month").set_index("month").reindex(months)
    return pd.DataFrame(
        {
            "month": months,
            "numerator": g["numerator"].astype(float).to_numpy(),
            "denominator": g["denominator"].astype(float).fillna(0.0).to_numpy(),
            "value": g["value"].astype(float).to_numpy(),
            "suppressed": g["suppressed"].fillna(False).astype(bool).to_numpy(),
        }
    )


def point_rows(res: dict, group: dict | None = None) -> list[dict]:
    """One row per month as `python -m vbc spc` prints it: the point, its phase, what it was judged
    against, its rule flags and the chart's reading."""
    months = res.get("months") or []
    if "values" not in res:
        return [
            {**(group or {}), "metric_id": res["metric_id"], "month": m, "reading": res["reading"]}
            for m in months
        ]
    phases = {p["phase"]: p for p in res["phases"]}
    season = res.get("season")
    chart_level = {
        "reading": res["reading"],
        "reading_code": res["code"],
        "reading_detail": "; ".join(res["detail"]),
        "seasonal": None
        if season is None
        else (season.seasonal if season.tested else "cannot yet be separated"),
        "season_p_value": None if season is None else season.p_value,
        "proposed_change_point": (res["proposal"] or {}).get("month"),
    }
    rows = []
    for i, month in enumerate(months):
        ph = phases[int(res["phase"][i])]
        row = {
            **(group or {}),
            "metric_id": res["metric_id"],
            "month": month,
            "value": _num(res["values"][i]),
            "judged": bool(res["judged"][i]),
            "phase": int(res["phase"][i]),
            "phase_start": ph["first"],
            "phase_title": ph["title"],
            "expectation": _num(res["expectation"][i]),
            "upper": _num(res["upper"][i]),
            "lower": _num(res["lower"][i]),
            "near_upper": _num(res["near_upper"][i]),
            "near_lower": _num(res["near_lower"][i]),
            **{f: bool(res["flags"][f][i]) for f in FLAG_COLUMNS},
            "signal": res["signal"][i],
            **chart_level,
        }
        rows.append(row)
    return rows


def chart_summary(res: dict, group: dict | None = None) -> dict:
    """The chart-level facts of `point_rows`' chart: reading, reasons, phases, season, proposal."""
    season = res.get("season")
    return {
        **(group or {}),
        "metric_id": res["metric_id"],
        "reading": res["reading"],
        "reading_code": res["code"],
        "latest_rules": list(res.get("latest_rules") or []),
        "detail": list(res.get("detail") or []),
        "method": res.get("method", ""),
        "trial": bool(res.get("trial", False)),
        "assurance": res.get("assurance"),
        "season": None
        if season is None
        else {
            "tested": season.tested,
            "seasonal": season.seasonal,
            "p_value": season.p_value,
            "complete_months": season.complete_months,
            "pattern": list(season.pattern),
            "pattern_from": [season.base_first, season.base_last] if season.seasonal else None,
        },
        "phases": res.get("phases", []),
        "proposal": res.get("proposal"),
        "change": res.get("change"),
    }


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) or np.isinf(v) else v
