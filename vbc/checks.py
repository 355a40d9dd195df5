"""Checks on staged tables: every problem becomes a Finding naming the table, the column and how
many rows, with the dollars involved where there are any.

Errors stop the build (the last good build keeps serving); warnings go to the Data health page and
the validation report; infos say something worth knowing that is not wrong.
"""

from __future__ import annotations

from datetime import date

import duckdb

from vbc import codes
from vbc.contract import DATE, NUMBER, Table
from vbc.findings import ERROR, INFO, WARNING, Report, plural, quote

# A single claim line above this is almost certainly a unit or decimal-shift error in the extract.
ABSURD_LINE_AMOUNT = 5_000_000.0
EARLIEST_PLAUSIBLE = date(1900, 1, 1)
# A code column where fewer than this share of values look like codes of its system is a warning.
MOSTLY_VALID = 0.5
CLAIM_TABLES = ("medical_claim", "pharmacy_claim")
# Optional columns whose absence turns something off (said in a warning when empty everywhere).
NEEDED_FOR = {
    ("medical_claim", "paid_date"): "claims run-out completion and the incomplete-month marking",
    ("pharmacy_claim", "paid_date"): "claims run-out completion of pharmacy dollars",
    (
        "medical_claim",
        "allowed_amount",
    ): "allowed-dollar PMPM (total_allowed_pmpm); attribution uses paid dollars",
    (
        "medical_claim",
        "discharge_disposition_code",
    ): "transfers and discharges home in the discharge measures",
}
DATE_ORDER = {
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


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> tuple[int, float]:
    row = con.execute(sql, params or {}).fetchall()[0]
    return int(row[0] or 0), float(row[1] or 0.0) if len(row) > 1 else 0.0


def check_nulls(con, table: Table, report: Report) -> None:
    for col in table.columns:
        if not col.nullable:
            n, _ = _count(con, f"SELECT count(*) FROM {quote(table.name)} WHERE {quote(col.name)} IS NULL")
            if n:
                report.add(
                    ERROR, table.name, col.name, n, f"{plural(n)} have no value (required)", check="null_key"
                )


def check_duplicates(con, table: Table, report: Report) -> None:
    """Repeated keys are an error, except on claim tables where a repeated line that includes a
    negative amount is a correction (vbc/reversals.py nets it)."""
    if not table.key or table.name == "eligibility":
        return
    keys = ", ".join(quote(k) for k in table.key)
    correction = "HAVING count(*) > 1"
    if table.name in CLAIM_TABLES:
        correction += " AND min(paid_amount) >= 0 AND min(coalesce(allowed_amount, 0)) >= 0"
    n, amt = _count(
        con,
        "SELECT coalesce(sum(c - 1), 0), sum(extra) FROM (SELECT count(*) c, "
        + ("sum(paid_amount) - max(paid_amount)" if table.name in CLAIM_TABLES else "0")
        + f" AS extra FROM {quote(table.name)} GROUP BY {keys} {correction})",
    )
    if n:
        what = "duplicate claim lines" if "claim" in table.name else "duplicate rows"
        report.add(
            ERROR,
            table.name,
            ", ".join(table.key),
            n,
            f"{plural(n)} are {what} (same {', '.join(table.key)}, none negative); "
            "they would count dollars or people twice",
            amt or None,
            check="duplicate",
        )


def check_amounts(con, table: Table, report: Report) -> None:
    t = quote(table.name)
    for col in table.columns:
        if col.type != NUMBER or not col.name.endswith("_amount"):
            continue
        q = quote(col.name)
        if table.name not in CLAIM_TABLES:  # claim lines may be negative: reversals
            n, amt = _count(con, f"SELECT count(*), sum({q}) FROM {t} WHERE {q} < 0")
            if n:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    n,
                    f"{plural(n)} are negative (total ${amt:,.2f})",
                    amt,
                    check="negative_amount",
                )
        n, amt = _count(con, f"SELECT count(*), sum({q}) FROM {t} WHERE abs({q}) > {ABSURD_LINE_AMOUNT}")
        if n:
            report.add(
                ERROR,
                table.name,
                col.name,
                n,
                f"{plural(n)} exceed ${ABSURD_LINE_AMOUNT:,.0f} on a single line (total ${amt:,.2f})",
                amt,
                check="absurd_amount",
            )


