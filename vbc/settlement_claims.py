"""A contract's settlement estimated from the claims, as far as the data goes.

`settlement_for(ws, terms, viewer, ...)` gathers the figures `vbc.settlement.settle` needs: the
performance year's expenditure completed for run-out and capped as the contract says (under the
contract's own attribution when it differs from the build's), a forecast of the months that have not
happened, the benchmark from a fixed PMPM or a trended, risk-adjusted baseline, and the quality
composite. It settles them and adds a 95% range (completion and random variation), settled with the
same steps. Rules: the README, "Attribution and settlement".

`contracts_for_viewer` lists the contracts a viewer may settle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date

import duckdb
import pandas as pd

from vbc import cost, risk
from vbc.attribution import AttributionSettings, year_population
from vbc.engine import data_period
from vbc.periods import Period, month_end, months_between, parse_month
from vbc.quality import quality_composite
from vbc.registry import Registry
from vbc.scope import Scope, member_scope
from vbc.security import NotEntitled, Viewer, is_small
from vbc.settlement import Figures, Settlement, settle
from vbc.stats import Z95, ratio_interval
from vbc.terms import ContractTerms, HighCostCap, workspace_contracts
from vbc.workspace import Workspace

BUILD_MEMBER_MONTHS = "member_months"


@dataclass
class SettlementEstimate:
    """A settlement from the claims with what the page and the CLI show around it.

    status: "final" (the year is in the data and its run-out has closed), "preliminary" (the year is
    in the data but some months are still incomplete) or "forecast" (months of the year have not
    happened yet). range: the 95% range of the actual PMPM, the savings rate and the payment, and
    whether it straddles the MSR (MLR) or zero. persons: the attributed members seen in the year.
    """

    settlement: Settlement
    status: str
    observed_months: int
    period: Period
    range: dict
    figures: Figures
    notes: list[str]
    persons: int


@dataclass
class Observed:
    """The performance year to date: the organization's completed, capped expenditure."""

    member_months: float
    paid: float  # under the contract's own attribution: already capped
    removed_by_cap: float | None  # under the contract's own attribution: not measured
    completed: float
    low: float  # completion range
    high: float
    persons: int
    incomplete_months: list[str]
    last_month_member_months: int  # to project the months not yet happened
    per_person: pd.DataFrame  # person_id, d (member months), y (capped paid dollars)
    notes: list[str]


@dataclass(frozen=True)
class Projection:
    """The year's member months and actual PMPM: observed months plus the months not yet happened,
    projected with the last month's member months at the observed PMPM x (1 + remaining trend)."""

    observed_member_months: float
    remaining_months: int
    remaining_member_months: float
    remaining_trend: float

    @property
    def member_months(self) -> float:
        return self.observed_member_months + self.remaining_member_months

    def pmpm(self, completed_dollars: float) -> float:
        observed_pmpm = completed_dollars / self.observed_member_months
        projected = self.remaining_member_months * observed_pmpm * (1 + self.remaining_trend)
        return (completed_dollars + projected) / self.member_months


# ---------------------------------------------------------------------------------------------
# Which contracts a viewer may settle
# ---------------------------------------------------------------------------------------------


def contracts_for_viewer(ws: Workspace, viewer: Viewer) -> list[ContractTerms]:
    """The workspace's contracts; an organization's viewer sees only its own."""
    found = workspace_contracts(ws)
    if viewer.kind == "org":
        found = [t for t in found if t.provider_organization == viewer.organization]
    return found


def _check_viewer(terms: ContractTerms, viewer: Viewer) -> None:
    if viewer.kind == "org" and viewer.organization != terms.provider_organization:
        raise NotEntitled(f"{viewer.organization} may only see its own settlement")


# ---------------------------------------------------------------------------------------------
# The settlement from the claims
# ---------------------------------------------------------------------------------------------


