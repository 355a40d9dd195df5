"""The data contract: which tables an extract holds, their columns, types and keys.

Column names follow the Tuva Project input layer so teams already mapped to Tuva can point the
product at their files (vbc/extracts.py finds the files and maps other names onto these).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Type families, not exact physical types: extracts arrive as strings, dates or timestamps,
# ints or decimals, and all of those are fine as long as every value converts.
STRING = "string"
DATE = "date"
NUMBER = "number"
INTEGER = "integer"

DUCKDB_TYPE = {STRING: "VARCHAR", DATE: "DATE", NUMBER: "DOUBLE", INTEGER: "BIGINT"}

MAX_CODES = 25


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = True  # must exist as a column
    nullable: bool = True  # may hold nulls
    description: str = ""
    # A code column: normalized to its system's canonical form on the way in (vbc/codes.py) and
    # its share of valid codes reported.
    code_system: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    required: bool = True
    description: str = ""
    # Columns that must not be null; keys are always in here.
    checks: dict = field(default_factory=dict)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(
    name: str,
    type_: str = STRING,
    *,
    required: bool = True,
    nullable: bool = True,
    description: str = "",
    code: str | None = None,
) -> Column:
    return Column(name, type_, required, nullable, description, code)


def _codes(prefix: str, first_required: bool, system: str) -> tuple[Column, ...]:
    return tuple(
        _c(f"{prefix}_{i}", required=(first_required and i == 1), code=system)
        for i in range(1, MAX_CODES + 1)
    )


ELIGIBILITY = Table(
    "eligibility",
    (
        _c("person_id", nullable=False),
        _c("member_id"),
        _c("gender", description="female | male | unknown"),
        _c("birth_date", DATE, nullable=False),
        _c("death_date", DATE),
        _c("enrollment_start_date", DATE, nullable=False),
        _c("enrollment_end_date", DATE, nullable=False),
        _c("payer", nullable=False),
        _c("payer_type"),
        _c("plan"),
        _c("dual_status_code", required=False),
        _c("zip_code", required=False),
    ),
    key=("person_id", "payer", "enrollment_start_date"),
    description="One row per enrollment span.",
)

MEDICAL_CLAIM = Table(
    "medical_claim",
    (
        _c("claim_id", nullable=False),
        _c("claim_line_number", INTEGER, nullable=False),
        _c("claim_type", nullable=False, description="institutional | professional"),
        _c("person_id", nullable=False),
        _c("member_id"),
        _c("payer", nullable=False),
        _c("plan"),
        _c("claim_start_date", DATE, nullable=False),
        _c("claim_end_date", DATE),
        _c("claim_line_start_date", DATE),
        _c("claim_line_end_date", DATE),
        _c("admission_date", DATE),
        _c("discharge_date", DATE),
        _c(
            "discharge_disposition_code",
            required=False,
            description="UB-04 patient status; 01 = discharged home",
            code="disposition",
        ),
        _c(
            "paid_date",
            DATE,
            required=False,
            description="without paid dates run-out completion cannot be computed (a warning)",
        ),
        _c("bill_type_code", code="bill_type"),
        _c("drg_code", code="drg"),
        _c("revenue_center_code", code="revenue"),
        _c("place_of_service_code", code="pos"),
        _c("hcpcs_code", code="hcpcs"),
        _c("rendering_npi", code="npi"),
        _c("billing_npi", code="npi"),
        _c("billing_tin", code="tin"),
        _c("facility_npi", code="npi"),
        _c("paid_amount", NUMBER, nullable=False, description="negative on reversal lines"),
        _c("allowed_amount", NUMBER),
        _c("original_claim_id", required=False, description="the claim this one replaces, if any"),
    )
    + _codes("diagnosis_code", first_required=True, system="icd10cm")
    + _codes("procedure_code", first_required=False, system="icd10pcs"),
    key=("claim_id", "claim_line_number"),
    description="One row per claim line; incurred in the month of claim_start_date.",
)

PHARMACY_CLAIM = Table(
    "pharmacy_claim",
    (
        _c("claim_id", nullable=False),
        _c("claim_line_number", INTEGER, nullable=False),
        _c("person_id", nullable=False),
        _c("member_id"),
        _c("payer", nullable=False),
        _c("plan"),
        _c("prescribing_provider_npi", code="npi"),
        _c("dispensing_date", DATE, nullable=False),
        _c("ndc_code", code="ndc"),
        _c("quantity", NUMBER),
        _c("days_supply", INTEGER),
        _c("paid_date", DATE, required=False),
        _c("paid_amount", NUMBER, nullable=False, description="negative on reversal lines"),
        _c("allowed_amount", NUMBER),
        _c("original_claim_id", required=False, description="the claim this one replaces, if any"),
    ),
    key=("claim_id", "claim_line_number"),
    required=False,
    description="One row per fill; incurred in the month of dispensing_date.",
)

LAB_RESULT = Table(
    "lab_result",
    (
        _c("person_id", nullable=False),
        _c("result_date", DATE, nullable=False),
        _c("normalized_code_type"),
        _c("normalized_code", nullable=False, code="loinc"),
        _c("result", description="numeric or text"),
        _c("result_units"),
    ),
    required=False,
)

OBSERVATION = Table(
    "observation",
    (
        _c("person_id", nullable=False),
        _c("observation_date", DATE, nullable=False),
        _c("normalized_code_type"),
        _c("normalized_code", nullable=False, code="loinc"),
        _c("result"),
        _c("result_units"),
    ),
    required=False,
    description="Vitals such as blood pressure.",
)

PROVIDER_ATTRIBUTION = Table(
    "provider_attribution",
    (
        _c("person_id", nullable=False),
        _c("year_month", nullable=False, description="YYYYMM"),
        _c("payer", nullable=False),
        _c("plan"),
        _c("payer_attributed_provider", description="NPI", code="npi"),
        _c("payer_attributed_provider_practice", description="TIN", code="tin"),
        _c("payer_attributed_provider_organization"),
    ),
    key=("person_id", "year_month", "payer"),
    required=False,
    description="Payer-supplied attribution; computed from claims when absent.",
)

PROVIDER = Table(
    "provider",
    (
        _c("npi", nullable=False, code="npi"),
        _c("provider_name"),
        _c("specialty"),
        _c("tin", code="tin"),
        _c("provider_organization"),
    ),
    key=("npi",),
    description="Roster: one row per clinician.",
)

RISK_SCORE = Table(
    "risk_score",
    (
        _c("person_id", nullable=False),
        _c("year", INTEGER, nullable=False),
        _c("risk_score", NUMBER, nullable=False),
        _c("model"),
    ),
    key=("person_id", "year"),
    required=False,
    description="Optional payer-supplied risk scores.",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        ELIGIBILITY,
        MEDICAL_CLAIM,
        PHARMACY_CLAIM,
        LAB_RESULT,
        OBSERVATION,
        PROVIDER_ATTRIBUTION,
        PROVIDER,
        RISK_SCORE,
    )
}
