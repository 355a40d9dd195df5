"""Seasonality of a monthly rate, in plain words: winter months against summer months.

XmR limits assume no season; a strongly seasonal series (emergency visits in a flu winter) can
cross its limits in its peak and trough months without any change in care. This module measures
how seasonal a series is so the page can say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

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
