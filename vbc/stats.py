"""Intervals and statistical process control (SPC) for the dashboard.

Pure functions, no I/O. The array versions serve the metric engine (hundreds of groups at once);
the scalar versions call them so there is one implementation of each formula. Rules and test
vectors: REFERENCE.md, "Statistical process control" and "Intervals and small numbers"
(NHS England "Making Data Count", NHSRplotthedots).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as _st

Z95 = 1.959964

# XmR constants: 2.66 = 3 / 1.128 (d2 for n = 2); 1.7733 = 2 / 1.128; 3.267 = D4 for n = 2.
XMR_LIMIT = 2.66
XMR_NEAR = 1.7733
MR_SCREEN = 3.267
D2 = 1.128

# Fewer points than this and limits are "trial" (REFERENCE: 12-13 points).
TRIAL_POINTS = 12

RULES = ("outside", "shift", "trend", "two_of_three")

COMMON = "common-cause variation"
IMPROVEMENT = "special cause — improvement"
CONCERN = "special cause — concern"
NO_DATA = "no data"

DIRECTIONS = {"higher": 1, "lower": -1}


def _f(a: ArrayLike) -> np.ndarray:
    return np.asarray(a, dtype=float)


def _good_side(direction: str) -> int:
    try:
        return DIRECTIONS[direction]
    except KeyError:
        raise ValueError(f"direction must be 'higher' or 'lower', got {direction!r}") from None


# ---------------------------------------------------------------------------------------------
# Intervals
# ---------------------------------------------------------------------------------------------


def wilson_interval_array(x: ArrayLike, n: ArrayLike, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions x/n, elementwise; NaN where n <= 0."""
    x, n = np.broadcast_arrays(_f(x), _f(n))
    if np.any((x < 0) | (x > n)):
        # x > n or negative counts mean an upstream join/filter bug; do not hide it as NaN.
        raise ValueError("wilson_interval needs 0 <= x <= n")
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = n > 0
        nn = np.where(ok, n, np.nan)
        p = x / nn
        z2 = z * z
        denom = 1.0 + z2 / nn
        centre = (p + z2 / (2 * nn)) / denom
        half = z / denom * np.sqrt(np.maximum(p * (1 - p) / nn + z2 / (4 * nn * nn), 0.0))
        lo = np.clip(centre - half, 0.0, 1.0)
        hi = np.clip(centre + half, 0.0, 1.0)
    # At x = 0 or x = n the bound is exactly 0 or 1 in theory; rounding would leave 1e-17 residues.
    lo = np.where(ok & (x == 0), 0.0, lo)
    hi = np.where(ok & (x == n), 1.0, hi)
    return lo, hi


