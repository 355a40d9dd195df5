"""The high-cost claimant story: one continuously enrolled Lakeside member of the first chunk has four
stays in consecutive months (lymphoma, CAR-T with an ICU course, sepsis on the ventilator,
tracheostomy) with oncology care between them and PCP visits around them. The member's other claims
in those months are dropped so the episode stands out."""

from __future__ import annotations

import numpy as np

from vbc.demo.base import ChunkBase
from vbc.demo.columns import slot_lines
from vbc.demo.inpatient import DRG_INDEX
from vbc.demo.roster import LAKESIDE, ORGANIZATIONS, TERTIARY
from vbc.demo.window import Window, month_index


def claimant_months(w: Window, end_month: str) -> tuple[int, ...]:
    """Window indexes of the episode: May-August of the last complete year, or the latest four
    months that leave room after them; none when the window is too short."""
    M = w.months
    y, mo = (int(x) for x in end_month.split("-"))
    last_complete = y if mo == 12 else y - 1
    start = month_index(last_complete, 5, w)
    if start < 0 or start + 3 > M - 4:
        start = M - 11
    if start < 0:
        return ()
    return tuple(range(start, start + 4))


def claimant_story(
    labels: list[str], months: tuple[int, ...], claimant: tuple[str, float] | None
) -> dict | None:
    """The summary's record of the story: who, when and what the story's claims paid."""
    if not claimant:
        return None
    return {
        "person_id": claimant[0],
        "organization": ORGANIZATIONS[LAKESIDE],
        "months": [labels[m] for m in months],
        "paid": round(claimant[1], 2),
    }


class Claimant(ChunkBase):
    def _pick_claimant(self) -> None:
        """The first continuously enrolled Lakeside member (first chunk only) without a PCP switch."""
        self.claimant = -1
        if self.index == 0 and self.g.claimant_months:
            M, age = self.w.months, self.age
            # sw_m is M exactly for members who never switch PCP.
            ok = (
                (self.org == LAKESIDE)
                & (self.sw_m == M)
                & ~self.is_new
                & ~self.died
                & (self.last_m == M - 1)
                & ~self.gap
                & (age >= 66)
                & (age <= 80)
                & ~self.crc
                & ~self.onc
            )
            if ok.any():
                self.claimant = int(np.flatnonzero(ok)[0])

    def _story_stays(self) -> dict:
        """The episode's stays, for Inpatient to emit with the others (priority 9 keeps them over
        any overlapping stay of the member)."""
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
        drg = np.array([DRG_INDEX[p[0]] for p in plan[:c]])
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
            lines = slot_lines(
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

    def _replaced_by_story(self, H: dict) -> np.ndarray:
        """The claimant's own claims starting inside the episode's months, which the story replaces."""
        if self.claimant < 0:
            return np.zeros(len(H["member"]), bool)
        w, ms = self.w, self.g.claimant_months
        in_window = (H["start"] >= w.start[ms[0]]) & (H["start"] < w.start[ms[-1] + 1])
        return (H["member"] == self.claimant) & in_window & ~H["story"]

    def _story_paid(self, member: np.ndarray, story: np.ndarray, paid: np.ndarray) -> float:
        """Paid on the story's own claim lines, for the summary."""
        return float(paid[(member == self.claimant) & story].sum()) if self.claimant >= 0 else 0.0
