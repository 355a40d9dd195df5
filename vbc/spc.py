"""Control charts of monthly series, computed once for every page, command and packet.

The statistics (limits, NHS "Making Data Count" rules, readings) are in vbc/stats.py and the
month-of-year test in vbc/seasonality.py; this module decides what a chart of a metric's months
is:

- which months are judged: incomplete months (claims still arriving), suppressed months and
  months whose lookback reaches before the data are drawn but never judged;
- the expectation each month is judged against: the centre line of its phase, or for a seasonal
  cost or utilization series the phase's level plus the month's usual seasonal effect (and the
  earlier years' drift when it is significant), so the rules run on an XmR chart of
  value − expectation;
- phases: limits are computed per phase. A phase starts at a declared change point (known and
  explained: `change_points.yaml` in the data directory, or any list of ChangePoint), and past
  points are judged against their own phase's limits only;
- proposals: a run of 8 or more points on one side of the centre that lasts to the latest point
  is a sustained shift. Without a declared change point the limits are fixed from the points
  before it and extended across it (so the shift shows as a signal and the months before it keep
  their own level), and the reading asks for the change point to be confirmed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from vbc import seasonality, stats
from vbc.registry import Metric

CHANGE_POINTS_FILE = "change_points.yaml"
# A run this long on one side of the centre, lasting to the latest point, is a sustained shift
# (one longer than the 7 that flags a shift, so a proposal is never made on the rule's edge).
RUN_TO_PROPOSE = 8
# Fewest judged points a phase's limits are fixed from when a shift is proposed; with fewer the
# phase keeps limits from all its points and the proposal is only said.
MIN_BASE_POINTS = 6
# A p-chart phase with FREEZE_FROM judged months takes its limits from its first BASELINE_POINTS.
BASELINE_POINTS = 12
FREEZE_FROM = 20
UNSEPARATED = "the season cannot yet be separated"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_KEYS = ("metric_id", "organization", "month", "title", "reason")


# ------------------------------------------------------------------------------------------------
# Change points


class ChangePointError(ValueError):
    """change_points.yaml is malformed; the message names the file, the entry and the key."""


@dataclass(frozen=True)
class ChangePoint:
    """A known, explained change: limits are rebased from `month` on.

    Empty metric_id applies to every metric, empty organization to every scope (an
    organization's change point applies to charts of that organization only)."""

    month: str
    title: str
    reason: str = ""
    metric_id: str | None = None
    organization: str | None = None

    def applies_to(self, metric_id: str, organization: str | None) -> bool:
        return (not self.metric_id or self.metric_id == metric_id) and (
            not self.organization or self.organization == organization
        )


def parse_change_points(entries: list, where: str = "change points") -> list[ChangePoint]:
    """Change points from plain dicts ({metric_id, organization, month: YYYY-MM, title, reason}),
    the shape of the file and of anything else that feeds the charts (e.g. annotations)."""
    if not isinstance(entries, list):
        raise ChangePointError(f"{where}: expected a list of change points")
    out = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ChangePointError(f"{where}, entry {i}: expected a mapping with month and title")
        unknown = sorted(set(entry) - set(_KEYS))
        if unknown:
            raise ChangePointError(
                f"{where}, entry {i}: unknown key(s) {', '.join(unknown)}; known: {', '.join(_KEYS)}"
            )
        month = str(entry.get("month") or "")
        if not _MONTH.match(month):
            raise ChangePointError(f"{where}, entry {i}, month: expected YYYY-MM, got {entry.get('month')!r}")
        if not str(entry.get("title") or "").strip():
            raise ChangePointError(f"{where}, entry {i}, title: say what changed")
        out.append(
            ChangePoint(
                month=month,
                title=str(entry["title"]).strip(),
                reason=str(entry.get("reason") or "").strip(),
                metric_id=str(entry["metric_id"]) if entry.get("metric_id") else None,
                organization=str(entry["organization"]) if entry.get("organization") else None,
            )
        )
    return out


def load_change_points(data_dir: Path | str) -> list[ChangePoint]:
    """The change points declared in `<data_dir>/change_points.yaml` (none without the file)."""
    path = Path(data_dir) / CHANGE_POINTS_FILE
    if not path.is_file():
        return []
    try:
        doc = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as exc:
        raise ChangePointError(f"{path}: not valid YAML ({exc})") from None
    return parse_change_points(doc, str(path))


def applicable(change_points, metric_id: str, organization: str | None) -> tuple[ChangePoint, ...]:
    """The change points that rebase one chart (its metric, its organization), by month."""
    return tuple(
        sorted((c for c in change_points if c.applies_to(metric_id, organization)), key=lambda c: c.month)
    )


# ------------------------------------------------------------------------------------------------
# Charts


@dataclass
class _Series:
    months: list[str]
    values: np.ndarray  # what is drawn (the rate for p-charts)
    judged: np.ndarray  # in the limits and the rules
    kind: str  # "xmr" or "p"
    x: np.ndarray | None = None  # p-chart numerators and denominators, 0 where not judged
    n: np.ndarray | None = None


def monthly_chart(
    metric: Metric,
    months,
    values,
    *,
    incomplete=None,
    change_points=(),
    seasonal: bool = True,
    target: float | None = None,
) -> dict:
    """The XmR chart of a cost or utilization metric's monthly values, in phases.

    `seasonal`: test the series for a month-of-year pattern (24+ judged months) and, when there is
    one, judge each month against its seasonal expectation; with fewer months the reading says the
    season cannot yet be separated instead of calling a signal. Incomplete months are drawn but not
    judged. Returns `chart`'s dictionary (see there)."""
    months = [str(m) for m in months]
    y = np.asarray(values, dtype=float)
    skip = np.zeros(len(y), bool) if incomplete is None else np.asarray(incomplete, dtype=bool)
    s = _Series(months, y, ~skip & np.isfinite(y), "xmr")
    return chart(metric, s, change_points=change_points, seasonal=seasonal, target=target)


def p_chart(
    metric: Metric,
    numerators,
    denominators,
    target: float | None = None,
    incomplete=None,
    *,
    months=None,
    change_points=(),
) -> dict:
    """The p-chart (Laney p′ when over-dispersed, σz > 1) of monthly points, in phases.

    Incomplete months (claims still arriving, short history) and months with no denominator are
    drawn but left out of the limits and the rules. Each phase takes p̄ and σz from its own points
    (see `chart` for phases and proposals). Quality measures have no seasonal expectation."""
    x = np.asarray(numerators, dtype=float)
    n = np.asarray(denominators, dtype=float)
    ok = np.isfinite(x) & np.isfinite(n) & (n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(ok, x / np.where(ok, n, 1.0), np.nan)
    judged = ok.copy()
    if incomplete is not None:
        judged &= ~np.asarray(incomplete, dtype=bool)
    if months is None:
        if change_points:
            raise ValueError("change points need the months of the chart")
        months = [f"#{i}" for i in range(len(x))]
    s = _Series(
        [str(m) for m in months], values, judged, "p", np.where(judged, x, 0.0), np.where(judged, n, 0.0)
    )
    return chart(metric, s, change_points=change_points, seasonal=False, target=target)


def chart(metric: Metric, s: _Series, *, change_points=(), seasonal: bool = False, target=None) -> dict:
    """Everything a chart and its reading need, per point and per phase.

    Per point (arrays, one per month): values, expectation (what the point is judged against: the
    phase's centre, plus the seasonal effect for a seasonal series), centre (the phase's level),
    upper/lower/near_upper/near_lower (around the expectation), phase (1, 2, …), judged,
    incomplete (= not judged, drawn hollow), flags (stats.special_causes, run per phase) and
    signal ("improvement", "concern", "possible" where the season cannot be separated, "common",
    "left out"). Per chart: phases, season (seasonality.SeasonTest or None), proposal, change
    (the latest declared phase against the one before), reading, code, latest_rules, detail (the
    reasons in plain words), assurance, trial, n_limit_points, method.
    """
    starts = _phase_starts(s.months, change_points)
    bounds = [
        (i, starts[k + 1][0] if k + 1 < len(starts) else len(s.values)) for k, (i, _) in enumerate(starts)
    ]
    phase = np.zeros(len(s.values), int)
    for k, (a, b) in enumerate(bounds):
        phase[a:b] = k
    season, offset = None, np.zeros(len(s.values))
    if seasonal and s.kind == "xmr":
        season = seasonality.month_of_year_test(s.months, s.values, s.judged, phase)
        offset = season.expected_offset(s.months)
    z = s.values - offset  # the rules judge z against its phase's centre: value − expectation
    unseparated = season is not None and not season.tested
    base_stop, proposal = [_default_base(s, a, b) for a, b in bounds], None
    if not unseparated:
        proposal, base_stop[-1] = _propose(s, z, *bounds[-1], base_stop[-1])
    parts = [_limits(s, z, a, b, base) for (a, b), base in zip(bounds, base_stop)]
    res = _assemble(metric, s, z, offset, parts, bounds)
    res["phase"] = phase + 1
    res["phases"] = [
        _phase_record(s, k, a, b, base, part, starts[k][1])
        for k, ((a, b), base, part) in enumerate(zip(bounds, base_stop, parts))
    ]
    res["season"] = season
    res["proposal"] = {"month": s.months[proposal]} if proposal is not None else None
    res["change"] = _phase_change(s, z, bounds, base_stop, starts) if len(starts) > 1 else None
    res.update(_reading(metric, res, unseparated))
    res["signal"] = _signals(metric, res, unseparated)
    res["assurance"] = stats.assurance_reading(res["upper"], res["lower"], target, metric.direction)
    res["method"] = _method(s, parts[-1], season)
    return res


def _phase_starts(months: list[str], change_points) -> list[tuple[int, ChangePoint | None]]:
    """Where each phase starts: the first month, then each change point inside the chart."""
    starts: list[tuple[int, ChangePoint | None]] = [(0, None)]
    for cp in sorted(change_points, key=lambda c: c.month):
        i = next((k for k, m in enumerate(months) if m >= cp.month), None)
        if i is None or i == 0:
            continue  # before the chart or after it: nothing to rebase here
        if i == starts[-1][0]:
            starts[-1] = (i, cp)  # two declared in one month: one phase, the later entry names it
        else:
            starts.append((i, cp))
    return starts


def _limits(s: _Series, z: np.ndarray, start: int, stop: int, base_stop: int) -> dict:
    """One phase's centre and limits over its points, from its points before `base_stop`."""
    size = stop - start
    base = base_stop - start if base_stop - start >= 2 else None
    if s.kind == "xmr":
        lim = stats.xmr_limits(np.where(s.judged, z, np.nan)[start:stop], baseline=base)
        out = {k: np.full(size, lim[k]) for k in ("centre", "upper", "lower", "near_upper", "near_lower")}
        return {**out, "n": lim["n"], "amr": lim["amr"]}
    x, n = s.x[start:stop], s.n[start:stop]
    sigma_z = 1.0
    if int((n[: base or size] > 0).sum()) >= 3:
        sigma_z = float(stats.p_chart(x, n, laney=True, baseline=base)["sigma_z"])
    laney = sigma_z > 1.0
    lim = stats.p_chart(x, n, laney=laney, baseline=base)
    out = {k: np.asarray(lim[k], float) for k in ("upper", "lower", "near_upper", "near_lower")}
    return {**out, "centre": np.full(size, lim["centre"]), "n": lim["n"], "sigma_z": sigma_z, "laney": laney}


def _latest_run(z: np.ndarray, judged: np.ndarray, centre: float, start: int, stop: int) -> int | None:
    """First point of the run of judged points on one side of `centre` that ends at the latest
    judged point, when it is RUN_TO_PROPOSE or longer (a point on the centre line breaks it)."""
    idx = [i for i in range(start, stop) if judged[i]]
    if not idx or not np.isfinite(centre):
        return None
    side = np.sign(z[idx[-1]] - centre)
    if side == 0:
        return None
    first = idx[-1]
    for i in reversed(idx):
        if np.sign(z[i] - centre) != side:
            break
        first = i
    length = sum(1 for i in idx if i >= first)
    return first if length >= RUN_TO_PROPOSE else None


def _default_base(s: _Series, start: int, stop: int) -> int:
    """Where a phase's limits come from without a shift: every judged point (XmR), or for a p-chart
    with FREEZE_FROM judged points its first BASELINE_POINTS, extended forward (NHS "fix and
    extend"), so a slow change is called rather than absorbed into the centre."""
    judged = np.flatnonzero(s.judged[start:stop]) + start
    if s.kind == "p" and len(judged) >= FREEZE_FROM:
        return int(judged[BASELINE_POINTS - 1]) + 1
    return stop


def _propose(s: _Series, z: np.ndarray, start: int, stop: int, base: int) -> tuple[int | None, int]:
    """A sustained shift in the latest phase: (first month of the shift or None, limits' base stop).

    The run is found against the phase's centre (from `base`), which lies between the levels before
    and after a shift, so the run starts where the shift did. When enough points precede it, the
    limits are fixed from those points and extended across it, so the months before a shift are
    judged against their own level; a run that does not hold against that level is no shift. With
    too few points before it, the shift is proposed and the limits stay as they were."""
    centre = float(_limits(s, z, start, stop, base)["centre"][0])
    run = _latest_run(z, s.judged, centre, start, stop)
    if run is None:
        return None, base
    if s.judged[start:run].sum() < MIN_BASE_POINTS:
        return run, base
    fixed = _limits(s, z, start, stop, run)
    if _latest_run(z, s.judged, float(fixed["centre"][0]), start, stop) is None:
        return None, base
    return run, run


def _assemble(metric: Metric, s: _Series, z, effect, parts: list[dict], bounds) -> dict:
    """Per-point arrays from the phases' limits, with the rules run within each phase."""
    keys = ("centre", "upper", "lower", "near_upper", "near_lower")
    arr = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    judged_z = np.where(s.judged, z, np.nan)
    flags = {k: np.zeros(len(z), bool) for k in stats.RULES + ("any",)}
    flags["side"] = np.zeros(len(z), int)
    for (a, b), p in zip(bounds, parts):
        f = stats.special_causes(judged_z[a:b], *(p[k] for k in keys))
        for k in flags:
            flags[k][a:b] = f[k]
    out = {
        "kind": s.kind,
        "months": list(s.months),
        "values": s.values,
        "expectation": arr["centre"] + effect,
        "centre": arr["centre"],
        "judged": s.judged,
        "incomplete": ~s.judged,
        "flags": flags,
    }
    for k in keys[1:]:
        out[k] = arr[k] + effect
    last = parts[-1]
    out["n_limit_points"] = last["n"]
    out["trial"] = stats.trial_limits(last["n"])
    out["amr" if s.kind == "xmr" else "sigma_z"] = last["amr" if s.kind == "xmr" else "sigma_z"]
    if s.kind == "p":
        out["laney"] = last["laney"]
    return out


def _phase_record(s: _Series, k: int, a: int, b: int, base: int, part: dict, cp: ChangePoint | None) -> dict:
    return {
        "phase": k + 1,
        "first": s.months[a],
        "last": s.months[b - 1],
        "source": "change point" if cp else "start of data",
        "title": cp.title if cp else "",
        "reason": cp.reason if cp else "",
        "centre": float(part["centre"][0]),
        "limits_from": s.months[a],
        "limits_to": s.months[base - 1],
        "n_limit_points": part["n"],
        "trial": stats.trial_limits(part["n"]),
    }


def _phase_change(s: _Series, z, bounds, base_stop, starts) -> dict:
    """The latest phase judged against the limits of the phase before it, extended: did the
    declared change move the process? side 0 when its months sit within the earlier limits.
    (For a seasonal series z is already value − seasonal effect, so the comparison is too.)"""
    (a0, _), (a1, b1) = bounds[-2], bounds[-1]
    cp = starts[-1][1]
    ext = _limits(s, z, a0, b1, base_stop[-2])
    cut = slice(a1 - a0, b1 - a0)
    keys = ("centre", "upper", "lower", "near_upper", "near_lower")
    f = stats.special_causes(np.where(s.judged, z, np.nan)[a1:b1], *(ext[k][cut] for k in keys))
    hits = np.flatnonzero(f["any"])
    if not len(hits):
        return {"month": cp.month, "title": cp.title, "side": 0, "rules": []}
    rules = [r for r in stats.RULES if f[r][hits].any()]
    return {"month": cp.month, "title": cp.title, "side": int(f["side"][hits[-1]]), "rules": rules}


def _good(metric: Metric) -> int:
    return stats.DIRECTIONS[metric.direction]


def _reading(metric: Metric, res: dict, unseparated: bool) -> dict:
    """The chart's reading on its latest judged point, and the reasons in plain words."""
    values = np.where(res["judged"], res["values"], np.nan)
    own = stats.variation_reading(values, res["flags"], metric.direction)
    change, detail = res["change"], []
    reading, code, rules = own["reading"], own["code"], own["latest_rules"]
    moved = change is not None and change["side"] != 0
    if code in ("improvement", "concern") or moved:
        if unseparated:
            reading, code = UNSEPARATED, "unseparated"
        elif code == "common":
            good = change["side"] == _good(metric)
            reading = stats.IMPROVEMENT if good else stats.CONCERN
            code = "improvement" if good else "concern"
            rules = change["rules"]
    if res["season"] is not None:
        detail.append(res["season"].note)
    if change is not None:
        detail.append(_change_text(metric, change))
    if res["proposal"]:
        detail.append(
            f"a sustained shift from {res['proposal']['month']}: confirm it as a change point to rebase the limits"
        )
    return {
        "reading": reading,
        "code": code,
        "latest_rules": rules,
        "signals": own["signals"],
        "detail": detail,
    }


def _change_text(metric: Metric, change: dict) -> str:
    where = f"limits rebased at {change['month']} ({change['title']})"
    if not change["side"]:
        return f"{where}; the months since sit within the limits of the phase before"
    word = "above" if change["side"] > 0 else "below"
    better = "better" if change["side"] == _good(metric) else "worse"
    return f"{where}; the months since run {word} the phase before ({better})"


def _signals(metric: Metric, res: dict, unseparated: bool) -> list[str]:
    out = []
    for judged, hit, side in zip(res["judged"], res["flags"]["any"], res["flags"]["side"]):
        if not judged:
            out.append("left out")
        elif not hit:
            out.append("common")
        elif unseparated:
            out.append("possible")
        else:
            out.append("improvement" if side == _good(metric) else "concern")
    return out


def _method(s: _Series, last: dict, season) -> str:
    if s.kind == "xmr":
        text = "XmR chart (limits 2.66 × the mean moving range)"
        if season is not None and season.seasonal:
            text = "XmR chart of value − seasonal expectation (limits 2.66 × its mean moving range)"
        return text + "; limits per phase"
    sigma_z = last["sigma_z"]
    if last["laney"]:
        return (
            f"Laney p′ chart (σz = {sigma_z:.2f}: more month-to-month spread than the binomial alone, "
            "so limits are widened); limits per phase"
        )
    return f"p-chart (σz = {sigma_z:.2f}: no over-dispersion, binomial limits); limits per phase"
