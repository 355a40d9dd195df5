"""Total cost of care beyond the plain PMPM metrics: high-cost claimant cap, capped and completed
expenditure (what settlement calls), the benchmark, and "what moved" between two periods.

Every query here starts from the viewer's member months with the viewer's organization as a bound
parameter, exactly like the metric engine, so an organization only ever sees its own members.

High-cost cap: each person's paid dollars are accumulated over a calendar year (month by month,
in incurred order) and every dollar above the cap is removed: a month's capped dollars are
`min(cum, cap) - min(cum_before, cap)`. The annual total is therefore `min(annual, cap)`, and the
monthly trend loses the catastrophic months' excess rather than an arbitrary share of every month.
A percentile cap is the given percentile of annual paid dollars among the people with a member
month that year in the viewer's scope.

Decomposition ("what moved"), per service category, with U = events per member month and
C = paid dollars per event (PMPM = U × C):
    ΔPMPM = (U1 − U0)·C0          utilization, at the old cost per event
          + (C1 − C0)·U0          unit cost, at the old utilization
          + (U1 − U0)·(C1 − C0)   both together (mix / interaction)
which adds up exactly. Events: acute admissions (inpatient), SNF stays, ED visits (emergency),
prescriptions (pharmacy), person-days with a claim in the category (all other categories).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vbc import completion, serving
from vbc.engine import PER_1000_SCALE
from vbc.marts import CATEGORY_LABELS, SERVICE_CATEGORIES
from vbc.periods import Period, add_months
from vbc.scope import member_scope, organization_in_view
from vbc.security import Viewer, is_small
from vbc.terms import HighCostCap, contract_of, workspace_contracts
from vbc.workspace import Workspace

DEFAULT_CAP = HighCostCap(amount=250_000.0)
EVENT_LABELS = {
    "inpatient": ("admissions", "cost per admission"),
    "snf": ("SNF stays", "cost per SNF stay"),
    "emergency": ("ED visits", "cost per ED visit"),
    "pharmacy": ("prescriptions", "cost per prescription"),
}
DEFAULT_EVENT = ("visit days", "cost per visit day")


@dataclass(frozen=True)
class CapChoice:
    cap: HighCostCap
    source: str  # where the cap came from, said on the page

    @property
    def label(self) -> str:
        if self.cap.amount:
            return f"${self.cap.amount:,.0f} per member per year"
        return f"{self.cap.percentile:g}th percentile of members' annual cost"


def _scope(viewer: Viewer, organization: str | None = None, payer: str | None = None) -> tuple[str, dict]:
    """The viewer's member_months condition (vbc.scope) and a fresh dict of its parameters."""
    scope = member_scope(viewer, {"organization": organization, "payer": payer})
    return scope.sql, dict(scope.params)


def _filters(viewer: Viewer, organization: str | None, payer: str | None = None) -> dict:
    return {"organization": organization_in_view(viewer, organization), "payer": payer}


def contract_cap(
    ws: Workspace, viewer: Viewer, organization: str | None = None, year: int | None = None
) -> CapChoice:
    """The high-cost cap to apply: the contract of the organization in view (of `year` when it has
    one), else the default, said as such."""
    terms = contract_of(ws, organization_in_view(viewer, organization), year)
    if terms is not None and terms.high_cost_cap:
        return CapChoice(terms.high_cost_cap, f"contract {terms.contract_id}")
    return CapChoice(DEFAULT_CAP, "default (no contract cap for this view)")


def contract_benchmark(
    ws: Workspace, viewer: Viewer, organization: str | None = None, year: int | None = None
) -> tuple[float, str] | None:
    """A fixed benchmark PMPM from the contract terms of the organization in view (of `year` first,
    else another year's fixed benchmark), with the contract id; None when no organization is in
    view or none of its contracts has a fixed PMPM."""
    org = organization_in_view(viewer, organization)
    if not org:
        return None  # a contract benchmark belongs to one organization
    mine = [t for t in workspace_contracts(ws) if t.provider_organization == org and t.benchmark.pmpm]
    for terms in sorted(mine, key=lambda t: year is not None and t.performance_year != year):
        return float(terms.benchmark.pmpm), (
            f"contract {terms.contract_id} ({terms.provider_organization}, {terms.performance_year})"
        )
    return None


