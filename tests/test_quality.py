"""Quality measures on a hand-built fixture, worked out by hand; SPC on demo data; entitlement.

The fixture: everyone is enrolled 2015-2025, the period is calendar 2025 (ends 2025-12-31), every
member has an attribution visit (99213, dx Z0000) on 2025-01-15 with N1 (Alpha Care) or N2 (Beta
Health), and the last claim in the data is on 2025-12-31. Ages are at 2025-12-31.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from tests.conftest import _elig, _line, built_workspace, write_table
from vbc import cli, quality, spc
from vbc.engine import compute_metrics, export_rows
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import NotEntitled, Viewer

P2025 = Period.from_months("2025-01", "2025-12")
BORN_70 = "1955-06-01"  # age 70 at 2025-12-31
PAID = "2026-01-31"

# person -> (gender, birth date, attributed PCP)
PEOPLE = {
    # breast cancer screening (women 42-74, CMS125 for 2026)
    "W1": ("female", "1951-12-31", "N1"),  # 74 on the last day: in
    "W2": ("female", "1950-12-31", "N1"),  # 75: out
    "W3": ("female", "1973-12-31", "N2"),  # 52 on the last day: in
    "W4": ("female", "1974-01-01", "N1"),  # 51: in (42-74), out of the 50-74 variant only by window
    "W5": ("female", BORN_70, "N1"),  # bilateral mastectomy
    "W6": ("female", BORN_70, "N1"),  # hospice
    "W7": ("female", BORN_70, "N2"),  # no mammogram at all
    # colorectal cancer screening (46-75)
    "C1": ("male", "1979-12-31", "N1"),  # 46: colonoscopy on the window's first day
    "C2": ("male", "1980-01-01", "N1"),  # 45: out
    "C3": ("male", "1950-06-01", "N1"),  # 75: FIT one day before its 12-month window
    "C4": ("male", BORN_70, "N1"),  # FIT-DNA on the 3-year window's first day
    "C5": ("male", BORN_70, "N1"),  # flexible sigmoidoscopy one day before its 5-year window
    "C6": ("male", BORN_70, "N1"),  # CT colonography on the 5-year window's first day
    "C7": ("male", BORN_70, "N1"),  # colorectal cancer
    "C8": ("male", BORN_70, "N1"),  # total colectomy
    # blood pressure (18-85 with I10 in 2024-01-01 .. 2025-06-30)
    "B1": ("male", "1940-12-31", "N1"),  # 85
    "B2": ("male", "1939-12-31", "N1"),  # 86: out
    "B3": ("male", "1995-06-01", "N1"),  # 30
    "B4": ("male", "1995-06-01", "N1"),  # I10 only on 2025-07-01: out
    "B5": ("male", "1995-06-01", "N2"),  # no reading
    "B6": ("male", "1995-06-01", "N1"),  # ESRD
    "B7": ("male", "1995-06-01", "N1"),  # 139/89
    # HbA1c (18-75 with diabetes in 2024-01-01 .. 2025-12-31)
    "D1": ("male", "1950-12-31", "N1"),  # 75
    "D2": ("male", "1949-12-31", "N1"),  # 76: out
    "D3": ("male", "1995-06-01", "N1"),
    "D4": ("male", "1995-06-01", "N1"),
    "D5": ("male", "1995-06-01", "N1"),
    "D6": ("male", "1995-06-01", "N1"),  # hospice
    "D7": ("male", "1995-06-01", "N1"),  # diabetes only in 2023, taken as continuing: in
    # statins
    "S1": ("male", "1995-06-01", "N1"),
    "S2": ("male", "1995-06-01", "N1"),
    "S3": ("male", "1995-06-01", "N1"),
    # inpatient stays
    "R1": ("male", "1995-06-01", "N1"),
    "R2": ("male", "1995-06-01", "N1"),
    "R3": ("male", "1995-06-01", "N1"),
    "R4": ("male", "1995-06-01", "N1"),
    "R5": ("male", "1995-06-01", "N1"),
    "R6": ("male", "1995-06-01", "N2"),
}
DEATHS = {"R3": "2025-06-03"}


def _prof(cid, pid, day, hcpcs, dx="Z0000", npi=None, pos="11"):
    npi = npi or PEOPLE[pid][2]  # by default the member's own PCP, so attribution stays put
    tin = {"N1": "T1", "N2": "T2"}.get(npi, "T9")
    return _line(cid, 1, pid, day, 50.0, hcpcs=hcpcs, pos=pos, npi=npi, tin=tin, dx=dx, paid_date=PAID)


def _stay(cid, pid, admit, discharge, disp, drg="291", dx="I509", proc=None):
    row = _line(
        cid,
        1,
        pid,
        admit,
        9000.0,
        claim_type="institutional",
        bill="111",
        rev="0120",
        end=discharge,
        admit=admit,
        discharge=discharge,
        disposition=disp,
        dx=dx,
        paid_date=PAID,
    )
    row["drg_code"] = drg
    row["procedure_code_1"] = proc
    return row


def build_quality_extract(d):
    elig = []
    for pid, (gender, birth, _) in PEOPLE.items():
        elig.append(_elig(pid, "2015-01-01", "2025-12-31", death=DEATHS.get(pid), gender=gender, birth=birth))
    write_table(d, "eligibility", elig)
    write_table(
        d,
        "provider",
        [
            dict(
                npi="N1",
                provider_name="Dr One",
                specialty="internal medicine",
                tin="T1",
                provider_organization="Alpha Care",
            ),
            dict(
                npi="N2",
                provider_name="Dr Two",
                specialty="family practice",
                tin="T2",
                provider_organization="Beta Health",
            ),
            dict(
                npi="N9",
                provider_name="Radiology Group",
                specialty="radiology",
                tin="T9",
                provider_organization=None,
            ),
            dict(
                npi="F1",
                provider_name="General Hospital",
                specialty="acute care hospital",
                tin="T8",
                provider_organization=None,
            ),
        ],
    )
    n = iter(range(1, 10_000))
    c = lambda: f"c{next(n)}"  # noqa: E731
    rows = [_prof(c(), pid, "2025-01-15", "99213", npi=pcp) for pid, (_, _, pcp) in PEOPLE.items()]
    rows += [_prof(c(), "B1", "2025-12-31", "99212")]  # the last service date in the data
    rows += [
        # breast cancer screening: window starts 2023-10-01 (27 months ending 2025-12-31)
        _prof(c(), "W1", "2023-10-01", "77067", npi="N9", pos="22"),
        _prof(c(), "W2", "2025-03-01", "77067", npi="N9", pos="22"),
        _prof(c(), "W3", "2023-09-30", "77067", npi="N9", pos="22"),
        _prof(c(), "W5", "2024-05-01", "99213", dx="Z9013"),
        _prof(c(), "W5", "2025-02-01", "77067", npi="N9", pos="22"),
        _line(
            c(),
            1,
            "W6",
            "2025-03-01",
            4000.0,
            claim_type="institutional",
            bill="811",
            rev="0651",
            end="2025-03-31",
            dx="C509",
            paid_date=PAID,
        ),
        # colorectal: colonoscopy from 2016-01-01, sigmoidoscopy/CTC from 2021-01-01,
        # FIT-DNA from 2023-01-01, FIT from 2025-01-01
        _prof(c(), "C1", "2016-01-01", "G0121", npi="N9", pos="22"),
        _prof(c(), "C2", "2025-03-01", "82274"),
        _prof(c(), "C3", "2024-12-31", "82274"),
        _prof(c(), "C4", "2023-01-01", "81528"),
        _prof(c(), "C5", "2020-12-31", "45330", npi="N9", pos="22"),
        _prof(c(), "C6", "2021-01-01", "74263", npi="N9", pos="22"),
        _prof(c(), "C7", "2024-02-01", "99214", dx="C189"),
        _stay(c(), "C8", "2019-04-01", "2019-04-08", "01", drg="329", dx="K5730", proc="0DTE0ZZ"),
        # blood pressure: hypertension window 2024-01-01 .. 2025-06-30
        _prof(c(), "B1", "2024-01-01", "99213", dx="I10"),
        _prof(c(), "B2", "2025-02-01", "99213", dx="I10"),
        _prof(c(), "B3", "2025-06-30", "99213", dx="I10"),
        _prof(c(), "B4", "2025-07-01", "99213", dx="I10"),
        _prof(c(), "B5", "2025-02-01", "99213", dx="I10"),
        _prof(c(), "B6", "2025-02-01", "99213", dx="I10"),
        _prof(c(), "B6", "2025-03-01", "90935", dx="N186"),
        _prof(c(), "B7", "2025-02-01", "99213", dx="I10"),
        # diabetes: window 2024-01-01 .. 2025-12-31
        _prof(c(), "D1", "2025-02-01", "99213", dx="E119"),
        _prof(c(), "D2", "2025-02-01", "99213", dx="E119"),
        _prof(c(), "D3", "2024-06-01", "99213", dx="E1165"),
        _prof(c(), "D4", "2025-02-01", "99213", dx="E119"),
        _prof(c(), "D5", "2025-02-01", "99213", dx="E119"),
        _prof(c(), "D6", "2025-02-01", "99213", dx="E119"),
        # Q5003 (hospice in a nursing facility) is in CMS's Hospice Encounter value set; Q5001,
        # which this fixture used before, is not (tests/test_quality_spec.py checks that it no
        # longer excludes).
        _prof(c(), "D6", "2025-04-01", "Q5003", dx="C349", npi="N9", pos="12"),
        _prof(c(), "D7", "2023-12-31", "99213", dx="E119"),
        # annual wellness visits
        _prof(c(), "W1", "2025-06-01", "G0439"),
        _prof(c(), "C1", "2025-06-01", "G0438"),
        # inpatient: R1 transfer A1 -> A2 chained, readmitted 30 days after on 2025-03-12
        _stay(c(), "R1", "2025-02-01", "2025-02-05", "02"),
        _stay(c(), "R1", "2025-02-05", "2025-02-10", "01"),
        _prof(c(), "R1", "2025-02-17", "99214"),  # 7th day after discharge
        _stay(c(), "R1", "2025-03-12", "2025-03-15", "01"),
        # R2: planned readmission (DRG 470) 16 days later; follow-up visit on day 8
        _stay(c(), "R2", "2025-05-01", "2025-05-04", "01"),
        _prof(c(), "R2", "2025-05-12", "99214"),
        _stay(c(), "R2", "2025-05-20", "2025-05-23", "01", drg="470", dx="M1711", proc="0SRC0J9"),
        _prof(c(), "R2", "2025-05-23", "99213"),  # discharge day: not after it
        # R3: died in hospital
        _stay(c(), "R3", "2025-06-01", "2025-06-03", "20"),
        # R4: discharged 2025-12-20: 30 days not in the data, 7 days are
        _stay(c(), "R4", "2025-12-15", "2025-12-20", "01"),
        # R5: readmitted on day 31; TCM visit the day after the second discharge
        _stay(c(), "R5", "2025-08-01", "2025-08-05", "01"),
        _stay(c(), "R5", "2025-09-05", "2025-09-08", "06"),
        _prof(c(), "R5", "2025-09-09", "99495"),
        # R6: readmitted 3 days after discharge; visit 2 days after the second discharge
        _stay(c(), "R6", "2025-10-01", "2025-10-03", "01"),
        _stay(c(), "R6", "2025-10-06", "2025-10-08", "06"),
        _prof(c(), "R6", "2025-10-10", "99213", npi="N2"),
    ]
    write_table(d, "medical_claim", rows)

    def obs(pid, day, sys_, dia):
        out = []
        if sys_ is not None:
            out.append(
                dict(
                    person_id=pid,
                    observation_date=day,
                    normalized_code_type="loinc",
                    normalized_code="8480-6",
                    result=str(sys_),
                    result_units="mm[Hg]",
                )
            )
        if dia is not None:
            out.append(
                dict(
                    person_id=pid,
                    observation_date=day,
                    normalized_code_type="loinc",
                    normalized_code="8462-4",
                    result=str(dia),
                    result_units="mm[Hg]",
                )
            )
        return out

    write_table(
        d,
        "observation",
        [
            *obs("B1", "2025-03-01", 150, 95),
            *obs("B1", "2025-11-10", 150, 85),
            *obs("B1", "2025-11-10", 135, 95),  # lowest: 135/85
            *obs("B3", "2025-02-01", 120, 80),
            *obs("B3", "2025-10-01", 145, 80),
            *obs("B7", "2025-05-01", 139, 89),
            *obs("B7", "2025-06-01", 150, None),  # no diastolic
            *obs("B6", "2025-04-01", 120, 70),
        ],
    )

    def lab(pid, day, value):
        return dict(
            person_id=pid,
            result_date=day,
            normalized_code_type="loinc",
            normalized_code="4548-4",
            result=value,
            result_units="%",
        )

    write_table(
        d,
        "lab_result",
        [
            lab("D1", "2025-02-01", "9.5"),
            lab("D1", "2025-09-01", "8.0"),
            lab("D3", "2025-04-01", "9.1"),
            lab("D5", "2025-05-01", "9.0"),
            lab("D5", "2025-06-01", "pending"),
            lab("D6", "2025-03-01", "10.2"),
        ],
    )

    def fill(cid, pid, day, days, ndc="00071015523"):
        return dict(
            claim_id=cid,
            claim_line_number=1,
            person_id=pid,
            member_id="M" + pid,
            payer="Medicare",
            plan="ACO",
            prescribing_provider_npi="N1",
            dispensing_date=day,
            ndc_code=ndc,
            quantity=float(days),
            days_supply=days,
            paid_date=PAID,
            paid_amount=10.0,
            allowed_amount=12.0,
        )

    write_table(
        d,
        "pharmacy_claim",
        [
            fill("x1", "S1", "2025-01-01", 90),
            fill("x2", "S1", "2025-03-01", 90),
            fill("x3", "S1", "2025-06-01", 90, ndc="00310075190"),
            fill("x4", "S1", "2025-09-01", 30),
            fill("x5", "S2", "2025-04-01", 90),
            fill("x6", "S3", "2025-01-01", 30),
            fill("x7", "S3", "2025-06-01", 30),
            fill("x8", "W1", "2025-02-01", 30, ndc="99999999999"),  # not a statin
        ],
    )
    return d


@pytest.fixture(scope="module")
def qx(tmp_path_factory):
    base = tmp_path_factory.mktemp("quality")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VBC_STATE_DIR", str(base / "state"))
        d = build_quality_extract(base / "extract")
        ws = built_workspace(d)
        yield ws


@pytest.fixture(scope="module")
def reg():
    return load_registry()


def _results(ws, reg, mid, viewer=Viewer("payer")):
    return quality.measure_results(ws, reg, mid, viewer, P2025)


def _by_person(df):
    return {
        r.person_id: (r.in_denominator, r.exclusion_reason if r.excluded else None, r.in_numerator)
        for r in df.itertuples()
    }


def test_breast_cancer_screening_by_hand(qx, reg):
    got = _by_person(_results(qx, reg, "breast_cancer_screening"))
    # CMS125 (2026): women 42-74 with a qualifying visit (everyone has the 99213 of 2025-01-15);
    # the window runs from 1 October two years before the period's first year: 2023-10-01.
    # W1: 74 on 2025-12-31, mammogram on 2023-10-01 = the window's first day -> met.
    # W3: 52, mammogram on 2023-09-30, one day early -> not met. W7: none -> not met.
    # W4: 51, inside 42-74 (the 2024 specification's 52-74 left her out): no mammogram -> not met.
    # W5 mastectomy (Z90.13), W6 hospice (bill type 811) excluded. W2 (75), men: absent.
    assert got == {
        "W1": (True, None, True),
        "W3": (True, None, False),
        "W4": (True, None, False),
        "W7": (True, None, False),
        "W5": (False, "bilateral mastectomy", False),
        "W6": (False, "hospice", False),
    }
    rate = compute_metrics(qx, reg, ["breast_cancer_screening"], Viewer("payer"), P2025)
    assert (rate["numerator"].iloc[0], rate["denominator"].iloc[0]) == (1, 4)  # 1 of W1, W3, W4, W7
    res = _results(qx, reg, "breast_cancer_screening").set_index("person_id")
    assert (res.loc["W1", "evidence_code"], res.loc["W1", "evidence_date"]) == ("77067", "2023-10-01")


def test_variant_age_band_and_lookback(qx, reg):
    got = _by_person(_results(qx, reg, "breast_cancer_screening_50_74"))
    # 50-74 and a 24-month window from 2024-01-01: W1's 2023-10-01 mammogram is now too old;
    # W4 (51) joins with no mammogram. W2 (75) is still out.
    assert got["W1"] == (True, None, False)
    assert got["W4"] == (True, None, False)
    assert "W2" not in got


def test_colorectal_screening_by_hand(qx, reg):
    got = _by_person(_results(qx, reg, "colorectal_cancer_screening"))
    expected = {
        "C1": (True, None, True),  # 46; colonoscopy 2016-01-01 = first day of the 10-year window
        "C3": (True, None, False),  # 75; FIT 2024-12-31, one day before its 12-month window
        "C4": (True, None, True),  # FIT-DNA 2023-01-01 = first day of the 3-year window
        "C5": (True, None, False),  # sigmoidoscopy 2020-12-31, one day before the 5-year window
        "C6": (True, None, True),  # CT colonography 2021-01-01 = first day of the 5-year window
        "C7": (False, "colorectal cancer", False),
        "C8": (False, "total colectomy", False),
        # everyone else aged 46-75 has no test: W1 (74), W2 (75), W3 (52), W4 (51), W5, W7 (70),
        # D1 (75); W6 is in hospice. C2 (45), B1 (85), D2 (76) and the 30-year-olds are absent.
        "W1": (True, None, False),
        "W2": (True, None, False),
        "W3": (True, None, False),
        "W4": (True, None, False),
        "W5": (True, None, False),
        "W6": (False, "hospice", False),
        "W7": (True, None, False),
        "D1": (True, None, False),
    }
    assert got == expected


def test_controlling_blood_pressure_by_hand(qx, reg):
    got = _by_person(_results(qx, reg, "controlling_blood_pressure"))
    # B1 (85): latest day 2025-11-10 has 150/85 and 135/95 -> lowest of each 135/85 -> controlled.
    # B3: latest 145/80 on 2025-10-01 (the 120/80 in February is older) -> not controlled.
    # B5: no reading -> not controlled. B7: 139/89 (the later systolic-only day has no pair).
    # B6: ESRD (N18.6 on a claim in the period; dialysis 90935 too) excluded. B2 (86) and B4 (I10
    # only from 2025-07-01, the first day after the six months) absent. B1's I10 is from
    # 2024-01-01, before the period: taken as continuing into it, as CMS165 allows.
    assert got == {
        "B1": (True, None, True),
        "B3": (True, None, False),
        "B5": (True, None, False),
        "B7": (True, None, True),
        "B6": (False, "end-stage renal disease, dialysis or kidney transplant", False),
    }
    res = _results(qx, reg, "controlling_blood_pressure").set_index("person_id")
    assert res.loc["B1", "evidence_code"] == "135/85"
    assert res.loc["B1", "evidence_date"] == "2025-11-10"


def test_hba1c_poor_control_by_hand(qx, reg):
    got = _by_person(_results(qx, reg, "diabetes_hba1c_poor_control"))
    # CMS122 (2026): the most recent day's lowest reading; a test without a result is poor control.
    # D1 (75): latest 8.0 -> not poor. D3: 9.1 -> poor. D4: no test -> poor.
    # D5: 9.0 on 05-01, then "pending" on 06-01: the most recent test has no result -> poor
    # (the 2024 version skipped results that were not numbers and read 9.0, not poor).
    # D7: diabetes coded only on 2023-12-31; a diagnosis is taken as continuing (its prevalence
    # overlaps the period), so D7 is in, untested -> poor (the 12-month lookback left D7 out).
    # D6 hospice (Q5003). D2 (76) absent.
    assert got == {
        "D1": (True, None, False),
        "D3": (True, None, True),
        "D4": (True, None, True),
        "D5": (True, None, True),
        "D7": (True, None, True),
        "D6": (False, "hospice", False),
    }
    rate = compute_metrics(qx, reg, ["diabetes_hba1c_poor_control"], Viewer("payer"), P2025)
    assert rate["value"].iloc[0] == pytest.approx(4 / 5)


def test_statin_pdc_overlapping_fills_shift_forward(qx, reg):
    res = _results(qx, reg, "statin_adherence_pdc").set_index("person_id")
    # S1: 90 days on Jan 1 (to Mar 31); Mar 1 fill shifted to Apr 1-Jun 29; Jun 1 fill shifted to
    # Jun 30-Sep 27; Sep 1 (30 days) shifted to Sep 28-Oct 27: 300 of 365 days = 82.2% -> adherent.
    # Without shifting the union would be 269 days (73.7%) and S1 would fail.
    # S3: 30 + 30 days of 365 = 16.4%. S2 has one fill: absent. W1's NDC is not a statin.
    assert set(res.index) == {"S1", "S3"}
    assert bool(res.loc["S1", "in_numerator"]) and not bool(res.loc["S3", "in_numerator"])
    assert "300 of 365 days" in res.loc["S1", "detail"]
    assert "60 of 365 days" in res.loc["S3", "detail"]


def test_annual_wellness_visit(qx, reg):
    got = _by_person(_results(qx, reg, "annual_wellness_visit"))
    # Everyone is attributed (a 99213 with their PCP); W1 (G0439) and C1 (G0438) had one.
    # W6 and D6 are in hospice: excluded.
    assert {p for p, v in got.items() if v[2]} == {"W1", "C1"}
    assert {p for p, v in got.items() if v[1]} == {"W6", "D6"}


def test_readmissions_transfers_chained_planned_excluded(qx, reg):
    res = _results(qx, reg, "readmission_30day")
    rows = {
        (r.person_id, r.detail.split(";")[0]): (r.in_denominator, r.exclusion_reason, r.in_numerator)
        for r in res.itertuples()
    }
    assert rows == {
        # A1 -> A2 transfer is one stay ending 2025-02-10 (never its own readmission);
        # the stay on 2025-03-12 is exactly 30 days later -> readmission.
        ("R1", "discharged 2025-02-10"): (True, None, True),
        ("R1", "discharged 2025-03-15"): (True, None, False),
        # DRG 470 planned readmission 16 days later: not counted.
        ("R2", "discharged 2025-05-04"): (True, None, False),
        ("R2", "discharged 2025-05-23"): (True, None, False),
        ("R3", "discharged 2025-06-03"): (False, "died in hospital", False),
        ("R4", "discharged 2025-12-20"): (False, "fewer than 30 days of claims after discharge", False),
        ("R5", "discharged 2025-08-05"): (True, None, False),  # day 31
        ("R5", "discharged 2025-09-08"): (True, None, False),
        ("R6", "discharged 2025-10-03"): (True, None, True),  # 3 days
        ("R6", "discharged 2025-10-08"): (True, None, False),
    }
    rate = compute_metrics(qx, reg, ["readmission_30day"], Viewer("payer"), P2025)
    assert (rate["numerator"].iloc[0], rate["denominator"].iloc[0]) == (2, 8)
    planned = res[res["detail"].str.contains("planned readmission 2025-05-20")]
    assert len(planned) == 1


def test_followup_within_7_days(qx, reg):
    res = _results(qx, reg, "followup_7day_after_discharge")
    rows = {
        (r.person_id, r.detail.split(";")[0]): (r.in_denominator, r.exclusion_reason, r.in_numerator)
        for r in res.itertuples()
    }
    assert rows == {
        ("R1", "discharged 2025-02-10"): (True, None, True),  # visit on day 7
        ("R1", "discharged 2025-03-15"): (True, None, False),
        ("R2", "discharged 2025-05-04"): (True, None, False),  # visit on day 8
        ("R2", "discharged 2025-05-23"): (True, None, False),  # visit on the discharge day
        ("R4", "discharged 2025-12-20"): (True, None, False),  # 7 days fit before 2025-12-31
        ("R5", "discharged 2025-08-05"): (True, None, False),
        ("R5", "discharged 2025-09-08"): (True, None, True),  # TCM the next day (status 06)
        ("R6", "discharged 2025-10-03"): (False, "readmitted within 7 days", False),
        ("R6", "discharged 2025-10-08"): (True, None, True),
    }  # R3 died (status 20): not a discharge home


def test_org_viewer_gets_only_its_members_and_joint_is_refused(qx, reg):
    beta = _results(qx, reg, "breast_cancer_screening", Viewer("org", "Beta Health"))
    assert set(beta["person_id"]) == {"W3", "W7"}  # the two women attributed to N2
    assert set(beta["organization"]) == {"Beta Health"}
    with pytest.raises(NotEntitled):
        _results(qx, reg, "breast_cancer_screening", Viewer("joint"))
    with pytest.raises(NotEntitled):
        quality.care_gaps(qx, reg, Viewer("joint"), P2025)


def test_care_gaps_org_export(qx, reg):
    gaps = quality.care_gaps(qx, reg, Viewer("org", "Beta Health"), P2025)
    assert set(gaps["organization"]) == {"Beta Health"}
    # Beta's members: W3, W7, B5, R6. Worked out: W3 mammogram 2023-09-30 too old; W7 none;
    # W3/W7 also lack colorectal screening; B5 has no reading; everyone lacks a wellness visit.
    bcs = gaps[gaps["metric_id"] == "breast_cancer_screening"].set_index("person_id")["gap"]
    assert bcs.to_dict() == {"W3": "no mammogram since 2023-09-30", "W7": "no mammogram on file"}
    assert set(gaps["person_id"]) == {"W3", "W7", "B5", "R6"}
    assert set(gaps.loc[gaps["metric_id"] == "annual_wellness_visit", "person_id"]) == {
        "W3",
        "W7",
        "B5",
        "R6",
    }
    assert (gaps["pcp_name"] == "Dr Two").all()
    assert (gaps.loc[gaps["person_id"] == "W7", "last_visit"] == "2025-01-15").all()
    payer = quality.care_gaps(qx, reg, Viewer("payer"), P2025, ["diabetes_hba1c_poor_control"])
    # lower is better: the gap is being in the numerator (D3 9.1%, D4 and D7 untested, D5's
    # latest test without a result)
    assert set(payer["person_id"]) == {"D3", "D4", "D5", "D7"}


def test_cli_measure_results_and_refusal(qx, reg, capsys):
    code = cli.main(
        [
            "measure-results",
            "--data",
            str(qx.data_dir),
            "--metric",
            "controlling_blood_pressure",
            "--start",
            "2025-01",
            "--end",
            "2025-12",
            "--viewer",
            "org:Beta Health",
            "--format",
            "json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["person_id"] for r in doc["rows"]] == ["B5"]
    assert doc["rows"][0]["in_denominator"] is True and doc["rows"][0]["in_numerator"] is False
    assert doc["stamp"]["viewer"] == "org:Beta Health"
    code = cli.main(
        [
            "measure-results",
            "--data",
            str(qx.data_dir),
            "--metric",
            "controlling_blood_pressure",
            "--viewer",
            "joint",
            "--format",
            "csv",
        ]
    )
    captured = capsys.readouterr()
    assert code != 0 and captured.out == "" and "refused" in captured.err


def test_cli_metrics_json_matches_the_page_engine(qx, reg, capsys):
    # The Quality page's numbers come from vbc.ui.context.metrics -> engine.compute_metrics.
    ids = [m.id for m in quality.quality_metrics(reg)]
    for mid in ids:
        code = cli.main(
            [
                "metrics",
                "--data",
                str(qx.data_dir),
                "--metric",
                mid,
                "--by",
                "organization",
                "--start",
                "2025-01",
                "--end",
                "2025-12",
                "--format",
                "json",
            ]
        )
        assert code == 0
        doc = json.loads(capsys.readouterr().out)
        page = export_rows(
            compute_metrics(qx, reg, [mid], Viewer("payer"), P2025, ["organization"]), ["organization"]
        )
        assert doc["rows"] == page
        assert all({"numerator", "denominator", "value", "ci_low", "ci_high"} <= set(r) for r in doc["rows"])


def test_person_rows_add_up_to_the_engine(qx, reg):
    for m in quality.quality_metrics(reg):
        res = _results(qx, reg, m.id)
        rate = compute_metrics(qx, reg, [m.id], Viewer("payer"), P2025)
        assert res["in_denominator"].sum() == rate["denominator"].iloc[0]
        assert res["in_numerator"].sum() == rate["numerator"].iloc[0]


def test_composite_scoring_by_hand(qx, reg):
    from vbc.terms import parse_terms

    terms = parse_terms(
        {
            "contract_id": "T",
            "payer": "Medicare",
            "provider_organization": "Alpha Care",
            "performance_year": 2025,
            "benchmark": {"pmpm": 1000},
            "minimum_savings_rate": 0.02,
            "shared_savings_rate": 0.5,
            "quality": {"gate": 40},
            "measures": {
                "breast_cancer_screening": {"target": 0.7, "weight": 2},
                "annual_wellness_visit": {"target": 0.5, "weight": 1},
            },
        }
    )
    out = quality.quality_composite(qx, reg, terms, Viewer("payer"), P2025)
    # Alpha Care has 34 of the 38 members (Beta: W3, W7, B5, R6).
    # Breast screening: W1 met, W5 and W6 excluded -> denominator 1: too few to judge, weight 0.
    # Wellness visit: 34 - 2 in hospice (W6, D6) = 32, of whom W1 and C1 had one: 2/32 = 6.25%,
    # 43.75 points short of 50% (more than 20) -> 0 points. Judged: 1; score 0; share 0.
    ms = out["measures"].set_index("metric_id")
    assert (
        bool(ms.loc["breast_cancer_screening", "too_few"])
        and ms.loc["breast_cancer_screening", "weight"] == 0
    )
    assert ms.loc["annual_wellness_visit", "rate"] == pytest.approx(2 / 32)
    assert ms.loc["annual_wellness_visit", "denominator"] == 32
    assert ms.loc["annual_wellness_visit", "points"] == 0
    assert out["judged"] == 1 and out["score"] == 0.0 and out["share_meeting_target"] == 0.0
    m = reg.get("readmission_30day")
    assert quality._points(m, 0.10, 0.15) == 100  # lower is better: under target meets it
    assert quality._points(m, 0.25, 0.15) == pytest.approx(50)  # 10 points over: half
    assert quality._points(reg.get("annual_wellness_visit"), 0.30, 0.55) == 0  # 25 short


# ------------------------------------------------------------------------------------------------
# Demo data: the planted improvement, and the composite over real-sized denominators


def test_pchart_calls_the_planted_improvement_only(demo_extract, monkeypatch, tmp_path, reg):
    monkeypatch.setenv("VBC_STATE_DIR", str(tmp_path / "state"))
    ws = built_workspace(demo_extract)
    story = json.loads((demo_extract / "_demo.json").read_text())["stories"]["quality_improvement"]
    m = reg.get("controlling_blood_pressure")
    df = quality.trend(ws, reg, m.id, Viewer("payer"), by=["organization"])
    readings = {}
    for org, g in df.groupby("organization"):
        readings[org] = spc.p_chart(m, g["numerator"], g["denominator"])["reading"]
    assert readings[story["organization"]] == "special cause — improvement"
    for org, reading in readings.items():
        if org != story["organization"]:
            assert reading == "common-cause variation", org
    # The same through the org viewer's own scoped series.
    lake = quality.reading(ws, reg, m.id, Viewer("org", story["organization"]))
    assert lake["reading"] == "special cause — improvement"
    # The rolling 12-month value for the last month equals the engine's rate for those 12 months
    # (the series runs on a pruned copy of the claim lines; this checks the pruning loses nothing).
    last = df[df["organization"] == story["organization"]].iloc[-1]
    end = pd.Period(last["month"], "M")
    p = Period.from_months(str(end - 11), str(end))
    direct = compute_metrics(ws, reg, [m.id], Viewer("payer"), p, ["organization"])
    direct = direct[direct["organization"] == story["organization"]].iloc[0]
    assert last["rolling_numerator"] == direct["numerator"]
    assert last["rolling_denominator"] == direct["denominator"]

    # No story was planted in statin adherence, so no organization's chart may read special cause.
    s = reg.get("statin_adherence_pdc")
    df = quality.trend(ws, reg, s.id, Viewer("payer"), by=["organization"], rolling=False)
    for org, g in df.groupby("organization"):
        assert quality.measure_chart(ws, s, g)["reading"] == "common-cause variation", org

    # Composite for Riverbend's demo contract, recomputed from the engine's rates by hand.
    from vbc.terms import contracts

    terms = [c for c in contracts() if c.provider_organization == "Riverbend Health Partners"][0]
    period = Period.from_months("2025-01", "2025-12")
    out = quality.quality_composite(ws, reg, terms, Viewer("payer"), period)
    rates = compute_metrics(
        ws,
        reg,
        list(terms.measures),
        Viewer("payer"),
        period,
        (),
        {"organization": terms.provider_organization},
    ).set_index("metric_id")
    total = weight = met = judged = 0.0
    for mid, t in terms.measures.items():
        r = rates.loc[mid]
        if r["denominator"] < 30:
            continue
        lower = reg.get(mid).direction == "lower"
        short = (r["value"] - t.target) if lower else (t.target - r["value"])
        pts = 100.0 if short <= 0 else max(0.0, 100 * (1 - short / 0.2))
        total += pts * t.weight
        weight += t.weight
        met += short <= 0
        judged += 1
    assert out["judged"] == judged > 0
    assert out["score"] == pytest.approx(round(total / weight, 2))
    assert out["share_meeting_target"] == pytest.approx(met / judged)
    assert not math.isnan(out["score"])


# ------------------------------------------------------------------------------------------------
# Variants


def test_variant_is_a_small_override_of_the_base(reg, tmp_path):
    import shutil

    from vbc.registry import MetricDefinitionError, render_definition

    base, variant = reg.get("breast_cancer_screening"), reg.get("breast_cancer_screening_50_74")
    assert variant.variant_of == base.id and variant.kind == base.kind
    assert variant.constants == {
        "min_age": 50,
        "max_age": 74,
        "lookback_months": 24,
        "require_qualifying_encounter": 1,
    }
    assert variant.source == base.source and variant.value_sets == base.value_sets
    a, b = render_definition(base), render_definition(variant)
    changed = {x for x in b if x not in a}
    assert "  min_age: 50" in changed and "  lookback_months: 24" in changed
    assert any("BETWEEN 50 AND 74" in x for x in changed)
    d = tmp_path / "metrics"
    shutil.copytree(reg.get("total_cost_pmpm").path.parent, d)
    (d / "bad_variant.yaml").write_text("id: bad_variant\nvariant_of: no_such_metric\nname: x\nversion: 1\n")
    with pytest.raises(MetricDefinitionError, match="bad_variant.yaml"):
        load_registry(d, d / "value_sets")
    (d / "bad_variant.yaml").write_text(
        "id: bad_variant\nvariant_of: breast_cancer_screening\n"
        "name: x\nversion: 1\noverrides:\n  constants: {max_agee: 3}\n"
    )
    with pytest.raises(MetricDefinitionError, match="constant"):
        load_registry(d, d / "value_sets")


# ------------------------------------------------------------------------------------------------
# Pages: the joint view shows no member-level data and no count from 1 to 10


def _app(ws, viewer, page, monkeypatch, measure=None):
    """The page signed in as the test account of `viewer` (tests/conftest.py ACCOUNTS)."""
    from tests.conftest import open_page

    return open_page(
        ws.data_dir,
        page,
        viewer,
        monkeypatch,
        period="2025",
        measure=measure,
        state_root=ws.state_dir.parent,
        timeout=300,
    )


def test_joint_care_gaps_page_shows_no_members(qx, monkeypatch):
    at = _app(qx, "joint", "pages/care_gaps.py", monkeypatch)
    assert not at.dataframe
    assert any("not shown in the joint" in i.value for i in at.info)


def test_org_care_gaps_page_lists_only_own_members(qx, monkeypatch):
    at = _app(qx, "org:Beta Health", "pages/care_gaps.py", monkeypatch)
    members = set(at.dataframe[0].value["Member"])
    assert members == {"W3", "W7", "B5", "R6"}


def test_joint_quality_page_has_no_small_counts(qx, monkeypatch):
    at = _app(qx, "joint", "pages/quality.py", monkeypatch, measure="controlling_blood_pressure")
    card = at.dataframe[0].value
    for v in card["Denominator (n)"]:
        assert (
            v in ("suppressed", "—") or int(str(v).replace(",", "")) == 0 or int(str(v).replace(",", "")) > 10
        )
    for df in at.dataframe[1:]:
        for col in df.value.columns:
            for v in df.value[col]:
                s = str(v).replace(",", "")
                if s.isdigit():
                    assert not 1 <= int(s) <= 10, (col, v)


def test_payer_quality_page_matches_the_engine(qx, monkeypatch, reg):
    at = _app(qx, "payer", "pages/quality.py", monkeypatch)
    card = at.dataframe[0].value.set_index("Measure")
    rates = compute_metrics(
        qx, reg, ["breast_cancer_screening", "controlling_blood_pressure"], Viewer("payer"), P2025
    ).set_index("metric_id")
    assert (
        card.loc["Breast cancer screening", "Rate"] == f"{rates.loc['breast_cancer_screening', 'value']:.1%}"
    )
    assert card.loc["Breast cancer screening", "Rate"] == "25.0%"  # 1 of 4, by hand above
    assert card.loc["Controlling high blood pressure", "Rate"] == "50.0%"  # B1, B7 of 4
    assert card.loc["Breast cancer screening", "Against target"] == "too few to judge"


def test_trend_by_organization_with_no_month_judged_is_empty_not_an_error(demo_ws, reg):
    """Colorectal screening looks back ten years: on 24 months of data no month can be judged."""
    metric = reg.get("colorectal_cancer_screening")
    assert all(quality.short_history_months(demo_ws, metric, ["2025-06", "2025-12"]))
    df = quality.trend(demo_ws, reg, metric.id, Viewer("payer"), by=["organization"])
    assert df.empty
    assert {"month", "organization", "value", "suppressed", "rolling_value"} <= set(df.columns)