def wilson_interval(x: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for x/n; (nan, nan) when n == 0."""
    lo, hi = wilson_interval_array(x, n, z)
    return float(lo), float(hi)


def poisson_interval_array(
    k: ArrayLike, exposure: ArrayLike, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for rates k/exposure, elementwise; NaN where exposure <= 0."""
    k, e = np.broadcast_arrays(_f(k), _f(exposure))
    if np.any(k < 0):
        raise ValueError("poisson_interval needs k >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        ee = np.where(e > 0, e, np.nan)
        # chi2 with 0 degrees of freedom is undefined; the exact lower bound at k = 0 is 0.
        lo_q = np.where(k > 0, _st.chi2.ppf(alpha / 2, 2 * np.where(k > 0, k, 1.0)) / 2, 0.0)
        hi_q = _st.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
        return lo_q / ee, hi_q / ee


def poisson_interval(k: float, exposure: float, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Garwood) interval for the rate k/exposure; (nan, nan) when exposure == 0."""
    lo, hi = poisson_interval_array(k, exposure, alpha)
    return float(lo), float(hi)


def ratio_interval_array(
    total_y: ArrayLike,
    total_m: ArrayLike,
    n_clusters: ArrayLike,
    sum_y2: ArrayLike,
    sum_ym: ArrayLike,
    sum_m2: ArrayLike,
    z: float = Z95,
) -> tuple[np.ndarray, np.ndarray]:
    """Normal-approximation interval for R = Y/M clustered by person, elementwise.

    var(R) = n/(n-1) * sum_i (y_i - R m_i)^2 / M^2, with the residual sum expanded as
    sum y^2 - 2R sum ym + R^2 sum m^2 so the engine can aggregate in SQL. NaN when n <= 1 or M == 0.
    """
    y, m, n, yy, ym, mm = np.broadcast_arrays(
        _f(total_y), _f(total_m), _f(n_clusters), _f(sum_y2), _f(sum_ym), _f(sum_m2)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (n > 1) & (m != 0)
        mm_ = np.where(ok, m, np.nan)
        r = y / mm_
        # The expansion cancels catastrophically when residuals are tiny; it can dip below zero.
        ss = np.maximum(yy - 2 * r * ym + r * r * mm, 0.0)
        var = n / (n - 1) * ss / (mm_ * mm_)
        half = z * np.sqrt(var)
        return np.where(ok, r - half, np.nan), np.where(ok, r + half, np.nan)


def ratio_interval(
    total_y: float,
    total_m: float,
    n_clusters: float,
    sum_y2: float,
    sum_ym: float,
    sum_m2: float,
    z: float = Z95,
) -> tuple[float, float]:
    """Interval for a per-person-clustered ratio such as PMPM = dollars / member months."""
    lo, hi = ratio_interval_array(total_y, total_m, n_clusters, sum_y2, sum_ym, sum_m2, z)
    return float(lo), float(hi)


# ---------------------------------------------------------------------------------------------
# Control limits
# ---------------------------------------------------------------------------------------------


def _baseline_slice(length: int, baseline: int | None) -> slice:
    if baseline is None:
        return slice(None)
    if baseline < 2:
        raise ValueError("baseline needs at least 2 points")
    return slice(0, min(int(baseline), length))


def xmr_limits(values: ArrayLike, screen: bool = False, baseline: int | None = None) -> dict[str, float]:
    """XmR (individuals) chart limits: mean ± 2.66·AMR (process) and ± 1.7733·AMR (near).

    NaN values are ignored (moving ranges join the observed points either side). `screen` drops
    moving ranges ≥ 3.267·AMR and recomputes AMR once. `baseline` computes everything from the first
    `baseline` points only, for rebasing at a known change. Limits are not clipped at zero.
    Returns centre, amr, upper, lower, near_upper, near_lower and n (points used).
    """
    y = _f(values).ravel()
    y = y[_baseline_slice(len(y), baseline)]
    y = y[np.isfinite(y)]
    centre = float(y.mean()) if len(y) else float("nan")
    mr = np.abs(np.diff(y))
    amr = float(mr.mean()) if len(mr) else float("nan")
    # With AMR = 0 every range would be "large"; nothing to screen.
    if screen and len(mr) and amr > 0:
        kept = mr[mr < MR_SCREEN * amr]
        amr = float(kept.mean()) if len(kept) else float("nan")
    return {
        "centre": centre,
        "amr": amr,
        "upper": centre + XMR_LIMIT * amr,
        "lower": centre - XMR_LIMIT * amr,
        "near_upper": centre + XMR_NEAR * amr,
        "near_lower": centre - XMR_NEAR * amr,
        "n": int(len(y)),
    }


def _laney_sigma_z(values: np.ndarray, centre: float, sigma: np.ndarray) -> float:
    """Laney's between-period spread: mean moving range of the z-scores / 1.128."""
    ok = np.isfinite(values) & np.isfinite(sigma) & (sigma > 0)
    zs = (values[ok] - centre) / sigma[ok]
    if len(zs) < 2:
        # No moving range to scale by; falling back to 1 gives the plain p/u chart.
        return 1.0
    return float(np.mean(np.abs(np.diff(zs))) / D2)


def _attribute_chart(
    num: ArrayLike,
    den: ArrayLike,
    laney: bool,
    baseline: int | None,
    proportion: bool,
) -> dict[str, Any]:
    x, n = np.broadcast_arrays(_f(num), _f(den))
    x, n = x.ravel(), n.ravel()
    if np.any(n < 0) or np.any(x < 0):
        raise ValueError("numerators and denominators must be non-negative")
    if proportion and np.any(x > n):
        raise ValueError("p-chart numerators cannot exceed denominators")
    ok = np.isfinite(x) & np.isfinite(n) & (n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = np.where(ok, x / np.where(ok, n, 1.0), np.nan)
    base = np.zeros(len(x), dtype=bool)
    base[_baseline_slice(len(x), baseline)] = True
    used = ok & base
    tot_n = n[used].sum()
    centre = float(x[used].sum() / tot_n) if tot_n > 0 else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        var = centre * (1 - centre) if proportion else centre
        sigma = np.where(ok, np.sqrt(var / np.where(ok, n, 1.0)), np.nan)
    sigma_z = 1.0
    if laney:
        base_vals = np.where(used, vals, np.nan)
        sigma_z = _laney_sigma_z(base_vals, centre, sigma)
    s = sigma * sigma_z
    hi_clip = 1.0 if proportion else np.inf
    out = {
        "centre": centre,
        "values": vals,
        "sigma": sigma,
        "sigma_z": sigma_z,
        "upper": np.clip(centre + 3 * s, 0.0, hi_clip),
        "lower": np.clip(centre - 3 * s, 0.0, hi_clip),
        "near_upper": np.clip(centre + 2 * s, 0.0, hi_clip),
        "near_lower": np.clip(centre - 2 * s, 0.0, hi_clip),
        "n": int(used.sum()),
    }
    return out


def p_chart(
    numerators: ArrayLike,
    denominators: ArrayLike,
    laney: bool = False,
    baseline: int | None = None,
) -> dict[str, Any]:
    """p-chart (or Laney p′) for proportions with varying denominators.

    Returns centre (p̄ = Σx/Σn, scalar), sigma_z (1.0 unless laney), n (points used) and per-point
    arrays values (x_i/n_i), sigma, upper/lower (3 sigma) and near_upper/near_lower (2 sigma),
    clipped to [0, 1]. Points with n_i = 0 are NaN throughout.
    """
    return _attribute_chart(numerators, denominators, laney, baseline, proportion=True)


def u_chart(
    events: ArrayLike,
    exposure: ArrayLike,
    laney: bool = False,
    baseline: int | None = None,
) -> dict[str, Any]:
    """u-chart (or Laney u′) for event rates per unit exposure; same shape as p_chart.

    ū = Σc/Σn, sigma_i = √(ū/n_i); limits clipped at 0 below only.
    """
    return _attribute_chart(events, exposure, laney, baseline, proportion=False)


# ---------------------------------------------------------------------------------------------
# Special-cause rules and readings
# ---------------------------------------------------------------------------------------------


def _runs(s: np.ndarray, min_len: int) -> list[tuple[int, int, int]]:
    """Maximal runs of equal non-zero values in s with length >= min_len, as (start, stop, sign)."""
    out = []
    i, m = 0, len(s)
    while i < m:
        j = i + 1
        while j < m and s[j] == s[i]:
            j += 1
        if s[i] != 0 and j - i >= min_len:
            out.append((i, j, int(s[i])))
        i = j
    return out


def _trend_flags(yv: np.ndarray, trend_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Points in a run of `trend_length` strictly rising or falling points (a tie breaks it)."""
    m = len(yv)
    trend = np.zeros(m, dtype=bool)
    side = np.zeros(m, dtype=int)
    if m >= 2:
        steps = np.sign(np.diff(yv)).astype(int)
        # k equal steps cover k+1 points.
        for a, b, sgn in _runs(steps, trend_length - 1):
            trend[a : b + 1] = True
            side[a : b + 1] = sgn
    return trend, side


def _two_of_three_flags(
    rel: np.ndarray, near_hi: np.ndarray, near_lo: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points beyond a near limit in a window of 3 on one side with at least 2 beyond it."""
    m = len(rel)
    two = np.zeros(m, dtype=bool)
    side = np.zeros(m, dtype=int)
    for i in range(m - 2):
        w = slice(i, i + 3)
        for sgn, beyond in ((1, near_hi), (-1, near_lo)):
            if np.all(rel[w] == sgn) and beyond[w].sum() >= 2:
                two[w] |= beyond[w]
                side[w] = np.where(beyond[w], sgn, side[w])
    return two, side


def special_causes(
    values: ArrayLike,
    centre: ArrayLike,
    upper: ArrayLike,
    lower: ArrayLike,
    near_upper: ArrayLike,
    near_lower: ArrayLike,
    run_length: int = 7,
    trend_length: int = 7,
) -> dict[str, np.ndarray]:
    """Flag every point that is part of a Making Data Count special-cause signal.

    Returns boolean arrays "outside", "shift", "trend", "two_of_three", "any", and an int array
    "side" (+1 above / -1 below the centre; for a point flagged only by a trend, +1 rising / -1
    falling; 0 when unflagged). Where rules disagree on a point's side, outside > two_of_three >
    shift > trend, since the level rules say where the process is now. Centre and limits may be
    scalars or per-point arrays. Points with a NaN value or centre are skipped: the rules run on
    the remaining points in order, so a missing period neither breaks nor extends a run.
    A point beyond a process limit also counts as beyond the near limit for two_of_three
    (NHSRplotthedots counts only points between the near and process limits).
    """
    if run_length < 2 or trend_length < 2:
        raise ValueError("run_length and trend_length must be at least 2")
    y = _f(values).ravel()
    size = len(y)
    c, hi, lo, nhi, nlo = (
        np.broadcast_to(_f(a), (size,)) if np.ndim(a) == 0 else _f(a).ravel()
        for a in (centre, upper, lower, near_upper, near_lower)
    )
    for a in (c, hi, lo, nhi, nlo):
        if len(a) != size:
            raise ValueError("centre and limits must be scalars or match values in length")

    idx = np.flatnonzero(np.isfinite(y) & np.isfinite(c))
    yv, cv = y[idx], c[idx]
    m = len(idx)
    rel = np.sign(yv - cv).astype(int)

    # NaN limits compare False, so a point without limits is never "beyond" them.
    above, below = yv > hi[idx], yv < lo[idx]
    outside = above | below
    side_out = np.where(above, 1, np.where(below, -1, 0))

    shift = np.zeros(m, dtype=bool)
    for a, b, _sgn in _runs(rel, run_length):
        shift[a:b] = True

    trend, side_trend = _trend_flags(yv, trend_length)
    two, side_two = _two_of_three_flags(rel, yv > nhi[idx], yv < nlo[idx])

    any_ = outside | shift | trend | two
    side = np.zeros(m, dtype=int)
    side = np.where(trend, side_trend, side)
    side = np.where(shift, rel, side)
    side = np.where(two, side_two, side)
    side = np.where(outside, side_out, side)

    def full(a: np.ndarray, dtype: type) -> np.ndarray:
        out = np.zeros(size, dtype=dtype)
        out[idx] = a
        return out

    return {
        "outside": full(outside, bool),
        "shift": full(shift, bool),
        "trend": full(trend, bool),
        "two_of_three": full(two, bool),
        "any": full(any_, bool),
        "side": full(side, int),
    }


def _latest_index(*arrays: ArrayLike) -> int | None:
    ok = np.ones(len(_f(arrays[0]).ravel()), dtype=bool)
    for a in arrays:
        ok &= np.isfinite(_f(a).ravel())
    hits = np.flatnonzero(ok)
    return int(hits[-1]) if len(hits) else None


def variation_reading(values: ArrayLike, flags_dict: dict[str, np.ndarray], direction: str) -> dict[str, Any]:
    """Variation reading for the latest observed (non-NaN) point.

    Returns {"reading", "code", "latest_rules", "signals"}; code is "improvement", "concern" or
    "common" ("none" with reading "no data" when there is no observed point at all).
    """
    good = _good_side(direction)
    signals = int(np.sum(flags_dict["any"]))
    last = _latest_index(values)
    if last is None:
        return {"reading": NO_DATA, "code": "none", "latest_rules": [], "signals": signals}
    rules = [r for r in RULES if r in flags_dict and bool(flags_dict[r][last])]
    if not flags_dict["any"][last]:
        return {"reading": COMMON, "code": "common", "latest_rules": rules, "signals": signals}
    if int(flags_dict["side"][last]) == good:
        return {"reading": IMPROVEMENT, "code": "improvement", "latest_rules": rules, "signals": signals}
    return {"reading": CONCERN, "code": "concern", "latest_rules": rules, "signals": signals}


def assurance_reading(upper: ArrayLike, lower: ArrayLike, target: float | None, direction: str) -> str | None:
    """Whether the process can be relied on to meet a target, from the latest process limits.

    "consistently passing" when both limits are strictly on the good side of the target,
    "consistently failing" when both are strictly on the bad side, otherwise "hit and miss".
    None when there is no target or no finite limits.
    """
    good = _good_side(direction)
    if target is None or not np.isfinite(target):
        return None
    last = _latest_index(upper, lower)
    if last is None:
        return None
    hi = float(_f(upper).ravel()[last])
    lo = float(_f(lower).ravel()[last])
    worst, best = (lo, hi) if good == 1 else (hi, lo)
    # "worst" is the limit nearest the bad side; if even it beats the target, so does the process.
    if (worst - target) * good > 0:
        return "consistently passing"
    if (best - target) * good < 0:
        return "consistently failing"
    return "hit and miss"


def trial_limits(n_points: int) -> bool:
    """True when limits rest on fewer than 12 points and should be labelled "trial"."""
    return n_points < TRIAL_POINTS


def spc(
    values: ArrayLike | None,
    direction: str,
    kind: str = "xmr",
    numerators: ArrayLike | None = None,
    denominators: ArrayLike | None = None,
    target: float | None = None,
    screen: bool = False,
    laney: bool = False,
    baseline: int | None = None,
    run_length: int = 7,
    trend_length: int = 7,
) -> dict[str, Any]:
    """Everything a chart widget needs for one series.

    kind "xmr" charts `values`; "p" and "u" chart numerators/denominators (numerators may be
    omitted when `values` holds the rates, then numerators = values × denominators).
    Returns kind, values, centre, upper, lower, near_upper, near_lower (arrays, one per point),
    flags (special_causes output), reading, code, latest_rules, signals (variation_reading),
    assurance (str | None), trial (bool), n_limit_points, and amr (xmr) or sigma_z (p/u).
    """
    _good_side(direction)
    extra: dict[str, Any] = {}
    if kind == "xmr":
        if values is None:
            raise ValueError("xmr needs values")
        y = _f(values).ravel()
        lim = xmr_limits(y, screen=screen, baseline=baseline)
        size = len(y)
        centre, upper, lower, nu, nl = (
            np.full(size, lim[k]) for k in ("centre", "upper", "lower", "near_upper", "near_lower")
        )
        extra["amr"] = lim["amr"]
    elif kind in ("p", "u"):
        if denominators is None:
            raise ValueError(f"{kind}-chart needs denominators")
        if numerators is None:
            if values is None:
                raise ValueError(f"{kind}-chart needs numerators or values")
            numerators = _f(values) * _f(denominators)
        chart = p_chart if kind == "p" else u_chart
        lim = chart(numerators, denominators, laney=laney, baseline=baseline)
        y = lim["values"]
        size = len(y)
        centre = np.full(size, lim["centre"])
        upper, lower, nu, nl = (lim[k] for k in ("upper", "lower", "near_upper", "near_lower"))
        extra["sigma_z"] = lim["sigma_z"]
    else:
        raise ValueError(f"kind must be 'xmr', 'p' or 'u', got {kind!r}")

    flags = special_causes(y, centre, upper, lower, nu, nl, run_length=run_length, trend_length=trend_length)
    reading = variation_reading(y, flags, direction)
    return {
        "kind": kind,
        "values": y,
        "centre": centre,
        "upper": upper,
        "lower": lower,
        "near_upper": nu,
        "near_lower": nl,
        "flags": flags,
        **reading,
        "assurance": assurance_reading(upper, lower, target, direction),
        "trial": trial_limits(lim["n"]),
        "n_limit_points": lim["n"],
        **extra,
    }
