"""Calendar months and periods: the one place month arithmetic is written.

Everything in the product is monthly (member months, incurred months, monthly SPC points), and a
period is a run of whole calendar months. A month is represented by the date of its first day.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Period:
    start: date  # first day of the first month
    end: date  # last day of the last month

    @classmethod
    def from_months(cls, start: str, end: str) -> Period:
        s, e = parse_month(start), parse_month(end)
        if e < s:
            raise ValueError(f"period end {end} is before its start {start}")
        return cls(s, month_end(e))

    @classmethod
    def of_months(cls, first: date, last: date) -> Period:
        """The period from the month of `first` to the end of the month of `last`."""
        return cls(first.replace(day=1), month_end(last))

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m} to {self.end:%Y-%m}"

    @property
    def months(self) -> list[date]:
        return month_range(self.start, self.end)


def parse_month(text: str) -> date:
    """'YYYY-MM' -> the first day of that month; a clear error otherwise."""
    try:
        y, m = str(text).strip().split("-")
        return date(int(y), int(m), 1)
    except (ValueError, TypeError):
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}") from None


def month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def month_index(d: date) -> int:
    """Months since year 0: differences between indexes count months."""
    return d.year * 12 + d.month - 1


def month_from_index(i: int) -> date:
    return date(i // 12, i % 12 + 1, 1)


def add_months(d: date, n: int) -> date:
    """The first day of the month `n` months after the month of `d` (n may be negative)."""
    return month_from_index(month_index(d) + n)


def months_between(a: date, b: date) -> int:
    """Whole calendar months from the month of `a` to the month of `b` (0 for the same month)."""
    return month_index(b) - month_index(a)


def month_range(first: date, last: date) -> list[date]:
    """Every month from the month of `first` to the month of `last`, inclusive."""
    return [month_from_index(i) for i in range(month_index(first), month_index(last) + 1)]


def month_label(d: date) -> str:
    return f"{d:%Y-%m}"
