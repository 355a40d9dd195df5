"""SPC charts that do not blame the season or the past (vbc.spc, vbc.seasonality): hand-built
series with a known season, shift or change, and the NHS "Making Data Count" reference vector."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vbc import seasonality, spc, stats
from vbc.registry import load_registry

# REFERENCE.md, "Statistical process control": the NHSRplotthedots test vector.
REF_Y = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]


@pytest.fixture(scope="module")
def reg():
    return load_registry()


@pytest.fixture(scope="module")
def ed(reg):
    return reg.get("ed_visits_per_1000")  # utilization, lower is better


@pytest.fixture(scope="module")
def higher(reg):
    """A cost-like XmR series where higher is better (to read improvement upwards)."""
    return dataclasses.replace(reg.get("total_cost_pmpm_completed"), direction="higher")


def months(n: int, first: str = "2023-01") -> list[str]:
    y, m = (int(x) for x in first.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def winter_pattern(ms: list[str]) -> np.ndarray:
    """The demo's planted shape: winter (Dec-Feb) high, summer (Jun-Aug) low."""
    moy = np.array([seasonality.calendar_month(m) for m in ms])
    return np.where(np.isin(moy, (12, 1, 2)), 1.0, np.where(np.isin(moy, (6, 7, 8)), -0.8, 0.0))


def seasonal_series(ms: list[str], amp: float = 60.0, sd: float = 12.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 500.0 + amp * winter_pattern(ms) + rng.normal(0.0, sd, len(ms))


# ------------------------------------------------------------------------------ NHS reference


def test_nhs_reference_vector_through_the_chart(higher):
    res = spc.monthly_chart(higher, months(18), REF_Y, seasonal=False)
    assert res["centre"][0] == pytest.approx(1.9444, abs=5e-5)
    assert res["amr"] == pytest.approx(1.8824, abs=5e-5)
    assert round(res["upper"][0], 2) == 6.95 and round(res["lower"][0], 2) == -3.06
    assert [i for i, f in enumerate(res["flags"]["outside"]) if f] == [4]
    assert res["signal"][4] == "improvement" and res["reading"] == stats.COMMON
    assert len(res["phases"]) == 1 and res["proposal"] is None
    # The screened variant (NHSRplotthedots' default) from the same primitives.
    screened = stats.xmr_limits(REF_Y, screen=True)
    assert round(screened["upper"], 2) == 4.60 and round(screened["lower"], 2) == -0.72


def test_nhs_reference_vector_too_short_to_separate_a_season(higher):
    """18 months cannot show a season: the spike is drawn as a possible signal, not called."""
    res = spc.monthly_chart(higher, months(18), REF_Y, seasonal=True)
    assert not res["season"].tested and res["season"].complete_months == 18
    assert res["signal"][4] == "possible"
    assert res["reading"] == stats.COMMON
    assert any("24 are needed to tell a month-of-year pattern from a change" in d for d in res["detail"])
    spike_last = spc.monthly_chart(higher, months(18), [*REF_Y[:-1], 10], seasonal=True)
    assert spike_last["reading"] == spc.UNSEPARATED and spike_last["code"] == "unseparated"
    assert spike_last["signal"][-1] == "possible"


# ------------------------------------------------------------------------------ seasons


def test_pure_seasonal_series_reads_common_cause(ed):
    ms = months(36, "2023-11")
    y = seasonal_series(ms)
    flat = spc.monthly_chart(ed, ms, y, seasonal=False)
    # Against a flat mean the season alone trips the rules (winters above, summers below) ...
    assert flat["flags"]["any"].any()
    res = spc.monthly_chart(ed, ms, y)
    # ... against its seasonal expectation it is ordinary variation.
    assert res["season"].seasonal and res["season"].p_value < seasonality.SEASON_ALPHA
    assert set(res["signal"]) == {"common"}
    assert res["reading"] == stats.COMMON
    assert "judged against the usual season" in res["detail"][0]
    # The expectation follows the season: winter expected above summer.
    exp = dict(zip(ms, res["expectation"]))
    assert exp["2025-01"] > exp["2025-07"] + 60


def test_summer_trough_is_not_an_improvement(ed):
    """The story of the demo's ED chart: the latest month a deep (ordinary) summer trough."""
    ms = months(32, "2023-11")  # ends 2026-06
    y = seasonal_series(ms, seed=1)
    y[-1] = 500.0 - 0.8 * 60 - 32  # a low June: 2.7 sd below the usual June, far below the mean
    assert spc.monthly_chart(ed, ms, y, seasonal=False)["reading"] == stats.IMPROVEMENT
    res = spc.monthly_chart(ed, ms, y)
    assert res["reading"] == stats.COMMON and res["signal"][-1] == "common"


def test_no_season_keeps_the_flat_chart(ed):
    ms = months(30)
    y = np.random.default_rng(3).normal(500.0, 12.0, 30)
    res = spc.monthly_chart(ed, ms, y)
    assert res["season"].tested and not res["season"].seasonal
    flat = spc.monthly_chart(ed, ms, y, seasonal=False)
    np.testing.assert_allclose(res["expectation"], flat["expectation"])
    np.testing.assert_allclose(res["upper"], flat["upper"])
    assert "no month-of-year pattern" in res["detail"][0]


@pytest.mark.parametrize("first", ["2023-01", "2023-04", "2023-07", "2023-10"])
def test_level_shift_of_three_sigma_reads_special_cause_whatever_the_season(ed, first):
    """A rise of 3 sigma (the chart's own: mean moving range / 1.128 of value − expectation) over
    the last 8 months, starting in winter, spring, summer or autumn."""
    ms = months(36, first)
    y = seasonal_series(ms, seed=7)
    sigma = spc.monthly_chart(ed, ms, y)["amr"] / stats.D2
    y[28:] += 3 * sigma
    res = spc.monthly_chart(ed, ms, y)
    assert res["season"].seasonal
    assert res["reading"] == stats.CONCERN  # ED visits: higher is worse
    assert ms[26] <= res["proposal"]["month"] <= ms[28]
    assert "concern" not in res["signal"][:26]


# ------------------------------------------------------------------------------ phases


def _step(n_before: int = 18, n_after: int = 12, seed: int = 5) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.normal(100.0, 5.0, n_before), rng.normal(120.0, 5.0, n_after)])
    return months(n_before + n_after), y


