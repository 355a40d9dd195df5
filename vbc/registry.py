"""Metric definitions: one YAML file per metric under metrics/, validated at start-up.

A definition is data an analyst can read: what it measures, what it adapts, the SQL that yields
person-level rows (person_id, payer, year_month, numerator, denominator), its value sets, target
and version history. A bad file fails loudly, naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import duckdb
import yaml

from vbc.valuesets import VALUE_SET_DIR, ValueSetError, all_value_sets

METRIC_DIR = Path(__file__).resolve().parent.parent / "metrics"
DOMAINS = ("quality", "cost", "utilization")
KINDS = ("proportion", "per_1000", "pmpm", "ratio")
DIRECTIONS = ("higher", "lower")
REQUIRED = ("id", "name", "version", "domain", "kind", "direction", "description", "source", "sql")
ROW_COLUMNS = ("person_id", "payer", "year_month", "numerator", "denominator")
PARAMETERS = ("period_start", "period_end")
_VALUE_SET_REF = re.compile(r"value_set\s*=\s*'([A-Za-z0-9_]+)'")
_PARAM_REF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class MetricDefinitionError(ValueError):
    pass


@dataclass(frozen=True)
class Metric:
    id: str
    name: str
    version: int
    domain: str
    kind: str
    direction: str
    description: str
    source: dict
    sql: str
    value_sets: tuple[str, ...] = ()
    target: float | None = None
    unit: str = ""
    numerator_label: str = "Numerator"
    denominator_label: str = "Denominator"
    history: tuple[dict, ...] = ()
    path: Path | None = None
    text: str = field(default="", repr=False)
    # Variants and definition constants (see load_registry): `variant_of` names the base metric,
    # `constants` are the numbers substituted for {{name}} in the SQL, `options` any other keys
    # (e.g. trend, care_gap) that pages and engines may read.
    variant_of: str | None = None
    constants: dict = field(default_factory=dict, repr=False, compare=False, hash=False)
    options: dict = field(default_factory=dict, repr=False, compare=False, hash=False)
    sql_template: str = field(default="", repr=False)

    @property
    def parameters(self) -> list[str]:
        return sorted(set(_PARAM_REF.findall(self.sql)))


def _fail(path: Path, problem: str) -> MetricDefinitionError:
    return MetricDefinitionError(f"metric definition {path.name}: {problem}")


_CONSTANT_REF = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Keys a variant may not override: identity and lineage stay the variant's own.
_VARIANT_OWN = ("id", "variant_of", "overrides")


def _read_doc(path: Path) -> tuple[dict, str]:
    text = path.read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML ({exc})") from exc
    if not isinstance(doc, dict):
        raise _fail(path, "expected a mapping of fields")
    return doc, text


def merge_variant(path: Path, doc: dict, base_doc: dict) -> dict:
    """A variant is the base definition with a few fields overridden.

    `overrides` replaces top-level fields; `constants` inside it are merged key by key with the
    base's constants (so a variant can change one age bound and keep the rest).
    """
    overrides = doc.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise _fail(path, "overrides must be a mapping of fields to replace")
    bad = [k for k in overrides if k in _VARIANT_OWN]
    if bad:
        raise _fail(path, f"overrides may not change {', '.join(bad)}")
    merged = {k: v for k, v in base_doc.items() if k not in ("history",)}
    for key, value in overrides.items():
        if key == "constants":
            if not isinstance(value, dict):
                raise _fail(path, "overrides.constants must be a mapping")
            unknown = set(value) - set(base_doc.get("constants") or {})
            if unknown:
                raise _fail(
                    path,
                    f"overrides.constants names constant(s) the base does not have: "
                    f"{', '.join(sorted(unknown))}",
                )
            merged["constants"] = {**(base_doc.get("constants") or {}), **value}
        else:
            merged[key] = value
    for key, value in doc.items():
        if key != "overrides":
            merged[key] = value
    return merged


def _substitute(path: Path, sql: str, constants: dict) -> str:
    """Replace {{name}} in the SQL with the definition's numeric constants (numbers only, so a
    definition file can never paste text into SQL)."""
    for name, value in constants.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, f"constant '{name}' must be a number (got {value!r})")
    missing = sorted(set(_CONSTANT_REF.findall(sql)) - set(constants))
    if missing:
        raise _fail(path, f"SQL uses constant(s) not defined under constants: {', '.join(missing)}")
    return _CONSTANT_REF.sub(lambda m: repr(constants[m.group(1)]), sql)


def parse_metric(path: Path, value_set_names: set[str], doc: dict | None = None) -> Metric:
    if doc is None:
        doc, text = _read_doc(path)
    else:
        text = path.read_text()
    if not isinstance(doc.get("constants") or {}, dict):
        raise _fail(path, "constants must be a mapping of names to numbers")
    constants = dict(doc.get("constants") or {})
    if isinstance(doc.get("sql"), str):
        doc = {**doc, "sql_template": doc["sql"], "sql": _substitute(path, doc["sql"], constants)}
    missing = [k for k in REQUIRED if not doc.get(k) and doc.get(k) != 0]
    if missing:
        raise _fail(path, f"missing required field(s): {', '.join(missing)}")
    if doc["id"] != path.stem:
        raise _fail(path, f"id '{doc['id']}' must match the file name '{path.stem}'")
    for key, allowed in (("domain", DOMAINS), ("kind", KINDS), ("direction", DIRECTIONS)):
        if doc[key] not in allowed:
            raise _fail(path, f"{key} '{doc[key]}' is not one of {', '.join(allowed)}")
    if not isinstance(doc["version"], int) or doc["version"] < 1:
        raise _fail(path, "version must be a whole number ≥ 1")
    source = doc["source"]
    if not isinstance(source, dict) or not source.get("specification"):
        raise _fail(path, "source must name the specification it adapts (source.specification)")
    declared = tuple(doc.get("value_sets") or ())
    for name in declared:
        if name not in value_set_names:
            raise _fail(path, f"value set '{name}' does not exist in metrics/value_sets/")
    for name in _VALUE_SET_REF.findall(doc["sql"]):
        if name not in declared:
            raise _fail(path, f"SQL uses value set '{name}' which is not listed under value_sets")
    unknown = set(_PARAM_REF.findall(doc["sql"])) - set(PARAMETERS)
    if unknown:
        raise _fail(
            path,
            f"SQL uses unknown parameter(s) {', '.join('$' + u for u in sorted(unknown))}; "
            f"allowed: {', '.join('$' + p for p in PARAMETERS)}",
        )
    target = doc.get("target")
    if target is not None and not isinstance(target, (int, float)):
        raise _fail(path, "target must be a number or empty")
    history = tuple(doc.get("history") or ())
    if history and max(int(h.get("version", 0)) for h in history) != doc["version"]:
        raise _fail(path, "history must have an entry for the current version")
    return Metric(
        id=doc["id"],
        name=doc["name"],
        version=doc["version"],
        domain=doc["domain"],
        kind=doc["kind"],
        direction=doc["direction"],
        description=str(doc["description"]).strip(),
        source=source,
        sql=doc["sql"],
        value_sets=declared,
        target=float(target) if target is not None else None,
        unit=doc.get("unit", ""),
        numerator_label=doc.get("numerator_label", "Numerator"),
        denominator_label=doc.get("denominator_label", "Denominator"),
        history=history,
        path=path,
        text=text,
        variant_of=doc.get("variant_of"),
        constants=constants,
        options={k: v for k, v in doc.items() if k in ("trend", "care_gap", "evidence_label")},
        sql_template=doc.get("sql_template", doc["sql"]),
    )


@lru_cache(maxsize=1)
def _schema_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory database with every mart present and empty, to check SQL against."""
    from vbc.contract import TABLES
    from vbc.marts import build_marts
    from vbc.validate import _empty_table

    con = duckdb.connect()
    for table in TABLES.values():
        _empty_table(con, table)
    build_marts(con)
    con.execute("CREATE TABLE value_sets (value_set VARCHAR, code VARCHAR, code_system VARCHAR)")
    return con


