"""Metric definitions: one YAML file per metric under metrics/, validated at start-up.

A definition is data an analyst can read: what it measures, what it adapts, the SQL that yields
person-level rows (person_id, payer, year_month, numerator, denominator), its value sets, target
and version history. A bad file fails loudly, naming the file and the problem.

Three kinds of file, one registry:
- a metric (`metrics/<id>.yaml`) with its own SQL;
- a variant (`variant_of: <id>` with `overrides:`), a contract's version of a metric;
- a completed metric (`completed_from: <pmpm id>`, optional `claims_category:`), the raw PMPM
  completed for claims run-out per incurred month (vbc/completion.py computes it; the engine
  dispatches on `completed_from`, so nothing imports its way around the registry).
Logic that several measures share (the hospice exclusion, age at a date, ...) is written once in
`metrics/shared/<name>.yaml` as a DuckDB macro; a metric that calls it gets its value sets and its
definition shown beside its own SQL, so a fix to an exclusion is one edit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import duckdb
import yaml

from vbc.valuesets import PUBLISHED_DIR_NAME, VALUE_SET_DIR, ValueSetError, all_value_sets

METRIC_DIR = Path(__file__).resolve().parent.parent / "metrics"
DOMAINS = ("quality", "cost", "utilization")
KINDS = ("proportion", "per_1000", "pmpm", "ratio")
DIRECTIONS = ("higher", "lower")
REQUIRED = ("id", "name", "version", "domain", "kind", "direction", "description", "source", "sql")
ROW_COLUMNS = ("person_id", "payer", "year_month", "numerator", "denominator")
PARAMETERS = ("period_start", "period_end")
# A measure evaluated over a table of periods (period_id, period_start, period_end) reads it under this
# name, directly or through a shared macro, and returns a period_id column: many periods, one query.
PERIODS_TABLE = "measure_periods"
SHARED_DIR_NAME = "shared"
# Pages whose metric lists come from the definitions' `display:` (page -> position on the page).
DISPLAY_PAGES = ("overview", "utilization", "quality")
# Keys every metric file may carry besides the fields of Metric.
OPTION_KEYS = ("trend", "care_gap", "evidence_label")
_VALUE_SET_REF = re.compile(r"value_set\s*=\s*'([A-Za-z0-9_]+)'")
# `value_set IN ('a', 'b')`: each name in the list is a reference too.
_VALUE_SET_LIST = re.compile(r"value_set\s+IN\s*\(((?:\s*'[A-Za-z0-9_]+'\s*,?)+)\)", re.IGNORECASE)
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
    # Completed for claims run-out: the raw PMPM it completes, and the service category whose lag
    # triangle completes it (None: every claim line).
    completed_from: str | None = None
    claims_category: str | None = None
    # Shared macros (metrics/shared/) the SQL calls, created on the connection before it runs.
    shared: tuple[SharedSql, ...] = field(default=(), repr=False, compare=False, hash=False)
    # Page -> position, for the pages that list metrics (DISPLAY_PAGES).
    display: dict = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def parameters(self) -> list[str]:
        return sorted(set(_PARAM_REF.findall(self.sql)))

    @property
    def periodic(self) -> bool:
        """Evaluated over a table of periods (PERIODS_TABLE) rather than one bound period."""
        return reads_periods(self.sql) or any(reads_periods(m.sql) for m in self.shared)


@dataclass(frozen=True)
class SharedSql:
    """A piece of measure logic written once: a DuckDB macro (`kind: table` returns rows,
    `kind: scalar` an expression) that measure SQL calls by name."""

    name: str
    kind: str
    parameters: tuple[str, ...]
    description: str
    source: str
    value_sets: tuple[str, ...]
    sql: str
    path: Path

    @property
    def create_sql(self) -> str:
        body = f"TABLE {self.sql}" if self.kind == "table" else f"({self.sql})"
        return f"CREATE OR REPLACE TEMP MACRO {self.name}({', '.join(self.parameters)}) AS {body}"

    def called_by(self, sql: str) -> bool:
        return re.search(rf"\b{re.escape(self.name)}\s*\(", sql) is not None


def reads_periods(sql: str) -> bool:
    return re.search(rf"\b{PERIODS_TABLE}\b", sql) is not None


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
    merged = {k: v for k, v in base_doc.items() if k not in ("history", "display")}
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


def with_constants(metric: Metric, overrides: dict) -> Metric:
    """The metric with some constants replaced and its SQL substituted again (a trend's monthly
    points read windows their own way: `trend.constants`)."""
    if not overrides:
        return metric
    constants = {**metric.constants, **overrides}
    sql = _substitute(metric.path or Path(metric.id), metric.sql_template, constants)
    return dataclasses.replace(metric, constants=constants, sql=sql)


def _check_trend_constants(path: Path, doc: dict, constants: dict) -> None:
    trend = doc.get("trend") or {}
    overrides = trend.get("constants") or {} if isinstance(trend, dict) else {}
    if not isinstance(overrides, dict):
        raise _fail(path, "trend.constants must be a mapping of constant names to numbers")
    unknown = sorted(set(overrides) - set(constants))
    if unknown:
        raise _fail(path, f"trend.constants names constant(s) not under constants: {', '.join(unknown)}")
    _substitute(path, "", overrides)  # numbers only


def _display(path: Path, doc: dict) -> dict:
    display = doc.get("display") or {}
    if not isinstance(display, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in display.values()
    ):
        raise _fail(path, "display must map page names to positions, e.g. {overview: 1}")
    unknown = sorted(set(display) - set(DISPLAY_PAGES))
    if unknown:
        raise _fail(
            path, f"display names unknown page(s) {', '.join(unknown)}; pages: {', '.join(DISPLAY_PAGES)}"
        )
    return dict(display)


def _check_fields(path: Path, doc: dict) -> None:
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
    target = doc.get("target")
    if target is not None and not isinstance(target, (int, float)):
        raise _fail(path, "target must be a number or empty")
    history = tuple(doc.get("history") or ())
    if history and max(int(h.get("version", 0)) for h in history) != doc["version"]:
        raise _fail(path, "history must have an entry for the current version")


def value_set_references(sql: str) -> list[str]:
    """Every value set the SQL names (`value_set = 'x'` or `value_set IN ('x', 'y')`)."""
    listed = [n for group in _VALUE_SET_LIST.findall(sql) for n in re.findall(r"'([A-Za-z0-9_]+)'", group)]
    return _VALUE_SET_REF.findall(sql) + listed


def _check_sql_references(
    path: Path,
    sql: str,
    declared: tuple[str, ...],
    value_set_names: set[str],
    inherited: tuple[str, ...] = (),
) -> None:
    for name in declared:
        if name not in value_set_names:
            raise _fail(path, f"value set '{name}' does not exist in metrics/value_sets/")
    for name in value_set_references(sql):
        if name not in declared and name not in inherited:
            raise _fail(path, f"SQL uses value set '{name}' which is not listed under value_sets")
    unknown = set(_PARAM_REF.findall(sql)) - set(PARAMETERS)
    if unknown:
        raise _fail(
            path,
            f"SQL uses unknown parameter(s) {', '.join('$' + u for u in sorted(unknown))}; "
            f"allowed: {', '.join('$' + p for p in PARAMETERS)}",
        )


def parse_metric(
    path: Path, value_set_names: set[str], doc: dict | None = None, shared: dict | None = None
) -> Metric:
    if doc is None:
        doc, text = _read_doc(path)
    else:
        text = path.read_text()
    if not isinstance(doc.get("constants") or {}, dict):
        raise _fail(path, "constants must be a mapping of names to numbers")
    constants = dict(doc.get("constants") or {})
    _check_trend_constants(path, doc, constants)
    if isinstance(doc.get("sql"), str):
        doc = {**doc, "sql_template": doc["sql"], "sql": _substitute(path, doc["sql"], constants)}
    _check_fields(path, doc)
    own = tuple(doc.get("value_sets") or ())
    used = shared_calls(doc["sql"], shared or {})
    _check_sql_references(
        path, doc["sql"], own, value_set_names, tuple(v for m in used for v in m.value_sets)
    )
    declared = own + tuple(v for m in used for v in m.value_sets if v not in own)
    target = doc.get("target")
    return Metric(
        id=doc["id"],
        name=doc["name"],
        version=doc["version"],
        domain=doc["domain"],
        kind=doc["kind"],
        direction=doc["direction"],
        description=str(doc["description"]).strip(),
        source=doc["source"],
        sql=doc["sql"],
        value_sets=tuple(dict.fromkeys(declared)),
        target=float(target) if target is not None else None,
        unit=doc.get("unit", ""),
        numerator_label=doc.get("numerator_label", "Numerator"),
        denominator_label=doc.get("denominator_label", "Denominator"),
        history=tuple(doc.get("history") or ()),
        path=path,
        text=text,
        variant_of=doc.get("variant_of"),
        constants=constants,
        options={k: v for k, v in doc.items() if k in OPTION_KEYS},
        sql_template=doc.get("sql_template", doc["sql"]),
        completed_from=doc.get("completed_from"),
        claims_category=doc.get("claims_category"),
        shared=used,
        display=_display(path, doc),
    )


_COMPLETED_OWN = ("id", "completed_from", "claims_category", "display", "history", "version")


def merge_completed(path: Path, doc: dict, base_doc: dict) -> dict:
    """A completed metric is its raw PMPM's definition, renamed, completed per incurred month."""
    from vbc.marts import SERVICE_CATEGORIES

    unknown = sorted(set(doc) - set(_COMPLETED_OWN))
    if unknown:
        raise _fail(
            path, f"a completed metric may only set {', '.join(_COMPLETED_OWN)}; got {', '.join(unknown)}"
        )
    if base_doc.get("kind") != "pmpm":
        raise _fail(path, f"completed_from '{doc['completed_from']}' must be a PMPM metric")
    category = doc.get("claims_category")
    if category is not None and category not in SERVICE_CATEGORIES:
        raise _fail(path, f"claims_category '{category}' is not one of {', '.join(SERVICE_CATEGORIES)}")
    merged = {k: v for k, v in base_doc.items() if k not in ("history", "display")}
    merged.update(doc)
    merged["name"] = f"{base_doc['name']}, completed for claims run-out"
    merged["description"] = (
        str(base_doc["description"]).strip() + " Completed: raw dollars divided by the chain-ladder "
        "completion factor of each incurred month; the interval is the completion range (±1.96 Mack "
        "standard errors), see vbc/completion.py."
    )
    return merged


