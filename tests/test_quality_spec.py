"""The eCQM-adapted measures against hand-built patients, one branch of the CQL per patient.

Measurement period: calendar 2025 (the CQL's default is 2026; a year earlier keeps every date in
the past), so ages are at 2025-12-31 and
"AgeInYearsAt(date from end of Measurement Period)" is the age on that day: a person born on
1951-12-31 turns 74 on the period's last day and counts as 74; one born 1952-01-01 is still 73.
Everyone is enrolled 2014-01-01..2025-12-31. Unless a case says otherwise a patient has one
qualifying office visit (CPT 99213, in Office Visit) on 2025-03-01 carrying the diagnosis the
measure needs; the expected results below are worked out from the CQL in /work/shared/ecqm_specs
(CMS125, CMS130, CMS165, CMS122, CMS131, CMS124 and the libraries they include), not from the code.

Results are compared as {person: (in denominator, exclusion reason or None, in numerator)}; a person
outside the initial population has no row.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import _elig, _line, built_workspace, write_table
from vbc import cli, quality
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import Viewer

P2025 = Period.from_months("2025-01", "2025-12")
PAID = "2026-01-31"
BORN_70 = "1955-06-01"  # 70 at 2025-12-31
BORN_40 = "1985-06-01"  # 40

PEOPLE: dict[str, tuple[str, str]] = {}  # person -> (gender, birth date)
CLAIMS: list[dict] = []
OBSERVATIONS: list[dict] = []
LABS: list[dict] = []
_ids = iter(range(1, 100_000))


def person(pid: str, gender: str, birth: str) -> str:
    PEOPLE[pid] = (gender, birth)
    return pid


def prof(pid, day, hcpcs, dx="Z0000", *, dx2=None, pos="11", npi="N1", proc=None):
    row = _line(
        f"c{next(_ids)}",
        1,
        pid,
        day,
        50.0,
        hcpcs=hcpcs,
        pos=pos,
        npi=npi,
        tin={"N1": "T1", "N9": "T9"}[npi],
        dx=dx,
        paid_date=PAID,
    )
    row["diagnosis_code_2"] = dx2
    row["procedure_code_1"] = proc
    CLAIMS.append(row)


def stay(pid, admit, discharge, *, disposition="01", dx="I509", proc=None, bill="111"):
    row = _line(
        f"c{next(_ids)}",
        1,
        pid,
        admit,
        9000.0,
        claim_type="institutional",
        bill=bill,
        rev="0120",
        end=discharge,
        admit=admit,
        discharge=discharge,
        disposition=disposition,
        dx=dx,
        paid_date=PAID,
    )
    row["procedure_code_1"] = proc
    CLAIMS.append(row)


def obs(pid, day, code, result):
    OBSERVATIONS.append(
        dict(
            person_id=pid,
            observation_date=day,
            normalized_code_type="loinc",
            normalized_code=code,
            result=result,
            result_units=None,
        )
    )


def bp(pid, day, systolic, diastolic):
    obs(pid, day, "8480-6", str(systolic))
    obs(pid, day, "8462-4", str(diastolic))


def lab(pid, day, code, result):
    LABS.append(
        dict(
            person_id=pid,
            result_date=day,
            normalized_code_type="loinc",
            normalized_code=code,
            result=result,
            result_units="%",
        )
    )


def visit(pid, dx="Z0000", day="2025-03-01", hcpcs="99213"):
    prof(pid, day, hcpcs, dx)


# ------------------------------------------------------------------------------------------------
# CMS125 breast cancer screening: women 42-74, qualifying visit (AdultOutpatientEncounters),
# mammogram from 2023-10-01 ("October 1 Two Years Prior") to 2025-12-31.

for pid, birth in (
    ("BA1", "1983-12-31"),  # turns 42 on the last day: 42, in
    ("BA2", "1984-01-01"),  # turns 42 the day after: 41, out
    ("BA3", "1983-12-30"),  # turned 42 the day before: in
    ("BA4", "1950-12-31"),  # turns 75 on the last day: out
    ("BA5", "1951-01-01"),  # turns 75 the day after: 74, in
    ("BA6", "1950-12-30"),  # 75: out
):
    visit(person(pid, "female", birth))
prof("BA1", "2023-10-01", "77067", npi="N9", pos="22")  # the window's first day
prof("BA3", "2023-09-30", "77067", npi="N9", pos="22")  # one day early
obs("BA5", "2025-05-01", "24606-6", "BI-RADS 1")  # a LOINC mammography report counts too
prof("BA4", "2025-05-01", "77067", npi="N9", pos="22")
person("BA7", "female", BORN_70)  # mammogram but no qualifying visit at all: not in the population
prof("BA7", "2025-05-01", "77067", npi="N9", pos="22")
person("BA8", "female", BORN_70)  # a telephone visit qualifies (Telephone Visits)
prof("BA8", "2025-04-01", "99442")
person("BA9", "female", BORN_70)  # only a 99211 (not in Office Visit): no qualifying visit
prof("BA9", "2025-04-01", "99211")
person("BA10", "male", BORN_70)  # a man: not in the population
visit("BA10")
for pid in ("BB1", "BB2", "BB3", "BB4", "BB5", "BB6", "BB7", "BB8", "BB9", "BB10", "BB11", "BB12", "BB13"):
    visit(person(pid, "female", BORN_70))
stay("BB1", "2019-03-01", "2019-03-03", proc="0HTV0ZZ", dx="C509")  # bilateral mastectomy
prof("BB2", "2020-05-01", "99213", "Z90.11")  # right (diagnosis) ...
stay("BB2", "2022-02-01", "2022-02-02", proc="0HTU0ZZ", dx="C509")  # ... and left (procedure)
prof("BB3", "2020-05-01", "99213", "Z90.11")  # right only: not excluded
stay("BB4", "2025-04-01", "2025-04-10", disposition="51")  # discharged to hospice in the period
stay("BB5", "2024-12-20", "2024-12-31", disposition="50")  # ... but the stay ended before it
prof("BB6", "2025-06-01", "Q5001", pos="12")  # Q5001 is not in Hospice Encounter
prof("BB7", "2025-06-01", "G0182", pos="12")  # Hospice Care Ambulatory
prof("BB8", "2025-06-01", "99213", "Z51.5")  # palliative care diagnosis
prof("BB9", "2025-06-01", "G9054")  # palliative care encounter
prof("BB10", "2025-06-01", "T1019")  # frailty encounter ...
prof("BB10", "2024-02-01", "99213", "G30.9")  # ... and advanced illness in the year before
obs("BB11", "2024-03-01", "71802-3", "160734000")  # lives in a nursing home (latest status)
obs("BB12", "2024-03-01", "71802-3", "160734000")  # nursing home, then a later housing status
obs("BB12", "2025-02-01", "71802-3", "1287529003")  # ... that is not a nursing home
obs("BB13", "2025-06-01", "45755-6", "373066001")  # hospice assessment answered yes
person("BB14", "female", "1960-06-01")  # 65: frail with advanced illness, but under 66
visit("BB14")
prof("BB14", "2025-06-01", "99213", "R54", dx2="C25.0")


def test_breast_cancer_screening_branches(spec, reg):
    """CMS125. Ages: BA1 42 (birthday on the period's last day) in; BA2 41 out; BA3 42 in; BA4 75
    (birthday on the last day) out; BA5 74 in; BA6 75 out.
    Numerator: BA1's mammogram on 2023-10-01 is the first day of [October 1 two years prior, end of
    period] -> met; BA3's on 2023-09-30 is a day early -> not met; BA5's LOINC mammography report
    (24606-6) in 2025 -> met.
    Qualifying visit: BA7 has none (a mammogram is not an encounter) -> absent; BA8's telephone
    visit 99442 qualifies -> in, unscreened; BA9's 99211 is not in Office Visit -> absent; BA10 is
    male -> absent.
    Exclusions: BB1 bilateral mastectomy procedure 0HTV0ZZ (2019, before the period end); BB2 right
    mastectomy diagnosis Z90.11 and left mastectomy procedure 0HTU0ZZ -> both sides; BB3 right only
    -> not excluded; BB4 inpatient stay ending 2025-04-10 discharged to hospice (51) -> hospice;
    BB5's hospice discharge ended 2024-12-31, outside the period -> not excluded; BB6's Q5001 is not
    in Hospice Encounter -> not excluded; BB7 G0182 (Hospice Care Ambulatory) -> hospice; BB8
    Z51.5 and BB9 G9054 -> palliative care; BB10 (70) frailty encounter T1019 in the period and
    advanced illness G30.9 in the year before -> advanced illness and frailty; BB11 (70) latest
    housing status "lives in nursing home" -> long-term care; BB12's latest status is not a nursing
    home -> not excluded; BB13 hospice assessment 45755-6 = yes -> hospice; BB14 is 65 -> the
    66-and-older exclusion does not apply.
    """
    got = _by_person(_results(spec, reg, "breast_cancer_screening"))
    assert got == {
        "BA1": (True, None, True),
        "BA3": (True, None, False),
        "BA5": (True, None, True),
        "BA8": (True, None, False),
        "BB1": (False, "bilateral mastectomy", False),
        "BB2": (False, "right and left mastectomy", False),
        "BB3": (True, None, False),
        "BB4": (False, "hospice", False),
        "BB5": (True, None, False),
        "BB6": (True, None, False),
        "BB7": (False, "hospice", False),
        "BB8": (False, "palliative care", False),
        "BB9": (False, "palliative care", False),
        "BB10": (False, "advanced illness and frailty (66+)", False),
        "BB11": (False, "long-term nursing home resident (66+)", False),
        "BB12": (True, None, False),
        "BB13": (False, "hospice", False),
        "BB14": (True, None, False),
        # the cervical cases VA3 (64) and VA4 (65) are women 42-74 with a visit, unscreened
        "VA3": (True, None, False),
        "VA4": (True, None, False),
    }


def test_qualifying_visit_can_be_switched_off(spec, reg, tmp_path):
    """A contract variant with require_qualifying_encounter 0: BA7 (mammogram, no visit) and BA9
    (only a 99211) join the population; BA7's 2025 mammogram meets the numerator."""
    d = tmp_path / "metrics"
    shutil.copytree(reg.get("breast_cancer_screening").path.parent, d)
    (d / "bcs_no_visit.yaml").write_text(
        "id: bcs_no_visit\nvariant_of: breast_cancer_screening\nname: x\nversion: 1\n"
        "overrides:\n  constants: {require_qualifying_encounter: 0}\n"
        "history:\n  - {version: 1, date: 2025-12-01, change: test}\n"
    )
    variant = load_registry(d, d / "value_sets")
    got = _by_person(quality.measure_results(spec, variant, "bcs_no_visit", Viewer("payer"), P2025))
    assert got["BA7"] == (True, None, True) and got["BA9"] == (True, None, False)
    assert set(got) - {"BA7", "BA9"} == set(_by_person(_results(spec, reg, "breast_cancer_screening")))