# ----------------------------------------------------------------------------- capped monthly cost
def _cap_amounts(con, scope: str, params: dict, cap: HighCostCap | None) -> dict[int, float]:
    """Cap in dollars per calendar year (a percentile cap is worked out per year)."""
    if cap is None:
        return {}
    if cap.amount:
        return {}
    rows = con.execute(
        f"""
        WITH mm AS (SELECT DISTINCT person_id, payer, year_month FROM member_months
                    WHERE year_month BETWEEN $month_start AND $month_end {scope}),
        people AS (SELECT DISTINCT person_id, payer, year(year_month) AS yr FROM mm),
        paid AS (SELECT c.person_id, c.payer, year(c.incurred_month) AS yr, sum(c.paid_amount) AS paid
                 FROM claim_lines c JOIN mm ON mm.person_id = c.person_id AND mm.payer = c.payer
                                         AND mm.year_month = c.incurred_month GROUP BY ALL)
        SELECT p.yr, quantile_cont(coalesce(paid.paid, 0), $q) AS cap
        FROM people p LEFT JOIN paid USING (person_id, payer, yr) GROUP BY p.yr""",
        {**params, "q": cap.percentile / 100.0},
    ).fetchall()
    return {int(y): float(c) for y, c in rows}


def _capped_sql(
    con, viewer: Viewer, period: Period, organization: str | None, payer: str | None, cap: HighCostCap | None
) -> tuple[str, dict]:
    """CTEs `mm` (scoped member months) and `capped` (person, payer, month: paid, capped)."""
    scope, params = _scope(viewer, organization, payer)
    params.update({"month_start": period.start.replace(day=1), "month_end": period.end})
    caps = _cap_amounts(con, scope, params, cap)
    if cap is not None and cap.amount:
        cap_sql = "$cap_amount"
        params["cap_amount"] = float(cap.amount)
    elif caps:  # numbers computed above, not user input
        cap_sql = (
            "CASE "
            + " ".join(f"WHEN yr = {int(y)} THEN {float(c)!r}" for y, c in caps.items())
            + " ELSE NULL END"
        )
    else:
        cap_sql = "NULL"
    return (
        f"""
        WITH mm AS (SELECT person_id, payer, year_month, organization, tin, npi FROM member_months
                    WHERE year_month BETWEEN $month_start AND $month_end {scope}),
        paid AS (SELECT c.person_id, c.payer, c.incurred_month AS year_month, sum(c.paid_amount) AS paid
                 FROM claim_lines c JOIN mm ON mm.person_id = c.person_id AND mm.payer = c.payer
                                         AND mm.year_month = c.incurred_month GROUP BY ALL),
        cum AS (SELECT *, year(year_month) AS yr,
                       sum(paid) OVER (PARTITION BY person_id, payer, year(year_month)
                                       ORDER BY year_month) AS cum
                FROM paid),
        capped AS (SELECT person_id, payer, year_month, paid,
                          CASE WHEN ({cap_sql}) IS NULL THEN paid
                               ELSE least(cum, {cap_sql}) - least(cum - paid, {cap_sql}) END AS capped
                   FROM cum)
    """,
        params,
    )


