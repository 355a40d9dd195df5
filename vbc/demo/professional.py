"""Office care billed by clinicians: PCP visits with their blood pressure readings (where the Lakeside
quality-improvement story is planted), annual wellness visits, specialist visits, the PCP's extras
(chronic care management, flu shots, osteoporosis injections) with psychotherapy and physical
therapy; and the observation table of the readings."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vbc.demo.base import ChunkBase, choice, choice_rows
from vbc.demo.columns import date_column, one_line, slot_lines, table_schema
from vbc.demo.population import AF, CKD, COPD, DEP, DM, HF, HTN
from vbc.demo.roster import LAKESIDE, NO_PCP, ORGANIZATIONS
from vbc.demo.window import Window

# Controlling blood pressure: the share of readings below 140/90 for Lakeside's hypertensives before
# and after the improvement starts, for other organizations' hypertensives, and for everyone else.
QI_BEFORE, QI_AFTER, BP_OTHER_HTN, BP_NON_HTN = 0.62, 0.78, 0.62, 0.88

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
SPEC_NAMES = tuple(s[0] for s in _SPECIALTY_VISITS)


def qi_start_month(w: Window) -> int:
    """Window index where Lakeside's improvement starts: 16 months before the end of the data."""
    M = w.months
    qi = M - 1 - 16
    if qi < 2:
        qi = M // 2
    return qi


def quality_story(labels: list[str], qi: int, qi_counts: np.ndarray) -> dict:
    """The summary's record of the story, with the rates observed in the readings."""
    before = qi_counts[0, 1] / qi_counts[0, 0] if qi_counts[0, 0] else None
    after = qi_counts[1, 1] / qi_counts[1, 0] if qi_counts[1, 0] else None
    return {
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
    }


class Professional(ChunkBase):
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
            slot_lines(present, hcpcs=hcpcs, paid=paid),
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
                mi,
                day,
                prov,
                "11",
                one_line(len(mi), hcpcs=code, paid=paid),
                V("Z0000"),
                kchron=12,
                allow=1.0,
            )
            self.bp(mi, day, prov)

    # ---------------------------------------------------------------- specialists
    def gen_specialists(self) -> None:
        self._specialist_visits()
        self._amd_injections()

    def _specialist_visits(self) -> None:
        rng, V, R = self.rng, self.V, self.R
        mi, day = self.events(2.45 * self.r_pow(0.6))
        c = len(mi)
        wts = np.zeros((c, len(_SPECIALTY_VISITS)))
        for s, (_, base, boosts, *_rest) in enumerate(_SPECIALTY_VISITS):
            wts[:, s] = base + sum(b * self.cond[mi, k] for k, b in boosts.items())
        wts[:, SPEC_NAMES.index("hematology oncology")] += 1.2 * self.onc[mi] + 0.3 * self.crc[mi]
        spec = choice_rows(rng, wts)
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
        self.prof(mi, day, prov, "11", slot_lines(present, hcpcs=hcpcs, paid=paid), dx1, kchron=6)

    def _amd_injections(self) -> None:
        """Macular degeneration: injections every 6-8 weeks at the ophthalmologist."""
        rng, V, R = self.rng, self.V, self.R
        mi, day = self.events(6.5 * self.amd)
        c = len(mi)
        docs = R.spec["ophthalmology"]
        prov = docs[self.gid[mi] % len(docs)]
        present = np.column_stack([np.ones((c, 3), bool), rng.random(c) < 0.3])
        hcpcs = np.broadcast_to(self.codes(["99213", "67028", "J0178", "92134"]), (c, 4))
        paid = np.column_stack(
            [np.full(c, 72.0), np.full(c, 92.0), 1780.0 * rng.uniform(0.97, 1.03, c), np.full(c, 38.0)]
        )
        self.prof(mi, day, prov, "11", slot_lines(present, hcpcs=hcpcs, paid=paid), V("H353211"), kchron=3)

    # ---------------------------------------------------------------- office extras
    def gen_office_extras(self) -> None:
        """Chronic care management, flu shots and osteoporosis injections billed by the PCP, and
        psychotherapy and physical therapy courses."""
        self._chronic_care_management()
        self._flu_shots()
        self._psychotherapy()
        self._physical_therapy()
        self._denosumab()

    def _chronic_care_management(self) -> None:
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
            mi,
            day,
            prov,
            "11",
            one_line(len(mi), hcpcs=V("99490"), paid=42.0),
            self.visit_dx(mi, 1.0),
            kchron=12,
        )

    def _flu_shots(self) -> None:
        rng, V, w = self.rng, self.V, self.w
        n, M = self.n, w.months
        # Flu vaccine each autumn.
        for y in np.unique(w.year):
            take = (self.org < NO_PCP) & (rng.random(n) < np.where(self.age >= 75, 0.62, 0.5))
            moy = np.array([9, 10, 11, 12])[choice(rng, [0.2, 0.45, 0.25, 0.1], n)]
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
                slot_lines(
                    np.ones((c, 2), bool),
                    hcpcs=self.codes(["90662", "G0008"])[None, :],
                    paid=np.array([[68.0, 31.0]]),
                ),
                np.full(c, V("Z23")),
                kchron=0,
                allow=1.0,
            )

    def _psychotherapy(self) -> None:
        rng, V, w = self.rng, self.V, self.w
        n, M = self.n, w.months
        m = np.arange(M)[None, :]
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
            one_line(c, hcpcs=V("90834"), paid=88.0),
            np.full(c, V("F329")),
            kchron=4,
        )

    def _physical_therapy(self) -> None:
        rng = self.rng
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
        lines = slot_lines(
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

    def _denosumab(self) -> None:
        rng, V, w = self.rng, self.V, self.w
        n, M = self.n, w.months
        m = np.arange(M)[None, :]
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
            slot_lines(
                np.ones((c, 2), bool),
                hcpcs=self.codes(["J0897", "96372"])[None, :],
                paid=np.column_stack([1380.0 * rng.uniform(0.98, 1.02, c), np.full(c, 15.0)]),
            ),
            np.full(c, V("M810")),
            kchron=4,
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
                "observation_date": date_column(day2),
                "normalized_code_type": pa.array(np.full(2 * c, "loinc"), pa.string()),
                "normalized_code": pa.array(code, pa.string()),
                "result": pc.cast(pa.array(val.astype(np.int64)), pa.string()),
                "result_units": pa.array(np.full(2 * c, "mm[Hg]"), pa.string()),
            },
            schema=table_schema("observation"),
        )
