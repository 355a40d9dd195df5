"""Settlement of a value-based contract, step by step.

`settle(terms, figures)` is a pure calculator: from the contract terms and a handful of figures
(benchmark PMPM, actual PMPM, member months, attributed members, quality score) it returns every step
of the reconciliation as a named line with its formula in words, its inputs and its value. The page,
the JSON export and the CSV export all print these same lines. `settle` runs one function per step
(members, benchmark, expenditure and gross savings, MSR/MLR, quality, sharing with its limit and the
final payment); each returns its lines and the values the later steps need.

The figures from the claims (and the forecast range) are gathered in `vbc.settlement_claims`.

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
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from vbc.security import is_small
from vbc.terms import Benchmark, ContractTerms, Corridor, Quality

CENT = Decimal("0.01")
SIX_PLACES = Decimal("0.000001")

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


def _rate_text(r) -> str:
    return "mssp (sliding scale)" if r == "mssp" else f"{float(r):.4g}"


def settle(terms: ContractTerms, fig: Figures) -> Settlement:
    """Every step from benchmark to final payment (positive: payer pays the organization)."""
    member, mm, members = member_steps(fig)
    bench, bench_pmpm = benchmark_steps(terms.benchmark, fig)
    spend, benchmark, gross, rate = expenditure_steps(fig, mm, bench_pmpm)
    thresholds, msr_met, mlr_met = threshold_steps(terms, members, gross, rate)
    quality, factor = quality_steps(terms.quality, fig.quality_score)
    sharing = sharing_steps(terms, gross, benchmark, factor, msr_met, mlr_met)
    steps = [*member, *bench, *spend, *thresholds, *quality, *sharing]
    return Settlement(terms.contract_id, terms.provider_organization, terms.performance_year, steps)


# ---------------------------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------------------------


def member_steps(fig: Figures) -> tuple[list[Step], Decimal, int]:
    """Member months and attributed members; returns (steps, member months, attributed members)."""
    mm = _d(fig.member_months)
    if mm <= 0:
        raise ValueError("member months must be positive to settle a contract")
    members = attributed_members(fig)
    steps = [
        Step(
            "member_months",
            "Member months",
            "Months of enrollment of the attributed members in the performance year",
            _f(mm),
            "count",
            dict(fig.actual_detail.get("mm_inputs", {})),
        ),
        Step(
            "attributed_members",
            "Attributed members",
            "People attributed to the organization in the year"
            if fig.members is not None
            else "Member months / 12, rounded (not given)",
            members,
            "count",
            {"member_months": _f(mm)},
        ),
    ]
    return steps, mm, members


def attributed_members(fig: Figures) -> int:
    """The given count, else member months / 12 rounded half up (the sliding MSR needs a count)."""
    if fig.members is not None:
        return int(fig.members)
    return int((_d(fig.member_months) / 12).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------------------------------------
# Benchmark: given, fixed by the contract, or a trended and risk-adjusted baseline
# ---------------------------------------------------------------------------------------------


def benchmark_steps(b: Benchmark, fig: Figures) -> tuple[list[Step], Decimal]:
    """The benchmark PMPM's steps; returns (steps, benchmark PMPM). A given PMPM wins over the terms."""
    if fig.benchmark_pmpm is not None:
        return given_benchmark(b, fig)
    if b.fixed:
        return fixed_benchmark(b)
    return baseline_benchmark(b, fig)


def given_benchmark(b: Benchmark, fig: Figures) -> tuple[list[Step], Decimal]:
    bench_pmpm = _d(fig.benchmark_pmpm)
    step = Step(
        "benchmark_pmpm",
        "Benchmark PMPM",
        "Given" if not b.fixed or fig.benchmark_pmpm != b.pmpm else "Fixed by the contract",
        _f(bench_pmpm),
        "pmpm",
        {**fig.benchmark_detail},
    )
    return [step], bench_pmpm


