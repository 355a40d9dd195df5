"""Load extracts into typed tables and check them against the data contract.

Each contract table is read from its files (vbc/extracts.py: Parquet or delimited text, renamed
through columns.yaml), typed as the contract says, its code columns put in canonical form
(vbc/codes.py), checked (vbc/checks.py) and its claim corrections netted (vbc/reversals.py). Every
problem is a Finding naming the table, the column and how many rows; errors stop the build (the
last good build keeps serving), warnings are kept for the Data health page.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from vbc import checks, codes, reversals
from vbc.contract import DATE, DUCKDB_TYPE, INTEGER, NUMBER, STRING, TABLES, Column, Table
from vbc.extracts import DELIMITED, PARQUET, MappingError, TableFiles, TableMapping, discover, load_mapping
from vbc.findings import ERROR, INFO, WARNING, Finding, Report, plural, quote

__all__ = ["ERROR", "INFO", "WARNING", "Finding", "Report", "stage_and_validate", "validate"]

STAGED_IN_TEMP = ("medical_claim",)
COMPUTED_WHEN_ABSENT = {
    "provider_attribution": "not supplied; attribution is computed from claims",
    "risk_score": "not supplied; risk scores are computed from diagnosis codes where needed",
}
LOWERCASE = ("claim_type", "gender", "normalized_code_type")
FORMAT_NAMES = {PARQUET: "Parquet", DELIMITED: "delimited text"}  # enumerations compared in lower case


def _family(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith(("VARCHAR", "STRING", "TEXT")):
        return STRING
    if t.startswith(("DATE", "TIMESTAMP")):
        return DATE
    if t in (
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
    ):
        return INTEGER
    if t.startswith(("DECIMAL", "DOUBLE", "FLOAT", "REAL")):
        return NUMBER
    return t


def _cast_expr(col: Column, have: str, source: str) -> str:
    """SQL turning raw column `source` into contract column `col`; failures become NULL and are
    counted by _conversion_errors."""
    q = quote(source)
    if col.code_system:
        # Codes typed as numbers or written another way: the canonical form (vbc/codes.py).
        return codes.normalized_sql(col.code_system, q)
    target = DUCKDB_TYPE[col.type]
    if col.type == STRING:
        text = f"nullif(trim({q}), '')" if have == STRING else f"CAST({q} AS VARCHAR)"
        return f"lower({text})" if col.name in LOWERCASE else text
    if have == STRING:
        return f"TRY_CAST(nullif(trim({q}), '') AS {target})"
    if col.type == INTEGER and have == NUMBER:
        return f"TRY_CAST({q} AS {target})"
    return f"CAST({q} AS {target})"


def _compatible(col: Column, have: str) -> bool:
    if col.code_system or col.type == STRING:
        return have in (STRING, INTEGER, NUMBER) if col.code_system else have in (STRING, INTEGER)
    if col.type == DATE:
        return have in (DATE, STRING)
    return have in (INTEGER, NUMBER, STRING)


def empty_table(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    cols = ", ".join(f"{quote(c.name)} {DUCKDB_TYPE[c.type]}" for c in table.columns)
    con.execute(f"CREATE OR REPLACE TABLE {quote(table.name)} ({cols})")


def _read_raw(con: duckdb.DuckDBPyConnection, tf: TableFiles, mapping: TableMapping) -> None:
    """A view `raw_<table>` over the files, in the files' own column names and types (delimited
    text is read as text; the contract types it below)."""
    files = [str(f) for f in tf.files]
    if tf.format == DELIMITED:
        opts = {"header": True, "all_varchar": True, "union_by_name": True}
        if "delimiter" in mapping.read:
            opts["sep"] = mapping.read["delimiter"]
        if "quote" in mapping.read:
            opts["quotechar"] = mapping.read["quote"]
        rel = con.read_csv(files, **opts)
    else:
        rel = con.read_parquet(files, union_by_name=True)
    # A view can't take bound parameters, so the relation API names the files.
    rel.create_view("raw_" + tf.table, replace=True)


def _sources(table: Table, raw_cols: dict, mapping: TableMapping, report: Report) -> dict[str, str] | None:
    """Contract column -> raw column feeding it, after columns.yaml's renames."""
    out, ok = {}, True
    for src, dst in mapping.renames.items():
        if src not in raw_cols:
            report.add(
                ERROR,
                table.name,
                dst,
                0,
                f"columns.yaml maps '{src}' to {dst}, but the extract has no column '{src}'",
                check="mapping",
            )
            ok = False
        elif dst in raw_cols and dst != src:
            report.add(
                ERROR,
                table.name,
                dst,
                0,
                f"columns.yaml maps '{src}' to {dst}, but the extract also has a column '{dst}'",
                check="mapping",
            )
            ok = False
    for col in table.columns:
        src = mapping.source_of(col.name) or (col.name if col.name not in mapping.constants else None)
        if src and src in raw_cols:
            out[col.name] = src
    return out if ok else None