def test_declared_change_point_rebases_the_limits(higher):
    ms, y = _step()
    cp = spc.ChangePoint(ms[18], "New care model", "started in every practice")
    res = spc.monthly_chart(higher, ms, y, change_points=[cp], seasonal=False)
    one, two = res["phases"]
    assert (one["first"], one["last"], two["first"], two["title"]) == (
        ms[0],
        ms[17],
        ms[18],
        "New care model",
    )
    assert one["centre"] == pytest.approx(np.mean(y[:18]))
    assert two["centre"] == pytest.approx(np.mean(y[18:]))
    assert list(res["phase"]) == [1] * 18 + [2] * 12
    # Each phase judged against its own limits: the earlier phase is not coloured for the later one.
    assert res["upper"][0] == pytest.approx(stats.xmr_limits(y[:18])["upper"])
    assert res["upper"][-1] == pytest.approx(stats.xmr_limits(y[18:])["upper"])
    assert set(res["signal"][:18]) == {"common"}
    assert res["reading"] == stats.IMPROVEMENT and res["change"]["side"] == 1
    assert any("limits rebased at" in d for d in res["detail"])


def test_without_a_change_point_the_shift_is_proposed(higher):
    ms, y = _step()
    res = spc.monthly_chart(higher, ms, y, seasonal=False)
    assert res["proposal"] == {"month": ms[18]}
    assert any(f"a sustained shift from {ms[18]}: confirm it as a change point" in d for d in res["detail"])
    # Limits fixed from the months before the shift and extended across it (fix and extend).
    assert res["phases"][0]["limits_to"] == ms[17]
    assert res["centre"][-1] == pytest.approx(np.mean(y[:18]))
    assert res["reading"] == stats.IMPROVEMENT
    assert "concern" not in res["signal"][:18]
    assert all(s == "improvement" for s in res["signal"][18:])


