"""Reversals and adjustments: claim lines netted before any number is computed from them.

Payer feeds correct a paid claim by sending more lines for it: a negative line that reverses an
earlier one (same claim and line number), a corrected line, or a new claim that names the claim it
replaces (`original_claim_id`, where the extract carries it). The rule:

1. A claim that another claim replaces is dropped with its lines; if the replacing claim is itself
   a cancellation (it nets to zero or less), both are dropped.
2. The lines of a claim and line number are netted: paid and allowed dollars (and a fill's
   quantity and days supply) are summed; the other fields come from the first positive line (the
   original service), its paid date included, so the dollars count when they were first paid.
3. A line that nets to zero dollars is no service and is dropped; a claim whose lines all net to
   zero was fully reversed and counts as no service at all (no visit, admission or measure event).
4. A line that nets below zero is a reversal whose original is not in the extract (paid before it
   starts, or cut by a sample): it is kept out of every total and listed in `reversal_orphans`,
   which Data health shows with its claim ids and dollars, as a warning. It never stops a build.

Repeated lines that all have positive amounts are not a correction: validation refuses them as
duplicates (they would count dollars twice).
"""

from __future__ import annotations

import duckdb

from vbc.contract import TABLES

# Per table: the amounts netted by summing; everything else is taken from the original line.
SUMMED = {
    "medical_claim": ("paid_amount", "allowed_amount"),
    "pharmacy_claim": ("paid_amount", "allowed_amount", "quantity", "days_supply"),
}
KEY = ("claim_id", "claim_line_number")


def _q(name: str) -> str:
    return '"' + name + '"'


def has_corrections(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True when some claim line is negative or some claim names one it replaces."""
    return bool(
        con.execute(
            f"SELECT count(*) FROM {_q(table)} WHERE paid_amount < 0 OR coalesce(allowed_amount, 0) < 0 "
            "OR original_claim_id IS NOT NULL"
        ).fetchall()[0][0]
    )


def _replaced_sql(table: str) -> str:
    """Claims to drop: each replaced original, and a cancelling replacement with its original."""
    return f"""
        WITH nets AS (
            SELECT claim_id, any_value(original_claim_id) AS original, sum(paid_amount) AS net
            FROM {_q(table)} GROUP BY claim_id
        )
        SELECT original AS claim_id FROM nets WHERE original IS NOT NULL
        UNION
        SELECT claim_id FROM nets WHERE original IS NOT NULL AND net <= 0
    """


def net(con: duckdb.DuckDBPyConnection, table: str) -> dict:
    """Replace staged `table` by its netted lines; record orphans in `reversal_orphans`.

    Returns what was done, for the build's facts and Data health."""
    columns = TABLES[table].column_names
    summed = SUMMED[table]
    keep = [c for c in columns if c not in summed]
    firsts = ", ".join(
        f"arg_min_null({_q(c)}, (paid_amount <= 0, paid_date, rowid)) AS {_q(c)}"
        for c in keep
        if c not in KEY
    )
    sums = ", ".join(f"sum({_q(c)}) AS {_q(c)}" for c in summed)
    before = con.execute(
        f"SELECT count(*), coalesce(sum(paid_amount) FILTER (WHERE paid_amount < 0), 0) FROM {_q(table)}"
    ).fetchall()[0]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _replaced AS {_replaced_sql(table)}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _netted AS
        SELECT claim_id, claim_line_number, {firsts}, {sums}
        FROM (SELECT rowid, * FROM {_q(table)}) t
        WHERE claim_id NOT IN (SELECT claim_id FROM _replaced)
        GROUP BY claim_id, claim_line_number
    """)
    con.execute(f"""
        INSERT INTO reversal_orphans
        SELECT '{table}', claim_id, claim_line_number, person_id, payer, paid_amount
        FROM _netted WHERE paid_amount < 0
    """)
    cols = ", ".join(_q(c) for c in columns)
    # Zero-dollar lines were reversed in full; negative ones are orphans (listed above).
    kind = (
        "TEMP TABLE"
        if con.execute(
            f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{table}' AND temporary"
        ).fetchall()[0][0]
        else "TABLE"
    )
    con.execute(f"""
        CREATE OR REPLACE {kind} {_q(table)} AS
        SELECT {cols} FROM _netted
        WHERE paid_amount > 0 OR (paid_amount = 0 AND coalesce(allowed_amount, 0) > 0)
    """)
    after, orphans, orphan_dollars, replaced = con.execute(f"""
        SELECT (SELECT count(*) FROM {_q(table)}),
               (SELECT count(*) FROM reversal_orphans WHERE source = '{table}'),
               (SELECT coalesce(sum(paid_amount), 0) FROM reversal_orphans WHERE source = '{table}'),
               (SELECT count(*) FROM _replaced)
    """).fetchall()[0]
    con.execute("DROP TABLE _netted")
    con.execute("DROP TABLE _replaced")
    return {
        "lines_delivered": int(before[0]),
        "lines_after_netting": int(after),
        "reversed_dollars": float(before[1]),
        "orphan_lines": int(orphans),
        "orphan_dollars": float(orphan_dollars),
        "claims_replaced": int(replaced),
    }


def create_orphans_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE OR REPLACE TABLE reversal_orphans (
            source VARCHAR, claim_id VARCHAR, claim_line_number BIGINT, person_id VARCHAR,
            payer VARCHAR, paid_amount DOUBLE)
    """)
