"""Extracts as payers really send them give the same numbers as clean ones.

The clean fixture is a small generated demo extract (400 members, 24 months). Each variant
rewrites it the way real deliveries differ, builds it, and every metric (by organization), every
measure's person-level results, the attribution and a settlement must equal the clean build's to
the cent:

- integer codes: revenue centre, place of service, discharge status, DRG, bill type and NPIs
  written as numbers (450 for 0450, 1 for 01);
- codes as people type them: lower case, ICD-10 with its dot, padded with spaces;
- reversals: for every fifth claim, a reversal line and a re-issued line with the same key, and
  for every seventh claim a replacement claim that names it (original_claim_id);
- CSV and pipe-delimited files (gzipped for one table) instead of Parquet;
- renamed columns (Tuva's earlier patient_id, ms_drg_code) with a columns.yaml mapping.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from vbc import attribution, quality
from vbc.engine import compute_metrics
from vbc.periods import Period, month_end
from vbc.registry import load_registry
from vbc.security import Viewer
from vbc.settlement import settle  # noqa: F401  (the calculator every settlement runs through)
from vbc.terms import workspace_contracts
from vbc.workspace import Workspace

PERIOD = Period.from_months("2025-01", "2025-12")
TABLES = ("eligibility", "medical_claim", "pharmacy_claim", "lab_result", "observation", "provider")


def _read(data: Path, table: str) -> pd.DataFrame:
    return (
        pq.read_table(data / f"{table}.parquet").to_pandas()
        if (data / f"{table}.parquet").exists()
        else (
            pa.concat_tables([pq.read_table(p) for p in sorted((data / table).glob("*.parquet"))]).to_pandas()
        )
    )


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".vbc"))
    return dst


def _replace_table(data: Path, table: str, df: pd.DataFrame) -> None:
    folder = data / table
    if folder.is_dir():
        shutil.rmtree(folder)
    (data / f"{table}.parquet").unlink(missing_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), data / f"{table}.parquet")


# ------------------------------------------------------------------------------------ variants
def integer_codes(data: Path) -> None:
    med = _read(data, "medical_claim")
    for col in (
        "revenue_center_code",
        "place_of_service_code",
        "discharge_disposition_code",
        "drg_code",
        "bill_type_code",
    ):
        med[col] = pd.to_numeric(med[col], errors="coerce").astype("Int64")
    for col in ("rendering_npi", "billing_npi", "facility_npi"):
        med[col] = pd.to_numeric(med[col], errors="coerce").astype("Int64")
    _replace_table(data, "medical_claim", med)


def typed_codes(data: Path) -> None:
    med = _read(data, "medical_claim")
    med["hcpcs_code"] = med["hcpcs_code"].str.lower().radd(" ").add(" ")
    for i in range(1, 26):
        col = f"diagnosis_code_{i}"
        dotted = med[col].where(med[col].str.len() <= 3, med[col].str[:3] + "." + med[col].str[3:])
        med[col] = dotted.str.lower() if i % 2 else dotted
    rx = _read(data, "pharmacy_claim")
    # NDCs in 5-4-2 with dashes, as printed on packages.
    rx["ndc_code"] = rx["ndc_code"].str[:5] + "-" + rx["ndc_code"].str[5:9] + "-" + rx["ndc_code"].str[9:]
    _replace_table(data, "medical_claim", med)
    _replace_table(data, "pharmacy_claim", rx)


def reversed_lines(data: Path) -> None:
    """Every fifth claim: the original line, a reversal (-paid, -allowed) and a re-issue, all with
    the claim's key. Every seventh claim (not also fifth): replaced by a new claim naming it."""
    med = _read(data, "medical_claim")
    med["original_claim_id"] = None
    # Claims whose every line was paid (a zero line reversed is indistinguishable from a repeat).
    paid = med.groupby("claim_id")["paid_amount"].min()
    ids = pd.Series(sorted(paid[paid > 0].index))
    fifth = set(ids[ids.index % 5 == 0])
    seventh = set(ids[(ids.index % 7 == 3)]) - fifth
    rev = med[med["claim_id"].isin(fifth)].copy()
    rev["paid_amount"] = -rev["paid_amount"]
    rev["allowed_amount"] = -rev["allowed_amount"]
    reissue = med[med["claim_id"].isin(fifth)].copy()
    later = pd.to_datetime(reissue["paid_date"]) + pd.Timedelta(days=20)
    rev["paid_date"] = reissue["paid_date"] = later.dt.date.where(
        later.dt.date <= pd.Timestamp("2026-10-31").date(), reissue["paid_date"]
    )
    repl = med[med["claim_id"].isin(seventh)].copy()
    repl["original_claim_id"] = repl["claim_id"]
    repl["claim_id"] = repl["claim_id"] + "-R"
    _replace_table(data, "medical_claim", pd.concat([med, rev, reissue, repl], ignore_index=True))