# ------------------------------------------------------------------------------------------------
# CMS130 colorectal cancer screening: 46-75, qualifying visit; windows from the period start.

for pid, birth in (
    ("CA1", "1979-12-31"),  # turns 46 on the last day: in
    ("CA2", "1980-01-01"),  # 45: out
    ("CA3", "1950-01-01"),  # 75: in
    ("CA4", "1949-12-31"),  # turns 76 on the last day: out
):
    visit(person(pid, "male", birth))
prof("CA1", "2016-01-01", "45378", npi="N9", pos="22")  # colonoscopy on start - 9 years
prof("CA3", "2015-12-31", "G0121", npi="N9", pos="22")  # one day before it
for pid in ("CC1", "CC2", "CC3", "CC4", "CC5", "CC6", "CC7", "CC8", "CC9", "CC10", "CC11"):
    visit(person(pid, "male", BORN_70))
prof("CC1", "2024-12-31", "82274")  # FIT the day before the period: FOBT counts only in it
lab("CC2", "2025-02-01", "2335-8", "negative")  # FOBT LOINC result in the period
lab("CC3", "2025-02-01", "2335-8", "")  # FOBT with no result value
prof("CC4", "2023-01-01", "81528")  # sDNA-FIT on start - 2 years
prof("CC5", "2020-12-31", "74263", npi="N9", pos="22")  # CT colonography a day before start - 4 years
prof("CC6", "2021-01-01", "45330", npi="N9", pos="22")  # flexible sigmoidoscopy on start - 4 years
prof("CC7", "2017-03-01", "99213", "Z85.038")  # history of colorectal cancer
prof("CC8", "2018-03-01", "44150", npi="N9", pos="22")  # total colectomy
prof("CC9", "2025-05-01", "T1019")  # frailty in the period ...
prof("CC9", "2024-01-01", "99213", "C25.0")  # ... advanced illness on start - 1 year: counts
prof("CC10", "2025-05-01", "T1019")  # frailty ...
prof("CC10", "2023-12-31", "99213", "C25.0")  # ... advanced illness a day too early: no exclusion
prof("CC11", "2025-05-01", "99213", "R54")  # frailty symptom, no advanced illness
person("CC12", "male", BORN_70)  # colonoscopy, no qualifying visit
prof("CC12", "2025-05-01", "45378", npi="N9", pos="22")


