"""Contract terms: one small YAML file per contract and performance year, validated with clear messages.

Every key is documented in the README ("Contract terms"). Rates are fractions (0.02 = 2%).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from vbc.attribution import AttributionSettings
from vbc.periods import parse_month

CONTRACT_DIR = Path(__file__).resolve().parent.parent / "data" / "contracts" / "demo"


class ContractTermsError(ValueError):
    pass


@dataclass(frozen=True)
class Benchmark:
    pmpm: float | None = None  # a fixed benchmark PMPM, or
    baseline_start: str | None = None  # a historical baseline (YYYY-MM .. YYYY-MM) ...
    baseline_end: str | None = None
    trend: float = 0.0  # ... trended by this annual rate ...
    risk_adjust: bool = False  # ... and adjusted by the change in average risk score,
    risk_growth_cap: float | None = None  # positive growth capped at this many points (0.03 = 3)

    @property
    def fixed(self) -> bool:
        return self.pmpm is not None


@dataclass(frozen=True)
class HighCostCap:
    amount: float | None = None  # annual paid per member above this is excluded, or
    percentile: float | None = None  # cap at this percentile of members' annual cost


@dataclass(frozen=True)
class Corridor:
    lower: float  # band of savings (or losses) as a share of the benchmark, [lower, upper)
    upper: float | None
    rate: float  # sharing rate within the band
    side: str = "savings"  # "savings" (default) or "losses"


@dataclass(frozen=True)
class Quality:
    mode: str = "gate"  # "gate": share only when score >= minimum; "scaled": rate x score/100
    minimum: float | None = None  # minimum composite score (0-100) for the gate


@dataclass(frozen=True)
class MeasureTerm:
    target: float
    weight: float = 1.0


@dataclass(frozen=True)
class ContractTerms:
    contract_id: str
    payer: str
    provider_organization: str
    performance_year: int
    benchmark: Benchmark
    minimum_savings_rate: float | str  # a rate, or "mssp" for the sliding scale
    minimum_loss_rate: float | str
    shared_savings_rate: float
    shared_loss_rate: float
    savings_cap: float | None  # performance payment limit, share of benchmark
    loss_cap: float | None
    two_sided: bool
    quality: Quality
    high_cost_cap: HighCostCap | None = None
    corridors: tuple[Corridor, ...] = ()
    measures: dict[str, MeasureTerm] = field(default_factory=dict)
    attribution: AttributionSettings = field(default_factory=AttributionSettings)
    path: Path | None = None


KNOWN_KEYS = (
    "contract_id",
    "payer",
    "provider_organization",
    "performance_year",
    "benchmark",
    "high_cost_cap",
    "minimum_savings_rate",
    "minimum_loss_rate",
    "shared_savings_rate",
    "shared_loss_rate",
    "savings_cap",
    "loss_cap",
    "two_sided",
    "quality",
    "corridors",
    "measures",
    "attribution",
    "description",
)


def _rate(
    doc: dict, key: str, where: str, *, allow_mssp: bool = False, required: bool = True, upper: float = 1.0
) -> float | str | None:
    if key not in doc or doc[key] is None:
        if required:
            raise ContractTermsError(f"{where}: missing required key '{key}'")
        return None
    value = doc[key]
    if allow_mssp and value == "mssp":
        return "mssp"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContractTermsError(
            f"{where}: '{key}' must be a number" + (" or 'mssp'" if allow_mssp else "") + f" (got {value!r})"
        )
    if not 0 <= value <= upper:
        raise ContractTermsError(
            f"{where}: '{key}' must be between 0 and {upper} (a fraction: 0.02 means 2%), got {value}"
        )
    return float(value)


def _keys(value, where: str, path: str, allowed: tuple[str, ...]) -> dict:
    """`value` must be a mapping whose keys are all in `allowed`; unknown keys name their path."""
    if not isinstance(value, dict):
        raise ContractTermsError(f"{where}: '{path}' must be a mapping of {', '.join(allowed)}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ContractTermsError(
            f"{where}: unknown key(s) {', '.join(f'{path}.{k}' for k in unknown)}; "
            f"'{path}' takes {', '.join(allowed)}"
        )
    return value


def _number(value, where: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ContractTermsError(f"{where}: '{path}' must be a number (got {value!r})")
    return float(value)


def _benchmark(b, where: str) -> Benchmark:
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        b = {"pmpm": b}
    b = _keys(b, where, "benchmark", ("pmpm", "baseline", "trend", "risk_adjustment"))
    if b.get("pmpm") is not None:
        if set(b) != {"pmpm"}:
            raise ContractTermsError(f"{where}: 'benchmark' is a fixed pmpm or a baseline, not both")
        if _number(b["pmpm"], where, "benchmark.pmpm") <= 0:
            raise ContractTermsError(f"{where}: 'benchmark.pmpm' must be a positive number")
        return Benchmark(pmpm=float(b["pmpm"]))
    if not b.get("baseline"):
        raise ContractTermsError(f"{where}: 'benchmark' needs 'pmpm' or a 'baseline' with 'trend'")
    base = _keys(b["baseline"], where, "benchmark.baseline", ("start", "end"))
    if not base.get("start") or not base.get("end"):
        raise ContractTermsError(f"{where}: 'benchmark.baseline' needs start and end (YYYY-MM)")
    for key in ("start", "end"):
        try:
            parse_month(str(base[key]))
        except ValueError:
            raise ContractTermsError(f"{where}: 'benchmark.baseline.{key}' must be a month YYYY-MM") from None
    trend = _number(b.get("trend", 0.0), where, "benchmark.trend")
    if not -0.5 < trend < 0.5:
        raise ContractTermsError(f"{where}: 'benchmark.trend' must be an annual rate like 0.04")
    ra = b.get("risk_adjustment")
    cap = None
    if ra is not None:
        ra = _keys(ra, where, "benchmark.risk_adjustment", ("positive_growth_cap",))
        if ra.get("positive_growth_cap") is not None:
            cap = _number(ra["positive_growth_cap"], where, "benchmark.risk_adjustment.positive_growth_cap")
    return Benchmark(
        baseline_start=str(base["start"]),
        baseline_end=str(base["end"]),
        trend=trend,
        risk_adjust=ra is not None,
        risk_growth_cap=cap,
    )


def _high_cost_cap(cap, where: str) -> HighCostCap | None:
    if cap is None:
        return None
    if isinstance(cap, (int, float)) and not isinstance(cap, bool):
        cap = {"amount": cap}
    cap = _keys(cap, where, "high_cost_cap", ("amount", "percentile"))
    if len([k for k in cap if cap[k] is not None]) != 1:
        raise ContractTermsError(f"{where}: 'high_cost_cap' must be an amount or {{percentile: P}}")
    if cap.get("percentile") is not None:
        pct = _number(cap["percentile"], where, "high_cost_cap.percentile")
        if not 50 <= pct < 100:
            raise ContractTermsError(f"{where}: 'high_cost_cap.percentile' must be between 50 and 100")
        return HighCostCap(percentile=pct)
    amount = _number(cap["amount"], where, "high_cost_cap.amount")
    if amount <= 0:
        raise ContractTermsError(f"{where}: 'high_cost_cap.amount' must be positive")
    return HighCostCap(amount=amount)


def _quality(q, where: str) -> Quality:
    q = _keys(q if q is not None else {"mode": "none"}, where, "quality", ("gate", "mode"))
    if "gate" in q:
        g = _number(q["gate"], where, "quality.gate")
        if not 0 <= g <= 100 or q.get("mode", "gate") != "gate":
            raise ContractTermsError(f"{where}: 'quality.gate' must be a score from 0 to 100")
        return Quality("gate", g)
    if q.get("mode") in ("scaled", "none"):
        return Quality(q["mode"])
    raise ContractTermsError(f"{where}: 'quality' must be {{gate: N}} or {{mode: scaled}}")


def _corridors(items, where: str) -> tuple[Corridor, ...]:
    if not isinstance(items, list):
        raise ContractTermsError(f"{where}: 'corridors' must be a list of bands")
    corridors: list[Corridor] = []
    for i, c in enumerate(items):
        path = f"corridors[{i}]"
        c = _keys(c, where, path, ("from", "to", "rate", "side"))
        if "from" not in c or "rate" not in c:
            raise ContractTermsError(f"{where}: {path} needs 'from', 'to' and 'rate'")
        lower = _number(c["from"], where, f"{path}.from")
        upper = _number(c["to"], where, f"{path}.to") if c.get("to") is not None else None
        if upper is not None and upper <= lower:
            raise ContractTermsError(f"{where}: {path} 'to' must be above 'from'")
        side = str(c.get("side", "savings"))
        if side not in ("savings", "losses"):
            raise ContractTermsError(f"{where}: {path} 'side' must be savings or losses")
        same = [k for k in corridors if k.side == side]
        if not same and lower != 0:
            raise ContractTermsError(f"{where}: {path} the first {side} band must start 'from: 0'")
        if same and same[-1].upper != lower:
            raise ContractTermsError(f"{where}: {path} must start where the previous band ends")
        if same and same[-1].upper is None:
            raise ContractTermsError(f"{where}: {path} follows an open-ended band")
        corridors.append(Corridor(lower, upper, float(_rate(c, "rate", f"{where}: {path}")), side))
    return tuple(corridors)


def _measures(items, where: str, known: set[str] | None) -> dict[str, MeasureTerm]:
    items = items or {}
    if not isinstance(items, dict):
        raise ContractTermsError(f"{where}: 'measures' must map measure ids to targets")
    out = {}
    for mid, m in items.items():
        path = f"measures.{mid}"
        if known is not None and str(mid) not in known:
            raise ContractTermsError(
                f"{where}: '{path}': no measure '{mid}'; known: {', '.join(sorted(known))}"
            )
        if isinstance(m, (int, float)) and not isinstance(m, bool):
            m = {"target": m}
        m = _keys(m, where, path, ("target", "weight"))
        if "target" not in m:
            raise ContractTermsError(f"{where}: {path} needs a numeric target")
        target = _number(m["target"], where, f"{path}.target")
        weight = _number(m.get("weight", 1.0), where, f"{path}.weight")
        if not 0 <= target <= 1 or weight <= 0:
            raise ContractTermsError(
                f"{where}: {path}: a target is a rate from 0 to 1 and a weight is positive"
            )
        out[str(mid)] = MeasureTerm(target, weight)
    return out


def _attribution(a, where: str) -> AttributionSettings:
    a = _keys(a or {}, where, "attribution", ("window_months", "mode"))
    window = a.get("window_months", 12)
    if isinstance(window, bool) or window not in (12, 24):
        raise ContractTermsError(f"{where}: attribution: window_months must be 12 or 24 (got {window!r})")
    mode = a.get("mode", "retrospective")
    if mode not in ("retrospective", "prospective"):
        raise ContractTermsError(
            f"{where}: attribution: mode must be 'retrospective' or 'prospective' (got {mode!r})"
        )
    return AttributionSettings(int(window), str(mode))


def _identity(doc: dict, where: str) -> int:
    for key in ("contract_id", "payer", "provider_organization", "performance_year", "benchmark"):
        if doc.get(key) in (None, ""):
            raise ContractTermsError(f"{where}: missing required key '{key}'")
    year = doc["performance_year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 1990 <= year <= 2100:
        raise ContractTermsError(f"{where}: 'performance_year' must be a year like 2025")
    two_sided = doc.get("two_sided", False)
    if not isinstance(two_sided, bool):
        raise ContractTermsError(f"{where}: 'two_sided' must be true or false")
    return year


@lru_cache(maxsize=1)
def known_measures() -> frozenset[str]:
    """Quality measure ids of the metric definitions (a contract's `measures` must name them)."""
    from vbc.registry import load_registry  # the registry does not need contract terms

    return frozenset(m.id for m in load_registry(check=False) if m.domain == "quality")


def parse_terms(doc: dict, where: str = "contract", measures: set[str] | None = None) -> ContractTerms:
    """Validate a contract mapping to every level; every message names the file and the key path.

    `measures` are the measure ids a contract may name (default: the registry's quality measures)."""
    if not isinstance(doc, dict):
        raise ContractTermsError(f"{where}: expected a mapping of contract keys")
    unknown = sorted(set(map(str, doc)) - set(KNOWN_KEYS))
    if unknown:
        raise ContractTermsError(
            f"{where}: unknown key(s) {', '.join(unknown)}; the keys are "
            f"{', '.join(KNOWN_KEYS)} (see the README, 'Contract terms')"
        )
    year = _identity(doc, where)
    two_sided = doc.get("two_sided", False)
    return ContractTerms(
        contract_id=str(doc["contract_id"]),
        payer=str(doc["payer"]),
        provider_organization=str(doc["provider_organization"]),
        performance_year=year,
        benchmark=_benchmark(doc["benchmark"], where),
        minimum_savings_rate=_rate(doc, "minimum_savings_rate", where, allow_mssp=True),
        minimum_loss_rate=_rate(doc, "minimum_loss_rate", where, allow_mssp=True, required=two_sided) or 0.0,
        shared_savings_rate=_rate(doc, "shared_savings_rate", where),
        shared_loss_rate=_rate(doc, "shared_loss_rate", where, required=two_sided) or 0.0,
        savings_cap=_rate(doc, "savings_cap", where, required=False),
        loss_cap=_rate(doc, "loss_cap", where, required=False),
        two_sided=two_sided,
        quality=_quality(doc.get("quality"), where),
        high_cost_cap=_high_cost_cap(doc.get("high_cost_cap"), where),
        corridors=_corridors(doc.get("corridors") or [], where),
        measures=_measures(
            doc.get("measures"), where, known_measures() if measures is None else set(measures)
        ),
        attribution=_attribution(doc.get("attribution"), where),
    )


def load_terms(path: Path | str) -> ContractTerms:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ContractTermsError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ContractTermsError(f"{path.name}: not valid YAML ({exc})") from None
    terms = parse_terms(doc, path.name)
    return ContractTerms(**{**terms.__dict__, "path": path})


def contracts(directory: Path = CONTRACT_DIR) -> list[ContractTerms]:
    """Every contract file shipped or placed in data/contracts/ (bad files raise, naming the file)."""
    return [load_terms(p) for p in sorted(Path(directory).glob("*.yaml"))]


def contracts_for(data_dir: Path | str) -> list[ContractTerms]:
    """Contracts that go with an extract: `<data_dir>/contracts/*.yaml` (demo data ships its own)."""
    folder = Path(data_dir) / "contracts"
    return contracts(folder) if folder.is_dir() else []


def workspace_contracts(ws) -> list[ContractTerms]:
    """The one lookup of a workspace's contracts: `<data>/contracts/*.yaml`, else, for demo data
    without its own folder, the shipped demo contracts; ordered by organization and year."""
    found = contracts_for(ws.data_dir)
    if not found and ws.is_demo:
        found = contracts()
    return sorted(found, key=lambda t: (t.provider_organization, t.performance_year))


def contract_of(ws, organization: str | None, year: int | None = None) -> ContractTerms | None:
    """The contract of `organization` for performance year `year` when there is one, else its
    latest; None without an organization or a contract."""
    if not organization:
        return None
    mine = [c for c in workspace_contracts(ws) if c.provider_organization == organization]
    if not mine:
        return None
    same = [c for c in mine if year is not None and c.performance_year == year]
    return same[0] if same else max(mine, key=lambda c: c.performance_year)
