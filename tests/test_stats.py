"""Tests for vbc.stats: REFERENCE.md vectors, independent recomputations and hand-made SPC series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from vbc import stats as S

REF_Y = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
BIG = 100.0  # limits far away so only the rule under test can fire


def flags_for(values, centre=0.0, upper=BIG, lower=-BIG, nu=BIG / 2, nl=-BIG / 2, **kw):
    return S.special_causes(values, centre, upper, lower, nu, nl, **kw)


# --- intervals -------------------------------------------------------------------------------


def test_wilson_reference_vectors():
    assert S.wilson_interval(7, 50) == pytest.approx((0.06951, 0.26186), abs=5e-5)
    lo, hi = S.wilson_interval(0, 12)
    assert lo == 0.0
    assert hi == pytest.approx(0.24249, abs=5e-5)


def test_wilson_zero_n_and_full_success_and_bad_input():
    assert all(math.isnan(v) for v in S.wilson_interval(0, 0))
    lo, hi = S.wilson_interval(12, 12)
    assert hi == 1.0 and lo == pytest.approx(1 - 0.24249, abs=5e-5)
    with pytest.raises(ValueError):
        S.wilson_interval(13, 12)


def test_wilson_array_matches_scalar_and_accepts_series():
    x = pd.Series([7, 0, 0, 0])
    n = pd.Series([50, 12, 0, 5])
    lo, hi = S.wilson_interval_array(x, n)
    assert lo[0] == pytest.approx(0.06951, abs=5e-5) and hi[1] == pytest.approx(0.24249, abs=5e-5)
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    assert (lo[3], hi[3]) == pytest.approx(S.wilson_interval(0, 5))


def test_poisson_known_value_and_gamma_form():
    assert S.poisson_interval(0, 1) == pytest.approx((0.0, 3.6889), abs=5e-5)
    # The Garwood interval written with gamma quantiles instead of chi-square ones.
    for k, e in [(1, 2.0), (5, 100.0), (37, 12.5)]:
        lo, hi = S.poisson_interval(k, e)
        assert lo == pytest.approx(st.gamma.ppf(0.025, k) / e, rel=1e-10)
        assert hi == pytest.approx(st.gamma.ppf(0.975, k + 1) / e, rel=1e-10)
        assert lo < k / e < hi
    lo90, hi90 = S.poisson_interval(5, 100.0, alpha=0.10)
    assert hi90 == pytest.approx(st.gamma.ppf(0.95, 6) / 100.0, rel=1e-10)


def test_poisson_zero_exposure_and_array():
    assert all(math.isnan(v) for v in S.poisson_interval(3, 0))
    lo, hi = S.poisson_interval_array([0, 5], [1.0, 100.0])
    assert lo[0] == 0.0 and hi[0] == pytest.approx(3.6889, abs=5e-5)
    assert (lo[1], hi[1]) == pytest.approx(S.poisson_interval(5, 100.0))


def test_ratio_interval_against_brute_force():
    y = np.array([100.0, 0.0, 250.0, 40.0, 900.0])
    m = np.array([12.0, 6.0, 12.0, 3.0, 10.0])
    n = len(y)
    R = y.sum() / m.sum()
    resid = sum((yi - R * mi) ** 2 for yi, mi in zip(y, m))
    se = math.sqrt(n / (n - 1) * resid / m.sum() ** 2)
    expect = (R - 1.959964 * se, R + 1.959964 * se)
    got = S.ratio_interval(y.sum(), m.sum(), n, (y * y).sum(), (y * m).sum(), (m * m).sum())
    assert got == pytest.approx(expect, rel=1e-12)


def test_ratio_interval_guards_and_array():
    assert all(math.isnan(v) for v in S.ratio_interval(10, 5, 1, 100, 50, 25))
    assert all(math.isnan(v) for v in S.ratio_interval(10, 0, 3, 100, 0, 0))
    # Every person at the same PMPM: zero residual, zero width (expansion must not go negative).
    lo, hi = S.ratio_interval_array([30.0], [3.0], [3], [300.0], [30.0], [3.0])
    assert lo[0] == pytest.approx(10.0) and hi[0] == pytest.approx(10.0)


# --- control limits --------------------------------------------------------------------------


def test_xmr_reference_unscreened():
    lim = S.xmr_limits(REF_Y)
    assert lim["centre"] == pytest.approx(1.9444, abs=5e-5)
    assert lim["amr"] == pytest.approx(1.8824, abs=5e-5)
    assert lim["upper"] == pytest.approx(1.944444 + 2.66 * 1.882353, abs=5e-5)
    assert round(lim["upper"], 2) == 6.95 and round(lim["lower"], 2) == -3.06
    assert lim["near_upper"] == pytest.approx(lim["centre"] + 1.7733 * lim["amr"])


def test_xmr_reference_screened():
    lim = S.xmr_limits(REF_Y, screen=True)
    assert lim["amr"] == pytest.approx(1.0, abs=5e-5)
    assert round(lim["upper"], 2) == 4.60 and round(lim["lower"], 2) == -0.72
    assert lim["lower"] < 0  # not clipped at zero


def test_xmr_baseline_uses_first_points_only():
    y = [5, 6, 5, 6, 5, 60, 70, 80]
    lim = S.xmr_limits(y, baseline=5)
    assert lim["centre"] == pytest.approx(5.4)
    assert lim["amr"] == pytest.approx(1.0)
    assert lim["n"] == 5


def test_p_chart_hand_example():
    res = S.p_chart([5, 10, 0], [50, 100, 0])
    assert res["centre"] == pytest.approx(0.1)
    s1, s2 = math.sqrt(0.09 / 50), math.sqrt(0.09 / 100)
    assert res["upper"][:2] == pytest.approx([0.1 + 3 * s1, 0.19])
    assert res["lower"][:2] == pytest.approx([0.0, 0.01])  # 0.1 - 3*s1 < 0 -> clipped
    assert res["near_upper"][:2] == pytest.approx([0.1 + 2 * s1, 0.1 + 2 * s2])
    assert res["near_lower"][1] == pytest.approx(0.04)
    assert np.isnan(res["values"][2]) and np.isnan(res["upper"][2])


def test_p_chart_upper_clipped_at_one():
    res = S.p_chart([9, 1], [10, 2])
    assert res["upper"].max() <= 1.0 and res["upper"][1] == 1.0


def test_laney_p_chart_matches_manual():
    x = np.array([50, 80, 45, 120, 60, 95])
    n = np.array([1000, 1000, 900, 1100, 1000, 950])
    pbar = x.sum() / n.sum()
    sig = np.sqrt(pbar * (1 - pbar) / n)
    zs = (x / n - pbar) / sig
    sigma_z = np.mean(np.abs(np.diff(zs))) / 1.128
    res = S.p_chart(x, n, laney=True)
    assert res["sigma_z"] == pytest.approx(sigma_z)
    assert sigma_z > 1.5  # over-dispersed fixture, so Laney must widen the limits
    assert res["upper"] == pytest.approx(pbar + 3 * sig * sigma_z)
    assert res["lower"] == pytest.approx(np.maximum(pbar - 3 * sig * sigma_z, 0))
    assert S.p_chart(x, n)["upper"] == pytest.approx(pbar + 3 * sig)


def test_u_chart_hand_example():
    res = S.u_chart([40, 90, 0], [20, 30, 1])
    u = 130 / 51
    assert res["centre"] == pytest.approx(u)
    assert res["upper"] == pytest.approx(u + 3 * np.sqrt(u / np.array([20, 30, 1])))
    assert res["lower"][2] == 0.0  # u - 3*sqrt(u/1) < 0 -> clipped
    assert res["lower"][1] == pytest.approx(u - 3 * math.sqrt(u / 30))


# --- special-cause rules ---------------------------------------------------------------------


def test_outside_is_strict():
    f = flags_for([0, 5, 0, -5, 0, 5.01, -6], upper=5, lower=-5, nu=99, nl=-99)
    assert f["outside"].tolist() == [False, False, False, False, False, True, True]
    assert f["side"][5] == 1 and f["side"][6] == -1


def test_shift_six_vs_seven():
    six = [-1, 1, 2, 1, 2, 1, 2, -1]
    seven = [-1, 1, 2, 1, 2, 1, 2, 1, -1]
    assert not flags_for(six)["shift"].any()
    f = flags_for(seven)
    assert f["shift"].tolist() == [False] + [True] * 7 + [False]
    assert f["side"].tolist() == [0] + [1] * 7 + [0]
    below = flags_for([-v for v in seven])
    assert below["shift"].sum() == 7 and set(below["side"][1:8]) == {-1}


def test_point_on_centre_breaks_run():
    broken = [1, 2, 1, 2, 0, 1, 2, 1, 2]
    assert not flags_for(broken)["shift"].any()
    whole = [1, 2, 1, 2, 1, 1, 2, 1, 2]
    assert flags_for(whole)["shift"].all()


def test_shift_with_per_point_centre():
    values = [5, 6, 5, 6, 5, 6, 5]
    assert flags_for(values, centre=4.0)["shift"].all()
    centre = [4, 4, 4, 7, 4, 4, 4]  # the point below a raised centre breaks the run
    assert not flags_for(values, centre=centre)["shift"].any()


def test_trend_seven_vs_six_and_tie():
    up7 = [1, 2, 3, 4, 5, 6, 7]  # crosses centre 4, so no shift
    f = flags_for(up7, centre=4.0)
    assert f["trend"].all() and not f["shift"].any()
    assert f["side"].tolist() == [1] * 7
    assert not flags_for(up7[1:], centre=4.0)["trend"].any()
    tie = [1, 2, 3, 3, 4, 5, 6, 7]
    assert not flags_for(tie, centre=4.0)["trend"].any()
    down = flags_for([9, 7, 6, 5, 4, 3, 2, 0, 4], centre=4.5)
    assert down["trend"].tolist() == [True] * 8 + [False]
    assert down["side"][:8].tolist() == [-1] * 8


def test_two_of_three_marks_only_points_beyond_near_limit():
    f = flags_for([0.5, 2.5, 1.0, 2.5, -0.5], centre=0, upper=3, lower=-3, nu=2, nl=-2)
    assert f["two_of_three"].tolist() == [False, True, False, True, False]
    assert f["side"].tolist() == [0, 1, 0, 1, 0]
    g = flags_for([0.5, -2.5, -2.1, -0.1, 0.5], centre=0, upper=3, lower=-3, nu=2, nl=-2)
    assert g["two_of_three"].tolist() == [False, True, True, False, False]
    assert g["side"][1] == -1


def test_two_of_three_needs_all_three_on_same_side():
    f = flags_for([-0.5, 2.5, 2.6, -1.0, 0.5], centre=0, upper=3, lower=-3, nu=2, nl=-2)
    assert not f["two_of_three"].any() and not f["any"].any()
    # opposite near limits do not combine either
    g = flags_for([2.5, 1.0, -2.5], centre=0, upper=3, lower=-3, nu=2, nl=-2)
    assert not g["two_of_three"].any()


def test_nan_points_are_skipped():
    values = [1, 2, 1, np.nan, 2, 1, 2, 1]
    f = flags_for(values)
    assert f["shift"].tolist() == [True, True, True, False, True, True, True, True]
    assert f["side"][3] == 0


def test_any_is_union():
    f = flags_for([0, 0, 0, 50.5, 1, 2, 1, 2, 1, 2, 1], centre=0.5, upper=50, lower=-50)
    assert f["any"].tolist() == list(f["outside"] | f["shift"] | f["trend"] | f["two_of_three"])
    assert f["outside"][3] and f["shift"][3:].all()


# --- readings --------------------------------------------------------------------------------


def test_variation_reading_flips_with_direction():
    values = [-1, 1, -1, 1, 2, 1, 2, 1, 2, 1]  # ends in a run of 7 above the centre
    f = flags_for(values)
    hi = S.variation_reading(values, f, "higher")
    lo = S.variation_reading(values, f, "lower")
    assert hi["reading"] == "special cause — improvement" and hi["code"] == "improvement"
    assert lo["reading"] == "special cause — concern" and lo["code"] == "concern"
    assert hi["latest_rules"] == ["shift"] and hi["signals"] == 7
    falling = [9, 8, 7, 6, 5, 4, 3]
    ff = flags_for(falling, centre=6.0)
    assert S.variation_reading(falling, ff, "lower")["code"] == "improvement"
    assert S.variation_reading(falling, ff, "higher")["code"] == "concern"
    with pytest.raises(ValueError):
        S.variation_reading(values, f, "up")


def test_variation_reading_common_when_latest_not_flagged():
    values = [1, 2, 1, 2, 1, 2, 1, -1]
    f = flags_for(values)
    r = S.variation_reading(values, f, "higher")
    assert r["reading"] == "common-cause variation" and r["code"] == "common"
    assert r["latest_rules"] == [] and r["signals"] == 7


def test_assurance_reading():
    assert S.assurance_reading(0.9, 0.8, 0.75, "higher") == "consistently passing"
    assert S.assurance_reading(0.9, 0.8, 0.75, "lower") == "consistently failing"
    assert S.assurance_reading(0.9, 0.8, 0.95, "lower") == "consistently passing"
    assert S.assurance_reading(0.9, 0.8, 0.85, "higher") == "hit and miss"
    assert S.assurance_reading(0.9, 0.8, None, "higher") is None
    # arrays: the latest finite point's limits decide
    up, low = np.array([0.9, 0.5, np.nan]), np.array([0.8, 0.1, np.nan])
    assert S.assurance_reading(up, low, 0.6, "higher") == "consistently failing"


def test_trial_limits():
    assert S.trial_limits(11) is True
    assert S.trial_limits(12) is False


# --- the widget entry point ------------------------------------------------------------------


def test_spc_xmr_reference():
    r = S.spc(REF_Y, "lower", screen=True, target=6)
    assert r["centre"].shape == (18,) and r["upper"][0] == pytest.approx(4.6044, abs=5e-4)
    assert r["flags"]["outside"].tolist() == [i == 4 for i in range(18)]
    assert r["reading"] == "common-cause variation"
    assert r["assurance"] == "consistently passing"  # upper 4.60 below a 'lower is better' target
    assert r["trial"] is False and r["amr"] == pytest.approx(1.0)
    assert S.spc(REF_Y[:8], "higher")["trial"] is True


def test_spc_random_binomial_is_common_cause_and_shift_is_detected():
    rng = np.random.default_rng(20240601)
    n = rng.integers(800, 1200, size=60)
    x = rng.binomial(n, 0.12)
    r = S.spc(None, "lower", kind="p", numerators=x, denominators=n)
    assert r["code"] == "common" and r["reading"] == "common-cause variation"
    assert r["flags"]["any"].mean() < 0.15
    assert r["centre"][0] == pytest.approx(x.sum() / n.sum())
    # the same process after a real rise in the last year must not read as common cause
    x2 = x.copy()
    x2[-12:] = rng.binomial(n[-12:], 0.16)
    r2 = S.spc(None, "lower", kind="p", numerators=x2, denominators=n)
    assert r2["code"] == "concern" and "shift" in r2["latest_rules"]
    assert S.spc(None, "higher", kind="p", numerators=x2, denominators=n)["code"] == "improvement"


def test_spc_rates_from_values_and_u_kind():
    n = np.array([100.0, 120.0, 90.0, 110.0])
    rates = np.array([0.1, 0.15, 0.2, 0.05])
    r = S.spc(rates, "higher", kind="p", denominators=n)
    assert r["centre"][0] == pytest.approx((rates * n).sum() / n.sum())
    assert r["values"] == pytest.approx(rates)
    u = S.spc(None, "lower", kind="u", numerators=[3, 5, 4], denominators=[10, 12, 11])
    assert u["upper"] == pytest.approx(S.u_chart([3, 5, 4], [10, 12, 11])["upper"])
    assert u["trial"] is True
    with pytest.raises(ValueError):
        S.spc([1, 2], "higher", kind="c")