def test_a_change_that_moved_nothing_reads_common_cause(higher):
    rng = np.random.default_rng(8)
    ms, y = months(30), rng.normal(100.0, 5.0, 30)
    res = spc.monthly_chart(
        higher, ms, y, change_points=[spc.ChangePoint(ms[15], "Reorganised")], seasonal=False
    )
    assert len(res["phases"]) == 2 and res["change"]["side"] == 0
    assert res["reading"] == stats.COMMON
    assert "sit within the limits of the phase before" in res["detail"][0]


def test_p_chart_phases(reg):
    """The Lakeside story in miniature: a rate rising from 62% to 78% at a known month."""
    m = reg.get("controlling_blood_pressure")
    ms = months(24, "2024-11")
    n = np.full(24, 300.0)
    x = np.round(np.where(np.arange(24) < 7, 0.62, 0.78) * n + np.tile([3, -4, 1, -2, 4, -1], 4))
    single_baseline = stats.spc(None, "higher", kind="p", numerators=x, denominators=n, baseline=12)
    assert (single_baseline["flags"]["side"][:7] == -1).any()  # the old chart blamed the past
    cp = spc.ChangePoint("2025-06", "Blood pressure programme", organization="Lakeside Physician Group")
    res = spc.p_chart(m, x, n, months=ms, change_points=[cp])
    assert res["reading"] == stats.IMPROVEMENT
    assert "concern" not in res["signal"][:7]
    assert res["phases"][1]["centre"] == pytest.approx(x[7:].sum() / n[7:].sum())
    proposed = spc.p_chart(m, x, n, months=ms)
    assert proposed["proposal"] == {"month": "2025-06"} and proposed["reading"] == stats.IMPROVEMENT
    assert "concern" not in proposed["signal"][:7]


def test_change_points_outside_the_chart_are_ignored(higher):
    ms, y = _step()
    cps = [
        spc.ChangePoint("2019-01", "Before"),
        spc.ChangePoint(ms[0], "At the start"),
        spc.ChangePoint("2030-01", "After"),
    ]
    res = spc.monthly_chart(higher, ms, y, change_points=cps, seasonal=False)
    assert len(res["phases"]) == 1


# ------------------------------------------------------------------------------ the file


def test_change_points_file(tmp_path):
    assert spc.load_change_points(tmp_path) == []
    (tmp_path / spc.CHANGE_POINTS_FILE).write_text(
        "- {metric_id: controlling_blood_pressure, organization: Lakeside Physician Group, month: 2025-06,"
        " title: Blood pressure programme, reason: nurse-led follow-up}\n"
        "- {month: '2024-01', title: New attribution rules}\n"
    )
    bp, everything = spc.load_change_points(tmp_path)
    assert bp.metric_id == "controlling_blood_pressure" and bp.month == "2025-06"
    assert everything.metric_id is None and everything.organization is None
    assert spc.applicable([bp, everything], "controlling_blood_pressure", "Lakeside Physician Group") == (
        everything,
        bp,
    )
    assert spc.applicable([bp, everything], "controlling_blood_pressure", None) == (everything,)
    assert spc.applicable([bp, everything], "ed_visits_per_1000", "Lakeside Physician Group") == (everything,)


@pytest.mark.parametrize(
    "text, message",
    [
        ("- {month: 2025-13, title: x}\n", "entry 1, month: expected YYYY-MM"),
        ("- {month: 2025-06}\n", "entry 1, title"),
        ("- {month: 2025-06, title: x, why: y}\n", r"unknown key\(s\) why"),
        ("month: 2025-06\n", "expected a list"),
    ],
)
def test_change_points_file_errors_name_the_entry(tmp_path, text, message):
    (tmp_path / spc.CHANGE_POINTS_FILE).write_text(text)
    with pytest.raises(spc.ChangePointError, match=message) as exc:
        spc.load_change_points(tmp_path)
    assert spc.CHANGE_POINTS_FILE in str(exc.value)
