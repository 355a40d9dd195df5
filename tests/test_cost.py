"""Cost: every category PMPM for several periods and groupings against plain pandas from the
Parquet files; the high-cost cap and `expenditure` on a hand-worked fixture; the "what moved"
decomposition on a hand example and on data (it must add up exactly)."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from tests.conftest import copy_extract, write_table
from tests.test_marts_demo import _read, plain_member_months
from vbc import cost
from vbc.engine import compute_metrics
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import NotEntitled, Viewer
from vbc.terms import HighCostCap
from vbc.workspace import Workspace

CATS = (
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
ED_REV = {"0450", "0451", "0452", "0456", "0459", "0981"}


def plain_lines(data) -> pd.DataFrame:
    """Every claim line with its service category, worked out in pandas from the raw extract."""
    med = _read(data, "medical_claim")
    bill2 = med["bill_type_code"].fillna("").str.lstrip("0").str[:2]
    inst = med["claim_type"] == "institutional"
    has_ed = med.assign(ed=med["revenue_center_code"].isin(ED_REV)).groupby("claim_id")["ed"].transform("any")
    claim_bill = med.assign(b=bill2).groupby("claim_id")["b"].transform("first")
    icat = pd.Series("other", index=med.index)
    icat[claim_bill.isin(["12", "13", "14", "71", "72", "73", "74", "75", "76", "77", "83", "85"])] = (
        "outpatient"
    )
    icat[claim_bill.isin(["13", "85"]) & has_ed] = "emergency"
    icat[claim_bill.isin(["32", "33", "34"])] = "home_health"
    icat[claim_bill.isin(["21", "18"])] = "snf"
    icat[claim_bill == "11"] = "inpatient"
    pos = med["place_of_service_code"]
    pcat = pd.Series("professional", index=med.index)
    pcat[pos.isin(["41", "42"])] = "other"
    pcat[pos.isin(["19", "22", "24"])] = "outpatient"
    pcat[pos == "31"] = "snf"
    pcat[pos.isin(["21", "51", "61"])] = "inpatient"
    pcat[pos == "23"] = "emergency"
    pcat[med["hcpcs_code"].fillna("").str[:1].str.upper().isin(["E", "K", "L"])] = "dme"
    rx = _read(data, "pharmacy_claim")
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "person_id": med.person_id,
                    "payer": med.payer,
                    "paid": med.paid_amount,
                    "allowed": med.allowed_amount.fillna(med.paid_amount),
                    "month": pd.to_datetime(med.claim_start_date).dt.to_period("M"),
                    "category": icat.where(inst, pcat),
                }
            ),
            pd.DataFrame(
                {
                    "person_id": rx.person_id,
                    "payer": rx.payer,
                    "paid": rx.paid_amount,
                    "allowed": rx.allowed_amount.fillna(rx.paid_amount),
                    "month": pd.to_datetime(rx.dispensing_date).dt.to_period("M"),
                    "category": "pharmacy",
                }
            ),
        ]
    )


@pytest.fixture(scope="module")
def attributed(demo_extract, tmp_path_factory):
    """Demo data with a payer-supplied attribution (organization, TIN, PCP known in advance)."""
    base = tmp_path_factory.mktemp("cost")
    data = copy_extract(demo_extract, base / "extract")
    mm = plain_member_months(data)
    orgs = ["North", "South", "East"]
    h = [
        int(hashlib.md5(f"{p}{m}".encode()).hexdigest(), 16)
        for p, m in zip(mm.person_id, mm.month.astype(str))
    ]
    mm["org"] = [orgs[x % 3] if x % 7 else None for x in h]
    mm["tin"] = [f"TIN-{o}" if isinstance(o, str) else None for o in mm["org"]]
    mm["npi"] = [f"NPI-{o}-{x % 2}" if isinstance(o, str) else None for o, x in zip(mm["org"], h)]
    write_table(
        data,
        "provider_attribution",
        [
            dict(
                person_id=r.person_id,
                year_month=r.month.strftime("%Y%m"),
                payer=r.payer,
                payer_attributed_provider=r.npi,
                payer_attributed_provider_practice=r.tin,
                payer_attributed_provider_organization=r.org,
            )
            for r in mm.itertuples()
            if isinstance(r.org, str)
        ],
    )
    ws = Workspace(data.resolve(), base / "state")
    assert ws.build().ok
    return ws, mm, plain_lines(data)


@pytest.mark.parametrize(
    "start,end", [("2025-01", "2025-12"), ("2025-06", "2025-06"), ("2024-11", "2025-04")]
)
@pytest.mark.parametrize("by", [None, "organization", "tin", "npi", "month"])
def test_every_category_pmpm_equals_plain_computation(attributed, start, end, by):
    ws, mm, lines = attributed
    registry = load_registry()
    ids = ["total_cost_pmpm", "total_allowed_pmpm", *[f"pmpm_{c}" for c in CATS]]
    got = compute_metrics(
        ws, registry, ids, Viewer("payer"), Period.from_months(start, end), [by] if by else []
    )
    s, e = pd.Period(start, "M"), pd.Period(end, "M")
    mm_in = mm[(mm.month >= s) & (mm.month <= e)].copy()
    col = {"organization": "org"}.get(by, by)
    mm_in["g"] = mm_in[col].astype(str) if by == "month" else (mm_in[col] if by else "all")
    matched = lines.merge(mm_in, on=["person_id", "payer", "month"])
    den = mm_in.groupby("g", dropna=False).size()
    checked = 0
    for metric_id in ids:
        if metric_id == "total_cost_pmpm":
            part, col = matched, "paid"
        elif metric_id == "total_allowed_pmpm":
            part, col = matched, "allowed"
        else:
            part, col = matched[matched.category == metric_id[5:]], "paid"
        num = part.groupby("g", dropna=False)[col].sum()
        rows = got[got.metric_id == metric_id]
        for g, d in den.items():
            if by:
                row = rows[rows[by].isna()] if pd.isna(g) else rows[rows[by] == g]
            else:
                row = rows
            assert len(row) == 1, (metric_id, g)
            row = row.iloc[0]
            assert row.denominator == d
            assert row.numerator == pytest.approx(num.get(g, 0.0), abs=0.005)
            assert row.value == pytest.approx(num.get(g, 0.0) / d, rel=1e-9, abs=1e-9)
            checked += 1
    assert checked >= len(ids)
    # The nine categories add up to the total.
    total = got[got.metric_id == "total_cost_pmpm"]["numerator"].sum()
    assert got[got.metric_id.str.startswith("pmpm_")]["numerator"].sum() == pytest.approx(total)


# ---------------------------------------------------------------------- cap and expenditure
@pytest.fixture
def runout_ws(built):
    ws = built("runout")
    return ws


Q1 = Period.from_months("2025-01", "2025-03")


def test_expenditure_uncapped_matches_the_engine(runout_ws):
    exp = cost.expenditure(runout_ws, Viewer("payer"), Q1)
    assert exp["member_months"] == 6 and exp["persons"] == 2
    assert exp["paid"] == pytest.approx(766) and exp["capped_dollars"] == 0
    assert exp["completed"] == pytest.approx(990)  # 176 + 290 × 1.1 + 300 × 1.65
    assert exp["pmpm"] == pytest.approx(165) and exp["pmpm_raw"] == pytest.approx(766 / 6)
    assert exp["pmpm_low"] < 165 < exp["pmpm_high"]
    assert exp["incomplete_months"] == ["2025-02", "2025-03"]
    assert exp["completion_factor"] == pytest.approx(766 / 990)
    engine = compute_metrics(runout_ws, load_registry(), ["total_cost_pmpm_completed"], Viewer("payer"), Q1)
    assert engine.iloc[0]["value"] == pytest.approx(exp["pmpm"])
    assert engine.iloc[0]["ci_low"] == pytest.approx(exp["pmpm_low"])


def test_cap_removes_dollars_above_the_annual_cap(runout_ws):
    # X pays 100, 200, 300 (cumulative 600): a $450 cap keeps 100, 200 and 150 of March's 300.
    exp = cost.expenditure(runout_ws, Viewer("payer"), Q1, cap=HighCostCap(amount=450))
    assert exp["capped_dollars"] == pytest.approx(150)
    # completed after the cap: Jan 176, Feb 290 × 1.1 = 319, Mar (150 + 0) × 1.65 = 247.5
    assert exp["completed"] == pytest.approx(742.5)
    assert exp["pmpm"] == pytest.approx(742.5 / 6)
    raw = cost.expenditure(runout_ws, Viewer("payer"), Q1, cap=HighCostCap(amount=450), complete=False)
    assert raw["completed"] == pytest.approx(616) and raw["incomplete_months"] == []
    claimants = cost.high_cost_claimants(runout_ws, Viewer("payer"), Q1, HighCostCap(amount=450))
    assert claimants[["person_id", "annual_paid", "capped_dollars"]].values.tolist() == [["X", 600.0, 150.0]]
    joint = cost.high_cost_claimants(runout_ws, Viewer("joint"), Q1, HighCostCap(amount=450))
    assert "person_id" not in joint.columns and joint["suppressed"].all()
    assert joint["claimants"].isna().all() and joint["capped_dollars"].isna().all()
    # A percentile cap: the 50th percentile of annual cost over X (600) and Y (166) is 383.
    pct = cost.expenditure(runout_ws, Viewer("payer"), Q1, cap=HighCostCap(percentile=50), complete=False)
    assert pct["capped_dollars"] == pytest.approx(600 - 383)


def test_expenditure_respects_the_viewer(runout_ws):
    alpha = Viewer("org", "Alpha Care")
    exp = cost.expenditure(runout_ws, alpha, Q1, complete=False)
    assert exp["member_months"] == 3 and exp["paid"] == pytest.approx(600)
    assert cost.expenditure(runout_ws, Viewer("payer"), Q1, "Beta Health", complete=False)[
        "paid"
    ] == pytest.approx(166)
    with pytest.raises(NotEntitled):
        cost.expenditure(runout_ws, alpha, Q1, organization="Beta Health")


# ---------------------------------------------------------------------- what moved
def test_decomposition_hand_example():
    # Before: 1,000 member months, 20 admissions, $200,000 -> PMPM $200, 0.02 per MM, $10,000 each.
    # After:  1,000 member months, 22 admissions, $231,000 -> PMPM $231, 0.022 per MM, $10,500 each.
    # utilization = (0.022 - 0.020) × 10,000 = $20; unit cost = (10,500 - 10,000) × 0.020 = $10;
    # both together = 0.002 × 500 = $1; total $31.
    r = cost.decompose_values(1000, 200_000, 20, 1000, 231_000, 22)
    assert r["change"] == pytest.approx(31)
    assert (r["utilization"], r["unit_cost"], r["mix"]) == pytest.approx((20, 10, 1))
    assert r["per_1000_before"] == pytest.approx(240) and r["per_1000_after"] == pytest.approx(264)
    text = cost.sentence(
        {**r, "label": "Acute inpatient", "events": "admissions", "unit_label": "cost per admission"}
    )
    assert text.startswith("Acute inpatient PMPM rose $31.00")
    assert "+$20.00 from more admissions" in text and "+$10.00 from higher cost per admission" in text
    assert "+$1.00 from both together" in text


def test_what_moved_adds_up_on_data(attributed):
    ws = attributed[0]
    moved = cost.what_moved(
        ws,
        Viewer("payer"),
        Period.from_months("2025-01", "2025-06"),
        Period.from_months("2026-01", "2026-06"),
        complete=False,
    )
    assert len(moved) == 9
    parts = moved["utilization"] + moved["unit_cost"] + moved["mix"]
    assert (parts - moved["change"]).abs().max() < 1e-9
    # Raw PMPMs equal the engine's category PMPMs.
    registry = load_registry()
    after = compute_metrics(
        ws, registry, [f"pmpm_{c}" for c in CATS], Viewer("payer"), Period.from_months("2026-01", "2026-06")
    ).set_index("metric_id")["value"]
    for r in moved.itertuples():
        assert r.pmpm_after == pytest.approx(after[f"pmpm_{r.category}"])


def test_planted_high_cost_claimant_is_a_signal_only_uncapped(demo_ws):
    """Demo story: one very high-cost claimant at Lakeside. On Lakeside's monthly completed PMPM the
    XmR chart flags the claimant's months uncapped; with the $250,000 cap they are common cause."""
    import json

    import numpy as np

    from vbc import stats
    from vbc.engine import data_period

    ws = demo_ws
    story = json.loads((ws.data_dir / "_demo.json").read_text())["stories"]["high_cost_claimant"]
    flagged = {}
    for name, cap in (("uncapped", None), ("capped", cost.DEFAULT_CAP)):
        m = cost.monthly_cost(ws, Viewer("payer"), data_period(ws), story["organization"], None, cap)
        res = stats.spc(np.where(m["incomplete"], np.nan, m["pmpm"]), "lower", kind="xmr")
        flagged[name] = {mo for mo, f in zip(m["month"], res["flags"]["any"]) if f}
    assert flagged["uncapped"] and flagged["uncapped"] <= set(story["months"])
    assert not (flagged["capped"] & set(story["months"]))
    claimants = cost.high_cost_claimants(
        ws, Viewer("org", story["organization"]), Period.from_months("2025-01", "2025-12"), cost.DEFAULT_CAP
    )
    assert story["person_id"] in set(claimants["person_id"])