def test_colorectal_screening_branches(spec, reg):
    """CMS130. Ages: CA1 46 (birthday on the last day) in; CA2 45 out; CA3 75 in; CA4 76 out.
    Windows end on 2025-12-31 and start at the period start minus: colonoscopy 9 years
    (2016-01-01), sigmoidoscopy and CT colonography 4 (2021-01-01), sDNA-FIT 2 (2023-01-01),
    FOBT 0 (2025-01-01). CA1 colonoscopy 2016-01-01 met; CA3 2015-12-31 not met. CC1 FIT 2024-12-31
    not met; CC2 FOBT LOINC result 2025-02-01 met; CC3's FOBT has no result value -> not met
    ("value is not null"); CC4 sDNA-FIT 2023-01-01 met; CC5 CT colonography 2020-12-31 not met;
    CC6 sigmoidoscopy 2021-01-01 met.
    Exclusions: CC7 Z85.038 (Malignant Neoplasm of Colon, history) on or before the period end;
    CC8 total colectomy 44150; CC9 (70) frailty in the period and advanced illness C25.0 on
    2024-01-01, which "starts during" [start - 1 year, end] -> excluded; CC10's advanced illness on
    2023-12-31 is outside it -> not excluded; CC11 frail without advanced illness -> not excluded.
    CC12 has no qualifying visit -> absent.
    The women of the breast cases aged 46-75 are in too, unscreened (BB7, BB13 hospice; BB8, BB9
    palliative; BB10 advanced illness and frailty; BB11 nursing home; BA4 is 75 with a visit).
    """
    got = _by_person(_results(spec, reg, "colorectal_cancer_screening"))
    mine = {p: v for p, v in got.items() if p.startswith("C")}
    assert mine == {
        "CA1": (True, None, True),
        "CA3": (True, None, False),
        "CC1": (True, None, False),
        "CC2": (True, None, True),
        "CC3": (True, None, False),
        "CC4": (True, None, True),
        "CC5": (True, None, False),
        "CC6": (True, None, True),
        "CC7": (False, "colorectal cancer", False),
        "CC8": (False, "total colectomy", False),
        "CC9": (False, "advanced illness and frailty (66+)", False),
        "CC10": (True, None, False),
        "CC11": (True, None, False),
    }
    assert got["BA4"] == (True, None, False)
    assert got["BB4"] == (False, "hospice", False) and got["BB10"][1] == "advanced illness and frailty (66+)"


