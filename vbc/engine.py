"""The metric engine: one function computes every metric for the pages and the command line.

A metric's SQL yields person-level rows keyed by (person_id, payer, year_month). The engine joins
them to the viewer's member months (the viewer's organization is a bound parameter there, so a
provider organization's query can only ever touch its own rows), aggregates by the requested
grouping, and adds the interval and, for the joint view, small-cell suppression.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from functools import lru_cache

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from vbc import completion, serving, stats, suppression
from vbc.periods import Period, month_end
from vbc.registry import PERIODS_TABLE, Metric, Registry, create_shared
from vbc.scope import clean_filters, member_scope
from vbc.security import Viewer, is_small
from vbc.valuesets import all_value_sets
from vbc.workspace import Workspace

# Grouping name -> SQL over member months. Only these names reach SQL; nothing typed by a user does.
GROUPINGS: dict[str, str] = {
    "payer": "mm.payer",
    "plan": "mm.plan",
    "organization": "mm.organization",
    "tin": "mm.tin",
    "npi": "mm.npi",
    "month": "strftime(mm.year_month, '%Y-%m')",
}
# An export row: which metric and period, one key per grouping (between the two), the figures.
EXPORT_KEYS = ("metric_id", "period_start", "period_end")
EXPORT_FIGURES = ("numerator", "denominator", "value", "ci_low", "ci_high", "suppressed")
PER_1000_SCALE = 12_000  # events per member month -> per 1,000 members per year
TOO_FEW = 30


def data_period(ws: Workspace) -> Period:
    """Every month the current build covers."""
    good = ws.good or {}
    first, last = good.get("first_month"), good.get("last_month")
    if not first or not last:
        today = date.today()
        return Period(date(today.year, 1, 1), month_end(today))
    return Period(date.fromisoformat(first), month_end(date.fromisoformat(last)))


def stamp(ws: Workspace, registry: Registry) -> dict:
    """Paid-through, incurred-through and a short fingerprint of (extracts + definitions)."""
    good = ws.good or {}
    data_fp = good.get("data_fingerprint", "")
    combined = hashlib.sha256(f"{data_fp}:{registry.fingerprint}".encode()).hexdigest()
    return {
        "paid_through": good.get("paid_through"),
        "incurred_through": good.get("incurred_through"),
        "fingerprint": combined[:12],
        "data_fingerprint": data_fp[:12],
        "definitions_fingerprint": registry.fingerprint[:12],
        "built_at": good.get("built_at"),
        "demo": bool(good.get("demo")),
    }


def prepare(con: duckdb.DuckDBPyConnection, metric: Metric) -> None:
    """What a metric's SQL needs on the connection: its value sets (a temporary `value_sets`
    table) and the shared macros it calls."""
    con.register("_value_set_rows", value_set_table(metric.value_sets))
    try:
        # One bulk copy: row-by-row inserts of a few thousand codes cost about a second per metric.
        con.execute("CREATE OR REPLACE TEMP TABLE value_sets AS SELECT * FROM _value_set_rows")
    finally:
        con.unregister("_value_set_rows")
    if metric.periodic:
        serving.tune(con)
        con.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {PERIODS_TABLE} (period_id INTEGER, period_start DATE, period_end DATE)"
        )
    create_shared(con, metric)


@lru_cache(maxsize=256)
def value_set_table(names: tuple[str, ...]) -> pa.Table:
    """(value_set, code, code_system) rows of the named value sets."""
    sets = [vs for name, vs in all_value_sets().items() if name in names]
    return pa.table(
        {
            "value_set": pa.array([vs.name for vs in sets for _ in vs.codes], pa.string()),
            "code": pa.array([c for vs in sets for c in vs.codes], pa.string()),
            "code_system": pa.array([vs.code_system for vs in sets for _ in vs.codes], pa.string()),
        }
    )


def _aggregate_sql(
    metric: Metric, by: list[str], scope: str, parent: bool = False, per_period: bool = False
) -> str:
    """`parent`: also each group's organization (a TIN's or PCP's), for suppression across tables.
    `per_period`: the metric is evaluated over the connection's period table
    (vbc.registry.PERIODS_TABLE) and each period is aggregated on its own, in one query; `mm` then
    spans every period (a measure's anchor month always lies in its own period)."""
    group_select, group_names = _group_parts(by, parent)
    key, out_key = ("m.period_id, ", "period_id, ") if per_period else ("", "")
    return f"""
    WITH mm AS (
        SELECT * FROM member_months
        WHERE year_month BETWEEN $month_start AND $month_end {scope}
    ), m AS (
        {metric.sql}
    ), per_person AS (
        SELECT {key}{group_select} m.person_id, sum(m.numerator) AS y, sum(m.denominator) AS d
        FROM m JOIN mm ON m.person_id = mm.person_id AND m.payer = mm.payer
                      AND m.year_month = mm.year_month
        GROUP BY ALL
    )
    SELECT {out_key}{group_names} {_TOTALS}
    FROM per_person GROUP BY ALL
    """


def _group_parts(by: list[str], parent: bool) -> tuple[str, str]:
    unknown = [b for b in by if b not in GROUPINGS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}; choose from {', '.join(GROUPINGS)}")
    group_select = "".join(f"{GROUPINGS[b]} AS g_{b}, " for b in by)
    group_names = "".join(f"g_{b}, " for b in by)
    if parent:
        group_select += "any_value(mm.organization) AS parent_organization, "
        group_names += "any_value(parent_organization) AS parent_organization, "
    return group_select, group_names


_TOTALS = """count(*) FILTER (WHERE d > 0) AS n_persons,
           sum(y) AS numerator, sum(d) AS denominator,
           sum(y * y) AS sum_y2, sum(y * d) AS sum_yd, sum(d * d) AS sum_d2"""


def _served_sql(by: list[str], scope: str, parent: bool) -> str:
    """The same aggregation over precomputed person-level results (vbc.serving): each row carries
    its anchor month's plan, organization, TIN and NPI, so the viewer's scope and the groupings
    apply to it as they apply to member_months."""
    group_select, group_names = _group_parts(by, parent)
    return f"""
    WITH mm AS (
        SELECT * FROM quality_results
        WHERE result_key BETWEEN $key_min AND $key_max AND list_contains($keys, result_key) {scope}
    ), per_person AS (
        SELECT mm.result_key AS period_id, {group_select} mm.person_id,
               sum(mm.numerator) AS y, sum(mm.denominator) AS d
        FROM mm GROUP BY ALL
    )
    SELECT period_id, {group_names} {_TOTALS}
    FROM per_person GROUP BY ALL
    """


def _facts_sql(metric_ids: list[str], by: list[str], scope: str, parent: bool) -> str:
    """Several metrics at once from the build's member-month facts (vbc.serving): each one's
    numerator and denominator per member month, summed per person and group as `_aggregate_sql`
    sums its rows. `rows_<i>`: how many people had a row of metric i (a group without any has no
    line for that metric, as the join of its own rows would give none)."""
    group_select, group_names = _group_parts(by, parent)
    per_person, totals = [], []
    for i, metric_id in enumerate(metric_ids):
        n, d, r = serving.fact_columns(metric_id)
        per_person.append(f"sum(mm.{n}) AS y{i}, sum(mm.{d}) AS d{i}, sum(mm.{r}) AS r{i}")
        totals.append(
            f"count(*) FILTER (WHERE d{i} > 0) AS n_persons_{i}, sum(y{i}) AS numerator_{i}, "
            f"sum(d{i}) AS denominator_{i}, sum(y{i} * y{i}) AS sum_y2_{i}, sum(y{i} * d{i}) AS sum_yd_{i}, "
            f"sum(d{i} * d{i}) AS sum_d2_{i}, count(*) FILTER (WHERE r{i} > 0) AS rows_{i}"
        )
    return f"""
    WITH mm AS (
        SELECT * FROM {serving.FACTS}
        WHERE year_month BETWEEN $month_start AND $month_end {scope}
    ), per_person AS (
        SELECT {group_select} mm.person_id, {", ".join(per_person)}
        FROM mm GROUP BY ALL
    )
    SELECT {group_names} {", ".join(totals)}
    FROM per_person GROUP BY ALL
    """


def compute_facts(
    con: duckdb.DuckDBPyConnection,
    metrics: list[Metric],
    viewer: Viewer,
    period: Period,
    by: list[str] | tuple[str, ...] = (),
    filters: dict | None = None,
) -> list[pd.DataFrame]:
    """`compute_metric` for metrics precomputed as member-month facts, in one query."""
    by = list(by)
    scope = member_scope(viewer, filters)
    parent = viewer.suppresses and "organization" not in by and any(b in NESTED for b in by)
    sql = _facts_sql([m.id for m in metrics], by, scope.sql, parent)
    params = {**scope.params, "month_start": period.start.replace(day=1), "month_end": period.end}
    df = con.execute(sql, params).df()
    keys = [f"g_{b}" for b in by] + (["parent_organization"] if parent else [])
    frames = []
    for i, metric in enumerate(metrics):
        part = df[keys + [f"{c}_{i}" for c in ("n_persons", *_SUMS, "rows")]]
        part = part.rename(columns={f"{c}_{i}": c for c in ("n_persons", *_SUMS, "rows")})
        if by:
            part = part[part["rows"] > 0]
        frames.append(_finish(part.drop(columns=["rows"]).reset_index(drop=True), metric, viewer, period, by))
    return frames


_SUMS = ("numerator", "denominator", "sum_y2", "sum_yd", "sum_d2")


def _value_and_interval(kind: str, row) -> tuple[float, float, float]:
    num, den = float(row.numerator or 0), float(row.denominator or 0)
    if den <= 0:
        return (math.nan, math.nan, math.nan)
    if kind == "proportion":
        lo, hi = stats.wilson_interval(num, den)
        return num / den, lo, hi
    if kind == "per_1000":
        lo, hi = stats.poisson_interval(num, den)
        return num / den * PER_1000_SCALE, lo * PER_1000_SCALE, hi * PER_1000_SCALE
    lo, hi = stats.ratio_interval(
        num, den, int(row.n_persons), float(row.sum_y2), float(row.sum_yd), float(row.sum_d2)
    )
    # Costs cannot be negative; the normal approximation can dip below zero for tiny, skewed panels.
    return num / den, max(lo, 0.0) if not math.isnan(lo) else lo, hi


# Counts of each kind of metric that may not be shown, or derived, from 1 to 10 in the joint view.
SUPPRESSED_COUNTS = {
    "proportion": ["numerator", "denominator", "complement", "n_persons"],
    "per_1000": ["numerator", "n_persons"],
    "pmpm": ["n_persons"],
    "ratio": ["denominator", "n_persons"],
}
NESTED = ("tin", "npi")  # groupings that sit inside an organization, whose total is shown too


def _suppress(df: pd.DataFrame, kind: str, by: list[str]) -> pd.Series:
    """The joint view's hidden cells, consistent across every table of the same numbers
    (vbc/suppression.py)."""
    primary = pd.Series([_primary_small(kind, r) for r in df.itertuples(index=False)], index=df.index)
    counts = df.assign(complement=df["denominator"].fillna(0) - df["numerator"].fillna(0))
    parents = ["parent_organization"] if "parent_organization" in df else []
    return suppression.suppress(
        counts, suppression.margins(by, parents), SUPPRESSED_COUNTS[kind], primary, "denominator"
    )


def _primary_small(kind: str, row) -> bool:
    if is_small(row.n_persons):
        return True
    if kind == "per_1000":
        return is_small(row.numerator)
    if kind == "proportion":
        return any(
            is_small(c)
            for c in (row.numerator, row.denominator, (row.denominator or 0) - (row.numerator or 0))
        )
    return False


def query_params(metric: Metric, period: Period, scope_params: dict) -> dict:
    """The bound parameters of a metric query: the period, the scope's and the metric's own.

    Values are always bound, never pasted into SQL."""
    params: dict = {"month_start": period.start.replace(day=1), "month_end": period.end, **scope_params}
    for p in metric.parameters:
        params[p] = period.start if p == "period_start" else period.end
    return params


def compute_metric(
    con: duckdb.DuckDBPyConnection,
    metric: Metric,
    viewer: Viewer,
    period: Period,
    by: list[str] | tuple[str, ...] = (),
    filters: dict | None = None,
    served: serving.Served = serving.NOTHING,
) -> pd.DataFrame:
    """Numerator, denominator, value and 95% interval for one metric, per group, for a viewer.

    `filters` narrows the member months (vbc.scope.FILTERS); it can never widen a viewer's scope.
    `served`: the build's precomputed results (vbc.serving.served), read instead of evaluating the
    measure when they hold this period.
    """
    return compute_periods(con, metric, viewer, [period], by, filters, served)[0]


def compute_periods(
    con: duckdb.DuckDBPyConnection,
    metric: Metric,
    viewer: Viewer,
    periods: list[Period],
    by: list[str] | tuple[str, ...] = (),
    filters: dict | None = None,
    served: serving.Served = serving.NOTHING,
    variant: str = serving.RATE,
) -> list[pd.DataFrame]:
    """`compute_metric` for several periods at once: a measure (metric.periodic) is read from the
    precomputed results where the build has them, and the other periods are evaluated together in
    one query; any other metric is computed period by period. One frame per period, in order."""
    by = list(by)
    if metric.id in served.facts:
        return [compute_facts(con, [metric], viewer, p, by, filters)[0] for p in periods]
    scope = member_scope(viewer, filters)
    parent = viewer.suppresses and "organization" not in by and any(b in NESTED for b in by)
    if not metric.periodic:
        prepare(con, metric)
        sql = _aggregate_sql(metric, by, scope.sql, parent)
        raws = [con.execute(sql, query_params(metric, p, scope.params)).df() for p in periods]
    else:
        raws = _periodic_raws(con, metric, periods, by, scope, parent, served, variant)
    return [_finish(raw, metric, viewer, p, by) for raw, p in zip(raws, periods)]


def _periodic_raws(con, metric, periods, by, scope, parent, served, variant) -> list[pd.DataFrame]:
    long = _periodic_long(con, metric, periods, by, scope, parent, served, variant)
    parts = dict(tuple(long.groupby("period_index", sort=False)))
    empty = long.iloc[0:0]
    return [
        parts.get(i, empty).drop(columns=["period_index"]).reset_index(drop=True) for i in range(len(periods))
    ]


def _periodic_long(con, metric, periods, by, scope, parent, served, variant) -> pd.DataFrame:
    """A measure's aggregated totals for every period in one frame with `period_index` (the
    period's position): read from the precomputed results where the build has them, the other
    periods evaluated together in one query. Without groupings a period with no rows still gets
    its one row of empty totals, as a query over that period alone would."""
    if not periods:
        return pd.DataFrame(columns=["period_index"])
    parts = []
    keys = {i: hit[0] for i, p in enumerate(periods) if (hit := served.find(metric.id, variant, p))}
    if keys:
        params = {**scope.params, "keys": list(keys.values())}
        params.update(key_min=min(keys.values()), key_max=max(keys.values()))
        df = con.execute(_served_sql(by, scope.sql, parent), params).df()
        index = pd.DataFrame({"period_id": list(keys.values()), "period_index": list(keys)})
        parts.append(df.merge(index, on="period_id").drop(columns=["period_id"]))
    missing = [i for i in range(len(periods)) if i not in keys]
    if missing:
        serving.ensure_events(con, served)
        serving.set_periods(con, [(i, periods[i].start, periods[i].end) for i in missing])
        prepare(con, metric)
        params = {
            **scope.params,
            "month_start": min(periods[i].start for i in missing).replace(day=1),
            "month_end": max(periods[i].end for i in missing),
        }
        df = con.execute(_aggregate_sql(metric, by, scope.sql, parent, per_period=True), params).df()
        parts.append(df.rename(columns={"period_id": "period_index"}))
    long = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if not by:
        absent = sorted(set(range(len(periods))) - set(long["period_index"]))
        if absent:
            blank = {c: (0 if c == "n_persons" else math.nan) for c in long.columns if c != "period_index"}
            filler = pd.DataFrame([{**blank, "period_index": i} for i in absent])
            long = pd.concat([long, filler[long.columns]], ignore_index=True)
    return long.sort_values("period_index", kind="stable").reset_index(drop=True)


def compute_periods_long(
    con: duckdb.DuckDBPyConnection,
    metric: Metric,
    viewer: Viewer,
    periods: list[Period],
    by: list[str] | tuple[str, ...] = (),
    filters: dict | None = None,
    served: serving.Served = serving.NOTHING,
    variant: str = serving.RATE,
) -> pd.DataFrame:
    """`compute_periods` as one frame with `period_index` (the period's position in `periods`).
    A measure is finished in one pass (a quality trend asks for hundreds of small periods) unless
    the joint view's suppression has margins to keep consistent (a grouped table): then the
    periods' frames are stacked."""
    by = list(by)
    if metric.periodic and metric.id not in served.facts and periods and not (viewer.suppresses and by):
        scope = member_scope(viewer, filters)
        raw = _periodic_long(con, metric, periods, by, scope, False, served, variant)
        raw = raw.rename(columns={f"g_{b}": b for b in by})
        values = [_value_and_interval(metric.kind, r) for r in raw.itertuples(index=False)]
        index = raw["period_index"].to_numpy()
        starts = [periods[i].start.isoformat() for i in index]
        ends = [periods[i].end.isoformat() for i in index]
        hidden = None
        if viewer.suppresses:
            # Ungrouped, a cell has no margin: the joint view hides exactly its small cells.
            hidden = [_primary_small(metric.kind, r) for r in raw.itertuples(index=False)]
        return _finished(raw, metric, starts, ends, ["period_index", *by], values, hidden)
    frames = compute_periods(con, metric, viewer, periods, by, filters, served, variant)
    for i, df in enumerate(frames):
        df.insert(0, "period_index", i)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["period_index", *by])


