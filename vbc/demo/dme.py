"""Durable medical equipment billed by a DME supplier (POS 12): monthly rentals (oxygen, CPAP,
wheelchairs, hospital beds, CGM supplies) and one-off purchases."""

from __future__ import annotations

import numpy as np

from vbc.demo.base import ChunkBase
from vbc.demo.columns import one_line
from vbc.demo.population import COPD, DM, HF

# DME: rentals billed monthly (hcpcs, paid, dx1) and one-off purchases (hcpcs, rate/yr, paid, dx1).
_DME_ONE_OFF = (
    ("L3000", 85.0, "E119"),
    ("K0823", 4300.0, "R262"),
    ("L1833", 690.0, "M1711"),
    ("L0650", 1150.0, "M5450"),
    ("E0114", 40.0, "S82001A"),
)


class Dme(ChunkBase):
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
                one_line(len(mi), hcpcs=V(code), paid=amt * rng.uniform(0.98, 1.02, len(mi))),
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
                one_line(len(mi), hcpcs=V(code), paid=amt),
                np.full(len(mi), V(dx)),
                kchron=2,
            )
