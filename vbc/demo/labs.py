"""Independent-lab claims (POS 81): routine panels and HbA1c for diabetics, with the HbA1c results in
the lab_result table."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vbc.demo.base import ChunkBase, choice
from vbc.demo.columns import date_column, slot_lines, table_schema
from vbc.demo.population import DM


class Labs(ChunkBase):
    def lab_claims(
        self,
        mi,
        day,
        first_code: np.ndarray | int,
        first_paid: float,
        dx1,
        extra_p: tuple,
        allow: float = 1.0,
    ) -> None:
        rng = self.rng
        c = len(mi)
        opts = (("80053", 11.0), ("85025", 8.0), ("80061", 13.0), ("84443", 17.0), ("36415", 3.0))
        present = np.column_stack(
            [np.ones(c, bool)]
            + [rng.random(c) < p for p in extra_p]
            + [np.zeros(c, bool)] * (len(opts) - len(extra_p))
        )
        hc = np.column_stack(
            [
                np.broadcast_to(np.asarray(first_code, np.int32), (c,)),
                np.broadcast_to(self.codes([o[0] for o in opts]), (c, len(opts))),
            ]
        )
        paid = np.column_stack(
            [np.full(c, first_paid), np.broadcast_to([o[1] for o in opts], (c, len(opts)))]
        )
        lab = self.home_lab[mi]
        self.prof(mi, day, lab, "81", slot_lines(present, hcpcs=hc, paid=paid), dx1, kchron=2, allow=allow)

    def gen_labs(self) -> None:
        rng, V, w = self.rng, self.V, self.w
        # Routine panels.
        mi, day = self.events(2.4 * self.r_pow(0.4))
        self.lab_claims(mi, day, V("80053"), 11.0, self.visit_dx(mi, 0.6), (0.6, 0.45, 0.25, 0.5))
        # HbA1c for diabetics: 1-3 a year, with the result in lab_result.
        dm = np.flatnonzero(self.cond[:, DM])
        mu = 7.75 + 1.2 * rng.standard_normal(len(dm)) + 0.3 * rng.exponential(1.0, len(dm)) - 0.3
        latent = np.zeros(self.n)
        latent[dm] = mu
        for y in np.unique(w.year):
            cnt = choice(rng, [0.08, 0.27, 0.37, 0.28], len(dm))
            mo = rng.integers(1, 13, (len(dm), 3))
            sel = np.arange(3)[None, :] < cnt[:, None]
            r_, k = np.nonzero(sel)
            mi = dm[r_]
            wi = (int(y) - int(w.year[0])) * 12 + mo[r_, k] - int(w.moy[0])
            ok = (wi >= 0) & (wi < w.months)
            mi, wi = mi[ok], wi[ok]
            ok = self.vdays[mi, wi] > 0
            mi, wi = mi[ok], wi[ok]
            day = w.start[wi] + (rng.random(len(mi)) * self.vdays[mi, wi]).astype(np.int64)
            value = np.clip(np.round(latent[mi] + 0.45 * rng.standard_normal(len(mi)), 1), 4.8, 14.5)
            self.lab_claims(mi, day, V("83036"), 10.0, self.diab_code[mi], (0.5, 0.3))
            self.labs.append((mi, day, value))

    def _lab_result(self) -> pa.Table:
        mi = np.concatenate([x[0] for x in self.labs]) if self.labs else np.zeros(0, np.int64)
        day = np.concatenate([x[1] for x in self.labs]) if self.labs else np.zeros(0, np.int64)
        val = np.concatenate([x[2] for x in self.labs]) if self.labs else np.zeros(0)
        o = np.lexsort((day, mi))
        mi, day, val = mi[o], day[o], val[o]
        c = len(mi)
        tenths = np.round(val * 10).astype(np.int64)
        text = pc.binary_join_element_wise(
            pc.cast(pa.array(tenths // 10), pa.string()), pc.cast(pa.array(tenths % 10), pa.string()), "."
        )
        return pa.Table.from_pydict(
            {
                "person_id": self.person_ids.take(pa.array(mi)),
                "result_date": date_column(day),
                "normalized_code_type": pa.array(np.full(c, "loinc"), pa.string()),
                "normalized_code": pa.array(np.full(c, "4548-4"), pa.string()),
                "result": text,
                "result_units": pa.array(np.full(c, "%"), pa.string()),
            },
            schema=table_schema("lab_result"),
        )
