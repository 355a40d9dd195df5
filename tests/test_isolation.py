"""Viewer isolation end to end, below the pages: an organization's viewer gets only its own members
from metrics, quality results, care gaps, attribution, cost, settlement and every export, and a
request for another organization is refused. (The pages, the URL and the cache are covered by
tests/test_access.py and tests/test_browser_auth.py.)"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import run_cli
from vbc import attribution, cost, engine, quality
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import NotEntitled, Viewer
from vbc.terms import HighCostCap

BETA = Viewer("org", "Beta Health")
YEAR = Period.from_months("2025-01", "2025-12")


@pytest.fixture(scope="module")
def registry():
    return load_registry()


@pytest.fixture(scope="module")
def ws(built):
    return built("small")


def _people(ws, org: str | None) -> set[str]:
    """Every person attributed to `org` in any month (None: to any organization), as the payer sees."""
    con = ws.connect()
    try:
        rows = con.execute("SELECT DISTINCT person_id, organization FROM member_months").fetchall()
    finally:
        con.close()
    return {p for p, o in rows if org is None or o == org}


def test_the_fixture_has_members_in_both_organizations(ws):
    assert _people(ws, "Beta Health") and _people(ws, "Alpha Care")


def test_metrics_by_organization(ws, registry):
    df = engine.compute_metrics(
        ws, registry, ["total_cost_pmpm", "ed_visits_per_1000"], BETA, YEAR, ["organization"]
    )
    assert set(df["organization"]) == {"Beta Health"}
    payer = engine.compute_metrics(ws, registry, ["total_cost_pmpm"], Viewer("payer"), YEAR, ["organization"])
    assert {"Alpha Care", "Beta Health"} <= set(payer["organization"])
    with pytest.raises(NotEntitled):
        engine.compute_metrics(
            ws, registry, ["total_cost_pmpm"], BETA, YEAR, [], {"organization": "Alpha Care"}
        )


def test_quality_results_and_care_gaps(ws, registry):
    beta = _people(ws, "Beta Health")
    for metric in ("annual_wellness_visit", "controlling_blood_pressure"):
        res = quality.measure_results(ws, registry, metric, BETA, YEAR)
        assert set(res["person_id"]) <= beta
        assert set(res["organization"].dropna()) <= {"Beta Health"}
    gaps = quality.care_gaps(ws, registry, BETA, YEAR)
    assert not gaps.empty and set(gaps["person_id"]) <= beta
    assert set(gaps["organization"].dropna()) == {"Beta Health"}
    with pytest.raises(NotEntitled):
        quality.care_gaps(ws, registry, Viewer("joint"), YEAR)
    with pytest.raises(NotEntitled):
        quality.care_gaps(ws, registry, BETA, YEAR, filters={"organization": "Alpha Care"})


def test_attribution(ws):
    con = ws.connect()
    try:
        month = YEAR.start.replace(month=3)
        df = attribution.attribution_at(con, BETA, month, attribution.AttributionSettings())
        payer = attribution.attribution_at(con, Viewer("payer"), month, attribution.AttributionSettings())
    finally:
        con.close()
    assert not df.empty and set(df["organization"]) == {"Beta Health"}
    assert set(payer["organization"].dropna()) > {"Beta Health"}


def test_cost(ws):
    exp = cost.expenditure(ws, BETA, YEAR)
    whole = cost.expenditure(ws, Viewer("payer"), YEAR)
    assert 0 < exp["member_months"] < whole["member_months"]
    with pytest.raises(NotEntitled):
        cost.expenditure(ws, BETA, YEAR, organization="Alpha Care")
    claimants = cost.high_cost_claimants(ws, BETA, YEAR, cap=HighCostCap(amount=1.0))
    assert set(claimants["person_id"]) <= _people(ws, "Beta Health")


CONTRACT = """\
contract_id: {id}
payer: Medicare
provider_organization: {org}
performance_year: 2025
benchmark: {{pmpm: 900}}
minimum_savings_rate: 0.02
shared_savings_rate: 0.5
"""


def _export(*args) -> tuple[int, str, str]:
    out = run_cli(*args)
    return out.returncode, out.stdout, out.stderr


@pytest.fixture
def cli_env(small_extract, tmp_path, monkeypatch):
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("VBC_STATE_URL", raising=False)
    return str(small_extract)


def test_every_export_as_an_organization(cli_env, tmp_path):
    """metrics, measure-results, attribution and settlement exports for org:Beta Health hold Beta's
    rows only; asking for Alpha's contract is refused."""
    data, v = cli_env, ["--viewer", "org:Beta Health"]
    code, out, err = _export(
        "metrics",
        "--data",
        data,
        "--metric",
        "total_cost_pmpm",
        "--by",
        "organization",
        *v,
        "--format",
        "csv",
    )
    assert code == 0, err
    assert {r["organization"] for r in csv.DictReader(io.StringIO(out))} == {"Beta Health"}
    code, out, err = _export(
        "measure-results", "--data", data, "--metric", "annual_wellness_visit", *v, "--format", "json"
    )
    assert code == 0, err
    assert {r["organization"] for r in json.loads(out)["rows"]} <= {"Beta Health", None}
    code, out, err = _export("attribution", "--data", data, "--end", "2025-03", *v, "--format", "json")
    assert code == 0, err
    assert {r["organization"] for r in json.loads(out)["rows"]} == {"Beta Health"}
    for org, expected in (("Beta Health", 0), ("Alpha Care", 1)):
        terms = tmp_path / f"{org.split()[0]}.yaml"
        terms.write_text(CONTRACT.format(id=org.split()[0].upper(), org=org))
        code, out, err = _export(
            "settlement", "--data", data, "--contract", str(terms), *v, "--format", "json"
        )
        assert code == expected, (org, err)
        if expected:
            assert "may only see its own" in err and out == ""
    code, out, err = _export(
        "metrics", "--data", data, "--metric", "total_cost_pmpm", "--viewer", "org:Gamma", "--format", "json"
    )
    assert code != 0 and "unknown organization" in err
