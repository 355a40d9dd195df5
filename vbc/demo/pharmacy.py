"""Pharmacy claims: chronic therapies by condition (statins, whose NDCs the tests look for, among
them) with refill timing for adherent and non-adherent members, acute fills, and prescribers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vbc.demo.base import ChunkBase, choice
from vbc.demo.columns import PAYER, PLAN, date_column, id_column, table_schema
from vbc.demo.population import AF, CKD, COPD, DEP, DM, HF, HLD, HTN
from vbc.demo.professional import SPEC_NAMES

# Pharmacy: ndc, condition (or special group), share of the group on it, paid per 30 days,
# units per day, share of fills at 90 days.
_STATINS = (
    ("00071015523", 0.30, 7.5, 1),
    ("00071015623", 0.20, 9.0, 1),
    ("00006074031", 0.20, 5.5, 1),
    ("00310075190", 0.18, 9.5, 1),
    ("00003517805", 0.12, 6.5, 1),
)
STATIN_NDCS = tuple(s[0] for s in _STATINS)
NEW_START_SHARE = 0.12  # chronic therapies that start inside the window
PRE_DAYS = 180  # days of each ongoing therapy's fills simulated before the window
_DRUGS = (
    ("68180051301", HTN, 0.40, 4.2, 1.0, 0.25),
    ("69097012805", HTN, 0.35, 4.5, 1.0, 0.25),
    ("00093736598", HTN, 0.25, 7.0, 1.0, 0.25),
    ("00378003201", HTN, 0.25, 6.0, 2.0, 0.25),
    ("00172208360", HTN, 0.20, 3.5, 1.0, 0.25),
    ("00093104801", DM, 0.62, 5.5, 2.0, 0.25),
    ("00093011101", DM, 0.20, 5.0, 1.0, 0.25),
    ("00088222033", DM, 0.25, 330.0, 0.5, 0.10),
    ("00597015230", DM, 0.18, 590.0, 1.0, 0.15),
    ("00169413212", DM, 0.14, 940.0, 0.1, 0.05),
    ("00006027731", DM, 0.10, 555.0, 1.0, 0.15),
    ("00078065920", HF, 0.30, 620.0, 2.0, 0.15),
    ("00054829725", HF, 0.75, 4.5, 1.0, 0.25),
    ("00093729601", HF, 0.50, 6.0, 2.0, 0.25),
    ("00173088710", COPD, 0.35, 590.0, 0.033, 0.10),
    ("00597007541", COPD, 0.25, 500.0, 1.0, 0.10),
    ("00173068220", COPD, 0.60, 57.0, 0.033, 0.00),
    ("00003089421", AF, 0.62, 590.0, 2.0, 0.15),
    ("50458057930", AF, 0.20, 565.0, 1.0, 0.15),
    ("00056017270", AF, 0.12, 7.0, 1.0, 0.25),
    ("16729001817", DEP, 0.45, 6.0, 1.0, 0.25),
    ("00093585001", DEP, 0.30, 6.0, 1.0, 0.25),
    ("00093754256", DEP, 0.20, 12.0, 1.0, 0.25),
    ("62175011843", "all", 0.25, 6.0, 1.0, 0.25),
    ("00378180001", "all", 0.18, 8.0, 1.0, 0.25),
    ("59762502801", "all", 0.14, 9.0, 3.0, 0.25),
    ("00093314301", "male", 0.22, 8.0, 1.0, 0.25),
    ("00093517106", "female", 0.10, 6.0, 0.14, 0.25),
    ("00093738505", "old", 0.10, 7.0, 1.0, 0.25),
    ("00074055402", "specialty", 1.0, 6900.0, 0.067, 0.0),
    ("60505025303", "all", 0.08, 6.0, 1.0, 0.25),
    ("16729014201", "all", 0.07, 5.0, 1.0, 0.25),
    ("00245531901", HF, 0.30, 8.0, 1.0, 0.25),
    ("62175061737", "all", 0.12, 6.0, 1.0, 0.25),
    ("50111056101", "all", 0.08, 5.0, 1.0, 0.25),
    ("29300012501", "all", 0.10, 5.0, 1.0, 0.25),
    ("16729011915", COPD, 0.30, 6.0, 1.0, 0.25),
    ("16714052201", "male", 0.10, 6.0, 1.0, 0.25),
    ("60505082901", "all", 0.08, 10.0, 0.1, 0.0),
    ("00093721401", DM, 0.10, 6.0, 1.0, 0.25),
    ("00228282911", HF, 0.35, 6.0, 1.0, 0.25),
    ("00093075201", HTN, 0.10, 4.0, 1.0, 0.25),
    ("00378018101", "all", 0.12, 5.0, 1.0, 0.25),
    ("68382013510", "all", 0.10, 7.0, 2.0, 0.25),
    ("00781507092", CKD, 0.25, 6.0, 1.0, 0.25),
    ("13668011390", "all", 0.09, 6.0, 1.0, 0.25),
)
_ACUTE_RX = (
    ("00093310905", 5.0, 10, 30.0),
    ("59762306001", 8.0, 5, 6.0),
    ("00054472825", 4.0, 6, 21.0),
    ("00093314701", 6.0, 7, 28.0),
    ("68462015730", 5.0, 5, 10.0),
)
RX_SCALE = 1.62
# Drugs a specialist often prescribes: ndc -> specialty.
_SPECIALIST_RX = {
    "00078065920": "cardiology",
    "00003089421": "cardiology",
    "50458057930": "cardiology",
    "00173088710": "pulmonology",
    "00597007541": "pulmonology",
}


class Pharmacy(ChunkBase):
    def gen_pharmacy(self) -> pa.Table:
        """The chunk's pharmacy_claim table (drawn after all medical claims)."""
        th = self._therapies()
        pair, day, first = self._chronic_fills(th)
        return self._pharmacy_table(th, pair, day, first)

    def _therapies(self) -> dict[str, np.ndarray]:
        """Who is on which chronic drug: member, ndc, cost per 30 days, units per day, days supply and
        the specialty (index in SPEC_NAMES, -1 for none) that often prescribes it."""
        rng, V = self.rng, self.V
        n = self.n
        user = self.rx_user
        pm, pndc, pcost, punits, p90, pspec = [], [], [], [], [], []

        def add(mask, ndc, cost, units, share90, spec=None):
            idx = np.flatnonzero(mask & user)
            pm.append(idx)
            pndc.append(np.full(len(idx), V(ndc)))
            pcost.append(np.full(len(idx), cost))
            punits.append(np.full(len(idx), units))
            p90.append(np.full(len(idx), share90))
            pspec.append(np.full(len(idx), -1 if spec is None else SPEC_NAMES.index(spec)))

        statin = (self.cond[:, HLD] | self.cond[:, DM]) & (rng.random(n) < 0.85)
        which = choice(rng, [s[1] for s in _STATINS], n)
        for j, (ndc, _p, cost, units) in enumerate(_STATINS):
            add(statin & (which == j), ndc, cost, units, 0.25)
        for ndc, grp, share, cost, units, s90 in _DRUGS:
            if isinstance(grp, int):
                base = self.cond[:, grp]
            elif grp == "all":
                base = np.ones(n, bool)
            elif grp == "male":
                base = ~self.female
            elif grp == "female":
                base = self.female & (self.age >= 60)
            elif grp == "old":
                base = self.age >= 80
            else:
                base = rng.random(n) < 0.004
            add(base & (rng.random(n) < share), ndc, cost, units, s90, _SPECIALIST_RX.get(ndc))
        mi = np.concatenate(pm)
        ndc = np.concatenate(pndc)
        cost = np.concatenate(pcost)
        cost = np.where(cost < 5000, cost * RX_SCALE, cost)  # specialty drugs are priced as listed
        units = np.concatenate(punits)
        ds = np.where(rng.random(len(mi)) < np.concatenate(p90), 90, 30)
        spec = np.concatenate(pspec)
        return dict(mi=mi, ndc=ndc, cost=cost, units=units, ds=ds, spec=spec)

    def _chronic_fills(self, th: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fill dates of each therapy: (therapy index, fill day) of the fills inside enrollment, and each
        therapy's first fill day."""
        rng, w = self.rng, self.w
        M = w.months
        mi, ds = th["mi"], th["ds"]
        P = len(mi)
        adherent = rng.random(P) < 0.70
        # First fill: ongoing therapy began before the window (PRE_DAYS of fills are simulated and
        # dropped, so the window opens mid-cycle rather than with everyone filling at once); new
        # starts (and new enrollees) begin inside it.
        new_start = (rng.random(P) < NEW_START_SHARE) | self.is_new[mi]
        enroll_first = w.start[self.start_m[mi]]
        first = np.where(
            new_start,
            enroll_first + (rng.random(P) * (self.last_day[mi] - enroll_first + 1)).astype(np.int64),
            enroll_first - PRE_DAYS + (rng.random(P) * ds).astype(np.int64),
        )
        # Steady state: therapies stop at the rate new ones start (NEW_START_SHARE over the window),
        # so the number on therapy, pharmacy PMPM and adherence do not drift. The rate is the same
        # for adherent and non-adherent users: a higher one for the non-adherent would thin them
        # out month by month and read as an adherence "improvement" with no change in care.
        stop_p = np.clip(NEW_START_SHARE / M * ds / 30.4, 1e-6, 1.0)
        stop_after = rng.geometric(stop_p)
        rows_d, rows_pair = [], []
        for d in (30, 90):
            sel = np.flatnonzero(ds == d)
            K = int(np.ceil((M * 31 + PRE_DAYS) / d)) + 2
            delay = np.where(
                adherent[sel, None],
                np.clip(np.round(rng.normal(-1.0, 3.0, (len(sel), K))), -6, 12),
                np.round(rng.exponential(0.35 * d, (len(sel), K))),
            )
            gaps = d + delay
            gaps[:, 0] = 0
            dates = first[sel, None] + np.cumsum(gaps, axis=1).astype(np.int64)
            k = np.arange(K)[None, :]
            ok = (k < stop_after[sel, None]) & (dates <= self.last_day[mi[sel], None])
            r_, c_ = np.nonzero(ok)
            rows_pair.append(sel[r_])
            rows_d.append(dates[r_, c_])
        pair = np.concatenate(rows_pair)
        day = np.concatenate(rows_d)
        pmi = mi[pair]
        ok = self.valid(pmi, day)
        pair, day, pmi = pair[ok], day[ok], pmi[ok]
        return pair, day, first

    def _pharmacy_table(
        self, th: dict[str, np.ndarray], pair: np.ndarray, day: np.ndarray, first: np.ndarray
    ) -> pa.Table:
        """Chronic fills with acute ones, priced, with prescribers and paid dates."""
        rng, V, w, R = self.rng, self.V, self.w, self.R
        mi, ndc, cost, units, ds, spec = (th[k] for k in ("mi", "ndc", "cost", "units", "ds", "spec"))
        P = len(mi)
        user = self.rx_user
        pmi = mi[pair]
        # Acute fills.
        ami, aday = self.events(4.0 * user * self.r_pow(0.3))
        ak = rng.integers(0, len(_ACUTE_RX), len(ami))
        # Prescriber: the member's PCP at the first fill, sometimes the relevant specialist.
        pcp_first = self.pcp_at(mi, np.clip(first, w.first_day, w.last_day))
        pres = np.where(pcp_first < 0, self.fallback_pcp[mi], pcp_first)
        for s in np.unique(spec[spec >= 0]):
            sel = np.flatnonzero((spec == s) & (rng.random(P) < 0.35))
            docs = R.spec[SPEC_NAMES[s]]
            pres[sel] = docs[self.gid[mi[sel]] % len(docs)]
        apres = self.pcp_at(ami, aday)
        apres = np.where(apres < 0, self.fallback_pcp[ami], apres)

        f_mi = np.r_[pmi, ami]
        f_day = np.r_[day, aday]
        f_ndc = np.r_[ndc[pair], self.codes([a[0] for a in _ACUTE_RX])[ak]]
        f_ds = np.r_[ds[pair], np.array([a[2] for a in _ACUTE_RX])[ak]]
        f_qty = np.r_[np.round(units[pair] * ds[pair], 1), np.array([a[3] for a in _ACUTE_RX])[ak]]
        base = np.r_[
            cost[pair] * ds[pair] / 30 * np.where(ds[pair] == 90, 0.95, 1.0),
            np.array([a[1] for a in _ACUTE_RX])[ak],
        ]
        f_paid = np.round(base * rng.uniform(0.97, 1.03, len(base)), 2)
        brand = base >= 100
        f_allowed = np.round(np.where(brand, f_paid * 1.25, f_paid + rng.integers(1, 11, len(base))), 2)
        f_pres = np.r_[pres[pair], apres]
        f_paid_day = f_day + np.minimum(rng.geometric(0.22, len(f_day)) - 1, 20)
        keep = f_paid_day <= w.last_day
        o = np.flatnonzero(keep)
        o = o[np.lexsort((f_day[o], f_mi[o]))]
        c = len(o)
        ids = id_column(f"RX{self.index:04d}", np.arange(1, c + 1), 9)
        cols = {
            "claim_id": ids,
            "claim_line_number": pa.array(np.ones(c, np.int64)),
            "person_id": self.person_ids.take(pa.array(f_mi[o])),
            "member_id": self.member_ids.take(pa.array(f_mi[o])),
            "payer": pa.array(np.full(c, PAYER)) if c else pa.array([], pa.string()),
            "plan": pa.array(np.full(c, PLAN)) if c else pa.array([], pa.string()),
            "prescribing_provider_npi": V.strings(R.npi[f_pres[o]]),
            "dispensing_date": date_column(f_day[o]),
            "ndc_code": V.strings(f_ndc[o]),
            "quantity": pa.array(f_qty[o].astype(float)),
            "days_supply": pa.array(f_ds[o].astype(np.int64)),
            "paid_date": date_column(f_paid_day[o]),
            "paid_amount": pa.array(f_paid[o]),
            "allowed_amount": pa.array(f_allowed[o]),
        }
        return pa.Table.from_pydict(cols, schema=table_schema("pharmacy_claim"))
