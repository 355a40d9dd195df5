"""Hospital outpatient claims (bill type 131, no ED line): advanced imaging and x-rays with the
radiologist's read, hospital lab and clinic visits, outpatient surgery with the surgeon's claim,
therapy, echocardiograms, chemotherapy and other infusions."""

from __future__ import annotations

import numpy as np

from vbc.demo.base import LAG_INST, ChunkBase, choice
from vbc.demo.columns import one_line, slot_lines
from vbc.demo.population import CKD, HF

# Outpatient hospital services: (hcpcs, revenue, paid, dx1 choices, professional (specialty, paid)).
_IMAGING = (
    ("70450", "0350", 0.25, 135.0, ("R519", "R42"), 42.0),
    ("71250", "0350", 0.20, 165.0, ("R918", "R0602"), 55.0),
    ("74177", "0350", 0.25, 285.0, ("R109", "K5730"), 78.0),
    ("72148", "0610", 0.15, 245.0, ("M5450", "M4806"), 75.0),
    ("70553", "0610", 0.15, 350.0, ("R42", "G459"), 90.0),
)
_XRAY = (
    ("71046", ("R0602", "R051")),
    ("73562", ("M25561", "M1711")),
    ("72100", ("M5450",)),
    ("73030", ("M25511",)),
)
_OP_SURGERY = (
    ("66984", 0.33, 1250.0, "H2513", "ophthalmology", 520.0),
    ("29881", 0.10, 2500.0, "M1711", "orthopedic surgery", 480.0),
    ("47562", 0.08, 4000.0, "K802", "general surgery", 600.0),
    ("64483", 0.20, 700.0, "M4806", "orthopedic surgery", 190.0),
    ("43239", 0.17, 760.0, "K219", "gastroenterology", 150.0),
    ("92928", 0.05, 10500.0, "I2510", "cardiology", 620.0),
    ("27447", 0.07, 12500.0, "M1711", "orthopedic surgery", 1100.0),
)


