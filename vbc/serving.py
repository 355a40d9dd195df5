"""Serving tables: what the build computes once so that a page view only reads small tables.

The build (vbc.workspace) calls `build_serving` after the marts. It adds:

- `quality_events`: one row per value set, claim field, person, service dates and code, for every
  diagnosis, procedure, CPT/HCPCS and bill-type code on a claim line that a value set names. The
  quality measures (metrics/*.yaml, metrics/shared/*.yaml) read these instead of unnesting the 25
  diagnosis and 25 procedure columns of every claim line on every call. It depends on the value
  sets, so the build records their fingerprint and a changed definition rebuilds
  (Workspace.is_current).

Everything here is computed by the same definitions and engine code the pages call on demand; the
tests compare the two.
"""

from __future__ import annotations

import hashlib
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import duckdb
import pyarrow as pa

from vbc.periods import Period, add_months, month_end, month_range
from vbc.registry import PERIODS_TABLE, Metric, Registry
from vbc.valuesets import all_value_sets

# Claim fields a value set's codes are looked for in, and the SQL that reads each from a claim line.
# Every field is matched against every value set's codes (whatever the set's code system), so a
# definition that compares a field with a set gets exactly the lines it would get from the claims.
EVENT_FIELDS = ("dx", "px", "hcpcs", "bill_type")


@lru_cache(maxsize=8)
def value_set_rows() -> pa.Table:
    """(value_set, code) for every code of every value set, in a stable order."""
    rows = sorted({(vs.name, c) for vs in all_value_sets().values() for c in vs.codes})
    return pa.table(
        {
            "value_set": pa.array([r[0] for r in rows], pa.string()),
            "code": pa.array([r[1] for r in rows], pa.string()),
        }
    )


def value_sets_fingerprint() -> str:
    """What quality_events was built from: a hash of every value set's codes."""
    h = hashlib.sha256()
    table = value_set_rows()
    for name, code in zip(table["value_set"].to_pylist(), table["code"].to_pylist()):
        h.update(f"{name}\0{code}\n".encode())
    return h.hexdigest()


def build_quality_events(
    con: duckdb.DuckDBPyConnection, name: str = "quality_events", temp: bool = False
) -> None:
    """Create `name` from `medical_claim_lines` and the value sets (see the module docstring).

    `temp`: a temporary table on a read-only connection, for definitions whose value sets differ
    from the build's (the engine then reads this one instead)."""
    con.register("_quality_value_sets", value_set_rows())
    try:
        kind = "TEMP TABLE" if temp else "TABLE"
        con.execute(f"""
        CREATE OR REPLACE {kind} {name} AS
        WITH lines AS (
            SELECT person_id, payer, claim_start_date,
                   coalesce(claim_end_date, claim_start_date) AS claim_end,
                   coalesce(claim_line_start_date, claim_start_date) AS line_start,
                   coalesce(claim_line_end_date, claim_end_date, claim_line_start_date, claim_start_date) AS line_end,
                   hcpcs_code, substr(ltrim(coalesce(bill_type_code, ''), '0'), 1, 2) AS bill2,
                   list_value(*COLUMNS('^diagnosis_code_')) AS dx, list_value(*COLUMNS('^procedure_code_')) AS px
            FROM medical_claim_lines
        ), coded AS (
            SELECT person_id, payer, claim_start_date, claim_end, line_start, line_end, 'dx' AS field,
                   unnest(dx) AS code FROM lines
            UNION ALL
            SELECT person_id, payer, claim_start_date, claim_end, line_start, line_end, 'px', unnest(px) FROM lines
            UNION ALL
            SELECT person_id, payer, claim_start_date, claim_end, line_start, line_end, 'hcpcs', hcpcs_code
            FROM lines
            UNION ALL
            SELECT person_id, payer, claim_start_date, claim_end, line_start, line_end, 'bill_type', bill2
            FROM lines
        )
        SELECT DISTINCT v.value_set, c.field, c.person_id, c.payer, c.claim_start_date, c.claim_end,
               c.line_start, c.line_end, c.code
        FROM coded c JOIN _quality_value_sets v ON v.code = c.code
        ORDER BY ALL
        """)
    finally:
        con.unregister("_quality_value_sets")


# ------------------------------------------------------------------------------------------------
# Periods a measure is evaluated over: a table the measure SQL reads (vbc.registry.PERIODS_TABLE)


