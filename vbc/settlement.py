"""Settlement of a value-based contract, step by step.

`settle(terms, figures)` is a pure calculator: from the contract terms and a handful of figures
(benchmark PMPM, actual PMPM, member months, attributed members, quality score) it returns every step
of the reconciliation as a named line with its formula in words, its inputs and its value. The page,
the JSON export and the CSV export all print these same lines.

`settlement_for(ws, terms, viewer, ...)` gathers the figures from the claims (expenditure completed
for run-out and capped as the contract says, the benchmark from a fixed PMPM or a trended,
risk-adjusted baseline, the quality composite) and adds a forecast range for an incomplete year.

Conventions (also in the README, "Contract terms" and "Settlement"):
- Money is computed in decimal and rounded to the cent (half up) at every dollar step, so the CLI,
  the page and a hand calculation agree to the cent. Rates are fractions (0.02 = 2%).
- Gross savings = benchmark expenditure - actual expenditure (negative = losses). The savings rate is
  gross savings / benchmark expenditure, compared with the minimum savings rate (MSR) unrounded:
  a rate exactly equal to the MSR meets it. Once met, savings are shared from the first dollar.
- Quality: `gate: N` shares nothing when the composite is below N; `mode: scaled` multiplies the
  sharing rate by composite / 100; no quality key leaves the rate as agreed. Quality never changes
  the loss sharing rate.
- Corridors (savings side, or losses with `side: losses`) replace the flat sharing rate: the savings
  rate is split into bands [from, to) of the benchmark, and the dollars in each band are shared at
  that band's rate (times the quality factor).
- Limits: shared savings are limited to savings_cap x benchmark expenditure, shared losses to
  loss_cap x benchmark expenditure. One-sided contracts never pay losses.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from vbc.terms import ContractTerms, Corridor

CENT = Decimal("0.01")

# Medicare Shared Savings Program minimum savings rate by assigned beneficiaries (42 CFR 425.604):
# (lowest count, highest count, MSR % at the lowest, MSR % at the highest); linear within a band.
MSSP_MSR_BANDS: tuple[tuple[int, int | None, str, str], ...] = (
    (0, 499, "12.2", "12.2"),
    (500, 999, "12.2", "8.7"),
    (1000, 2999, "8.7", "5.0"),
    (3000, 4999, "5.0", "3.9"),
    (5000, 5999, "3.9", "3.6"),
    (6000, 6999, "3.6", "3.4"),
    (7000, 7999, "3.4", "3.2"),
    (8000, 8999, "3.2", "3.1"),
    (9000, 9999, "3.1", "3.0"),
    (10000, 14999, "3.0", "2.7"),
    (15000, 19999, "2.7", "2.5"),
    (20000, 49999, "2.5", "2.2"),
    (50000, 59999, "2.2", "2.0"),
    (60000, None, "2.0", "2.0"),
)


def _d(x) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def cents(x) -> Decimal:
    return _d(x).quantize(CENT, rounding=ROUND_HALF_UP)


def mssp_msr(members: int) -> Decimal:
    """The sliding-scale MSR as a fraction, rounded to three decimals of a percent (6.849% -> 0.06849).

    5,500 -> 3.75%; 12,000 -> 2.88%; 35,000 -> 2.35%; 2,000 -> 6.849%; 499 or fewer -> 12.2%.
    """
    n = max(int(members), 0)
    for lo, hi, r_lo, r_hi in MSSP_MSR_BANDS:
        if hi is None or n <= hi:
            if hi is None or hi == lo:
                pct = _d(r_lo)
            else:
                pct = _d(r_lo) + (_d(n - lo) / _d(hi - lo)) * (_d(r_hi) - _d(r_lo))
            return pct.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) / 100
    raise AssertionError("unreachable")


@dataclass
class Step:
    key: str
    name: str
    formula: str
    value: float | int | bool | str | None
    unit: str  # dollars | pmpm | rate | count | flag | text | score
    inputs: dict = field(default_factory=dict)

    def row(self, order: int) -> dict:
        return {
            "order": order,
            "key": self.key,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "formula": self.formula,
            "inputs": self.inputs,
        }


@dataclass
class Figures:
    """What the calculator needs. PMPMs are dollars per member month."""

    member_months: float
    actual_pmpm: float
    benchmark_pmpm: float | None = None  # required unless the terms fix it or give a baseline
    members: int | None = None  # attributed members (for a sliding MSR); default member months / 12
    quality_score: float | None = None  # 0-100
    # A baseline benchmark: baseline PMPM trended for trend_years and risk-adjusted.
    baseline_pmpm: float | None = None
    trend_years: float | None = None
    baseline_risk: float | None = None
    performance_risk: float | None = None
    # Actual dollars when known (from claims): actual expenditure = these, rounded to the cent,
    # rather than a rounded PMPM x member months.
    actual_dollars: float | None = None
    # Where the actual PMPM came from (shown as inputs of that step).
    actual_detail: dict = field(default_factory=dict)
    benchmark_detail: dict = field(default_factory=dict)


@dataclass
class Settlement:
    contract_id: str
    provider_organization: str
    performance_year: int
    steps: list[Step]

    def value(self, key: str):
        for s in self.steps:
            if s.key == key:
                return s.value
        raise KeyError(key)

    def rows(self) -> list[dict]:
        return [s.row(i + 1) for i, s in enumerate(self.steps)]

    @property
    def final_payment(self) -> float:
        return self.value("final_payment")


def _f(x: Decimal) -> float:
    return float(x)


def _pct(x: Decimal) -> str:
    return f"{float(x) * 100:.3f}%"


def _rate_text(r) -> str:
    return "mssp (sliding scale)" if r == "mssp" else f"{float(r):.4g}"


def _members(fig: Figures) -> int:
    if fig.members is not None:
        return int(fig.members)
    # Attributed members when not given: member months / 12, rounded half up.
    return int((_d(fig.member_months) / 12).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def _threshold(rate, members: int) -> tuple[Decimal, str]:
    if rate == "mssp":
        return mssp_msr(members), f"Medicare sliding scale for {members:,} attributed members"
    return _d(rate), "fixed by the contract"


def _banded(
    amount: Decimal, benchmark: Decimal, bands: list[Corridor], factor: Decimal
) -> list[tuple[Corridor, Decimal, Decimal]]:
    """Split an amount (as a share of the benchmark) into corridor bands: (band, dollars, shared)."""
    out = []
    for band in bands:
        lo = cents(_d(band.lower) * benchmark)
        hi = cents(_d(band.upper) * benchmark) if band.upper is not None else None
        top = amount if hi is None else min(amount, hi)
        in_band = max(top - lo, Decimal(0))
        out.append((band, in_band, cents(in_band * _d(band.rate) * factor)))
    return out


def _band_label(b: Corridor) -> str:
    up = f"{b.upper * 100:g}%" if b.upper is not None else "and above"
    return f"{b.lower * 100:g}% – {up}" if b.upper is not None else f"{b.lower * 100:g}% and above"


def settle(terms: ContractTerms, fig: Figures) -> Settlement:
    """Every step from benchmark to final payment (positive: payer pays the organization)."""
    steps: list[Step] = []
    mm = _d(fig.member_months)
    if mm <= 0:
        raise ValueError("member months must be positive to settle a contract")
    members = _members(fig)
    steps.append(
        Step(
            "member_months",
            "Member months",
            "Months of enrollment of the attributed members in the performance year",
            _f(mm),
            "count",
            dict(fig.actual_detail.get("mm_inputs", {})),
        )
    )
    steps.append(
        Step(
            "attributed_members",
            "Attributed members",
            "People attributed to the organization in the year"
            if fig.members is not None
            else "Member months / 12, rounded (not given)",
            members,
            "count",
            {"member_months": _f(mm)},
        )
    )

    # Benchmark.
    b = terms.benchmark
    if fig.benchmark_pmpm is not None:
        bench_pmpm = _d(fig.benchmark_pmpm)
        steps.append(
            Step(
                "benchmark_pmpm",
                "Benchmark PMPM",
                "Given" if not b.fixed or fig.benchmark_pmpm != b.pmpm else "Fixed by the contract",
                _f(bench_pmpm),
                "pmpm",
                {**fig.benchmark_detail},
            )
        )
    elif b.fixed:
        bench_pmpm = _d(b.pmpm)
        steps.append(
            Step(
                "benchmark_pmpm",
                "Benchmark PMPM",
                "Fixed by the contract (benchmark.pmpm)",
                _f(bench_pmpm),
                "pmpm",
                {"benchmark.pmpm": b.pmpm},
            )
        )
    else:
        if fig.baseline_pmpm is None:
            raise ValueError(
                "this contract's benchmark is a historical baseline: give the baseline "
                "PMPM (or --benchmark-pmpm)"
            )
        base = _d(fig.baseline_pmpm)
        years = _d(fig.trend_years if fig.trend_years is not None else 1)
        steps.append(
            Step(
                "baseline_pmpm",
                "Baseline PMPM",
                "Completed, capped paid dollars / member "
                f"months over the baseline {b.baseline_start} to {b.baseline_end}",
                _f(cents(base)),
                "pmpm",
                {**fig.benchmark_detail},
            )
        )
        trend_factor = (
            (1 + _d(b.trend)) ** int(years)
            if years == int(years)
            else _d(math.pow(1 + b.trend, float(years)))
        )
        trend_factor = trend_factor.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
        steps.append(
            Step(
                "trend_factor",
                "Trend factor",
                "(1 + annual trend) ^ years from the baseline to the performance year",
                _f(trend_factor),
                "ratio",
                {"benchmark.trend": b.trend, "years": _f(years)},
            )
        )
        risk_factor = Decimal(1)
        if b.risk_adjust:
            if not fig.baseline_risk or not fig.performance_risk:
                raise ValueError(
                    "this contract adjusts the benchmark for risk: give the baseline and "
                    "performance-year average risk scores"
                )
            ratio = (_d(fig.performance_risk) / _d(fig.baseline_risk)).quantize(
                Decimal("0.000001"), rounding=ROUND_HALF_UP
            )
            risk_factor = ratio
            formula = "Performance-year average risk score / baseline average risk score"
            if b.risk_growth_cap is not None and ratio > 1 + _d(b.risk_growth_cap):
                risk_factor = 1 + _d(b.risk_growth_cap)
                formula += f", positive growth capped at {b.risk_growth_cap:.1%} (decreases not floored)"
            steps.append(
                Step(
                    "risk_factor",
                    "Risk adjustment factor",
                    formula,
                    _f(risk_factor),
                    "ratio",
                    {
                        "baseline_risk": fig.baseline_risk,
                        "performance_risk": fig.performance_risk,
                        "uncapped_ratio": _f(ratio),
                        "risk_adjustment.positive_growth_cap": b.risk_growth_cap,
                    },
                )
            )
        bench_pmpm = cents(base * trend_factor * risk_factor)
        steps.append(
            Step(
                "benchmark_pmpm",
                "Benchmark PMPM",
                "Baseline PMPM x trend factor x risk adjustment factor",
                _f(bench_pmpm),
                "pmpm",
                {
                    "baseline_pmpm": _f(cents(base)),
                    "trend_factor": _f(trend_factor),
                    "risk_factor": _f(risk_factor),
                },
            )
        )

    benchmark = cents(bench_pmpm * mm)
    steps.append(
        Step(
            "benchmark_expenditure",
            "Benchmark expenditure",
            "Benchmark PMPM x member months",
            _f(benchmark),
            "dollars",
            {"benchmark_pmpm": _f(bench_pmpm), "member_months": _f(mm)},
        )
    )
    actual_pmpm = _d(fig.actual_pmpm)
    steps.append(
        Step(
            "actual_pmpm",
            "Actual PMPM",
            fig.actual_detail.get("formula", "Given (completed for run-out and capped as the contract says)"),
            _f(actual_pmpm),
            "pmpm",
            {k: v for k, v in fig.actual_detail.items() if k not in ("formula", "mm_inputs")},
        )
    )
    if fig.actual_dollars is not None:
        actual = cents(fig.actual_dollars)
        steps.append(
            Step(
                "actual_expenditure",
                "Actual expenditure",
                "Completed, capped paid dollars (forecast: with the projected months)",
                _f(actual),
                "dollars",
                {"actual_pmpm": _f(actual_pmpm), "member_months": _f(mm)},
            )
        )
    else:
        actual = cents(actual_pmpm * mm)
        steps.append(
            Step(
                "actual_expenditure",
                "Actual expenditure",
                "Actual PMPM x member months",
                _f(actual),
                "dollars",
                {"actual_pmpm": _f(actual_pmpm), "member_months": _f(mm)},
            )
        )
    gross = benchmark - actual
    steps.append(
        Step(
            "gross_savings",
            "Gross savings (negative: losses)",
            "Benchmark expenditure - actual expenditure",
            _f(gross),
            "dollars",
            {"benchmark_expenditure": _f(benchmark), "actual_expenditure": _f(actual)},
        )
    )
    rate = gross / benchmark
    steps.append(
        Step(
            "savings_rate",
            "Savings rate (negative: loss rate)",
            "Gross savings / benchmark expenditure",
            round(_f(rate), 6),
            "rate",
            {"gross_savings": _f(gross), "benchmark_expenditure": _f(benchmark)},
        )
    )

    msr, msr_basis = _threshold(terms.minimum_savings_rate, members)
    steps.append(
        Step(
            "minimum_savings_rate",
            "Minimum savings rate (MSR)",
            msr_basis,
            _f(msr),
            "rate",
            {"minimum_savings_rate": _rate_text(terms.minimum_savings_rate), "attributed_members": members},
        )
    )
    msr_met = gross > 0 and rate >= msr
    steps.append(
        Step(
            "msr_met",
            "Savings meet the MSR",
            "Savings rate >= MSR (savings shared from the first dollar once met)",
            bool(msr_met),
            "flag",
            {"savings_rate": round(_f(rate), 6), "minimum_savings_rate": _f(msr)},
        )
    )
    mlr_met = False
    if terms.two_sided:
        mlr, mlr_basis = _threshold(terms.minimum_loss_rate, members)
        steps.append(
            Step(
                "minimum_loss_rate",
                "Minimum loss rate (MLR)",
                mlr_basis,
                _f(mlr),
                "rate",
                {"minimum_loss_rate": _rate_text(terms.minimum_loss_rate), "attributed_members": members},
            )
        )
        mlr_met = gross < 0 and -rate >= mlr
        steps.append(
            Step(
                "mlr_met",
                "Losses meet the MLR",
                "Loss rate (-savings rate) >= MLR (losses shared from the first dollar once met)",
                bool(mlr_met),
                "flag",
                {"loss_rate": round(_f(-rate), 6), "minimum_loss_rate": _f(mlr)},
            )
        )

    # Quality.
    q = terms.quality
    score = fig.quality_score
    steps.append(
        Step(
            "quality_score",
            "Quality composite score",
            "Weighted composite of the contract's measures against their targets (0-100)"
            if score is not None
            else "Not available: sharing shown as agreed, before any quality effect",
            None if score is None else round(float(score), 2),
            "score",
            {},
        )
    )
    if q.mode == "gate":
        passed = score is None or float(score) >= q.minimum
        factor = Decimal(1) if passed else Decimal(0)
        steps.append(
            Step(
                "quality_result",
                "Quality gate",
                f"Pass when the composite >= {q.minimum:g}; a failed gate shares no savings"
                + ("" if score is not None else " (no score: assumed to pass)"),
                "pass" if passed else "fail",
                "text",
                {"quality.gate": q.minimum, "quality_score": score},
            )
        )
    elif q.mode == "scaled":
        factor = (
            Decimal(1)
            if score is None
            else (_d(score) / 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        )
        steps.append(
            Step(
                "quality_result",
                "Quality scaling factor",
                "Composite / 100 (multiplies the savings sharing rate)"
                + ("" if score is not None else " (no score: 1)"),
                _f(factor),
                "ratio",
                {"quality.mode": "scaled", "quality_score": score},
            )
        )
    else:
        factor = Decimal(1)
        steps.append(
            Step("quality_result", "Quality", "The contract has no quality condition", "none", "text", {})
        )

    # Sharing.
    savings_bands = [c for c in terms.corridors if c.side == "savings"]
    loss_bands = [c for c in terms.corridors if c.side == "losses"]
    shared = Decimal(0)
    if savings_bands:
        steps.append(
            Step(
                "sharing_rate",
                "Savings sharing rate",
                "Corridor rates (below) x quality factor",
                "by corridor",
                "text",
                {"quality_factor": _f(factor)},
            )
        )
    else:
        rate_applied = (_d(terms.shared_savings_rate) * factor).quantize(Decimal("0.000001"))
        steps.append(
            Step(
                "sharing_rate",
                "Savings sharing rate",
                "Shared savings rate x quality factor",
                _f(rate_applied),
                "rate",
                {"shared_savings_rate": terms.shared_savings_rate, "quality_factor": _f(factor)},
            )
        )
    if gross > 0:
        if savings_bands:
            for i, (band, dollars, part) in enumerate(_banded(gross, benchmark, savings_bands, factor)):
                part = part if msr_met else Decimal(0)
                shared += part
                steps.append(
                    Step(
                        f"corridor_{i + 1}",
                        f"Savings corridor {_band_label(band)}",
                        "Savings in the band x band rate x quality factor"
                        + ("" if msr_met else " (MSR not met: 0)"),
                        _f(part),
                        "dollars",
                        {
                            "savings_in_band": _f(dollars),
                            "band_rate": band.rate,
                            "quality_factor": _f(factor),
                        },
                    )
                )
        elif msr_met:
            shared = cents(gross * _d(terms.shared_savings_rate) * factor)
        steps.append(
            Step(
                "shared_savings",
                "Shared savings before the limit",
                "Gross savings x sharing rate when the MSR is met, else 0",
                _f(shared),
                "dollars",
                {"gross_savings": _f(gross), "msr_met": bool(msr_met)},
            )
        )
        limit = cents(_d(terms.savings_cap) * benchmark) if terms.savings_cap is not None else None
        steps.append(
            Step(
                "savings_limit",
                "Performance payment limit",
                "savings_cap x benchmark expenditure" if limit is not None else "No limit",
                None if limit is None else _f(limit),
                "dollars",
                {"savings_cap": terms.savings_cap, "benchmark_expenditure": _f(benchmark)},
            )
        )
        final = shared if limit is None else min(shared, limit)
        formula = "min(shared savings, performance payment limit): the payer pays the organization"
    elif gross < 0 and terms.two_sided:
        losses = -gross
        owed = Decimal(0)
        if loss_bands:
            for i, (band, dollars, part) in enumerate(_banded(losses, benchmark, loss_bands, Decimal(1))):
                part = part if mlr_met else Decimal(0)
                owed += part
                steps.append(
                    Step(
                        f"corridor_{i + 1}",
                        f"Loss corridor {_band_label(band)}",
                        "Losses in the band x band rate" + ("" if mlr_met else " (MLR not met: 0)"),
                        _f(part),
                        "dollars",
                        {"losses_in_band": _f(dollars), "band_rate": band.rate},
                    )
                )
        elif mlr_met:
            owed = cents(losses * _d(terms.shared_loss_rate))
        steps.append(
            Step(
                "shared_losses",
                "Shared losses before the limit",
                "Gross losses x shared loss rate when the MLR is met, else 0",
                _f(owed),
                "dollars",
                {
                    "gross_losses": _f(losses),
                    "shared_loss_rate": terms.shared_loss_rate,
                    "mlr_met": bool(mlr_met),
                },
            )
        )
        limit = cents(_d(terms.loss_cap) * benchmark) if terms.loss_cap is not None else None
        steps.append(
            Step(
                "loss_limit",
                "Loss limit",
                "loss_cap x benchmark expenditure" if limit is not None else "No limit",
                None if limit is None else _f(limit),
                "dollars",
                {"loss_cap": terms.loss_cap, "benchmark_expenditure": _f(benchmark)},
            )
        )
        final = -(owed if limit is None else min(owed, limit))
        formula = "-min(shared losses, loss limit): the organization pays the payer"
    else:
        final = Decimal(0)
        formula = "One-sided contract: losses are never paid" if gross < 0 else "No savings and no losses"
    steps.append(
        Step(
            "final_payment",
            "Final payment (negative: owed by the organization)",
            formula,
            _f(cents(final)),
            "dollars",
            {"two_sided": terms.two_sided},
        )
    )
    return Settlement(terms.contract_id, terms.provider_organization, terms.performance_year, steps)


def figures_dict(fig: Figures) -> dict:
    return asdict(fig)


# ---------------------------------------------------------------------------------------------
# Settlement from the claims: figures for a contract and year, the forecast range, what-if.
# ---------------------------------------------------------------------------------------------

Z95 = 1.959964


def available_contracts(ws) -> list[ContractTerms]:
    """The contracts that go with the data: `<data>/contracts/*.yaml`; for demo data without its own
    folder, the shipped demo contracts in data/contracts/demo/."""
    from vbc.terms import contracts, contracts_for

    found = contracts_for(ws.data_dir)
    if not found and ws.is_demo:
        found = contracts()
    return sorted(found, key=lambda t: (t.provider_organization, t.performance_year))


def contracts_for_viewer(ws, viewer) -> list[ContractTerms]:
    """An organization's viewer sees only its own contracts."""
    found = available_contracts(ws)
    if viewer.kind == "org":
        found = [t for t in found if t.provider_organization == viewer.organization]
    return found