def check_sql(metric: Metric) -> None:
    """Bind the metric's SQL against empty marts: unknown tables or columns fail here."""
    con = _schema_connection().cursor()
    params = {p: date(2000, 1, 1) for p in metric.parameters}
    try:
        cols = [d[0] for d in con.execute(f"SELECT * FROM ({metric.sql}) LIMIT 0", params).description]
    except duckdb.Error as exc:
        raise _fail(metric.path, f"SQL does not run against the marts: {str(exc).splitlines()[0]}") from exc
    missing = [c for c in ROW_COLUMNS if c not in cols]
    if missing:
        raise _fail(
            metric.path, f"SQL must return columns {', '.join(ROW_COLUMNS)}; missing {', '.join(missing)}"
        )


@dataclass(frozen=True)
class Registry:
    metrics: dict[str, Metric]
    fingerprint: str

    def get(self, metric_id: str) -> Metric:
        if metric_id not in self.metrics:
            raise KeyError(f"unknown metric '{metric_id}'; known: {', '.join(sorted(self.metrics))}")
        return self.metrics[metric_id]

    def __iter__(self):
        return iter(self.metrics.values())


def load_registry(
    metric_dir: Path = METRIC_DIR, value_set_dir: Path = VALUE_SET_DIR, check: bool = True
) -> Registry:
    """Parse and validate every definition; raise MetricDefinitionError naming the bad file."""
    try:
        value_sets = all_value_sets(value_set_dir)
    except ValueSetError as exc:
        raise MetricDefinitionError(f"value set {exc}") from exc
    metrics: dict[str, Metric] = {}
    h = hashlib.sha256()
    paths = sorted(Path(metric_dir).glob("*.yaml"))
    docs = {p: _read_doc(p)[0] for p in paths}
    by_id = {d.get("id"): d for d in docs.values() if not d.get("variant_of")}
    for path in paths:
        doc = docs[path]
        if doc.get("variant_of"):
            base = by_id.get(doc["variant_of"])
            if base is None:
                raise _fail(
                    path,
                    f"variant_of '{doc['variant_of']}' is not a metric definition "
                    "(a variant's base must exist and not itself be a variant)",
                )
            doc = merge_variant(path, doc, base)
        metric = parse_metric(path, set(value_sets), doc)
        if check:
            check_sql(metric)
        metrics[metric.id] = metric
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    for vs in value_sets.values():
        h.update(vs.path.name.encode() + b"\0" + vs.path.read_bytes())
    if not metrics:
        raise MetricDefinitionError(f"no metric definitions found in {metric_dir}")
    return Registry(metrics, h.hexdigest())


def render_definition(metric: Metric) -> list[str]:
    """A definition as the lines both parties compare: the fields that shape the number, the
    constants, and the SQL as it runs (constants substituted)."""
    import textwrap

    lines = [
        f"id: {metric.id}",
        f"name: {metric.name}",
        f"version: {metric.version}",
        f"direction: {metric.direction} is better",
        f"unit: {metric.unit}",
        f"numerator: {metric.numerator_label}",
        f"denominator: {metric.denominator_label}",
        f"target: {metric.target}",
    ]
    lines += ["description:"] + ["  " + x for x in textwrap.wrap(metric.description, 64)]
    if metric.constants:
        lines += ["constants:"] + [f"  {k}: {v}" for k, v in metric.constants.items()]
    lines += ["sql:"] + ["  " + x for x in metric.sql.rstrip().splitlines()]
    return lines