def parse_shared(path: Path, value_set_names: set[str]) -> SharedSql:
    doc, _ = _read_doc(path)
    where = f"shared definition {path.name}"
    for key in ("name", "kind", "description", "source", "sql"):
        if not doc.get(key):
            raise MetricDefinitionError(f"{where}: missing required field '{key}'")
    if doc["name"] != path.stem or not re.fullmatch(r"[a-z_][a-z0-9_]*", doc["name"]):
        raise MetricDefinitionError(f"{where}: name must be the file name, in lower_case")
    if doc["kind"] not in ("table", "scalar"):
        raise MetricDefinitionError(f"{where}: kind must be table or scalar")
    params = tuple(doc.get("parameters") or ())
    if not all(isinstance(p, str) and re.fullmatch(r"[a-z_][a-z0-9_]*", p) for p in params):
        raise MetricDefinitionError(f"{where}: parameters must be lower_case names")
    if _PARAM_REF.search(doc["sql"]):
        raise MetricDefinitionError(f"{where}: use the parameters by name, not $name")
    declared = tuple(doc.get("value_sets") or ())
    missing = [name for name in declared if name not in value_set_names]
    if missing:
        raise MetricDefinitionError(
            f"{where}: value set '{missing[0]}' does not exist in metrics/value_sets/"
        )
    return SharedSql(
        name=doc["name"],
        kind=doc["kind"],
        parameters=params,
        description=str(doc["description"]).strip(),
        source=str(doc["source"]).strip(),
        value_sets=declared,
        sql=str(doc["sql"]).strip(),
        path=path,
    )


