"""Seeded, deterministic Medicare-like demo data in the data contract's layout.

`generate(out_dir, members, months, seed, end_month)` writes eligibility, provider, lab_result and
observation as single Parquet files and medical_claim/ and pharmacy_claim/ as folders of part files
(one per chunk of members, so memory stays bounded at any size), plus `_demo.json`, whose presence
tells the app the data is demo data. Output depends only on the arguments: the clock is never read,
every random draw comes from numpy generators seeded with (seed, chunk number). No
provider_attribution table is written: attribution is computed from claims.

Coding conventions the engine can rely on (codes carry no dots):

- Eligibility: one row per span (two for the ~1% with a gap). Members present at the start have
  enrollment_start_date = the first day of the data; spans end on a month end (the month of death
  for decedents); the paid-through date is the last day of `end_month`.
- Acute inpatient: institutional, bill_type_code '111', admission/discharge dates = claim dates,
  drg_code, discharge_disposition_code ('01' home, '02' transfer to another hospital, '03' SNF,
  '06' home health, '20' expired); several revenue lines (0120, 0200, 0250, 0270, 0300, 0320, 0360,
  0420, 0450 when admitted through the ED, 0730). A transfer's second claim is admitted on the
  first claim's discharge date at another hospital. Planned readmissions: DRG 470 or
  diagnosis_code_1 'Z5111' (DRG 846). Hospitalists bill POS 21 lines on the stay's days.
- Emergency department: outpatient institutional bill type '131' with a revenue 0450/0459 line, plus
  a professional claim at place of service '23' with 99283-99285 on the same day. An ED visit that
  leads to an admission has no outpatient ED claim: the inpatient claim carries an 0450 line and the
  ED professional claim falls on the admission date.
- Other hospital outpatient (bill type '131', no ED line): advanced imaging is a line with revenue
  0350 (CT) or 0610 (MRI) and HCPCS 70450/71250/74177 (CT) or 72148/70553 (MRI), read by a
  radiologist at POS 22 with the same HCPCS (count studies on the institutional line); 0320 x-ray,
  0300 lab, 0510 clinic, 0360 surgery, 0420 therapy, 0483 echo, 0750 GI (colonoscopy), 0636 drugs.
- SNF: bill type '211' (one claim per stay). Home health: '321', one claim per 30-day period.
  Hospice: '811', one claim per calendar month, only in the last months of life.
- Professional (claim_type 'professional'; rendering = billing NPI = the clinician, billing_tin =
  the clinician's roster TIN): POS 11 office (E&M 99202-99215 by PCPs and specialists, AWV
  G0438/G0439, CCM 99490 and flu shots by PCPs), 02 telehealth, 21 inpatient (hospitalists,
  consultants, surgeons, anesthesia), 22 outpatient hospital (radiology reads, mammography,
  colonoscopy, outpatient surgeons), 23 ED, 31 SNF (99307-99310), 12 home with DME HCPCS beginning
  E/K/L (billed by a 'dme supplier'), 81 independent lab (80053, 85025, 83036 HbA1c, FIT 82274/G0328,
  FIT-DNA 81528).
- Roster: PCP specialties 'internal medicine', 'family practice', 'geriatric medicine',
  'nurse practitioner'; facilities have organization null and specialty 'acute care hospital',
  'skilled nursing facility', 'home health agency', 'hospice', 'laboratory' or 'dme supplier'.
- Quality: lab_result holds HbA1c (LOINC 4548-4, '%'); observation holds blood pressure as two rows
  per reading (8480-6 systolic, 8462-4 diastolic, 'mm[Hg]') on PCP office-visit dates.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vbc.contract import DATE, INTEGER, NUMBER, TABLES

PAYER = "Medicare"
PAYER_TYPE = "medicare"
PLAN = "ACO Demo Plan"
CHUNK_MEMBERS = 20_000
SUMMARY_FILE = "_demo.json"
DEMO_CONTRACTS = Path(__file__).resolve().parent.parent / "data" / "contracts" / "demo"

ORGANIZATIONS = ("Riverbend Health Partners", "Lakeside Physician Group", "Cedar Hollow Family Medicine")
RIVERBEND, LAKESIDE, CEDAR, INDEPENDENT, NO_PCP = range(5)
# Share of members whose home PCP sits in each organization, with independents, then no PCP.
ORG_SHARE = np.array([0.60, 0.27, 0.02, 0.03, 0.08])

# Chronic conditions: (name, prevalence, ICD-10-CM code).
CONDITIONS = (
    ("hypertension", 0.60, "I10"),
    ("diabetes", 0.27, "E119"),
    ("hyperlipidemia", 0.45, "E785"),
    ("heart_failure", 0.14, "I509"),
    ("copd", 0.11, "J449"),
    ("ckd", 0.15, "N183"),
    ("depression", 0.15, "F329"),
    ("atrial_fibrillation", 0.09, "I4891"),
)
HTN, DM, HLD, HF, COPD, CKD, DEP, AF = range(len(CONDITIONS))
_THRESH = np.array([NormalDist().inv_cdf(1 - p) for _, p, _ in CONDITIONS])
# Order in which a member's chronic codes fill diagnosis_code_2.. (sickest first).
_DX_ORDER = (HF, COPD, CKD, DM, AF, DEP, HTN, HLD)

# Stories planted in the data (the summary records where they are).
QI_BEFORE, QI_AFTER, BP_OTHER_HTN, BP_NON_HTN = 0.62, 0.78, 0.62, 0.88
WINTER_MONTHS, SUMMER_MONTHS, WINTER_UPLIFT = (12, 1, 2), (6, 7, 8), 0.30

INST, PROF = 0, 1
LAG_PROF, LAG_IP, LAG_INST, LAG_STORY = 0, 1, 2, 3
NO_DATE = -99_999_999  # "no date" (birth dates before 1970 are negative day numbers)

_ARROW = {DATE: pa.date32(), NUMBER: pa.float64(), INTEGER: pa.int64()}


def _schema(table: str) -> pa.Schema:
    return pa.schema([pa.field(c.name, _ARROW.get(c.type, pa.string())) for c in TABLES[table].columns])


# --------------------------------------------------------------------------------------------
# Small helpers


class _Vocab:
    """Every code string gets a small integer; columns are built as integer arrays (-1 = null)."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self.values: list[str] = []

    def __call__(self, s: str) -> int:
        i = self._index.get(s)
        if i is None:
            i = self._index[s] = len(self.values)
            self.values.append(s)
        return i

    def arr(self, seq) -> np.ndarray:
        return np.array([self(s) for s in seq], dtype=np.int32)

    def strings(self, idx: np.ndarray) -> pa.Array:
        idx = np.asarray(idx, dtype=np.int32)
        return pa.array(self.values, pa.string()).take(pa.array(idx, mask=idx < 0))


def _dates(days: np.ndarray) -> pa.Array:
    days = np.asarray(days)
    return pa.array(days.astype(np.int32), type=pa.int32(), mask=days == NO_DATE).view(pa.date32())


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _slots(present: np.ndarray, **cols) -> dict:
    """Lines from a (claims x slots) presence mask; per-slot values as (1, S), per-claim as (C, 1)."""
    ci, si = np.nonzero(present)
    out = {"claim": ci}
    for k, v in cols.items():
        out[k] = np.broadcast_to(np.asarray(v), present.shape)[ci, si]
    return out


def _one(c: int, **cols) -> dict:
    out = {"claim": np.arange(c)}
    for k, v in cols.items():
        out[k] = np.broadcast_to(np.asarray(v), (c,))
    return out