# ------------------------------------------------------------------------------------------------
# CMS165 controlling high blood pressure: 18-85, essential hypertension overlapping
# [2025-01-01, 2025-07-01), qualifying visit.

for pid, birth in (
    ("PA1", "2007-12-31"),  # turns 18 on the last day: in
    ("PA2", "2008-01-01"),  # 17: out
    ("PA3", "1940-12-31"),  # turns 85 on the last day: in
    ("PA4", "1939-12-31"),  # turns 86 on the last day: out
):
    visit(person(pid, "male", birth), dx="I10")
bp("PA1", "2025-09-01", 120, 80)
bp("PA3", "2025-09-01", 140, 80)  # 140 is not below 140
for pid in ("PB1", "PB2", "PB3", "PB4", "PB5", "PB6"):
    person(pid, "male", BORN_40)
visit("PB1", dx="I10", day="2025-06-30")  # the six months' last day
visit("PB2", dx="I10", day="2025-07-01")  # the day after: not an IP diagnosis ...
visit("PB2")  # ... though PB2 has a qualifying visit
prof("PB3", "2023-05-01", "99213", "I10")  # hypertension before the period, continuing into it
visit("PB3")
visit("PB4", dx="I10")
bp("PB4", "2025-10-01", 150, 95)  # the latest office reading
stay("PB4", "2025-11-01", "2025-11-05")
bp("PB4", "2025-11-03", 120, 70)  # during an inpatient stay: not counted
prof("PB4", "2025-12-01", "99284", pos="23")
bp("PB4", "2025-12-01", 118, 70)  # on an emergency department visit day: not counted
visit("PB5", dx="I10")
bp("PB5", "2025-11-10", 150, 85)
bp("PB5", "2025-11-10", 135, 95)  # lowest of each on the latest day: 135/85
visit("PB6", dx="I10")  # no reading
prof("PB6", "2025-08-01", "99213", "I10")
for pid in ("PC1", "PC2", "PC3", "PC4", "PC5", "PC6", "PC7", "PC8"):
    visit(person(pid, "male", BORN_40), dx="I10")