def set_periods(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, date, date]]) -> None:
    """Fill the connection's (temporary) period table with (period_id, period_start, period_end).

    It must exist before a measure's shared macros are created (DuckDB binds a macro's tables when
    it is created), so it is created empty first when needed."""
    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {PERIODS_TABLE} (period_id INTEGER, period_start DATE, period_end DATE)"
    )
    con.execute(f"DELETE FROM {PERIODS_TABLE}")
    if rows:
        con.register(
            "_period_rows",
            pa.table(
                {
                    "period_id": pa.array([r[0] for r in rows], pa.int32()),
                    "period_start": pa.array([r[1] for r in rows], pa.date32()),
                    "period_end": pa.array([r[2] for r in rows], pa.date32()),
                }
            ),
        )
        try:
            con.execute(f"INSERT INTO {PERIODS_TABLE} SELECT * FROM _period_rows")
        finally:
            con.unregister("_period_rows")


def tune(con: duckdb.DuckDBPyConnection) -> None:
    """Settings measure SQL relies on: DuckDB turns an as-of join with a small estimated left side
    into a nested loop, and its estimates for the measures' CTEs are far too small (seconds instead
    of milliseconds), so that rewrite is switched off."""
    con.execute("SET asof_loop_join_threshold = 0")


# ------------------------------------------------------------------------------------------------
# Person-level quality results, computed at build time for the periods pages ask for

RATE, MONTHLY = "rate", "monthly"  # the measure as defined; a trend's monthly point (trend options)
RESULT_COLUMNS = (
    "person_id",
    "payer",
    "year_month",
    "numerator",
    "denominator",
    "excluded",
    "exclusion_reason",
    "evidence_code",
    "evidence_date",
    "detail",
    "gap",
    "stay_id",
    "discharge_date",
)
DETAIL_COLUMNS = RESULT_COLUMNS[5:]
_DETAIL_TYPES = {
    "excluded": "BOOLEAN",
    "evidence_date": "DATE",
    "discharge_date": "DATE",
}
# The anchor month's member-month columns, so a viewer's scope (vbc.scope.member_scope) and the
# engine's groupings apply to these rows exactly as they do to member_months.
SCOPE_COLUMNS = ("plan", "organization", "tin", "npi")


@dataclass(frozen=True)
class PeriodPlan:
    """The periods a build evaluates every quality measure over."""

    pages: tuple[Period, ...]  # each calendar year in the data (clipped to it) and all months
    rolling: tuple[Period, ...]  # the 12 months ending each trend month (when all are in the data)
    months: tuple[Period, ...]  # each trend month on its own (the p-chart's points)


def plan_periods(first: date, last: date, trend_months: int, rolling_months: int) -> PeriodPlan:
    """The periods the pages and the command line ask for by default (vbc.ui.context's period
    choices, vbc.quality.trend's last `trend_months` months)."""
    first, end = first.replace(day=1), month_end(last)
    pages = [
        Period(max(date(y, 1, 1), first), min(date(y, 12, 31), end)) for y in range(first.year, end.year + 1)
    ]
    pages.append(Period(first, end))
    last_month = end.replace(day=1)
    trend = [m for m in month_range(add_months(last_month, -(trend_months - 1)), last_month) if m >= first]
    rolling = [
        Period.of_months(add_months(m, -(rolling_months - 1)), m)
        for m in trend
        if add_months(m, -(rolling_months - 1)) >= first
    ]
    return PeriodPlan(
        tuple(dict.fromkeys(pages)), tuple(rolling), tuple(Period.of_months(m, m) for m in trend)
    )