def _column_select(
    table: Table, raw_cols: dict, sources: dict, mapping: TableMapping, n_rows: int, report: Report
) -> tuple[list[str], dict, bool]:
    """SELECT items typing every contract column, the bound constants, and whether it is usable."""
    select, params, usable = [], {}, True
    for col in table.columns:
        name = quote(col.name)
        if col.name in mapping.constants:
            params[f"const_{col.name}"] = str(mapping.constants[col.name])
            cast = f"TRY_CAST($const_{col.name} AS {DUCKDB_TYPE[col.type]})"
            select.append(
                f"{codes.normalized_sql(col.code_system, cast) if col.code_system else cast} AS {name}"
            )
            continue
        if col.name not in sources:
            if col.required:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    n_rows,
                    f"required column is missing (all {plural(n_rows)})",
                    check="missing_column",
                )
                usable = False
            select.append(f"CAST(NULL AS {DUCKDB_TYPE[col.type]}) AS {name}")
            continue
        have = _family(raw_cols[sources[col.name]])
        if not _compatible(col, have):
            report.add(
                ERROR,
                table.name,
                col.name,
                n_rows,
                f"has type {raw_cols[sources[col.name]]}, expected {col.type} (all {plural(n_rows)})",
                check="wrong_type",
            )
            usable = False
            continue
        select.append(f"{_cast_expr(col, have, sources[col.name])} AS {name}")
    return select, params, usable


def _conversion_errors(con, table: Table, raw_cols: dict, sources: dict, report: Report) -> bool:
    """Values that fail to convert (e.g. 'abc' in a date column) are an error, not silent NULLs."""
    ok = True
    raw = quote("raw_" + table.name)
    for col in table.columns:
        src = sources.get(col.name)
        if src is None or col.type == STRING:
            continue
        q, have = quote(src), _family(raw_cols[src])
        if have == STRING:
            bad, example = con.execute(
                f"SELECT count(*), any_value({q}) FROM {raw} WHERE nullif(trim({q}), '') IS NOT NULL "
                f"AND TRY_CAST(trim({q}) AS {DUCKDB_TYPE[col.type]}) IS NULL"
            ).fetchall()[0]
            if bad:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    bad,
                    f"{plural(bad)} are not valid {col.type}s (e.g. {example!r})",
                    check="wrong_type",
                )
                ok = False
        elif col.type == INTEGER and have == NUMBER:
            bad = con.execute(
                f"SELECT count(*) FROM {raw} WHERE {q} IS NOT NULL AND {q} <> round({q})"
            ).fetchall()[0][0]
            if bad:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    bad,
                    f"{plural(bad)} hold fractions where whole numbers are expected",
                    check="wrong_type",
                )
                ok = False
    return ok


def _absent(con, table: Table, report: Report, data_dir: Path) -> bool:
    if table.required:
        report.add(
            ERROR,
            table.name,
            None,
            0,
            f"table is missing: expected {table.name}.parquet, {table.name}.csv (or .csv.gz, .txt, .psv) "
            f"or a folder {table.name}/ of such files in {data_dir}",
            check="missing_table",
        )
        return False
    report.add(
        INFO if table.name in COMPUTED_WHEN_ABSENT else WARNING,
        table.name,
        None,
        0,
        COMPUTED_WHEN_ABSENT.get(table.name, "optional table not supplied; treated as empty"),
        check="missing_table",
    )
    empty_table(con, table)
    return True


def stage_table(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    tf: TableFiles | None,
    mapping: TableMapping,
    report: Report,
    data_dir: Path,
) -> dict | None:
    """Create typed table `table.name` in `con` from its files. Returns which raw column fed each
    contract column ({} for an absent optional table), or None when the table cannot be used."""
    if tf is None:
        return {} if _absent(con, table, report, data_dir) else None
    try:
        _read_raw(con, tf, mapping)
        raw = quote("raw_" + table.name)
        raw_cols = {r[0]: r[1] for r in con.execute(f"DESCRIBE {raw}").fetchall()}
        n_rows = con.execute(f"SELECT count(*) FROM {raw}").fetchall()[0][0]
    except duckdb.Error as exc:
        names = ", ".join(f.name for f in tf.files[:3]) + ("…" if len(tf.files) > 3 else "")
        report.add(
            ERROR,
            table.name,
            None,
            0,
            f"cannot read {FORMAT_NAMES[tf.format]} file(s) {names}: {str(exc).splitlines()[0]}",
            check="unreadable",
        )
        return None
    sources = _sources(table, raw_cols, mapping, report)
    if sources is None:
        return None
    select, params, usable = _column_select(table, raw_cols, sources, mapping, n_rows, report)
    if not usable or not _conversion_errors(con, table, raw_cols, sources, report):
        return None
    # The claim lines are rebuilt, enriched, into the mart; staging them in temp space keeps a
    # single copy in the mart file.
    kind = "TEMP TABLE" if table.name in STAGED_IN_TEMP else "TABLE"
    con.execute(
        f"CREATE OR REPLACE {kind} {quote(table.name)} AS SELECT {', '.join(select)} FROM {raw}", params
    )
    return sources