def _finish(df: pd.DataFrame, metric: Metric, viewer: Viewer, period: Period, by: list[str]) -> pd.DataFrame:
    """Value, interval, the joint view's suppression and the frame's shape, from aggregated totals."""
    df = df.rename(columns={f"g_{b}": b for b in by})
    if df.empty:
        df = pd.DataFrame(
            columns=[*by, "n_persons", "numerator", "denominator", "sum_y2", "sum_yd", "sum_d2"]
        )
    values = [_value_and_interval(metric.kind, r) for r in df.itertuples(index=False)]
    hidden = _suppress(df, metric.kind, by).to_numpy() if viewer.suppresses and len(df) else None
    return _finished(df, metric, period.start.isoformat(), period.end.isoformat(), by, values, hidden)


_INTERNAL = ("sum_y2", "sum_yd", "sum_d2", "parent_organization")


def _finished(
    df: pd.DataFrame, metric: Metric, start, end, by: list[str], values: list, hidden=None
) -> pd.DataFrame:
    """The engine's frame from aggregated totals, built at once (column-by-column assembly cost
    milliseconds a frame, and a trend finishes hundreds). `start`, `end`: the period's ISO dates,
    one or one per row; `hidden`: the joint view's suppressed rows, whose figures are emptied."""
    data: dict = {"metric_id": metric.id, "period_start": start, "period_end": end}
    data |= {c: df[c].to_numpy() for c in df.columns if c not in _INTERNAL}
    data["value"] = [v[0] for v in values]
    data["ci_low"] = [v[1] for v in values]
    data["ci_high"] = [v[2] for v in values]
    data["suppressed"] = False if hidden is None else np.asarray(hidden, dtype=bool)
    out = pd.DataFrame(data, index=pd.RangeIndex(len(df)))
    if hidden is not None:
        out = suppression.blank(out, out["suppressed"], list(_HIDDEN_FIGURES))
    out["too_few"] = (metric.kind == "proportion") & (out["denominator"].fillna(0) < TOO_FEW)
    if by:
        out = out.sort_values(by, na_position="last", kind="stable").reset_index(drop=True)
    return out


