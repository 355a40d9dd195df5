"""Member traits drawn the same way in every chunk: age, sex, chronic conditions (clustered through a
shared frailty), dual status and a cost multiplier, normalised against one fixed reference population."""

from __future__ import annotations

from functools import lru_cache
from statistics import NormalDist

import numpy as np

# Chronic conditions: (name, prevalence, ICD-10-CM code).
CONDITIONS = (
    ("hypertension", 0.60, "I10"),
    ("diabetes", 0.27, "E119"),
    ("hyperlipidemia", 0.45, "E785"),
    ("heart_failure", 0.14, "I509"),
    ("copd", 0.11, "J449"),
    ("ckd", 0.15, "N183"),
    ("depression", 0.15, "F329"),
    ("atrial_fibrillation", 0.09, "I4891"),
)
HTN, DM, HLD, HF, COPD, CKD, DEP, AF = range(len(CONDITIONS))
_THRESH = np.array([NormalDist().inv_cdf(1 - p) for _, p, _ in CONDITIONS])
# Order in which a member's chronic codes fill diagnosis_code_2.. (sickest first).
DX_ORDER = (HF, COPD, CKD, DM, AF, DEP, HTN, HLD)


def traits(rng: np.random.Generator, n: int) -> dict:
    """Age at the start of the data (about 10% under 65 with a disability), sex, chronic conditions
    (a shared frailty makes them cluster), dual status and a cost multiplier r (lognormal-like)."""
    disabled = rng.random(n) < 0.10
    age = np.where(disabled, rng.uniform(45, 63, n), 65 + np.minimum(rng.exponential(10.5, n), 30.5))
    frail = rng.standard_normal(n)
    lat = 0.55 * frail[:, None] + 0.835 * rng.standard_normal((n, len(CONDITIONS)))
    cond = lat > _THRESH
    female = rng.random(n) < np.where(disabled, 0.47, 0.56)
    dual = rng.random(n) < np.where(disabled, 0.45, 0.11)
    ncond = cond.sum(1)
    logr = (
        0.20 * ncond
        + 0.30 * cond[:, HF]
        + 0.25 * cond[:, CKD]
        + 0.20 * cond[:, COPD]
        + 0.20 * dual
        + 0.012 * (age - 75)
        + 0.35 * frail
        + 0.60 * rng.standard_normal(n)
    )
    return dict(age=age, disabled=disabled, cond=cond, female=female, dual=dual, r=np.exp(logr), frail=frail)


@lru_cache(maxsize=1)
def reference_population() -> tuple[float, np.ndarray, float]:
    """A fixed reference population so rate multipliers are normalised the same way in every chunk."""
    t = traits(np.random.default_rng(20_240_607), 100_000)
    scale = float(t["r"].mean())
    r = t["r"] / scale
    hz = np.exp(0.075 * (t["age"] - 78)) * r**0.4
    return scale, r, float(hz.mean())


@lru_cache(maxsize=64)
def pow_mean(a: float) -> float:
    return float(np.mean(reference_population()[1] ** a))
