"""What every chunk shares, and the chunk's primitives: Poisson events over enrolled days, enrollment
checks, code picks, and `emit`/`prof`/`inst`, which queue claim headers and lines for
medical_claims.py to assemble into medical_claim."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vbc.demo.columns import NO_DATE, Vocab
from vbc.demo.population import pow_mean
from vbc.demo.roster import Roster
from vbc.demo.window import Window

# Claim kinds, and the paid-date lag each claim gets (medical_claims.MedicalClaims._paid_lag).
INST, PROF = 0, 1
LAG_PROF, LAG_IP, LAG_INST, LAG_STORY = 0, 1, 2, 3
# Diagnoses of visits not coded to one of the member's chronic conditions.
_ACUTE_DX = ("J069", "M5450", "R051", "R5383", "M25561", "R42", "N390", "E039", "M1990", "R600", "Z23")


def choice(rng: np.random.Generator, p, size: int) -> np.ndarray:
    c = np.cumsum(np.asarray(p, float))
    return np.minimum(np.searchsorted(c / c[-1], rng.random(size), side="right"), len(c) - 1)


def choice_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    c = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * c[:, -1]
    return np.minimum((c <= u[:, None]).sum(1), weights.shape[1] - 1)


@dataclass
class Shared:
    """What every chunk shares: window, roster, vocabulary, stories."""

    seed: int
    w: Window
    vocab: Vocab
    roster: Roster
    qi_month: int  # window index where the Lakeside improvement starts
    claimant_months: tuple[int, ...]  # window indexes of the high-cost claimant's episode
    season: np.ndarray  # (M,) ED seasonality


class ChunkBase:
    """A chunk of members and the claims queued for them.

    The domain modules add their generators as mixins of this class, combined in chunk.Chunk; a few
    call each other's (inpatient follow-ups use Professional.pcp_visits, the claimant story uses
    Inpatient._stays). The member arrays (age, cond, vdays, home_pcp, ...) are set by
    eligibility.Enrollment._people.
    """

    def __init__(self, g: Shared, index: int, lo: int, n: int) -> None:
        self.g, self.w, self.V, self.R = g, g.w, g.vocab, g.roster
        self.index, self.lo, self.n = index, lo, n
        self.rng = np.random.default_rng([g.seed, index])
        self.heads: list[dict] = []
        self.lines: list[dict] = []
        self.obs: list[tuple] = []
        self.labs: list[tuple] = []
        self.qi_counts = np.zeros((2, 2))  # [before/after, readings/controlled] for Lakeside hypertensives
        # Claims queued from self.heads[own_stream_from:] draw their payment lags from own_rng.
        self.own_stream_from: int | None = None
        self.own_rng: np.random.Generator | None = None

    def r_pow(self, a: float) -> np.ndarray:
        return self.r**a / pow_mean(a)

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
        return np.asarray(values)[choice(self.rng, p, size)]

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

    def hospital_for(self, mi: np.ndarray) -> np.ndarray:
        """Mostly the member's home hospital."""
        rng = self.rng
        other = self.R.hospitals[rng.integers(0, len(self.R.hospitals), len(mi))]
        return np.where(rng.random(len(mi)) < 0.8, self.home_hosp[mi], other)
