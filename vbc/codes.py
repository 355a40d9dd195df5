"""Codes as extracts carry them, in one canonical form per code system.

Payers send the same code many ways: revenue centre 450 as an integer instead of '0450', place of
service 1 instead of '01', ICD-10 with or without the dot, lower case, padded with spaces, NDCs with
dashes in 4-4-2 / 5-3-2 / 5-4-1 layout or as integers that lost their leading zeros. Every code
column is normalized on its way into the marts by one SQL macro per code system (defined here,
created on the staging connection), and value-set codes go through the same macro, so a code
matches whatever form the extract used. `normalize` runs a macro from Python (value sets, tests),
so there is exactly one definition of each rule.

Canonical forms: ICD-10-CM and ICD-10-PCS upper case without dot or spaces; CPT/HCPCS upper case,
five characters (an all-digit code that lost leading zeros is padded); NDC 11 digits (HIPAA
5-4-2); revenue centre 4 digits; place of service 2; bill type 3 (a leading 0 of a 4-digit form
dropped); discharge status 2; MS-DRG 3; NPI 10; TIN 9; LOINC trimmed, upper case.
`VALID` holds the pattern a canonical code of each system matches, for the validation report.
"""

from __future__ import annotations

from functools import cache

import duckdb

# Digits-only text of a value that may have arrived as a number ("450", "450.0", " 450 ").
_DIGITS = "regexp_replace(regexp_replace(trim(CAST(x AS VARCHAR)), '\\.0+$', ''), '[^0-9]', '', 'g')"


def _pad(width: int) -> str:
    """Left-pad an all-digit value to `width`; anything else is kept as sent (trimmed): it is not a
    code of the system and the validation report says so."""
    return (
        f"CASE WHEN x IS NULL OR trim(CAST(x AS VARCHAR)) = '' THEN NULL "
        f"WHEN regexp_full_match(regexp_replace(trim(CAST(x AS VARCHAR)), '\\.0+$', ''), '[0-9]+') "
        f"AND length({_DIGITS}) <= {width} THEN lpad({_DIGITS}, {width}, '0') "
        f"ELSE trim(CAST(x AS VARCHAR)) END"
    )


_TEXT = "nullif(upper(regexp_replace(trim(CAST(x AS VARCHAR)), '[\\s.]', '', 'g')), '')"

# The NDC rule needs the dashed layout to know where the missing zero goes.
_NDC = """CASE
    WHEN x IS NULL OR trim(CAST(x AS VARCHAR)) = '' THEN NULL
    WHEN regexp_full_match(trim(CAST(x AS VARCHAR)), '[0-9]{4}-[0-9]{4}-[0-9]{2}')
        THEN '0' || replace(trim(CAST(x AS VARCHAR)), '-', '')
    WHEN regexp_full_match(trim(CAST(x AS VARCHAR)), '[0-9]{5}-[0-9]{3}-[0-9]{2}')
        THEN split_part(trim(CAST(x AS VARCHAR)), '-', 1) || '0' || split_part(trim(CAST(x AS VARCHAR)), '-', 2)
             || split_part(trim(CAST(x AS VARCHAR)), '-', 3)
    WHEN regexp_full_match(trim(CAST(x AS VARCHAR)), '[0-9]{5}-[0-9]{4}-[0-9]{1}')
        THEN split_part(trim(CAST(x AS VARCHAR)), '-', 1) || split_part(trim(CAST(x AS VARCHAR)), '-', 2)
             || '0' || split_part(trim(CAST(x AS VARCHAR)), '-', 3)
    WHEN regexp_full_match(trim(CAST(x AS VARCHAR)), '[0-9]{5}-[0-9]{4}-[0-9]{2}')
        THEN replace(trim(CAST(x AS VARCHAR)), '-', '')
    WHEN regexp_full_match(regexp_replace(trim(CAST(x AS VARCHAR)), '\\.0+$', ''), '[0-9]{1,9}')
        THEN lpad(regexp_replace(trim(CAST(x AS VARCHAR)), '\\.0+$', ''), 11, '0')
    ELSE trim(CAST(x AS VARCHAR)) END"""

_BILL_TYPE = f"""CASE
    WHEN x IS NULL OR trim(CAST(x AS VARCHAR)) = '' THEN NULL
    WHEN length({_DIGITS}) = 4 AND starts_with({_DIGITS}, '0') THEN substr({_DIGITS}, 2)
    WHEN regexp_full_match(regexp_replace(trim(CAST(x AS VARCHAR)), '\\.0+$', ''), '[0-9]+') THEN {_DIGITS}
    ELSE trim(CAST(x AS VARCHAR)) END"""

