"""Load extracts into typed tables and check them against the data contract.

Every problem becomes a Finding that names the table, the column and how many rows; errors stop
the build (the last good build keeps serving), warnings are kept for the Data health page.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from vbc import codes
from vbc.contract import DATE, DUCKDB_TYPE, INTEGER, NUMBER, STRING, TABLES, Table, table_files

ERROR = "error"
WARNING = "warning"
INFO = "info"  # worth knowing, nothing wrong (e.g. an optional table that is computed when absent)

# A single claim line above this is almost certainly a unit or decimal-shift error in the extract.
ABSURD_LINE_AMOUNT = 5_000_000.0
EARLIEST_PLAUSIBLE = date(1900, 1, 1)
STAGED_IN_TEMP = ("medical_claim",)
COMPUTED_WHEN_ABSENT = {
    "provider_attribution": "not supplied; attribution is computed from claims",
    "risk_score": "not supplied; risk scores are computed from diagnosis codes where needed",
}


@dataclass
class Finding:
    severity: str
    table: str
    column: str | None
    rows: int
    message: str
    amount: float | None = None
    check: str = ""

    def text(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.severity.upper()}: {where}: {self.message}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def add(
        self,
        severity: str,
        table: str,
        column: str | None,
        rows: int,
        message: str,
        amount: float | None = None,
        check: str = "",
    ) -> None:
        self.findings.append(Finding(severity, table, column, int(rows), message, amount, check))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def infos(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == INFO]

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self) -> str:
        if not self.findings:
            return "No problems found."
        lines = [f.text() for f in self.errors + self.warnings]
        head = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        return "\n".join([head, *lines])

    def to_json(self) -> str:
        return json.dumps([asdict(f) for f in self.findings], indent=1)

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls([Finding(**f) for f in json.loads(text)])


def _plural(n: int, word: str = "row") -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _q(name: str) -> str:
    """Quote an identifier from the contract (never from user input)."""
    return '"' + name.replace('"', '""') + '"'


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


def _cast_expr(col: str, want: str, have: str) -> str:
    """SQL turning a raw column into its contract type; failures become NULL and are counted."""
    q = _q(col)
    target = DUCKDB_TYPE[want]
    if want == STRING:
        if have == STRING:
            return f"nullif(trim({q}), '')"
        return f"CAST({q} AS VARCHAR)"
    if want == DATE and have == STRING:
        return f"TRY_CAST(nullif(trim({q}), '') AS DATE)"
    if want == DATE:
        return f"CAST({q} AS DATE)"
    if have == STRING:
        return f"TRY_CAST(nullif(trim({q}), '') AS {target})"
    if want == INTEGER and have == NUMBER:
        return f"TRY_CAST({q} AS {target})"
    return f"CAST({q} AS {target})"


def _compatible(want: str, have: str) -> bool:
    if want == STRING:
        return have in (STRING, INTEGER)  # ids written as integers are fine as text
    if want == DATE:
        return have in (DATE, STRING)
    if want == INTEGER:
        return have in (INTEGER, NUMBER, STRING)
    if want == NUMBER:
        return have in (NUMBER, INTEGER, STRING)
    return False


def _empty_table(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    cols = ", ".join(f"{_q(c.name)} {DUCKDB_TYPE[c.type]}" for c in table.columns)
    con.execute(f"CREATE OR REPLACE TABLE {_q(table.name)} ({cols})")


def stage_table(con: duckdb.DuckDBPyConnection, data_dir: Path, table: Table, report: Report) -> bool:
    """Create typed table `table.name` in `con` from the extract; return False when unusable."""
    files = table_files(data_dir, table.name)
    if not files:
        if table.required:
            report.add(
                ERROR,
                table.name,
                None,
                0,
                f"table is missing: expected {table.name}.parquet or a folder {table.name}/ "
                f"of Parquet files in {data_dir}",
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
        _empty_table(con, table)
        return True
    try:
        # A view can't take bound parameters, so the relation API names the files.
        con.read_parquet([str(f) for f in files], union_by_name=True).create_view(
            "raw_" + table.name, replace=True
        )
        raw_cols = {r[0]: r[1] for r in con.execute(f"DESCRIBE {_q('raw_' + table.name)}").fetchall()}
        raw_rows = con.execute(f"SELECT count(*) FROM {_q('raw_' + table.name)}").fetchall()[0][0]
    except duckdb.Error as exc:
        names = ", ".join(f.name for f in files[:3])
        report.add(
            ERROR,
            table.name,
            None,
            0,
            f"cannot read Parquet ({names}{'…' if len(files) > 3 else ''}): {str(exc).splitlines()[0]}",
            check="unreadable",
        )
        return False

    usable = True
    select: list[str] = []
    for col in table.columns:
        if col.name not in raw_cols:
            if col.required:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    raw_rows,
                    f"required column is missing (all {_plural(raw_rows)})",
                    check="missing_column",
                )
                usable = False
            select.append(f"CAST(NULL AS {DUCKDB_TYPE[col.type]}) AS {_q(col.name)}")
            continue
        have = _family(raw_cols[col.name])
        if not _compatible(col.type, have) and not (col.code_system and have == NUMBER):
            report.add(
                ERROR,
                table.name,
                col.name,
                raw_rows,
                f"has type {raw_cols[col.name]}, expected {col.type} (all {_plural(raw_rows)})",
                check="wrong_type",
            )
            usable = False
            continue
        if col.code_system:
            # Codes typed as numbers or written another way: the canonical form (vbc/codes.py).
            select.append(f"{codes.normalized_sql(col.code_system, _q(col.name))} AS {_q(col.name)}")
        else:
            select.append(f"{_cast_expr(col.name, col.type, have)} AS {_q(col.name)}")
    if not usable:
        return False

    # Values that fail to convert (e.g. 'abc' in a date column) are an error, not silent NULLs.
    for col in table.columns:
        if col.name in raw_cols and _family(raw_cols[col.name]) == STRING and col.type != STRING:
            q = _q(col.name)
            bad, example = con.execute(
                f"SELECT count(*), any_value({q}) FROM {_q('raw_' + table.name)} "
                f"WHERE nullif(trim({q}), '') IS NOT NULL "
                f"AND TRY_CAST(trim({q}) AS {DUCKDB_TYPE[col.type]}) IS NULL"
            ).fetchall()[0]
            if bad:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    bad,
                    f"{_plural(bad)} are not valid {col.type}s (e.g. {example!r})",
                    check="wrong_type",
                )
                usable = False
        elif col.name in raw_cols and col.type == INTEGER and _family(raw_cols[col.name]) == NUMBER:
            q = _q(col.name)
            bad = con.execute(
                f"SELECT count(*) FROM {_q('raw_' + table.name)} WHERE {q} IS NOT NULL AND {q} <> round({q})"
            ).fetchall()[0][0]
            if bad:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    bad,
                    f"{_plural(bad)} hold fractions where whole numbers are expected",
                    check="wrong_type",
                )
                usable = False
    if not usable:
        return False
    # The claim lines are rebuilt, enriched, into the mart; staging them in temp space keeps a
    # single copy in the mart file.
    kind = "TEMP TABLE" if table.name in STAGED_IN_TEMP else "TABLE"
    con.execute(
        f"CREATE OR REPLACE {kind} {_q(table.name)} AS SELECT {', '.join(select)} "
        f"FROM {_q('raw_' + table.name)}"
    )
    return True


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> tuple[int, float]:
    row = con.execute(sql, params or {}).fetchall()[0]
    return int(row[0] or 0), float(row[1] or 0.0) if len(row) > 1 else 0.0


def check_rows(con: duckdb.DuckDBPyConnection, table: Table, report: Report, today: date) -> None:
    """Row-level checks on a staged table: nulls, duplicates, impossible dates and amounts."""
    t = _q(table.name)
    for col in table.columns:
        if not col.nullable:
            n, _ = _count(con, f"SELECT count(*) FROM {t} WHERE {_q(col.name)} IS NULL")
            if n:
                report.add(
                    ERROR, table.name, col.name, n, f"{_plural(n)} have no value (required)", check="null_key"
                )
    if table.key and table.name != "eligibility":
        keys = ", ".join(_q(k) for k in table.key)
        n, _ = _count(
            con,
            f"SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) c FROM {t} "
            f"GROUP BY {keys} HAVING count(*) > 1)",
        )
        if n:
            what = "duplicate claim lines" if "claim" in table.name else "duplicate rows"
            report.add(
                ERROR,
                table.name,
                ", ".join(table.key),
                n,
                f"{_plural(n)} are {what} (same {', '.join(table.key)}); "
                "they would count dollars or people twice",
                check="duplicate",
            )

    names = set(table.column_names)
    for col in table.columns:
        if col.type == NUMBER and col.name.endswith("_amount"):
            q = _q(col.name)
            n, amt = _count(con, f"SELECT count(*), sum({q}) FROM {t} WHERE {q} < 0")
            if n:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    n,
                    f"{_plural(n)} are negative (total ${amt:,.2f})",
                    amt,
                    check="negative_amount",
                )
            n, amt = _count(con, f"SELECT count(*), sum({q}) FROM {t} WHERE {q} > {ABSURD_LINE_AMOUNT}")
            if n:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    n,
                    f"{_plural(n)} exceed ${ABSURD_LINE_AMOUNT:,.0f} on a single line (total ${amt:,.2f})",
                    amt,
                    check="absurd_amount",
                )
        if col.type == DATE:
            q = _q(col.name)
            n, _ = _count(con, f"SELECT count(*) FROM {t} WHERE {q} < $d", {"d": EARLIEST_PLAUSIBLE})
            if n:
                report.add(
                    ERROR, table.name, col.name, n, f"{_plural(n)} are before 1900", check="impossible_date"
                )
            if col.name not in ("enrollment_end_date", "enrollment_start_date"):
                n, _ = _count(con, f"SELECT count(*) FROM {t} WHERE {q} > $today", {"today": today})
                if n:
                    report.add(
                        ERROR,
                        table.name,
                        col.name,
                        n,
                        f"{_plural(n)} are in the future (after {today.isoformat()})",
                        check="future_date",
                    )
    for col in ("quantity", "days_supply"):
        if col in names:
            n, _ = _count(con, f"SELECT count(*) FROM {t} WHERE {_q(col)} < 0")
            if n:
                report.add(ERROR, table.name, col, n, f"{_plural(n)} are negative", check="negative_amount")

    if table.name == "provider_attribution":
        n, _ = _count(
            con,
            f"""SELECT count(*) FROM {t} WHERE NOT regexp_full_match(year_month, '[0-9]{{4}}(0[1-9]|1[0-2])')""",
        )
        if n:
            report.add(
                ERROR,
                table.name,
                "year_month",
                n,
                f"{_plural(n)} are not months written YYYYMM",
                check="wrong_type",
            )

    pairs = {
        "medical_claim": [
            ("claim_start_date", "claim_end_date"),
            ("admission_date", "discharge_date"),
            ("claim_start_date", "paid_date"),
        ],
        "pharmacy_claim": [("dispensing_date", "paid_date")],
        "eligibility": [
            ("enrollment_start_date", "enrollment_end_date"),
            ("birth_date", "death_date"),
            ("birth_date", "enrollment_start_date"),
        ],
    }
    for first, second in pairs.get(table.name, []):
        n, amt = _count(
            con,
            "SELECT count(*), "
            + ("sum(paid_amount)" if "claim" in table.name else "0")
            + f" FROM {t} WHERE {_q(first)} > {_q(second)}",
        )
        if n:
            msg = f"{_plural(n)} have {first} after {second}" + (
                " (service after payment)" if second == "paid_date" else ""
            )
            report.add(ERROR, table.name, first, n, msg, amt or None, check="date_order")


def check_links(con: duckdb.DuckDBPyConnection, report: Report) -> None:
    """Checks across tables: claims with no member month, unknown providers."""
    for table, date_col in (("medical_claim", "claim_start_date"), ("pharmacy_claim", "dispensing_date")):
        n, amt = _count(
            con,
            f"""
            SELECT count(*), sum(c.paid_amount) FROM {table} c
            WHERE NOT EXISTS (
                SELECT 1 FROM eligibility e
                WHERE e.person_id = c.person_id AND e.payer = c.payer
                  AND date_trunc('month', c.{date_col}) BETWEEN date_trunc('month', e.enrollment_start_date)
                      AND date_trunc('month', least(e.enrollment_end_date, coalesce(e.death_date, e.enrollment_end_date))))
        """,
        )
        if n:
            report.add(
                WARNING,
                table,
                "person_id",
                n,
                f"{_plural(n, 'claim line')} (${amt:,.2f} paid) fall in a month with no "
                "eligibility for that person and payer; they are not in any PMPM and are "
                "listed on the Data health page",
                amt,
                check="no_member_month",
            )
    n, _ = _count(
        con,
        """
        SELECT count(DISTINCT rendering_npi) FROM medical_claim
        WHERE claim_type = 'professional' AND rendering_npi IS NOT NULL
          AND rendering_npi NOT IN (SELECT npi FROM provider)""",
    )
    if n:
        report.add(
            WARNING,
            "medical_claim",
            "rendering_npi",
            n,
            f"{_plural(n, 'rendering NPI')} on professional claims are not in the provider "
            "roster; their visits cannot count toward attribution",
            check="unknown_npi",
        )
    n, _ = _count(
        con, "SELECT count(*) FROM medical_claim WHERE claim_type NOT IN ('institutional', 'professional')"
    )
    if n:
        report.add(
            ERROR,
            "medical_claim",
            "claim_type",
            n,
            f"{_plural(n)} have a claim_type other than institutional or professional",
            check="bad_code",
        )
    n, _ = _count(
        con,
        """SELECT count(*) FROM (SELECT person_id FROM eligibility
                          GROUP BY person_id HAVING count(DISTINCT birth_date) > 1)""",
    )
    if n:
        report.add(
            WARNING,
            "eligibility",
            "birth_date",
            n,
            f"{_plural(n, 'person')} have more than one birth_date; the latest span's is used",
            check="inconsistent",
        )


def stage_and_validate(con: duckdb.DuckDBPyConnection, data_dir: Path, today: date | None = None) -> Report:
    """Stage every contract table into `con` and run all checks."""
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
    codes.create_macros(con)
    staged = {name: stage_table(con, data_dir, table, report) for name, table in TABLES.items()}
    for name, ok in staged.items():
        if ok:
            check_rows(con, TABLES[name], report, today)
    if all(staged[t] for t in ("eligibility", "medical_claim", "pharmacy_claim", "provider")):
        check_links(con, report)
    return report


def validate(data_dir: Path, today: date | None = None) -> Report:
    """Validate an extract folder without building anything."""
    con = duckdb.connect()
    try:
        return stage_and_validate(con, Path(data_dir), today)
    finally:
        con.close()