prof("PC1", "2025-04-01", "99213", "Z34.90")  # pregnancy in the period
prof("PC2", "2024-04-01", "99213", "Z34.90")  # pregnancy before the period only
prof("PC3", "2025-04-01", "99213", "N18.6")  # ESRD
prof("PC4", "2018-04-01", "90935")  # dialysis, years before: still excludes
stay("PC5", "2017-04-01", "2017-04-09", proc="0TY00Z0", dx="N186")  # kidney transplant
prof("PC6", "2025-04-01", "99213", "N18.5")  # CKD stage 5
prof("PC7", "2025-04-01", "99213", "Z94.0")  # kidney transplant status
prof("PC8", "2019-04-01", "90960")  # ESRD monthly outpatient services
person("PD1", "male", "1943-06-01")  # 82: frailty alone excludes at 81+
visit("PD1", dx="I10")
prof("PD1", "2025-05-01", "99213", "R54")
person("PD2", "male", "1950-06-01")  # 75: frailty alone does not
visit("PD2", dx="I10")
prof("PD2", "2025-05-01", "99213", "R54")
person("PD3", "male", "1950-06-01")  # 75: frailty and advanced illness
visit("PD3", dx="I10")
prof("PD3", "2025-05-01", "99213", "R54", dx2="G30.9")
person("PD4", "male", BORN_40)  # hypertension on a 99211 only: no qualifying visit
prof("PD4", "2025-02-01", "99211", "I10")


def test_controlling_blood_pressure_branches(spec, reg):
    """CMS165. Ages: PA1 18 (birthday on the last day) in; PA2 17 out; PA3 85 in; PA4 86 out.
    PA1 120/80 controlled; PA3 140/80 not (140 is not below 140).
    Hypertension overlapping [2025-01-01, 2025-07-01): PB1's I10 on 2025-06-30 in; PB2's first I10
    on 2025-07-01 -> absent; PB3's I10 of 2023 continues into the period -> in (no reading -> not
    controlled). PB4: readings 150/95 (office, 10-01), 120/70 during the 11-01..11-05 stay and
    118/70 on the 12-01 ED visit day; the last two are not qualifying readings, so the most
    recent day is 10-01 -> not controlled. PB5: on 11-10 the lowest systolic 135 and lowest
    diastolic 85 -> controlled. PB6: no reading -> not controlled.
    Exclusions: PC1 pregnancy Z34.90 in the period -> pregnancy; PC2's pregnancy was in 2024 ->
    not excluded; PC3 ESRD N18.6; PC4 dialysis 90935 (2018, "ends on or before end"); PC5 kidney
    transplant 0TY00Z0 (2017); PC6 CKD 5 N18.5; PC7 transplant status Z94.0; PC8 ESRD monthly
    services 90960 (2019). PD1 82 frail -> excluded (81+); PD2 75 frail without advanced illness
    -> not; PD3 75 frail with advanced illness -> excluded (66-80). PD4 no qualifying visit ->
    absent.
    """
    got = _by_person(_results(spec, reg, "controlling_blood_pressure"))
    renal = "end-stage renal disease, dialysis or kidney transplant"
    frail = "advanced illness and frailty (66-80) or frailty (81+)"
    assert got == {
        "PA1": (True, None, True),
        "PA3": (True, None, False),
        "PB1": (True, None, False),
        "PB3": (True, None, False),
        "PB4": (True, None, False),
        "PB5": (True, None, True),
        "PB6": (True, None, False),
        "PC1": (False, "pregnancy", False),
        "PC2": (True, None, False),
        "PC3": (False, renal, False),
        "PC4": (False, renal, False),
        "PC5": (False, renal, False),
        "PC6": (False, renal, False),
        "PC7": (False, renal, False),
        "PC8": (False, renal, False),
        "PD1": (False, frail, False),
        "PD2": (True, None, False),
        "PD3": (False, frail, False),
    }
    res = _results(spec, reg, "controlling_blood_pressure").set_index("person_id")
    assert (res.loc["PB4", "evidence_code"], res.loc["PB4", "evidence_date"]) == ("150/95", "2025-10-01")
    assert res.loc["PB5", "evidence_code"] == "135/85"