def _luhn_npi(base9: int) -> str:
    """A 10-digit NPI with a valid check digit (Luhn over the 80840 prefix)."""
    digits = f"{base9:09d}"
    total = 0
    for i, ch in enumerate(reversed("80840" + digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def _month_index(year: int, month: int, w: _Window) -> int:
    return (year - int(w.year[0])) * 12 + month - int(w.moy[0])


@dataclass
class _Window:
    months: int
    start: np.ndarray  # (M+1,) first day of each month as days since 1970, plus the day after the end
    moy: np.ndarray  # (M,) month of year 1..12
    year: np.ndarray  # (M,) calendar year
    labels: list[str]

    @property
    def first_day(self) -> int:
        return int(self.start[0])

    @property
    def last_day(self) -> int:
        return int(self.start[-1]) - 1

    def month_of(self, day: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.start, day, side="right") - 1


def _window(end_month: str, months: int) -> _Window:
    end = np.datetime64(end_month, "M")
    ms = np.arange(end - (months - 1), end + 2, dtype="datetime64[M]")
    mm = ms[:-1]
    return _Window(
        months,
        ms.astype("datetime64[D]").astype(np.int64),
        mm.astype(np.int64) % 12 + 1,
        mm.astype("datetime64[Y]").astype(np.int64) + 1970,
        [str(m) for m in mm],
    )


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


# --------------------------------------------------------------------------------------------
# Provider roster

_FIRST = (
    "Anna",
    "Brian",
    "Carmen",
    "David",
    "Elena",
    "Frank",
    "Grace",
    "Hector",
    "Irene",
    "James",
    "Karen",
    "Luis",
    "Maria",
    "Nathan",
    "Olivia",
    "Paul",
    "Queenie",
    "Rahul",
    "Sofia",
    "Thomas",
    "Uma",
    "Victor",
    "Wendy",
    "Xavier",
    "Yvonne",
    "Zach",
    "Amir",
    "Beth",
    "Chen",
    "Dana",
)
_LAST = (
    "Abbott",
    "Baker",
    "Castillo",
    "Dunn",
    "Ellis",
    "Fischer",
    "Garcia",
    "Huang",
    "Iverson",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreno",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinn",
    "Reyes",
    "Schmidt",
    "Tran",
    "Underwood",
    "Vasquez",
    "Whitaker",
    "Xu",
    "Yates",
    "Zimmerman",
    "Adeyemi",
    "Brennan",
    "Choi",
    "Delgado",
    "Eriksen",
    "Foster",
    "Gallagher",
    "Hoffman",
    "Ibrahim",
    "Jacobs",
    "Kim",
    "Larsen",
    "Mehta",
    "Novak",
    "Ortiz",
)
_PCP_SPECIALTIES = (
    "internal medicine",
    "family practice",
    "internal medicine",
    "geriatric medicine",
    "nurse practitioner",
    "family practice",
)
_HOSPITALS = (
    "Mercy Valley Hospital",
    "St. Agnes Medical Center",
    "Northgate General Hospital",
    "University Medical Center",
)
_HOME_HOSPITAL_SHARE = (0.45, 0.35, 0.20)  # community hospitals; University Medical Center takes referrals
TERTIARY = 3


class _Groups:
    """Roster indexes grouped by a key (a roster index or a small integer), picked vectorised."""

    def __init__(self, size: int, groups: dict[int, list[int]]) -> None:
        flat, start, count = [], np.zeros(size, np.int64), np.zeros(size, np.int64)
        for key, members in groups.items():
            start[key] = len(flat)
            count[key] = len(members)
            flat.extend(members)
        self.flat, self.start, self.count = np.array(flat, np.int64), start, count

    def pick(self, keys: np.ndarray, u: np.ndarray) -> np.ndarray:
        return self.flat[
            self.start[keys] + np.minimum((u * self.count[keys]).astype(np.int64), self.count[keys] - 1)
        ]


class _Roster:
    def __init__(self, vocab: _Vocab) -> None:
        rows: list[tuple] = []
        org: list[int] = []
        self.pcps: dict[int, list[int]] = {RIVERBEND: [], LAKESIDE: [], CEDAR: [], INDEPENDENT: []}
        self.specialists: dict[str, list[int]] = {}
        self.facilities: dict[str, list[int]] = {}
        tin_of_pcp: dict[int, list[int]] = {}
        counters = {"person": 0, "facility": 0, "tin": 0}

        def new_tin() -> str:
            counters["tin"] += 1
            return f"{361_204_000 + counters['tin'] * 1_237_911:09d}"[-9:]

        def clinician(specialty: str, tin: str, org_id: int) -> int:
            i = counters["person"]
            counters["person"] += 1
            suffix = "NP" if specialty == "nurse practitioner" else ("DO" if i % 5 == 3 else "MD")
            name = f"{_FIRST[i * 7 % len(_FIRST)]} {_LAST[i * 11 % len(_LAST)]}, {suffix}"
            rows.append(
                (
                    _luhn_npi(134_562_000 + i * 9_173),
                    name,
                    specialty,
                    tin,
                    ORGANIZATIONS[org_id] if org_id >= 0 else None,
                )
            )
            org.append(org_id)
            return len(rows) - 1

        def facility(name: str, specialty: str) -> int:
            i = counters["facility"]
            counters["facility"] += 1
            rows.append((_luhn_npi(178_903_000 + i * 21_211), name, specialty, new_tin(), None))
            org.append(-1)
            self.facilities.setdefault(specialty, []).append(len(rows) - 1)
            return len(rows) - 1

        def specialist(specialty: str, tin: str, org_id: int = -1) -> int:
            r = clinician(specialty, tin, org_id)
            self.specialists.setdefault(specialty, []).append(r)
            return r

        org_layout = {RIVERBEND: (10, 9, 7), LAKESIDE: (6, 5), CEDAR: (3,)}
        org_specialists = {
            RIVERBEND: ("cardiology", "cardiology", "pulmonology", "orthopedic surgery", "general surgery"),
            LAKESIDE: ("cardiology", "nephrology", "gastroenterology"),
            CEDAR: (),
        }
        k = 0
        for org_id, tins in org_layout.items():
            first_tin = None
            for n_pcp in tins:
                tin = new_tin()
                first_tin = first_tin or tin
                group = []
                for _ in range(n_pcp):
                    spec = "family practice" if org_id == CEDAR and k % 3 else _PCP_SPECIALTIES[k % 6]
                    r = clinician(spec, tin, org_id)
                    self.pcps[org_id].append(r)
                    group.append(r)
                    k += 1
                for r in group:
                    tin_of_pcp[r] = group
            for spec in org_specialists[org_id]:
                specialist(spec, first_tin, org_id)
        for spec in ("family practice", "internal medicine", "internal medicine"):
            r = clinician(spec, new_tin(), -1)
            self.pcps[INDEPENDENT].append(r)
            tin_of_pcp[r] = [r]
        self.snfist = clinician("geriatric medicine", new_tin(), -1)
        for spec, n in (
            ("cardiology", 1),
            ("orthopedic surgery", 2),
            ("pulmonology", 1),
            ("nephrology", 1),
            ("gastroenterology", 2),
            ("general surgery", 1),
            ("hematology oncology", 1),
            ("ophthalmology", 2),
            ("dermatology", 2),
            ("clinical psychologist", 2),
            ("physical therapist", 2),
            ("anesthesiology", 2),
        ):
            for _ in range(n):
                specialist(spec, new_tin())
        radiology_tin = new_tin()
        for _ in range(3):
            specialist("radiology", radiology_tin)
        em_by_hosp: dict[int, list[int]] = {}
        hospitalists_by_hosp: dict[int, list[int]] = {}
        for h in range(len(_HOSPITALS)):
            tin = new_tin()
            em_by_hosp[h] = [specialist("emergency medicine", tin) for _ in range(2)]
            tin = new_tin()
            hospitalists_by_hosp[h] = [specialist("hospitalist", tin) for _ in range(1 if h == 2 else 2)]
        self.hospitals = np.array([facility(n, "acute care hospital") for n in _HOSPITALS])
        self.snfs = np.array(
            [
                facility(n, "skilled nursing facility")
                for n in (
                    "Maple Grove Rehabilitation Center",
                    "Willow Creek Skilled Nursing",
                    "Brookside Care Center",
                )
            ]
        )
        self.hhas = np.array(
            [
                facility(n, "home health agency")
                for n in ("Visiting Nurses of the Valley", "HomeFirst Health Services")
            ]
        )
        self.hospices = np.array(
            [facility(n, "hospice") for n in ("Compassion Hospice", "Evening Star Hospice")]
        )
        self.labs = np.array(
            [
                facility(n, "laboratory")
                for n in ("Tri-County Clinical Laboratory", "Keystone Reference Laboratory")
            ]
        )
        self.dmes = np.array(
            [facility(n, "dme supplier") for n in ("Summit Medical Supply", "Apex Home Medical Equipment")]
        )

        self.rows = rows
        size = len(rows)
        self.npi = vocab.arr([r[0] for r in rows])
        self.tin = vocab.arr([r[3] for r in rows])
        self.org = np.array(org, np.int64)
        self.pcp_all = np.array([r for lst in self.pcps.values() for r in lst], np.int64)
        self.same_tin = _Groups(size, tin_of_pcp)
        self.em = _Groups(size, {int(self.hospitals[h]): v for h, v in em_by_hosp.items()})
        self.hospitalist = _Groups(size, {int(self.hospitals[h]): v for h, v in hospitalists_by_hosp.items()})
        self.spec = {k: np.array(v, np.int64) for k, v in self.specialists.items()}
        # Uneven panel sizes inside each organization.
        self.pcp_weights = {
            o: np.array([1.0 + 0.35 * (i % 4) for i in range(len(v))]) for o, v in self.pcps.items()
        }

    def table(self) -> pa.Table:
        cols = list(zip(*self.rows))
        return pa.Table.from_arrays([pa.array(c, pa.string()) for c in cols], schema=_schema("provider"))


# --------------------------------------------------------------------------------------------
# Clinical and price tables

# E&M codes: office visits (POS 11 / 02), paid amounts (Medicare pays 80% of allowed).
_EM = {
    "99202": 55.0,
    "99203": 85.0,
    "99204": 130.0,
    "99205": 170.0,
    "99212": 45.0,
    "99213": 72.0,
    "99214": 103.0,
    "99215": 142.0,
}
_PCP_EM = (
    ("99212", 0.06),
    ("99213", 0.44),
    ("99214", 0.39),
    ("99215", 0.09),
    ("99203", 0.015),
    ("99204", 0.005),
)
_SPEC_EM = (("99213", 0.35), ("99214", 0.42), ("99215", 0.08), ("99204", 0.10), ("99203", 0.05))
_ACUTE_DX = ("J069", "M5450", "R051", "R5383", "M25561", "R42", "N390", "E039", "M1990", "R600", "Z23")
_ED_DX = (
    "R079",
    "R0602",
    "N390",
    "R109",
    "S0990XA",
    "R55",
    "M5450",
    "J069",
    "R519",
    "L03115",
    "S6290XA",
    "K5900",
    "R42",
    "W1830XA",
)
_ED_LEVELS = (("99283", 0.35, 330.0, 80.0), ("99284", 0.40, 560.0, 140.0), ("99285", 0.25, 840.0, 205.0))

# Specialist office visits: specialty, base weight, condition boosts, dx list, condition dx
# overrides, extra lines (hcpcs, probability, paid).
_SPECIALTY_VISITS = (
    (
        "cardiology",
        0.12,
        {HF: 0.55, AF: 0.45, HTN: 0.10},
        ("R079", "I2510", "R002"),
        ((HTN, "I10"), (AF, "I4891"), (HF, "I509")),
        (("93000", 0.35, 17.0), ("93306", 0.20, 215.0), ("78452", 0.08, 390.0), ("93224", 0.05, 80.0)),
    ),
    (
        "pulmonology",
        0.04,
        {COPD: 0.60},
        ("R0602", "R918", "R051"),
        ((COPD, "J449"),),
        (("94010", 0.30, 31.0), ("94729", 0.20, 45.0), ("94060", 0.15, 55.0)),
    ),
    ("nephrology", 0.02, {CKD: 0.45}, ("N179", "R809"), ((CKD, "N183"),), ()),
    ("gastroenterology", 0.10, {}, ("K219", "K5730", "R109", "K5900"), (), ()),
    (
        "orthopedic surgery",
        0.18,
        {},
        ("M1711", "M5450", "M1990", "M25561"),
        (),
        (("20610", 0.35, 56.0), ("J3301", 0.35, 6.0), ("73562", 0.30, 31.0)),
    ),
    (
        "general surgery",
        0.05,
        {},
        ("K409", "K802", "L723"),
        (),
        (("11042", 0.20, 110.0), ("10060", 0.10, 95.0)),
    ),
    ("hematology oncology", 0.01, {}, ("D649", "D509"), (), (("85025", 0.5, 8.0),)),
    (
        "ophthalmology",
        0.12,
        {DM: 0.05},
        ("H2513", "H409", "H524"),
        (),
        (("92134", 0.40, 38.0), ("92083", 0.20, 55.0)),
    ),
    (
        "dermatology",
        0.11,
        {},
        ("L570", "L821", "D485", "L309"),
        (),
        (("17000", 0.45, 62.0), ("17003", 0.30, 8.0), ("11102", 0.25, 95.0), ("17311", 0.05, 610.0)),
    ),
)
_SPEC_NAMES = tuple(s[0] for s in _SPECIALTY_VISITS)

# DRGs: code, base paid, mean LOS, surgical, ICU share, dx1 options, PCS codes (paired with dx1
# when the lengths match), surgeon (specialty, CPT per dx1, paid), weights for ED-origin, direct
# and terminal admissions.
_DRGS = (
    ("291", 12500, 4.8, False, 0.10, ("I509", "I5023"), (), None, 0.04, 0.03, 0.20),
    ("190", 10300, 4.2, False, 0.08, ("J441",), (), None, 0.03, 0.02, 0.10),
    ("871", 20500, 6.3, False, 0.35, ("A419",), (), None, 0.14, 0.06, 0.25),
    ("193", 11600, 4.9, False, 0.10, ("J189",), (), None, 0.10, 0.06, 0.15),
    ("065", 11100, 4.0, False, 0.15, ("I639",), (), None, 0.07, 0.03, 0.10),
    ("392", 7700, 3.2, False, 0.00, ("K219", "K5730"), (), None, 0.07, 0.05, 0),
    ("683", 9300, 4.2, False, 0.05, ("N179",), (), None, 0.06, 0.05, 0.05),
    ("308", 9700, 3.6, False, 0.08, ("I4891",), (), None, 0.03, 0.03, 0),
    ("377", 12100, 4.5, False, 0.15, ("K922",), (), None, 0.05, 0.03, 0),
    ("885", 9500, 9.0, False, 0.00, ("F329", "F209"), (), None, 0.02, 0.04, 0),
    ("207", 48000, 12.5, False, 0.80, ("J9601",), ("5A1955Z",), None, 0.02, 0.01, 0.15),
    (
        "853",
        44000,
        12.0,
        True,
        0.50,
        ("A419",),
        ("0JB60ZZ",),
        ("general surgery", ("11043",), 520.0),
        0.01,
        0.01,
        0,
    ),
    (
        "470",
        14900,
        2.2,
        True,
        0.00,
        ("M1611", "M1711"),
        ("0SR9019", "0SRC0J9"),
        ("orthopedic surgery", ("27130", "27447"), 1150.0),
        0,
        0.13,
        0,
    ),
    (
        "481",
        19400,
        4.8,
        True,
        0.05,
        ("S72001A",),
        ("0QS604Z",),
        ("orthopedic surgery", ("27245",), 980.0),
        0.06,
        0.01,
        0,
    ),
    (
        "247",
        22000,
        2.8,
        True,
        0.20,
        ("I214",),
        ("02703ZZ",),
        ("cardiology", ("92928",), 640.0),
        0.04,
        0.06,
        0,
    ),
    (
        "460",
        32500,
        3.5,
        True,
        0.05,
        ("M4806",),
        ("0SG00A0",),
        ("orthopedic surgery", ("22612",), 1450.0),
        0,
        0.06,
        0,
    ),
    (
        "329",
        35700,
        9.5,
        True,
        0.30,
        ("K5730",),
        ("0DTN0ZZ",),
        ("general surgery", ("44140",), 1250.0),
        0.01,
        0.06,
        0,
    ),
    ("846", 9900, 3.0, False, 0.00, ("Z5111",), ("3E04305",), None, 0, 0, 0),
    ("840", 0, 14.0, False, 0.50, ("C8338",), (), None, 0, 0, 0),
    ("018", 0, 21.0, False, 0.30, ("C8338",), ("XW033C7",), None, 0, 0, 0),
    ("870", 0, 26.0, False, 1.0, ("A419",), ("5A1955Z",), None, 0, 0, 0),
    ("004", 0, 24.0, True, 1.0, ("J9620",), ("0B110F4",), ("general surgery", ("31600",), 420.0), 0, 0, 0),
)
_D = {d[0]: i for i, d in enumerate(_DRGS)}
_DRG_PAID = np.array([d[1] for d in _DRGS], float)
_DRG_LOS = np.array([d[2] for d in _DRGS], float)
_DRG_SURG = np.array([d[3] for d in _DRGS])
_DRG_ICU = np.array([d[4] for d in _DRGS], float)
_W_ED = np.array([d[8] for d in _DRGS], float)
_W_DIRECT = np.array([d[9] for d in _DRGS], float)
_W_TERMINAL = np.array([d[10] for d in _DRGS], float)
_ED_BOOST = {
    HF: ("291", 0.26),
    COPD: ("190", 0.18),
    CKD: ("683", 0.05),
    AF: ("308", 0.08),
    DEP: ("885", 0.02),
}
_ORTHO_DRGS = np.array([d[0] in ("470", "481", "460", "065") for d in _DRGS])
IP_SCALE = 1.04

# Inpatient revenue lines: code, share of the stay's paid amount.
_IP_REV = (
    ("0120", 0.46),
    ("0200", 0.25),
    ("0250", 0.10),
    ("0270", 0.05),
    ("0300", 0.07),
    ("0320", 0.03),
    ("0360", 0.20),
    ("0450", 0.03),
    ("0730", 0.015),
    ("0420", 0.03),
)

# Outpatient hospital services: (hcpcs, revenue, paid, dx1 choices, professional (specialty, paid)).
_IMAGING = (
    ("70450", "0350", 0.25, 135.0, ("R519", "R42"), 42.0),
    ("71250", "0350", 0.20, 165.0, ("R918", "R0602"), 55.0),
    ("74177", "0350", 0.25, 285.0, ("R109", "K5730"), 78.0),
    ("72148", "0610", 0.15, 245.0, ("M5450", "M4806"), 75.0),
    ("70553", "0610", 0.15, 350.0, ("R42", "G459"), 90.0),
)
_XRAY = (
    ("71046", ("R0602", "R051")),
    ("73562", ("M25561", "M1711")),
    ("72100", ("M5450",)),
    ("73030", ("M25511",)),
)
_OP_SURGERY = (
    ("66984", 0.33, 1250.0, "H2513", "ophthalmology", 520.0),
    ("29881", 0.10, 2500.0, "M1711", "orthopedic surgery", 480.0),
    ("47562", 0.08, 4000.0, "K802", "general surgery", 600.0),
    ("64483", 0.20, 700.0, "M4806", "orthopedic surgery", 190.0),
    ("43239", 0.17, 760.0, "K219", "gastroenterology", 150.0),
    ("92928", 0.05, 10500.0, "I2510", "cardiology", 620.0),
    ("27447", 0.07, 12500.0, "M1711", "orthopedic surgery", 1100.0),
)

# DME: rentals billed monthly (hcpcs, paid, dx1) and one-off purchases (hcpcs, rate/yr, paid, dx1).
_DME_ONE_OFF = (
    ("L3000", 85.0, "E119"),
    ("K0823", 4300.0, "R262"),
    ("L1833", 690.0, "M1711"),
    ("L0650", 1150.0, "M5450"),
    ("E0114", 40.0, "S82001A"),
)

# Pharmacy: ndc, condition (or special group), share of the group on it, paid per 30 days,
# units per day, share of fills at 90 days.
_STATINS = (
    ("00071015523", 0.30, 7.5, 1),
    ("00071015623", 0.20, 9.0, 1),
    ("00006074031", 0.20, 5.5, 1),
    ("00310075190", 0.18, 9.5, 1),
    ("00003517805", 0.12, 6.5, 1),
)
STATIN_NDCS = tuple(s[0] for s in _STATINS)
NEW_START_SHARE = 0.12  # chronic therapies that start inside the window
PRE_DAYS = 180  # days of each ongoing therapy's fills simulated before the window
_DRUGS = (
    ("68180051301", HTN, 0.40, 4.2, 1.0, 0.25),
    ("69097012805", HTN, 0.35, 4.5, 1.0, 0.25),
    ("00093736598", HTN, 0.25, 7.0, 1.0, 0.25),
    ("00378003201", HTN, 0.25, 6.0, 2.0, 0.25),
    ("00172208360", HTN, 0.20, 3.5, 1.0, 0.25),
    ("00093104801", DM, 0.62, 5.5, 2.0, 0.25),
    ("00093011101", DM, 0.20, 5.0, 1.0, 0.25),
    ("00088222033", DM, 0.25, 330.0, 0.5, 0.10),
    ("00597015230", DM, 0.18, 590.0, 1.0, 0.15),
    ("00169413212", DM, 0.14, 940.0, 0.1, 0.05),
    ("00006027731", DM, 0.10, 555.0, 1.0, 0.15),
    ("00078065920", HF, 0.30, 620.0, 2.0, 0.15),
    ("00054829725", HF, 0.75, 4.5, 1.0, 0.25),
    ("00093729601", HF, 0.50, 6.0, 2.0, 0.25),
    ("00173088710", COPD, 0.35, 590.0, 0.033, 0.10),
    ("00597007541", COPD, 0.25, 500.0, 1.0, 0.10),
    ("00173068220", COPD, 0.60, 57.0, 0.033, 0.00),
    ("00003089421", AF, 0.62, 590.0, 2.0, 0.15),
    ("50458057930", AF, 0.20, 565.0, 1.0, 0.15),
    ("00056017270", AF, 0.12, 7.0, 1.0, 0.25),
    ("16729001817", DEP, 0.45, 6.0, 1.0, 0.25),
    ("00093585001", DEP, 0.30, 6.0, 1.0, 0.25),
    ("00093754256", DEP, 0.20, 12.0, 1.0, 0.25),
    ("62175011843", "all", 0.25, 6.0, 1.0, 0.25),
    ("00378180001", "all", 0.18, 8.0, 1.0, 0.25),
    ("59762502801", "all", 0.14, 9.0, 3.0, 0.25),
    ("00093314301", "male", 0.22, 8.0, 1.0, 0.25),
    ("00093517106", "female", 0.10, 6.0, 0.14, 0.25),
    ("00093738505", "old", 0.10, 7.0, 1.0, 0.25),
    ("00074055402", "specialty", 1.0, 6900.0, 0.067, 0.0),
    ("60505025303", "all", 0.08, 6.0, 1.0, 0.25),
    ("16729014201", "all", 0.07, 5.0, 1.0, 0.25),
    ("00245531901", HF, 0.30, 8.0, 1.0, 0.25),
    ("62175061737", "all", 0.12, 6.0, 1.0, 0.25),
    ("50111056101", "all", 0.08, 5.0, 1.0, 0.25),
    ("29300012501", "all", 0.10, 5.0, 1.0, 0.25),
    ("16729011915", COPD, 0.30, 6.0, 1.0, 0.25),
    ("16714052201", "male", 0.10, 6.0, 1.0, 0.25),
    ("60505082901", "all", 0.08, 10.0, 0.1, 0.0),
    ("00093721401", DM, 0.10, 6.0, 1.0, 0.25),
    ("00228282911", HF, 0.35, 6.0, 1.0, 0.25),
    ("00093075201", HTN, 0.10, 4.0, 1.0, 0.25),
    ("00378018101", "all", 0.12, 5.0, 1.0, 0.25),
    ("68382013510", "all", 0.10, 7.0, 2.0, 0.25),
    ("00781507092", CKD, 0.25, 6.0, 1.0, 0.25),
    ("13668011390", "all", 0.09, 6.0, 1.0, 0.25),
)
_ACUTE_RX = (
    ("00093310905", 5.0, 10, 30.0),
    ("59762306001", 8.0, 5, 6.0),
    ("00054472825", 4.0, 6, 21.0),
    ("00093314701", 6.0, 7, 28.0),
    ("68462015730", 5.0, 5, 10.0),
)
RX_SCALE = 1.62
# Drugs a specialist often prescribes: ndc -> specialty.
_SPECIALIST_RX = {
    "00078065920": "cardiology",
    "00003089421": "cardiology",
    "50458057930": "cardiology",
    "00173088710": "pulmonology",
    "00597007541": "pulmonology",
}


# --------------------------------------------------------------------------------------------
# Members


def _traits(rng: np.random.Generator, n: int) -> dict:
    """Age at the start of the data (about 10% under 65 with a disability), sex, chronic conditions
    (a shared frailty makes them cluster), dual status and a cost multiplier r (lognormal-like)."""
    disabled = rng.random(n) < 0.10
    age = np.where(disabled, rng.uniform(45, 63, n), 65 + np.minimum(rng.exponential(10.5, n), 30.5))
    frail = rng.standard_normal(n)
    lat = 0.55 * frail[:, None] + 0.835 * rng.standard_normal((n, len(CONDITIONS)))
    cond = lat > _THRESH
    female = rng.random(n) < np.where(disabled, 0.47, 0.56)
    dual = rng.random(n) < np.where(disabled, 0.45, 0.11)
    ncond = cond.sum(1)
    logr = (
        0.20 * ncond
        + 0.30 * cond[:, HF]
        + 0.25 * cond[:, CKD]
        + 0.20 * cond[:, COPD]
        + 0.20 * dual
        + 0.012 * (age - 75)
        + 0.35 * frail
        + 0.60 * rng.standard_normal(n)
    )
    return dict(age=age, disabled=disabled, cond=cond, female=female, dual=dual, r=np.exp(logr), frail=frail)


@lru_cache(maxsize=1)
def _reference() -> tuple[float, np.ndarray, float]:
    """A fixed reference population so rate multipliers are normalised the same way in every chunk."""
    t = _traits(np.random.default_rng(20_240_607), 100_000)
    scale = float(t["r"].mean())
    r = t["r"] / scale
    hz = np.exp(0.075 * (t["age"] - 78)) * r**0.4
    return scale, r, float(hz.mean())


@lru_cache(maxsize=64)
def _norm(a: float) -> float:
    return float(np.mean(_reference()[1] ** a))


@dataclass
class _Gen:
    """What every chunk shares: window, roster, vocabulary, stories."""

    seed: int
    w: _Window
    vocab: _Vocab
    roster: _Roster
    qi_month: int  # window index where the Lakeside improvement starts
    claimant_months: tuple[int, ...]  # window indexes of the high-cost claimant's episode
    season: np.ndarray  # (M,) ED seasonality


def _choice(rng: np.random.Generator, p, size: int) -> np.ndarray:
    c = np.cumsum(np.asarray(p, float))
    return np.minimum(np.searchsorted(c / c[-1], rng.random(size), side="right"), len(c) - 1)


def _choice_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    c = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * c[:, -1]
    return np.minimum((c <= u[:, None]).sum(1), weights.shape[1] - 1)


def _resolve(member: np.ndarray, start: np.ndarray, end: np.ndarray, prio: np.ndarray) -> np.ndarray:
    """Keep mask dropping lower-priority stays that overlap a kept stay of the same member
    (a stay may start on the day another ends)."""
    keep = np.ones(len(member), bool)
    if len(member) < 2:
        return keep
    o = np.lexsort((start, member))
    m, s, e = member[o], start[o], end[o]
    big = int(e.max()) + 10
    run = np.maximum.accumulate(e + m * big) - m * big
    prev = np.r_[np.iinfo(np.int64).min, run[:-1]]
    same = np.r_[False, m[1:] == m[:-1]]
    bad = np.unique(m[same & (s < prev)])
    if len(bad) == 0:
        return keep
    lo = np.searchsorted(m, bad, side="left")
    hi = np.searchsorted(m, bad, side="right")
    for a, b in zip(lo, hi):
        rows = o[a:b]
        order = rows[np.lexsort((start[rows], -prio[rows]))]
        kept: list[tuple[int, int]] = []
        for r in order:
            if any(start[r] < ke and ks < end[r] for ks, ke in kept):
                keep[r] = False
            else:
                kept.append((int(start[r]), int(end[r])))
    return keep


class _Chunk:
    def __init__(self, g: _Gen, index: int, lo: int, n: int) -> None:
        self.g, self.w, self.V, self.R = g, g.w, g.vocab, g.roster
        self.index, self.lo, self.n = index, lo, n
        self.rng = np.random.default_rng([g.seed, index])
        self.heads: list[dict] = []
        self.lines: list[dict] = []
        self.obs: list[tuple] = []
        self.labs: list[tuple] = []
        self.qi_counts = np.zeros((2, 2))  # [before/after, readings/controlled] for Lakeside hypertensives
        self._people()

    # ---------------------------------------------------------------- people and enrollment
    def _people(self) -> None:
        rng, w, n, M = self.rng, self.w, self.n, self.w.months
        years = M / 12
        new_frac = 0.06 * years / (1 + 0.06 * years)
        is_new = rng.random(n) < new_frac
        start_m = np.where(is_new, rng.integers(1, max(M, 2), n), 0)
        start_m = np.minimum(start_m, M - 1)
        new_age = np.where(rng.random(n) < 0.9, 65.0, rng.uniform(45, 64, n)) - start_m / 12
        t = _traits(rng, n)
        age = np.where(is_new, new_age, t["age"])
        r = (
            t["r"] / _reference()[0] * np.exp(0.012 * (age - t["age"]))
        )  # the age term follows new enrollees' age
        self.age, self.female, self.cond, self.dual, self.r = age, t["female"], t["cond"], t["dual"], r
        self.is_new, self.start_m = is_new, start_m

        hz = np.exp(0.075 * (age - 78)) * r**0.4
        h = np.clip(0.05 / 12 * hz / _reference()[2], 1e-6, 0.5)
        death_m = start_m + rng.geometric(h) - 1
        disenroll_m = start_m + rng.geometric(0.03 / 12, n) - 1
        died = (death_m < M) & (death_m <= disenroll_m)
        last_m = np.where(died, death_m, np.minimum(disenroll_m, M - 1))
        dim = np.diff(w.start)  # days in each month
        death_dom = (rng.random(n) * dim[np.minimum(last_m, M - 1)]).astype(np.int64)
        self.died = died
        self.death_day = np.where(died, w.start[last_m] + death_dom, NO_DATE)
        # A gap of 2-4 months for about 1% of members gives them two enrollment spans.
        gap = (rng.random(n) < 0.01) & (last_m - start_m >= 8)
        glen = rng.integers(2, 5, n)
        span = np.maximum(last_m - start_m - glen - 2, 1)
        g0 = start_m + 2 + (rng.random(n) * span).astype(np.int64)
        self.gap, self.g0, self.g1 = gap, np.where(gap, g0, M), np.where(gap, g0 + glen, M)
        self.last_m = last_m
        m = np.arange(M)[None, :]
        enrolled = (
            (m >= start_m[:, None])
            & (m <= last_m[:, None])
            & ~((m >= self.g0[:, None]) & (m < self.g1[:, None]))
        )
        vdays = np.where(enrolled, dim[None, :], 0)
        dm = np.flatnonzero(died)
        vdays[dm, last_m[dm]] = death_dom[dm] + 1
        self.vdays = vdays.astype(np.int64)
        self.expo = self.vdays / dim[None, :]
        self.last_day = np.where(died, self.death_day, w.start[last_m + 1] - 1)

        # Demographics.
        birth = np.where(
            is_new & (age + start_m / 12 >= 64.99),
            (np.asarray(w.start[start_m]).astype("datetime64[D]").astype("datetime64[M]") - 780)
            .astype("datetime64[D]")
            .astype(np.int64)
            + rng.integers(1, 28, n),
            w.first_day - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n),
        )
        self.birth = birth
        dual_codes = self.V.arr(["00", "02", "08", "01", "03", "04"])
        self.dual_code = np.where(
            self.dual, dual_codes[1:][_choice(rng, [0.45, 0.25, 0.15, 0.10, 0.05], n)], dual_codes[0]
        )
        zips = self.V.arr(
            [
                "45202",
                "45205",
                "45211",
                "45223",
                "45231",
                "45238",
                "45240",
                "41011",
                "41017",
                "41042",
                "45013",
                "45044",
            ]
        )
        self.zip = zips[_choice(rng, [14, 9, 11, 8, 10, 7, 9, 8, 7, 6, 6, 5], n)]

        # Extra clinical flags.
        self.diab_code = np.where(rng.random(n) < 0.35, self.V("E1165"), self.V("E119"))
        self.mastectomy = self.female & (age >= 45) & (rng.random(n) < 0.006)
        self.crc = rng.random(n) < 0.003
        self.onc = (rng.random(n) < 0.02) & ~self.crc
        onc_codes = np.where(
            self.female,
            self.V.arr(["C50911", "C3490", "C8338"])[_choice(rng, [0.5, 0.3, 0.2], n)],
            self.V.arr(["C61", "C3490", "C8338"])[_choice(rng, [0.5, 0.3, 0.2], n)],
        )
        self.onc_code = np.where(self.onc, onc_codes, -1)
        self.amd = rng.random(n) < np.where(age >= 75, 0.045, 0.012)
        self.rx_user = rng.random(n) < 0.85
        self.gid = self.lo + np.arange(n)

        # Chronic codes packed left, sickest first, then history codes.
        cols = []
        for c in _DX_ORDER:
            code = self.diab_code if c == DM else np.full(n, self.V(CONDITIONS[c][2]))
            cols.append(np.where(self.cond[:, c], code, -1))
        self.ncond_codes = self.cond.sum(1)
        cols.append(np.where(self.crc, self.V("C189"), -1))
        cols.append(self.onc_code)
        cols.append(np.where(self.mastectomy, self.V("Z9013"), -1))
        ch = np.column_stack(cols).astype(np.int32)
        order = np.argsort(ch < 0, axis=1, kind="stable")
        self.chron = np.take_along_axis(ch, order, 1)

        # Primary care: home PCP, switches, hospitals and agencies.
        R = self.R
        org = _choice(rng, ORG_SHARE, n)
        home = np.full(n, -1, np.int64)
        u = rng.random(n)
        for o in (RIVERBEND, LAKESIDE, CEDAR, INDEPENDENT):
            sel = org == o
            pc_ = np.array(R.pcps[o])
            home[sel] = pc_[_choice(rng, R.pcp_weights[o], int(sel.sum()))]
        switch = (org < NO_PCP) & (rng.random(n) < 1 - np.exp(-0.03 * years)) & (M > 1)
        sw_m = np.where(switch, rng.integers(1, max(M, 2), n), M)
        same_org = rng.random(n) < 0.5
        other_w = np.where(np.arange(4)[None, :] == org[:, None], 0.0, ORG_SHARE[None, :4])
        new_org = np.where(same_org, org, _choice_rows(rng, other_w))
        new = home.copy()
        for o in (RIVERBEND, LAKESIDE, CEDAR, INDEPENDENT):
            sel = switch & (new_org == o)
            pc_ = np.array(R.pcps[o])
            j = (rng.random(int(sel.sum())) * len(pc_)).astype(np.int64)
            j = np.where(pc_[j] == home[sel], (j + 1) % len(pc_), j)  # a switch is to someone else
            new[sel] = pc_[j]
        self.org, self.home_pcp, self.new_pcp, self.sw_m = org, home, new, sw_m
        self.fallback_pcp = R.pcp_all[(u * len(R.pcp_all)).astype(np.int64)]
        self.home_hosp = R.hospitals[_choice(rng, _HOME_HOSPITAL_SHARE, n)]
        self.home_snf = R.snfs[rng.integers(0, len(R.snfs), n)]
        self.home_hha = R.hhas[rng.integers(0, len(R.hhas), n)]
        self.home_lab = R.labs[_choice(rng, [0.7, 0.3], n)]
        self.home_dme = R.dmes[rng.integers(0, len(R.dmes), n)]

        # The high-cost claimant: a continuously enrolled Lakeside member in the first chunk.
        self.claimant = -1
        if self.index == 0 and self.g.claimant_months:
            ok = (
                (org == LAKESIDE)
                & ~switch
                & ~is_new
                & ~died
                & (last_m == M - 1)
                & ~gap
                & (age >= 66)
                & (age <= 80)
                & ~self.crc
                & ~self.onc
            )
            if ok.any():
                self.claimant = int(np.flatnonzero(ok)[0])

    # ---------------------------------------------------------------- primitives
    def r_pow(self, a: float) -> np.ndarray:
        return self.r**a / _norm(a)

    def events(self, rate, season: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Poisson events at `rate` per member-year over enrolled days: (member, day)."""
        lam = (np.broadcast_to(np.asarray(rate, float), (self.n,)) / 12.0)[:, None] * self.expo
        if season is not None:
            lam = lam * season[None, :]
        cnt = self.rng.poisson(lam)
        mi, mo = np.nonzero(cnt)
        k = cnt[mi, mo]
        mi, mo = np.repeat(mi, k), np.repeat(mo, k)
        day = self.w.start[mo] + (self.rng.random(len(mi)) * self.vdays[mi, mo]).astype(np.int64)
        return mi, day

    def valid(self, mi: np.ndarray, day: np.ndarray) -> np.ndarray:
        mo = self.w.month_of(day)
        moc = np.clip(mo, 0, self.w.months - 1)
        return (mo >= 0) & (mo < self.w.months) & (day - self.w.start[moc] < self.vdays[mi, moc])

    def pcp_at(self, mi: np.ndarray, day: np.ndarray) -> np.ndarray:
        mo = self.w.month_of(day)
        return np.where(mo >= self.sw_m[mi], self.new_pcp[mi], self.home_pcp[mi])

    def pick(self, values: np.ndarray | tuple, p, size: int) -> np.ndarray:
        return np.asarray(values)[_choice(self.rng, p, size)]

    def codes(self, values) -> np.ndarray:
        return self.V.arr(values)

    def visit_dx(self, mi: np.ndarray, p_chronic: float) -> np.ndarray:
        k = self.ncond_codes[mi]
        use = (k > 0) & (self.rng.random(len(mi)) < p_chronic)
        j = np.minimum((self.rng.random(len(mi)) * np.maximum(k, 1)).astype(np.int64), np.maximum(k - 1, 0))
        acute = self.codes(_ACUTE_DX)[self.rng.integers(0, len(_ACUTE_DX), len(mi))]
        return np.where(use, self.chron[mi, j], acute)

    def emit(
        self,
        mi,
        start,
        end,
        lines: dict,
        *,
        ctype: int,
        lag: int,
        allow: float,
        kchron: int,
        story: bool = False,
        **codes,
    ) -> None:
        c = len(mi)
        if c == 0:
            return
        h = {
            "member": np.asarray(mi, np.int64),
            "start": np.asarray(start, np.int64),
            "end": np.broadcast_to(np.asarray(end, np.int64), (c,)),
            "ctype": np.full(c, ctype, np.int8),
            "lag": np.full(c, lag, np.int8),
            "allow": np.broadcast_to(np.asarray(allow, float), (c,)),
            "kchron": np.full(c, kchron, np.int8),
            "story": np.full(c, story),
        }
        for f in ("adm", "dis"):
            h[f] = np.broadcast_to(np.asarray(codes.pop(f, NO_DATE), np.int64), (c,))
        for f in ("disp", "bill", "drg", "pos", "rend", "bnpi", "btin", "fnpi", "dx1", "proc1"):
            h[f] = np.broadcast_to(np.asarray(codes.pop(f, -1), np.int32), (c,))
        assert not codes, codes
        ln = {"claim": np.asarray(lines["claim"], np.int64)}
        nl = len(ln["claim"])
        ln["rev"] = np.broadcast_to(np.asarray(lines.get("rev", -1), np.int32), (nl,))
        ln["hcpcs"] = np.broadcast_to(np.asarray(lines.get("hcpcs", -1), np.int32), (nl,))
        ln["paid"] = np.broadcast_to(np.asarray(lines["paid"], float), (nl,))
        for f in ("lstart", "lend"):
            ln[f] = np.broadcast_to(np.asarray(lines.get(f, NO_DATE), np.int64), (nl,))
        self.heads.append(h)
        self.lines.append(ln)

    def prof(
        self,
        mi,
        day,
        prov,
        pos: str | np.ndarray,
        lines: dict,
        dx1,
        *,
        kchron: int = 4,
        allow: float = 1.25,
        end=None,
        story: bool = False,
    ) -> None:
        R = self.R
        pos_code = self.V(pos) if isinstance(pos, str) else pos
        self.emit(
            mi,
            day,
            day if end is None else end,
            lines,
            ctype=PROF,
            lag=LAG_STORY if story else LAG_PROF,
            allow=allow,
            kchron=kchron,
            story=story,
            pos=pos_code,
            rend=R.npi[prov],
            bnpi=R.npi[prov],
            btin=R.tin[prov],
            dx1=dx1,
        )

    def inst(
        self,
        mi,
        start,
        end,
        fac,
        bill: str,
        lines: dict,
        dx1,
        *,
        lag: int,
        allow: float,
        kchron: int = 4,
        story: bool = False,
        **kw,
    ) -> None:
        R = self.R
        self.emit(
            mi,
            start,
            end,
            lines,
            ctype=INST,
            lag=LAG_STORY if story else lag,
            allow=allow,
            kchron=kchron,
            story=story,
            bill=self.V(bill),
            fnpi=R.npi[fac],
            bnpi=R.npi[fac],
            btin=R.tin[fac],
            dx1=dx1,
            **kw,
        )

    # ---------------------------------------------------------------- primary care
    def pcp_visits(self, mi, day, *, follow: bool = False, prov: np.ndarray | None = None) -> None:
        rng, V, R = self.rng, self.V, self.R
        c = len(mi)
        if c == 0:
            return
        if prov is None:
            prov = self.pcp_at(mi, day)
            prov = np.where(prov < 0, self.fallback_pcp[mi], prov)
            if not follow:
                u = rng.random(c)
                other = R.same_tin.pick(prov, rng.random(c))
                rand = R.pcp_all[rng.integers(0, len(R.pcp_all), c)]
                prov = np.where(u < 0.10, other, np.where(u < 0.14, rand, prov))
        if follow:
            em = self.pick(self.codes(["99214", "99215"]), [0.6, 0.4], c)
            tele = np.zeros(c, bool)
        else:
            em = self.pick(self.codes([e for e, _ in _PCP_EM]), [p for _, p in _PCP_EM], c)
            tele = rng.random(c) < 0.05
        em_paid = np.array([_EM.get(s, 0.0) for s in V.values])[em] * rng.uniform(0.96, 1.04, c)
        g2211 = (day >= np.datetime64("2024-01-01").astype(np.int64)) & (rng.random(c) < 0.35)
        present = np.column_stack(
            [np.ones(c, bool), (rng.random(c) < 0.15) & ~tele, (rng.random(c) < 0.06) & ~tele, g2211]
        )
        hcpcs = np.column_stack([em, np.broadcast_to(self.codes(["36415", "93000", "G2211"]), (c, 3))])
        paid = np.column_stack([em_paid, np.broadcast_to([3.0, 17.0, 13.5], (c, 3))])
        dx1 = self.visit_dx(mi, 0.9 if follow else 0.65)
        self.prof(
            mi,
            day,
            prov,
            np.where(tele, V("02"), V("11")),
            _slots(present, hcpcs=hcpcs, paid=paid),
            dx1,
            kchron=12,
        )
        self.bp(mi[~tele], day[~tele], prov[~tele])

    def bp(self, mi, day, prov) -> None:
        rng = self.rng
        htn = self.cond[mi, HTN]
        take = htn | (rng.random(len(mi)) < 0.05)
        mi, day, prov, htn = mi[take], day[take], prov[take], htn[take]
        c = len(mi)
        mo = self.w.month_of(day)
        lake = self.R.org[prov] == LAKESIDE
        after = mo >= self.g.qi_month
        p = np.where(
            htn, np.where(lake & after, QI_AFTER, np.where(lake, QI_BEFORE, BP_OTHER_HTN)), BP_NON_HTN
        )
        ok = rng.random(c) < p
        sys_ok, dia_ok = rng.integers(108, 140, c), rng.integers(60, 90, c)
        high_sys = rng.random(c) < 0.7
        sys_bad = np.where(high_sys, rng.integers(140, 181, c), rng.integers(122, 140, c))
        dia_bad = np.where(high_sys, rng.integers(68, 100, c), rng.integers(90, 101, c))
        sys = np.where(ok, sys_ok, sys_bad)
        dia = np.where(ok, dia_ok, dia_bad)
        self.obs.append((mi, day, sys, dia))
        for k, sel in enumerate((lake & htn & ~after, lake & htn & after)):
            self.qi_counts[k] += (sel.sum(), (sel & ok).sum())

    def gen_pcp(self) -> None:
        rate = 3.4 * self.r_pow(0.45) * (self.org < NO_PCP)
        mi, day = self.events(rate)
        self.pcp_visits(mi, day)

    def gen_awv(self) -> None:
        rng, w, V = self.rng, self.w, self.V
        had = ~self.is_new & (rng.random(self.n) < 0.97)
        for y in np.unique(w.year):
            take = (self.org < NO_PCP) & (rng.random(self.n) < 0.60)
            moy = rng.integers(1, 13, self.n)
            wi = (int(y) - int(w.year[0])) * 12 + moy - int(w.moy[0])
            inwin = (wi >= 0) & (wi < w.months)
            wic = np.clip(wi, 0, w.months - 1)
            ok = take & inwin & (self.vdays[np.arange(self.n), wic] > 0)
            mi = np.flatnonzero(ok)
            mo = wic[mi]
            day = w.start[mo] + (rng.random(len(mi)) * self.vdays[mi, mo]).astype(np.int64)
            code = np.where(had[mi], V("G0439"), V("G0438"))
            had[mi] = True
            paid = np.where(code == V("G0438"), 172.0, 133.0) * rng.uniform(0.97, 1.03, len(mi))
            prov = self.pcp_at(mi, day)
            self.prof(
                mi, day, prov, "11", _one(len(mi), hcpcs=code, paid=paid), V("Z0000"), kchron=12, allow=1.0
            )
            self.bp(mi, day, prov)

    # ---------------------------------------------------------------- specialists
    def gen_specialists(self) -> None:
        rng, V, R = self.rng, self.V, self.R
        mi, day = self.events(2.45 * self.r_pow(0.6))
        c = len(mi)
        wts = np.zeros((c, len(_SPECIALTY_VISITS)))
        for s, (_, base, boosts, *_rest) in enumerate(_SPECIALTY_VISITS):
            wts[:, s] = base + sum(b * self.cond[mi, k] for k, b in boosts.items())
        wts[:, _SPEC_NAMES.index("hematology oncology")] += 1.2 * self.onc[mi] + 0.3 * self.crc[mi]
        spec = _choice_rows(rng, wts)
        prov = np.zeros(c, np.int64)
        dx1 = np.zeros(c, np.int32)
        nx = max(len(v[5]) for v in _SPECIALTY_VISITS)
        present = np.zeros((c, 1 + nx), bool)
        present[:, 0] = True
        hcpcs = np.full((c, 1 + nx), -1, np.int32)
        paid = np.zeros((c, 1 + nx))
        em = self.pick(self.codes([e for e, _ in _SPEC_EM]), [p for _, p in _SPEC_EM], c)
        hcpcs[:, 0] = em
        paid[:, 0] = np.array([_EM.get(s, 0.0) for s in V.values])[em] * rng.uniform(0.96, 1.04, c)
        for s, (name, _b, _bo, dxs, overrides, extras) in enumerate(_SPECIALTY_VISITS):
            sel = np.flatnonzero(spec == s)
            if len(sel) == 0:
                continue
            docs = R.spec[name]
            j = (self.gid[mi[sel]] * 7 + s * 3) % len(docs)
            j = np.where(rng.random(len(sel)) < 0.1, rng.integers(0, len(docs), len(sel)), j)
            prov[sel] = docs[j]
            d = self.codes(dxs)[rng.integers(0, len(dxs), len(sel))]
            for cond, code in overrides:
                d = np.where(self.cond[mi[sel], cond] & (rng.random(len(sel)) < 0.6), V(code), d)
            if name == "hematology oncology":
                d = np.where(
                    self.onc[mi[sel]], self.onc_code[mi[sel]], np.where(self.crc[mi[sel]], V("C189"), d)
                )
            dx1[sel] = d
            for x, (code, p, amt) in enumerate(extras):
                present[sel, 1 + x] = rng.random(len(sel)) < p
                hcpcs[sel, 1 + x] = V(code)
                paid[sel, 1 + x] = amt
        self.prof(mi, day, prov, "11", _slots(present, hcpcs=hcpcs, paid=paid), dx1, kchron=6)

        # Macular degeneration: injections every 6-8 weeks at the ophthalmologist.
        mi, day = self.events(6.5 * self.amd)
        c = len(mi)
        docs = R.spec["ophthalmology"]
        prov = docs[self.gid[mi] % len(docs)]
        present = np.column_stack([np.ones((c, 3), bool), rng.random(c) < 0.3])
        hcpcs = np.broadcast_to(self.codes(["99213", "67028", "J0178", "92134"]), (c, 4))
        paid = np.column_stack(
            [np.full(c, 72.0), np.full(c, 92.0), 1780.0 * rng.uniform(0.97, 1.03, c), np.full(c, 38.0)]
        )
        self.prof(mi, day, prov, "11", _slots(present, hcpcs=hcpcs, paid=paid), V("H353211"), kchron=3)

    # ---------------------------------------------------------------- emergency department
    def hospital_for(self, mi: np.ndarray) -> np.ndarray:
        rng = self.rng
        other = self.R.hospitals[rng.integers(0, len(self.R.hospitals), len(mi))]
        return np.where(rng.random(len(mi)) < 0.8, self.home_hosp[mi], other)

    def ed_professional(self, mi, day, hosp, level, dx1, ekg) -> None:
        c = len(mi)
        doc = self.R.em.pick(hosp, self.rng.random(c))
        pro_paid = np.array([lv[3] for lv in _ED_LEVELS])[level] * self.rng.uniform(0.95, 1.05, c)
        present = np.column_stack([np.ones(c, bool), ekg])
        hcpcs = np.column_stack(
            [self.codes([lv[0] for lv in _ED_LEVELS])[level], np.full(c, self.V("93010"))]
        )
        paid = np.column_stack([pro_paid, np.full(c, 9.0)])
        self.prof(mi, day, doc, "23", _slots(present, hcpcs=hcpcs, paid=paid), dx1)

    def gen_ed(self) -> None:
        rng, V = self.rng, self.V
        mi, day = self.events(0.50 * self.r_pow(0.7), self.g.season)
        c = len(mi)
        hosp = self.hospital_for(mi)
        level = _choice(rng, [lv[1] for lv in _ED_LEVELS], c)
        dx1 = self.codes(_ED_DX)[rng.integers(0, len(_ED_DX), c)]
        ekg = rng.random(c) < 0.3
        present = np.column_stack(
            [np.ones(c, bool), rng.random(c) < 0.6, rng.random(c) < 0.35, rng.random(c) < 0.4, ekg]
        )
        ed_rev = np.where(rng.random(c) < 0.97, V("0450"), V("0459"))
        rev = np.column_stack([ed_rev, np.broadcast_to(self.codes(["0300", "0320", "0250", "0730"]), (c, 4))])
        hcpcs = np.column_stack(
            [
                self.codes([lv[0] for lv in _ED_LEVELS])[level],
                np.broadcast_to(np.r_[self.codes(["80053", "71046"]), -1, V("93005")], (c, 4)),
            ]
        )
        fac_paid = np.array([lv[2] for lv in _ED_LEVELS])[level] * rng.lognormal(0, 0.15, c)
        paid = np.column_stack([fac_paid, np.broadcast_to([45.0, 50.0, 30.0, 27.0], (c, 4))])
        self.inst(
            mi,
            day,
            day,
            hosp,
            "131",
            _slots(present, rev=rev, hcpcs=hcpcs, paid=paid),
            dx1,
            lag=LAG_INST,
            allow=1.2,
            disp=V("01"),
        )
        self.ed_professional(mi, day, hosp, level, dx1, ekg)

    # ---------------------------------------------------------------- inpatient and post-acute
    def _drg_pick(self, mi: np.ndarray, base: np.ndarray, boosts: bool) -> np.ndarray:
        wts = np.broadcast_to(base, (len(mi), len(base))).copy()
        if boosts:
            for cond, (code, b) in _ED_BOOST.items():
                wts[:, _D[code]] += b * self.cond[mi, cond]
        return _choice_rows(self.rng, wts)

    def _stays(
        self,
        mi,
        adm,
        drg,
        via_ed,
        prio,
        *,
        dis=None,
        hosp=None,
        disp=None,
        dx1=None,
        proc1=None,
        paid=None,
        story=False,
    ) -> dict:
        rng, V = self.rng, self.V
        c = len(mi)
        los_mean = _DRG_LOS[drg]
        los = np.maximum(1, np.round(los_mean * rng.lognormal(-0.12, 0.5, c))).astype(np.int64)
        if dis is None:
            dis = adm + los
        los = np.maximum(dis - adm, 1)
        if hosp is None:
            hosp = self.hospital_for(mi)
            big = np.isin(drg, [_D["207"], _D["853"], _D["247"], _D["460"]]) & (rng.random(c) < 0.5)
            hosp = np.where(big, self.R.hospitals[TERTIARY], hosp)
        # dx1 and PCS code per DRG.
        pick = rng.random(c)
        dxs = np.full(c, -1, np.int32)
        pcs = np.full(c, -1, np.int32)
        for d in np.unique(drg):
            sel = drg == d
            opts = _DRGS[d][5]
            j = np.minimum((pick[sel] * len(opts)).astype(np.int64), len(opts) - 1)
            dxs[sel] = self.codes(opts)[j]
            procs = _DRGS[d][6]
            if procs:
                pcs[sel] = self.codes(procs)[j if len(procs) == len(opts) else 0]
        if dx1 is not None:
            dxs = np.where(dx1 >= 0, dx1, dxs)
        if proc1 is not None:
            pcs = np.where(proc1 >= 0, proc1, pcs)
        if paid is None:
            base = _DRG_PAID[drg] * IP_SCALE
            paid = base * (los / los_mean) ** 0.35 * rng.lognormal(-0.02, 0.2, c)
            paid = np.where(rng.random(c) < 0.015, paid * rng.uniform(2, 4, c), paid)
        if disp is None:
            ortho = _ORTHO_DRGS[drg]
            old = self.age[mi] >= 85
            p03 = 0.13 + 0.10 * old + 0.22 * ortho
            p06 = 0.13 + 0.18 * ortho
            u = rng.random(c)
            disp = np.where(u < p03, V("03"), np.where(u < p03 + p06, V("06"), V("01")))
        return dict(
            mi=np.asarray(mi, np.int64),
            adm=np.asarray(adm, np.int64),
            dis=np.asarray(dis, np.int64),
            drg=np.asarray(drg, np.int64),
            hosp=np.asarray(hosp, np.int64),
            via_ed=np.broadcast_to(via_ed, (c,)).copy(),
            disp=np.asarray(disp, np.int32).copy(),
            dx1=dxs,
            proc1=pcs,
            paid=np.asarray(paid, float),
            prio=np.full(c, prio),
            story=np.full(c, story),
        )

    @staticmethod
    def _cat(parts: list[dict]) -> dict:
        parts = [p for p in parts if len(p["mi"])]
        if not parts:
            return {}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    @staticmethod
    def _take(st: dict, keep: np.ndarray) -> dict:
        return {k: v[keep] for k, v in st.items()}

    def _clip_to_enrollment(self, st: dict) -> dict:
        """Stays running past the member's last day: ended by death ('20'), by disenrollment, or
        not billed yet (still in hospital at the end of the data)."""
        last = self.last_day[st["mi"]]
        over = st["dis"] > last
        died = self.died[st["mi"]]
        st["disp"] = np.where(over & died, self.V("20"), st["disp"])
        st["dis"] = np.where(over & (died | (last < self.w.last_day)), last, st["dis"])
        keep = (st["dis"] <= self.w.last_day) & (st["dis"] > st["adm"]) & self.valid(st["mi"], st["adm"])
        return self._take(st, keep)

    def gen_inpatient(self) -> None:
        rng, V, w = self.rng, self.V, self.w
        parts = []
        mi, day = self.events(0.100 * self.r_pow(1.0), self.g.season)
        parts.append(self._stays(mi, day, self._drg_pick(mi, _W_ED, True), True, 1))
        mi, day = self.events(0.114 * self.r_pow(0.9))
        direct = self._drg_pick(mi, _W_DIRECT, True)
        parts.append(self._stays(mi, day, direct, False, 1))
        # Deaths in hospital.
        dec = np.flatnonzero(self.died & (rng.random(self.n) < 0.25))
        if len(dec):
            drg = self._drg_pick(dec, _W_TERMINAL, False)
            los = np.maximum(1, np.round(_DRG_LOS[drg] * rng.lognormal(0, 0.4, len(dec)))).astype(np.int64)
            dis = self.death_day[dec]
            adm = dis - los
            ok = self.valid(dec, adm)
            dec, drg, adm, dis = dec[ok], drg[ok], adm[ok], dis[ok]
            parts.append(
                self._stays(
                    dec, adm, drg, rng.random(len(dec)) < 0.7, 3, dis=dis, disp=np.full(len(dec), V("20"))
                )
            )
        # Colorectal cancer: total colectomy.
        crc = np.flatnonzero(self.crc & (rng.random(self.n) < 0.5))
        if len(crc):
            day = self.w.start[0] + (rng.random(len(crc)) * (w.last_day - w.first_day)).astype(np.int64)
            ok = self.valid(crc, day)
            crc, day = crc[ok], day[ok]
            parts.append(
                self._stays(
                    crc,
                    day,
                    np.full(len(crc), _D["329"]),
                    False,
                    2,
                    dx1=np.full(len(crc), V("C189")),
                    proc1=np.full(len(crc), V("0DTE0ZZ")),
                )
            )
        parts.append(self._story_stays())
        st = self._clip_to_enrollment(self._cat(parts))
        st = self._take(st, _resolve(st["mi"], st["adm"], st["dis"], st["prio"]))

        # Transfers: about 3% of stays continue at another hospital the same day.
        cand = (st["prio"] == 1) & (st["disp"] != V("20"))
        tr = np.flatnonzero(cand & (rng.random(len(cand)) < 0.03))
        if len(tr):
            to = np.where(
                st["hosp"][tr] == self.R.hospitals[TERTIARY], self.R.hospitals[0], self.R.hospitals[TERTIARY]
            )
            st["disp"][tr] = V("02")
            second = self._stays(
                st["mi"][tr],
                st["dis"][tr],
                st["drg"][tr],
                False,
                0,
                dis=st["dis"][tr] + np.maximum(1, rng.poisson(3.5, len(tr))),
                hosp=to,
            )
            second["paid"] *= 1.1
            second = self._clip_to_enrollment(second)
            st = self._cat([st, second])
            st = self._take(st, _resolve(st["mi"], st["adm"], st["dis"], st["prio"]))
            # Where the second stay could not happen, the first is a plain discharge home.
            adm_keys = np.sort(st["mi"] * 100_000 + st["adm"])
            out = st["disp"] == V("02")
            dis_keys = st["mi"][out] * 100_000 + st["dis"][out]
            j = np.minimum(np.searchsorted(adm_keys, dis_keys), len(adm_keys) - 1)
            st["disp"][np.flatnonzero(out)[adm_keys[j] != dis_keys]] = V("01")

        # Readmissions within 30 days, a few planned (DRG 470, or chemotherapy Z5111).
        home = np.isin(st["disp"], self.codes(["01", "03", "06"])) & ~st["story"]
        ra = np.flatnonzero(home & (rng.random(len(home)) < 0.115))
        if len(ra):
            c = len(ra)
            planned = rng.random(c) < 0.08
            gap = np.where(
                planned, rng.integers(10, 31, c), 1 + np.minimum(rng.exponential(9.0, c), 29).astype(np.int64)
            )
            mi = st["mi"][ra]
            adm = st["dis"][ra] + gap
            drg = np.where(rng.random(c) < 0.5, st["drg"][ra], self._drg_pick(mi, _W_ED, True))
            kind = rng.random(c) < 0.5
            drg = np.where(planned, np.where(kind, _D["470"], _D["846"]), drg)
            dx1 = np.where(planned & kind, V("M1711"), -1)
            proc = np.where(planned & kind, V("0SRC0J9"), -1)
            via = ~planned & (rng.random(c) < 0.6)
            re = self._stays(mi, adm, drg, via, 0, dx1=dx1, proc1=proc)
            re = self._clip_to_enrollment(re)
            st = self._cat([st, re])
            st = self._take(st, _resolve(st["mi"], st["adm"], st["dis"], st["prio"]))
        self.ip = st
        self._emit_stays(st)

        # Follow-up office visits within 7 days of about half the discharges home.
        home = np.isin(st["disp"], self.codes(["01", "06"])) & ~st["story"]
        fu = np.flatnonzero(home & (rng.random(len(home)) < 0.45))
        mi, day = st["mi"][fu], st["dis"][fu] + rng.integers(2, 8, len(fu))
        ok = self.valid(mi, day)
        self.pcp_visits(mi[ok], day[ok], follow=True)
        self._post_acute(st)

    def _emit_stays(self, st: dict) -> None:
        rng, V, R = self.rng, self.V, self.R
        c = len(st["mi"])
        if c == 0:
            return
        drg, mi = st["drg"], st["mi"]
        los = np.maximum(st["dis"] - st["adm"], 1)
        icu = rng.random(c) < _DRG_ICU[drg]
        surg = _DRG_SURG[drg]
        ortho = _ORTHO_DRGS[drg]
        present = np.column_stack(
            [
                np.ones(c, bool),
                icu,
                np.ones(c, bool),
                rng.random(c) < 0.7,
                np.ones(c, bool),
                rng.random(c) < 0.6,
                surg,
                st["via_ed"],
                rng.random(c) < 0.5,
                ortho | (rng.random(c) < 0.4),
            ]
        )
        share = np.broadcast_to(np.array([s for _, s in _IP_REV]), (c, len(_IP_REV))) * present
        paid = st["paid"][:, None] * share / share.sum(1, keepdims=True)
        rev = self.codes([r for r, _ in _IP_REV])[None, :]
        ed_level = np.where(rng.random(c) < 0.5, V("99284"), V("99285"))
        hcpcs = np.full((c, len(_IP_REV)), -1, np.int32)
        hcpcs[:, 7] = ed_level
        hcpcs[:, 8] = V("93005")
        lstart = np.broadcast_to(st["adm"][:, None], (c, len(_IP_REV))).copy()
        lend = np.broadcast_to(st["dis"][:, None], (c, len(_IP_REV))).copy()
        lend[:, 7] = st["adm"]
        lines = _slots(present, rev=rev, hcpcs=hcpcs, paid=paid, lstart=lstart, lend=lend)
        story = st["story"]
        for flag in (False, True):
            sel = story == flag
            if not sel.any():
                continue
            idx = np.flatnonzero(sel)
            remap = np.full(c, -1)
            remap[idx] = np.arange(len(idx))
            keep_l = sel[lines["claim"]]
            sub = {k: v[keep_l] for k, v in lines.items()}
            sub["claim"] = remap[sub["claim"]]
            self.inst(
                mi[idx],
                st["adm"][idx],
                st["dis"][idx],
                st["hosp"][idx],
                "111",
                sub,
                st["dx1"][idx],
                lag=LAG_IP,
                allow=1.08,
                kchron=12,
                story=flag,
                adm=st["adm"][idx],
                dis=st["dis"][idx],
                disp=st["disp"][idx],
                drg=self.codes([d[0] for d in _DRGS])[drg[idx]],
                proc1=st["proc1"][idx],
            )
        # Hospitalist: initial day, up to five subsequent days, discharge day.
        doc = R.hospitalist.pick(st["hosp"], rng.random(c))
        days = np.arange(7)[None, :]
        present = np.column_stack([np.ones(c, bool), (days[:, 1:6] < los[:, None]), los >= 2])
        init = self.pick(self.codes(["99221", "99222", "99223"]), [0.2, 0.45, 0.35], c)
        sub = self.pick(self.codes(["99231", "99232", "99233"]), [0.25, 0.5, 0.25], (c * 5)).reshape(c, 5)
        hc = np.column_stack([init, sub, np.full(c, V("99238"))])
        price = dict(
            zip(
                self.codes(["99221", "99222", "99223", "99231", "99232", "99233", "99238"]),
                (95.0, 135.0, 180.0, 40.0, 70.0, 100.0, 72.0),
            )
        )
        pr = np.vectorize(price.get)(hc).astype(float)
        ld = np.column_stack([st["adm"][:, None] + np.arange(6)[None, :], st["dis"]])
        for flag in (False, True):
            sel = np.flatnonzero(story == flag)
            if len(sel) == 0:
                continue
            self.prof(
                mi[sel],
                st["adm"][sel],
                doc[sel],
                "21",
                _slots(present[sel], hcpcs=hc[sel], paid=pr[sel], lstart=ld[sel], lend=ld[sel]),
                st["dx1"][sel],
                kchron=6,
                end=st["dis"][sel],
                story=flag,
            )
        # Specialist consults on about half the stays, anesthesia for surgical stays.
        cons = np.flatnonzero((rng.random(c) < 0.5) & ~story)
        spec_for = np.where(
            np.isin(drg[cons], [_D["291"], _D["308"], _D["247"]]),
            0,
            np.where(
                np.isin(drg[cons], [_D["190"], _D["193"], _D["207"]]),
                1,
                np.where(drg[cons] == _D["683"], 2, 3),
            ),
        )
        prov = np.zeros(len(cons), np.int64)
        for k, spec in enumerate(("cardiology", "pulmonology", "nephrology", "gastroenterology")):
            sel = spec_for == k
            docs = R.spec[spec]
            prov[sel] = docs[self.gid[mi[cons[sel]]] % len(docs)]
        cday = st["adm"][cons] + np.minimum(1, los[cons] - 1)
        code = self.pick(self.codes(["99252", "99253", "99254"]), [0.3, 0.45, 0.25], len(cons))
        self.prof(
            mi[cons],
            cday,
            prov,
            "21",
            _one(
                len(cons),
                hcpcs=code,
                paid=np.where(code == V("99252"), 95.0, np.where(code == V("99253"), 130.0, 175.0)),
            ),
            st["dx1"][cons],
            kchron=6,
        )
        an = np.flatnonzero(surg & ~story)
        if len(an):
            docs = R.spec["anesthesiology"]
            self.prof(
                mi[an],
                st["adm"][an],
                docs[self.gid[mi[an]] % len(docs)],
                "21",
                _one(len(an), hcpcs=V("01402"), paid=520.0 * rng.lognormal(0, 0.2, len(an))),
                st["dx1"][an],
                kchron=4,
            )
        # ED physician for admissions through the ED.
        via = np.flatnonzero(st["via_ed"] & ~story)
        level = np.where(ed_level[via] == V("99284"), 1, 2)
        self.ed_professional(
            mi[via], st["adm"][via], st["hosp"][via], level, st["dx1"][via], rng.random(len(via)) < 0.4
        )
        # Surgeon.
        for d in np.unique(drg[surg]):
            surgeon = _DRGS[d][7]
            if surgeon is None:
                continue
            sel = np.flatnonzero(drg == d)
            spec, cpts, amt = surgeon
            docs = R.spec[spec]
            prov = docs[(self.gid[mi[sel]] + d) % len(docs)]
            dx_opts = self.codes(_DRGS[d][5])
            j = np.argmax(st["dx1"][sel][:, None] == dx_opts[None, :], axis=1) if len(cpts) > 1 else 0
            cpt = np.broadcast_to(self.codes(cpts)[j], (len(sel),))
            for flag in (False, True):
                s2 = story[sel] == flag
                if not s2.any():
                    continue
                ss = sel[s2]
                self.prof(
                    mi[ss],
                    st["adm"][ss],
                    prov[s2],
                    "21",
                    _one(len(ss), hcpcs=cpt[s2], paid=amt * rng.uniform(0.95, 1.05, len(ss))),
                    st["dx1"][ss],
                    kchron=4,
                    story=flag,
                )

    def _post_acute(self, st: dict) -> None:
        rng, V, R, w = self.rng, self.V, self.R, self.w
        ip_key = np.sort(st["mi"] * 100_000 + st["adm"]) if len(st["mi"]) else np.zeros(0, np.int64)
        ip_dis_by_key = None
        if len(st["mi"]):
            o = np.lexsort((st["adm"], st["mi"]))
            ip_dis_by_key = st["dis"][o]

        def next_admission(mi, day):
            k = mi * 100_000 + day
            j = np.searchsorted(ip_key, k, side="right")
            jc = np.minimum(j, len(ip_key) - 1)
            same = (j < len(ip_key)) & (ip_key[jc] // 100_000 == mi)
            return np.where(same, ip_key[jc] % 100_000, np.iinfo(np.int64).max)

        def inside_stay(mi, day):
            k = mi * 100_000 + day
            j = np.searchsorted(ip_key, k, side="right") - 1
            jc = np.maximum(j, 0)
            same = (j >= 0) & (ip_key[jc] // 100_000 == mi)
            return same & (ip_dis_by_key[jc] > day) if ip_dis_by_key is not None else np.zeros(len(mi), bool)

        # SNF: after discharges to SNF, plus direct stays for frail members.
        post = np.flatnonzero(st["disp"] == V("03"))
        mi1, adm1 = st["mi"][post], st["dis"][post]
        los1 = np.clip(np.round(rng.lognormal(np.log(17), 0.6, len(post))), 3, 100).astype(np.int64)
        mi2, adm2 = self.events(0.105 * self.r_pow(0.9) * np.where(self.age >= 80, 1.5, 0.75))
        keep2 = ~inside_stay(mi2, adm2)
        mi2, adm2 = mi2[keep2], adm2[keep2]
        los2 = np.clip(np.round(rng.lognormal(np.log(9), 0.55, len(mi2))), 2, 60).astype(np.int64)
        mi = np.r_[mi1, mi2]
        adm = np.r_[adm1, adm2]
        dis = adm + np.r_[los1, los2]
        prio = np.r_[np.ones(len(mi1)), np.zeros(len(mi2))]
        keep = _resolve(mi, adm, dis, prio)
        mi, adm, dis = mi[keep], adm[keep], dis[keep]
        nxt = next_admission(mi, adm)
        disp = np.where(rng.random(len(mi)) < 0.28, V("06"), V("01"))
        readmitted = nxt < dis
        dis = np.minimum(dis, nxt)
        disp = np.where(readmitted, V("02"), disp)
        last = self.last_day[mi]
        died = self.died[mi] & (dis > last)
        disp = np.where(died, V("20"), disp)
        dis = np.where(dis > last, last, dis)
        ok = (dis > adm) & (dis <= w.last_day) & self.valid(mi, adm)
        mi, adm, dis, disp = mi[ok], adm[ok], dis[ok], disp[ok]
        c = len(mi)
        los = dis - adm
        paid = los * 545.0 * rng.lognormal(0, 0.15, c)
        fac = self.home_snf[mi]
        shares = np.array([0.05, 0.70, 0.08, 0.10, 0.07])
        present = np.column_stack([np.ones((c, 3), bool), rng.random(c) < 0.8, rng.random(c) < 0.6])
        sh = shares[None, :] * present
        lines = _slots(
            present,
            rev=self.codes(["0022", "0120", "0250", "0420", "0430"])[None, :],
            paid=paid[:, None] * sh / sh.sum(1, keepdims=True),
        )
        dx1 = self.visit_dx(mi, 0.7)
        self.inst(
            mi,
            adm,
            dis,
            fac,
            "211",
            lines,
            dx1,
            lag=LAG_INST,
            allow=1.1,
            kchron=12,
            adm=adm,
            dis=dis,
            disp=disp,
        )
        # SNF physician visits (POS 31).
        nv = np.minimum(3, 1 + los // 7)
        vd = adm[:, None] + np.array([1, 7, 14])[None, :]
        present = (np.arange(3)[None, :] < nv[:, None]) & (vd < dis[:, None])
        hc = self.pick(self.codes(["99307", "99308", "99309", "99310"]), [0.2, 0.4, 0.3, 0.1], c * 3).reshape(
            c, 3
        )
        price = dict(zip(self.codes(["99307", "99308", "99309", "99310"]), (45.0, 75.0, 105.0, 140.0)))
        pr = np.vectorize(price.get, otypes=[float])(hc) if c else np.zeros((0, 3))
        has = present.any(1)
        sel = np.flatnonzero(has)
        self.prof(
            mi[sel],
            vd[sel, 0],
            np.full(len(sel), R.snfist),
            "31",
            _slots(present[sel], hcpcs=hc[sel], paid=pr[sel], lstart=vd[sel], lend=vd[sel]),
            dx1[sel],
            kchron=6,
            end=np.max(np.where(present[sel], vd[sel], 0), axis=1),
        )

        # Home health: after discharges home with services, after SNF, and from the community.
        from_ip, from_snf = st["disp"] == V("06"), disp == V("06")
        src_mi = np.r_[st["mi"][from_ip], mi[from_snf]]
        src_day = np.r_[st["dis"][from_ip], dis[from_snf]] + rng.integers(1, 4, len(src_mi))
        cm_mi, cm_day = self.events(0.095 * self.r_pow(0.9) * np.where(self.age >= 80, 1.4, 0.8))
        hmi = np.r_[src_mi, cm_mi]
        hday = np.r_[src_day, cm_day]
        periods = 1 + _choice(rng, [0.45, 0.35, 0.12, 0.08], len(hmi))
        rep = np.repeat(np.arange(len(hmi)), periods)
        k = np.arange(len(rep)) - np.repeat(np.cumsum(periods) - periods, periods)
        pmi = hmi[rep]
        ps = hday[rep] + 30 * k
        pe = ps + 29
        last = self.last_day[pmi]
        pe = np.minimum(pe, last)
        ok = (pe >= ps) & (pe <= w.last_day) & self.valid(pmi, ps)
        final = np.r_[rep[1:] != rep[:-1], True] | (pe == last)
        pmi, ps, pe, final = pmi[ok], ps[ok], pe[ok], final[ok]
        c = len(pmi)
        paid = 2000.0 * rng.lognormal(-0.03, 0.25, c)
        shares = np.array([0.10, 0.55, 0.25, 0.10])
        present = np.column_stack([np.ones((c, 2), bool), rng.random(c) < 0.7, rng.random(c) < 0.35])
        sh = shares[None, :] * present
        lines = _slots(
            present,
            rev=self.codes(["0023", "0551", "0421", "0431"])[None, :],
            hcpcs=np.r_[-1, self.codes(["G0299", "G0151", "G0152"])][None, :],
            paid=paid[:, None] * sh / sh.sum(1, keepdims=True),
        )
        self.inst(
            pmi,
            ps,
            pe,
            self.home_hha[pmi],
            "321",
            lines,
            self.visit_dx(pmi, 0.8),
            lag=LAG_INST,
            allow=1.0,
            kchron=8,
            disp=np.where(final, V("01"), V("30")),
        )

        # Hospice in the last weeks or months of life for most members who die outside hospital.
        in_hosp = np.zeros(self.n, bool)
        in_hosp[st["mi"][st["disp"] == V("20")]] = True
        dec = np.flatnonzero(self.died & ~in_hosp & (rng.random(self.n) < 0.75))
        if len(dec):
            length = np.clip(rng.geometric(1 / 55, len(dec)), 2, 180)
            first = np.maximum(self.death_day[dec] - length, w.first_day)
            m0, m1 = w.month_of(first), w.month_of(self.death_day[dec])
            nm = m1 - m0 + 1
            rep = np.repeat(np.arange(len(dec)), nm)
            mo = m0[rep] + np.arange(len(rep)) - np.repeat(np.cumsum(nm) - nm, nm)
            hmi = dec[rep]
            s = np.maximum(w.start[mo], first[rep])
            e = np.minimum(w.start[mo + 1] - 1, self.death_day[hmi])
            ok = self.valid(hmi, s) & (e >= s)
            hmi, s, e = hmi[ok], s[ok], e[ok]
            final = e == self.death_day[hmi]
            c = len(hmi)
            days = e - s + 1
            paid = days * 212.0 * rng.lognormal(0, 0.08, c)
            present = np.column_stack([np.ones(c, bool), rng.random(c) < 0.8])
            share = np.array([0.9, 0.1])[None, :] * present
            lines = _slots(
                present,
                rev=self.codes(["0651", "0551"])[None, :],
                hcpcs=self.codes(["Q5001", "G0299"])[None, :],
                paid=paid[:, None] * share / share.sum(1, keepdims=True),
            )
            agency = self.R.hospices[self.gid[hmi] % len(self.R.hospices)]
            dx = np.where(self.ncond_codes[hmi] > 0, self.chron[hmi, 0], self.V("R627"))
            dx = np.where(self.onc[hmi], self.onc_code[hmi], dx)
            self.inst(
                hmi,
                s,
                e,
                agency,
                "811",
                lines,
                dx,
                lag=LAG_INST,
                allow=1.0,
                kchron=6,
                disp=np.where(final, V("40"), V("30")),
            )

    # ---------------------------------------------------------------- the high-cost claimant
    def _story_stays(self) -> dict:
        if self.claimant < 0:
            return {"mi": np.zeros(0, np.int64)}
        rng, w = self.rng, self.w
        ms = self.g.claimant_months
        # (DRG, admission day of month, length of stay, paid, disposition): lymphoma, then CAR-T with
        # an ICU course (the peak month), sepsis on the ventilator, tracheostomy.
        plan = (
            ("840", 3, 14, 160_000.0, "01"),
            ("018", 1, 21, 1_050_000.0, "01"),
            ("870", 0, 26, 430_000.0, "01"),
            ("004", 4, 22, 210_000.0, "06"),
        )
        c = len(ms)
        mi = np.full(c, self.claimant)
        drg = np.array([_D[p[0]] for p in plan[:c]])
        adm = np.array([w.start[m] + p[1] for m, p in zip(ms, plan)])
        dis = adm + np.array([p[2] for p in plan[:c]])
        paid = np.array([p[3] for p in plan[:c]]) * rng.uniform(0.96, 1.04, c)
        return self._stays(
            mi,
            adm,
            drg,
            np.array([True, False, True, False][:c]),
            9,
            dis=dis,
            hosp=np.full(c, self.R.hospitals[TERTIARY]),
            disp=self.codes([p[4] for p in plan[:c]]),
            paid=paid,
            story=True,
        )

    def gen_claimant_extras(self) -> None:
        """Oncology care around the episode and PCP visits that keep the member with Lakeside."""
        if self.claimant < 0:
            return
        rng, V, w = self.rng, self.V, self.w
        ms = self.g.claimant_months
        i = self.claimant
        onc_doc = self.R.spec["hematology oncology"][0]
        for m, offsets in zip(ms, ((20, 27), (24, 28), (27,), (27,))):  # between the hospital stays
            days = w.start[m] + np.array(offsets)
            days = days[days < w.start[m + 1]]
            c = len(days)
            lines = _slots(
                np.ones((c, 2), bool),
                hcpcs=self.codes(["96413", "J9312"])[None, :],
                paid=np.column_stack([np.full(c, 290.0), rng.uniform(9_000, 11_000, c)]),
            )
            self.prof(np.full(c, i), days, np.full(c, onc_doc), "11", lines, V("C8338"), kchron=6, story=True)
        around = [m for m in (ms[0] - 4, ms[0] - 2, ms[-1] + 3, ms[-1] + 5) if 0 <= m < w.months]
        if around:
            day = np.array([w.start[m] + 10 for m in around])
            mi = np.full(len(day), i)
            self.pcp_visits(mi, day, prov=np.full(len(day), self.home_pcp[i]))

    # ---------------------------------------------------------------- outpatient hospital
    def gen_outpatient(self) -> None:
        rng, V, R = self.rng, self.V, self.R
        radiologists = R.spec["radiology"]
        # Advanced imaging.
        mi, day = self.events(0.20 * self.r_pow(0.6))
        c = len(mi)
        k = _choice(rng, [x[2] for x in _IMAGING], c)
        hc = self.codes([x[0] for x in _IMAGING])[k]
        rev = self.codes([x[1] for x in _IMAGING])[k]
        paid = np.array([x[3] for x in _IMAGING])[k] * rng.lognormal(0, 0.12, c)
        dx = np.array([self.V(x[4][0]) for x in _IMAGING])[k]
        dx = np.where(rng.random(c) < 0.5, np.array([self.V(x[4][-1]) for x in _IMAGING])[k], dx)
        hosp = self.hospital_for(mi)
        self.inst(
            mi, day, day, hosp, "131", _one(c, rev=rev, hcpcs=hc, paid=paid), dx, lag=LAG_INST, allow=1.2
        )
        self.prof(
            mi,
            day,
            radiologists[rng.integers(0, 3, c)],
            "22",
            _one(c, hcpcs=hc, paid=np.array([x[5] for x in _IMAGING])[k]),
            dx,
        )
        # X-ray.
        mi, day = self.events(0.35 * self.r_pow(0.5))
        c = len(mi)
        k = rng.integers(0, len(_XRAY), c)
        hc = self.codes([x[0] for x in _XRAY])[k]
        dx = np.array([self.V(x[1][0]) for x in _XRAY])[k]
        hosp = self.hospital_for(mi)
        self.inst(
            mi,
            day,
            day,
            hosp,
            "131",
            _one(c, rev=V("0320"), hcpcs=hc, paid=48.0 * rng.lognormal(0, 0.1, c)),
            dx,
            lag=LAG_INST,
            allow=1.2,
        )
        self.prof(mi, day, radiologists[rng.integers(0, 3, c)], "22", _one(c, hcpcs=hc, paid=10.0), dx)
        # Hospital lab and clinic visits.
        mi, day = self.events(0.40 * self.r_pow(0.4))
        c = len(mi)
        lines = _slots(
            np.ones((c, 2), bool),
            rev=V("0300"),
            hcpcs=self.codes(["80053", "85025"])[None, :],
            paid=np.array([[14.0, 9.0]]),
        )
        self.inst(
            mi, day, day, self.hospital_for(mi), "131", lines, self.visit_dx(mi, 0.7), lag=LAG_INST, allow=1.0
        )
        mi, day = self.events(0.50 * self.r_pow(0.5))
        c = len(mi)
        self.inst(
            mi,
            day,
            day,
            self.hospital_for(mi),
            "131",
            _one(c, rev=V("0510"), hcpcs=V("G0463"), paid=120.0 * rng.lognormal(0, 0.1, c)),
            self.visit_dx(mi, 0.7),
            lag=LAG_INST,
            allow=1.2,
        )
        # Outpatient surgery with the surgeon's claim.
        mi, day = self.events(0.24 * self.r_pow(0.5))
        c = len(mi)
        k = _choice(rng, [x[1] for x in _OP_SURGERY], c)
        hc = self.codes([x[0] for x in _OP_SURGERY])[k]
        total = np.array([x[2] for x in _OP_SURGERY])[k] * rng.lognormal(0, 0.2, c)
        dx = self.codes([x[3] for x in _OP_SURGERY])[k]
        present = np.column_stack(
            [np.ones(c, bool), rng.random(c) < 0.7, rng.random(c) < 0.6, np.ones(c, bool)]
        )
        share = np.array([0.75, 0.08, 0.05, 0.12])[None, :] * present
        lines = _slots(
            present,
            rev=self.codes(["0360", "0250", "0370", "0710"])[None, :],
            hcpcs=np.column_stack([hc, np.full((c, 3), -1)]),
            paid=total[:, None] * share / share.sum(1, keepdims=True),
        )
        hosp = self.hospital_for(mi)
        self.inst(mi, day, day, hosp, "131", lines, dx, lag=LAG_INST, allow=1.2)
        prov = np.zeros(c, np.int64)
        for j, x in enumerate(_OP_SURGERY):
            sel = np.flatnonzero(k == j)
            docs = R.spec[x[4]]
            prov[sel] = docs[self.gid[mi[sel]] % len(docs)]
        self.prof(mi, day, prov, "22", _one(c, hcpcs=hc, paid=np.array([x[5] for x in _OP_SURGERY])[k]), dx)
        # Therapy and echocardiograms.
        mi, day = self.events(0.15 * self.r_pow(0.5))
        c = len(mi)
        lines = _slots(
            np.ones((c, 3), bool),
            rev=V("0420"),
            hcpcs=self.codes(["97110", "97110", "97140"])[None, :],
            paid=np.array([[29.0, 29.0, 26.0]]),
        )
        self.inst(
            mi,
            day,
            day,
            self.hospital_for(mi),
            "131",
            lines,
            self.codes(["M5450"])[0],
            lag=LAG_INST,
            allow=1.2,
        )
        mi, day = self.events(0.08 * self.r_pow(0.8) * (1 + 2 * self.cond[:, HF]))
        c = len(mi)
        self.inst(
            mi,
            day,
            day,
            self.hospital_for(mi),
            "131",
            _one(c, rev=V("0483"), hcpcs=V("93306"), paid=440.0 * rng.lognormal(0, 0.1, c)),
            np.where(self.cond[mi, HF], V("I509"), V("R0602")),
            lag=LAG_INST,
            allow=1.2,
        )
        # Chemotherapy infusions for members with active cancer: monthly during a 4-8 month course.
        idx = np.flatnonzero(self.onc)
        if len(idx):
            M = self.w.months
            s0 = rng.integers(-4, M, len(idx))
            ln = rng.integers(4, 9, len(idx))
            m = np.arange(M)[None, :]
            on = (m >= s0[:, None]) & (m < (s0 + ln)[:, None]) & (rng.random((len(idx), M)) < 0.9)
            on &= self.vdays[idx] > 0
            r_, mo = np.nonzero(on)
            mi = idx[r_]
            day = self.w.start[mo] + (rng.random(len(mi)) * self.vdays[mi, mo]).astype(np.int64)
            office = (self.gid[mi] % 2) == 0  # the same setting for a member's whole course
            hosp_, off_ = np.flatnonzero(~office), np.flatnonzero(office)
            c = len(hosp_)
            lines = _slots(
                np.column_stack([np.ones((c, 2), bool), rng.random(c) < 0.7]),
                rev=self.codes(["0636", "0335", "0300"])[None, :],
                hcpcs=self.codes(["J9271", "96413", "85025"])[None, :],
                paid=np.column_stack(
                    [9400.0 * rng.lognormal(0, 0.1, c), np.full(c, 285.0), np.full(c, 12.0)]
                ),
            )
            self.inst(
                mi[hosp_],
                day[hosp_],
                day[hosp_],
                self.hospital_for(mi[hosp_]),
                "131",
                lines,
                self.onc_code[mi[hosp_]],
                lag=LAG_INST,
                allow=1.2,
                kchron=6,
            )
            c = len(off_)
            onc_docs = R.spec["hematology oncology"]
            lines = _slots(
                np.column_stack([np.ones((c, 2), bool), rng.random(c) < 0.5, rng.random(c) < 0.4]),
                hcpcs=self.codes(["J9271", "96413", "99214", "J2506"])[None, :],
                paid=np.column_stack(
                    [
                        9100.0 * rng.lognormal(0, 0.1, c),
                        np.full(c, 120.0),
                        np.full(c, 103.0),
                        np.full(c, 3300.0),
                    ]
                ),
            )
            self.prof(
                mi[off_],
                day[off_],
                onc_docs[self.gid[mi[off_]] % len(onc_docs)],
                "11",
                lines,
                self.onc_code[mi[off_]],
                kchron=6,
            )

        # Other hospital infusions: infliximab every eight weeks, IV iron for CKD.
        for flag, rate, drug, amt, dx in (
            (rng.random(self.n) < 0.003, 6.5, "J1745", 3600.0, "K5090"),
            (self.cond[:, CKD] & (rng.random(self.n) < 0.05), 3.0, "J1439", 980.0, "D631"),
        ):
            mi, day = self.events(rate * flag)
            c = len(mi)
            lines = _slots(
                np.ones((c, 2), bool),
                rev=self.codes(["0636", "0260"])[None, :],
                hcpcs=self.codes([drug, "96365"])[None, :],
                paid=np.column_stack([amt * rng.lognormal(0, 0.08, c), np.full(c, 150.0)]),
            )
            self.inst(
                mi,
                day,
                day,
                self.hospital_for(mi),
                "131",
                lines,
                np.full(c, V(dx)),
                lag=LAG_INST,
                allow=1.2,
                kchron=6,
            )

    # ---------------------------------------------------------------- office extras
    def gen_office_extras(self) -> None:
        """Chronic care management, flu shots and osteoporosis injections billed by the PCP."""
        rng, V, w = self.rng, self.V, self.w
        n, M = self.n, w.months
        m = np.arange(M)[None, :]
        # Chronic care management: monthly for members with three or more conditions who enrol.
        ccm = np.flatnonzero((self.cond.sum(1) >= 3) & (self.org < NO_PCP) & (rng.random(n) < 0.3))
        s0 = rng.integers(-M, M, len(ccm))
        on = (m >= s0[:, None]) & (self.vdays[ccm] > 0)
        r_, mo = np.nonzero(on)
        mi = ccm[r_]
        day = w.start[mo] + (rng.random(len(mi)) * self.vdays[mi, mo]).astype(np.int64)
        prov = self.pcp_at(mi, day)
        self.prof(
            mi, day, prov, "11", _one(len(mi), hcpcs=V("99490"), paid=42.0), self.visit_dx(mi, 1.0), kchron=12
        )
        # Flu vaccine each autumn.
        for y in np.unique(w.year):
            take = (self.org < NO_PCP) & (rng.random(n) < np.where(self.age >= 75, 0.62, 0.5))
            moy = np.array([9, 10, 11, 12])[_choice(rng, [0.2, 0.45, 0.25, 0.1], n)]
            wi = (int(y) - int(w.year[0])) * 12 + moy - int(w.moy[0])
            ok = take & (wi >= 0) & (wi < M)
            mi = np.flatnonzero(ok)
            mo = wi[mi]
            ok = self.vdays[mi, mo] > 0
            mi, mo = mi[ok], mo[ok]
            day = w.start[mo] + (rng.random(len(mi)) * self.vdays[mi, mo]).astype(np.int64)
            c = len(mi)
            self.prof(
                mi,
                day,
                self.pcp_at(mi, day),
                "11",
                _slots(
                    np.ones((c, 2), bool),
                    hcpcs=self.codes(["90662", "G0008"])[None, :],
                    paid=np.array([[68.0, 31.0]]),
                ),
                np.full(c, V("Z23")),
                kchron=0,
                allow=1.0,
            )
        # Psychotherapy courses for some members with depression.
        dep = np.flatnonzero(self.cond[:, DEP] & (rng.random(n) < 0.3))
        s0 = rng.integers(-6, M, len(dep))
        ln = rng.integers(4, 13, len(dep))
        on = (m >= s0[:, None]) & (m < (s0 + ln)[:, None]) & (self.vdays[dep] > 0)
        r_, mo = np.nonzero(on)
        k = rng.poisson(2.0, len(r_))
        r_, mo = np.repeat(r_, k), np.repeat(mo, k)
        mi = dep[r_]
        day = w.start[mo] + (rng.random(len(mi)) * self.vdays[mi, mo]).astype(np.int64)
        docs = self.R.spec["clinical psychologist"]
        c = len(mi)
        self.prof(
            mi,
            day,
            docs[self.gid[mi] % len(docs)],
            np.where(rng.random(c) < 0.3, V("02"), V("11")),
            _one(c, hcpcs=V("90834"), paid=88.0),
            np.full(c, V("F329")),
            kchron=4,
        )
        # Outpatient physical therapy courses in private practice: about twice a week for 4-7 weeks.
        start_mi, start_day = self.events(0.10 * self.r_pow(0.4))
        nvis = rng.integers(8, 15, len(start_mi))
        rep_ = np.repeat(np.arange(len(start_mi)), nvis)
        k = np.arange(len(rep_)) - np.repeat(np.cumsum(nvis) - nvis, nvis)
        mi = start_mi[rep_]
        day = start_day[rep_] + (k * 3.5).astype(np.int64)
        ok = self.valid(mi, day)
        mi, day, first = mi[ok], day[ok], (k == 0)[ok]
        c = len(mi)
        docs = self.R.spec["physical therapist"]
        present = np.column_stack([first, ~first, np.ones(c, bool), rng.random(c) < 0.6])
        lines = _slots(
            present,
            hcpcs=self.codes(["97162", "97110", "97140", "97530"])[None, :],
            paid=np.array([[88.0, 31.0, 28.0, 35.0]]),
        )
        self.prof(
            mi,
            day,
            docs[self.gid[mi] % len(docs)],
            "11",
            lines,
            self.codes(["M5450", "M1711", "M25511", "R262"])[self.gid[mi] % 4],
            kchron=4,
        )
        # Denosumab every six months for women with osteoporosis.
        ost = np.flatnonzero(self.female & (self.age >= 65) & (self.org < NO_PCP) & (rng.random(n) < 0.045))
        phase = rng.integers(0, 6, len(ost))
        on = ((m - phase[:, None]) % 6 == 0) & (self.vdays[ost] > 0)
        r_, mo = np.nonzero(on)
        mi = ost[r_]
        day = w.start[mo] + (rng.random(len(mi)) * self.vdays[mi, mo]).astype(np.int64)
        c = len(mi)
        self.prof(
            mi,
            day,
            self.pcp_at(mi, day),
            "11",
            _slots(
                np.ones((c, 2), bool),
                hcpcs=self.codes(["J0897", "96372"])[None, :],
                paid=np.column_stack([1380.0 * rng.uniform(0.98, 1.02, c), np.full(c, 15.0)]),
            ),
            np.full(c, V("M810")),
            kchron=4,
        )

    # ---------------------------------------------------------------- labs and screening
    def lab_claims(
        self,
        mi,
        day,
        first_code: np.ndarray | int,
        first_paid: float,
        dx1,
        extra_p: tuple,
        allow: float = 1.0,
    ) -> None:
        rng = self.rng
        c = len(mi)
        opts = (("80053", 11.0), ("85025", 8.0), ("80061", 13.0), ("84443", 17.0), ("36415", 3.0))
        present = np.column_stack(
            [np.ones(c, bool)]
            + [rng.random(c) < p for p in extra_p]
            + [np.zeros(c, bool)] * (len(opts) - len(extra_p))
        )
        hc = np.column_stack(
            [
                np.broadcast_to(np.asarray(first_code, np.int32), (c,)),
                np.broadcast_to(self.codes([o[0] for o in opts]), (c, len(opts))),
            ]
        )
        paid = np.column_stack(
            [np.full(c, first_paid), np.broadcast_to([o[1] for o in opts], (c, len(opts)))]
        )
        lab = self.home_lab[mi]
        self.prof(mi, day, lab, "81", _slots(present, hcpcs=hc, paid=paid), dx1, kchron=2, allow=allow)

    def gen_labs(self) -> None:
        rng, V, w = self.rng, self.V, self.w
        # Routine panels.
        mi, day = self.events(2.4 * self.r_pow(0.4))
        self.lab_claims(mi, day, V("80053"), 11.0, self.visit_dx(mi, 0.6), (0.6, 0.45, 0.25, 0.5))
        # HbA1c for diabetics: 1-3 a year, with the result in lab_result.
        dm = np.flatnonzero(self.cond[:, DM])
        mu = 7.75 + 1.2 * rng.standard_normal(len(dm)) + 0.3 * rng.exponential(1.0, len(dm)) - 0.3
        latent = np.zeros(self.n)
        latent[dm] = mu
        for y in np.unique(w.year):
            cnt = _choice(rng, [0.08, 0.27, 0.37, 0.28], len(dm))
            mo = rng.integers(1, 13, (len(dm), 3))
            sel = np.arange(3)[None, :] < cnt[:, None]
            r_, k = np.nonzero(sel)
            mi = dm[r_]
            wi = (int(y) - int(w.year[0])) * 12 + mo[r_, k] - int(w.moy[0])
            ok = (wi >= 0) & (wi < w.months)
            mi, wi = mi[ok], wi[ok]
            ok = self.vdays[mi, wi] > 0
            mi, wi = mi[ok], wi[ok]
            day = w.start[wi] + (rng.random(len(mi)) * self.vdays[mi, wi]).astype(np.int64)
            value = np.clip(np.round(latent[mi] + 0.45 * rng.standard_normal(len(mi)), 1), 4.8, 14.5)
            self.lab_claims(mi, day, V("83036"), 10.0, self.diab_code[mi], (0.5, 0.3))
            self.labs.append((mi, day, value))
        # Colorectal cancer screening for ages 45-75 (and a tail), never for the colectomy members.
        n = self.n
        elig = (self.age >= 45) & (self.age <= 76) & ~self.crc
        modality = np.where(elig, _choice(rng, [0.55, 0.12, 0.05, 0.015, 0.015, 0.25], n), 5)
        last = w.last_day
        # Colonoscopy: the latest one is spread over the 10 years to the end of the data.
        col = np.flatnonzero(modality == 0)
        cday = last - (rng.random(len(col)) * 3652).astype(np.int64)
        ok = self.valid(col, cday)
        self.colonoscopy(col[ok], cday[ok])
        # FIT yearly (most years), FIT-DNA every three years, sigmoidoscopy and CT colonography every five.
        fit = np.flatnonzero(modality == 1)
        for y in np.unique(w.year):
            take = rng.random(len(fit)) < 0.75
            d = np.datetime64(f"{int(y)}-01-01").astype(np.int64) + (rng.random(len(fit)) * 365).astype(
                np.int64
            )
            ok = take & self.valid(fit, d)
            code = np.where(rng.random(int(ok.sum())) < 0.7, V("82274"), V("G0328"))
            self.lab_claims(fit[ok], d[ok], code, 18.0, V("Z1211"), ())
        for mod, years_, kind in ((2, 3, "fitdna"), (3, 5, "sig"), (4, 5, "ctc")):
            idx = np.flatnonzero(modality == mod)
            d = last - (rng.random(len(idx)) * years_ * 365.25).astype(np.int64)
            ok = self.valid(idx, d)
            idx, d = idx[ok], d[ok]
            c = len(idx)
            if kind == "fitdna":
                self.lab_claims(idx, d, V("81528"), 509.0, V("Z1211"), ())
            elif kind == "sig":
                gi = self.R.spec["gastroenterology"]
                self.prof(
                    idx,
                    d,
                    gi[self.gid[idx] % len(gi)],
                    "22",
                    _one(c, hcpcs=V("45330"), paid=115.0),
                    V("Z1211"),
                    allow=1.0,
                )
            else:
                rad = self.R.spec["radiology"]
                self.prof(
                    idx,
                    d,
                    rad[self.gid[idx] % len(rad)],
                    "22",
                    _one(c, hcpcs=V("74263"), paid=310.0),
                    V("Z1211"),
                    allow=1.0,
                )
        # Mammography: women 50-74, about every two years for ~70% of them.
        women = np.flatnonzero(
            self.female & ~self.mastectomy & (self.age >= 47) & (self.age < 76) & (rng.random(n) < 0.70)
        )
        first = w.first_day - (rng.random(len(women)) * 760).astype(np.int64)
        for k in range(1, w.months // 24 + 3):
            d = first + k * 730 + np.round(rng.normal(0, 40, len(women))).astype(np.int64)
            age_then = self.age[women] + (d - w.first_day) / 365.25
            ok = self.valid(women, d) & (age_then >= 50) & (age_then < 75)
            mi, dd = women[ok], d[ok]
            c = len(mi)
            rad = self.R.spec["radiology"]
            self.prof(
                mi,
                dd,
                rad[rng.integers(0, len(rad), c)],
                "22",
                _one(c, hcpcs=V("77067"), paid=105.0 * rng.uniform(0.97, 1.03, c)),
                V("Z1231"),
                allow=1.0,
            )
            fu = rng.random(c) < 0.08
            d2 = dd[fu] + rng.integers(7, 30, int(fu.sum()))
            ok2 = self.valid(mi[fu], d2)
            m2, d2 = mi[fu][ok2], d2[ok2]
            c2 = len(m2)
            self.prof(
                m2,
                d2,
                rad[rng.integers(0, len(rad), c2)],
                "22",
                _one(c2, hcpcs=np.where(rng.random(c2) < 0.6, V("77066"), V("77065")), paid=135.0),
                V("R928"),
            )

    def colonoscopy(self, mi, day) -> None:
        rng, V = self.rng, self.V
        c = len(mi)
        screening = rng.random(c) < 0.6
        hc = np.where(screening, V("G0121"), V("45378"))
        dx = np.where(screening, V("Z1211"), self.codes(["K635", "K5730", "Z8601"])[rng.integers(0, 3, c)])
        gi = self.R.spec["gastroenterology"]
        self.prof(
            mi,
            day,
            gi[self.gid[mi] % len(gi)],
            "22",
            _one(c, hcpcs=hc, paid=230.0 * rng.uniform(0.95, 1.05, c)),
            dx,
            allow=np.where(screening, 1.0, 1.25),
        )
        present = np.column_stack([np.ones(c, bool), rng.random(c) < 0.8])
        lines = _slots(
            present,
            rev=self.codes(["0750", "0370"])[None, :],
            hcpcs=np.column_stack([hc, np.full(c, -1)]),
            paid=np.column_stack([560.0 * rng.lognormal(0, 0.1, c), np.full(c, 62.0)]),
        )
        self.inst(
            mi,
            day,
            day,
            self.hospital_for(mi),
            "131",
            lines,
            dx,
            lag=LAG_INST,
            allow=np.where(screening, 1.0, 1.2),
        )

    # ---------------------------------------------------------------- DME
    def gen_dme(self) -> None:
        rng, V, w = self.rng, self.V, self.w
        n, M = self.n, w.months
        c = self.cond
        oxygen = (c[:, COPD] & (rng.random(n) < 0.45)) | (c[:, HF] & (rng.random(n) < 0.12))
        rentals = (
            ("E1390", 230.0, oxygen, np.where(c[:, COPD], V("J449"), V("I509")), 999),
            ("E0431", 55.0, oxygen & (rng.random(n) < 0.7), np.where(c[:, COPD], V("J449"), V("I509")), 999),
            ("E0601", 125.0, rng.random(n) < 0.07, np.full(n, V("G4733")), 13),
            ("K0001", 70.0, (rng.random(n) < 0.012 + 0.03 * (self.age >= 80)), np.full(n, V("R262")), 999),
            ("E0260", 165.0, rng.random(n) < 0.008 * self.r_pow(1.0), np.full(n, V("R262")), 999),
            ("K0553", 300.0, c[:, DM] & (rng.random(n) < 0.18), self.diab_code, 999),
        )
        m = np.arange(M)[None, :]
        for code, amt, flag, dx, months in rentals:
            idx = np.flatnonzero(flag)
            s0 = rng.integers(-months if months < 999 else -M, M, len(idx))
            on = (m >= s0[:, None]) & (m < (s0 + months)[:, None]) & (self.vdays[idx] > 0)
            r_, mo = np.nonzero(on)
            mi = idx[r_]
            day = w.start[mo] + (rng.random(len(mi)) * self.vdays[mi, mo]).astype(np.int64)
            self.prof(
                mi,
                day,
                self.home_dme[mi],
                "12",
                _one(len(mi), hcpcs=V(code), paid=amt * rng.uniform(0.98, 1.02, len(mi))),
                dx[mi],
                kchron=2,
            )
        for (code, amt, dx), rate in zip(
            _DME_ONE_OFF,
            (
                0.25 * c[:, DM],
                0.004 * self.r_pow(1.0),
                np.full(n, 0.055),
                np.full(n, 0.035),
                np.full(n, 0.02),
            ),
        ):
            mi, day = self.events(rate)
            self.prof(
                mi,
                day,
                self.home_dme[mi],
                "12",
                _one(len(mi), hcpcs=V(code), paid=amt),
                np.full(len(mi), V(dx)),
                kchron=2,
            )

    # ---------------------------------------------------------------- pharmacy
    def gen_pharmacy(self) -> pa.Table:
        rng, V, w, R = self.rng, self.V, self.w, self.R
        n, M = self.n, w.months
        user = self.rx_user
        pm, pndc, pcost, punits, p90, pspec = [], [], [], [], [], []

        def add(mask, ndc, cost, units, share90, spec=None):
            idx = np.flatnonzero(mask & user)
            pm.append(idx)
            pndc.append(np.full(len(idx), V(ndc)))
            pcost.append(np.full(len(idx), cost))
            punits.append(np.full(len(idx), units))
            p90.append(np.full(len(idx), share90))
            pspec.append(np.full(len(idx), -1 if spec is None else _SPEC_NAMES.index(spec)))

        statin = (self.cond[:, HLD] | self.cond[:, DM]) & (rng.random(n) < 0.85)
        which = _choice(rng, [s[1] for s in _STATINS], n)
        for j, (ndc, _p, cost, units) in enumerate(_STATINS):
            add(statin & (which == j), ndc, cost, units, 0.25)
        for ndc, grp, share, cost, units, s90 in _DRUGS:
            if isinstance(grp, int):
                base = self.cond[:, grp]
            elif grp == "all":
                base = np.ones(n, bool)
            elif grp == "male":
                base = ~self.female
            elif grp == "female":
                base = self.female & (self.age >= 60)
            elif grp == "old":
                base = self.age >= 80
            else:
                base = rng.random(n) < 0.004
            add(base & (rng.random(n) < share), ndc, cost, units, s90, _SPECIALIST_RX.get(ndc))
        mi = np.concatenate(pm)
        ndc = np.concatenate(pndc)
        cost = np.concatenate(pcost)
        cost = np.where(cost < 5000, cost * RX_SCALE, cost)  # specialty drugs are priced as listed
        units = np.concatenate(punits)
        ds = np.where(rng.random(len(mi)) < np.concatenate(p90), 90, 30)
        spec = np.concatenate(pspec)
        P = len(mi)
        adherent = rng.random(P) < 0.70
        # First fill: ongoing therapy began before the window (PRE_DAYS of fills are simulated and
        # dropped, so the window opens mid-cycle rather than with everyone filling at once); new
        # starts (and new enrollees) begin inside it.
        new_start = (rng.random(P) < NEW_START_SHARE) | self.is_new[mi]
        enroll_first = w.start[self.start_m[mi]]
        first = np.where(
            new_start,
            enroll_first + (rng.random(P) * (self.last_day[mi] - enroll_first + 1)).astype(np.int64),
            enroll_first - PRE_DAYS + (rng.random(P) * ds).astype(np.int64),
        )
        # Steady state: therapies stop at the rate new ones start (NEW_START_SHARE over the window),
        # so the number on therapy, pharmacy PMPM and adherence do not drift. The rate is the same
        # for adherent and non-adherent users: a higher one for the non-adherent would thin them
        # out month by month and read as an adherence "improvement" with no change in care.
        stop_p = np.clip(NEW_START_SHARE / M * ds / 30.4, 1e-6, 1.0)
        stop_after = rng.geometric(stop_p)
        rows_d, rows_pair = [], []
        for d in (30, 90):
            sel = np.flatnonzero(ds == d)
            K = int(np.ceil((M * 31 + PRE_DAYS) / d)) + 2
            delay = np.where(
                adherent[sel, None],
                np.clip(np.round(rng.normal(-1.0, 3.0, (len(sel), K))), -6, 12),
                np.round(rng.exponential(0.35 * d, (len(sel), K))),
            )
            gaps = d + delay
            gaps[:, 0] = 0
            dates = first[sel, None] + np.cumsum(gaps, axis=1).astype(np.int64)
            k = np.arange(K)[None, :]
            ok = (k < stop_after[sel, None]) & (dates <= self.last_day[mi[sel], None])
            r_, c_ = np.nonzero(ok)
            rows_pair.append(sel[r_])
            rows_d.append(dates[r_, c_])
        pair = np.concatenate(rows_pair)
        day = np.concatenate(rows_d)
        pmi = mi[pair]
        ok = self.valid(pmi, day)
        pair, day, pmi = pair[ok], day[ok], pmi[ok]
        # Acute fills.
        ami, aday = self.events(4.0 * user * self.r_pow(0.3))
        ak = rng.integers(0, len(_ACUTE_RX), len(ami))
        # Prescriber: the member's PCP at the first fill, sometimes the relevant specialist.
        pcp_first = self.pcp_at(mi, np.clip(first, w.first_day, w.last_day))
        pres = np.where(pcp_first < 0, self.fallback_pcp[mi], pcp_first)
        for s in np.unique(spec[spec >= 0]):
            sel = np.flatnonzero((spec == s) & (rng.random(P) < 0.35))
            docs = R.spec[_SPEC_NAMES[s]]
            pres[sel] = docs[self.gid[mi[sel]] % len(docs)]
        apres = self.pcp_at(ami, aday)
        apres = np.where(apres < 0, self.fallback_pcp[ami], apres)

        f_mi = np.r_[pmi, ami]
        f_day = np.r_[day, aday]
        f_ndc = np.r_[ndc[pair], self.codes([a[0] for a in _ACUTE_RX])[ak]]
        f_ds = np.r_[ds[pair], np.array([a[2] for a in _ACUTE_RX])[ak]]
        f_qty = np.r_[np.round(units[pair] * ds[pair], 1), np.array([a[3] for a in _ACUTE_RX])[ak]]
        base = np.r_[
            cost[pair] * ds[pair] / 30 * np.where(ds[pair] == 90, 0.95, 1.0),
            np.array([a[1] for a in _ACUTE_RX])[ak],
        ]
        f_paid = np.round(base * rng.uniform(0.97, 1.03, len(base)), 2)
        brand = base >= 100
        f_allowed = np.round(np.where(brand, f_paid * 1.25, f_paid + rng.integers(1, 11, len(base))), 2)
        f_pres = np.r_[pres[pair], apres]
        f_paid_day = f_day + np.minimum(rng.geometric(0.22, len(f_day)) - 1, 20)
        keep = f_paid_day <= w.last_day
        o = np.flatnonzero(keep)
        o = o[np.lexsort((f_day[o], f_mi[o]))]
        c = len(o)
        ids = _ids(f"RX{self.index:04d}", np.arange(1, c + 1), 9)
        cols = {
            "claim_id": ids,
            "claim_line_number": pa.array(np.ones(c, np.int64)),
            "person_id": self.person_ids.take(pa.array(f_mi[o])),
            "member_id": self.member_ids.take(pa.array(f_mi[o])),
            "payer": pa.array(np.full(c, PAYER)) if c else pa.array([], pa.string()),
            "plan": pa.array(np.full(c, PLAN)) if c else pa.array([], pa.string()),
            "prescribing_provider_npi": V.strings(R.npi[f_pres[o]]),
            "dispensing_date": _dates(f_day[o]),
            "ndc_code": V.strings(f_ndc[o]),
            "quantity": pa.array(f_qty[o].astype(float)),
            "days_supply": pa.array(f_ds[o].astype(np.int64)),
            "paid_date": _dates(f_paid_day[o]),
            "paid_amount": pa.array(f_paid[o]),
            "allowed_amount": pa.array(f_allowed[o]),
        }
        return pa.Table.from_pydict(cols, schema=_schema("pharmacy_claim"))

    # ---------------------------------------------------------------- assembling the tables
    def run(self) -> dict[str, pa.Table]:
        self.person_ids = pa.array([f"P{g + 1:07d}" for g in self.gid], pa.string())
        self.member_ids = pa.array([f"M{g + 1:07d}" for g in self.gid], pa.string())
        self.gen_pcp()
        self.gen_awv()
        self.gen_specialists()
        self.gen_ed()
        self.gen_inpatient()
        self.gen_claimant_extras()
        self.gen_outpatient()
        self.gen_office_extras()
        self.gen_labs()
        self.gen_dme()
        out = {
            "medical_claim": self._medical(),
            "pharmacy_claim": self.gen_pharmacy(),
            "eligibility": self._eligibility(),
            "lab_result": self._lab_result(),
            "observation": self._observation(),
        }
        return out

    def _medical(self) -> pa.Table:
        V, w, rng = self.V, self.w, self.rng
        offs = np.cumsum([0] + [len(h["member"]) for h in self.heads])
        H = {k: np.concatenate([h[k] for h in self.heads]) for k in self.heads[0]}
        L = {
            k: np.concatenate([ln[k] + (offs[i] if k == "claim" else 0) for i, ln in enumerate(self.lines)])
            for k in self.lines[0]
        }
        C = len(H["member"])
        # Paid-date lag: professional 2-6 weeks, institutional longer with a tail of months.
        lag = np.empty(C, np.int64)
        kind = H["lag"]
        sel = kind == LAG_PROF
        lag[sel] = 12 + np.round(rng.gamma(2.2, 7.0, int(sel.sum())))
        sel = kind == LAG_IP
        lag[sel] = np.round(8 + rng.lognormal(np.log(36), 0.5, int(sel.sum())))
        sel = kind == LAG_INST
        lag[sel] = np.round(10 + rng.lognormal(np.log(24), 0.55, int(sel.sum())))
        tail = (
            (kind != LAG_PROF) & (kind != LAG_STORY) & (rng.random(C) < np.where(kind == LAG_IP, 0.05, 0.02))
        )
        lag[tail] = rng.integers(120, 275, int(tail.sum()))
        ptail = (kind == LAG_PROF) & (rng.random(C) < 0.03)
        lag[ptail] = rng.integers(46, 150, int(ptail.sum()))
        sel = kind == LAG_STORY
        lag[sel] = rng.integers(30, 61, int(sel.sum()))
        paid_day = H["end"] + lag
        keep = (paid_day <= w.last_day) & (H["end"] <= w.last_day) & (H["start"] >= w.first_day)
        # Every service day must fall while the member is enrolled and alive (a long stay must not
        # run into an enrollment gap).
        mid = (H["start"] + H["end"]) // 2
        keep &= (
            self.valid(H["member"], H["start"])
            & self.valid(H["member"], H["end"])
            & self.valid(H["member"], mid)
        )
        lm = H["member"][L["claim"]]
        ls = np.where(L["lstart"] != NO_DATE, L["lstart"], H["start"][L["claim"]])
        le = np.where(L["lend"] != NO_DATE, L["lend"], H["end"][L["claim"]])
        bad_line = ~(self.valid(lm, ls) & self.valid(lm, le))
        keep &= np.bincount(L["claim"][bad_line], minlength=C) == 0
        if self.claimant >= 0:
            ms = self.g.claimant_months
            in_window = (H["start"] >= w.start[ms[0]]) & (H["start"] < w.start[ms[-1] + 1])
            keep &= ~((H["member"] == self.claimant) & in_window & ~H["story"])
        new_id = np.cumsum(keep) - 1
        lk = keep[L["claim"]]
        L = {k: v[lk] for k, v in L.items()}
        H = {k: v[keep] for k, v in H.items()}
        paid_day = paid_day[keep]
        cl = L["claim"]
        cl = new_id[cl]
        order = np.argsort(cl, kind="stable")
        L = {k: v[order] for k, v in L.items()}
        cl = cl[order]
        n_lines = len(cl)
        starts = np.r_[0, np.flatnonzero(np.diff(cl)) + 1]
        counts = np.diff(np.r_[starts, n_lines])
        line_no = np.arange(n_lines) - np.repeat(starts, counts) + 1
        C = len(H["member"])
        # Diagnosis codes: dx1 then the member's chronic codes (minus dx1) up to the claim's limit.
        ch = self.chron[H["member"]].copy()
        ch[ch == H["dx1"][:, None]] = -1
        ch = np.take_along_axis(ch, np.argsort(ch < 0, axis=1, kind="stable"), 1)
        ch[np.arange(ch.shape[1])[None, :] >= H["kchron"][:, None]] = -1
        ids = _ids(f"MC{self.index:04d}", np.arange(1, C + 1), 9)
        paid = np.round(L["paid"], 2)
        allowed = np.round(paid * H["allow"][cl], 2)
        lstart = np.where(L["lstart"] != NO_DATE, L["lstart"], H["start"][cl])
        lend = np.where(L["lend"] != NO_DATE, L["lend"], H["end"][cl])
        m = H["member"][cl]
        null_s = pa.nulls(n_lines, pa.string())
        cols = {
            "claim_id": ids.take(pa.array(cl)),
            "claim_line_number": pa.array(line_no.astype(np.int64)),
            "claim_type": pa.array(np.where(H["ctype"][cl] == INST, "institutional", "professional")),
            "person_id": self.person_ids.take(pa.array(m)),
            "member_id": self.member_ids.take(pa.array(m)),
            "payer": pa.array(np.full(n_lines, PAYER)),
            "plan": pa.array(np.full(n_lines, PLAN)),
            "claim_start_date": _dates(H["start"][cl]),
            "claim_end_date": _dates(H["end"][cl]),
            "claim_line_start_date": _dates(lstart),
            "claim_line_end_date": _dates(lend),
            "admission_date": _dates(H["adm"][cl]),
            "discharge_date": _dates(H["dis"][cl]),
            "discharge_disposition_code": V.strings(H["disp"][cl]),
            "paid_date": _dates(paid_day[cl]),
            "bill_type_code": V.strings(H["bill"][cl]),
            "drg_code": V.strings(H["drg"][cl]),
            "revenue_center_code": V.strings(L["rev"]),
            "place_of_service_code": V.strings(H["pos"][cl]),
            "hcpcs_code": V.strings(L["hcpcs"]),
            "rendering_npi": V.strings(np.where(H["ctype"][cl] == PROF, H["rend"][cl], -1)),
            "billing_npi": V.strings(H["bnpi"][cl]),
            "billing_tin": V.strings(H["btin"][cl]),
            "facility_npi": V.strings(H["fnpi"][cl]),
            "paid_amount": pa.array(paid),
            "allowed_amount": pa.array(allowed),
            "diagnosis_code_1": V.strings(H["dx1"][cl]),
        }
        for i in range(2, 26):
            j = i - 2
            cols[f"diagnosis_code_{i}"] = V.strings(ch[cl, j]) if j < ch.shape[1] else null_s
        cols["procedure_code_1"] = V.strings(H["proc1"][cl])
        for i in range(2, 26):
            cols[f"procedure_code_{i}"] = null_s
        self.claimant_paid = (
            float(paid[(m == self.claimant) & H["story"][cl]].sum()) if self.claimant >= 0 else 0.0
        )
        return pa.Table.from_pydict(cols, schema=_schema("medical_claim"))

    def _eligibility(self) -> pa.Table:
        w, V = self.w, self.V
        one = np.arange(self.n)
        two = np.flatnonzero(self.gap)
        mi = np.r_[one, two]
        s_m = np.r_[self.start_m, self.g1[two]]
        e_m = np.r_[np.where(self.gap, self.g0 - 1, self.last_m), self.last_m[two]]
        o = np.lexsort((s_m, mi))
        mi, s_m, e_m = mi[o], s_m[o], e_m[o]
        c = len(mi)
        return pa.Table.from_pydict(
            {
                "person_id": self.person_ids.take(pa.array(mi)),
                "member_id": self.member_ids.take(pa.array(mi)),
                "gender": pa.array(np.where(self.female[mi], "female", "male")),
                "birth_date": _dates(self.birth[mi]),
                "death_date": _dates(self.death_day[mi]),
                "enrollment_start_date": _dates(w.start[s_m]),
                "enrollment_end_date": _dates(w.start[e_m + 1] - 1),
                "payer": pa.array(np.full(c, PAYER)),
                "payer_type": pa.array(np.full(c, PAYER_TYPE)),
                "plan": pa.array(np.full(c, PLAN)),
                "dual_status_code": V.strings(self.dual_code[mi]),
                "zip_code": V.strings(self.zip[mi]),
            },
            schema=_schema("eligibility"),
        )

    def _lab_result(self) -> pa.Table:
        mi = np.concatenate([x[0] for x in self.labs]) if self.labs else np.zeros(0, np.int64)
        day = np.concatenate([x[1] for x in self.labs]) if self.labs else np.zeros(0, np.int64)
        val = np.concatenate([x[2] for x in self.labs]) if self.labs else np.zeros(0)
        o = np.lexsort((day, mi))
        mi, day, val = mi[o], day[o], val[o]
        c = len(mi)
        tenths = np.round(val * 10).astype(np.int64)
        text = pc.binary_join_element_wise(
            pc.cast(pa.array(tenths // 10), pa.string()), pc.cast(pa.array(tenths % 10), pa.string()), "."
        )
        return pa.Table.from_pydict(
            {
                "person_id": self.person_ids.take(pa.array(mi)),
                "result_date": _dates(day),
                "normalized_code_type": pa.array(np.full(c, "loinc"), pa.string()),
                "normalized_code": pa.array(np.full(c, "4548-4"), pa.string()),
                "result": text,
                "result_units": pa.array(np.full(c, "%"), pa.string()),
            },
            schema=_schema("lab_result"),
        )

    def _observation(self) -> pa.Table:
        mi = np.concatenate([x[0] for x in self.obs])
        day = np.concatenate([x[1] for x in self.obs])
        sys = np.concatenate([x[2] for x in self.obs])
        dia = np.concatenate([x[3] for x in self.obs])
        o = np.lexsort((day, mi))
        c = len(o)
        mi2 = np.repeat(mi[o], 2)
        day2 = np.repeat(day[o], 2)
        val = np.column_stack([sys[o], dia[o]]).ravel()
        code = np.tile(np.array(["8480-6", "8462-4"]), c)
        return pa.Table.from_pydict(
            {
                "person_id": self.person_ids.take(pa.array(mi2)),
                "observation_date": _dates(day2),
                "normalized_code_type": pa.array(np.full(2 * c, "loinc"), pa.string()),
                "normalized_code": pa.array(code, pa.string()),
                "result": pc.cast(pa.array(val.astype(np.int64)), pa.string()),
                "result_units": pa.array(np.full(2 * c, "mm[Hg]"), pa.string()),
            },
            schema=_schema("observation"),
        )


def _story_months(w: _Window, end_month: str) -> tuple[int, tuple[int, ...]]:
    M = w.months
    qi = M - 1 - 16
    if qi < 2:
        qi = M // 2
    y, mo = (int(x) for x in end_month.split("-"))
    last_complete = y if mo == 12 else y - 1
    start = _month_index(last_complete, 5, w)
    if start < 0 or start + 3 > M - 4:
        start = M - 11
    if start < 0:
        return qi, ()
    return qi, tuple(range(start, start + 4))


def generate(
    out_dir: Path,
    members: int = 20000,
    months: int = 36,
    seed: int = 7,
    end_month: str = "2026-10",
    *,
    chunk_members: int = CHUNK_MEMBERS,
) -> dict:
    """Write a seeded Medicare-like demo extract into `out_dir` and return its summary.

    The data covers `months` calendar months ending with `end_month` (YYYY-MM); claims are paid
    through the last day of `end_month`. The summary is also written to `out_dir/_demo.json`.
    """
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(end_month)):
        raise ValueError(f"end_month must be YYYY-MM, got {end_month!r}")
    if members < 1 or months < 1 or chunk_members < 1:
        raise ValueError("members, months and chunk_members must be positive")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("medical_claim", "pharmacy_claim"):
        folder = out_dir / name
        folder.mkdir(exist_ok=True)
        for old in folder.glob("part-*.parquet"):
            old.unlink()
    for name in ("eligibility", "provider", "lab_result", "observation", "provider_attribution"):
        (out_dir / f"{name}.parquet").unlink(missing_ok=True)
    (out_dir / SUMMARY_FILE).unlink(missing_ok=True)

    w = _window(end_month, months)
    vocab = _Vocab()
    roster = _Roster(vocab)
    qi, claimant_months = _story_months(w, end_month)
    season = np.where(
        np.isin(w.moy, WINTER_MONTHS),
        1.15,
        np.where(np.isin(w.moy, SUMMER_MONTHS), 1.15 / (1 + WINTER_UPLIFT), 1.0),
    )
    g = _Gen(seed, w, vocab, roster, qi, claimant_months, season)

    counts = {
        t: 0
        for t in ("eligibility", "provider", "medical_claim", "pharmacy_claim", "lab_result", "observation")
    }
    org_members = np.zeros(5, np.int64)
    qi_counts = np.zeros((2, 2))
    writers: dict[str, pq.ParquetWriter] = {}
    claimant = None
    try:
        for index, lo in enumerate(range(0, members, chunk_members)):
            chunk = _Chunk(g, index, lo, min(chunk_members, members - lo))
            tables = chunk.run()
            for name, table in tables.items():
                counts[name] += table.num_rows
                if name in ("medical_claim", "pharmacy_claim"):
                    pq.write_table(table, out_dir / name / f"part-{index:05d}.parquet", compression="zstd")
                else:
                    if name not in writers:
                        writers[name] = pq.ParquetWriter(
                            out_dir / f"{name}.parquet", table.schema, compression="zstd"
                        )
                    writers[name].write_table(table)
            org_members += np.bincount(chunk.org, minlength=5)
            qi_counts += chunk.qi_counts
            if chunk.claimant >= 0:
                claimant = (f"P{chunk.gid[chunk.claimant] + 1:07d}", chunk.claimant_paid)
            del chunk, tables
    finally:
        for wr in writers.values():
            wr.close()
    provider = roster.table()
    pq.write_table(provider, out_dir / "provider.parquet")
    counts["provider"] = provider.num_rows

    labels = w.labels
    before = qi_counts[0, 1] / qi_counts[0, 0] if qi_counts[0, 0] else None
    after = qi_counts[1, 1] / qi_counts[1, 0] if qi_counts[1, 0] else None
    summary = {
        "seed": seed,
        "members": members,
        "months": months,
        "start_month": labels[0],
        "end_month": labels[-1],
        "paid_through": _iso(w.last_day),
        "payer": PAYER,
        "plan": PLAN,
        "counts": counts,
        "organizations": {
            **{ORGANIZATIONS[i]: int(org_members[i]) for i in range(3)},
            "independent PCPs": int(org_members[INDEPENDENT]),
            "no PCP": int(org_members[NO_PCP]),
        },
        "stories": {
            "quality_improvement": {
                "organization": ORGANIZATIONS[LAKESIDE],
                "measure": "controlling_blood_pressure",
                "start_month": labels[qi],
                "before_rate": QI_BEFORE,
                "after_rate": QI_AFTER,
                "other_organizations_rate": BP_OTHER_HTN,
                "observed_before_rate": round(float(before), 4) if before is not None else None,
                "observed_after_rate": round(float(after), 4) if after is not None else None,
                "detail": "share of hypertensive members' office blood pressure readings below 140/90, "
                "by the organization of the PCP who took the reading",
            },
            "winter_ed": {
                "months": list(WINTER_MONTHS),
                "uplift": WINTER_UPLIFT,
                "relative_to_months": list(SUMMER_MONTHS),
            },
            "high_cost_claimant": (
                {
                    "person_id": claimant[0],
                    "organization": ORGANIZATIONS[LAKESIDE],
                    "months": [labels[m] for m in claimant_months],
                    "paid": round(claimant[1], 2),
                }
                if claimant
                else None
            ),
        },
    }
    # The demo organizations' contract terms travel with the data, like a real extract's would.
    contracts = out_dir / "contracts"
    contracts.mkdir(exist_ok=True)
    for terms in sorted(DEMO_CONTRACTS.glob("*.yaml")):
        shutil.copyfile(terms, contracts / terms.name)
    summary["contracts"] = sorted(p.name for p in contracts.glob("*.yaml"))
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    return summary