def settlement_for(
    ws: Workspace,
    terms: ContractTerms,
    viewer: Viewer,
    registry: Registry | None = None,
    *,
    quality_score: float | None = None,
    remaining_trend: float = 0.0,
    members: int | None = None,
) -> SettlementEstimate:
    """The settlement of `terms` from the claims, with its status and 95% range.

    quality_score / remaining_trend / members are what-if overrides: they change only this
    computation, never the contract or the data. Without a registry (and no quality_score) there is
    no quality composite: sharing is shown before any quality effect.
    """
    _check_viewer(terms, viewer)
    period = performance_period(ws, terms.performance_year)
    observed_months = months_between(period.start, period.end) + 1
    obs = observed_expenditure(ws, terms, viewer, period)
    _check_shown(obs, terms, viewer)
    projection = Projection(
        obs.member_months,
        12 - observed_months,
        float(obs.last_month_member_months) * (12 - observed_months),
        remaining_trend,
    )
    if projection.remaining_months > 0:
        status = "forecast"
    else:
        status = "preliminary" if obs.incomplete_months else "final"
    detail = actual_detail(obs, projection, status, terms.high_cost_cap, observed_months)
    benchmark = benchmark_figures(ws, terms, viewer, period)
    score = (
        quality_score if quality_score is not None else composite_score(ws, registry, terms, viewer, period)
    )
    actual_pmpm = projection.pmpm(obs.completed)
    fig = Figures(
        member_months=round(projection.member_months, 2),
        actual_pmpm=round(actual_pmpm, 2),
        actual_dollars=round(actual_pmpm * projection.member_months, 2),
        members=members if members is not None else obs.persons,
        quality_score=score,
        actual_detail=detail,
        **benchmark,
    )
    result = settle(terms, fig)
    return SettlementEstimate(
        settlement=result,
        status=status,
        observed_months=observed_months,
        period=period,
        range=forecast_range(terms, fig, result, projection, obs),
        figures=fig,
        notes=obs.notes,
        persons=obs.persons,
    )


def performance_period(ws: Workspace, year: int) -> Period:
    """The months of the performance year that are in the data."""
    full = data_period(ws)
    start = date(year, 1, 1)
    if full.end < start:
        raise ValueError(f"the data ends {full.end:%Y-%m}, before performance year {year} starts")
    return Period(max(start, full.start), min(date(year, 12, 31), full.end))


def _check_shown(obs: Observed, terms: ContractTerms, viewer: Viewer) -> None:
    org, year = terms.provider_organization, terms.performance_year
    if not obs.member_months:
        raise ValueError(f"{org} has no attributed member months in {year}")
    if viewer.suppresses and is_small(obs.persons):
        # Every dollar figure divided by the PMPM would give the member count away.
        raise NotEntitled(
            f"{org} has 1 to 10 attributed members in {year}: its settlement is not shown "
            "in the de-identified view"
        )


# ---------------------------------------------------------------------------------------------
# Observed expenditure under the contract's attribution
# ---------------------------------------------------------------------------------------------


def observed_expenditure(ws: Workspace, terms: ContractTerms, viewer: Viewer, period: Period) -> Observed:
    """The organization's completed, capped expenditure in `period` under the contract's attribution.

    Under the build's attribution this is `vbc.cost.expenditure`. Under another attribution the
    members differ, so the capped dollars are summed over the contract's members and completed with
    the factor (and relative range) measured for the organization under the build's attribution:
    the lag triangles exist only for that one.
    """
    org, cap = terms.provider_organization, terms.high_cost_cap
    exp = cost.expenditure(ws, viewer, period, organization=org, cap=cap, complete=True)
    # The contract's organization through the one scope helper (which also refuses another
    # organization's viewer), never a condition of our own.
    scope = member_scope(viewer, {"organization": org})
    con = ws.connect()
    try:
        table, notes = contract_attribution(con, terms)
        per_person = _person_costs(
            con,
            table,
            scope,
            period.start.replace(day=1),
            period.end,
            cap.amount if cap and cap.amount else None,
        )
        last_mm = con.execute(
            f"SELECT count(*) FROM {table} {scope.where()} AND year_month = $m",
            {**scope.params, "m": period.end.replace(day=1)},
        ).fetchall()[0][0]
    finally:
        con.close()
    incomplete = list(exp.get("incomplete_months") or [])
    if table == BUILD_MEMBER_MONTHS:
        return Observed(
            member_months=exp["member_months"],
            paid=exp["paid"],
            removed_by_cap=exp["capped_dollars"],
            completed=exp["completed"],
            low=exp["low"],
            high=exp["high"],
            persons=exp["persons"],
            incomplete_months=incomplete,
            last_month_member_months=last_mm,
            per_person=per_person,
            notes=notes,
        )
    capped = float(per_person["y"].sum())
    completed = capped / (exp["completion_factor"] or 1.0)
    spread = (exp["high"] - exp["low"]) / exp["completed"] if exp["completed"] else 0.0
    return Observed(
        member_months=float(per_person["d"].sum()),
        paid=capped,
        removed_by_cap=None,
        completed=completed,
        low=completed * (1 - spread / 2),
        high=completed * (1 + spread / 2),
        persons=len(per_person),
        incomplete_months=incomplete,
        last_month_member_months=last_mm,
        per_person=per_person,
        notes=notes,
    )


