"""Seeded, deterministic Medicare-like demo data in the data contract's layout.

`generate(out_dir, members, months, seed, end_month)` writes eligibility, provider, lab_result and
observation as single Parquet files and medical_claim/ and pharmacy_claim/ as folders of part files
(one per chunk of members, so memory stays bounded at any size), plus `_demo.json`, whose presence
tells the app the data is demo data. Output depends only on the arguments: the clock is never read,
every random draw comes from numpy generators seeded with (seed, chunk number). No
provider_attribution table is written: attribution is computed from claims.

Where things are generated (each domain is a mixin of chunk.Chunk; chunk.Chunk.run fixes the order
in which they draw from the chunk's random stream):

- extract: `generate`, writing the files and the summary; chunk: the combined chunk and its order.
- base: the chunk's primitives (events, `emit`/`prof`/`inst`); columns, window: Arrow columns and
  the calendar; roster: providers and facilities; population: member traits and conditions.
- eligibility: members, enrollment spans, home PCP and facilities; the eligibility table.
- professional: PCP visits and blood pressure readings, wellness visits, specialists, office extras;
  the observation table. emergency: ED visits. inpatient: acute stays and the claims around them.
  post_acute: SNF, home health, hospice. outpatient: hospital outpatient services. labs: lab claims
  and the lab_result table. screening: colorectal and breast cancer screening. dme: equipment.
  pharmacy: the pharmacy_claim table. medical_claims: the medical_claim table.

Stories planted in the data (the summary records where they are):

- Quality improvement (professional.py): from `qi_start_month` on, Lakeside's hypertensive members'
  office blood pressure readings are controlled more often (QI_BEFORE -> QI_AFTER; other
  organizations BP_OTHER_HTN), by the organization of the PCP who took the reading.
- Winter ED (emergency.py): ED visits and admissions through the ED run WINTER_UPLIFT higher in
  winter than in summer.
- High-cost claimant (claimant.py): one Lakeside member of the first chunk has four very expensive
  stays in consecutive months, with oncology care around them.

A new story is a module with a mixin (its generator, called from chunk.Chunk.run after the existing
ones) and a function for its entry in the summary's "stories" (extract._summary).

Coding conventions the engine can rely on (codes carry no dots):

- Eligibility: one row per span (two for the ~1% with a gap). Members present at the start have
  enrollment_start_date = the first day of the data; spans end on a month end (the month of death
  for decedents); the paid-through date is the last day of `end_month`.
- Acute inpatient: institutional, bill_type_code '111', admission/discharge dates = claim dates,
  drg_code, discharge_disposition_code ('01' home, '02' transfer to another hospital, '03' SNF,
  '06' home health, '20' expired); several revenue lines (0120, 0200, 0250, 0270, 0300, 0320, 0360,
  0420, 0450 when admitted through the ED, 0730). A transfer's second claim is admitted on the
  first claim's discharge date at another hospital. Planned readmissions: DRG 470 or
  diagnosis_code_1 'Z5111' (DRG 846). Hospitalists bill POS 21 lines on the stay's days.
- Emergency department: outpatient institutional bill type '131' with a revenue 0450/0459 line, plus
  a professional claim at place of service '23' with 99283-99285 on the same day. An ED visit that
  leads to an admission has no outpatient ED claim: the inpatient claim carries an 0450 line and the
  ED professional claim falls on the admission date.
- Other hospital outpatient (bill type '131', no ED line): advanced imaging is a line with revenue
  0350 (CT) or 0610 (MRI) and HCPCS 70450/71250/74177 (CT) or 72148/70553 (MRI), read by a
  radiologist at POS 22 with the same HCPCS (count studies on the institutional line); 0320 x-ray,
  0300 lab, 0510 clinic, 0360 surgery, 0420 therapy, 0483 echo, 0750 GI (colonoscopy), 0636 drugs.
- SNF: bill type '211' (one claim per stay). Home health: '321', one claim per 30-day period.
  Hospice: '811', one claim per calendar month, only in the last months of life.
- Professional (claim_type 'professional'; rendering = billing NPI = the clinician, billing_tin =
  the clinician's roster TIN): POS 11 office (E&M 99202-99215 by PCPs and specialists, AWV
  G0438/G0439, CCM 99490 and flu shots by PCPs), 02 telehealth, 21 inpatient (hospitalists,
  consultants, surgeons, anesthesia), 22 outpatient hospital (radiology reads, mammography,
  colonoscopy, outpatient surgeons), 23 ED, 31 SNF (99307-99310), 12 home with DME HCPCS beginning
  E/K/L (billed by a 'dme supplier'), 81 independent lab (80053, 85025, 83036 HbA1c, FIT 82274/G0328,
  FIT-DNA 81528).
- Roster: PCP specialties 'internal medicine', 'family practice', 'geriatric medicine',
  'nurse practitioner'; facilities have organization null and specialty 'acute care hospital',
  'skilled nursing facility', 'home health agency', 'hospice', 'laboratory' or 'dme supplier'.
- Quality: lab_result holds HbA1c (LOINC 4548-4, '%'); observation holds blood pressure as two rows
  per reading (8480-6 systolic, 8462-4 diastolic, 'mm[Hg]') on PCP office-visit dates.
"""

from vbc.demo.extract import CHUNK_MEMBERS, SUMMARY_FILE, generate
from vbc.demo.pharmacy import STATIN_NDCS
from vbc.demo.roster import ORGANIZATIONS

__all__ = ["CHUNK_MEMBERS", "ORGANIZATIONS", "STATIN_NDCS", "SUMMARY_FILE", "generate"]
