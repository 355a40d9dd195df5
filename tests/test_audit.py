"""The audit log: every export (command line or page download) writes exactly one row and states
the viewer and the account next to the stamp; account changes are audited; rows hold what was
asked for, never member-level values. The command-line tests run on both stores."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli
from vbc import audit
from vbc.store import open_store
from vbc.ui.widgets import export_producer

BETA_CONTRACT = """\
contract_id: BETA-2025
payer: Medicare
provider_organization: Beta Health
performance_year: 2025
benchmark: {pmpm: 900}
minimum_savings_rate: 0.02
shared_savings_rate: 0.5
"""


@pytest.fixture
def cli_store(small_extract, store_url, tmp_path, monkeypatch):
    """The command line's store is the one VBC_STATE_URL names (SQLite file or PostgreSQL)."""
    monkeypatch.setenv("VBC_STATE_URL", store_url)
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    return open_store(url=store_url)


def _cli(*args: str):
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    return out


def _exports(store) -> pd.DataFrame:
    return audit.read(store, actions=["export"])


def test_every_command_line_export_writes_one_row_with_viewer_and_account(cli_store, small_extract, tmp_path):
    data = str(small_extract)
    contract = tmp_path / "beta.yaml"
    contract.write_text(BETA_CONTRACT)
    commands = [
        ("metrics", "--metric", "total_cost_pmpm", "--viewer", "org:Beta Health", "--format", "json"),
        (
            "metrics",
            "--metric",
            "total_cost_pmpm",
            "ed_visits_per_1000",
            "--by",
            "organization",
            "--format",
            "csv",
        ),
        (
            "measure-results",
            "--metric",
            "annual_wellness_visit",
            "--viewer",
            "org:Beta Health",
            "--format",
            "json",
        ),
        ("attribution", "--end", "2025-03", "--viewer", "org:Beta Health", "--format", "csv"),
        ("settlement", "--contract", str(contract), "--viewer", "org:Beta Health", "--format", "json"),
        ("settlement", "--contract", str(contract), "--format", "csv"),
    ]
    for n, (command, *rest) in enumerate(commands, start=1):
        out = _cli(command, "--data", data, *rest)
        rows = _exports(cli_store)
        assert len(rows) == n, (command, rows)  # exactly one more row per export
        row = rows.iloc[0]
        account = row["account"]
        assert account.startswith("os:") and row["source"] == "cli"
        detail = json.loads(row["detail"])
        assert detail["command"] == command
        fmt = rest[rest.index("--format") + 1]
        if fmt == "json":
            doc = json.loads(out.stdout)
            assert doc["stamp"]["account"] == account
            assert doc["stamp"]["viewer"] == row["viewer"]
            if "rows" in doc:
                assert row["row_count"] == len(doc["rows"])
        else:
            got = list(csv.DictReader(io.StringIO(out.stdout)))
            assert got and all(r["stamp_account"] == account for r in got)
            assert all(r["stamp_viewer"] == row["viewer"] for r in got)
            assert row["row_count"] == len(got)
        assert row["fingerprint"]
    metrics_rows = _exports(cli_store)
    assert json.loads(metrics_rows.iloc[-1]["detail"])["metric_ids"] == ["total_cost_pmpm"]
    assert json.loads(metrics_rows.iloc[-2]["detail"])["metric_ids"] == [
        "total_cost_pmpm",
        "ed_visits_per_1000",
    ]


def test_audit_rows_hold_no_member_values(cli_store, small_extract):
    _cli(
        "measure-results",
        "--data",
        str(small_extract),
        "--metric",
        "annual_wellness_visit",
        "--format",
        "json",
    )
    _cli("attribution", "--data", str(small_extract), "--format", "json")
    text = audit.read(cli_store).to_csv()
    for person in ("MA", "MB", "MC", "MD"):  # the fixture's member ids
        assert person not in text
    with pytest.raises(ValueError, match="may not carry"):
        audit.record(cli_store, audit.cli_actor(), "export", detail={"person_id": "A"})


