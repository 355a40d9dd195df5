"""Seasonality of a monthly series: is there a month-of-year pattern, and what is it.

XmR limits assume no season; a strongly seasonal series (emergency visits in a flu winter) can
cross its limits in its peak and trough months, and sit on one side of a flat centre line for
half a year, without any change in care. `month_of_year_test` decides whether a series has a
pattern (and estimates it), so vbc.spc can judge each month against its usual season instead of
a flat mean. `winter_summer` says in plain words how far winter and summer differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

WINTER = (12, 1, 2)
SUMMER = (6, 7, 8)
# Winter and summer differing by this share or more can cross XmR limits on the season alone.
SEASONAL_SHARE = 0.15


@dataclass(frozen=True)
class SeasonContrast:
    winter: float  # the rate over winter months (sum of numerators / sum of denominators, scaled)
    summer: float
    change: float  # winter / summer - 1

    @property
    def seasonal(self) -> bool:
        return abs(self.change) >= SEASONAL_SHARE


def winter_summer(months, numerators, denominators, scale: float = 1.0) -> SeasonContrast | None:
    """Winter (Dec-Feb) against summer (Jun-Aug) over the given months (YYYY-MM), pooling each
    season's numerators and denominators; None without both seasons or with no summer events."""
    df = pd.DataFrame({"month": list(months), "y": list(numerators), "d": list(denominators)}).dropna()
    if df.empty:
        return None
    mon = df["month"].astype(str).str[-2:].astype(int)
    winter, summer = df[mon.isin(WINTER)], df[mon.isin(SUMMER)]
    if winter["d"].sum() <= 0 or summer["d"].sum() <= 0 or summer["y"].sum() <= 0:
        return None
    w = winter["y"].sum() / winter["d"].sum() * scale
    s = summer["y"].sum() / summer["d"].sum() * scale
    return SeasonContrast(float(w), float(s), float(w / s - 1))


# ------------------------------------------------------------------------------------------------
# Month-of-year pattern: is there one, and what is each month's usual place in it?

# A season can only be told apart from noise with every calendar month seen at least twice.
MIN_SEASON_MONTHS = 24
# The test's significance level: a month-of-year pattern is accepted at p < 0.05; so is a steady
# drift of the same months (which the expectation then follows, so a population slowly ageing in or
# out of care is not read as each month being unusual).
SEASON_ALPHA = 0.05
DRIFT_ALPHA = 0.05
# The latest year is judged against the pattern of the years before it, never against itself,
# so an unusual month cannot pull its own expectation towards it.
RECENT_MONTHS = 12


@dataclass(frozen=True)
class SeasonTest:
    """The month-of-year test of one series and, when a pattern is found, the pattern itself."""

    complete_months: int  # judged months the test could use
    tested: bool  # False: too few months to tell a season from noise
    seasonal: bool
    p_value: float | None = None
    f_stat: float | None = None
    pattern: tuple[float, ...] = ()  # each calendar month's (Jan..Dec) effect, in the series' unit
    slope: float = 0.0  # the drift per month over the months the pattern comes from
    drift_p: float = 1.0
    base_first: str | None = None  # the months the pattern comes from (YYYY-MM)
    base_last: str | None = None

    def effect(self, months) -> np.ndarray:
        """Each month's seasonal effect (0 everywhere without a pattern)."""
        if not self.seasonal:
            return np.zeros(len(months))
        return np.array([self.pattern[calendar_month(m) - 1] for m in months])

    @property
    def drift(self) -> float:
        """The steady drift per month the expectation follows: the pattern's months' trend when it
        is significant (p < DRIFT_ALPHA), else none."""
        return self.slope if self.seasonal and self.drift_p < DRIFT_ALPHA else 0.0

    def expected_offset(self, months) -> np.ndarray:
        """Where each month is expected relative to its phase's level: its seasonal effect plus the
        drift, counted from the middle of the pattern's months (the phase's centre absorbs the rest)."""
        if not self.seasonal:
            return np.zeros(len(months))
        mid = month_number([self.base_first, self.base_last]).mean()
        return self.effect(months) + self.drift * (month_number(months) - mid)

    @property
    def note(self) -> str:
        """What the test found, in a sentence for the reading."""
        if not self.tested:
            return (
                f"{self.complete_months} complete month(s) so far: {MIN_SEASON_MONTHS} are needed to "
                "tell a month-of-year pattern from a change"
            )
        if self.seasonal:
            drift = f", following their steady drift of {self.drift:+,.2f} a month" if self.drift else ""
            return (
                f"judged against the usual season: a month-of-year pattern (F-test {_p(self.p_value)}, "
                f"below {SEASON_ALPHA:g}) in {self.base_first} to {self.base_last}; each month is "
                f"expected at its usual place in that pattern around its phase's level{drift}"
            )
        return f"no month-of-year pattern (F-test {_p(self.p_value)}, not below {SEASON_ALPHA:g}): judged against the centre line"


