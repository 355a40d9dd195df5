"""The provider roster: the three organizations' PCPs and specialists, independent PCPs, community
specialists, hospital staff and facilities, each with a valid NPI and a stable TIN."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vbc.demo.columns import Vocab, table_schema

ORGANIZATIONS = ("Riverbend Health Partners", "Lakeside Physician Group", "Cedar Hollow Family Medicine")
# A member's home organization: the three above, an independent PCP, or no PCP.
RIVERBEND, LAKESIDE, CEDAR, INDEPENDENT, NO_PCP = range(5)


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
HOME_HOSPITAL_SHARE = (0.45, 0.35, 0.20)  # community hospitals; University Medical Center takes referrals
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


class Roster:
    """Clinicians and facilities in a fixed order, so every NPI and TIN is the same in every run."""

    def __init__(self, vocab: Vocab) -> None:
        self.rows: list[tuple] = []
        self._org_of_row: list[int] = []
        self.pcps: dict[int, list[int]] = {RIVERBEND: [], LAKESIDE: [], CEDAR: [], INDEPENDENT: []}
        self.specialists: dict[str, list[int]] = {}
        self.facilities: dict[str, list[int]] = {}
        self._tin_of_pcp: dict[int, list[int]] = {}
        self._counters = {"person": 0, "facility": 0, "tin": 0}
        # NPIs and TINs come from these counters: adding providers anywhere but at the end of the
        # last group renumbers everyone after them.
        self._add_organizations()
        self._add_independents()
        self._add_specialists()
        em_by_hosp, hospitalists_by_hosp = self._add_hospital_staff()
        self._add_facilities()
        self._index(vocab, em_by_hosp, hospitalists_by_hosp)

    def _new_tin(self) -> str:
        self._counters["tin"] += 1
        return f"{361_204_000 + self._counters['tin'] * 1_237_911:09d}"[-9:]

    def _clinician(self, specialty: str, tin: str, org_id: int) -> int:
        i = self._counters["person"]
        self._counters["person"] += 1
        suffix = "NP" if specialty == "nurse practitioner" else ("DO" if i % 5 == 3 else "MD")
        name = f"{_FIRST[i * 7 % len(_FIRST)]} {_LAST[i * 11 % len(_LAST)]}, {suffix}"
        self.rows.append(
            (
                _luhn_npi(134_562_000 + i * 9_173),
                name,
                specialty,
                tin,
                ORGANIZATIONS[org_id] if org_id >= 0 else None,
            )
        )
        self._org_of_row.append(org_id)
        return len(self.rows) - 1

    def _facility(self, name: str, specialty: str) -> int:
        i = self._counters["facility"]
        self._counters["facility"] += 1
        self.rows.append((_luhn_npi(178_903_000 + i * 21_211), name, specialty, self._new_tin(), None))
        self._org_of_row.append(-1)
        self.facilities.setdefault(specialty, []).append(len(self.rows) - 1)
        return len(self.rows) - 1

    def _specialist(self, specialty: str, tin: str, org_id: int = -1) -> int:
        r = self._clinician(specialty, tin, org_id)
        self.specialists.setdefault(specialty, []).append(r)
        return r

    def _add_organizations(self) -> None:
        """Each organization's PCPs in one or more TINs, then its specialists under its first TIN."""
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
                tin = self._new_tin()
                first_tin = first_tin or tin
                group = []
                for _ in range(n_pcp):
                    spec = "family practice" if org_id == CEDAR and k % 3 else _PCP_SPECIALTIES[k % 6]
                    r = self._clinician(spec, tin, org_id)
                    self.pcps[org_id].append(r)
                    group.append(r)
                    k += 1
                for r in group:
                    self._tin_of_pcp[r] = group
            for spec in org_specialists[org_id]:
                self._specialist(spec, first_tin, org_id)

    def _add_independents(self) -> None:
        for spec in ("family practice", "internal medicine", "internal medicine"):
            r = self._clinician(spec, self._new_tin(), -1)
            self.pcps[INDEPENDENT].append(r)
            self._tin_of_pcp[r] = [r]
        self.snfist = self._clinician("geriatric medicine", self._new_tin(), -1)

    def _add_specialists(self) -> None:
        """Community specialists, each in a TIN of their own, and one radiology group."""
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
                self._specialist(spec, self._new_tin())
        radiology_tin = self._new_tin()
        for _ in range(3):
            self._specialist("radiology", radiology_tin)

    def _add_hospital_staff(self) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        """Emergency physicians and hospitalists per hospital (by position in _HOSPITALS)."""
        em_by_hosp: dict[int, list[int]] = {}
        hospitalists_by_hosp: dict[int, list[int]] = {}
        for h in range(len(_HOSPITALS)):
            tin = self._new_tin()
            em_by_hosp[h] = [self._specialist("emergency medicine", tin) for _ in range(2)]
            tin = self._new_tin()
            hospitalists_by_hosp[h] = [
                self._specialist("hospitalist", tin) for _ in range(1 if h == 2 else 2)
            ]
        return em_by_hosp, hospitalists_by_hosp

    def _add_facilities(self) -> None:
        self.hospitals = np.array([self._facility(n, "acute care hospital") for n in _HOSPITALS])
        self.snfs = np.array(
            [
                self._facility(n, "skilled nursing facility")
                for n in (
                    "Maple Grove Rehabilitation Center",
                    "Willow Creek Skilled Nursing",
                    "Brookside Care Center",
                )
            ]
        )
        self.hhas = np.array(
            [
                self._facility(n, "home health agency")
                for n in ("Visiting Nurses of the Valley", "HomeFirst Health Services")
            ]
        )
        self.hospices = np.array(
            [self._facility(n, "hospice") for n in ("Compassion Hospice", "Evening Star Hospice")]
        )
        self.labs = np.array(
            [
                self._facility(n, "laboratory")
                for n in ("Tri-County Clinical Laboratory", "Keystone Reference Laboratory")
            ]
        )
        self.dmes = np.array(
            [
                self._facility(n, "dme supplier")
                for n in ("Summit Medical Supply", "Apex Home Medical Equipment")
            ]
        )

    def _index(
        self, vocab: Vocab, em_by_hosp: dict[int, list[int]], hospitalists_by_hosp: dict[int, list[int]]
    ) -> None:
        """Arrays by roster index, for vectorised lookups."""
        rows = self.rows
        size = len(rows)
        self.npi = vocab.arr([r[0] for r in rows])
        self.tin = vocab.arr([r[3] for r in rows])
        self.org = np.array(self._org_of_row, np.int64)
        self.pcp_all = np.array([r for lst in self.pcps.values() for r in lst], np.int64)
        self.same_tin = _Groups(size, self._tin_of_pcp)
        self.em = _Groups(size, {int(self.hospitals[h]): v for h, v in em_by_hosp.items()})
        self.hospitalist = _Groups(size, {int(self.hospitals[h]): v for h, v in hospitalists_by_hosp.items()})
        self.spec = {k: np.array(v, np.int64) for k, v in self.specialists.items()}
        # Uneven panel sizes inside each organization.
        self.pcp_weights = {
            o: np.array([1.0 + 0.35 * (i % 4) for i in range(len(v))]) for o, v in self.pcps.items()
        }

    def table(self) -> pa.Table:
        cols = list(zip(*self.rows))
        return pa.Table.from_arrays([pa.array(c, pa.string()) for c in cols], schema=table_schema("provider"))