def _check_viewer(terms: ContractTerms, viewer) -> None:
    from vbc.security import NotEntitled

    if viewer.kind == "org" and viewer.organization != terms.provider_organization:
        raise NotEntitled(f"{viewer.organization} may only see its own settlement")


def _person_costs(con, table: str, organization: str, start, end, cap_amount: float | None):
    """Per person: paid dollars (capped per calendar year) and member months in the period, for the
    organization's members (bound parameter). Used for the random-variation range and, when a
    contract's attribution differs from the build's, for the expenditure itself."""
    cap_sql = "$cap" if cap_amount else "NULL"
    params = {"org": organization, "s": start, "e": end}
    if cap_amount:
        params["cap"] = float(cap_amount)
    return con.execute(
        f"""
        WITH mm AS (SELECT DISTINCT person_id, payer, year_month FROM {table}
                    WHERE organization = $org AND year_month BETWEEN $s AND $e),
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


def random_half_width(per_person) -> float:
    """95% half-width of a PMPM from the panel's per-member cost variation (a ratio estimator,
    clustered by person): 1.96 x sqrt(n/(n-1) x sum((y - R d)^2)) / sum(d)."""
    n = len(per_person)
    if n < 2:
        return math.nan
    y, d = per_person["y"].astype(float), per_person["d"].astype(float)
    r = y.sum() / d.sum()
    var = n / (n - 1) * float(((y - r * d) ** 2).sum()) / float(d.sum()) ** 2
    return Z95 * math.sqrt(var)


def _months_between(a, b) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def settlement_for(
    ws,
    terms: ContractTerms,
    viewer,
    registry=None,
    *,
    quality_score: float | None = None,
    remaining_trend: float = 0.0,
    members: int | None = None,
) -> dict:
    """The settlement of `terms` from the claims, as far as the data goes.

    Returns {"settlement", "status", "observed_months", "period", "range", "figures", "notes"}.
    status: "final" (the year is in the data and its run-out has closed), "preliminary" (the year
    is in the data but some months are still incomplete) or "forecast" (months of the year have not
    happened yet; they are projected at the observed completed PMPM x (1 + remaining_trend), with the
    last month's member months). quality_score / remaining_trend / members are what-if overrides:
    they change only this computation, never the contract or the data.
    """
    from datetime import date

    from vbc import cost
    from vbc.attribution import AttributionSettings, year_population
    from vbc.engine import Period, data_period

    _check_viewer(terms, viewer)
    org, year = terms.provider_organization, terms.performance_year
    full = data_period(ws)
    start = date(year, 1, 1)
    if full.end < start:
        raise ValueError(f"the data ends {full.end:%Y-%m}, before performance year {year} starts")
    period = Period(max(start, full.start), min(date(year, 12, 31), full.end))
    observed = _months_between(period.start, period.end) + 1
    cap = terms.high_cost_cap
    notes: list[str] = []

    exp = cost.expenditure(ws, viewer, period, organization=org, cap=cap, complete=True)
    con = ws.connect()
    try:
        default = terms.attribution == AttributionSettings()
        table = "member_months"
        if not default:
            source = year_population(con, terms.attribution, year)
            table = "contract_member_months"
            notes.append(
                f"Attribution as the contract says: {source}. Completion uses the factor "
                "measured for the organization under the build's attribution."
            )
        per_person = _person_costs(
            con,
            table,
            org,
            period.start.replace(day=1),
            period.end,
            cap.amount if cap and cap.amount else None,
        )
        last_mm = con.execute(
            f"SELECT count(*) FROM {table} WHERE organization = $org AND year_month = $m",
            {"org": org, "m": period.end.replace(day=1)},
        ).fetchall()[0][0]
    finally:
        con.close()
    if default:
        mm_obs, completed, low, high = exp["member_months"], exp["completed"], exp["low"], exp["high"]
        persons = exp["persons"]
    else:
        mm_obs = float(per_person["d"].sum())
        capped = float(per_person["y"].sum())
        factor = exp["completion_factor"] or 1.0
        completed = capped / factor
        spread = (exp["high"] - exp["low"]) / exp["completed"] if exp["completed"] else 0.0
        low, high = completed * (1 - spread / 2), completed * (1 + spread / 2)
        persons = len(per_person)
    if not mm_obs:
        raise ValueError(f"{org} has no attributed member months in {year}")
    from vbc.security import NotEntitled, is_small

    if viewer.suppresses and is_small(persons):
        # Every dollar figure divided by the PMPM would give the member count away.
        raise NotEntitled(
            f"{org} has 1 to 10 attributed members in {year}: its settlement is not shown "
            "in the de-identified view"
        )
    remaining = 12 - observed
    mm_rem = float(last_mm) * remaining
    mm_total = mm_obs + mm_rem

    def actual_pmpm(completed_dollars: float) -> float:
        return (completed_dollars + mm_rem * (completed_dollars / mm_obs) * (1 + remaining_trend)) / mm_total

    incomplete = list(exp.get("incomplete_months") or [])
    status = "forecast" if remaining > 0 else ("preliminary" if incomplete else "final")
    detail = {
        "formula": (
            "Completed, capped paid dollars / member months"
            if status != "forecast"
            else "Forecast: (completed, capped paid dollars to date + remaining months x observed PMPM "
            "x (1 + remaining-month trend)) / forecast member months"
        ),
        "paid_dollars": round(exp["paid"] if default else float(per_person["y"].sum()), 2),
        "removed_by_high_cost_cap": abs(round(exp["capped_dollars"], 2)) if default else None,
        "completed_dollars": round(completed, 2),
        "incomplete_months": ", ".join(incomplete) or "none",
        "high_cost_cap": (
            f"${cap.amount:,.0f}"
            if cap and cap.amount
            else f"{cap.percentile:g}th percentile"
            if cap
            else "none"
        ),
        "months_observed": observed,
    }
    if remaining:
        detail.update(
            {
                "months_projected": remaining,
                "projected_member_months": mm_rem,
                "remaining_month_trend": remaining_trend,
            }
        )

    # Benchmark.
    fig_kw: dict = {}
    b = terms.benchmark
    if not b.fixed:
        from vbc import risk
        from vbc.engine import month_end, parse_month

        bp = Period(parse_month(b.baseline_start), month_end(parse_month(b.baseline_end)))
        base = cost.expenditure(ws, viewer, bp, organization=org, cap=cap, complete=True)
        mid_base = bp.start.year * 12 + bp.start.month + _months_between(bp.start, bp.end) / 2
        mid_py = year * 12 + 1 + 5.5
        fig_kw.update(
            baseline_pmpm=base["pmpm"],
            trend_years=round((mid_py - mid_base) / 12, 4),
            benchmark_detail={
                "baseline_member_months": base["member_months"],
                "baseline_completed_dollars": round(base["completed"], 2),
                "baseline_period": bp.label,
            },
        )
        if b.risk_adjust:
            fig_kw.update(
                baseline_risk=round(risk.average_risk(ws, viewer, bp, org), 6),
                performance_risk=round(risk.average_risk(ws, viewer, period, org), 6),
            )

    # Quality.
    if quality_score is None:
        try:
            from vbc import quality as quality_module  # issue 5; absent until it lands

            if registry is not None and hasattr(quality_module, "quality_composite"):
                q = quality_module.quality_composite(ws, registry, terms, viewer, period)
                quality_score = q.get("score") if isinstance(q, dict) else None
        except ImportError:
            notes.append(
                "The quality composite is not available yet; sharing is shown before any quality effect."
            )

    n_members = members if members is not None else persons
    fig = Figures(
        member_months=round(mm_total, 2),
        actual_pmpm=round(actual_pmpm(completed), 2),
        actual_dollars=round(actual_pmpm(completed) * mm_total, 2),
        members=n_members,
        quality_score=quality_score,
        actual_detail=detail,
        **fig_kw,
    )
    result = settle(terms, fig)

    # Range: incomplete months (completion low/high) and panel size (random variation), combined.
    hw_completion = (actual_pmpm(high) - actual_pmpm(low)) / 2
    hw_random = random_half_width(per_person)
    hw = math.sqrt(hw_completion**2 + (0 if math.isnan(hw_random) else hw_random) ** 2)
    lo_fig = Figures(
        **{**fig.__dict__, "actual_pmpm": round(fig.actual_pmpm + hw, 2), "actual_dollars": None}
    )
    hi_fig = Figures(
        **{**fig.__dict__, "actual_pmpm": round(max(fig.actual_pmpm - hw, 0), 2), "actual_dollars": None}
    )
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
    return {
        "settlement": result,
        "status": status,
        "observed_months": observed,
        "period": period,
        "range": rng,
        "figures": fig,
        "notes": notes,
        "persons": persons,
    }


def waterfall(result: Settlement) -> list[dict]:
    """The bars from benchmark to final payment: each {"label", "value", "measure", "stage"}.

    measure is "absolute" (a level), "relative" (a step added to the running level) or "total"
    (the level so far). Stage "expenditure" runs benchmark - actual = gross savings; stage
    "sharing" runs gross savings - not shared - limit = final payment. The two stages differ by
    orders of magnitude, so the page draws them on separate scales.
    """
    v = {s.key: s.value for s in result.steps}
    bench, actual, gross, final = (
        float(v["benchmark_expenditure"]),
        float(v["actual_expenditure"]),
        float(v["gross_savings"]),
        float(v["final_payment"]),
    )
    if "shared_savings" in v:
        before, limit_label = float(v["shared_savings"]), "Payment limit"
    elif "shared_losses" in v:
        before, limit_label = -float(v["shared_losses"]), "Loss limit"
    else:  # a one-sided contract with losses, or exactly zero: nothing is shared
        before, limit_label = final, "Limit"
    not_shared_label = "Not shared" if gross >= 0 else "Not owed"
    bars = [
        ("Benchmark expenditure", bench, "absolute", "expenditure"),
        ("Actual expenditure", -actual, "relative", "expenditure"),
        ("Gross savings" if gross >= 0 else "Gross losses", gross, "total", "expenditure"),
        ("Gross savings" if gross >= 0 else "Gross losses", gross, "absolute", "sharing"),
        (not_shared_label, round(before - gross, 2), "relative", "sharing"),
        (limit_label, round(final - before, 2), "relative", "sharing"),
        ("Final payment", final, "total", "sharing"),
    ]
    return [{"label": a, "value": b, "measure": c, "stage": d} for a, b, c, d in bars]


def export_rows(result: Settlement) -> list[dict]:
    """The CLI's rows (JSON and CSV): one per step; CSV serialises `inputs` as JSON text."""
    return [
        {
            "contract_id": result.contract_id,
            "organization": result.provider_organization,
            "performance_year": result.performance_year,
            **r,
        }
        for r in result.rows()
    ]


def format_step(step: dict, suppress_small: bool = False) -> str:
    """A step's value as the page shows it (the same for every viewer except small counts)."""
    from vbc.security import is_small

    v, unit = step["value"], step["unit"]
    if v is None:
        return "—"
    if unit == "flag":
        return "yes" if v else "no"
    if unit in ("dollars", "pmpm"):
        return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"
    if unit == "rate":
        return f"{v * 100:.3f}%"
    if unit == "count":
        if suppress_small and is_small(v):
            return "suppressed (1-10)"
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
    if unit in ("ratio", "score"):
        return f"{v:,.4f}" if unit == "ratio" else f"{v:,.2f}"
    return str(v)
