"""Post-acute care around the hospital stays: SNF stays (after discharges to SNF and direct) with the
SNF physician's visits, home health periods, and hospice in the last months of life."""

from __future__ import annotations

import numpy as np

from vbc.demo.base import LAG_INST, ChunkBase, choice
from vbc.demo.columns import slot_lines
from vbc.demo.inpatient import resolve_overlaps


class _StayIndex:
    """The hospital stays keyed by member and admission day, to fit post-acute care around them."""

    def __init__(self, st: dict) -> None:
        self.ip_key = np.sort(st["mi"] * 100_000 + st["adm"]) if len(st["mi"]) else np.zeros(0, np.int64)
        self.ip_dis_by_key = None
        if len(st["mi"]):
            o = np.lexsort((st["adm"], st["mi"]))
            self.ip_dis_by_key = st["dis"][o]

    def next_admission(self, mi: np.ndarray, day: np.ndarray) -> np.ndarray:
        ip_key = self.ip_key
        k = mi * 100_000 + day
        j = np.searchsorted(ip_key, k, side="right")
        jc = np.minimum(j, len(ip_key) - 1)
        same = (j < len(ip_key)) & (ip_key[jc] // 100_000 == mi)
        return np.where(same, ip_key[jc] % 100_000, np.iinfo(np.int64).max)

    def inside_stay(self, mi: np.ndarray, day: np.ndarray) -> np.ndarray:
        ip_key, ip_dis_by_key = self.ip_key, self.ip_dis_by_key
        k = mi * 100_000 + day
        j = np.searchsorted(ip_key, k, side="right") - 1
        jc = np.maximum(j, 0)
        same = (j >= 0) & (ip_key[jc] // 100_000 == mi)
        return same & (ip_dis_by_key[jc] > day) if ip_dis_by_key is not None else np.zeros(len(mi), bool)


class PostAcute(ChunkBase):
    def gen_post_acute(self, st: dict) -> None:
        """SNF, home health and hospice, given the chunk's hospital stays `st`."""
        mi, adm, dis, disp = self._snf_stays(st, _StayIndex(st))
        dx1 = self._snf_claims(mi, adm, dis, disp)
        self._snf_physicians(mi, adm, dis, dx1)
        self._home_health(st, mi, dis, disp)
        self._hospice(st)

    def _snf_stays(
        self, st: dict, stays: _StayIndex
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """SNF: after discharges to SNF, plus direct stays for frail members; ended early by a
        readmission or death. Returns (member, admission, discharge, disposition)."""
        rng, V, w = self.rng, self.V, self.w
        post = np.flatnonzero(st["disp"] == V("03"))
        mi1, adm1 = st["mi"][post], st["dis"][post]
        los1 = np.clip(np.round(rng.lognormal(np.log(17), 0.6, len(post))), 3, 100).astype(np.int64)
        mi2, adm2 = self.events(0.105 * self.r_pow(0.9) * np.where(self.age >= 80, 1.5, 0.75))
        keep2 = ~stays.inside_stay(mi2, adm2)
        mi2, adm2 = mi2[keep2], adm2[keep2]
        los2 = np.clip(np.round(rng.lognormal(np.log(9), 0.55, len(mi2))), 2, 60).astype(np.int64)
        mi = np.r_[mi1, mi2]
        adm = np.r_[adm1, adm2]
        dis = adm + np.r_[los1, los2]
        prio = np.r_[np.ones(len(mi1)), np.zeros(len(mi2))]
        keep = resolve_overlaps(mi, adm, dis, prio)
        mi, adm, dis = mi[keep], adm[keep], dis[keep]
        nxt = stays.next_admission(mi, adm)
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
        return mi, adm, dis, disp

    def _snf_claims(self, mi: np.ndarray, adm: np.ndarray, dis: np.ndarray, disp: np.ndarray) -> np.ndarray:
        """The SNF's claim per stay (bill type 211); returns each stay's dx1."""
        rng = self.rng
        c = len(mi)
        los = dis - adm
        paid = los * 545.0 * rng.lognormal(0, 0.15, c)
        fac = self.home_snf[mi]
        shares = np.array([0.05, 0.70, 0.08, 0.10, 0.07])
        present = np.column_stack([np.ones((c, 3), bool), rng.random(c) < 0.8, rng.random(c) < 0.6])
        sh = shares[None, :] * present
        lines = slot_lines(
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
        return dx1

    def _snf_physicians(self, mi: np.ndarray, adm: np.ndarray, dis: np.ndarray, dx1: np.ndarray) -> None:
        """SNF physician visits (POS 31)."""
        R = self.R
        c = len(mi)
        los = dis - adm
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
            slot_lines(present[sel], hcpcs=hc[sel], paid=pr[sel], lstart=vd[sel], lend=vd[sel]),
            dx1[sel],
            kchron=6,
            end=np.max(np.where(present[sel], vd[sel], 0), axis=1),
        )

    def _home_health(self, st: dict, snf_mi: np.ndarray, snf_dis: np.ndarray, snf_disp: np.ndarray) -> None:
        """Home health: after discharges home with services, after SNF, and from the community."""
        rng, V, w = self.rng, self.V, self.w
        from_ip, from_snf = st["disp"] == V("06"), snf_disp == V("06")
        src_mi = np.r_[st["mi"][from_ip], snf_mi[from_snf]]
        src_day = np.r_[st["dis"][from_ip], snf_dis[from_snf]] + rng.integers(1, 4, len(src_mi))
        cm_mi, cm_day = self.events(0.095 * self.r_pow(0.9) * np.where(self.age >= 80, 1.4, 0.8))
        hmi = np.r_[src_mi, cm_mi]
        hday = np.r_[src_day, cm_day]
        periods = 1 + choice(rng, [0.45, 0.35, 0.12, 0.08], len(hmi))
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
        lines = slot_lines(
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

    def _hospice(self, st: dict) -> None:
        """Hospice in the last weeks or months of life for most members who die outside hospital."""
        rng, V, w = self.rng, self.V, self.w
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
            lines = slot_lines(
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