def fixed_benchmark(b: Benchmark) -> tuple[list[Step], Decimal]:
    bench_pmpm = _d(b.pmpm)
    step = Step(
        "benchmark_pmpm",
        "Benchmark PMPM",
        "Fixed by the contract (benchmark.pmpm)",
        _f(bench_pmpm),
        "pmpm",
        {"benchmark.pmpm": b.pmpm},
    )
    return [step], bench_pmpm


def baseline_benchmark(b: Benchmark, fig: Figures) -> tuple[list[Step], Decimal]:
    """Baseline PMPM x trend factor x risk factor, rounded to the cent; returns (steps, benchmark PMPM)."""
    if fig.baseline_pmpm is None:
        raise ValueError(
            "this contract's benchmark is a historical baseline: give the baseline PMPM (or --benchmark-pmpm)"
        )
    base = _d(fig.baseline_pmpm)
    years = _d(fig.trend_years if fig.trend_years is not None else 1)
    trend = trend_factor(b.trend, years)
    steps = [
        Step(
            "baseline_pmpm",
            "Baseline PMPM",
            "Completed, capped paid dollars / member "
            f"months over the baseline {b.baseline_start} to {b.baseline_end}",
            _f(cents(base)),
            "pmpm",
            {**fig.benchmark_detail},
        ),
        Step(
            "trend_factor",
            "Trend factor",
            "(1 + annual trend) ^ years from the baseline to the performance year",
            _f(trend),
            "ratio",
            {"benchmark.trend": b.trend, "years": _f(years)},
        ),
    ]
    risk = Decimal(1)
    if b.risk_adjust:
        risk_step, risk = risk_factor(b, fig)
        steps.append(risk_step)
    bench_pmpm = cents(base * trend * risk)
    steps.append(
        Step(
            "benchmark_pmpm",
            "Benchmark PMPM",
            "Baseline PMPM x trend factor x risk adjustment factor",
            _f(bench_pmpm),
            "pmpm",
            {"baseline_pmpm": _f(cents(base)), "trend_factor": _f(trend), "risk_factor": _f(risk)},
        )
    )
    return steps, bench_pmpm


def trend_factor(trend: float, years: Decimal) -> Decimal:
    """(1 + trend) ^ years to six decimals, half up."""
    # Whole years stay exact in decimal; a fractional power has to go through floats.
    factor = (1 + _d(trend)) ** int(years) if years == int(years) else _d(math.pow(1 + trend, float(years)))
    return factor.quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def risk_factor(b: Benchmark, fig: Figures) -> tuple[Step, Decimal]:
    """Performance-year / baseline average risk (six decimals), positive growth capped; (step, factor)."""
    if not fig.baseline_risk or not fig.performance_risk:
        raise ValueError(
            "this contract adjusts the benchmark for risk: give the baseline and "
            "performance-year average risk scores"
        )
    ratio = (_d(fig.performance_risk) / _d(fig.baseline_risk)).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)
    factor = ratio
    formula = "Performance-year average risk score / baseline average risk score"
    if b.risk_growth_cap is not None and ratio > 1 + _d(b.risk_growth_cap):
        factor = 1 + _d(b.risk_growth_cap)
        formula += f", positive growth capped at {b.risk_growth_cap:.1%} (decreases not floored)"
    step = Step(
        "risk_factor",
        "Risk adjustment factor",
        formula,
        _f(factor),
        "ratio",
        {
            "baseline_risk": fig.baseline_risk,
            "performance_risk": fig.performance_risk,
            "uncapped_ratio": _f(ratio),
            "risk_adjustment.positive_growth_cap": b.risk_growth_cap,
        },
    )
    return step, factor


# ---------------------------------------------------------------------------------------------
# Expenditure and gross savings
# ---------------------------------------------------------------------------------------------


