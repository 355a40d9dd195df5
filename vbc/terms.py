"""Contract terms: one small YAML file per contract and performance year, validated with clear messages.

Every key is documented in the README ("Contract terms"). Rates are fractions (0.02 = 2%).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vbc.attribution import AttributionSettings

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


def parse_terms(doc: dict, where: str = "contract") -> ContractTerms:
    """Validate a contract mapping; every message names the file and the key."""
    if not isinstance(doc, dict):
        raise ContractTermsError(f"{where}: expected a mapping of contract keys")
    unknown = sorted(set(map(str, doc)) - set(KNOWN_KEYS))
    if unknown:
        raise ContractTermsError(
            f"{where}: unknown key(s) {', '.join(unknown)}; the keys are "
            f"{', '.join(KNOWN_KEYS)} (see the README, 'Contract terms')"
        )
    for key in ("contract_id", "payer", "provider_organization", "performance_year", "benchmark"):
        if doc.get(key) in (None, ""):
            raise ContractTermsError(f"{where}: missing required key '{key}'")
    year = doc["performance_year"]
    if not isinstance(year, int) or not 1990 <= year <= 2100:
        raise ContractTermsError(f"{where}: 'performance_year' must be a year like 2025")

    b = doc["benchmark"]
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        b = {"pmpm": b}
    if not isinstance(b, dict):
        raise ContractTermsError(f"{where}: 'benchmark' must be a PMPM number or a mapping")
    if b.get("pmpm") is not None:
        if not isinstance(b["pmpm"], (int, float)) or b["pmpm"] <= 0:
            raise ContractTermsError(f"{where}: 'benchmark.pmpm' must be a positive number")
        benchmark = Benchmark(pmpm=float(b["pmpm"]))
    elif b.get("baseline"):
        base = b["baseline"]
        if not isinstance(base, dict) or not base.get("start") or not base.get("end"):
            raise ContractTermsError(f"{where}: 'benchmark.baseline' needs start and end (YYYY-MM)")
        trend = b.get("trend", 0.0)
        if not isinstance(trend, (int, float)) or not -0.5 < trend < 0.5:
            raise ContractTermsError(f"{where}: 'benchmark.trend' must be an annual rate like 0.04")
        ra = b.get("risk_adjustment") or {}
        cap = ra.get("positive_growth_cap") if isinstance(ra, dict) else None
        benchmark = Benchmark(
            baseline_start=str(base["start"]),
            baseline_end=str(base["end"]),
            trend=float(trend),
            risk_adjust=bool(ra),
            risk_growth_cap=float(cap) if cap is not None else None,
        )
    else:
        raise ContractTermsError(f"{where}: 'benchmark' needs 'pmpm' or a 'baseline' with 'trend'")

    cap = doc.get("high_cost_cap")
    high_cost_cap = None
    if cap is not None:
        if isinstance(cap, (int, float)) and not isinstance(cap, bool):
            cap = {"amount": cap}
        if not isinstance(cap, dict) or not (cap.get("amount") or cap.get("percentile")):
            raise ContractTermsError(f"{where}: 'high_cost_cap' must be an amount or {{percentile: P}}")
        pct = cap.get("percentile")
        if pct is not None and not 50 <= float(pct) < 100:
            raise ContractTermsError(f"{where}: 'high_cost_cap.percentile' must be between 50 and 100")
        high_cost_cap = HighCostCap(
            amount=float(cap["amount"]) if cap.get("amount") else None,
            percentile=float(pct) if pct is not None else None,
        )

    q = doc.get("quality") or {"mode": "none"}
    if not isinstance(q, dict):
        raise ContractTermsError(f"{where}: 'quality' must be a mapping (gate: N or mode: scaled)")
    if "gate" in q:
        g = q["gate"]
        if not isinstance(g, (int, float)) or not 0 <= g <= 100:
            raise ContractTermsError(f"{where}: 'quality.gate' must be a score from 0 to 100")
        quality = Quality("gate", float(g))
    elif q.get("mode") in ("scaled", "none"):
        quality = Quality(q["mode"])
    else:
        raise ContractTermsError(f"{where}: 'quality' must be {{gate: N}} or {{mode: scaled}}")

    corridors = []
    for i, c in enumerate(doc.get("corridors") or []):
        if not isinstance(c, dict) or "from" not in c or "rate" not in c:
            raise ContractTermsError(f"{where}: corridors[{i}] needs 'from', 'to' and 'rate'")
        lower, upper = float(c["from"]), (float(c["to"]) if c.get("to") is not None else None)
        if upper is not None and upper <= lower:
            raise ContractTermsError(f"{where}: corridors[{i}] 'to' must be above 'from'")
        side = str(c.get("side", "savings"))
        if side not in ("savings", "losses"):
            raise ContractTermsError(f"{where}: corridors[{i}] 'side' must be savings or losses")
        same = [k for k in corridors if k.side == side]
        if not same and lower != 0:
            raise ContractTermsError(f"{where}: corridors[{i}] the first {side} band must start 'from: 0'")
        if same and same[-1].upper != lower:
            raise ContractTermsError(f"{where}: corridors[{i}] must start where the previous band ends")
        if same and same[-1].upper is None:
            raise ContractTermsError(f"{where}: corridors[{i}] follows an open-ended band")
        corridors.append(Corridor(lower, upper, float(_rate(c, "rate", f"{where}: corridors[{i}]")), side))

    measures = {}
    for mid, m in (doc.get("measures") or {}).items():
        if isinstance(m, (int, float)):
            m = {"target": m}
        if not isinstance(m, dict) or not isinstance(m.get("target"), (int, float)):
            raise ContractTermsError(f"{where}: measures.{mid} needs a numeric target")
        measures[str(mid)] = MeasureTerm(float(m["target"]), float(m.get("weight", 1.0)))

    a = doc.get("attribution") or {}
    try:
        attribution = AttributionSettings(
            int(a.get("window_months", 12)), str(a.get("mode", "retrospective"))
        )
    except ValueError as exc:
        raise ContractTermsError(f"{where}: attribution: {exc}") from None

    two_sided = doc.get("two_sided", False)
    if not isinstance(two_sided, bool):
        raise ContractTermsError(f"{where}: 'two_sided' must be true or false")
    return ContractTerms(
        contract_id=str(doc["contract_id"]),
        payer=str(doc["payer"]),
        provider_organization=str(doc["provider_organization"]),
        performance_year=year,
        benchmark=benchmark,
        minimum_savings_rate=_rate(doc, "minimum_savings_rate", where, allow_mssp=True),
        minimum_loss_rate=_rate(doc, "minimum_loss_rate", where, allow_mssp=True, required=two_sided) or 0.0,
        shared_savings_rate=_rate(doc, "shared_savings_rate", where),
        shared_loss_rate=_rate(doc, "shared_loss_rate", where, required=two_sided) or 0.0,
        savings_cap=_rate(doc, "savings_cap", where, required=False),
        loss_cap=_rate(doc, "loss_cap", where, required=False),
        two_sided=two_sided,
        quality=quality,
        high_cost_cap=high_cost_cap,
        corridors=tuple(corridors),
        measures=measures,
        attribution=attribution,
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