_HCPCS = f"""CASE
    WHEN x IS NULL OR trim(CAST(x AS VARCHAR)) = '' THEN NULL
    WHEN regexp_full_match(regexp_replace(trim(CAST(x AS VARCHAR)), '\\.0+$', ''), '[0-9]{{1,5}}')
        THEN lpad({_DIGITS}, 5, '0')
    ELSE upper(regexp_replace(trim(CAST(x AS VARCHAR)), '\\s', '', 'g')) END"""

_TIN = f"""CASE
    WHEN x IS NULL OR trim(CAST(x AS VARCHAR)) = '' THEN NULL
    WHEN regexp_full_match(regexp_replace(trim(CAST(x AS VARCHAR)), '\\.0+$', ''), '[0-9]{{1,9}}|[0-9]{{2}}-[0-9]{{7}}')
        THEN lpad({_DIGITS}, 9, '0')
    ELSE trim(CAST(x AS VARCHAR)) END"""

# system -> (macro name, SQL expression over x, valid-code pattern, label)
SYSTEMS: dict[str, tuple[str, str, str, str]] = {
    "icd10cm": ("code_icd10cm", _TEXT, r"[A-Z][0-9][0-9A-Z]{1,5}", "ICD-10-CM diagnosis codes"),
    "icd10pcs": ("code_icd10pcs", _TEXT, r"[0-9A-HJ-NP-Z]{7}", "ICD-10-PCS procedure codes"),
    "hcpcs": ("code_hcpcs", _HCPCS, r"[0-9A-Z][0-9]{3}[0-9A-Z]|[A-Z][0-9]{4}", "CPT/HCPCS codes"),
    "ndc": ("code_ndc", _NDC, r"[0-9]{11}", "11-digit NDCs"),
    "loinc": (
        "code_loinc",
        "nullif(upper(trim(CAST(x AS VARCHAR))), '')",
        r"[0-9]{1,7}-[0-9]",
        "LOINC codes",
    ),
    "revenue": ("code_revenue", _pad(4), r"[0-9]{4}", "4-digit revenue centre codes"),
    "pos": ("code_pos", _pad(2), r"[0-9]{2}", "2-digit place of service codes"),
    "bill_type": ("code_bill_type", _BILL_TYPE, r"[0-9]{3}", "3-digit type of bill codes"),
    "disposition": ("code_disposition", _pad(2), r"[0-9]{2}", "2-digit discharge status codes"),
    "drg": ("code_drg", _pad(3), r"[0-9]{3}", "3-digit MS-DRGs"),
    "npi": ("code_npi", _pad(10), r"[0-9]{10}", "10-digit NPIs"),
    "tin": ("code_tin", _TIN, r"[0-9]{9}", "9-digit TINs"),
}
# CPT is written like HCPCS level I: one rule for both.
SYSTEMS["cpt"] = ("code_cpt", _HCPCS, SYSTEMS["hcpcs"][2], "CPT codes")
VALID = {system: pattern for system, (_, _, pattern, _) in SYSTEMS.items()}
LABELS = {system: label for system, (_, _, _, label) in SYSTEMS.items()}


def macro(system: str) -> str:
    """The name of the SQL macro normalizing `system` (created by `create_macros`)."""
    return SYSTEMS[system][0]


def create_macros(con: duckdb.DuckDBPyConnection, temporary: bool = True) -> None:
    """Create every normalization macro on `con` (temporary by default: a staging connection's, not
    part of the build it writes)."""
    kind = "TEMP MACRO" if temporary else "MACRO"
    for name, expr, _, _ in SYSTEMS.values():
        con.execute(f"CREATE OR REPLACE {kind} {name}(x) AS ({expr})")


def normalized_sql(system: str, column_sql: str) -> str:
    """SQL normalizing the expression `column_sql` (a quoted contract column, never user text)."""
    return f"{macro(system)}({column_sql})"


@cache
def _connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    create_macros(con, temporary=False)  # cursors share the database, not temporary objects
    return con


def normalize(system: str, values: list) -> list[str | None]:
    """Python access to the same rule: canonical codes for `values` (None for empty ones)."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown code system '{system}'; known: {', '.join(sorted(SYSTEMS))}")
    cur = _connection().cursor()
    rows = cur.execute(
        f"SELECT {macro(system)}(v) FROM unnest(CAST($v AS VARCHAR[])) WITH ORDINALITY AS t(v, i) ORDER BY i",
        {"v": [None if v is None else str(v) for v in values]},
    ).fetchall()
    return [r[0] for r in rows]


def is_valid(system: str, code: str | None) -> bool:
    import re

    return code is not None and re.fullmatch(VALID[system], code) is not None
