"""Emergency department visits: the hospital's outpatient claim and the ED physician's, and the
winter ED story (the season also drives admissions through the ED, in inpatient.py)."""

from __future__ import annotations

import numpy as np

from vbc.demo.base import LAG_INST, ChunkBase, choice
from vbc.demo.columns import slot_lines
from vbc.demo.window import Window

# ED visits in winter run WINTER_UPLIFT above summer.
WINTER_MONTHS, SUMMER_MONTHS, WINTER_UPLIFT = (12, 1, 2), (6, 7, 8), 0.30

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
# (E&M code, share of visits, facility paid, physician paid)
_ED_LEVELS = (("99283", 0.35, 330.0, 80.0), ("99284", 0.40, 560.0, 140.0), ("99285", 0.25, 840.0, 205.0))


def season(w: Window) -> np.ndarray:
    """(M,) multiplier of ED visit and ED admission rates by month."""
    return np.where(
        np.isin(w.moy, WINTER_MONTHS),
        1.15,
        np.where(np.isin(w.moy, SUMMER_MONTHS), 1.15 / (1 + WINTER_UPLIFT), 1.0),
    )


def winter_story() -> dict:
    return {
        "months": list(WINTER_MONTHS),
        "uplift": WINTER_UPLIFT,
        "relative_to_months": list(SUMMER_MONTHS),
    }


class Emergency(ChunkBase):
    def ed_professional(self, mi, day, hosp, level, dx1, ekg) -> None:
        """The ED physician's claim (POS 23), for ED visits and for admissions through the ED."""
        c = len(mi)
        doc = self.R.em.pick(hosp, self.rng.random(c))
        pro_paid = np.array([lv[3] for lv in _ED_LEVELS])[level] * self.rng.uniform(0.95, 1.05, c)
        present = np.column_stack([np.ones(c, bool), ekg])
        hcpcs = np.column_stack(
            [self.codes([lv[0] for lv in _ED_LEVELS])[level], np.full(c, self.V("93010"))]
        )
        paid = np.column_stack([pro_paid, np.full(c, 9.0)])
        self.prof(mi, day, doc, "23", slot_lines(present, hcpcs=hcpcs, paid=paid), dx1)

    def gen_ed(self) -> None:
        rng, V = self.rng, self.V
        mi, day = self.events(0.50 * self.r_pow(0.7), self.g.season)
        c = len(mi)
        hosp = self.hospital_for(mi)
        level = choice(rng, [lv[1] for lv in _ED_LEVELS], c)
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
            slot_lines(present, rev=rev, hcpcs=hcpcs, paid=paid),
            dx1,
            lag=LAG_INST,
            allow=1.2,
            disp=V("01"),
        )
        self.ed_professional(mi, day, hosp, level, dx1, ekg)
