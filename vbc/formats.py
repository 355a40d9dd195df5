"""How numbers are written for people: the same on pages, in exports' captions and in packets."""

from __future__ import annotations

import math

from vbc.registry import Metric


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(metric: Metric, value: float | None) -> str:
    if _missing(value):
        return "—"
    if metric.kind == "pmpm" or (metric.kind == "ratio" and "dollar" in metric.unit):
        return f"${value:,.2f}"
    if metric.kind == "proportion":
        return f"{value:.1%}"
    if metric.kind == "per_1000":
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def format_count(value: float | None) -> str:
    if _missing(value):
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def interval_text(metric: Metric, lo: float | None, hi: float | None, suppressed: bool = False) -> str:
    if suppressed:
        return ""
    if _missing(lo) or _missing(hi):
        return "not estimable (too few people)"
    return f"{format_value(metric, lo)} – {format_value(metric, hi)}"


# The NHS rules in the words a meeting reads them in.
RULE_WORDS = {
    "outside": "a month beyond the limits",
    "shift": "7 or more months on one side",
    "trend": "7 months rising or falling",
    "two_of_three": "2 of 3 months near a limit",
}


def rules_text(rules) -> str:
    return ", ".join(RULE_WORDS.get(r, r) for r in rules)


def reading_text(res: dict, rules_prefix: str = "") -> str:
    """An SPC chart's reading (markdown), as pages and packets print it: the verdict on the latest
    month, then why (season, phases, a proposed change point), trial limits and the target."""
    trial = " Limits are *trial* (fewer than 12 points)." if res.get("trial") else ""
    rules = f" ({rules_prefix}{rules_text(res['latest_rules'])})" if res.get("latest_rules") else ""
    target = f" **Against target:** {res['assurance']}." if res.get("assurance") else ""
    why = "".join(f" {d[:1].upper()}{d[1:]}." for d in res.get("detail") or [])
    return f"**Reading:** {res['reading']}{rules}.{why}{trial}{target}"


def whole_dollars(v: float) -> str:
    """Dollars rounded to the dollar, a minus sign in front: -$1,234."""
    return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"