def contract_attribution(con: duckdb.DuckDBPyConnection, terms: ContractTerms) -> tuple[str, list[str]]:
    """The table holding the contract's member months on `con`, and a note for the page.

    The build's `member_months` carry the default attribution (12 months, retrospective); any other
    is assigned for the performance year into the temp table `contract_member_months`.
    """
    if terms.attribution == AttributionSettings():
        return BUILD_MEMBER_MONTHS, []
    source = year_population(con, terms.attribution, terms.performance_year)
    note = (
        f"Attribution as the contract says: {source}. Completion uses the factor "
        "measured for the organization under the build's attribution."
    )
    return "contract_member_months", [note]


def _person_costs(
    con: duckdb.DuckDBPyConnection,
    table: str,
    scope: Scope,
    start: date,
    end: date,
    cap_amount: float | None,
) -> pd.DataFrame:
    """Per person: paid dollars (capped per calendar year) and member months in the period, for the
    organization's members (bound parameter). Used for the random-variation range and, when a
    contract's attribution differs from the build's, for the expenditure itself."""
    cap_sql = "$cap" if cap_amount else "NULL"
    params = {**scope.params, "s": start, "e": end}
    if cap_amount:
        params["cap"] = float(cap_amount)
    return con.execute(
        f"""
        WITH mm AS (SELECT DISTINCT person_id, payer, year_month FROM {table}
                    {scope.where()} AND year_month BETWEEN $s AND $e),
        paid AS (SELECT c.person_id, c.payer, year(c.incurred_month) AS yr, sum(c.paid_amount) AS paid
                 FROM claim_lines c JOIN mm ON mm.person_id = c.person_id AND mm.payer = c.payer
                                         AND mm.year_month = c.incurred_month GROUP BY ALL),
        capped AS (SELECT person_id, payer,
                          sum(CASE WHEN {cap_sql} IS NULL THEN paid ELSE least(paid, {cap_sql}) END) AS y
                   FROM paid GROUP BY ALL),
        months AS (SELECT person_id, payer, count(*) AS d FROM mm GROUP BY ALL)
        SELECT m.person_id, m.d, coalesce(c.y, 0) AS y
        FROM months m LEFT JOIN capped c USING (person_id, payer)
    """,
        params,
    ).df()


def actual_detail(
    obs: Observed, projection: Projection, status: str, cap: HighCostCap | None, observed_months: int
) -> dict:
    """The actual PMPM step's formula and inputs (`Figures.actual_detail`)."""
    detail = {
        "formula": (
            "Completed, capped paid dollars / member months"
            if status != "forecast"
            else "Forecast: (completed, capped paid dollars to date + remaining months x observed PMPM "
            "x (1 + remaining-month trend)) / forecast member months"
        ),
        "paid_dollars": round(obs.paid, 2),
        "removed_by_high_cost_cap": abs(round(obs.removed_by_cap, 2))
        if obs.removed_by_cap is not None
        else None,
        "completed_dollars": round(obs.completed, 2),
        "incomplete_months": ", ".join(obs.incomplete_months) or "none",
        "high_cost_cap": (
            f"${cap.amount:,.0f}"
            if cap and cap.amount
            else f"{cap.percentile:g}th percentile"
            if cap
            else "none"
        ),
        "months_observed": observed_months,
    }
    if projection.remaining_months:
        detail.update(
            {
                "months_projected": projection.remaining_months,
                "projected_member_months": projection.remaining_member_months,
                "remaining_month_trend": projection.remaining_trend,
            }
        )
    return detail


# ---------------------------------------------------------------------------------------------
# Benchmark and quality figures
# ---------------------------------------------------------------------------------------------