def _create_result_tables(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(
        f"{c} {_DETAIL_TYPES.get(c, 'VARCHAR')}" if c in DETAIL_COLUMNS else f"{c} {_BASE_TYPES[c]}"
        for c in RESULT_COLUMNS
    )
    scope = ", ".join(f"{c} VARCHAR" for c in SCOPE_COLUMNS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE quality_results_staging (result_key INTEGER, {cols}, {scope})")
    con.execute(
        "CREATE OR REPLACE TABLE quality_result_sets (result_key INTEGER, metric_id VARCHAR, variant VARCHAR, "
        "period_start DATE, period_end DATE, detail BOOLEAN, columns VARCHAR[])"
    )


_BASE_TYPES = {
    "person_id": "VARCHAR",
    "payer": "VARCHAR",
    "year_month": "DATE",
    "numerator": "INTEGER",
    "denominator": "INTEGER",
}


def _insert_results(
    con: duckdb.DuckDBPyConnection, sql: str, offset: int, keep: list[int], detail: list[int]
) -> list[str]:
    """Run a measure's SQL over the connection's periods into the staging table (period i becomes
    result set offset + i; only periods in `keep`, with their detail columns for those in
    `detail`); returns the result columns the measure has."""
    own = [d[0] for d in con.execute(f"SELECT * FROM ({sql}) LIMIT 0").description]
    cols = [c for c in RESULT_COLUMNS if c in own]
    picks = [
        (
            f"CASE WHEN list_contains($detail, m.period_id) THEN m.{c} END AS {c}"
            if c in DETAIL_COLUMNS
            else f"m.{c}"
        )
        if c in cols
        else f"NULL AS {c}"
        for c in RESULT_COLUMNS
    ]
    con.execute(
        f"""
    INSERT INTO quality_results_staging
    SELECT m.period_id + $offset, {", ".join(picks)}, {", ".join(f"mm.{c}" for c in SCOPE_COLUMNS)}
    FROM ({sql}) m JOIN member_months mm
      ON mm.person_id = m.person_id AND mm.payer = m.payer AND mm.year_month = m.year_month
    WHERE list_contains($keep, m.period_id)
    """,
        {"offset": offset, "keep": keep, "detail": detail},
    )
    return cols


def precompute_quality(con: duckdb.DuckDBPyConnection, registry: Registry, first: date, last: date) -> dict:
    """Evaluate every quality measure over the plan's periods into `quality_results` (+ its index
    `quality_result_sets`): one query per measure and variant, with each shared definition
    (metrics/shared) evaluated once for all measures. A measure that fails here is left to be
    computed on demand (where its error is shown as before); returns what was done."""
    from vbc import quality

    plan = plan_periods(first, last, quality.TREND_MONTHS, quality.ROLLING_MONTHS)
    metrics = [m for m in quality.quality_metrics(registry, include_variants=True) if m.periodic]
    rate = list(plan.pages) + [p for p in plan.rolling if p not in plan.pages]
    _create_result_tables(con)
    tune(con)
    sets, failed, seconds, offset = [], [], {}, 0
    for variant, periods in ((RATE, rate), (MONTHLY, list(plan.months))):
        set_periods(con, [(i, p.start, p.end) for i, p in enumerate(periods)])
        _load_all_value_sets(con, metrics)
        _cache_shared(con, metrics)
        for metric in metrics:
            started = time.perf_counter()
            runnable = metric if variant == RATE else quality.monthly_metric(metric)
            first_judged = _first_judged(metric, first)
            keep = [i for i, p in enumerate(periods) if variant == RATE or p.start >= first_judged]
            detail = [i for i, p in enumerate(periods) if variant == RATE and p in plan.pages]
            try:
                cols = _insert_results(con, runnable.sql, offset, keep, detail)
            except duckdb.Error as exc:
                failed.append(f"{metric.id} ({variant}): {str(exc).splitlines()[0]}")
                continue
            finally:
                seconds[f"{metric.id} ({variant})"] = round(time.perf_counter() - started, 2)
            for i in keep:
                sets.append(
                    (offset + i, metric.id, variant, periods[i].start, periods[i].end, i in detail, cols)
                )
            offset += len(periods)
    set_periods(con, [])
    _finish_results(con, sets)
    return {"quality_result_sets": len(sets), "quality_failed": failed, "quality_seconds": seconds}


def _first_judged(metric: Metric, first: date) -> date:
    """The first month a trend judges (vbc.quality.short_history_months: earlier months' lookback
    reaches before the data)."""
    lookback = int((metric.options.get("trend") or {}).get("lookback_months") or 0)
    return add_months(first.replace(day=1), lookback)


def _load_all_value_sets(con: duckdb.DuckDBPyConnection, metrics: list[Metric]) -> None:
    """The value sets of every measure at once (each measure's SQL names the sets it reads)."""
    from vbc import engine

    names = tuple(sorted({v for m in metrics for v in m.value_sets}))
    con.register("_all_value_sets", engine.value_set_table(names))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE value_sets AS SELECT * FROM _all_value_sets")
    finally:
        con.unregister("_all_value_sets")


def _cache_shared(con: duckdb.DuckDBPyConnection, metrics: list[Metric]) -> None:
    """Create the shared definitions the measures call, each table one evaluated once over the
    connection's periods and then read from that result: every measure calls the same ones
    (population, qualifying visits, hospice, frailty, palliative care, ...) over the same periods."""
    done: set[str] = set()
    for metric in metrics:
        for macro in metric.shared:  # in creation order: a macro after the ones it calls
            if macro.name in done:
                continue
            done.add(macro.name)
            con.execute(macro.create_sql)
            if macro.kind == "table" and not macro.parameters:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _shared_{macro.name} AS SELECT * FROM {macro.name}()"
                )
                con.execute(
                    f"CREATE OR REPLACE TEMP MACRO {macro.name}() AS TABLE SELECT * FROM _shared_{macro.name}"
                )


def _finish_results(con: duckdb.DuckDBPyConnection, sets: list) -> None:
    # Sorted by result set, then scope: a page's query reads one set's row groups, and the
    # organization and person columns compress well.
    con.execute("""
    CREATE OR REPLACE TABLE quality_results AS
    SELECT * FROM quality_results_staging
    ORDER BY result_key, organization, tin, npi, person_id, payer
    """)
    con.execute("DROP TABLE quality_results_staging")
    if sets:
        con.executemany("INSERT INTO quality_result_sets VALUES (?, ?, ?, ?, ?, ?, ?)", sets)


# ------------------------------------------------------------------------------------------------
# Member-month facts: every cost and utilization metric, and each category's dollars and events,
# per person, payer and month, computed once


_IDENT = re.compile(r"^[a-z0-9_]+$")
FACTS = "member_month_facts"


def fact_metric(metric: Metric) -> bool:
    """Metrics whose rows do not depend on the period (their SQL has no period parameters): their
    person-month rows are computed once at build time and every period is a sum of them."""
    return (
        not metric.periodic
        and not metric.completed_from
        and not metric.parameters
        and bool(_IDENT.match(metric.id))
    )


LAG_FACTS = "lag_facts"


def precompute_lag_facts(con: duckdb.DuckDBPyConnection, through: date | None) -> dict:
    """`lag_facts`: paid dollars by incurred month, payment lag and service category, per plan,
    organization, TIN and NPI of the member month the claim was incurred in (so vbc.scope applies
    as to member_months): the lag triangle of any viewer or filter is a sum over it. Only the
    claims a triangle at the build's paid-through date reads (vbc.completion.triangle_frame)."""
    if through is None:
        return {}
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {LAG_FACTS} AS
        SELECT mm.payer, mm.plan, mm.organization, mm.tin, mm.npi, c.service_category, c.incurred_month,
               greatest(date_diff('month', c.incurred_month, c.paid_month), 0) AS lag,
               sum(c.paid_amount) AS paid
        FROM claim_lines c JOIN member_months mm ON mm.person_id = c.person_id AND mm.payer = c.payer
                                                AND mm.year_month = c.incurred_month
        WHERE c.paid_date <= $through AND c.incurred_month <= $through
        GROUP BY ALL ORDER BY c.incurred_month, lag""",
        {"through": through},
    )
    return {"lag_facts_through": through.isoformat()}


def lag_facts_through(ws) -> date | None:
    """The paid-through date `ws`'s lag_facts were cut at, or None (not built, or switched off)."""
    text = (ws.good or {}).get("lag_facts_through") if ws is not None else None
    return date.fromisoformat(text) if _ENABLED and text else None


def has_claim_facts(ws) -> bool:
    """Whether `ws`'s build holds member_month_facts (its claim columns do not depend on the
    metric definitions, so any build that made the table can serve them)."""
    return _ENABLED and "fact_metrics" in (ws.good or {})


def claim_fact_columns(category: str) -> tuple[str, str]:
    """(paid dollars, events) column names of a service category in member_month_facts."""
    return f'"paid:{category}"', f'"events:{category}"'


def fact_columns(metric_id: str) -> tuple[str, str, str]:
    """(numerator, denominator, rows) column names of a metric in member_month_facts."""
    return tuple(f'"{metric_id}:{part}"' for part in ("n", "d", "r"))


def _claim_facts_sql() -> str:
    """Per person, payer and incurred month: paid dollars (NULL without a claim line), and each
    category's dollars and events as vbc.cost counts them (admissions, SNF stays, ED visits,
    prescriptions, and person-days with a claim for the other categories)."""
    from vbc.marts import SERVICE_CATEGORIES

    paid = ", ".join(
        f"sum(paid_amount) FILTER (WHERE service_category = '{c}') AS \"paid:{c}\""
        for c in SERVICE_CATEGORIES
    )
    days = ", ".join(
        f"count(DISTINCT service_date) FILTER (WHERE service_category = '{c}') AS \"events:{c}\""
        for c in SERVICE_CATEGORIES
        if c not in ("inpatient", "snf", "emergency", "pharmacy")
    )
    return f"""
    WITH lines AS (
        SELECT person_id, payer, incurred_month AS year_month, sum(paid_amount) AS paid, {paid}, {days},
               count(DISTINCT claim_id) FILTER (WHERE service_category = 'pharmacy') AS "events:pharmacy"
        FROM claim_lines GROUP BY ALL
    ), stays AS (
        SELECT person_id, payer, admission_month AS year_month, count(*) AS "events:inpatient"
        FROM inpatient_stays GROUP BY ALL
    ), snf AS (
        SELECT person_id, payer, admission_month AS year_month, count(*) AS "events:snf" FROM snf_stays GROUP BY ALL
    ), ed AS (
        SELECT person_id, payer, visit_month AS year_month, count(*) AS "events:emergency" FROM ed_visits GROUP BY ALL
    )
    SELECT * FROM lines
    FULL JOIN stays USING (person_id, payer, year_month)
    FULL JOIN snf USING (person_id, payer, year_month)
    FULL JOIN ed USING (person_id, payer, year_month)
    """


def _metric_rows(con: duckdb.DuckDBPyConnection, metric: Metric, name: str) -> None:
    """A metric's rows summed per person, payer and month into temporary table `name`; integer
    sums kept as BIGINT (DuckDB's sum of integers is a 128-bit integer)."""
    from vbc import engine

    engine.prepare(con, metric)
    types = dict((d[0], str(d[1])) for d in con.execute(f"SELECT * FROM ({metric.sql}) LIMIT 0").description)

    def cast(col: str) -> str:
        kind = (
            "DOUBLE"
            if any(t in types.get(col, "") for t in ("DOUBLE", "FLOAT", "DECIMAL", "REAL"))
            else "BIGINT"
        )
        return f"CAST(sum({col}) AS {kind})"

    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE {name} AS
    SELECT person_id, payer, year_month, {cast("numerator")} AS n, {cast("denominator")} AS d, count(*) AS r
    FROM ({metric.sql}) GROUP BY person_id, payer, year_month
    """)


def precompute_facts(con: duckdb.DuckDBPyConnection, registry: Registry) -> dict:
    """`member_month_facts`: one row per member month with its plan, organization, TIN and NPI (so
    vbc.scope and the engine's groupings apply as to member_months), the claim facts above, and
    for every fact_metric its numerator, denominator and row count (`"<id>:n"`, `:d`, `:r`; NULL
    where the metric has no row, exactly as the engine's join of its rows to member months)."""
    metrics = [m for m in registry if fact_metric(m)]
    seconds = {}
    for i, metric in enumerate(metrics):
        started = time.perf_counter()
        _metric_rows(con, metric, f"_fact_{i}")
        seconds[metric.id] = round(time.perf_counter() - started, 2)
    joins = "".join(
        f" LEFT JOIN _fact_{i} f{i} USING (person_id, payer, year_month)" for i in range(len(metrics))
    )
    picks = "".join(
        f", f{i}.n AS {n}, f{i}.d AS {d}, f{i}.r AS {r}"
        for i, m in enumerate(metrics)
        for n, d, r in [fact_columns(m.id)]
    )
    started = time.perf_counter()
    con.execute(f"""
    CREATE OR REPLACE TABLE {FACTS} AS
    WITH claims AS ({_claim_facts_sql()})
    SELECT mm.person_id, mm.payer, mm.year_month, mm.plan, mm.organization, mm.tin, mm.npi,
           c.* EXCLUDE (person_id, payer, year_month) {picks}
    FROM member_months mm LEFT JOIN claims c USING (person_id, payer, year_month) {joins}
    ORDER BY mm.year_month, mm.organization, mm.tin, mm.npi, mm.person_id, mm.payer
    """)
    seconds["(table)"] = round(time.perf_counter() - started, 2)
    for i in range(len(metrics)):
        con.execute(f"DROP TABLE _fact_{i}")
    return {"fact_metrics": [m.id for m in metrics], "facts_seconds": seconds}


# ------------------------------------------------------------------------------------------------
# What a reader finds precomputed in its build

_ENABLED = True


@contextmanager
def on_demand():
    """Compute everything from the marts as if nothing were precomputed (tests compare the two)."""
    global _ENABLED
    before, _ENABLED = _ENABLED, False
    try:
        yield
    finally:
        _ENABLED = before


def enabled() -> bool:
    """False inside `on_demand()`: readers then compute from the marts."""
    return _ENABLED


@dataclass(frozen=True)
class Served:
    """The precomputed quality results of one build that are valid for one set of definitions:
    (metric_id, variant, period start, period end) -> (result_key, has detail, result columns)."""

    sets: dict
    events_ok: bool  # quality_events was built from the value sets the definitions use now
    facts: frozenset = frozenset()  # metrics with columns in member_month_facts

    def find(self, metric_id: str, variant: str, period: Period, detail: bool = False):
        hit = self.sets.get((metric_id, variant, period.start, period.end))
        if hit is None or (detail and not hit[1]):
            return None
        return hit


NOTHING = Served({}, False)


def served(ws, con: duckdb.DuckDBPyConnection, registry: Registry) -> Served:
    """What `con` (a connection to `ws`'s pinned build) holds precomputed for `registry`."""
    good = ws.good or {}
    events_ok = good.get("value_sets_fingerprint") == value_sets_fingerprint()
    if not _ENABLED or good.get("definitions_fingerprint") != registry.fingerprint:
        return Served({}, events_ok)
    path = str(ws.mart_path)
    if path not in _SETS:  # a build file is never rewritten, so its index is read once
        _SETS[path] = _result_sets(con)
    return Served(_SETS[path], events_ok, frozenset(good.get("fact_metrics") or ()))


_SETS: dict[str, dict] = {}


def _result_sets(con: duckdb.DuckDBPyConnection) -> dict:
    try:
        rows = con.execute(
            "SELECT metric_id, variant, period_start, period_end, result_key, detail, columns FROM quality_result_sets"
        ).fetchall()
    except duckdb.CatalogException:  # a build made before results were precomputed
        return {}
    return {(m, v, s, e): (k, bool(d), tuple(c)) for m, v, s, e, k, d, c in rows}


def ensure_events(con: duckdb.DuckDBPyConnection, srv: Served) -> None:
    """Give `con` a quality_events table matching today's value sets: the build's own, or (when a
    value set changed since the build) a temporary one built from the claim lines."""
    if srv.events_ok or _has_temp(con, "quality_events"):
        return
    build_quality_events(con, temp=True)
    if not _has_table(con, "member_spans"):
        from vbc.marts import MEMBER_SPANS_SQL

        con.execute(f"CREATE TEMP TABLE member_spans AS {MEMBER_SPANS_SQL}")


def _has_temp(con, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = $n", {"n": name}
        ).fetchall()[0][0]
    )


def _has_table(con, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $n", {"n": name}).fetchall()[0][
            0
        ]
    )


# ------------------------------------------------------------------------------------------------
# The build step


def build_serving(con: duckdb.DuckDBPyConnection, facts: dict) -> dict:
    """Everything above, into the build's connection; returns facts for the build's description.

    The definitions are read here (their fingerprint goes into the build, so changed definitions
    rebuild). When they cannot be read the app refuses to show numbers anyway; the build then
    keeps the marts and leaves the quality results to be computed once the definitions load."""
    from vbc.registry import MetricDefinitionError, load_registry

    timings: dict[str, float] = {}
    started = time.perf_counter()
    build_quality_events(con)
    timings["quality_events"] = round(time.perf_counter() - started, 2)
    out = {"value_sets_fingerprint": value_sets_fingerprint(), "definitions_fingerprint": None}
    try:
        registry = load_registry()
    except MetricDefinitionError as exc:
        return {**out, "serving_skipped": str(exc), "serving_seconds": timings}
    started = time.perf_counter()
    out |= precompute_facts(con, registry)
    timings["member_month_facts"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    through = facts.get("paid_through")
    out |= precompute_lag_facts(con, date.fromisoformat(through) if through else None)
    timings["lag_facts"] = round(time.perf_counter() - started, 2)
    first, last = facts.get("first_month"), facts.get("last_month")
    if first and last:
        started = time.perf_counter()
        out |= precompute_quality(con, registry, date.fromisoformat(first), date.fromisoformat(last))
        timings["quality_results"] = round(time.perf_counter() - started, 2)
    out["definitions_fingerprint"] = registry.fingerprint
    return {**out, "serving_seconds": timings}