def _net_corrections(con, staged: dict, report: Report) -> dict:
    """Net reversal and adjustment lines (vbc/reversals.py) once the claim tables are clean."""
    reversals.create_orphans_table(con)
    facts = {}
    for name in checks.CLAIM_TABLES:
        if staged.get(name) is None or not reversals.has_corrections(con, name):
            continue
        facts[name] = done = reversals.net(con, name)
        report.add(
            INFO,
            name,
            "paid_amount",
            done["lines_delivered"] - done["lines_after_netting"],
            f"reversals and adjustments netted: {plural(done['lines_delivered'])} delivered, "
            f"{plural(done['lines_after_netting'])} after netting; ${-done['reversed_dollars']:,.2f} reversed"
            + (
                f"; {done['claims_replaced']:,} claim(s) replaced by later ones"
                if done["claims_replaced"]
                else ""
            ),
            done["reversed_dollars"],
            check="netted",
        )
        if done["orphan_lines"]:
            report.add(
                WARNING,
                name,
                "paid_amount",
                done["orphan_lines"],
                f"{plural(done['orphan_lines'], 'reversal line')} (${-done['orphan_dollars']:,.2f}) "
                "reverse claims that are not in the extract (paid before it starts?); they are left "
                "out of every total and listed on the Data health page",
                done["orphan_dollars"],
                check="orphan_reversal",
            )
    return facts


def _discovered(data_dir: Path, report: Report) -> tuple[dict, dict] | None:
    found = discover(data_dir)
    try:
        mapping = load_mapping(data_dir)
    except MappingError as exc:
        report.add(ERROR, "(columns.yaml)", None, 0, str(exc), check="mapping")
        return None
    for table, problem in found.problems.items():
        report.add(ERROR, table, None, 0, problem, check="mixed_formats")
    for f in found.unread:
        report.add(
            WARNING,
            "(data directory)",
            None,
            0,
            f"file not read: {f.relative_to(data_dir)} (not a table of the contract, or not Parquet or "
            "delimited text); rename it to <table>.<ext> if it should be",
            check="unread_file",
        )
    return found.tables, mapping


def stage_and_validate(con: duckdb.DuckDBPyConnection, data_dir: Path, today: date | None = None) -> Report:
    """Stage every contract table into `con`, check it and net its corrections.

    The report's `facts` (what was netted, which optional columns are empty) go to the build."""
    today = today or date.today()
    report = Report()
    if not data_dir.is_dir():
        report.add(
            ERROR,
            "(data directory)",
            None,
            0,
            f"{data_dir} does not exist or is not a folder",
            check="missing_table",
        )
        return report
    discovered = _discovered(data_dir, report)
    if discovered is None:
        return report
    tables, mapping = discovered
    codes.create_macros(con)
    staged = {}
    for name, table in TABLES.items():
        if name in {f.table for f in report.errors if f.check == "mixed_formats"}:
            staged[name] = None
            continue
        staged[name] = stage_table(
            con, table, tables.get(name), mapping.get(name, TableMapping()), report, data_dir
        )
    off = {}
    for name, sources in staged.items():
        if sources is not None:
            checks.check_rows(con, TABLES[name], report, today)
            checks.check_codes(con, TABLES[name], report, sources)
            off |= checks.check_empty_optional(con, TABLES[name], report)
    if report.ok:
        report.facts["netted"] = _net_corrections(con, staged, report)
    report.facts["turned_off"] = off
    if all(staged.get(t) is not None for t in ("eligibility", "medical_claim", "pharmacy_claim", "provider")):
        checks.check_links(con, report)
    return report


def validate(data_dir: Path, today: date | None = None) -> Report:
    """Validate an extract folder without building anything."""
    con = duckdb.connect()
    try:
        return stage_and_validate(con, Path(data_dir), today)
    finally:
        con.close()