def test_user_commands_and_their_audit_rows(cli_store, small_extract, monkeypatch):
    data = str(small_extract)
    _cli("build", "--data", data)  # organizations are checked against the built roster
    empty = run_cli("users", "list", "--data", data)
    assert "No accounts yet" in empty.stderr and "--role admin" in empty.stderr
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    _cli("users", "add", "--data", data, "--email", "Admin@Plan.test", "--role", "admin", "--password-stdin")
    _cli(
        "users",
        "add",
        "--data",
        data,
        "--email",
        "beta@beta.test",
        "--role",
        "org",
        "--organization",
        "Beta Health",
    )
    bad = run_cli(
        "users", "add", "--data", data, "--email", "x@y.test", "--role", "org", "--organization", "Gamma"
    )
    assert bad.returncode != 0 and "Alpha Care, Beta Health" in bad.stderr
    listing = _cli("users", "list", "--data", data).stdout
    assert "admin@plan.test,admin,,yes,no" in listing and "beta@beta.test,org,Beta Health,sso only" in listing
    _cli("users", "disable", "--data", data, "--email", "beta@beta.test")
    monkeypatch.setattr("sys.stdin", io.StringIO("another long secret\n"))
    _cli("users", "set-password", "--data", data, "--email", "admin@plan.test")
    actions = list(audit.read(cli_store)["action"])[::-1]
    assert actions == ["account_add", "account_add", "account_disable", "account_password"]
    assert "a long enough secret" not in audit.read(cli_store).to_csv()


def test_audit_command_exports_the_log_and_audits_itself(cli_store, small_extract):
    data = str(small_extract)
    _cli("metrics", "--data", data, "--metric", "total_cost_pmpm", "--format", "json")
    doc = json.loads(_cli("audit", "--data", data, "--since", "2000-01-01", "--format", "json").stdout)
    assert [r["action"] for r in doc["rows"]] == ["export"]
    assert doc["stamp"]["account"].startswith("os:")
    rows = audit.read(cli_store, actions=["export"])
    assert len(rows) == 2 and json.loads(rows.iloc[0]["detail"])["command"] == "audit"
    later = _cli("audit", "--data", data, "--since", "2999-01-01", "--format", "csv").stdout
    assert len(later.strip().splitlines()) == 1  # nothing that late: the header only


def test_page_download_audits_once_per_file_produced(store):
    actor = audit.Actor("beta@beta.test", "org", "org:Beta Health", "web", "s1")
    stamp = {"paid_through": "2025-09-30", "incurred_through": "2025-08-01", "fingerprint": "abc123def456"}
    df = pd.DataFrame({"metric_id": ["m1", "m2", "m1"], "person_id": ["A", "B", "C"], "value": [1, 2, 3]})
    produce = export_producer(store, actor, df, stamp, "gaps.csv", "care_gaps")
    assert audit.read(store).empty  # drawing the button exports nothing
    got = list(csv.DictReader(io.StringIO(produce().decode())))
    assert len(got) == 3
    assert {(r["stamp_viewer"], r["stamp_account"], r["stamp_fingerprint"]) for r in got} == {
        ("org:Beta Health", "beta@beta.test", "abc123def456")
    }
    rows = audit.read(store)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["action"], row["page"], row["row_count"], row["viewer"]) == (
        "export",
        "care_gaps",
        3,
        "org:Beta Health",
    )
    assert json.loads(row["detail"]) == {"file_name": "gaps.csv", "format": "csv", "metric_ids": ["m1", "m2"]}
    produce()
    assert len(audit.read(store)) == 2  # a second download is a second export


def test_read_filters(store):
    audit.record(store, audit.Actor("a@x.test", "payer", "payer"), "page_view", page="overview")
    audit.record(store, audit.Actor("b@x.test", "org", "org:Beta Health"), "export", row_count=2)
    assert list(audit.read(store, account="b@x.test")["action"]) == ["export"]
    assert list(audit.read(store, actions=["page_view"])["account"]) == ["a@x.test"]
    from datetime import date, timedelta

    today = date.today()
    assert len(audit.read(store, since=today, until=today)) == 2
    assert audit.read(store, until=today - timedelta(days=2)).empty


def test_readme_documents_the_audit_commands():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "python -m vbc audit --data" in readme and "python -m vbc users add --data" in readme