def _p(p: float | None) -> str:
    return "p not computable" if p is None else ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")


def calendar_month(month: str) -> int:
    return int(str(month)[5:7])


def month_number(months) -> np.ndarray:
    """Months counted from year 0, so a trend is per calendar month even across gaps."""
    return np.array([int(str(m)[:4]) * 12 + calendar_month(m) - 1 for m in months], dtype=float)


# The yearly curve: sine/cosine pairs with periods of 12 and 6 months (4 numbers). A smooth curve
# needs far fewer numbers than 12 separate month effects (11), which, from two or three years of
# data, would mostly fit the noise and leave each month judged against a copy of itself.
HARMONICS = (1, 2)


def _harmonics(months) -> list[np.ndarray]:
    moy = np.array([calendar_month(m) for m in months], dtype=float)
    cols = []
    for k in HARMONICS:
        cols += [np.cos(2 * np.pi * k * moy / 12), np.sin(2 * np.pi * k * moy / 12)]
    return cols


def _design(months, level: np.ndarray, seasonal: bool) -> np.ndarray:
    """Columns: one intercept per phase, a linear trend, and (seasonal) the yearly curve.

    Over a whole year the curve sums to zero, so the pattern moves months around their level
    and never changes the level itself."""
    t = month_number(months)
    cols = [(level == k).astype(float) for k in np.unique(level)]
    cols.append(t - t.mean())
    if seasonal:
        cols += _harmonics(months)
    return np.column_stack(cols)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, int]:
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    return beta, float(resid @ resid), int(np.linalg.matrix_rank(x))


def month_of_year_test(months, values, judged=None, phase=None) -> SeasonTest:
    """Is there a month-of-year pattern? A regression F-test, and the pattern when there is one.

    Test: ordinary least squares of the judged values on one level per phase (declared change
    points) and a linear trend, with and without the yearly curve (HARMONICS: 4 terms); F =
    (ΔRSS / Δdf) / (RSS / residual df), seasonal when p < SEASON_ALPHA (0.05). The trend term
    keeps a steady drift from passing for a season. Needs MIN_SEASON_MONTHS (24) judged months.

    Pattern: the same regression over the judged months before the latest RECENT_MONTHS (12),
    but never fewer than the first 24, so the latest year is judged against earlier years' same
    months. Its trend becomes part of the expectation only when significant (`drift`).
    """
    months = np.asarray([str(m) for m in months])
    y = np.asarray(values, dtype=float)
    ok = np.isfinite(y) & (np.ones(len(y), bool) if judged is None else np.asarray(judged, bool))
    level = np.zeros(len(y), int) if phase is None else np.asarray(phase, int)
    idx = np.flatnonzero(ok)
    if len(idx) < MIN_SEASON_MONTHS:
        return SeasonTest(len(idx), tested=False, seasonal=False)
    m, yy, lv = months[idx], y[idx], level[idx]
    _, rss0, k0 = _fit(_design(m, lv, False), yy)
    _, rss1, k1 = _fit(_design(m, lv, True), yy)
    df1, df2 = k1 - k0, len(yy) - k1
    if df1 <= 0 or df2 <= 0 or rss1 <= 0:
        return SeasonTest(len(idx), tested=True, seasonal=False)
    f_stat = ((rss0 - rss1) / df1) / (rss1 / df2)
    p_value = float(_st.f.sf(f_stat, df1, df2))
    if p_value >= SEASON_ALPHA:
        return SeasonTest(len(idx), True, False, p_value, float(f_stat))
    base = idx[: max(MIN_SEASON_MONTHS, len(idx) - RECENT_MONTHS)]
    x = _design(months[base], level[base], True)
    beta, rss, rank = _fit(x, y[base])
    cols = _harmonics([f"2000-{m:02d}" for m in range(1, 13)])
    curve = np.column_stack(cols) @ beta[-len(cols) :]
    pattern = tuple(float(e) for e in curve)
    k = x.shape[1] - len(cols) - 1
    slope = float(beta[k])
    dof = len(base) - rank
    se = np.sqrt(rss / dof * np.linalg.pinv(x.T @ x)[k, k]) if dof > 0 else np.inf
    drift_p = float(2 * _st.t.sf(abs(slope) / se, dof)) if dof > 0 and se > 0 else 1.0
    return SeasonTest(
        len(idx),
        tested=True,
        seasonal=True,
        p_value=p_value,
        f_stat=float(f_stat),
        pattern=pattern,
        slope=slope,
        drift_p=drift_p,
        base_first=str(months[base[0]]),
        base_last=str(months[base[-1]]),
    )
