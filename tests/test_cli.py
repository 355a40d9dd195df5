"""`python -m vbc` on the hand-worked fixture: in-process through the same `main` the entry point
calls (fast), and once as a real `python -m vbc` subprocess to prove the entry point itself."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli, write_table

ROOT = Path(__file__).resolve().parents[1]


def vbc(*args: str, state: Path):
    return run_cli(*args, state=state)


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


def test_entry_point_runs_as_a_subprocess(small_extract, state):
    out = run_cli(
        "metrics",
        "--data",
        str(small_extract),
        "--metric",
        "total_cost_pmpm",
        "--format",
        "json",
        state=state,
        subprocess_run=True,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rows"][0]["metric_id"] == "total_cost_pmpm"


def test_validate_exit_codes(small_extract, state):
    ok = vbc("validate", "--data", str(small_extract), state=state)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "$300.00" in ok.stdout  # the unmatched dollars are reported, not dropped
    rows = pq.read_table(small_extract / "eligibility.parquet").to_pylist()
    write_table(small_extract, "eligibility", rows, drop=("birth_date",))
    bad = vbc("validate", "--data", str(small_extract), state=state)
    assert bad.returncode != 0
    assert "eligibility.birth_date" in bad.stdout and "required column is missing" in bad.stdout


def test_metrics_json_shape(small_extract, state):
    out = vbc(
        "metrics",
        "--data",
        str(small_extract),
        "--metric",
        "total_cost_pmpm",
        "--by",
        "organization",
        "month",
        "--start",
        "2025-01",
        "--end",
        "2025-06",
        "--format",
        "json",
        state=state,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"paid_through", "incurred_through", "fingerprint"} <= set(doc["stamp"])
    keys = {
        "metric_id",
        "period_start",
        "period_end",
        "organization",
        "month",
        "numerator",
        "denominator",
        "value",
        "ci_low",
        "ci_high",
        "suppressed",
    }
    assert all(set(r) == keys for r in doc["rows"])
    alpha = [r for r in doc["rows"] if r["organization"] == "Alpha Care"]
    assert sum(r["denominator"] for r in alpha) == 6 and sum(r["numerator"] for r in alpha) == 130
    assert {r["period_start"] for r in doc["rows"]} == {"2025-01-01"}
    assert {r["period_end"] for r in doc["rows"]} == {"2025-06-30"}


def test_org_viewer_export_holds_only_its_organization(small_extract, state):
    out = vbc(
        "metrics",
        "--data",
        str(small_extract),
        "--by",
        "organization",
        "tin",
        "npi",
        "--viewer",
        "org:Alpha Care",
        "--format",
        "csv",
        state=state,
    )
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and {r["organization"] for r in rows} == {"Alpha Care"}
    assert {r["tin"] for r in rows} == {"T1"}
    assert all(r["stamp_fingerprint"] for r in rows)


def test_joint_viewer_suppresses(small_extract, state):
    out = vbc(
        "metrics",
        "--data",
        str(small_extract),
        "--by",
        "organization",
        "--viewer",
        "joint",
        "--format",
        "json",
        state=state,
    )
    doc = json.loads(out.stdout)
    assert doc["rows"] and all(r["suppressed"] and r["numerator"] is None for r in doc["rows"])


def test_broken_table_keeps_last_good_build(small_extract, state):
    assert vbc("build", "--data", str(small_extract), state=state).returncode == 0
    before = json.loads(vbc("metrics", "--data", str(small_extract), "--format", "json", state=state).stdout)
    (small_extract / "medical_claim.parquet").write_bytes(b"garbage")
    build = vbc("build", "--data", str(small_extract), state=state)
    assert build.returncode != 0
    assert "medical_claim" in build.stdout and "cannot read Parquet" in build.stdout
    after = vbc("metrics", "--data", str(small_extract), "--format", "json", state=state)
    assert after.returncode == 0
    assert "serving the last good build" in after.stderr
    assert json.loads(after.stdout) == before


def test_no_good_build_is_a_clear_error(small_extract, state):
    (small_extract / "provider.parquet").unlink()
    out = vbc("metrics", "--data", str(small_extract), "--format", "json", state=state)
    assert out.returncode != 0
    assert "provider: table is missing" in out.stderr


def test_bad_arguments(small_extract, state):
    out = vbc("metrics", "--data", str(small_extract), "--metric", "nope", state=state)
    assert out.returncode == 2 and "unknown metric 'nope'" in out.stderr
    out = vbc("metrics", "--data", str(small_extract), "--viewer", "someone", state=state)
    assert out.returncode == 2 and "viewer must be" in out.stderr
    out = vbc("metrics", "--data", str(small_extract), "--start", "2025-13", state=state)
    assert out.returncode == 2
