"""Extract files: which file holds which table, in which format, and how its columns are named.

A data directory holds, per contract table, one file `<table>.<ext>` or one folder `<table>/` of
parts. Parquet (`.parquet`) and delimited text with a header row (`.csv`, `.csv.gz`, `.txt`,
`.psv`, `.tsv`, also gzipped) are read by DuckDB; a delimited file's delimiter and quoting are
detected unless `columns.yaml` declares them. One table's parts must share a family (all Parquet or
all delimited): a mix is refused naming the files, since the two would be typed differently.
Every other file in the directory is listed as not read, so nothing is skipped silently.

`columns.yaml` maps extracts whose names differ from the contract (Tuva's earlier `patient_id`):

    medical_claim:
      patient_id: person_id          # extract column -> contract column
      ms_drg_code: drg_code
    eligibility:
      plan: {value: Medicare FFS}    # a constant for a contract column the extract lacks
    read:
      medical_claim: {delimiter: "|"}

Mistakes are refused with the file and the key path (`columns.yaml: medical_claim.patient_idd`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vbc.contract import TABLES

PARQUET = "parquet"
DELIMITED = "delimited"
EXTENSIONS = {
    ".parquet": PARQUET,
    ".csv": DELIMITED,
    ".csv.gz": DELIMITED,
    ".txt": DELIMITED,
    ".txt.gz": DELIMITED,
    ".psv": DELIMITED,
    ".psv.gz": DELIMITED,
    ".tsv": DELIMITED,
    ".tsv.gz": DELIMITED,
}
MAPPING_FILE = "columns.yaml"
# What else may sit in a data directory without being an extract.
NOT_EXTRACTS = {".vbc", "contracts", MAPPING_FILE, "_demo.json", "change_points.yaml"}
READ_KEYS = ("delimiter", "quote")


class MappingError(ValueError):
    """columns.yaml is malformed or names something that does not exist."""


def _extension(path: Path) -> str | None:
    name = path.name.lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    return None


def _stem(path: Path) -> str:
    ext = _extension(path)
    return path.name[: -len(ext)] if ext else path.name


@dataclass(frozen=True)
class TableFiles:
    table: str
    files: tuple[Path, ...]
    format: str  # PARQUET or DELIMITED


@dataclass
class Discovery:
    tables: dict[str, TableFiles] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # table -> why it cannot be read
    unread: list[Path] = field(default_factory=list)  # files that are no table's

    def files(self) -> list[tuple[str, Path]]:
        """(table, file) for every file that is read, in a stable order (for fingerprints)."""
        return [(t, f) for t, tf in sorted(self.tables.items()) for f in tf.files]


def _candidates(data_dir: Path, table: str) -> list[Path]:
    single = [p for p in data_dir.iterdir() if p.is_file() and _stem(p) == table and _extension(p)]
    folder = data_dir / table
    parts = []
    if folder.is_dir():
        parts = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return sorted(single) + sorted(parts)


def discover(data_dir: Path) -> Discovery:
    """Which files hold which contract table; mixed formats and unread files are reported."""
    data_dir = Path(data_dir)
    found = Discovery()
    if not data_dir.is_dir():
        return found
    used: set[Path] = set()
    for table in TABLES:
        files = _candidates(data_dir, table)
        used.update(files)
        readable = [f for f in files if _extension(f)]
        found.unread += [f for f in files if not _extension(f)]
        if not readable:
            continue
        formats = {EXTENSIONS[_extension(f)] for f in readable}
        if len(formats) > 1:
            by_kind = {k: [f.name for f in readable if EXTENSIONS[_extension(f)] == k] for k in formats}
            found.problems[table] = (
                "parts in more than one format: "
                + "; ".join(
                    f"{k}: {', '.join(v[:3])}{'…' if len(v) > 3 else ''}" for k, v in sorted(by_kind.items())
                )
                + ". Deliver one table in one format (all Parquet or all delimited text)."
            )
            continue
        found.tables[table] = TableFiles(table, tuple(readable), formats.pop())
    for p in sorted(data_dir.rglob("*")):
        rel = p.relative_to(data_dir)
        if p.is_dir() or rel.parts[0] in NOT_EXTRACTS or p.name.startswith(".") or p in used:
            continue
        found.unread.append(p)
    return found


def table_files(data_dir: Path, table: str) -> list[Path]:
    """The files read for `table` (empty when it has none or its formats are mixed)."""
    found = discover(data_dir).tables.get(table)
    return list(found.files) if found else []


# ---------------------------------------------------------------------------------------- mapping
@dataclass(frozen=True)
class TableMapping:
    renames: dict[str, str] = field(default_factory=dict)  # extract column -> contract column
    constants: dict[str, object] = field(default_factory=dict)  # contract column -> value
    read: dict[str, str] = field(default_factory=dict)  # delimiter / quote for delimited files

    def source_of(self, column: str) -> str | None:
        """The extract column that feeds contract `column` through a rename, if any."""
        for src, dst in self.renames.items():
            if dst == column:
                return src
        return None


def _fail(key: str, problem: str) -> MappingError:
    return MappingError(f"{MAPPING_FILE}: {key}: {problem}")


def _table_mapping(table: str, doc) -> TableMapping:
    if not isinstance(doc, dict):
        raise _fail(table, "expected a mapping of extract column -> contract column")
    contract = TABLES[table]
    names = set(contract.column_names)
    renames, constants = {}, {}
    for key, value in doc.items():
        where = f"{table}.{key}"
        if isinstance(value, dict):
            if set(value) != {"value"}:
                raise _fail(where, "a constant is written {value: ...}")
            if key not in names:
                raise _fail(where, f"'{key}' is not a column of {table}; columns: {', '.join(sorted(names))}")
            if value["value"] is None or isinstance(value["value"], (dict, list)):
                raise _fail(where, "a constant must be a single value")
            constants[key] = value["value"]
        elif isinstance(value, str):
            if value not in names:
                raise _fail(
                    where, f"'{value}' is not a column of {table}; columns: {', '.join(sorted(names))}"
                )
            renames[str(key)] = value
        else:
            raise _fail(where, "map an extract column to a contract column name, or give {value: ...}")
    targets = list(renames.values()) + list(constants)
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        raise _fail(table, f"more than one source for {', '.join(dup)}")
    return TableMapping(renames, constants)


def _read_options(doc) -> dict[str, dict]:
    if not isinstance(doc, dict):
        raise _fail("read", "expected a mapping of table -> {delimiter, quote}")
    out = {}
    for table, opts in doc.items():
        if table not in TABLES:
            raise _fail(f"read.{table}", f"unknown table; tables: {', '.join(TABLES)}")
        if not isinstance(opts, dict):
            raise _fail(f"read.{table}", "expected {delimiter: ..., quote: ...}")
        for k, v in opts.items():
            if k not in READ_KEYS:
                raise _fail(f"read.{table}.{k}", f"unknown key; known: {', '.join(READ_KEYS)}")
            if not isinstance(v, str) or len(v) != 1:
                raise _fail(f"read.{table}.{k}", "must be one character")
        out[table] = {str(k): v for k, v in opts.items()}
    return out


def load_mapping(data_dir: Path) -> dict[str, TableMapping]:
    """The column mapping of a data directory (empty when there is no columns.yaml)."""
    path = Path(data_dir) / MAPPING_FILE
    if not path.is_file():
        return {}
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise MappingError(f"{MAPPING_FILE}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise MappingError(f"{MAPPING_FILE}: expected a mapping of tables")
    read = _read_options(doc.get("read") or {})
    out = {}
    for table, entry in doc.items():
        if table == "read":
            continue
        if table not in TABLES:
            raise _fail(str(table), f"unknown table; tables: {', '.join(TABLES)}")
        out[table] = _table_mapping(table, entry or {})
    for table, opts in read.items():
        m = out.get(table, TableMapping())
        out[table] = TableMapping(m.renames, m.constants, opts)
    return out
