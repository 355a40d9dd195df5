"""Attribution on a hand-built fixture; every answer is worked out by hand below.

Roster: N1 internal medicine and N2 family practice at TIN T1 (Alpha); N3 family practice at T2
(Beta); N4 cardiology at T3 (Beta, a specialist); N5 nurse practitioner at T4 (Gamma); H1 a hospital
(never attributes). Everyone is enrolled 2024-01..2025-12 unless said. Primary care codes only count.

  P1  2025-01: N1 $100, N2 $80 (T1 = $180), N3 $150 (T2)   -> T1 beats T2 on the TIN total although
      N3 is the largest single clinician; within T1, N1 ($100) -> T1/N1, step 1. (An x-ray by N1 is
      not a primary care service and is ignored.)
  P2  2025-01: only cardiology N4 $200 (+ a hospital E&M $500, ignored) -> step 2, T3/N4.
  P3  2025-01-05 N1 $120 (T1), 2025-01-20 N3 $120 (T2): a tie, the most recent wins -> T2/N3;
      a cardiology visit ($300) does not count because step 1 services exist.
  P4  2024-05-01 N5 $250 (T4), 2025-04-01 N3 $100 (T2): retrospective 12 months (2025) -> T2;
      prospective (window 2024) -> T4; retrospective 24 months (2024-2025) -> T4 ($250 > $100).
  P5  2025-02-01 N1 $100 (T1), 2025-08-01 N3 $150 (T2): moves from Alpha to Beta in August.
  P6  enrolled until 2025-05-31; N1 2025-01-10 -> Alpha, lost in June (disenrolled).
  P7  died 2025-03-15; N1 2025-01-05 -> Alpha, lost in April (died).
  P8  enrolled from 2025-04-01; N1 2025-04-10 -> gained by Alpha in April (new enrollee).
  P9  N2 2024-03-15 only -> Alpha until the visit leaves the running 12-month window:
      lost in March 2025 (no qualifying visit); prospective 2025 -> T1/N2; retrospective 2025 -> none.
  P10 first visit N3 2025-05-20 -> gained by Beta in May (new qualifying visit).

Running (retrospective, 12 months ending each month) gains and losses by organization, 2025:
  Jan  Alpha gained 3 new qualifying visit (P1, P6, P7); Beta gained 2 (P2, P3)
  Feb  Alpha gained 1 new qualifying visit (P5)
  Mar  Alpha lost 1 no qualifying visit (P9)
  Apr  Alpha lost 1 died (P7), gained 1 new enrollee (P8)
  May  Beta gained 1 new qualifying visit (P10) and 1 moved from another TIN (P4);
       Gamma lost 1 moved to another TIN (P4: at 2025-05 the window starts 2024-06)
  Jun  Alpha lost 1 disenrolled (P6)
  Aug  Alpha lost 1 moved to another TIN (P5); Beta gained 1 moved from another TIN (P5)
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import _elig, _line, built_workspace, run_cli, write_table
from vbc import attribution as A
from vbc.attribution import AttributionSettings
from vbc.security import NotEntitled, Viewer

ROOT = Path(__file__).resolve().parents[1]
ALL = ("2024-01-01", "2025-12-31")


def _v(cid, pid, day, npi, allowed, hcpcs="99213"):
    tin = {"N1": "T1", "N2": "T1", "N3": "T2", "N4": "T3", "N5": "T4", "H1": "T9"}[npi]
    return _line(
        cid,
        1,
        pid,
        day,
        allowed * 0.8,
        hcpcs=hcpcs,
        pos="11",
        npi=npi,
        tin=tin,
        allowed=allowed,
        paid_date="2025-12-31",
    )


def build(data: Path, supplied: list[dict] | None = None) -> Path:
    write_table(
        data,
        "eligibility",
        [
            _elig("P1", *ALL),
            _elig("P2", *ALL),
            _elig("P3", *ALL),
            _elig("P4", *ALL),
            _elig("P5", *ALL),
            _elig("P6", "2024-01-01", "2025-05-31"),
            _elig("P7", *ALL, death="2025-03-15"),
            _elig("P8", "2025-04-01", "2025-12-31"),
            _elig("P9", *ALL),
            _elig("P10", *ALL),
        ],
    )
    write_table(
        data,
        "provider",
        [
            dict(
                npi="N1",
                provider_name="Dr One",
                specialty="internal medicine",
                tin="T1",
                provider_organization="Alpha",
            ),
            dict(
                npi="N2",
                provider_name="Dr Two",
                specialty="family practice",
                tin="T1",
                provider_organization="Alpha",
            ),
            dict(
                npi="N3",
                provider_name="Dr Three",
                specialty="family practice",
                tin="T2",
                provider_organization="Beta",
            ),
            dict(
                npi="N4",
                provider_name="Dr Four",
                specialty="cardiology",
                tin="T3",
                provider_organization="Beta",
            ),
            dict(
                npi="N5",
                provider_name="NP Five",
                specialty="nurse practitioner",
                tin="T4",
                provider_organization="Gamma",
            ),
            dict(
                npi="H1",
                provider_name="Hospital",
                specialty="acute care hospital",
                tin="T9",
                provider_organization=None,
            ),
        ],
    )
    write_table(
        data,
        "medical_claim",
        [
            _v("c1", "P1", "2025-01-03", "N1", 100),
            _v("c2", "P1", "2025-01-04", "N2", 80),
            _v("c3", "P1", "2025-01-05", "N3", 150),
            _v("c4", "P1", "2025-01-06", "N1", 1000, hcpcs="71046"),
            _v("c5", "P2", "2025-01-07", "N4", 200),
            _v("c6", "P2", "2025-01-08", "H1", 500, hcpcs="99214"),
            _v("c7", "P3", "2025-01-05", "N1", 120),
            _v("c8", "P3", "2025-01-20", "N3", 120),
            _v("c9", "P3", "2025-01-21", "N4", 300),
            _v("c10", "P4", "2024-05-01", "N5", 250),
            _v("c11", "P4", "2025-04-01", "N3", 100),
            _v("c12", "P5", "2025-02-01", "N1", 100),
            _v("c13", "P5", "2025-08-01", "N3", 150),
            _v("c14", "P6", "2025-01-10", "N1", 100),
            _v("c15", "P7", "2025-01-05", "N1", 100),
            _v("c16", "P8", "2025-04-10", "N1", 100),
            _v("c17", "P9", "2024-03-15", "N2", 90),
            _v("c18", "P10", "2025-05-20", "N3", 100),
        ],
    )
    if supplied:
        write_table(data, "provider_attribution", supplied)
    return data


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    w = built_workspace(build(tmp_path / "extract"))
    return w


def _year(ws, settings):
    con = ws.connect()
    try:
        A.year_population(con, settings, 2025)
        rows = con.execute(
            "SELECT DISTINCT person_id, tin, npi FROM contract_member_months WHERE tin IS NOT NULL ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    return {p: (t, n) for p, t, n in rows}


def test_retrospective_year(ws):
    assert _year(ws, AttributionSettings(12, "retrospective")) == {
        "P1": ("T1", "N1"),
        "P2": ("T3", "N4"),
        "P3": ("T2", "N3"),
        "P4": ("T2", "N3"),
        "P5": ("T2", "N3"),
        "P6": ("T1", "N1"),
        "P7": ("T1", "N1"),
        "P8": ("T1", "N1"),
        "P10": ("T2", "N3"),
    }
    # The build's member months use the same rule (retrospective, 12 months).
    con = ws.connect()
    try:
        steps = dict(
            con.execute(
                "SELECT person_id, any_value(attribution_step) FROM member_months "
                "WHERE year(year_month) = 2025 GROUP BY 1"
            ).fetchall()
        )
    finally:
        con.close()
    assert steps["P1"] == 1 and steps["P2"] == 2 and steps["P9"] is None


def test_prospective_and_24_month_window(ws):
    assert _year(ws, AttributionSettings(12, "prospective")) == {"P4": ("T4", "N5"), "P9": ("T1", "N2")}
    y24 = _year(ws, AttributionSettings(24, "retrospective"))
    assert y24["P4"] == ("T4", "N5") and y24["P9"] == ("T1", "N2") and y24["P1"] == ("T1", "N1")


def test_in_force_at_month_and_reasons(ws):
    con = ws.connect()
    try:
        dec = A.attribution_at(con, Viewer("payer"), date(2025, 12, 1)).set_index("person_id")
        jun = A.attribution_at(con, Viewer("payer"), date(2025, 6, 1)).set_index("person_id")
    finally:
        con.close()
    # Enrolled in December: everyone but P6 (left in May) and P7 (died in March).
    assert sorted(dec.index) == ["P1", "P10", "P2", "P3", "P4", "P5", "P8", "P9"]
    assert dec.loc["P2", "step"] == 2 and dec.loc["P1", "step"] == 1 and dec.loc["P9", "step"] is pd_na()
    assert dec.loc["P5", "tin"] == "T2" and jun.loc["P5", "tin"] == "T1"  # P5 moves in August
    assert "$180.00" in dec.loc["P1", "reason"] and "Step 1" in dec.loc["P1", "reason"]
    assert "tied" in dec.loc["P3", "reason"] and "most recent" in dec.loc["P3", "reason"]
    assert "Step 2" in dec.loc["P2", "reason"]
    assert dec.loc["P9", "reason"].startswith("Not attributed")


def pd_na():
    import pandas as pd

    return pd.NA


def test_gains_and_losses_by_reason(ws):
    con = ws.connect()
    try:
        df = A.gains_losses(con, Viewer("payer"), [date(2025, m, 1) for m in range(1, 13)])
    finally:
        con.close()
    got = {(r.month, r.organization, r.direction, r.reason): r.members for r in df.itertuples() if r.members}
    assert got == {
        ("2025-01", "Alpha", "gained", "new qualifying visit"): 3,
        ("2025-01", "Beta", "gained", "new qualifying visit"): 2,
        ("2025-02", "Alpha", "gained", "new qualifying visit"): 1,
        ("2025-03", "Alpha", "lost", "no qualifying visit"): 1,
        ("2025-04", "Alpha", "lost", "died"): 1,
        ("2025-04", "Alpha", "gained", "new enrollee"): 1,
        ("2025-05", "Beta", "gained", "new qualifying visit"): 1,
        ("2025-05", "Beta", "gained", "moved from another TIN"): 1,
        ("2025-05", "Gamma", "lost", "moved to another TIN"): 1,
        ("2025-06", "Alpha", "lost", "disenrolled"): 1,
        ("2025-08", "Alpha", "lost", "moved to another TIN"): 1,
        ("2025-08", "Beta", "gained", "moved from another TIN"): 1,
    }


def test_org_viewer_sees_only_its_members_and_joint_no_member_rows(ws):
    con = ws.connect()
    try:
        alpha = A.attribution_at(con, Viewer("org", "Alpha"), date(2025, 12, 1))
        assert sorted(alpha["person_id"]) == ["P1", "P8"]
        assert A.member_detail(con, Viewer("org", "Alpha"), "P5", date(2025, 12, 1)) is None
        detail = A.member_detail(con, Viewer("org", "Alpha"), "P1", date(2025, 12, 1))
        assert detail["by_tin"].set_index("tin")["allowed"].to_dict() == {"T1": 180.0, "T2": 150.0}
        assert len(detail["services"]) == 3  # the x-ray is not a primary care service
        with pytest.raises(NotEntitled):
            A.attribution_at(con, Viewer("joint"), date(2025, 12, 1))
        with pytest.raises(NotEntitled):
            A.member_detail(con, Viewer("joint"), "P1", date(2025, 12, 1))
        joint = A.gains_losses(con, Viewer("joint"), [date(2025, m, 1) for m in range(1, 13)])
        assert "person_id" not in joint.columns
        # every non-zero count here is 1-10: all hidden
        assert joint["members"].dropna().eq(0).all()
        counts = A.attributed_counts(con, Viewer("joint"), [date(2025, 12, 1)])
        assert counts["members"].isna().all() and counts["suppressed"].all()
        beta = A.gains_losses(con, Viewer("org", "Beta"), [date(2025, m, 1) for m in range(1, 13)])
        assert set(beta["organization"]) == {"Beta"}
    finally:
        con.close()


def test_supplied_extract_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    data = build(
        tmp_path / "x",
        supplied=[
            dict(
                person_id="P9",
                year_month="202512",
                payer="Medicare",
                plan="ACO",
                payer_attributed_provider="N5",
                payer_attributed_provider_practice="T4",
                payer_attributed_provider_organization="Gamma",
            )
        ],
    )
    w = built_workspace(data)
    con = w.connect()
    try:
        df = A.attribution_at(con, Viewer("payer"), date(2025, 12, 1)).set_index("person_id")
    finally:
        con.close()
    assert df.loc["P9", "tin"] == "T4" and df.loc["P9", "organization"] == "Gamma"
    assert "Payer-supplied" in df.loc["P9", "reason"]
    assert df["tin"].notna().sum() == 1  # nobody else is in the extract


def _cli(*args, state):
    return run_cli(*args, state=state)


def test_cli_export(ws, tmp_path):
    state = Path(os.environ["VBC_STATE_DIR"])
    out = _cli("attribution", "--data", str(ws.data_dir), "--end", "2025-12", "--format", "json", state=state)
    assert out.returncode == 0, out.stderr
    rows = {r["person_id"]: r for r in json.loads(out.stdout)["rows"]}
    assert set(rows) == {"P1", "P2", "P3", "P4", "P5", "P8", "P9", "P10"}
    assert rows["P2"]["step"] == 2 and rows["P9"]["step"] is None and rows["P9"]["tin"] is None
    assert set(rows["P1"]) >= {"person_id", "organization", "tin", "npi", "step", "reason"}
    org = _cli(
        "attribution",
        "--data",
        str(ws.data_dir),
        "--end",
        "2025-12",
        "--viewer",
        "org:Alpha",
        "--format",
        "csv",
        state=state,
    )
    assert org.returncode == 0 and sorted(line.split(",")[0] for line in org.stdout.splitlines()[1:]) == [
        "P1",
        "P8",
    ]
    pro = _cli(
        "attribution",
        "--data",
        str(ws.data_dir),
        "--end",
        "2025-12",
        "--mode",
        "prospective",
        "--format",
        "json",
        state=state,
    )
    rows = {r["person_id"]: r for r in json.loads(pro.stdout)["rows"]}
    assert rows["P4"]["tin"] == "T4" and rows["P1"]["tin"] is None
    joint = _cli("attribution", "--data", str(ws.data_dir), "--viewer", "joint", state=state)
    assert joint.returncode != 0 and "joint" in joint.stderr and "P1" not in joint.stdout


def test_first_partial_year_uses_the_first_full_window(tmp_path, monkeypatch):
    """Data start 2024-11. Year 2024's calendar window would hold two months of claims, so the
    build attributes 2024 on the first 12 months of data (2024-11..2025-10):
      Q1  2024-11-05 N3 $50 (Beta), 2025-02-01 and 2025-03-01 N1 $100 each (Alpha)
          -> 2024: Alpha ($200 > $50; on Nov-Dec alone it would be Beta); 2025: Alpha.
      Q2  2025-06-01 N3 $80 only -> 2024: Beta (no visit in Nov-Dec, attributed anyway); 2025: Beta.
      Q3  2025-11-10 N1 $90 only -> outside the first window: unattributed in 2024; 2025: Alpha."""
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    data = tmp_path / "partial"
    span = ("2024-11-01", "2025-12-31")
    write_table(data, "eligibility", [_elig("Q1", *span), _elig("Q2", *span), _elig("Q3", *span)])
    write_table(
        data,
        "provider",
        [
            dict(
                npi="N1",
                provider_name="Dr One",
                specialty="internal medicine",
                tin="T1",
                provider_organization="Alpha",
            ),
            dict(
                npi="N3",
                provider_name="Dr Three",
                specialty="family practice",
                tin="T2",
                provider_organization="Beta",
            ),
        ],
    )
    write_table(
        data,
        "medical_claim",
        [
            _v("d1", "Q1", "2024-11-05", "N3", 50),
            _v("d2", "Q1", "2025-02-01", "N1", 100),
            _v("d3", "Q1", "2025-03-01", "N1", 100),
            _v("d4", "Q2", "2025-06-01", "N3", 80),
            _v("d5", "Q3", "2025-11-10", "N1", 90),
        ],
    )
    write_table(data, "pharmacy_claim", [])
    w = built_workspace(data)
    con = w.connect()
    try:
        rows = con.execute(
            "SELECT DISTINCT person_id, year(year_month), organization FROM member_months"
        ).fetchall()
        # A contract's assignment for 2024 (what its settlement uses) rests on the same window.
        source = A.year_population(con, AttributionSettings(12, "retrospective"), 2024)
        contract = dict(
            con.execute("SELECT DISTINCT person_id, organization FROM contract_member_months").fetchall()
        )
    finally:
        con.close()
    got = {(p, y): o for p, y, o in rows}
    assert got == {
        ("Q1", 2024): "Alpha",
        ("Q1", 2025): "Alpha",
        ("Q2", 2024): "Beta",
        ("Q2", 2025): "Beta",
        ("Q3", 2024): None,
        ("Q3", 2025): "Alpha",
    }
    assert contract == {"Q1": "Alpha", "Q2": "Beta", "Q3": None}
    assert "window 2024-11 to 2025-10" in source


def test_page_lists_the_first_rows_and_the_csv_every_member(demo_extract, monkeypatch, tmp_path):
    """The member list on the page stops at its first rows (a page change must not ship tens of
    thousands of rows to the browser); it says so, and the CSV behind the button has every row."""
    import importlib.util

    from tests.conftest import open_page

    spec = importlib.util.spec_from_file_location("attribution_page", "pages/attribution.py")
    shown = int(
        next(ln for ln in open(spec.origin) if ln.startswith("SHOWN_ROWS")).split("=")[1].replace("_", "")
    )
    at = open_page(demo_extract, "pages/attribution.py", "payer", monkeypatch, state_root=tmp_path)
    table = next(df for df in at.dataframe if "person_id" in df.value.columns)
    caption = next(c.value for c in at.caption if "the CSV has every row" in c.value)
    total = int(caption.split(" of ")[1].split(" rows")[0].replace(",", ""))
    assert len(table.value) == shown < total
    in_force = next(c.value for c in at.caption if c.value.startswith("In force in"))
    assert f"{total:,} enrolled members" in in_force