@lru_cache(maxsize=1)
def _schema_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory database with every mart present and empty, to check SQL against."""
    from vbc.contract import TABLES
    from vbc.marts import build_marts
    from vbc.serving import build_quality_events
    from vbc.validate import empty_table

    con = duckdb.connect()
    for table in TABLES.values():
        empty_table(con, table)
    build_marts(con)
    build_quality_events(con)
    con.execute("CREATE TABLE value_sets (value_set VARCHAR, code VARCHAR, code_system VARCHAR)")
    con.execute(f"CREATE TABLE {PERIODS_TABLE} (period_id INTEGER, period_start DATE, period_end DATE)")
    return con


def create_shared(con: duckdb.DuckDBPyConnection, metric: Metric) -> None:
    """Create the shared macros `metric` calls on `con` (temporary: they belong to the definitions,
    not to a build)."""
    for macro in metric.shared:
        con.execute(macro.create_sql)


def check_sql(metric: Metric) -> None:
    """Bind the metric's SQL against empty marts: unknown tables or columns fail here."""
    con = _schema_connection().cursor()
    params = {p: date(2000, 1, 1) for p in metric.parameters}
    try:
        create_shared(con, metric)
        cols = [d[0] for d in con.execute(f"SELECT * FROM ({metric.sql}) LIMIT 0", params).description]
    except duckdb.Error as exc:
        raise _fail(metric.path, f"SQL does not run against the marts: {str(exc).splitlines()[0]}") from exc
    missing = [c for c in ROW_COLUMNS + (("period_id",) if metric.periodic else ()) if c not in cols]
    if missing:
        raise _fail(
            metric.path, f"SQL must return columns {', '.join(ROW_COLUMNS)}; missing {', '.join(missing)}"
        )


