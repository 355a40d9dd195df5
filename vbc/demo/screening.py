"""Screening: colorectal (colonoscopy, FIT, FIT-DNA, sigmoidoscopy, CT colonography), mammography
with its diagnostic follow-ups, diabetic eye exams and cervical cancer screening (Pap and HPV)."""

from __future__ import annotations

import numpy as np

from vbc.demo.base import LAG_INST, ChunkBase, choice
from vbc.demo.columns import one_line, slot_lines
from vbc.demo.population import DM

# Diabetic eye exams: the yearly share of diabetics examined, and the share with retinopathy coded.
EYE_EXAM_RATE, RETINOPATHY_SHARE = 0.45, 0.12
# Cervical screening of women under 65: Pap every three years, or Pap with an HPV co-test every
# five, for this share of them (the rest are overdue).
CERVICAL_SCREENED = 0.72


class Screening(ChunkBase):
    def gen_screening(self) -> None:
        self._colorectal_screening()
        self._mammography()

    def gen_eye_and_cervical(self) -> None:
        """Diabetic eye exams and cervical screening, added after the other generators: they draw
        from a stream of their own and their claims' payment lags do too (own_stream_from), so
        adding them left every other claim of the chunk exactly as it was."""
        self.own_rng = np.random.default_rng([self.g.seed, self.index, 131])
        self.own_stream_from = len(self.heads)
        self._diabetic_eye_exams(self.own_rng)
        self._cervical_screening(self.own_rng)

    def _diabetic_eye_exams(self, rng: np.random.Generator) -> None:
        """A yearly eye exam at the ophthalmologist for most diabetics; some have diabetic
        retinopathy coded on it."""
        V, w = self.V, self.w
        dm = np.flatnonzero(self.cond[:, DM] & (self.age < 77))
        retino = rng.random(len(dm)) < RETINOPATHY_SHARE
        docs = self.R.spec["ophthalmology"]
        for y in np.unique(w.year):
            take = rng.random(len(dm)) < EYE_EXAM_RATE
            d = np.datetime64(f"{int(y)}-01-01").astype(np.int64) + (rng.random(len(dm)) * 365).astype(
                np.int64
            )
            ok = take & self.valid(dm, d)
            mi, dd, rt = dm[ok], d[ok], retino[ok]
            c = len(mi)
            lines = one_line(c, hcpcs=V("92014"), paid=118.0 * rng.uniform(0.97, 1.03, c))
            dx = np.where(rt, V("E11319"), self.diab_code[mi])
            self.prof(mi, dd, docs[self.gid[mi] % len(docs)], "11", lines, dx, kchron=2)

    def _cervical_screening(self, rng: np.random.Generator) -> None:
        """Women under 65: a Pap test every three years, some with an HPV co-test every five instead;
        the laboratory bills the test."""
        V, w = self.V, self.w
        n = self.n
        women = np.flatnonzero(self.female & (self.age < 65) & (rng.random(n) < CERVICAL_SCREENED))
        cotest = rng.random(len(women)) < 0.35
        every = np.where(cotest, 5 * 365, 3 * 365)
        first = w.first_day - (rng.random(len(women)) * every).astype(np.int64)
        for k in range(0, w.months // 36 + 2):
            d = first + k * every + np.round(rng.normal(0, 30, len(women))).astype(np.int64)
            ok = self.valid(women, d)
            mi, dd, co = women[ok], d[ok], cotest[ok]
            self.lab_claims(mi, dd, V("88175"), 28.0, V("Z124"), ())
            self.lab_claims(mi[co], dd[co], V("87624"), 35.0, V("Z1151"), ())

    def _colorectal_screening(self) -> None:
        """Colorectal cancer screening for ages 45-75 (and a tail), never for the colectomy members."""
        rng, V, w = self.rng, self.V, self.w
        n = self.n
        elig = (self.age >= 45) & (self.age <= 76) & ~self.crc
        modality = np.where(elig, choice(rng, [0.55, 0.12, 0.05, 0.015, 0.015, 0.25], n), 5)
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
                    one_line(c, hcpcs=V("45330"), paid=115.0),
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
                    one_line(c, hcpcs=V("74263"), paid=310.0),
                    V("Z1211"),
                    allow=1.0,
                )

    def _mammography(self) -> None:
        """Women 50-74, about every two years for ~70% of them."""
        rng, V, w = self.rng, self.V, self.w
        n = self.n
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
                one_line(c, hcpcs=V("77067"), paid=105.0 * rng.uniform(0.97, 1.03, c)),
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
                one_line(c2, hcpcs=np.where(rng.random(c2) < 0.6, V("77066"), V("77065")), paid=135.0),
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
            one_line(c, hcpcs=hc, paid=230.0 * rng.uniform(0.95, 1.05, c)),
            dx,
            allow=np.where(screening, 1.0, 1.25),
        )
        present = np.column_stack([np.ones(c, bool), rng.random(c) < 0.8])
        lines = slot_lines(
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
