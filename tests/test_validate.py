"""Each bad-input case gives a clear message naming table, column and row count."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import write_table
from vbc.contract import TABLES
from vbc.extracts import table_files
from vbc.validate import validate

TODAY = date(2026, 11, 23)


def _rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def _only(report, check: str):
    found = [f for f in report.findings if f.check == check]
    assert found, f"expected a '{check}' finding, got: {report.text()}"
    return found[0]


def test_clean_fixture_is_usable(small_extract):
    report = validate(small_extract, TODAY)
    assert report.ok, report.text()


def test_missing_required_table(small_extract):
    (small_extract / "eligibility.parquet").unlink()
    report = validate(small_extract, TODAY)
    f = _only(report, "missing_table")
    assert not report.ok and f.table == "eligibility" and f.severity == "error"
    assert "eligibility.parquet" in f.message


def test_missing_optional_table_is_a_warning(small_extract):
    (small_extract / "pharmacy_claim.parquet").unlink()
    report = validate(small_extract, TODAY)
    assert report.ok
    assert any(f.table == "pharmacy_claim" and f.severity == "warning" for f in report.findings)


def test_missing_column(small_extract):
    rows = _rows(small_extract / "medical_claim.parquet")
    write_table(small_extract, "medical_claim", rows, drop=("paid_amount",))
    report = validate(small_extract, TODAY)
    f = _only(report, "missing_column")
    assert (f.table, f.column, f.rows) == ("medical_claim", "paid_amount", len(rows))
    assert "medical_claim.paid_amount" in f.text()


def test_values_of_the_wrong_type(small_extract):
    rows = _rows(small_extract / "medical_claim.parquet")
    table = pq.read_table(small_extract / "medical_claim.parquet")
    paid = [str(r["paid_amount"]) for r in rows]
    paid[0], paid[3] = "abc", "12,50"
    idx = table.schema.get_field_index("paid_amount")
    table = table.set_column(idx, "paid_amount", pa.array(paid, pa.string()))
    pq.write_table(table, small_extract / "medical_claim.parquet")
    report = validate(small_extract, TODAY)
    f = _only(report, "wrong_type")
    assert (f.table, f.column, f.rows) == ("medical_claim", "paid_amount", 2)
    assert "'abc'" in f.message or "'12,50'" in f.message


def test_incompatible_column_type(small_extract):
    table = pq.read_table(small_extract / "eligibility.parquet")
    idx = table.schema.get_field_index("birth_date")
    table = table.set_column(idx, "birth_date", pa.array([True] * table.num_rows))
    pq.write_table(table, small_extract / "eligibility.parquet")
    f = _only(validate(small_extract, TODAY), "wrong_type")
    assert (f.table, f.column, f.rows) == ("eligibility", "birth_date", 4)


def test_dates_written_as_text_are_accepted(small_extract):
    table = pq.read_table(small_extract / "pharmacy_claim.parquet")
    idx = table.schema.get_field_index("dispensing_date")
    table = table.set_column(idx, "dispensing_date", pa.array(["2025-03-05"]))
    pq.write_table(table, small_extract / "pharmacy_claim.parquet")
    assert validate(small_extract, TODAY).ok


def test_null_keys(small_extract):
    rows = _rows(small_extract / "medical_claim.parquet")
    rows[0]["person_id"] = None
    rows[1]["person_id"] = None
    write_table(small_extract, "medical_claim", rows)
    f = _only(validate(small_extract, TODAY), "null_key")
    assert (f.table, f.column, f.rows) == ("medical_claim", "person_id", 2)


def test_duplicate_claim_lines(small_extract):
    rows = _rows(small_extract / "medical_claim.parquet")
    write_table(small_extract, "medical_claim", rows + rows[:3])
    f = _only(validate(small_extract, TODAY), "duplicate")
    assert f.table == "medical_claim" and f.rows == 3 and "duplicate claim lines" in f.message


@pytest.mark.parametrize(
    "amount,check,severity",
    # A negative line is a reversal; alone (its original not in the extract) it is an orphan: kept
    # out of the totals and listed as a warning, never an error. An absurd amount stops the build.
    [(-25.0, "orphan_reversal", "warning"), (9_999_999.0, "absurd_amount", "error")],
)
def test_impossible_amounts(small_extract, amount, check, severity):
    rows = _rows(small_extract / "medical_claim.parquet")
    rows[2]["paid_amount"] = amount
    write_table(small_extract, "medical_claim", rows)
    f = _only(validate(small_extract, TODAY), check)
    assert (f.table, f.column, f.rows, f.severity) == ("medical_claim", "paid_amount", 1, severity)
    assert f.amount == pytest.approx(amount)


def test_service_after_payment(small_extract):
    rows = _rows(small_extract / "medical_claim.parquet")
    rows[0]["paid_date"] = date(2025, 1, 1)  # service 2025-02-10
    write_table(small_extract, "medical_claim", rows)
    f = _only(validate(small_extract, TODAY), "date_order")
    assert f.table == "medical_claim" and f.column == "claim_start_date" and f.rows == 1
    assert "paid_date" in f.message


def test_service_in_the_future(small_extract):
    rows = _rows(small_extract / "pharmacy_claim.parquet")
    rows[0]["dispensing_date"] = date(2027, 1, 5)
    rows[0]["paid_date"] = date(2027, 1, 6)
    write_table(small_extract, "pharmacy_claim", rows)
    report = validate(small_extract, TODAY)
    future = [f for f in report.findings if f.check == "future_date"]
    assert {(f.table, f.column, f.rows) for f in future} == {
        ("pharmacy_claim", "dispensing_date", 1),
        ("pharmacy_claim", "paid_date", 1),
    }


def test_claims_without_eligibility_are_a_warning_with_dollars(small_extract):
    report = validate(small_extract, TODAY)
    f = _only(report, "no_member_month")
    assert report.ok and f.severity == "warning"
    assert (f.table, f.rows, f.amount) == ("medical_claim", 1, 300.0)
    assert "$300.00" in f.message


def test_unreadable_file(small_extract):
    (small_extract / "provider.parquet").write_bytes(b"this is not parquet at all")
    f = _only(validate(small_extract, TODAY), "unreadable")
    assert f.table == "provider" and "provider.parquet" in f.message


def test_folder_of_parquet_files(small_extract):
    rows = _rows(small_extract / "medical_claim.parquet")
    (small_extract / "medical_claim.parquet").unlink()
    folder = small_extract / "medical_claim"
    write_table(folder, "medical_claim", rows[:5]).rename(folder / "part-0.parquet")
    write_table(folder, "medical_claim", rows[5:]).rename(folder / "part-1.parquet")
    assert len(table_files(small_extract, "medical_claim")) == 2
    assert validate(small_extract, TODAY).ok


def test_every_contract_table_documents_its_key_columns():
    for table in TABLES.values():
        for k in table.key:
            assert not table.column(k).nullable, f"{table.name}.{k} is a key and must be non-null"


def test_attribution_year_month_format(small_extract):
    write_table(
        small_extract,
        "provider_attribution",
        [
            dict(person_id="A", year_month="202501", payer="Medicare", payer_attributed_provider="N1"),
            dict(person_id="A", year_month="2025-02", payer="Medicare", payer_attributed_provider="N1"),
        ],
    )
    f = _only(validate(small_extract, TODAY), "wrong_type")
    assert (f.table, f.column, f.rows) == ("provider_attribution", "year_month", 1)