def delimited(data: Path) -> None:
    for table in TABLES:
        df = _read(data, table)
        _replace_table(data, table, df)
        arrow = pq.read_table(data / f"{table}.parquet")
        (data / f"{table}.parquet").unlink()
        if table == "medical_claim":
            pacsv.write_csv(arrow, data / "medical_claim.psv", pacsv.WriteOptions(delimiter="|"))
        elif table == "pharmacy_claim":
            buf = pa.BufferOutputStream()
            pacsv.write_csv(arrow, buf)
            (data / "pharmacy_claim.csv.gz").write_bytes(gzip.compress(buf.getvalue().to_pybytes()))
        else:
            pacsv.write_csv(arrow, data / f"{table}.csv")


def renamed(data: Path) -> None:
    med = _read(data, "medical_claim").rename(columns={"person_id": "patient_id", "drg_code": "ms_drg_code"})
    _replace_table(data, "medical_claim", med)
    elig = _read(data, "eligibility").rename(columns={"person_id": "patient_id"}).drop(columns=["plan"])
    _replace_table(data, "eligibility", elig)
    (data / "columns.yaml").write_text(
        "medical_claim:\n  patient_id: person_id\n  ms_drg_code: drg_code\n"
        "eligibility:\n  patient_id: person_id\n  plan: {value: ACO Demo Plan}\n"
    )


VARIANTS = {
    "integer codes": integer_codes,
    "typed codes": typed_codes,
    "reversals": reversed_lines,
    "delimited files": delimited,
    "renamed columns": renamed,
}


# ------------------------------------------------------------------------------------ numbers
def _numbers(ws: Workspace) -> dict:
    """Every number a party would compare: metrics by organization, person-level measure results,
    the attribution in force at the year end and the demo contracts' settlement steps."""
    registry = load_registry()
    metrics = compute_metrics(
        ws, registry, sorted(registry.metrics), Viewer("payer"), PERIOD, ["organization"]
    )
    metrics = metrics[["metric_id", "organization", "numerator", "denominator"]].fillna({"organization": "-"})
    measures = {}
    for m in quality.quality_metrics(registry):
        r = quality.measure_results(ws, registry, m.id, Viewer("payer"), PERIOD)
        measures[m.id] = sorted(
            r[["person_id", "in_denominator", "excluded", "in_numerator"]].itertuples(index=False, name=None)
        )
    con = ws.connect()
    try:
        attr = attribution.attribution_at(con, Viewer("payer"), month_end(PERIOD.end).replace(day=1))
    finally:
        con.close()
    from vbc.settlement_claims import settlement_for

    settled = {}
    for terms in workspace_contracts(ws):
        if terms.performance_year == 2025:
            # A fixed quality score: the composite's inputs (the measure rates) are compared above.
            result = settlement_for(ws, terms, Viewer("payer"), registry, quality_score=80.0)
            settled[terms.contract_id] = [(r["key"], r["value"]) for r in result.settlement.rows()]
    return {
        "metrics": metrics.sort_values(["metric_id", "organization"]).reset_index(drop=True),
        "measures": measures,
        "attribution": sorted(
            attr[["person_id", "organization", "tin", "npi"]].astype(str).itertuples(index=False, name=None)
        ),
        "settlement": settled,
    }


@pytest.fixture(scope="module")
def clean_extract(tmp_path_factory) -> Path:
    from vbc.demo import generate

    out = tmp_path_factory.mktemp("clean")
    generate(out, members=400, months=24, seed=5)
    return out


@pytest.fixture(scope="module")
def clean(clean_extract, tmp_path_factory):
    ws = Workspace(clean_extract.resolve(), tmp_path_factory.mktemp("clean-state"))
    assert ws.build().ok
    return _numbers(ws)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_gives_the_clean_numbers(variant, clean_extract, clean, tmp_path):
    data = _copy(clean_extract, tmp_path / "extract")
    VARIANTS[variant](data)
    ws = Workspace(data.resolve(), tmp_path / "state")
    result = ws.build()
    assert result.ok, result.report.text()
    got = _numbers(ws)
    pd.testing.assert_frame_equal(
        got["metrics"][["metric_id", "organization"]], clean["metrics"][["metric_id", "organization"]]
    )
    for col in ("numerator", "denominator"):
        assert (got["metrics"][col].fillna(0) - clean["metrics"][col].fillna(0)).abs().max() < 0.005, col
    assert got["measures"] == clean["measures"]
    assert got["attribution"] == clean["attribution"]
    assert got["settlement"].keys() == clean["settlement"].keys()
    for cid, steps in clean["settlement"].items():
        for (key, want), (key2, have) in zip(steps, got["settlement"][cid]):
            assert key == key2
            if isinstance(want, float):
                assert have == pytest.approx(want, abs=0.005), (cid, key)
            else:
                assert have == want, (cid, key)