def expenditure_steps(
    fig: Figures, mm: Decimal, bench_pmpm: Decimal
) -> tuple[list[Step], Decimal, Decimal, Decimal]:
    """Benchmark and actual expenditure, gross savings and the savings rate.

    Returns (steps, benchmark expenditure, gross savings, savings rate); the rate is unrounded
    because the MSR is compared with it as is.
    """
    benchmark = cents(bench_pmpm * mm)
    actual_pmpm = _d(fig.actual_pmpm)
    if fig.actual_dollars is not None:
        actual = cents(fig.actual_dollars)
        actual_formula = "Completed, capped paid dollars (forecast: with the projected months)"
    else:
        actual = cents(actual_pmpm * mm)
        actual_formula = "Actual PMPM x member months"
    gross = benchmark - actual
    rate = gross / benchmark
    steps = [
        Step(
            "benchmark_expenditure",
            "Benchmark expenditure",
            "Benchmark PMPM x member months",
            _f(benchmark),
            "dollars",
            {"benchmark_pmpm": _f(bench_pmpm), "member_months": _f(mm)},
        ),
        Step(
            "actual_pmpm",
            "Actual PMPM",
            fig.actual_detail.get("formula", "Given (completed for run-out and capped as the contract says)"),
            _f(actual_pmpm),
            "pmpm",
            {k: v for k, v in fig.actual_detail.items() if k not in ("formula", "mm_inputs")},
        ),
        Step(
            "actual_expenditure",
            "Actual expenditure",
            actual_formula,
            _f(actual),
            "dollars",
            {"actual_pmpm": _f(actual_pmpm), "member_months": _f(mm)},
        ),
        Step(
            "gross_savings",
            "Gross savings (negative: losses)",
            "Benchmark expenditure - actual expenditure",
            _f(gross),
            "dollars",
            {"benchmark_expenditure": _f(benchmark), "actual_expenditure": _f(actual)},
        ),
        Step(
            "savings_rate",
            "Savings rate (negative: loss rate)",
            "Gross savings / benchmark expenditure",
            round(_f(rate), 6),
            "rate",
            {"gross_savings": _f(gross), "benchmark_expenditure": _f(benchmark)},
        ),
    ]
    return steps, benchmark, gross, rate


# ---------------------------------------------------------------------------------------------
# Minimum savings and loss rates
# ---------------------------------------------------------------------------------------------


def threshold(rate: float | str, members: int) -> tuple[Decimal, str]:
    """A minimum savings (or loss) rate as a fraction, and the basis shown as its formula."""
    if rate == "mssp":
        return mssp_msr(members), f"Medicare sliding scale for {members:,} attributed members"
    return _d(rate), "fixed by the contract"


def threshold_steps(
    terms: ContractTerms, members: int, gross: Decimal, rate: Decimal
) -> tuple[list[Step], bool, bool]:
    """The MSR and whether savings meet it; for a two-sided contract the MLR too.

    Returns (steps, msr met, mlr met); a one-sided contract's MLR is never met.
    """
    msr, msr_basis = threshold(terms.minimum_savings_rate, members)
    msr_met = gross > 0 and rate >= msr
    steps = [
        Step(
            "minimum_savings_rate",
            "Minimum savings rate (MSR)",
            msr_basis,
            _f(msr),
            "rate",
            {"minimum_savings_rate": _rate_text(terms.minimum_savings_rate), "attributed_members": members},
        ),
        Step(
            "msr_met",
            "Savings meet the MSR",
            "Savings rate >= MSR (savings shared from the first dollar once met)",
            bool(msr_met),
            "flag",
            {"savings_rate": round(_f(rate), 6), "minimum_savings_rate": _f(msr)},
        ),
    ]
    if not terms.two_sided:
        return steps, bool(msr_met), False
    mlr, mlr_basis = threshold(terms.minimum_loss_rate, members)
    mlr_met = gross < 0 and -rate >= mlr
    steps += [
        Step(
            "minimum_loss_rate",
            "Minimum loss rate (MLR)",
            mlr_basis,
            _f(mlr),
            "rate",
            {"minimum_loss_rate": _rate_text(terms.minimum_loss_rate), "attributed_members": members},
        ),
        Step(
            "mlr_met",
            "Losses meet the MLR",
            "Loss rate (-savings rate) >= MLR (losses shared from the first dollar once met)",
            bool(mlr_met),
            "flag",
            {"loss_rate": round(_f(-rate), 6), "minimum_loss_rate": _f(mlr)},
        ),
    ]
    return steps, bool(msr_met), bool(mlr_met)


