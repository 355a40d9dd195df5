"""The months the data covers, as day numbers (days since 1970) for vectorised date arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Window:
    months: int
    start: np.ndarray  # (M+1,) first day of each month as days since 1970, plus the day after the end
    moy: np.ndarray  # (M,) month of year 1..12
    year: np.ndarray  # (M,) calendar year
    labels: list[str]

    @property
    def first_day(self) -> int:
        return int(self.start[0])

    @property
    def last_day(self) -> int:
        return int(self.start[-1]) - 1

    def month_of(self, day: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.start, day, side="right") - 1


def make_window(end_month: str, months: int) -> Window:
    end = np.datetime64(end_month, "M")
    ms = np.arange(end - (months - 1), end + 2, dtype="datetime64[M]")
    mm = ms[:-1]
    return Window(
        months,
        ms.astype("datetime64[D]").astype(np.int64),
        mm.astype(np.int64) % 12 + 1,
        mm.astype("datetime64[Y]").astype(np.int64) + 1970,
        [str(m) for m in mm],
    )


def iso_day(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def month_index(year: int, month: int, w: Window) -> int:
    return (year - int(w.year[0])) * 12 + month - int(w.moy[0])
