"""Marts built in DuckDB from the validated input tables.

Every table keeps its lineage columns (claim_id, claim_line_number, person_id) so any number can be
traced back to the extract rows behind it.
"""

from __future__ import annotations

import duckdb

from vbc.attribution import AttributionSettings, apply_payer_attribution, build_attribution
from vbc.contract import MEDICAL_CLAIM

SERVICE_CATEGORIES = (
    "inpatient",
    "outpatient",
    "professional",
    "emergency",
    "snf",
    "home_health",
    "dme",
    "pharmacy",
    "other",
)
CATEGORY_LABELS = {
    "inpatient": "Acute inpatient",
    "outpatient": "Outpatient hospital",
    "professional": "Office / professional",
    "emergency": "Emergency department",
    "snf": "Skilled nursing",
    "home_health": "Home health",
    "dme": "Durable medical equipment",
    "pharmacy": "Pharmacy",
    "other": "Other",
}
ED_REVENUE_CODES = ("0450", "0451", "0452", "0456", "0459", "0981")
ED_EM_CODES = ("99281", "99282", "99283", "99284", "99285", "99288", "99291")
TRANSFER_DISPOSITIONS = ("02", "05", "65", "66", "82", "85", "88", "93", "94")

# Bill type without its leading zero ('0111' and '111' are the same), first two digits.
_BILL2 = "substr(ltrim(coalesce(bill_type_code, ''), '0'), 1, 2)"
_ED_REV = ", ".join(f"'{c}'" for c in ED_REVENUE_CODES)
_ED_EM = ", ".join(f"'{c}'" for c in ED_EM_CODES)
_TRANSFER = ", ".join(f"'{c}'" for c in TRANSFER_DISPOSITIONS)


def build_member_months(con: duckdb.DuckDBPyConnection) -> None:
    # One member month per calendar month with at least one enrolled day; enrollment after a
    # recorded death does not count. Overlapping spans collapse to one row per person/payer/month.
    con.execute("""
    CREATE OR REPLACE TABLE members AS
    SELECT person_id, arg_max(gender, enrollment_start_date) AS gender,
           arg_max(birth_date, enrollment_start_date) AS birth_date,
           max(death_date) AS death_date
    FROM eligibility GROUP BY person_id
    """)
    con.execute("""
    CREATE OR REPLACE TABLE member_months_base AS
    WITH spans AS (
        SELECT e.person_id, e.payer, e.plan, e.enrollment_start_date AS s,
               least(e.enrollment_end_date, coalesce(m.death_date, e.enrollment_end_date)) AS e
        FROM eligibility e JOIN members m USING (person_id)
    ), months AS (
        SELECT person_id, payer, plan, s,
               unnest(generate_series(date_trunc('month', s), date_trunc('month', e), INTERVAL 1 MONTH))
                   AS ym
        FROM spans WHERE e >= s
    )
    SELECT person_id, payer, CAST(ym AS DATE) AS year_month, arg_max(plan, s) AS plan
    FROM months GROUP BY person_id, payer, ym
    """)


# Runs of consecutive member months per person and payer: a measure evaluated over many periods
# (metrics/shared/enrolled_in_period.yaml) joins these instead of every member month.
MEMBER_SPANS_SQL = """
    WITH numbered AS (
        SELECT person_id, payer, year_month,
               date_diff('month', DATE '2000-01-01', year_month)
                 - row_number() OVER (PARTITION BY person_id, payer ORDER BY year_month) AS run
        FROM member_months
    )
    SELECT person_id, payer, min(year_month) AS first_month, max(year_month) AS last_month
    FROM numbered GROUP BY person_id, payer, run
    ORDER BY person_id, payer, first_month
"""