# ---------------------------------------------------------------------------------------------
# Quality
# ---------------------------------------------------------------------------------------------


def quality_steps(q: Quality, score: float | None) -> tuple[list[Step], Decimal]:
    """The composite and what it does to savings sharing; returns (steps, quality factor).

    The factor multiplies the savings sharing rate: 1 or 0 for a gate, composite / 100 (four
    decimals) when scaled, 1 without a quality condition or without a score.
    """
    score_step = Step(
        "quality_score",
        "Quality composite score",
        "Weighted composite of the contract's measures against their targets (0-100)"
        if score is not None
        else "Not available: sharing shown as agreed, before any quality effect",
        None if score is None else round(float(score), 2),
        "score",
        {},
    )
    if q.mode == "gate":
        passed = score is None or float(score) >= q.minimum
        factor = Decimal(1) if passed else Decimal(0)
        result = Step(
            "quality_result",
            "Quality gate",
            f"Pass when the composite >= {q.minimum:g}; a failed gate shares no savings"
            + ("" if score is not None else " (no score: assumed to pass)"),
            "pass" if passed else "fail",
            "text",
            {"quality.gate": q.minimum, "quality_score": score},
        )
    elif q.mode == "scaled":
        factor = (
            Decimal(1)
            if score is None
            else (_d(score) / 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        )
        result = Step(
            "quality_result",
            "Quality scaling factor",
            "Composite / 100 (multiplies the savings sharing rate)"
            + ("" if score is not None else " (no score: 1)"),
            _f(factor),
            "ratio",
            {"quality.mode": "scaled", "quality_score": score},
        )
    else:
        factor = Decimal(1)
        result = Step(
            "quality_result", "Quality", "The contract has no quality condition", "none", "text", {}
        )
    return [score_step, result], factor


# ---------------------------------------------------------------------------------------------
# Sharing: the rate, corridors, the limit and the final payment
# ---------------------------------------------------------------------------------------------


def sharing_steps(
    terms: ContractTerms, gross: Decimal, benchmark: Decimal, factor: Decimal, msr_met: bool, mlr_met: bool
) -> list[Step]:
    """From gross savings (or losses) to the final payment: the sharing rate, the shared amount
    (by corridor when the contract has them), its limit and the final payment."""
    steps = [sharing_rate_step(terms, factor)]
    if gross > 0:
        shared, final, formula = shared_savings_steps(terms, gross, benchmark, factor, msr_met)
    elif gross < 0 and terms.two_sided:
        shared, final, formula = shared_losses_steps(terms, -gross, benchmark, mlr_met)
    else:
        shared, final = [], Decimal(0)
        formula = "One-sided contract: losses are never paid" if gross < 0 else "No savings and no losses"
    final_step = Step(
        "final_payment",
        "Final payment (negative: owed by the organization)",
        formula,
        _f(cents(final)),
        "dollars",
        {"two_sided": terms.two_sided},
    )
    return [*steps, *shared, final_step]


def sharing_rate_step(terms: ContractTerms, factor: Decimal) -> Step:
    if any(c.side == "savings" for c in terms.corridors):
        return Step(
            "sharing_rate",
            "Savings sharing rate",
            "Corridor rates (below) x quality factor",
            "by corridor",
            "text",
            {"quality_factor": _f(factor)},
        )
    rate_applied = (_d(terms.shared_savings_rate) * factor).quantize(SIX_PLACES)
    return Step(
        "sharing_rate",
        "Savings sharing rate",
        "Shared savings rate x quality factor",
        _f(rate_applied),
        "rate",
        {"shared_savings_rate": terms.shared_savings_rate, "quality_factor": _f(factor)},
    )


def _limit(cap: float | None, benchmark: Decimal) -> Decimal | None:
    return cents(_d(cap) * benchmark) if cap is not None else None


def shared_savings_steps(
    terms: ContractTerms, gross: Decimal, benchmark: Decimal, factor: Decimal, msr_met: bool
) -> tuple[list[Step], Decimal, str]:
    """Savings shared (nothing unless the MSR is met) and the payment limit.

    Returns (steps, final payment, the final payment's formula).
    """
    bands = [c for c in terms.corridors if c.side == "savings"]
    steps: list[Step] = []
    shared = Decimal(0)
    if bands:
        steps, shared = savings_corridor_steps(gross, benchmark, bands, factor, msr_met)
    elif msr_met:
        shared = cents(gross * _d(terms.shared_savings_rate) * factor)
    limit = _limit(terms.savings_cap, benchmark)
    steps += [
        Step(
            "shared_savings",
            "Shared savings before the limit",
            "Gross savings x sharing rate when the MSR is met, else 0",
            _f(shared),
            "dollars",
            {"gross_savings": _f(gross), "msr_met": bool(msr_met)},
        ),
        Step(
            "savings_limit",
            "Performance payment limit",
            "savings_cap x benchmark expenditure" if limit is not None else "No limit",
            None if limit is None else _f(limit),
            "dollars",
            {"savings_cap": terms.savings_cap, "benchmark_expenditure": _f(benchmark)},
        ),
    ]
    final = shared if limit is None else min(shared, limit)
    return steps, final, "min(shared savings, performance payment limit): the payer pays the organization"


def shared_losses_steps(
    terms: ContractTerms, losses: Decimal, benchmark: Decimal, mlr_met: bool
) -> tuple[list[Step], Decimal, str]:
    """Losses owed (nothing unless the MLR is met) and the loss limit; quality plays no part.

    `losses` is positive. Returns (steps, final payment (negative or zero), its formula).
    """
    bands = [c for c in terms.corridors if c.side == "losses"]
    steps: list[Step] = []
    owed = Decimal(0)
    if bands:
        steps, owed = loss_corridor_steps(losses, benchmark, bands, mlr_met)
    elif mlr_met:
        owed = cents(losses * _d(terms.shared_loss_rate))
    limit = _limit(terms.loss_cap, benchmark)
    steps += [
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
        ),
        Step(
            "loss_limit",
            "Loss limit",
            "loss_cap x benchmark expenditure" if limit is not None else "No limit",
            None if limit is None else _f(limit),
            "dollars",
            {"loss_cap": terms.loss_cap, "benchmark_expenditure": _f(benchmark)},
        ),
    ]
    final = -(owed if limit is None else min(owed, limit))
    return steps, final, "-min(shared losses, loss limit): the organization pays the payer"


