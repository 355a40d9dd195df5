"""One chunk of members: every domain's generator combined, run in the order they draw."""

from __future__ import annotations

import pyarrow as pa

from vbc.demo.base import Shared
from vbc.demo.claimant import Claimant
from vbc.demo.dme import Dme
from vbc.demo.eligibility import Enrollment
from vbc.demo.emergency import Emergency
from vbc.demo.inpatient import Inpatient
from vbc.demo.labs import Labs
from vbc.demo.medical_claims import MedicalClaims
from vbc.demo.outpatient import Outpatient
from vbc.demo.pharmacy import Pharmacy
from vbc.demo.post_acute import PostAcute
from vbc.demo.professional import Professional
from vbc.demo.screening import Screening


class Chunk(
    Enrollment,
    Professional,
    Emergency,
    Inpatient,
    PostAcute,
    Claimant,
    Outpatient,
    Labs,
    Screening,
    Dme,
    Pharmacy,
    MedicalClaims,
):
    """Members `lo`..`lo + n - 1` and their claims, from one random stream seeded with (seed, index).

    Every generator draws from that one stream, so the order of the calls below is part of the data:
    a new generator goes after the existing ones (or the data of everything after it changes).
    """

    def __init__(self, g: Shared, index: int, lo: int, n: int) -> None:
        super().__init__(g, index, lo, n)
        self._people()
        self._pick_claimant()

    def run(self) -> dict[str, pa.Table]:
        self.person_ids = pa.array([f"P{g + 1:07d}" for g in self.gid], pa.string())
        self.member_ids = pa.array([f"M{g + 1:07d}" for g in self.gid], pa.string())
        self.gen_pcp()
        self.gen_awv()
        self.gen_specialists()
        self.gen_ed()
        self.gen_post_acute(self.gen_inpatient())
        self.gen_claimant_extras()
        self.gen_outpatient()
        self.gen_office_extras()
        self.gen_labs()
        self.gen_screening()
        self.gen_dme()
        self.gen_eye_and_cervical()
        return {
            "medical_claim": self._medical(),
            "pharmacy_claim": self.gen_pharmacy(),
            "eligibility": self._eligibility(),
            "lab_result": self._lab_result(),
            "observation": self._observation(),
        }