def build_member_spans(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TABLE member_spans AS {MEMBER_SPANS_SQL}")


def build_claim_lines(con: duckdb.DuckDBPyConnection) -> None:
    # Institutional claims are categorised per claim (any ED revenue line makes an outpatient
    # claim an ED claim); professional lines by place of service and HCPCS.
    con.execute(f"""
    CREATE OR REPLACE TABLE medical_claim_categories AS
    WITH inst AS (
        SELECT claim_id, any_value({_BILL2}) AS bill2,
               bool_or(revenue_center_code IN ({_ED_REV})) AS has_ed
        FROM medical_claim WHERE claim_type = 'institutional' GROUP BY claim_id
    )
    SELECT claim_id,
           CASE WHEN bill2 = '11' THEN 'inpatient'
                WHEN bill2 IN ('21', '18') THEN 'snf'
                WHEN bill2 IN ('32', '33', '34') THEN 'home_health'
                WHEN bill2 IN ('13', '85') AND has_ed THEN 'emergency'
                WHEN bill2 IN ('12', '13', '14', '71', '72', '73', '74', '75', '76', '77', '83', '85')
                    THEN 'outpatient'
                ELSE 'other' END AS service_category
    FROM inst
    """)
    con.execute("""
    CREATE OR REPLACE TABLE medical_claim_lines AS
    SELECT c.*, CAST(date_trunc('month', c.claim_start_date) AS DATE) AS incurred_month,
           CASE WHEN c.claim_type = 'institutional' THEN k.service_category
                WHEN upper(substr(coalesce(c.hcpcs_code, ''), 1, 1)) IN ('E', 'K', 'L') THEN 'dme'
                WHEN c.place_of_service_code = '23' THEN 'emergency'
                WHEN c.place_of_service_code IN ('21', '51', '61') THEN 'inpatient'
                WHEN c.place_of_service_code IN ('31') THEN 'snf'
                WHEN c.place_of_service_code IN ('19', '22', '24') THEN 'outpatient'
                WHEN c.place_of_service_code IN ('41', '42') THEN 'other'
                ELSE 'professional' END AS service_category
    FROM medical_claim c LEFT JOIN medical_claim_categories k USING (claim_id)
    """)
    # Keep one copy of the claim lines: the contract table becomes a view over the enriched one.
    cols = ", ".join(f'"{c}"' for c in MEDICAL_CLAIM.column_names)
    con.execute("DROP TABLE medical_claim")
    con.execute(f"CREATE VIEW medical_claim AS SELECT {cols} FROM medical_claim_lines")
    # One table of every paid dollar, medical and pharmacy, with the member month it belongs to.
    con.execute("""
    CREATE OR REPLACE TABLE claim_lines AS
    WITH lines AS (
        SELECT 'medical' AS source, claim_id, claim_line_number, person_id, payer,
               claim_start_date AS service_date, incurred_month, paid_date,
               paid_amount, allowed_amount, service_category,
               hcpcs_code, place_of_service_code, claim_type
        FROM medical_claim_lines
        UNION ALL
        SELECT 'pharmacy', claim_id, claim_line_number, person_id, payer,
               dispensing_date, CAST(date_trunc('month', dispensing_date) AS DATE), paid_date,
               paid_amount, allowed_amount, 'pharmacy', NULL, NULL, NULL
        FROM pharmacy_claim
    )
    SELECT l.*, CAST(date_trunc('month', l.paid_date) AS DATE) AS paid_month,
           (mm.person_id IS NOT NULL) AS has_member_month
    FROM lines l LEFT JOIN member_months_base mm
      ON mm.person_id = l.person_id AND mm.payer = l.payer AND mm.year_month = l.incurred_month
    """)


def build_inpatient_stays(con: duckdb.DuckDBPyConnection) -> None:
    # Acute inpatient claims (bill type 11x) are merged into stays: a claim that starts on or before
    # the running discharge date continues the stay (interim bills, same-day transfers), and so does
    # a next-day admission after a transfer discharge.
    con.execute(f"""
    CREATE OR REPLACE TABLE inpatient_stays AS
    WITH claims AS (
        SELECT claim_id, any_value(person_id) AS person_id, any_value(payer) AS payer,
               min(coalesce(admission_date, claim_start_date)) AS admit,
               max(coalesce(discharge_date, claim_end_date, claim_start_date)) AS discharge,
               arg_max(discharge_disposition_code, coalesce(discharge_date, claim_end_date)) AS disposition,
               any_value(drg_code) AS drg_code, any_value(facility_npi) AS facility_npi,
               bool_or(revenue_center_code IN ({_ED_REV})) AS via_ed,
               sum(paid_amount) AS paid, sum(coalesce(allowed_amount, paid_amount)) AS allowed
        FROM medical_claim_lines
        WHERE claim_type = 'institutional' AND service_category = 'inpatient'
        GROUP BY claim_id
    ), ordered AS (
        SELECT *,
               max(discharge) OVER w_prev AS prev_discharge,
               arg_max(disposition, discharge) OVER w_prev AS prev_disposition
        FROM claims
        WINDOW w_prev AS (PARTITION BY person_id, payer ORDER BY admit, discharge, claim_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ), flagged AS (
        SELECT *,
               CASE WHEN prev_discharge IS NULL THEN 1
                    WHEN admit <= prev_discharge THEN 0
                    WHEN admit = prev_discharge + 1 AND prev_disposition IN ({_TRANSFER}) THEN 0
                    ELSE 1 END AS new_stay
        FROM ordered
    ), numbered AS (
        SELECT *, sum(new_stay) OVER (PARTITION BY person_id, payer ORDER BY admit, discharge, claim_id)
                  AS stay_seq
        FROM flagged
    )
    SELECT person_id || '|' || payer || '|' || CAST(stay_seq AS VARCHAR) AS stay_id,
           person_id, payer, min(admit) AS admission_date, max(discharge) AS discharge_date,
           greatest(date_diff('day', min(admit), max(discharge)), 1) AS length_of_stay,
           arg_max(disposition, discharge) AS discharge_disposition_code,
           arg_min(drg_code, admit) AS drg_code, arg_min(facility_npi, admit) AS facility_npi,
           bool_or(via_ed) AS admitted_via_ed, count(*) AS claims, count(DISTINCT facility_npi) AS facilities,
           sum(paid) AS paid_amount, sum(allowed) AS allowed_amount,
           CAST(date_trunc('month', min(admit)) AS DATE) AS admission_month,
           list(claim_id ORDER BY admit) AS claim_ids
    FROM numbered GROUP BY person_id, payer, stay_seq
    """)


def build_ed_visits(con: duckdb.DuckDBPyConnection) -> None:
    # An ED visit is a person-day with an ED facility claim or ED E&M; the facility and the
    # physician bill separately for the same visit, so they are one event. A visit followed by an
    # admission that day or the next is part of that admission and flagged, not a second event.
    con.execute(f"""
    CREATE OR REPLACE TABLE ed_visits AS
    WITH ed_lines AS (
        SELECT person_id, payer, claim_start_date AS visit_date, paid_amount, claim_id
        FROM medical_claim_lines
        WHERE service_category = 'emergency'
           OR (claim_type = 'institutional' AND revenue_center_code IN ({_ED_REV}))
           OR (claim_type = 'professional' AND hcpcs_code IN ({_ED_EM}))
    ), visits AS (
        SELECT person_id, payer, visit_date, count(DISTINCT claim_id) AS claims,
               sum(paid_amount) AS paid_amount
        FROM ed_lines GROUP BY ALL
    )
    SELECT v.person_id || '|' || v.payer || '|' || strftime(v.visit_date, '%Y-%m-%d') AS ed_visit_id,
           v.*, CAST(date_trunc('month', v.visit_date) AS DATE) AS visit_month,
           s.stay_id IS NOT NULL AS led_to_admission, s.stay_id
    FROM visits v LEFT JOIN inpatient_stays s
      ON s.person_id = v.person_id AND s.payer = v.payer
     AND s.admission_date BETWEEN v.visit_date AND v.visit_date + 1
    QUALIFY row_number() OVER (PARTITION BY v.person_id, v.payer, v.visit_date
                               ORDER BY s.admission_date NULLS LAST) = 1
    """)


def build_snf_stays(con: duckdb.DuckDBPyConnection) -> None:
    # Skilled nursing facility claims (bill type 21x/18x) merged into stays: SNFs bill monthly, so
    # a claim starting on or the day after the running end of the stay continues it.
    con.execute("""
    CREATE OR REPLACE TABLE snf_stays AS
    WITH claims AS (
        SELECT claim_id, any_value(person_id) AS person_id, any_value(payer) AS payer,
               min(coalesce(admission_date, claim_start_date)) AS admit,
               max(coalesce(discharge_date, claim_end_date, claim_start_date)) AS discharge,
               any_value(facility_npi) AS facility_npi, sum(paid_amount) AS paid
        FROM medical_claim_lines
        WHERE claim_type = 'institutional' AND service_category = 'snf'
        GROUP BY claim_id
    ), ordered AS (
        SELECT *, max(discharge) OVER (PARTITION BY person_id, payer ORDER BY admit, discharge, claim_id
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_discharge
        FROM claims
    ), numbered AS (
        SELECT *, sum(CASE WHEN prev_discharge IS NULL OR admit > prev_discharge + 1 THEN 1 ELSE 0 END)
                  OVER (PARTITION BY person_id, payer ORDER BY admit, discharge, claim_id) AS stay_seq
        FROM ordered
    )
    SELECT person_id || '|' || payer || '|snf|' || CAST(stay_seq AS VARCHAR) AS stay_id,
           person_id, payer, min(admit) AS admission_date, max(discharge) AS discharge_date,
           greatest(date_diff('day', min(admit), max(discharge)), 1) AS length_of_stay,
           arg_min(facility_npi, admit) AS facility_npi, count(*) AS claims, sum(paid) AS paid_amount,
           CAST(date_trunc('month', min(admit)) AS DATE) AS admission_month
    FROM numbered GROUP BY person_id, payer, stay_seq
    """)


def attach_attribution(con: duckdb.DuckDBPyConnection, settings: AttributionSettings) -> str:
    """Create `member_months` with the attributed organization, TIN and NPI for each month."""
    if apply_payer_attribution(con):
        source = "payer-supplied provider_attribution"
        con.execute("""
        CREATE OR REPLACE TABLE member_months AS
        SELECT mm.person_id, mm.payer, mm.plan, mm.year_month,
               a.organization, a.tin, a.npi, CAST(NULL AS INTEGER) AS attribution_step
        FROM member_months_base mm LEFT JOIN attribution_monthly a
          ON a.person_id = mm.person_id AND a.payer = mm.payer AND a.year_month = mm.year_month
        """)
    else:
        source = f"computed ({settings.mode}, {settings.window_months}-month window)"
        con.execute("CREATE OR REPLACE TABLE member_months AS SELECT * FROM member_months_base")
        build_attribution(con, settings)
        con.execute("""
        CREATE OR REPLACE TABLE member_months AS
        SELECT mm.person_id, mm.payer, mm.plan, mm.year_month,
               a.organization, a.tin, a.npi, a.step AS attribution_step
        FROM member_months_base mm LEFT JOIN attribution a
          ON a.person_id = mm.person_id AND a.payer = mm.payer AND a.year = year(mm.year_month)
        """)
    return source


def build_marts(con: duckdb.DuckDBPyConnection, settings: AttributionSettings | None = None) -> dict:
    """Build every mart from the staged input tables in `con`; returns facts for the stamp."""
    settings = settings or AttributionSettings()
    build_member_months(con)
    build_claim_lines(con)
    build_inpatient_stays(con)
    build_ed_visits(con)
    build_snf_stays(con)
    source = attach_attribution(con, settings)
    build_member_spans(con)
    paid_through, incurred_through, with_paid_date = con.execute(
        "SELECT max(paid_date), max(service_date), count(paid_date) FROM claim_lines"
    ).fetchall()[0]
    first_month, last_month = con.execute(
        "SELECT min(year_month), max(year_month) FROM member_months"
    ).fetchall()[0]
    return {
        "paid_through": paid_through.isoformat() if paid_through else None,
        "incurred_through": incurred_through.isoformat() if incurred_through else None,
        "first_month": first_month.isoformat() if first_month else None,
        "last_month": last_month.isoformat() if last_month else None,
        "attribution_source": source,
        # Without paid dates run-out completion and the incomplete-month marking cannot be computed.
        "paid_dates": bool(with_paid_date),
    }