# ------------------------------------------------------------------------------------------------
# CMS122 HbA1c > 9%: 18-75, diabetes overlapping the period, CMS122's qualifying visits.

for pid, birth in (
    ("HA1", "1950-12-31"),  # turns 75 on the last day: in
    ("HA2", "1949-12-31"),  # turns 76 on the last day: out
    ("HA3", "1950-01-01"),  # 75: in
):
    visit(person(pid, "male", birth), dx="E11.9")
lab("HA1", "2025-06-01", "4548-4", "8.0")
lab("HA3", "2025-06-01", "4548-4", "9.5")
for pid in ("HB1", "HB2", "HB3", "HB4", "HB5", "HB6", "HB7", "HB8"):
    visit(person(pid, "male", BORN_40), dx="E11.9")
lab("HB1", "2025-09-01", "4548-4", "9.5")
lab("HB1", "2025-09-01", "17856-6", "8.5")  # the day's lowest: 8.5
lab("HB2", "2025-05-01", "4548-4", "7.0")
prof("HB2", "2025-10-01", "83036", "E11.9", npi="N9", pos="81")  # a later test with no result
prof("HB3", "2025-05-01", "83036", "E11.9", npi="N9", pos="81")  # billed ...
lab("HB3", "2025-05-01", "4548-4", "7.0")  # ... and resulted the same day: one test
lab("HB4", "2025-03-01", "4548-4", "10.0")
lab("HB4", "2025-11-01", "97506-0", "8.1")  # GMI, the most recent
lab("HB5", "2025-04-01", "4548-4", "9.0")  # not above 9
lab("HB6", "2025-04-01", "4548-4", ">14.0")
lab("HB7", "2025-04-01", "4548-4", "6.5")
lab("HB7", "2025-08-01", "4548-4", "pending")  # the most recent test has no result
# HB8: no test at all
person("HC1", "male", BORN_40)  # diabetes coded only in 2019: continuing into the period
prof("HC1", "2019-02-01", "99213", "E11.9")
visit("HC1")
lab("HC1", "2025-04-01", "4548-4", "6.0")
person("HC2", "male", BORN_40)  # diabetes on a lab claim, no qualifying visit
prof("HC2", "2025-04-01", "83036", "E11.9", npi="N9", pos="81")
person("HC3", "male", BORN_40)  # medical nutrition therapy (Nutrition Services) qualifies
prof("HC3", "2025-04-01", "97802", "E11.9")
lab("HC3", "2025-04-01", "4548-4", "6.0")
person("HC4", "male", BORN_70)  # nursing home (66+)
visit("HC4", dx="E11.9")
obs("HC4", "2025-01-10", "71802-3", "160734000")


def test_hba1c_poor_control_branches(spec, reg):
    """CMS122 (numerator = poor control). Ages: HA1 75 (birthday on the last day) in, 8.0 -> not
    poor; HA2 76 out; HA3 75, 9.5 -> poor.
    Most recent day, lowest reading: HB1 9.5 and 8.5 on 09-01 -> 8.5, not poor. HB2: 7.0 in May,
    then a billed 83036 on 10-01 with no lab result that day -> the most recent test has no result
    -> poor. HB3: the 83036 and the 7.0 result on the same day are one test -> not poor. HB4: GMI
    8.1 on 11-01 is the most recent glycemic status assessment -> not poor. HB5 9.0 is not above 9
    -> not poor. HB6 ">14.0" -> 14 -> poor. HB7: latest result "pending" is no result -> poor. HB8
    no test -> poor.
    HC1: diabetes coded only in 2019 (prevalence continuing, overlapping the period) -> in, 6.0.
    HC2: diabetes on a lab claim but no qualifying visit -> absent. HC3: medical nutrition therapy
    97802 is a CMS122 qualifying visit -> in, 6.0. HC4 (70) lives in a nursing home -> excluded.
    """
    got = _by_person(_results(spec, reg, "diabetes_hba1c_poor_control"))
    # The eye-exam diabetics are here too, untested (poor); EB1's 2024 diagnosis continues into the
    # period; EB2's only visit (92004) is not one of CMS122's qualifying visits.
    assert got["EA1"] == got["EB1"] == (True, None, True) and "EB2" not in got
    assert {p: v for p, v in got.items() if p.startswith("H")} == {
        "HA1": (True, None, False),
        "HA3": (True, None, True),
        "HB1": (True, None, False),
        "HB2": (True, None, True),
        "HB3": (True, None, False),
        "HB4": (True, None, False),
        "HB5": (True, None, False),
        "HB6": (True, None, True),
        "HB7": (True, None, True),
        "HB8": (True, None, True),
        "HC1": (True, None, False),
        "HC3": (True, None, False),
        "HC4": (False, "long-term nursing home resident (66+)", False),
    }
    res = _results(spec, reg, "diabetes_hba1c_poor_control").set_index("person_id")
    assert res.loc["HB2", "evidence_code"] == "test without a result"
    assert res.loc["HB2", "evidence_date"] == "2025-10-01"