class Outpatient(ChunkBase):
    def gen_outpatient(self) -> None:
        """Outpatient hospital services other than the ED and screening colonoscopies."""
        self._imaging()
        self._xrays()
        self._hospital_lab_and_clinic()
        self._outpatient_surgery()
        self._therapy_and_echo()
        self._chemotherapy()
        self._infusions()

    def _imaging(self) -> None:
        """Advanced imaging."""
        rng, R = self.rng, self.R
        radiologists = R.spec["radiology"]
        mi, day = self.events(0.20 * self.r_pow(0.6))
        c = len(mi)
        k = choice(rng, [x[2] for x in _IMAGING], c)
        hc = self.codes([x[0] for x in _IMAGING])[k]
        rev = self.codes([x[1] for x in _IMAGING])[k]
        paid = np.array([x[3] for x in _IMAGING])[k] * rng.lognormal(0, 0.12, c)
        dx = np.array([self.V(x[4][0]) for x in _IMAGING])[k]
        dx = np.where(rng.random(c) < 0.5, np.array([self.V(x[4][-1]) for x in _IMAGING])[k], dx)
        hosp = self.hospital_for(mi)
        self.inst(
            mi, day, day, hosp, "131", one_line(c, rev=rev, hcpcs=hc, paid=paid), dx, lag=LAG_INST, allow=1.2
        )
        self.prof(
            mi,
            day,
            radiologists[rng.integers(0, 3, c)],
            "22",
            one_line(c, hcpcs=hc, paid=np.array([x[5] for x in _IMAGING])[k]),
            dx,
        )

    def _xrays(self) -> None:
        rng, V, R = self.rng, self.V, self.R
        radiologists = R.spec["radiology"]
        mi, day = self.events(0.35 * self.r_pow(0.5))
        c = len(mi)
        k = rng.integers(0, len(_XRAY), c)
        hc = self.codes([x[0] for x in _XRAY])[k]
        dx = np.array([self.V(x[1][0]) for x in _XRAY])[k]
        hosp = self.hospital_for(mi)
        self.inst(
            mi,
            day,
            day,
            hosp,
            "131",
            one_line(c, rev=V("0320"), hcpcs=hc, paid=48.0 * rng.lognormal(0, 0.1, c)),
            dx,
            lag=LAG_INST,
            allow=1.2,
        )
        self.prof(mi, day, radiologists[rng.integers(0, 3, c)], "22", one_line(c, hcpcs=hc, paid=10.0), dx)

    def _hospital_lab_and_clinic(self) -> None:
        rng, V = self.rng, self.V
        mi, day = self.events(0.40 * self.r_pow(0.4))
        c = len(mi)
        lines = slot_lines(
            np.ones((c, 2), bool),
            rev=V("0300"),
            hcpcs=self.codes(["80053", "85025"])[None, :],
            paid=np.array([[14.0, 9.0]]),
        )
        self.inst(
            mi, day, day, self.hospital_for(mi), "131", lines, self.visit_dx(mi, 0.7), lag=LAG_INST, allow=1.0
        )
        mi, day = self.events(0.50 * self.r_pow(0.5))
        c = len(mi)
        self.inst(
            mi,
            day,
            day,
            self.hospital_for(mi),
            "131",
            one_line(c, rev=V("0510"), hcpcs=V("G0463"), paid=120.0 * rng.lognormal(0, 0.1, c)),
            self.visit_dx(mi, 0.7),
            lag=LAG_INST,
            allow=1.2,
        )

    def _outpatient_surgery(self) -> None:
        """Outpatient surgery with the surgeon's claim."""
        rng, R = self.rng, self.R
        mi, day = self.events(0.24 * self.r_pow(0.5))
        c = len(mi)
        k = choice(rng, [x[1] for x in _OP_SURGERY], c)
        hc = self.codes([x[0] for x in _OP_SURGERY])[k]
        total = np.array([x[2] for x in _OP_SURGERY])[k] * rng.lognormal(0, 0.2, c)
        dx = self.codes([x[3] for x in _OP_SURGERY])[k]
        present = np.column_stack(
            [np.ones(c, bool), rng.random(c) < 0.7, rng.random(c) < 0.6, np.ones(c, bool)]
        )
        share = np.array([0.75, 0.08, 0.05, 0.12])[None, :] * present
        lines = slot_lines(
            present,
            rev=self.codes(["0360", "0250", "0370", "0710"])[None, :],
            hcpcs=np.column_stack([hc, np.full((c, 3), -1)]),
            paid=total[:, None] * share / share.sum(1, keepdims=True),
        )
        hosp = self.hospital_for(mi)
        self.inst(mi, day, day, hosp, "131", lines, dx, lag=LAG_INST, allow=1.2)
        prov = np.zeros(c, np.int64)
        for j, x in enumerate(_OP_SURGERY):
            sel = np.flatnonzero(k == j)
            docs = R.spec[x[4]]
            prov[sel] = docs[self.gid[mi[sel]] % len(docs)]
        self.prof(
            mi, day, prov, "22", one_line(c, hcpcs=hc, paid=np.array([x[5] for x in _OP_SURGERY])[k]), dx
        )

    def _therapy_and_echo(self) -> None:
        """Therapy and echocardiograms."""
        rng, V = self.rng, self.V
        mi, day = self.events(0.15 * self.r_pow(0.5))
        c = len(mi)
        lines = slot_lines(
            np.ones((c, 3), bool),
            rev=V("0420"),
            hcpcs=self.codes(["97110", "97110", "97140"])[None, :],
            paid=np.array([[29.0, 29.0, 26.0]]),
        )
        self.inst(
            mi,
            day,
            day,
            self.hospital_for(mi),
            "131",
            lines,
            self.codes(["M5450"])[0],
            lag=LAG_INST,
            allow=1.2,
        )
        mi, day = self.events(0.08 * self.r_pow(0.8) * (1 + 2 * self.cond[:, HF]))
        c = len(mi)
        self.inst(
            mi,
            day,
            day,
            self.hospital_for(mi),
            "131",
            one_line(c, rev=V("0483"), hcpcs=V("93306"), paid=440.0 * rng.lognormal(0, 0.1, c)),
            np.where(self.cond[mi, HF], V("I509"), V("R0602")),
            lag=LAG_INST,
            allow=1.2,
        )

    def _chemotherapy(self) -> None:
        """Chemotherapy infusions for members with active cancer: monthly during a 4-8 month course."""
        rng, R = self.rng, self.R
        idx = np.flatnonzero(self.onc)
        if len(idx):
            M = self.w.months
            s0 = rng.integers(-4, M, len(idx))
            ln = rng.integers(4, 9, len(idx))
            m = np.arange(M)[None, :]
            on = (m >= s0[:, None]) & (m < (s0 + ln)[:, None]) & (rng.random((len(idx), M)) < 0.9)
            on &= self.vdays[idx] > 0
            r_, mo = np.nonzero(on)
            mi = idx[r_]
            day = self.w.start[mo] + (rng.random(len(mi)) * self.vdays[mi, mo]).astype(np.int64)
            office = (self.gid[mi] % 2) == 0  # the same setting for a member's whole course
            hosp_, off_ = np.flatnonzero(~office), np.flatnonzero(office)
            c = len(hosp_)
            lines = slot_lines(
                np.column_stack([np.ones((c, 2), bool), rng.random(c) < 0.7]),
                rev=self.codes(["0636", "0335", "0300"])[None, :],
                hcpcs=self.codes(["J9271", "96413", "85025"])[None, :],
                paid=np.column_stack(
                    [9400.0 * rng.lognormal(0, 0.1, c), np.full(c, 285.0), np.full(c, 12.0)]
                ),
            )
            self.inst(
                mi[hosp_],
                day[hosp_],
                day[hosp_],
                self.hospital_for(mi[hosp_]),
                "131",
                lines,
                self.onc_code[mi[hosp_]],
                lag=LAG_INST,
                allow=1.2,
                kchron=6,
            )
            c = len(off_)
            onc_docs = R.spec["hematology oncology"]
            lines = slot_lines(
                np.column_stack([np.ones((c, 2), bool), rng.random(c) < 0.5, rng.random(c) < 0.4]),
                hcpcs=self.codes(["J9271", "96413", "99214", "J2506"])[None, :],
                paid=np.column_stack(
                    [
                        9100.0 * rng.lognormal(0, 0.1, c),
                        np.full(c, 120.0),
                        np.full(c, 103.0),
                        np.full(c, 3300.0),
                    ]
                ),
            )
            self.prof(
                mi[off_],
                day[off_],
                onc_docs[self.gid[mi[off_]] % len(onc_docs)],
                "11",
                lines,
                self.onc_code[mi[off_]],
                kchron=6,
            )

    def _infusions(self) -> None:
        """Other hospital infusions: infliximab every eight weeks, IV iron for CKD."""
        rng, V = self.rng, self.V
        for flag, rate, drug, amt, dx in (
            (rng.random(self.n) < 0.003, 6.5, "J1745", 3600.0, "K5090"),
            (self.cond[:, CKD] & (rng.random(self.n) < 0.05), 3.0, "J1439", 980.0, "D631"),
        ):
            mi, day = self.events(rate * flag)
            c = len(mi)
            lines = slot_lines(
                np.ones((c, 2), bool),
                rev=self.codes(["0636", "0260"])[None, :],
                hcpcs=self.codes([drug, "96365"])[None, :],
                paid=np.column_stack([amt * rng.lognormal(0, 0.08, c), np.full(c, 150.0)]),
            )
            self.inst(
                mi,
                day,
                day,
                self.hospital_for(mi),
                "131",
                lines,
                np.full(c, V(dx)),
                lag=LAG_INST,
                allow=1.2,
                kchron=6,
            )