def person_months(
    con,
    viewer: Viewer,
    period: Period,
    organization: str | None = None,
    payer: str | None = None,
    cap: HighCostCap | None = None,
    by: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Per month (and grouping): member months, persons, paid and capped paid dollars."""
    ctes, params = _capped_sql(con, viewer, period, organization, payer, cap)
    allowed = {"organization": "organization", "tin": "tin", "npi": "npi", "payer": "payer"}
    group = "".join(f", mm.{allowed[b]} AS {b}" for b in by)
    return con.execute(
        f"""{ctes}
        SELECT strftime(mm.year_month, '%Y-%m') AS month {group},
               count(*) AS member_months, count(DISTINCT mm.person_id) AS persons,
               coalesce(sum(c.paid), 0) AS paid, coalesce(sum(c.capped), 0) AS capped_paid
        FROM mm LEFT JOIN capped c ON c.person_id = mm.person_id AND c.payer = mm.payer
                                  AND c.year_month = mm.year_month
        GROUP BY ALL ORDER BY ALL""",
        params,
    ).df()


def capped_person_dollars(
    ws: Workspace,
    viewer: Viewer,
    period: Period,
    organization: str | None,
    payer: str | None,
    cap: HighCostCap,
) -> pd.DataFrame:
    """(person_id, payer, month, paid) with the cap applied; for the capped risk-adjusted table."""
    con = ws.connect()
    try:
        ctes, params = _capped_sql(con, viewer, period, organization, payer, cap)
        return con.execute(
            f"""{ctes}
            SELECT person_id, payer, strftime(year_month, '%Y-%m') AS month, capped AS paid
            FROM capped""",
            params,
        ).df()
    finally:
        con.close()


def monthly_cost(
    ws: Workspace,
    viewer: Viewer,
    period: Period,
    organization: str | None = None,
    payer: str | None = None,
    cap: HighCostCap | None = None,
) -> pd.DataFrame:
    """Monthly PMPM raw, capped and completed (after the cap), with the completion range.

    Completion factors are those of the total-cost triangle in the same scope (engine and CLI use
    the same ones for total_cost_pmpm_completed).
    """
    con = ws.connect()
    try:
        df = person_months(con, viewer, period, organization, payer, cap)
        factors = completion.completion_table(con, ws, viewer, _filters(viewer, organization, payer))
    finally:
        con.close()
    df = completion.complete_monthly(df, factors, num_col="capped_paid")
    f = factors.set_index("month")
    df["completion_factor"] = df["month"].map(f["completion_factor"]).fillna(1.0)
    mm = df["member_months"].astype(float)
    df["pmpm_raw"] = df["paid"] / mm
    df["pmpm_capped_raw"] = df["capped_paid"] / mm
    df["pmpm"] = df["completed"] / mm
    df["pmpm_low"] = df["low"] / mm
    df["pmpm_high"] = df["high"] / mm
    return df


def expenditure(
    ws: Workspace,
    viewer: Viewer,
    period: Period,
    organization: str | None = None,
    cap: HighCostCap | None = None,
    complete: bool = True,
) -> dict:
    """Expenditure for a period as settlement needs it: raw, capped, completed, with a range.

    `cap=None` applies no cap. An organization viewer only ever gets its own organization (asking
    for another raises NotEntitled). With `complete=False`, completed = capped raw dollars.
    """
    df = monthly_cost(ws, viewer, period, organization, None, cap)
    mm = float(df["member_months"].sum()) if len(df) else 0.0
    paid = float(df["paid"].sum()) if len(df) else 0.0
    capped = float(df["capped_paid"].sum()) if len(df) else 0.0
    if complete:
        completed, low, high = (float(df[c].sum()) if len(df) else 0.0 for c in ("completed", "low", "high"))
        incomplete = sorted(df.loc[df["incomplete"], "month"].tolist())
    else:
        completed = low = high = capped
        incomplete = []
    con = ws.connect()
    try:
        scope, params = _scope(viewer, organization)
        params.update({"month_start": period.start.replace(day=1), "month_end": period.end})
        persons = con.execute(
            f"SELECT count(DISTINCT person_id) FROM member_months "
            f"WHERE year_month BETWEEN $month_start AND $month_end {scope}",
            params,
        ).fetchone()[0]
    finally:
        con.close()

    def per(x: float) -> float:
        return x / mm if mm else math.nan

    return {
        "member_months": mm,
        "persons": int(persons or 0),
        "paid": paid,
        "capped_dollars": paid - capped,
        "completed": completed,
        "low": low,
        "high": high,
        "pmpm": per(completed),
        "pmpm_low": per(low),
        "pmpm_high": per(high),
        "pmpm_raw": per(paid),
        "incomplete_months": incomplete,
        "completion_factor": (capped / completed) if completed else 1.0,
    }


def high_cost_claimants(
    ws: Workspace,
    viewer: Viewer,
    period: Period,
    cap: HighCostCap,
    organization: str | None = None,
    payer: str | None = None,
) -> pd.DataFrame:
    """People whose annual paid dollars exceed the cap, and the dollars the cap removes.

    Payer and organization viewers get one row per person and year (their own members only);
    the joint view gets one row per organization and year, with no person ids, and the count and
    dollars hidden when 1 to 10 people are capped.
    """
    con = ws.connect()
    try:
        scope, params = _scope(viewer, organization, payer)
        params.update({"month_start": period.start.replace(day=1), "month_end": period.end})
        caps = _cap_amounts(con, scope, params, cap)
        df = con.execute(
            f"""
            WITH mm AS (SELECT person_id, payer, year_month, organization FROM member_months
                        WHERE year_month BETWEEN $month_start AND $month_end {scope}),
            paid AS (SELECT c.person_id, c.payer, year(c.incurred_month) AS year,
                            sum(c.paid_amount) AS annual_paid,
                            arg_max(mm.organization, c.incurred_month) AS organization
                     FROM claim_lines c JOIN mm ON mm.person_id = c.person_id AND mm.payer = c.payer
                                             AND mm.year_month = c.incurred_month GROUP BY ALL)
            SELECT * FROM paid ORDER BY annual_paid DESC""",
            params,
        ).df()
    finally:
        con.close()
    df["cap"] = [cap.amount if cap.amount else caps.get(int(y), math.nan) for y in df["year"]]
    df = df[df["annual_paid"] > df["cap"]].copy()
    df["capped_dollars"] = df["annual_paid"] - df["cap"]
    if viewer.member_level:
        return df[
            ["year", "person_id", "payer", "organization", "annual_paid", "cap", "capped_dollars"]
        ].reset_index(drop=True)
    agg = (
        df.assign(organization=df["organization"].fillna("Independent / unattributed"))
        .groupby(["year", "organization"], dropna=False)
        .agg(claimants=("person_id", "nunique"), capped_dollars=("capped_dollars", "sum"))
        .reset_index()
    )
    agg["suppressed"] = agg["claimants"].map(is_small)
    agg["claimants"] = agg["claimants"].astype("float64")
    agg.loc[agg["suppressed"], ["claimants", "capped_dollars"]] = math.nan
    return agg


# ----------------------------------------------------------------------------- what moved
def category_events(
    ws: Workspace, viewer: Viewer, period: Period, organization: str | None = None, payer: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per category and month: paid dollars and events; and member months per month."""
    scope, params = _scope(viewer, organization, payer)
    params.update({"month_start": period.start.replace(day=1), "month_end": period.end})
    con = ws.connect()
    try:
        if serving.has_claim_facts(ws):
            return _category_events_from_facts(con, scope, params)
        df = con.execute(
            f"""
            WITH mm AS (SELECT person_id, payer, year_month FROM member_months
                        WHERE year_month BETWEEN $month_start AND $month_end {scope}),
            ev AS (
                SELECT 'inpatient' AS category, person_id, payer, admission_month AS m, count(*) AS n
                FROM inpatient_stays GROUP BY ALL
                UNION ALL
                SELECT 'snf', person_id, payer, admission_month, count(*) FROM snf_stays GROUP BY ALL
                UNION ALL
                SELECT 'emergency', person_id, payer, visit_month, count(*) FROM ed_visits GROUP BY ALL
                UNION ALL
                SELECT 'pharmacy', person_id, payer, incurred_month, count(DISTINCT claim_id)
                FROM claim_lines WHERE service_category = 'pharmacy' GROUP BY ALL
                UNION ALL
                SELECT service_category, person_id, payer, incurred_month, count(DISTINCT service_date)
                FROM claim_lines
                WHERE service_category NOT IN ('inpatient', 'snf', 'emergency', 'pharmacy')
                GROUP BY ALL
            ),
            dollars AS (SELECT service_category AS category, person_id, payer, incurred_month AS m,
                               sum(paid_amount) AS paid FROM claim_lines GROUP BY ALL),
            e AS (SELECT ev.category, strftime(ev.m, '%Y-%m') AS month, sum(ev.n) AS events
                  FROM ev JOIN mm ON mm.person_id = ev.person_id AND mm.payer = ev.payer
                                 AND mm.year_month = ev.m GROUP BY ALL),
            d AS (SELECT dollars.category, strftime(dollars.m, '%Y-%m') AS month, sum(paid) AS paid
                  FROM dollars JOIN mm ON mm.person_id = dollars.person_id AND mm.payer = dollars.payer
                                      AND mm.year_month = dollars.m GROUP BY ALL)
            SELECT coalesce(d.category, e.category) AS category, coalesce(d.month, e.month) AS month,
                   coalesce(d.paid, 0) AS paid, coalesce(e.events, 0) AS events
            FROM d FULL JOIN e ON d.category = e.category AND d.month = e.month
        """,
            params,
        ).df()
        months = con.execute(
            f"""SELECT strftime(year_month, '%Y-%m') AS month, count(*) AS member_months
                                FROM member_months WHERE year_month BETWEEN $month_start AND $month_end
                                {scope} GROUP BY ALL""",
            params,
        ).df()
    finally:
        con.close()
    return df, months


def _category_events_from_facts(con, scope: str, params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`category_events` from the build's member-month facts (vbc.serving): the same dollars and
    events per person month, summed per month in one pass. A category has a row in a month when
    it has dollars or events there, as in the join of its claim rows."""
    sums = ", ".join(
        f"sum({paid}) AS p{i}, sum({events}) AS e{i}"
        for i, (paid, events) in enumerate(serving.claim_fact_columns(c) for c in SERVICE_CATEGORIES)
    )
    wide = con.execute(
        f"""SELECT strftime(year_month, '%Y-%m') AS month, count(*) AS member_months, {sums}
            FROM {serving.FACTS} WHERE year_month BETWEEN $month_start AND $month_end {scope}
            GROUP BY ALL""",
        params,
    ).df()
    parts = []
    for i, category in enumerate(SERVICE_CATEGORIES):
        part = pd.DataFrame(
            {"category": category, "month": wide["month"], "paid": wide[f"p{i}"], "events": wide[f"e{i}"]}
        )
        parts.append(part[part["paid"].notna() | (part["events"].fillna(0) > 0)])
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    df["paid"] = df["paid"].fillna(0.0).astype(float)
    df["events"] = df["events"].fillna(0).astype("int64")
    return df, wide[["month", "member_months"]]


def decompose_values(mm0: float, paid0: float, ev0: float, mm1: float, paid1: float, ev1: float) -> dict:
    """Split a PMPM change into utilization, unit cost and both-together; adds up exactly."""
    p0, p1 = paid0 / mm0, paid1 / mm1
    u0, u1 = ev0 / mm0, ev1 / mm1
    if ev0 > 0 and ev1 > 0:
        c0, c1 = paid0 / ev0, paid1 / ev1
        util, unit = (u1 - u0) * c0, (c1 - c0) * u0
        mix = (p1 - p0) - util - unit  # = (u1 - u0) * (c1 - c0), up to rounding
    else:
        c0 = paid0 / ev0 if ev0 > 0 else math.nan
        c1 = paid1 / ev1 if ev1 > 0 else math.nan
        util, unit, mix = 0.0, 0.0, p1 - p0
    return {
        "pmpm_before": p0,
        "pmpm_after": p1,
        "change": p1 - p0,
        "per_1000_before": u0 * PER_1000_SCALE,
        "per_1000_after": u1 * PER_1000_SCALE,
        "unit_cost_before": c0,
        "unit_cost_after": c1,
        "utilization": util,
        "unit_cost": unit,
        "mix": mix,
    }


def what_moved(
    ws: Workspace,
    viewer: Viewer,
    before: Period,
    after: Period,
    organization: str | None = None,
    payer: str | None = None,
    complete: bool = True,
) -> pd.DataFrame:
    """Per service category: PMPM before/after and its change split into utilization, unit cost and
    mix. With `complete`, dollars and events of each incurred month are completed with the
    category's chain-ladder factor (events are assumed to run out like dollars)."""
    rows = []
    filters = _filters(viewer, organization, payer)
    factors = {}
    if complete:
        con = ws.connect()
        try:
            for cat in SERVICE_CATEGORIES:
                factors[cat] = completion.completion_table(con, ws, viewer, filters, cat).set_index("month")[
                    "cdf"
                ]
        finally:
            con.close()
    sides = []
    for period in (before, after):
        df, months = category_events(ws, viewer, period, organization, payer)
        if complete and len(df):
            cdf = np.array([factors[c].get(m, 1.0) for c, m in zip(df["category"], df["month"])])
            df["paid"] = df["paid"] * cdf
            df["events"] = df["events"] * cdf
        sides.append((df.groupby("category")[["paid", "events"]].sum(), float(months["member_months"].sum())))
    (d0, mm0), (d1, mm1) = sides
    if not mm0 or not mm1:
        return pd.DataFrame()
    for cat in SERVICE_CATEGORIES:
        a = d0.loc[cat] if cat in d0.index else pd.Series({"paid": 0.0, "events": 0.0})
        b = d1.loc[cat] if cat in d1.index else pd.Series({"paid": 0.0, "events": 0.0})
        r = decompose_values(
            mm0, float(a["paid"]), float(a["events"]), mm1, float(b["paid"]), float(b["events"])
        )
        events, unit = EVENT_LABELS.get(cat, DEFAULT_EVENT)
        rows.append(
            {"category": cat, "label": CATEGORY_LABELS[cat], "events": events, "unit_label": unit, **r}
        )
    out = pd.DataFrame(rows)
    return out


def _money(x: float) -> str:
    return f"${abs(x):,.2f}"


def sentence(row: dict | pd.Series) -> str:
    """'Acute inpatient PMPM rose $18.20: $11.05 from more admissions, $7.15 from higher cost per
    admission' — the plain-words reading of one decomposition row."""
    change = row["change"]
    verb = "rose" if change > 0 else "fell" if change < 0 else "did not change"
    head = (
        f"{row['label']} PMPM {verb} {_money(change)} "
        f"({_money(row['pmpm_before'])} → {_money(row['pmpm_after'])})"
    )
    if change == 0:
        return head + "."
    parts = []
    if row["utilization"] or row["unit_cost"]:
        more = "more" if row["utilization"] >= 0 else "fewer"
        parts.append(
            f"{'+' if row['utilization'] >= 0 else '−'}{_money(row['utilization'])} from {more} "
            f"{row['events']} ({row['per_1000_before']:,.0f} → {row['per_1000_after']:,.0f} "
            "per 1,000 a year)"
        )
        higher = "higher" if row["unit_cost"] >= 0 else "lower"
        parts.append(
            f"{'+' if row['unit_cost'] >= 0 else '−'}{_money(row['unit_cost'])} from {higher} "
            f"{row['unit_label']} ({_money(row['unit_cost_before'])} → "
            f"{_money(row['unit_cost_after'])})"
        )
    if abs(row["mix"]) >= 0.005:
        parts.append(f"{'+' if row['mix'] >= 0 else '−'}{_money(row['mix'])} from both together")
    return head + ": " + ", ".join(parts) + "."


def default_comparison(period: Period) -> Period:
    """The same months one year earlier."""
    return Period.of_months(add_months(period.start, -12), add_months(period.end, -12))