def banded(
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


def savings_corridor_steps(
    gross: Decimal, benchmark: Decimal, bands: list[Corridor], factor: Decimal, msr_met: bool
) -> tuple[list[Step], Decimal]:
    """One step per savings band (0 in each when the MSR is not met); returns (steps, total shared)."""
    steps, shared = [], Decimal(0)
    for i, (band, dollars, part) in enumerate(banded(gross, benchmark, bands, factor)):
        part = part if msr_met else Decimal(0)
        shared += part
        steps.append(
            Step(
                f"corridor_{i + 1}",
                f"Savings corridor {_band_label(band)}",
                "Savings in the band x band rate x quality factor" + ("" if msr_met else " (MSR not met: 0)"),
                _f(part),
                "dollars",
                {"savings_in_band": _f(dollars), "band_rate": band.rate, "quality_factor": _f(factor)},
            )
        )
    return steps, shared


def loss_corridor_steps(
    losses: Decimal, benchmark: Decimal, bands: list[Corridor], mlr_met: bool
) -> tuple[list[Step], Decimal]:
    """One step per loss band (0 in each when the MLR is not met); returns (steps, total owed)."""
    steps, owed = [], Decimal(0)
    for i, (band, dollars, part) in enumerate(banded(losses, benchmark, bands, Decimal(1))):
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
    return steps, owed


# ---------------------------------------------------------------------------------------------
# Presenting a settlement: the waterfall, export rows, a step's value as text
# ---------------------------------------------------------------------------------------------


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
