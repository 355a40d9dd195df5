"""Control charts of monthly series, computed once for every page, command and packet.

The statistics (limits, NHS "Making Data Count" rules, readings) are in vbc/stats.py; this module
decides what a chart of a metric's months is: which months are left out (incomplete months are
drawn but never judged), which chart (XmR for cost and utilization, p or Laney p′ for quality
measures) and from which months the limits come.
"""

from __future__ import annotations

import numpy as np

from vbc import stats
from vbc.registry import Metric


def monthly_chart(
    metric: Metric,
    values,
    *,
    kind: str = "xmr",
    numerators=None,
    denominators=None,
    incomplete=None,
    target: float | None = None,
) -> dict:
    """The SPC chart of a metric's monthly values (XmR, or p/u with numerators and denominators).

    Incomplete months (claims still arriving) are kept out of the limits and the rules, so a raw
    drop in recent months is never read as a change; stats.spc's result (centre, limits, flags,
    reading) comes back with `incomplete` added for drawing them hollow.
    """
    values = np.asarray(values, dtype=float)
    incomplete = np.asarray(incomplete if incomplete is not None else [False] * len(values), dtype=bool)
    res = stats.spc(
        np.where(incomplete, np.nan, values),
        metric.direction,
        kind=kind,
        numerators=None if numerators is None else np.where(incomplete, np.nan, numerators),
        denominators=None if denominators is None else np.where(incomplete, 0, denominators),
        target=target,
    )
    res["incomplete"] = incomplete
    return res


BASELINE_POINTS = 12  # limits from the first 12 charted months, extended forward ...
FREEZE_FROM = 20  # ... when at least 20 months can be judged (otherwise from all of them)


def p_chart(metric: Metric, numerators, denominators, target: float | None = None, incomplete=None) -> dict:
    """The p-chart (Laney p′ when over-dispersed, σz > 1) of monthly points, with the NHS rules.

    Incomplete months (claims still arriving, short history) and months with no denominator are
    left out of the limits and the rules. With 20 or more judged months the centre and limits come
    from the first 12 of them and are extended forward (Making Data Count's "fix and extend"), so
    a sustained change after the baseline shows as a signal instead of being absorbed into the
    centre line. Returns stats.spc's result plus `laney`, `sigma_z`, `baseline` and `method`.
    """
    x = np.asarray(numerators, dtype=float)
    n = np.asarray(denominators, dtype=float)
    skip = ~np.isfinite(x) | ~np.isfinite(n) | (n <= 0)
    if incomplete is not None:
        skip |= np.asarray(incomplete, dtype=bool)
    x = np.where(skip, 0.0, x)
    n = np.where(skip, 0.0, n)
    judged = np.flatnonzero(n > 0)
    baseline = int(judged[BASELINE_POINTS - 1]) + 1 if len(judged) >= FREEZE_FROM else None
    sigma_z = 1.0
    if len(judged) >= 3:
        sigma_z = float(stats.p_chart(x, n, laney=True, baseline=baseline)["sigma_z"])
    laney = sigma_z > 1.0
    res = stats.spc(
        None,
        metric.direction,
        kind="p",
        numerators=x,
        denominators=n,
        target=target,
        laney=laney,
        baseline=baseline,
    )
    res["laney"] = laney
    res["sigma_z"] = sigma_z
    res["baseline"] = baseline
    res["method"] = (
        f"Laney p′ chart (σz = {sigma_z:.2f}: more month-to-month spread than the "
        "binomial alone, so limits are widened)"
        if laney
        else f"p-chart (σz = {sigma_z:.2f}: no over-dispersion, binomial limits)"
    )
    res["method"] += (
        "; centre and limits from the first 12 charted months, extended forward"
        if baseline
        else "; centre and limits from all charted months"
    )
    return res
