"""Attribution of members to a TIN and NPI, the way MSSP assignment works.

Step 1: the TIN with the plurality of allowed charges for primary care services billed by primary
care clinicians over the assignment window, then the NPI with the plurality within that TIN.
Step 2 (no step-1 services): the same over specialists. Ties go to the most recent service.
A payer-supplied provider_attribution extract, when present, replaces the computation.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

from vbc.valuesets import load_value_set

PRIMARY_CARE_SPECIALTIES = (
    "internal medicine", "family practice", "family medicine", "general practice",
    "geriatric medicine", "pediatric medicine", "nurse practitioner", "physician assistant",
    "clinical nurse specialist",
)
# Roster entries that bill as organizations, not clinicians; they never take step 2.
NON_CLINICIAN_SPECIALTIES = (
    "acute care hospital", "skilled nursing facility", "home health agency", "hospice",
    "dme supplier", "laboratory", "ambulance", "pharmacy",
)


@dataclass(frozen=True)
class AttributionSettings:
    window_months: int = 12  # 12 or 24
    mode: str = "retrospective"  # or "prospective"

    def __post_init__(self) -> None:
        if self.window_months not in (12, 24):
            raise ValueError("attribution window_months must be 12 or 24")
        if self.mode not in ("retrospective", "prospective"):
            raise ValueError("attribution mode must be 'retrospective' or 'prospective'")


def _window_bounds(settings: AttributionSettings) -> tuple[str, str]:
    """SQL expressions for the window of performance year `y` (an integer column)."""
    # Retrospective: the window ends with the performance year; prospective: it ends the day
    # before the year starts (assignment fixed at the start of the year).
    end_year = "y" if settings.mode == "retrospective" else "y - 1"
    start = f"make_date({end_year} - {settings.window_months // 12 - 1}, 1, 1)"
    end = f"make_date({end_year}, 12, 31)"
    return start, end


def build_attribution(con: duckdb.DuckDBPyConnection, settings: AttributionSettings) -> None:
    """Create table `attribution` (person_id, payer, year, tin, npi, organization, step, ...)."""
    codes = load_value_set("primary_care_services").codes
    con.execute("CREATE OR REPLACE TEMP TABLE pc_codes (code VARCHAR)")
    con.executemany("INSERT INTO pc_codes VALUES (?)", [[c] for c in codes])
    con.execute("CREATE OR REPLACE TEMP TABLE pc_specialties (specialty VARCHAR)")
    con.executemany("INSERT INTO pc_specialties VALUES (?)", [[s] for s in PRIMARY_CARE_SPECIALTIES])
    con.execute("CREATE OR REPLACE TEMP TABLE non_clinicians (specialty VARCHAR)")
    con.executemany("INSERT INTO non_clinicians VALUES (?)", [[s] for s in NON_CLINICIAN_SPECIALTIES])
    start, end = _window_bounds(settings)
    con.execute(f"""
    CREATE OR REPLACE TABLE attribution_services AS
    WITH years AS (
        SELECT DISTINCT payer, year(year_month) AS y FROM member_months
    ), lines AS (
        SELECT c.person_id, c.payer, c.claim_id, c.claim_line_number, c.claim_start_date,
               c.hcpcs_code, c.rendering_npi AS npi, p.tin, p.provider_organization AS organization,
               p.specialty, coalesce(c.allowed_amount, c.paid_amount) AS allowed,
               CASE WHEN lower(p.specialty) IN (SELECT specialty FROM pc_specialties) THEN 1 ELSE 2 END AS step
        FROM medical_claim c
        JOIN provider p ON p.npi = c.rendering_npi
        WHERE c.claim_type = 'professional'
          AND c.hcpcs_code IN (SELECT code FROM pc_codes)
          AND lower(coalesce(p.specialty, '')) NOT IN (SELECT specialty FROM non_clinicians)
          AND p.tin IS NOT NULL
    )
    SELECT y.y AS year, l.*
    FROM years y JOIN lines l
      ON l.payer = y.payer AND l.claim_start_date BETWEEN {start} AND {end}
    """)
    con.execute("""
    CREATE OR REPLACE TABLE attribution AS
    WITH best_step AS (
        SELECT year, person_id, payer, min(step) AS step FROM attribution_services GROUP BY ALL
    ), svc AS (
        SELECT s.* FROM attribution_services s JOIN best_step b USING (year, person_id, payer, step)
    ), by_tin AS (
        SELECT year, person_id, payer, step, tin, sum(allowed) AS tin_allowed,
               max(claim_start_date) AS tin_last, count(*) AS tin_services
        FROM svc GROUP BY ALL
    ), tin_pick AS (
        SELECT * FROM by_tin
        QUALIFY row_number() OVER (PARTITION BY year, person_id, payer
                                   ORDER BY tin_allowed DESC, tin_last DESC, tin) = 1
    ), by_npi AS (
        SELECT s.year, s.person_id, s.payer, s.tin, s.npi, any_value(s.organization) AS organization,
               sum(s.allowed) AS npi_allowed, max(s.claim_start_date) AS npi_last
        FROM svc s JOIN tin_pick t USING (year, person_id, payer, tin)
        GROUP BY ALL
    ), npi_pick AS (
        SELECT * FROM by_npi
        QUALIFY row_number() OVER (PARTITION BY year, person_id, payer
                                   ORDER BY npi_allowed DESC, npi_last DESC, npi) = 1
    )
    SELECT t.year, t.person_id, t.payer, t.step, t.tin, n.npi, n.organization,
           t.tin_allowed AS allowed, t.tin_services AS services, t.tin_last AS last_service_date,
           'computed' AS source
    FROM tin_pick t JOIN npi_pick n USING (year, person_id, payer)
    """)


def apply_payer_attribution(con: duckdb.DuckDBPyConnection) -> bool:
    """Use a supplied provider_attribution extract; return True when one was supplied."""
    n = con.execute("SELECT count(*) FROM provider_attribution").fetchall()[0][0]
    if not n:
        return False
    con.execute("""
    CREATE OR REPLACE TABLE attribution_monthly AS
    SELECT person_id, payer,
           make_date(CAST(substr(year_month, 1, 4) AS INTEGER), CAST(substr(year_month, 5, 2) AS INTEGER), 1)
               AS year_month,
           payer_attributed_provider_practice AS tin, payer_attributed_provider AS npi,
           coalesce(payer_attributed_provider_organization, p.provider_organization) AS organization
    FROM provider_attribution a LEFT JOIN provider p ON p.npi = a.payer_attributed_provider
    """)
    return True
