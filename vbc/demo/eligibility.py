"""The members of a chunk (ages, enrollment spans, deaths, demographics, clinical flags, home PCP and
facilities) and the eligibility table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vbc.demo.base import ChunkBase, choice, choice_rows
from vbc.demo.columns import NO_DATE, PAYER, PAYER_TYPE, PLAN, date_column, table_schema
from vbc.demo.population import CONDITIONS, DM, DX_ORDER, reference_population, traits
from vbc.demo.roster import CEDAR, HOME_HOSPITAL_SHARE, INDEPENDENT, LAKESIDE, NO_PCP, RIVERBEND

# Share of members whose home PCP sits in each organization, with independents, then no PCP.
ORG_SHARE = np.array([0.60, 0.27, 0.02, 0.03, 0.08])


class Enrollment(ChunkBase):
    def _people(self) -> None:
        """The member arrays every generator reads (one entry per member of the chunk)."""
        self._ages()
        self._enrollment()
        self._demographics()
        self._clinical_flags()
        self._chronic_codes()
        self._primary_care()

    def _ages(self) -> None:
        """Traits at the start of the data; new enrollees join during it, mostly on turning 65."""
        rng, n, M = self.rng, self.n, self.w.months
        years = M / 12
        new_frac = 0.06 * years / (1 + 0.06 * years)
        is_new = rng.random(n) < new_frac
        start_m = np.where(is_new, rng.integers(1, max(M, 2), n), 0)
        start_m = np.minimum(start_m, M - 1)
        new_age = np.where(rng.random(n) < 0.9, 65.0, rng.uniform(45, 64, n)) - start_m / 12
        t = traits(rng, n)
        age = np.where(is_new, new_age, t["age"])
        r = (
            t["r"] / reference_population()[0] * np.exp(0.012 * (age - t["age"]))
        )  # the age term follows new enrollees' age
        self.age, self.female, self.cond, self.dual, self.r = age, t["female"], t["cond"], t["dual"], r
        self.is_new, self.start_m = is_new, start_m

    def _enrollment(self) -> None:
        """Deaths, disenrollment and the enrolled days of each month (vdays, expo)."""
        rng, w, n, M = self.rng, self.w, self.n, self.w.months
        age, r, start_m = self.age, self.r, self.start_m
        hz = np.exp(0.075 * (age - 78)) * r**0.4
        h = np.clip(0.05 / 12 * hz / reference_population()[2], 1e-6, 0.5)
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

    def _demographics(self) -> None:
        rng, w, n = self.rng, self.w, self.n
        age, is_new, start_m = self.age, self.is_new, self.start_m
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
            self.dual, dual_codes[1:][choice(rng, [0.45, 0.25, 0.15, 0.10, 0.05], n)], dual_codes[0]
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
        self.zip = zips[choice(rng, [14, 9, 11, 8, 10, 7, 9, 8, 7, 6, 6, 5], n)]

    def _clinical_flags(self) -> None:
        rng, n, age = self.rng, self.n, self.age
        self.diab_code = np.where(rng.random(n) < 0.35, self.V("E1165"), self.V("E119"))
        self.mastectomy = self.female & (age >= 45) & (rng.random(n) < 0.006)
        self.crc = rng.random(n) < 0.003
        self.onc = (rng.random(n) < 0.02) & ~self.crc
        onc_codes = np.where(
            self.female,
            self.V.arr(["C50911", "C3490", "C8338"])[choice(rng, [0.5, 0.3, 0.2], n)],
            self.V.arr(["C61", "C3490", "C8338"])[choice(rng, [0.5, 0.3, 0.2], n)],
        )
        self.onc_code = np.where(self.onc, onc_codes, -1)
        self.amd = rng.random(n) < np.where(age >= 75, 0.045, 0.012)
        self.rx_user = rng.random(n) < 0.85
        self.gid = self.lo + np.arange(n)

    def _chronic_codes(self) -> None:
        """Chronic codes packed left, sickest first, then history codes."""
        n = self.n
        cols = []
        for c in DX_ORDER:
            code = self.diab_code if c == DM else np.full(n, self.V(CONDITIONS[c][2]))
            cols.append(np.where(self.cond[:, c], code, -1))
        self.ncond_codes = self.cond.sum(1)
        cols.append(np.where(self.crc, self.V("C189"), -1))
        cols.append(self.onc_code)
        cols.append(np.where(self.mastectomy, self.V("Z9013"), -1))
        ch = np.column_stack(cols).astype(np.int32)
        order = np.argsort(ch < 0, axis=1, kind="stable")
        self.chron = np.take_along_axis(ch, order, 1)

    def _primary_care(self) -> None:
        """Home PCP (by organization), PCP switches, home hospital and agencies."""
        rng, n, M = self.rng, self.n, self.w.months
        years = M / 12
        R = self.R
        org = choice(rng, ORG_SHARE, n)
        home = np.full(n, -1, np.int64)
        u = rng.random(n)
        for o in (RIVERBEND, LAKESIDE, CEDAR, INDEPENDENT):
            sel = org == o
            pc_ = np.array(R.pcps[o])
            home[sel] = pc_[choice(rng, R.pcp_weights[o], int(sel.sum()))]
        switch = (org < NO_PCP) & (rng.random(n) < 1 - np.exp(-0.03 * years)) & (M > 1)
        sw_m = np.where(switch, rng.integers(1, max(M, 2), n), M)
        same_org = rng.random(n) < 0.5
        other_w = np.where(np.arange(4)[None, :] == org[:, None], 0.0, ORG_SHARE[None, :4])
        new_org = np.where(same_org, org, choice_rows(rng, other_w))
        new = home.copy()
        for o in (RIVERBEND, LAKESIDE, CEDAR, INDEPENDENT):
            sel = switch & (new_org == o)
            pc_ = np.array(R.pcps[o])
            j = (rng.random(int(sel.sum())) * len(pc_)).astype(np.int64)
            j = np.where(pc_[j] == home[sel], (j + 1) % len(pc_), j)  # a switch is to someone else
            new[sel] = pc_[j]
        self.org, self.home_pcp, self.new_pcp, self.sw_m = org, home, new, sw_m
        self.fallback_pcp = R.pcp_all[(u * len(R.pcp_all)).astype(np.int64)]
        self.home_hosp = R.hospitals[choice(rng, HOME_HOSPITAL_SHARE, n)]
        self.home_snf = R.snfs[rng.integers(0, len(R.snfs), n)]
        self.home_hha = R.hhas[rng.integers(0, len(R.hhas), n)]
        self.home_lab = R.labs[choice(rng, [0.7, 0.3], n)]
        self.home_dme = R.dmes[rng.integers(0, len(R.dmes), n)]

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
                "birth_date": date_column(self.birth[mi]),
                "death_date": date_column(self.death_day[mi]),
                "enrollment_start_date": date_column(w.start[s_m]),
                "enrollment_end_date": date_column(w.start[e_m + 1] - 1),
                "payer": pa.array(np.full(c, PAYER)),
                "payer_type": pa.array(np.full(c, PAYER_TYPE)),
                "plan": pa.array(np.full(c, PLAN)),
                "dual_status_code": V.strings(self.dual_code[mi]),
                "zip_code": V.strings(self.zip[mi]),
            },
            schema=table_schema("eligibility"),
        )