def test_an_extract_in_tuvas_earlier_layout(clean_extract, tmp_path):
    """CSV files, `patient_id` instead of person_id, no paid dates, reversal lines (one in ten
    claim lines reversed and re-issued; twenty orphan reversals of claims paid before the extract),
    a columns.yaml and a provider roster. Total cost PMPM must equal the paid dollars (netted per
    claim line, orphans left out, only months with eligibility) over the member months, both
    computed here straight from the files with pandas."""
    data = _copy(clean_extract, tmp_path / "tuva")
    med = _read(data, "medical_claim").drop(columns=["paid_date"])
    rx = _read(data, "pharmacy_claim").drop(columns=["paid_date"])
    lines = med[med["paid_amount"] > 0].iloc[::10]
    reversal = lines.assign(paid_amount=-lines["paid_amount"], allowed_amount=-lines["allowed_amount"])
    orphans = med[med["paid_amount"] > 0].iloc[5:25].assign(claim_id=lambda d: "OLD-" + d["claim_id"])
    orphans = orphans.assign(paid_amount=-orphans["paid_amount"], allowed_amount=-orphans["allowed_amount"])
    med = pd.concat([med, reversal, lines, orphans], ignore_index=True)
    elig = _read(data, "eligibility")
    for table, df in (("medical_claim", med), ("pharmacy_claim", rx), ("eligibility", elig)):
        _replace_table(data, table, df.rename(columns={"person_id": "patient_id"}))
    for table in ("medical_claim", "pharmacy_claim", "eligibility", "provider", "lab_result", "observation"):
        arrow = pq.read_table(data / f"{table}.parquet")
        (data / f"{table}.parquet").unlink()
        pacsv.write_csv(arrow, data / f"{table}.csv")
    for table in ("lab_result", "observation"):
        (data / f"{table}.csv").write_text(
            (data / f"{table}.csv").read_text().replace('"person_id"', '"patient_id"', 1)
        )
    (data / "columns.yaml").write_text(
        "".join(
            f"{t}:\n  patient_id: person_id\n"
            for t in ("medical_claim", "pharmacy_claim", "eligibility", "lab_result", "observation")
        )
    )
    ws = Workspace(data.resolve(), tmp_path / "state")
    result = ws.build()
    assert result.ok, result.report.text()
    assert ws.good["paid_dates"] is False
    assert [f.check for f in result.report.warnings if f.check == "orphan_reversal"] == ["orphan_reversal"]

    # The same number from the files, with pandas.
    e = pd.read_csv(data / "eligibility.csv", dtype=str)
    months = set()
    for r in e.itertuples():
        end = min(
            pd.Timestamp(r.enrollment_end_date),
            pd.Timestamp(r.death_date) if isinstance(r.death_date, str) else pd.Timestamp.max,
        )
        for m in pd.period_range(pd.Timestamp(r.enrollment_start_date), end, freq="M"):
            if PERIOD.start <= m.start_time.date() <= PERIOD.end:
                months.add((r.patient_id, r.payer, m))
    claims = pd.read_csv(data / "medical_claim.csv", dtype=str).astype({"paid_amount": float})
    net = claims.groupby(["claim_id", "claim_line_number"]).agg(
        paid=("paid_amount", "sum"),
        person=("patient_id", "first"),
        payer=("payer", "first"),
        start=("claim_start_date", "first"),
    )
    net = net[net["paid"] > 0]
    pharm = pd.read_csv(data / "pharmacy_claim.csv", dtype=str).astype({"paid_amount": float})
    dollars = [(r.person, r.payer, pd.Period(r.start, "M"), r.paid) for r in net.itertuples()]
    dollars += [
        (r.patient_id, r.payer, pd.Period(r.dispensing_date, "M"), r.paid_amount) for r in pharm.itertuples()
    ]
    paid = sum(v for p, y, m, v in dollars if (p, y, m) in months)
    row = compute_metrics(ws, load_registry(), ["total_cost_pmpm"], Viewer("payer"), PERIOD).iloc[0]
    assert row["denominator"] == len(months)
    assert row["numerator"] == pytest.approx(paid, abs=0.01)