# ------------------------------------------------------------------------------------------------
# CMS131 diabetes eye exam: 18-75, diabetes onset in the period, CMS131's qualifying visits.

for pid in ("EA1", "EA2", "EA3", "EA4", "EA5", "EA6", "EA7"):
    visit(person(pid, "male", BORN_40), dx="E11.9")
prof("EA1", "2024-06-01", "92014", "E11.9")  # exam in the year before, no retinopathy
prof("EA2", "2024-06-01", "92014", "E11.9")  # exam in the year before ...
prof("EA2", "2025-04-01", "99213", "E11.319")  # ... but retinopathy in the period
prof("EA3", "2025-02-01", "92250", "E11.319")  # retinopathy, exam in the period
obs("EA4", "2025-05-01", "105914-6", "LA34398-0")  # autonomous AI screening with a result
obs("EA5", "2025-05-01", "71490-7", "LA18644-7")  # left eye in the period ...
obs("EA5", "2024-06-01", "71491-5", "LA18643-9")  # ... right eye clear in the year before
obs("EA6", "2025-05-01", "71490-7", "LA18644-7")  # left eye only
prof("EA7", "2023-12-31", "92014", "E11.9")  # two years and a day before the period end
person("EB1", "male", BORN_40)  # diabetes coded only before the period: onset not in it
prof("EB1", "2024-05-01", "99213", "E11.9")
visit("EB1")
prof("EB1", "2025-06-01", "92014")
person("EB2", "male", BORN_40)  # an ophthalmological exam is itself a CMS131 qualifying visit
prof("EB2", "2025-06-01", "92004", "E11.9")


def test_diabetes_eye_exam_branches(spec, reg):
    """CMS131. EA1: no retinopathy, exam 2024-06-01 in [period start - 1 year, end] -> met. EA2:
    retinopathy overlaps the period, so only an exam in the period counts -> not met. EA3:
    retinopathy, fundus photography in the period -> met. EA4: autonomous AI screening with a
    listed result in the period -> met. EA5: left severity finding in the period and right eye
    "no apparent retinopathy" in the year before -> met. EA6: one eye only -> not met. EA7: exam on
    2023-12-31, before the two-year window -> not met. EB1: diabetes diagnosed only in 2024 (CMS131
    reads the diagnosis's onset in the period) -> absent. EB2: 92004 is an Ophthalmological
    Services visit (qualifying) and an exam -> met.
    The diabetics of the HbA1c cases with a 2025 diagnosis are in too (unexamined); HA2 is 76.
    """
    got = _by_person(_results(spec, reg, "diabetes_eye_exam"))
    mine = {p: v for p, v in got.items() if p.startswith("E")}
    assert mine == {
        "EA1": (True, None, True),
        "EA2": (True, None, False),
        "EA3": (True, None, True),
        "EA4": (True, None, True),
        "EA5": (True, None, True),
        "EA6": (True, None, False),
        "EA7": (True, None, False),
        "EB2": (True, None, True),
    }
    assert "HA2" not in got and got["HB8"] == (True, None, False) and "HC1" not in got


# ------------------------------------------------------------------------------------------------
# CMS124 cervical cancer screening: women 24-64, CMS124's qualifying visits.

for pid, birth in (
    ("VA1", "2001-12-31"),  # turns 24 on the last day: in
    ("VA2", "2002-01-01"),  # 23: out
    ("VA3", "1961-01-01"),  # 64: in
    ("VA4", "1960-12-31"),  # turns 65 on the last day: out
):
    visit(person(pid, "female", birth))