@dataclass(frozen=True)
class Registry:
    metrics: dict[str, Metric]
    fingerprint: str
    shared: dict[str, SharedSql] = field(default_factory=dict)

    def get(self, metric_id: str) -> Metric:
        if metric_id not in self.metrics:
            raise KeyError(f"unknown metric '{metric_id}'; known: {', '.join(sorted(self.metrics))}")
        return self.metrics[metric_id]

    def __iter__(self):
        return iter(self.metrics.values())

    def completed_of(self, metric_id: str) -> Metric | None:
        """The metric completing `metric_id` for claims run-out, if the definitions declare one
        (a trend of dollars is drawn completed, never as a raw drop in its recent months)."""
        return next((m for m in self if m.completed_from == metric_id), None)

    def for_page(self, page: str) -> list[Metric]:
        """The metrics a page shows, in the order their definitions give (`display:`)."""
        shown = [m for m in self if page in m.display]
        return sorted(shown, key=lambda m: (m.display[page], m.id))


def _base_doc(path: Path, doc: dict, by_id: dict, key: str) -> dict:
    base = by_id.get(doc[key])
    if base is None:
        raise _fail(
            path,
            f"{key} '{doc[key]}' is not a metric definition "
            "(its base must exist and must not itself be a variant or a completed metric)",
        )
    return base


def load_shared(metric_dir: Path, value_set_names: set[str]) -> dict[str, SharedSql]:
    folder = Path(metric_dir) / SHARED_DIR_NAME
    shared = {p.stem: parse_shared(p, value_set_names) for p in sorted(folder.glob("*.yaml"))}
    for macro in shared.values():
        # A macro may use the value sets of the macros it calls (they come with them).
        inner = tuple(
            v for m in shared_calls(macro.sql, shared) if m.name != macro.name for v in m.value_sets
        )
        try:
            _check_sql_references(macro.path, macro.sql, macro.value_sets, value_set_names, inner)
        except MetricDefinitionError as exc:
            raise MetricDefinitionError(str(exc).replace("metric definition", "shared definition")) from None
    return shared


def shared_calls(sql: str, shared: dict[str, SharedSql]) -> tuple[SharedSql, ...]:
    """The shared macros `sql` calls, directly or through another macro, each after the macros it
    calls (the order they must be created in)."""
    order: list[SharedSql] = []

    def visit(text: str, seen: tuple[str, ...]) -> None:
        for macro in shared.values():
            if macro.name in seen or not macro.called_by(text):
                continue
            visit(macro.sql, seen + (macro.name,))
            if macro not in order:
                order.append(macro)

    visit(sql, ())
    return tuple(order)


def load_registry(
    metric_dir: Path = METRIC_DIR, value_set_dir: Path = VALUE_SET_DIR, check: bool = True
) -> Registry:
    """Parse and validate every definition; raise MetricDefinitionError naming the bad file."""
    try:
        value_sets = all_value_sets(value_set_dir)
    except ValueSetError as exc:
        raise MetricDefinitionError(f"value set {exc}") from exc
    shared = load_shared(metric_dir, set(value_sets))
    metrics: dict[str, Metric] = {}
    paths = sorted(Path(metric_dir).glob("*.yaml"))
    docs = {p: _read_doc(p)[0] for p in paths}
    by_id = {d.get("id"): d for d in docs.values() if not (d.get("variant_of") or d.get("completed_from"))}
    for path in paths:
        doc = docs[path]
        if doc.get("variant_of"):
            doc = merge_variant(path, doc, _base_doc(path, doc, by_id, "variant_of"))
        elif doc.get("completed_from"):
            doc = merge_completed(path, doc, _base_doc(path, doc, by_id, "completed_from"))
        metric = parse_metric(path, set(value_sets), doc, shared)
        if check:
            check_sql(metric)
        metrics[metric.id] = metric
    if not metrics:
        raise MetricDefinitionError(f"no metric definitions found in {metric_dir}")
    return Registry(metrics, definitions_fingerprint(metric_dir, value_set_dir), shared)


def definitions_fingerprint(metric_dir: Path = METRIC_DIR, value_set_dir: Path = VALUE_SET_DIR) -> str:
    """The registry's fingerprint from the files alone (names and bytes of every definition, shared
    definition, value set and published expansion), without parsing them: cheap enough to compare
    on every page view (vbc.workspace.Workspace.is_current)."""
    h = hashlib.sha256()
    for path in sorted(Path(metric_dir).glob("*.yaml")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    for path in sorted((Path(metric_dir) / SHARED_DIR_NAME).glob("*.yaml")):
        h.update(b"shared/" + path.name.encode() + b"\0" + path.read_bytes())
    for path in sorted(Path(value_set_dir).glob("*.yaml")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    for csv_path in sorted((Path(value_set_dir) / PUBLISHED_DIR_NAME).glob("*.csv")):
        h.update(b"published/" + csv_path.name.encode() + b"\0" + csv_path.read_bytes())
    return h.hexdigest()


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
    for macro in metric.shared:
        lines += [f"shared {macro.name}({', '.join(macro.parameters)}):"]
        lines += ["  " + x for x in macro.sql.splitlines()]
    return lines
