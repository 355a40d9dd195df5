"""Acute inpatient stays: admissions through the ED and direct, deaths in hospital, colectomies,
transfers and readmissions; each stay's facility claim with the hospitalist, consultant, anesthesia,
ED physician and surgeon claims around it, and follow-up office visits."""

from __future__ import annotations

import numpy as np

from vbc.demo.base import LAG_IP, ChunkBase, choice_rows
from vbc.demo.columns import one_line, slot_lines
from vbc.demo.population import AF, CKD, COPD, DEP, HF
from vbc.demo.roster import TERTIARY

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
DRG_INDEX = {d[0]: i for i, d in enumerate(_DRGS)}
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


def resolve_overlaps(member: np.ndarray, start: np.ndarray, end: np.ndarray, prio: np.ndarray) -> np.ndarray:
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


class Inpatient(ChunkBase):
    def _drg_pick(self, mi: np.ndarray, base: np.ndarray, boosts: bool) -> np.ndarray:
        wts = np.broadcast_to(base, (len(mi), len(base))).copy()
        if boosts:
            for cond, (code, b) in _ED_BOOST.items():
                wts[:, DRG_INDEX[code]] += b * self.cond[mi, cond]
        return choice_rows(self.rng, wts)

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
            big = np.isin(drg, [DRG_INDEX["207"], DRG_INDEX["853"], DRG_INDEX["247"], DRG_INDEX["460"]]) & (
                rng.random(c) < 0.5
            )
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

    def gen_inpatient(self) -> dict:
        """Emit the stays and their follow-up visits; return them for post-acute care."""
        st = self._index_stays()
        st = self._transfers(st)
        st = self._readmissions(st)
        self._emit_stays(st)
        self._follow_up_visits(st)
        return st

    def _index_stays(self) -> dict:
        """Admissions through the ED and direct, deaths in hospital, colectomies and the claimant
        story's stays, clipped to enrollment, overlaps resolved by priority."""
        parts = []
        mi, day = self.events(0.100 * self.r_pow(1.0), self.g.season)
        parts.append(self._stays(mi, day, self._drg_pick(mi, _W_ED, True), True, 1))
        mi, day = self.events(0.114 * self.r_pow(0.9))
        direct = self._drg_pick(mi, _W_DIRECT, True)
        parts.append(self._stays(mi, day, direct, False, 1))
        parts += self._hospital_deaths()
        parts += self._colectomies()
        parts.append(self._story_stays())
        st = self._clip_to_enrollment(self._cat(parts))
        st = self._take(st, resolve_overlaps(st["mi"], st["adm"], st["dis"], st["prio"]))
        return st

    def _hospital_deaths(self) -> list[dict]:
        """A quarter of the deaths end a terminal stay."""
        rng, V = self.rng, self.V
        dec = np.flatnonzero(self.died & (rng.random(self.n) < 0.25))
        if not len(dec):
            return []
        drg = self._drg_pick(dec, _W_TERMINAL, False)
        los = np.maximum(1, np.round(_DRG_LOS[drg] * rng.lognormal(0, 0.4, len(dec)))).astype(np.int64)
        dis = self.death_day[dec]
        adm = dis - los
        ok = self.valid(dec, adm)
        dec, drg, adm, dis = dec[ok], drg[ok], adm[ok], dis[ok]
        return [
            self._stays(
                dec, adm, drg, rng.random(len(dec)) < 0.7, 3, dis=dis, disp=np.full(len(dec), V("20"))
            )
        ]

    def _colectomies(self) -> list[dict]:
        """Colorectal cancer: total colectomy."""
        rng, V, w = self.rng, self.V, self.w
        crc = np.flatnonzero(self.crc & (rng.random(self.n) < 0.5))
        if not len(crc):
            return []
        day = self.w.start[0] + (rng.random(len(crc)) * (w.last_day - w.first_day)).astype(np.int64)
        ok = self.valid(crc, day)
        crc, day = crc[ok], day[ok]
        return [
            self._stays(
                crc,
                day,
                np.full(len(crc), DRG_INDEX["329"]),
                False,
                2,
                dx1=np.full(len(crc), V("C189")),
                proc1=np.full(len(crc), V("0DTE0ZZ")),
            )
        ]

    def _transfers(self, st: dict) -> dict:
        """About 3% of stays continue at another hospital the same day."""
        rng, V = self.rng, self.V
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
            st = self._take(st, resolve_overlaps(st["mi"], st["adm"], st["dis"], st["prio"]))
            # Where the second stay could not happen, the first is a plain discharge home.
            adm_keys = np.sort(st["mi"] * 100_000 + st["adm"])
            out = st["disp"] == V("02")
            dis_keys = st["mi"][out] * 100_000 + st["dis"][out]
            j = np.minimum(np.searchsorted(adm_keys, dis_keys), len(adm_keys) - 1)
            st["disp"][np.flatnonzero(out)[adm_keys[j] != dis_keys]] = V("01")
        return st

    def _readmissions(self, st: dict) -> dict:
        """Readmissions within 30 days, a few planned (DRG 470, or chemotherapy Z5111)."""
        rng, V = self.rng, self.V
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
            drg = np.where(planned, np.where(kind, DRG_INDEX["470"], DRG_INDEX["846"]), drg)
            dx1 = np.where(planned & kind, V("M1711"), -1)
            proc = np.where(planned & kind, V("0SRC0J9"), -1)
            via = ~planned & (rng.random(c) < 0.6)
            re = self._stays(mi, adm, drg, via, 0, dx1=dx1, proc1=proc)
            re = self._clip_to_enrollment(re)
            st = self._cat([st, re])
            st = self._take(st, resolve_overlaps(st["mi"], st["adm"], st["dis"], st["prio"]))
        return st

    def _follow_up_visits(self, st: dict) -> None:
        """Follow-up office visits within 7 days of about half the discharges home."""
        rng = self.rng
        home = np.isin(st["disp"], self.codes(["01", "06"])) & ~st["story"]
        fu = np.flatnonzero(home & (rng.random(len(home)) < 0.45))
        mi, day = st["mi"][fu], st["dis"][fu] + rng.integers(2, 8, len(fu))
        ok = self.valid(mi, day)
        self.pcp_visits(mi[ok], day[ok], follow=True)

    def _emit_stays(self, st: dict) -> None:
        """Each stay's facility claim, then the professional claims around the stays."""
        if len(st["mi"]) == 0:
            return
        ed_level = self._facility_claims(st)
        self._hospitalist_claims(st)
        self._consults_and_anesthesia(st)
        self._ed_physicians(st, ed_level)
        self._surgeons(st)

    def _facility_claims(self, st: dict) -> np.ndarray:
        """The hospital's claims (bill type 111), story stays kept apart for their own paid-date lag;
        returns the ED level billed on the ED line, for the ED physician's claim."""
        rng, V = self.rng, self.V
        c = len(st["mi"])
        drg, mi = st["drg"], st["mi"]
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
        lines = slot_lines(present, rev=rev, hcpcs=hcpcs, paid=paid, lstart=lstart, lend=lend)
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
        return ed_level

    def _hospitalist_claims(self, st: dict) -> None:
        """Hospitalist: initial day, up to five subsequent days, discharge day."""
        rng, V, R = self.rng, self.V, self.R
        c = len(st["mi"])
        mi, story = st["mi"], st["story"]
        los = np.maximum(st["dis"] - st["adm"], 1)
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
                slot_lines(present[sel], hcpcs=hc[sel], paid=pr[sel], lstart=ld[sel], lend=ld[sel]),
                st["dx1"][sel],
                kchron=6,
                end=st["dis"][sel],
                story=flag,
            )

    def _consults_and_anesthesia(self, st: dict) -> None:
        """Specialist consults on about half the stays, anesthesia for surgical stays."""
        rng, V, R = self.rng, self.V, self.R
        c = len(st["mi"])
        drg, mi, story = st["drg"], st["mi"], st["story"]
        los = np.maximum(st["dis"] - st["adm"], 1)
        surg = _DRG_SURG[drg]
        cons = np.flatnonzero((rng.random(c) < 0.5) & ~story)
        spec_for = np.where(
            np.isin(drg[cons], [DRG_INDEX["291"], DRG_INDEX["308"], DRG_INDEX["247"]]),
            0,
            np.where(
                np.isin(drg[cons], [DRG_INDEX["190"], DRG_INDEX["193"], DRG_INDEX["207"]]),
                1,
                np.where(drg[cons] == DRG_INDEX["683"], 2, 3),
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
            one_line(
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
                one_line(len(an), hcpcs=V("01402"), paid=520.0 * rng.lognormal(0, 0.2, len(an))),
                st["dx1"][an],
                kchron=4,
            )

    def _ed_physicians(self, st: dict, ed_level: np.ndarray) -> None:
        """ED physician for admissions through the ED."""
        rng, V = self.rng, self.V
        mi, story = st["mi"], st["story"]
        via = np.flatnonzero(st["via_ed"] & ~story)
        level = np.where(ed_level[via] == V("99284"), 1, 2)
        self.ed_professional(
            mi[via], st["adm"][via], st["hosp"][via], level, st["dx1"][via], rng.random(len(via)) < 0.4
        )

    def _surgeons(self, st: dict) -> None:
        rng, R = self.rng, self.R
        drg, mi, story = st["drg"], st["mi"], st["story"]
        surg = _DRG_SURG[drg]
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
                    one_line(len(ss), hcpcs=cpt[s2], paid=amt * rng.uniform(0.95, 1.05, len(ss))),
                    st["dx1"][ss],
                    kchron=4,
                    story=flag,
                )
