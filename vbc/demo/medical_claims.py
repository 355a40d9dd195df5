"""Assembling the queued claim headers and lines into the medical_claim table: paid dates (lagged by
claim kind), claims outside enrollment dropped, claim and line numbers, diagnosis codes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vbc.demo.base import INST, LAG_INST, LAG_IP, LAG_PROF, LAG_STORY, PROF, ChunkBase
from vbc.demo.columns import NO_DATE, PAYER, PLAN, date_column, id_column, table_schema


class MedicalClaims(ChunkBase):
    def _medical(self) -> pa.Table:
        offs = np.cumsum([0] + [len(h["member"]) for h in self.heads])
        H = {k: np.concatenate([h[k] for h in self.heads]) for k in self.heads[0]}
        L = {
            k: np.concatenate([ln[k] + (offs[i] if k == "claim" else 0) for i, ln in enumerate(self.lines)])
            for k in self.lines[0]
        }
        split = int(offs[self.own_stream_from]) if self.own_stream_from is not None else len(H["lag"])
        lag = self._paid_lag(H["lag"][:split], self.rng)
        if split < len(H["lag"]):
            lag = np.concatenate([lag, self._paid_lag(H["lag"][split:], self.own_rng)])
        paid_day = H["end"] + lag
        keep = self._billable(H, L, paid_day)
        # Kept claims renumbered from 0, each claim's lines together in the order they were queued.
        new_id = np.cumsum(keep) - 1
        lk = keep[L["claim"]]
        L = {k: v[lk] for k, v in L.items()}
        H = {k: v[keep] for k, v in H.items()}
        paid_day = paid_day[keep]
        cl = L["claim"]
        cl = new_id[cl]
        order = np.argsort(cl, kind="stable")
        L = {k: v[order] for k, v in L.items()}
        cl = cl[order]
        return self._medical_table(H, L, cl, paid_day)

    def _paid_lag(self, kind: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Days from service to payment: professional 2-6 weeks, institutional longer, with a tail of
        months."""
        C = len(kind)
        lag = np.empty(C, np.int64)
        sel = kind == LAG_PROF
        lag[sel] = 12 + np.round(rng.gamma(2.2, 7.0, int(sel.sum())))
        sel = kind == LAG_IP
        lag[sel] = np.round(8 + rng.lognormal(np.log(36), 0.5, int(sel.sum())))
        sel = kind == LAG_INST
        lag[sel] = np.round(10 + rng.lognormal(np.log(24), 0.55, int(sel.sum())))
        tail = (
            (kind != LAG_PROF) & (kind != LAG_STORY) & (rng.random(C) < np.where(kind == LAG_IP, 0.05, 0.02))
        )
        lag[tail] = rng.integers(120, 275, int(tail.sum()))
        ptail = (kind == LAG_PROF) & (rng.random(C) < 0.03)
        lag[ptail] = rng.integers(46, 150, int(ptail.sum()))
        sel = kind == LAG_STORY
        lag[sel] = rng.integers(30, 61, int(sel.sum()))
        return lag

    def _billable(self, H: dict, L: dict, paid_day: np.ndarray) -> np.ndarray:
        """Claims paid and served inside the window, every service day enrolled, and not replaced by
        the claimant story."""
        w = self.w
        C = len(H["member"])
        keep = (paid_day <= w.last_day) & (H["end"] <= w.last_day) & (H["start"] >= w.first_day)
        # Every service day must fall while the member is enrolled and alive (a long stay must not
        # run into an enrollment gap).
        mid = (H["start"] + H["end"]) // 2
        keep &= (
            self.valid(H["member"], H["start"])
            & self.valid(H["member"], H["end"])
            & self.valid(H["member"], mid)
        )
        lm = H["member"][L["claim"]]
        ls = np.where(L["lstart"] != NO_DATE, L["lstart"], H["start"][L["claim"]])
        le = np.where(L["lend"] != NO_DATE, L["lend"], H["end"][L["claim"]])
        bad_line = ~(self.valid(lm, ls) & self.valid(lm, le))
        keep &= np.bincount(L["claim"][bad_line], minlength=C) == 0
        keep &= ~self._replaced_by_story(H)
        return keep

    def _medical_table(self, H: dict, L: dict, cl: np.ndarray, paid_day: np.ndarray) -> pa.Table:
        """Columns of the kept claims; `cl` is each line's claim index, lines grouped by claim."""
        V = self.V
        n_lines = len(cl)
        starts = np.r_[0, np.flatnonzero(np.diff(cl)) + 1]
        counts = np.diff(np.r_[starts, n_lines])
        line_no = np.arange(n_lines) - np.repeat(starts, counts) + 1
        C = len(H["member"])
        # Diagnosis codes: dx1 then the member's chronic codes (minus dx1) up to the claim's limit.
        ch = self.chron[H["member"]].copy()
        ch[ch == H["dx1"][:, None]] = -1
        ch = np.take_along_axis(ch, np.argsort(ch < 0, axis=1, kind="stable"), 1)
        ch[np.arange(ch.shape[1])[None, :] >= H["kchron"][:, None]] = -1
        ids = id_column(f"MC{self.index:04d}", np.arange(1, C + 1), 9)
        paid = np.round(L["paid"], 2)
        allowed = np.round(paid * H["allow"][cl], 2)
        lstart = np.where(L["lstart"] != NO_DATE, L["lstart"], H["start"][cl])
        lend = np.where(L["lend"] != NO_DATE, L["lend"], H["end"][cl])
        m = H["member"][cl]
        null_s = pa.nulls(n_lines, pa.string())
        cols = {
            "claim_id": ids.take(pa.array(cl)),
            "claim_line_number": pa.array(line_no.astype(np.int64)),
            "claim_type": pa.array(np.where(H["ctype"][cl] == INST, "institutional", "professional")),
            "person_id": self.person_ids.take(pa.array(m)),
            "member_id": self.member_ids.take(pa.array(m)),
            "payer": pa.array(np.full(n_lines, PAYER)),
            "plan": pa.array(np.full(n_lines, PLAN)),
            "claim_start_date": date_column(H["start"][cl]),
            "claim_end_date": date_column(H["end"][cl]),
            "claim_line_start_date": date_column(lstart),
            "claim_line_end_date": date_column(lend),
            "admission_date": date_column(H["adm"][cl]),
            "discharge_date": date_column(H["dis"][cl]),
            "discharge_disposition_code": V.strings(H["disp"][cl]),
            "paid_date": date_column(paid_day[cl]),
            "bill_type_code": V.strings(H["bill"][cl]),
            "drg_code": V.strings(H["drg"][cl]),
            "revenue_center_code": V.strings(L["rev"]),
            "place_of_service_code": V.strings(H["pos"][cl]),
            "hcpcs_code": V.strings(L["hcpcs"]),
            "rendering_npi": V.strings(np.where(H["ctype"][cl] == PROF, H["rend"][cl], -1)),
            "billing_npi": V.strings(H["bnpi"][cl]),
            "billing_tin": V.strings(H["btin"][cl]),
            "facility_npi": V.strings(H["fnpi"][cl]),
            "paid_amount": pa.array(paid),
            "allowed_amount": pa.array(allowed),
            "diagnosis_code_1": V.strings(H["dx1"][cl]),
        }
        for i in range(2, 26):
            j = i - 2
            cols[f"diagnosis_code_{i}"] = V.strings(ch[cl, j]) if j < ch.shape[1] else null_s
        cols["procedure_code_1"] = V.strings(H["proc1"][cl])
        for i in range(2, 26):
            cols[f"procedure_code_{i}"] = null_s
        self.claimant_paid = self._story_paid(m, H["story"][cl], paid)
        return pa.Table.from_pydict(cols, schema=table_schema("medical_claim"))