_HIDDEN_FIGURES = ("numerator", "denominator", "value", "ci_low", "ci_high", "n_persons")


def compute_metrics(
    ws: Workspace,
    registry: Registry,
    metric_ids: list[str],
    viewer: Viewer,
    period: Period,
    by: list[str] | tuple[str, ...] = (),
    filters: dict | None = None,
) -> pd.DataFrame:
    """Several metrics at once, in one frame; what the CLI exports and the pages chart."""
    filters = clean_filters(filters)
    frames = []
    con = ws.connect()
    try:
        served = serving.served(ws, con, registry)
        # Metrics precomputed as member-month facts come from one query together, with the raw
        # metrics the completed ones are completed from, and one more query for those by month.
        completed_bases = [
            registry.get(m).completed_from for m in metric_ids if registry.get(m).completed_from
        ]
        wanted = [m for m in dict.fromkeys([*metric_ids, *completed_bases]) if m in served.facts]
        batched = _facts_by_id(con, registry, wanted, viewer, period, by, filters)
        monthly = _facts_by_id(
            con,
            registry,
            [m for m in dict.fromkeys(completed_bases) if m in served.facts],
            _unscoped(viewer),
            period,
            _by_month(by),
            filters,
        )
        for metric_id in metric_ids:
            metric = registry.get(metric_id)
            if metric_id in batched:
                frames.append(batched[metric_id])
            elif metric.completed_from:
                base = metric.completed_from
                frames.append(
                    _completed(
                        con,
                        ws,
                        registry,
                        metric,
                        viewer,
                        period,
                        list(by),
                        filters,
                        served,
                        out=batched.get(base),
                        monthly=monthly.get(base),
                    )
                )
            else:
                frames.append(compute_metric(con, metric, viewer, period, by, filters, served))
    finally:
        con.close()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _completed(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    registry: Registry,
    metric: Metric,
    viewer: Viewer,
    period: Period,
    by: list[str],
    filters: dict,
    served: serving.Served = serving.NOTHING,
    out: pd.DataFrame | None = None,
    monthly: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A completed PMPM (`completed_from` in its definition): the raw metric, completed per
    incurred month by the lag triangle of its claims (vbc/completion.py). `out` and `monthly`: the
    raw metric by `by` and by month, when the caller already has them."""
    base = registry.get(metric.completed_from)
    # Output-level rows (and the joint view's suppression) come from the raw metric itself.
    if out is None:
        out = compute_metric(con, base, viewer, period, by, filters, served)
    inner = _unscoped(viewer)
    if monthly is None:
        monthly = compute_metric(con, base, inner, period, _by_month(by), filters, served)
    factors = completion.completion_table(con, ws, inner, filters, metric.claims_category)
    return completion.completed_frame(metric.id, out, monthly, factors, by)


def _unscoped(viewer: Viewer) -> Viewer:
    """The viewer month-level raw dollars of a completed metric are read as: the joint view is
    unscoped, so the payer's scope gives the same rows without the joint view's suppression."""
    return viewer if viewer.kind != "joint" else Viewer("payer")


def _by_month(by) -> list[str]:
    """A completed metric's groupings for its month-level raw dollars."""
    return list(by) if "month" in by else [*by, "month"]


def _facts_by_id(con, registry: Registry, ids: list[str], viewer, period, by, filters) -> dict:
    if not ids:
        return {}
    return dict(zip(ids, compute_facts(con, [registry.get(m) for m in ids], viewer, period, by, filters)))


def export_rows(df: pd.DataFrame, by: list[str] | tuple[str, ...]) -> list[dict]:
    """Rows in the export shape: metric_id, period, one key per grouping, figures, suppressed."""
    cols = [*EXPORT_KEYS, *by, *EXPORT_FIGURES]
    out = []
    for rec in df[cols].to_dict("records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif hasattr(v, "item"):
                v = v.item()
            if k in by and v is not None and not isinstance(v, str):
                v = str(v)
            clean[k] = v
        for k in ("numerator", "denominator", "value", "ci_low", "ci_high"):
            if clean[k] is not None:
                clean[k] = round(float(clean[k]), 6)
        clean["suppressed"] = bool(clean["suppressed"])
        out.append(clean)
    return out


def organizations(ws: Workspace) -> list[str]:
    """Provider organizations with attributed members (for viewer and filter choices)."""
    con = ws.connect()
    try:
        rows = con.execute(
            "SELECT DISTINCT organization FROM member_months WHERE organization IS NOT NULL ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def payers(ws: Workspace) -> list[str]:
    con = ws.connect()
    try:
        rows = con.execute("SELECT DISTINCT payer FROM member_months ORDER BY 1").fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]
