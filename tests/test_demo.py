"""The demo data generator: contract shape, determinism, dates, realism bands and planted stories,
each checked with plain pandas straight from the Parquet files it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vbc.contract import DATE, INTEGER, NUMBER, STRING, TABLES
from vbc.demo import ORGANIZATIONS, STATIN_NDCS, generate
from vbc.demo.columns import NOT_GENERATED
from vbc.extracts import table_files

MEMBERS, MONTHS, SEED, CHUNK = 3000, 36, 11, 1000
PCP_SPECIALTIES = {"internal medicine", "family practice", "geriatric medicine", "nurse practitioner"}
ED_REVENUE = {"0450", "0451", "0452", "0456", "0459", "0981"}
WRITTEN = ("eligibility", "provider", "medical_claim", "pharmacy_claim", "lab_result", "observation")


def _run(out: Path, seed: int = SEED) -> dict:
    return generate(out, members=MEMBERS, months=MONTHS, seed=seed, chunk_members=CHUNK)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    return out, _run(out)


def _read(data: Path, table: str) -> pd.DataFrame:
    df = pa.concat_tables([pq.read_table(f) for f in table_files(data, table)]).to_pandas()
    for c in TABLES[table].columns:
        if c.type == DATE:
            df[c.name] = pd.to_datetime(df[c.name])
    return df


@pytest.fixture(scope="module")
def tables(demo) -> dict[str, pd.DataFrame]:
    data, _ = demo
    return {t: _read(data, t) for t in WRITTEN}


def _member_months(elig: pd.DataFrame) -> pd.DataFrame:
    """Calendar months with at least one enrolled day (and not after death), per person."""
    end = elig.enrollment_end_date.where(
        elig.death_date.isna(), elig[["enrollment_end_date", "death_date"]].min(axis=1)
    )
    s = elig.enrollment_start_date.dt.to_period("M").map(lambda p: p.ordinal).to_numpy()
    e = end.dt.to_period("M").map(lambda p: p.ordinal).to_numpy()
    n = e - s + 1
    person = np.repeat(elig.person_id.to_numpy(), n)
    month = np.repeat(s, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    return pd.DataFrame({"person_id": person, "month": month}).drop_duplicates()


@pytest.fixture(scope="module")
def mature(demo, tables) -> dict:
    """Member months and claims for months at least six months before the paid-through date."""
    _, summary = demo
    cut = pd.Period(summary["end_month"], "M").ordinal - 6
    mm = _member_months(tables["eligibility"])
    med = tables["medical_claim"]
    med = med.assign(month=med.claim_start_date.dt.to_period("M").map(lambda p: p.ordinal))
    rx = tables["pharmacy_claim"]
    rx = rx.assign(month=rx.dispensing_date.dt.to_period("M").map(lambda p: p.ordinal))
    return {
        "mm": mm[mm.month <= cut],
        "med": med[med.month <= cut],
        "rx": rx[rx.month <= cut],
        "cut": cut,
        "all_med": med,
    }


def _per_1000(events: int, member_months: int) -> float:
    return events / member_months * 12_000


# ------------------------------------------------------------------------------------------ shape


def test_files_summary_and_counts(demo, tables):
    data, summary = demo
    assert json.loads((data / "_demo.json").read_text()) == json.loads(json.dumps(summary))
    assert (
        not (data / "provider_attribution.parquet").exists() and not (data / "provider_attribution").exists()
    )
    parts = sorted(p.name for p in (data / "medical_claim").glob("*.parquet"))
    assert parts == [f"part-{i:05d}.parquet" for i in range(MEMBERS // CHUNK)]
    assert len(list((data / "pharmacy_claim").glob("*.parquet"))) == MEMBERS // CHUNK
    for t in WRITTEN:
        assert summary["counts"][t] == len(tables[t]) > 0, t
    assert (summary["seed"], summary["members"], summary["months"]) == (SEED, MEMBERS, MONTHS)
    assert (summary["start_month"], summary["end_month"], summary["paid_through"]) == (
        "2023-11",
        "2026-10",
        "2026-10-31",
    )
    assert tables["eligibility"].person_id.nunique() == MEMBERS
    assert sum(summary["organizations"].values()) == MEMBERS


def test_every_contract_column_with_its_type_family(demo):
    data, _ = demo
    want = {STRING: pa.string(), DATE: pa.date32(), NUMBER: pa.float64(), INTEGER: pa.int64()}
    for name in WRITTEN:
        files = table_files(data, name)
        assert files, name
        for f in files:
            schema = pq.read_schema(f)
            for col in TABLES[name].columns:
                if col.name in NOT_GENERATED:  # corrections only: a clean delivery has none
                    assert col.name not in schema.names
                    continue
                assert col.name in schema.names, f"{f.name}: {col.name}"
                assert schema.field(col.name).type == want[col.type], f"{name}.{col.name}"


def test_same_seed_same_data_other_seed_other_data(demo, tmp_path):
    data, summary = demo
    again = _run(tmp_path / "again")
    assert again == summary
    for t in WRITTEN:
        for a, b in zip(table_files(data, t), table_files(tmp_path / "again", t)):
            assert pq.read_table(a).equals(pq.read_table(b)), t
    other = generate(tmp_path / "other", members=MEMBERS, months=MONTHS, seed=SEED + 1, chunk_members=CHUNK)
    a = pq.read_table(data / "medical_claim" / "part-00000.parquet")
    b = pq.read_table(tmp_path / "other" / "medical_claim" / "part-00000.parquet")
    assert not a.equals(b)
    assert other["counts"]["medical_claim"] != summary["counts"]["medical_claim"]


def test_keys_unique_and_lines_numbered(tables):
    med = tables["medical_claim"]
    assert not med.duplicated(["claim_id", "claim_line_number"]).any()
    lines = med.groupby("claim_id").claim_line_number.agg(["min", "max", "count"])
    assert (lines["min"] == 1).all() and (lines["max"] == lines["count"]).all()
    # Claim-level fields agree across a claim's lines.
    assert (med.groupby("claim_id")[["person_id", "claim_type", "paid_date"]].nunique() == 1).all().all()
    rx = tables["pharmacy_claim"]
    assert rx.claim_id.is_unique and (rx.claim_line_number == 1).all()
    assert not set(med.claim_id) & set(rx.claim_id)


def test_no_date_after_paid_through_and_no_payment_before_service(demo, tables):
    _, summary = demo
    through = pd.Timestamp(summary["paid_through"])
    start = pd.Timestamp(summary["start_month"] + "-01")
    for name in ("medical_claim", "pharmacy_claim", "lab_result", "observation", "eligibility"):
        df = tables[name]
        for c in TABLES[name].columns:
            if c.type == DATE:
                assert not (df[c.name] > through).any(), f"{name}.{c.name}"
    med, rx = tables["medical_claim"], tables["pharmacy_claim"]
    assert (med.claim_start_date >= start).all() and (rx.dispensing_date >= start).all()
    assert (med.paid_date >= med.claim_end_date).all() and (med.claim_end_date >= med.claim_start_date).all()
    assert (med.claim_line_start_date >= med.claim_start_date).all()
    assert (med.claim_line_end_date <= med.claim_end_date).all()
    ip = med[med.bill_type_code == "111"]
    assert (ip.admission_date == ip.claim_start_date).all() and (ip.discharge_date == ip.claim_end_date).all()
    lag = (rx.paid_date - rx.dispensing_date).dt.days
    assert lag.between(0, 20).all()


def test_services_only_while_enrolled_and_alive(tables):
    elig, med, rx = tables["eligibility"], tables["medical_claim"], tables["pharmacy_claim"]
    for df, col in ((med, "claim_line_end_date"), (rx, "dispensing_date")):
        j = df[["person_id", col]].merge(
            elig[["person_id", "enrollment_start_date", "enrollment_end_date", "death_date"]], on="person_id"
        )
        inside = (j[col] >= j.enrollment_start_date) & (j[col] <= j.enrollment_end_date)
        covered = inside.groupby([j.person_id, j[col]]).any()
        assert covered.all(), f"{col}: {int((~covered).sum())} service dates outside enrollment"
        assert not (j[col] > j.death_date).any()


def test_codes_and_identifiers_are_well_formed(tables):
    med, prov, rx = tables["medical_claim"], tables["provider"], tables["pharmacy_claim"]
    for i in range(1, 26):
        for col in (f"diagnosis_code_{i}", f"procedure_code_{i}"):
            assert not med[col].dropna().str.contains(".", regex=False).any(), col
    assert med.diagnosis_code_1.notna().all()
    assert prov.npi.str.fullmatch(r"\d{10}").all() and prov.npi.is_unique
    assert prov.tin.str.fullmatch(r"\d{9}").all()
    assert rx.ndc_code.str.fullmatch(r"\d{11}").all()
    assert set(med.claim_type) == {"institutional", "professional"}
    inst = med[med.claim_type == "institutional"]
    assert inst.bill_type_code.str.fullmatch(r"\d{3}").all() and inst.rendering_npi.isna().all()
    assert inst.facility_npi.isin(prov.npi[prov.provider_organization.isna()]).all()
    pro = med[med.claim_type == "professional"]
    assert pro.rendering_npi.isin(prov.npi).all() and pro.place_of_service_code.notna().all()
    tin_of = prov.set_index("npi").tin
    assert (pro.billing_tin == pro.rendering_npi.map(tin_of)).all()
    assert (med.allowed_amount >= med.paid_amount).all() and (med.paid_amount > 0).all()
    assert (med.paid_amount.round(2) == med.paid_amount).all()


def test_provider_roster_organizations(tables):
    prov = tables["provider"]
    pcps = prov[prov.specialty.isin(PCP_SPECIALTIES)]
    by_org = pcps.groupby("provider_organization").agg(pcps=("npi", "size"), tins=("tin", "nunique"))
    assert by_org.loc[ORGANIZATIONS[0]].tolist() == [26, 3]
    assert by_org.loc[ORGANIZATIONS[1]].tolist() == [11, 2]
    assert by_org.loc[ORGANIZATIONS[2]].tolist() == [3, 1]
    facilities = prov[
        prov.specialty.isin(["acute care hospital", "skilled nursing facility", "home health agency"])
    ]
    assert len(facilities) >= 8 and facilities.provider_organization.isna().all()
    specialists = prov[~prov.specialty.isin(PCP_SPECIALTIES) & (prov.provider_name.str.contains(", "))]
    assert 25 <= len(specialists) <= 60
    assert specialists.provider_organization.notna().sum() < specialists.provider_organization.isna().sum()


def test_population(tables, demo):
    _, summary = demo
    elig = tables["eligibility"]
    people = elig.drop_duplicates("person_id")
    assert 0.50 <= (people.gender == "female").mean() <= 0.60
    age = (people.enrollment_start_date - people.birth_date).dt.days / 365.25  # age when first enrolled
    assert 0.05 <= (age < 64.9).mean() <= 0.15 and age.between(44, 97).all()  # 64.9+: turning 65
    spans = elig.groupby("person_id").size()
    assert spans.max() == 2 and 0.002 <= (spans == 2).mean() <= 0.03
    died = people[people.death_date.notna()]
    member_years = len(_member_months(elig)) / 12
    assert 0.03 <= len(died) / member_years <= 0.06
    # Enrollment ends with the month of death.
    last = elig[elig.death_date.notna()].groupby("person_id").enrollment_end_date.max()
    death = died.set_index("person_id").death_date
    assert (last.loc[death.index].dt.to_period("M") == death.dt.to_period("M")).all()
    shares = {k: v / MEMBERS for k, v in summary["organizations"].items()}
    assert 0.5 <= shares[ORGANIZATIONS[0]] <= 0.7 and 0.2 <= shares[ORGANIZATIONS[1]] <= 0.34
    assert 0.005 <= shares[ORGANIZATIONS[2]] <= 0.04


# ------------------------------------------------------------------------------------------ realism


def test_total_pmpm_in_band(mature):
    paid = mature["med"].paid_amount.sum() + mature["rx"].paid_amount.sum()
    pmpm = paid / len(mature["mm"])
    assert 950 <= pmpm <= 1250, pmpm
    rx_pmpm = mature["rx"].paid_amount.sum() / len(mature["mm"])
    assert 180 <= rx_pmpm <= 300, rx_pmpm


def test_utilization_rates_in_band(mature):
    med, mm = mature["med"], len(mature["mm"])
    stays = med.loc[med.bill_type_code == "111", "claim_id"].nunique()
    assert 190 <= _per_1000(stays, mm) <= 310
    ed_visits = med.loc[
        med.place_of_service_code == "23", ["person_id", "claim_start_date"]
    ].drop_duplicates()
    assert 450 <= _per_1000(len(ed_visits), mm) <= 750
    # The same visits seen from the facility side: outpatient ED claims plus admissions through the ED.
    fac = med[med.revenue_center_code.isin(ED_REVENUE)][["person_id", "claim_start_date"]].drop_duplicates()
    assert abs(len(fac) - len(ed_visits)) <= 0.03 * len(ed_visits)
    admitted = med[
        (med.bill_type_code == "111") & med.revenue_center_code.isin(ED_REVENUE)
    ].claim_id.nunique()
    assert 0.12 <= admitted / len(ed_visits) <= 0.26
    office = med[
        (med.place_of_service_code == "11") & med.hcpcs_code.between("99202", "99215")
    ].claim_id.nunique()
    assert 4500 <= _per_1000(office, mm) <= 6500
    snf = med.loc[med.bill_type_code == "211", "claim_id"].nunique()
    assert 90 <= _per_1000(snf, mm) <= 200
    ip_paid = med[med.bill_type_code == "111"].groupby("claim_id").paid_amount.sum()
    assert 13_000 <= ip_paid.mean() <= 21_000  # about $15-17k a stay, plus the planted claimant


def test_readmissions_transfers_and_follow_up(tables):
    med = tables["medical_claim"]
    ip = (
        med[med.bill_type_code == "111"]
        .groupby("claim_id")
        .agg(
            p=("person_id", "first"),
            a=("admission_date", "first"),
            d=("discharge_date", "first"),
            disp=("discharge_disposition_code", "first"),
            fac=("facility_npi", "first"),
        )
        .reset_index()
    )
    pairs = ip.merge(ip, on="p", suffixes=("", "_n"))
    pairs = pairs[pairs.claim_id != pairs.claim_id_n]
    # Transfers: the next hospital admits on the discharge date.
    tr = ip[ip.disp == "02"]
    nxt = pairs[(pairs.disp == "02") & (pairs.a_n == pairs.d) & (pairs.fac_n != pairs.fac)]
    assert len(tr) > 10 and nxt.claim_id.nunique() >= 0.9 * len(tr)
    assert 0.01 <= len(tr) / len(ip) <= 0.06
    # About 15% of live discharges (not transfers) are followed by an admission within 30 days.
    index = ip[~ip.disp.isin(["02", "20"])]
    gap = (pairs.a_n - pairs.d).dt.days
    readmitted = pairs[pairs.claim_id.isin(index.claim_id) & gap.between(1, 30)].claim_id.nunique()
    assert 0.10 <= readmitted / len(index) <= 0.22
    # About half of discharges home see a clinician in the office within 7 days.
    home = ip[ip.disp.isin(["01", "06"])]
    visits = med[(med.place_of_service_code == "11") & med.hcpcs_code.between("99202", "99215")]
    j = home.merge(visits[["person_id", "claim_start_date"]], left_on="p", right_on="person_id")
    seen = j[((j.claim_start_date - j.d).dt.days).between(1, 7)].claim_id.nunique()
    assert 0.35 <= seen / len(home) <= 0.7


def test_recent_months_are_visibly_incomplete(mature):
    med = mature["all_med"]
    per_month = med.groupby("month").paid_amount.sum()
    settled = per_month.loc[: mature["cut"]].iloc[-12:].mean()
    last = per_month.index.max()
    assert per_month.loc[last] < 0.3 * settled
    assert per_month.loc[last - 1] < 0.8 * settled
    lag = (med.paid_date - med.claim_end_date).dt.days
    ip = med.bill_type_code == "111"
    assert 30 <= lag[ip].median() <= 60 and lag[ip].max() >= 120
    assert 14 <= lag[med.claim_type == "professional"].median() <= 45


# ------------------------------------------------------------------------------------------ stories


def test_winter_ed_rate_above_summer(mature):
    med, mm = mature["med"], mature["mm"]
    ed = med.loc[med.place_of_service_code == "23", ["person_id", "claim_start_date"]].drop_duplicates()
    ed_moy = ed.claim_start_date.dt.month.value_counts()
    mm_moy = (mm.month % 12 + 1).value_counts()  # period ordinal 0 is January 1970
    rate = ed_moy / mm_moy
    winter, summer = rate.loc[[12, 1, 2]].mean(), rate.loc[[6, 7, 8]].mean()
    assert winter > 1.12 * summer, (winter, summer)


def test_high_cost_claimant(demo, tables):
    _, summary = demo
    story = summary["stories"]["high_cost_claimant"]
    assert story["organization"] == "Lakeside Physician Group" and len(story["months"]) == 4
    med = tables["medical_claim"]
    mine = med[med.person_id == story["person_id"]]
    by_month = mine.groupby(mine.claim_start_date.dt.strftime("%Y-%m")).paid_amount.sum()
    assert 1_000_000 < by_month.reindex(story["months"]).sum() <= 2_100_000
    assert (by_month.reindex(story["months"]) > 100_000).all()
    assert by_month.reindex(story["months"]).sum() == pytest.approx(story["paid"], abs=0.01)
    assert {"018"} <= set(mine.drg_code.dropna())
    # Their primary care is with Lakeside, so attribution puts them there.
    prov = tables["provider"].set_index("npi")
    pc = mine[mine.hcpcs_code.between("99202", "99215")]
    assert (pc.rendering_npi.map(prov.provider_organization) == "Lakeside Physician Group").mean() > 0.5


def _bp_readings(tables) -> pd.DataFrame:
    obs, med, prov = tables["observation"], tables["medical_claim"], tables["provider"]
    wide = obs.pivot_table(
        index=["person_id", "observation_date"], columns="normalized_code", values="result", aggfunc="first"
    ).reset_index()
    wide["controlled"] = (wide["8480-6"].astype(int) < 140) & (wide["8462-4"].astype(int) < 90)
    dx = med[[f"diagnosis_code_{i}" for i in range(1, 13)]]
    hypertensive = set(med.person_id[(dx == "I10").any(axis=1)])
    pcp = prov[prov.specialty.isin(PCP_SPECIALTIES)][["npi", "provider_organization"]]
    visits = med[med.place_of_service_code == "11"].merge(pcp, left_on="rendering_npi", right_on="npi")
    visits = visits[["person_id", "claim_start_date", "provider_organization"]].drop_duplicates(
        ["person_id", "claim_start_date"]
    )
    r = wide[wide.person_id.isin(hypertensive)].merge(
        visits, left_on=["person_id", "observation_date"], right_on=["person_id", "claim_start_date"]
    )
    return r


def test_lakeside_blood_pressure_improvement(demo, tables):
    _, summary = demo
    story = summary["stories"]["quality_improvement"]
    assert story["organization"] == "Lakeside Physician Group" and story["start_month"] == "2025-06"
    r = _bp_readings(tables)
    after = r.observation_date >= pd.Timestamp(story["start_month"] + "-01")
    lake = r[r.provider_organization == "Lakeside Physician Group"]
    lake_after = lake.controlled[after.loc[lake.index]].mean()
    lake_before = lake.controlled[~after.loc[lake.index]].mean()
    assert lake_after - lake_before >= 0.10, (lake_before, lake_after)
    assert 0.55 <= lake_before <= 0.70
    # The other organizations stay where they were.
    big = r[r.provider_organization == "Riverbend Health Partners"]
    assert (
        abs(big.controlled[after.loc[big.index]].mean() - big.controlled[~after.loc[big.index]].mean()) < 0.05
    )
    assert 0.55 <= r.controlled.mean() <= 0.72


def test_quality_events_present(tables):
    med, lab, rx, elig = (
        tables["medical_claim"],
        tables["lab_result"],
        tables["pharmacy_claim"],
        tables["eligibility"],
    )
    # HbA1c results with a professional 83036 line on the same day.
    assert (lab.normalized_code == "4548-4").all() and (lab.result_units == "%").all()
    values = lab.result.astype(float)
    latest = lab.assign(v=values).sort_values("result_date").groupby("person_id").v.last()
    assert 0.10 <= (latest > 9).mean() <= 0.25
    a1c = med[(med.hcpcs_code == "83036") & (med.claim_type == "professional")]
    matched = lab.merge(
        a1c[["person_id", "claim_start_date"]].drop_duplicates(),
        left_on=["person_id", "result_date"],
        right_on=["person_id", "claim_start_date"],
    )
    assert len(matched) >= 0.9 * len(lab)
    codes = set(med.hcpcs_code.dropna())
    assert {
        "77067",
        "G0438",
        "G0439",
        "45378",
        "G0121",
        "82274",
        "81528",
        "E0601",
        "E1390",
        "K0001",
        "L3000",
        "80053",
        "85025",
        "99283",
        "99284",
        "99285",
    } <= codes
    # AWV for about half the members a year.
    people_2025 = _member_months(elig)
    people_2025 = people_2025[
        people_2025.month.between(pd.Period("2025-01", "M").ordinal, pd.Period("2025-12", "M").ordinal)
    ].person_id.nunique()
    awv = med[
        med.hcpcs_code.isin(["G0438", "G0439"]) & (med.claim_start_date.dt.year == 2025)
    ].person_id.nunique()
    assert 0.40 <= awv / people_2025 <= 0.65
    # Exclusion evidence.
    dx = med[[f"diagnosis_code_{i}" for i in range(1, 13)]]
    assert (dx == "Z9013").any(axis=1).any() and (dx == "C189").any(axis=1).any()
    assert (med.procedure_code_1 == "0DTE0ZZ").any()
    hospice = med[med.bill_type_code == "811"]
    assert hospice.person_id.nunique() > 5
    assert hospice.person_id.isin(elig.person_id[elig.death_date.notna()]).all()
    # Statin users mostly adherent: proportion of days covered >= 80% in 2025 for 65-90% of them.
    st = rx[rx.ndc_code.isin(STATIN_NDCS) & (rx.dispensing_date.dt.year == 2025)]
    st = st[st.groupby("person_id").claim_id.transform("size") >= 2]
    first = st.groupby("person_id").dispensing_date.transform("min")
    n = st.days_supply.to_numpy()
    day = np.repeat(st.dispensing_date.to_numpy(), n) + pd.to_timedelta(
        np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n), unit="D"
    )
    cover = pd.DataFrame({"person_id": np.repeat(st.person_id.to_numpy(), n), "day": day})
    cover = cover[cover.day <= pd.Timestamp("2025-12-31")].drop_duplicates()
    covered = cover.groupby("person_id").size()
    span = (pd.Timestamp("2025-12-31") - first.groupby(st.person_id).first()).dt.days + 1
    pdc = covered / span.loc[covered.index]
    assert len(pdc) > 100 and 0.65 <= (pdc >= 0.8).mean() <= 0.90