prof("VA1", "2023-01-01", "88175", npi="N9", pos="81")  # cytology on start - 2 years
prof("VA3", "2021-01-01", "87624", npi="N9", pos="81")  # HPV on start - 4 years, at 60
for pid, birth in (
    ("VB1", "1993-06-01"),
    ("VB2", BORN_40),
    ("VB3", BORN_40),
    ("VB4", BORN_40),
    ("VB5", BORN_40),
):
    visit(person(pid, "female", birth))
prof("VB1", "2021-03-01", "87624", npi="N9", pos="81")  # HPV at 27: under 30 on the test day
prof("VB1", "2022-12-31", "88175", npi="N9", pos="81")  # cytology a day before start - 2 years
prof("VB2", "2014-03-01", "58150")  # hysterectomy with no residual cervix
prof("VB3", "2025-03-01", "99213", "Z90.710")  # acquired absence of cervix
lab("VB4", "2025-03-01", "10524-7", "NILM")  # Pap LOINC result
lab("VB5", "2025-03-01", "10524-7", "")  # Pap LOINC without a result value
person("VC1", "female", BORN_40)  # only an annual wellness visit: not a CMS124 qualifying visit
prof("VC1", "2025-03-01", "G0439")


def test_cervical_screening_branches(spec, reg):
    """CMS124. Ages: VA1 24 (birthday on the last day) in, cytology 2023-01-01 = start - 2 years ->
    met; VA2 23 out; VA3 64, HPV 2021-01-01 = start - 4 years at age 60 -> met; VA4 65 out.
    VB1: HPV at 27 (under 30 on the test day) does not count, cytology 2022-12-31 is a day early ->
    not met. VB2 hysterectomy 58150 (2014) and VB3 Z90.710 -> absence of cervix. VB4 Pap LOINC
    result in the period -> met; VB5's has no value -> not met. VC1's only visit is G0439, not in
    CMS124's list -> absent. Women of the other cases aged 24-64 with an office visit are in.
    """
    got = _by_person(_results(spec, reg, "cervical_cancer_screening"))
    mine = {p: v for p, v in got.items() if p.startswith("V")}
    assert mine == {
        "VA1": (True, None, True),
        "VA3": (True, None, True),
        "VB1": (True, None, False),
        "VB2": (False, "hysterectomy or absent cervix", False),
        "VB3": (False, "hysterectomy or absent cervix", False),
        "VB4": (True, None, True),
        "VB5": (True, None, False),
    }
    assert got["BA1"] == (True, None, False) and "BA8" not in got  # BA8 is 70


# ------------------------------------------------------------------------------------------------
# The command the independent test patients are run through


def test_cli_measure_results_for_the_period(spec, capsys):
    """`python -m vbc measure-results` gives the same person-level rows for --start/--end."""
    code = cli.main(
        [
            "measure-results",
            "--data",
            str(spec.data_dir),
            "--metric",
            "controlling_blood_pressure",
            "--start",
            "2025-01",
            "--end",
            "2025-12",
            "--format",
            "json",
        ]
    )
    assert code == 0
    rows = {r["person_id"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["PC1"]["excluded"] is True and rows["PC1"]["exclusion_reason"] == "pregnancy"
    assert rows["PB5"]["in_numerator"] is True and "PB2" not in rows


# ------------------------------------------------------------------------------------------------
# Fixture


def build_spec_extract(d):
    write_table(
        d,
        "eligibility",
        [_elig(p, "2014-01-01", "2025-12-31", gender=g, birth=b) for p, (g, b) in PEOPLE.items()],
    )
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
                npi="N9",
                provider_name="Lab and Imaging",
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
    write_table(d, "medical_claim", CLAIMS)
    write_table(d, "observation", OBSERVATIONS)
    write_table(d, "lab_result", LABS)
    return d


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    base = tmp_path_factory.mktemp("spec")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VBC_STATE_DIR", str(base / "state"))
        yield built_workspace(build_spec_extract(base / "extract"))


@pytest.fixture(scope="module")
def reg():
    return load_registry()


def _results(ws, reg, mid):
    return quality.measure_results(ws, reg, mid, Viewer("payer"), P2025)


def _by_person(df):
    return {
        r.person_id: (
            bool(r.in_denominator),
            r.exclusion_reason if r.excluded else None,
            bool(r.in_numerator),
        )
        for r in df.itertuples()
    }