def benchmark_figures(ws: Workspace, terms: ContractTerms, viewer: Viewer, period: Period) -> dict:
    """A baseline benchmark's figures (`Figures` keyword arguments); none for a fixed benchmark.

    The baseline PMPM is completed and capped like the actual; the trend runs over the years between
    the baseline's and the performance year's mid-points; risk is the organization's average risk
    score in the baseline and in the performance year's months so far.
    """
    b = terms.benchmark
    if b.fixed:
        return {}
    org = terms.provider_organization
    bp = Period(parse_month(b.baseline_start), month_end(parse_month(b.baseline_end)))
    base = cost.expenditure(ws, viewer, bp, organization=org, cap=terms.high_cost_cap, complete=True)
    mid_base = bp.start.year * 12 + bp.start.month + months_between(bp.start, bp.end) / 2
    mid_py = terms.performance_year * 12 + 1 + 5.5
    figures: dict = {
        "baseline_pmpm": base["pmpm"],
        "trend_years": round((mid_py - mid_base) / 12, 4),
        "benchmark_detail": {
            "baseline_member_months": base["member_months"],
            "baseline_completed_dollars": round(base["completed"], 2),
            "baseline_period": bp.label,
        },
    }
    if b.risk_adjust:
        figures["baseline_risk"] = round(risk.average_risk(ws, viewer, bp, org), 6)
        figures["performance_risk"] = round(risk.average_risk(ws, viewer, period, org), 6)
    return figures


def composite_score(
    ws: Workspace, registry: Registry | None, terms: ContractTerms, viewer: Viewer, period: Period
) -> float | None:
    """The contract's quality composite over `period`; None without a registry (no composite)."""
    if registry is None:
        return None
    return quality_composite(ws, registry, terms, viewer, period)["score"]


# ---------------------------------------------------------------------------------------------
# The 95% range
# ---------------------------------------------------------------------------------------------


def random_half_width(per_person: pd.DataFrame) -> float:
    """95% half-width of a PMPM from the panel's per-member cost variation; NaN under two members.

    The ratio estimator clustered by person, the same interval as the engine's PMPMs
    (`vbc.stats.ratio_interval`): 1.96 x sqrt(n/(n-1) x sum((y - R d)^2)) / sum(d).
    """
    y, d = per_person["y"].astype(float), per_person["d"].astype(float)
    lo, hi = ratio_interval(
        y.sum(), d.sum(), len(per_person), (y * y).sum(), (y * d).sum(), (d * d).sum(), Z95
    )
    return (hi - lo) / 2


def forecast_range(
    terms: ContractTerms, fig: Figures, result: Settlement, projection: Projection, obs: Observed
) -> dict:
    """The 95% range: the steps settled again at both ends of the actual PMPM's range.

    Two sources of uncertainty, taken as independent: the incomplete months (the completion range)
    and the panel's size (random variation); half-widths combined as sqrt(a^2 + b^2).
    """
    hw_completion = (projection.pmpm(obs.high) - projection.pmpm(obs.low)) / 2
    hw_random = random_half_width(obs.per_person)
    hw = math.sqrt(hw_completion**2 + (0 if math.isnan(hw_random) else hw_random) ** 2)
    # Without actual dollars the calculator works from the PMPM, which is what moves here.
    lo_fig = replace(fig, actual_pmpm=round(fig.actual_pmpm + hw, 2), actual_dollars=None)
    hi_fig = replace(fig, actual_pmpm=round(max(fig.actual_pmpm - hw, 0), 2), actual_dollars=None)
    worse, better = settle(terms, lo_fig), settle(terms, hi_fig)
    msr = result.value("minimum_savings_rate")
    rate_lo, rate_hi = worse.value("savings_rate"), better.value("savings_rate")
    rng = {
        "actual_pmpm_low": hi_fig.actual_pmpm,
        "actual_pmpm_high": lo_fig.actual_pmpm,
        "half_width_completion": round(hw_completion, 2),
        "half_width_random": None if math.isnan(hw_random) else round(hw_random, 2),
        "savings_rate_low": rate_lo,
        "savings_rate_high": rate_hi,
        "payment_low": worse.final_payment,
        "payment_high": better.final_payment,
        "minimum_savings_rate": msr,
        "straddles_msr": rate_lo < msr <= rate_hi,
        "straddles_zero": rate_lo < 0 < rate_hi,
    }
    if terms.two_sided:
        mlr = result.value("minimum_loss_rate")
        rng["straddles_mlr"] = rate_lo <= -mlr < rate_hi
    return rng