def check_dates(con, table: Table, report: Report, today: date) -> None:
    t = quote(table.name)
    for col in table.columns:
        if col.type != DATE:
            continue
        q = quote(col.name)
        n, _ = _count(con, f"SELECT count(*) FROM {t} WHERE {q} < $d", {"d": EARLIEST_PLAUSIBLE})
        if n:
            report.add(
                ERROR, table.name, col.name, n, f"{plural(n)} are before 1900", check="impossible_date"
            )
        if col.name not in ("enrollment_end_date", "enrollment_start_date"):
            n, _ = _count(con, f"SELECT count(*) FROM {t} WHERE {q} > $today", {"today": today})
            if n:
                report.add(
                    ERROR,
                    table.name,
                    col.name,
                    n,
                    f"{plural(n)} are in the future (after {today.isoformat()})",
                    check="future_date",
                )
    for first, second in DATE_ORDER.get(table.name, []):
        n, amt = _count(
            con,
            "SELECT count(*), "
            + ("sum(paid_amount)" if "claim" in table.name else "0")
            + f" FROM {t} WHERE {quote(first)} > {quote(second)}",
        )
        if n:
            msg = f"{plural(n)} have {first} after {second}" + (
                " (service after payment)" if second == "paid_date" else ""
            )
            report.add(ERROR, table.name, first, n, msg, amt or None, check="date_order")


def check_counts_and_months(con, table: Table, report: Report) -> None:
    t = quote(table.name)
    names = set(table.column_names)
    for col in ("quantity", "days_supply"):
        if col in names and table.name not in CLAIM_TABLES:
            n, _ = _count(con, f"SELECT count(*) FROM {t} WHERE {quote(col)} < 0")
            if n:
                report.add(ERROR, table.name, col, n, f"{plural(n)} are negative", check="negative_amount")
    if table.name == "provider_attribution":
        n, _ = _count(
            con,
            f"SELECT count(*) FROM {t} WHERE NOT regexp_full_match(year_month, '[0-9]{{4}}(0[1-9]|1[0-2])')",
        )
        if n:
            report.add(
                ERROR,
                table.name,
                "year_month",
                n,
                f"{plural(n)} are not months written YYYYMM",
                check="wrong_type",
            )


def check_rows(con: duckdb.DuckDBPyConnection, table: Table, report: Report, today: date) -> None:
    """Row-level checks on a staged table: nulls, duplicates, impossible dates and amounts."""
    check_nulls(con, table, report)
    check_duplicates(con, table, report)
    check_amounts(con, table, report)
    check_dates(con, table, report, today)
    check_counts_and_months(con, table, report)


def check_codes(con, table: Table, report: Report, sources: dict[str, str]) -> None:
    """For every code column: the share of values that look like codes of its system (an info),
    and a warning with examples as sent when most do not (a column of codes that are not codes).
    `sources` names the raw column (view raw_<table>) each contract column was read from."""
    raw = quote("raw_" + table.name)
    for col in table.columns:
        if not col.code_system or col.name not in sources:
            continue
        q, pattern = quote(col.name), codes.VALID[col.code_system]
        total, bad = con.execute(
            f"SELECT count({q}), count({q}) FILTER (WHERE NOT regexp_full_match({q}, $p)) FROM {quote(table.name)}",
            {"p": pattern},
        ).fetchall()[0]
        if not total or not bad:
            continue
        src = quote(sources[col.name])
        examples = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT CAST({src} AS VARCHAR) FROM {raw} "
                f"WHERE NOT regexp_full_match({codes.normalized_sql(col.code_system, src)}, $p) LIMIT 3",
                {"p": pattern},
            ).fetchall()
        ]
        share = 1 - bad / total
        msg = (
            f"{share:.0%} of {plural(total, 'value')} look like {codes.LABELS[col.code_system]}; {plural(bad)} do "
            f"not (e.g. {', '.join(repr(e) for e in examples)})"
        )
        severity = WARNING if share < MOSTLY_VALID else INFO
        if severity == WARNING:
            msg += ": most of this column is not codes of its kind, so what it should count will not be found"
        report.add(severity, table.name, col.name, bad, msg, check="code_format")


def check_empty_optional(con, table: Table, report: Report) -> dict:
    """Optional columns that are empty in every row: what they turn off is said once."""
    off = {}
    for (name, column), what in NEEDED_FOR.items():
        if name != table.name:
            continue
        n, _ = _count(con, f"SELECT count({quote(column)}) FROM {quote(name)}")
        rows, _ = _count(con, f"SELECT count(*) FROM {quote(name)}")
        if rows and not n:
            report.add(
                WARNING,
                name,
                column,
                rows,
                f"empty in all {plural(rows)}: {what} cannot be computed (shown raw or not at all)",
                check="empty_column",
            )
            off[f"{name}.{column}"] = what
    return off


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
                f"{plural(n, 'claim line')} (${amt:,.2f} paid) fall in a month with no "
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
            f"{plural(n, 'rendering NPI')} on professional claims are not in the provider "
            "roster; their visits cannot count toward attribution",
            check="unknown_npi",
        )
    n, _ = _count(
        con,
        "SELECT count(*) FROM medical_claim WHERE claim_type NOT IN ('institutional', 'professional')",
    )
    if n:
        report.add(
            ERROR,
            "medical_claim",
            "claim_type",
            n,
            f"{plural(n)} have a claim_type other than institutional or professional",
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
            f"{plural(n, 'person')} have more than one birth_date; the latest span's is used",
            check="inconsistent",
        )
