"""A meeting's agenda, assembled from the engine's numbers and the committee's own records.

Sections, in order: the meeting and its stamp; what changed since the last meeting (the numbers
the committee saw then against the numbers when this meeting was opened, and whether the SPC rules
call the movement a signal or noise); the quality scorecard against targets; cost against the
benchmark (completed, with its range); attribution gains and losses; the settlement estimate with
its range; the annotations of the period; open and overdue action items; decisions.

`numbers` computes everything that comes from the claims (cacheable per build and viewer); the
annotations, action items and decisions are read from the state store every time, so what
someone wrote a minute ago is on the agenda. The page, the presenter mode and the packet all draw
`assemble`'s sections, and the viewer decides what is in them: the joint view's agenda comes from
the engine already suppressed and has no member identifiers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from vbc import actions, annotations, cost, engine, meeting_charts, quality, readings
from vbc.collab import side_label
from vbc.formats import format_count, format_value, interval_text
from vbc.marts import CATEGORY_LABELS, SERVICE_CATEGORIES
from vbc.periods import Period
from vbc.registry import Registry
from vbc.security import NotEntitled, Viewer
from vbc.terms import contract_of
from vbc.workspace import Workspace

HEADLINE = "total_cost_pmpm_completed"
SNAPSHOT_VIEWER = Viewer("joint")
MAX_READINGS = 4  # SPC readings computed for the largest moves (each is a monthly series)
MOVES_MONTHS = 3


@dataclass(frozen=True)
class AgendaKey:
    """What the numbers of a meeting's agenda depend on (hashable, so a page can cache them)."""

    meeting_id: int
    organization: str | None
    period_start: str
    period_end: str
    snapshot: str
    previous: str  # the previous meeting's snapshot (JSON), "" for a first meeting
    previous_label: str = ""


@dataclass
class Section:
    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, object]] = field(default_factory=list)


@dataclass
class Agenda:
    meeting: object
    viewer: Viewer
    stamp: dict
    sections: list[Section]

    @property
    def stamp_line(self) -> str:
        s = self.stamp
        return (
            f"Paid through {s.get('paid_through')} · incurred through {s.get('incurred_through')} · "
            f"fingerprint {s.get('fingerprint')} · viewer: {self.viewer.label}"
        )


def default_period(ws: Workspace) -> Period:
    """The performance year the latest data falls in, to date."""
    full = engine.data_period(ws)
    return Period(max(date(full.end.year, 1, 1), full.start), full.end)


def change_metric_ids(registry: Registry) -> list[str]:
    """The lines compared meeting to meeting: headline cost and utilization, every completed cost
    category and every quality measure."""
    ids = [HEADLINE, *(m.id for m in registry.for_page("overview") if m.id != "total_cost_pmpm")]
    ids += [f"pmpm_{c}_completed" for c in SERVICE_CATEGORIES if f"pmpm_{c}_completed" in registry.metrics]
    ids += [m.id for m in quality.quality_metrics(registry)]
    return list(dict.fromkeys(i for i in ids if i in registry.metrics))


def _filters(organization: str | None) -> dict:
    return {"organization": organization} if organization else {}


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def snapshot(ws: Workspace, registry: Registry, organization: str | None, period: Period) -> dict:
    """The numbers a meeting was opened on, in the joint view (safe to show to every party)."""
    ids = change_metric_ids(registry)
    df = engine.compute_metrics(ws, registry, ids, SNAPSHOT_VIEWER, period, (), _filters(organization))
    values = {}
    for r in df.to_dict("records"):
        values[r["metric_id"]] = {
            "value": None if r["suppressed"] else _num(r["value"]),
            "ci_low": None if r["suppressed"] else _num(r["ci_low"]),
            "ci_high": None if r["suppressed"] else _num(r["ci_high"]),
            "suppressed": bool(r["suppressed"]),
        }
    return {"period": period.label, "viewer": SNAPSHOT_VIEWER.key, "values": values}


def key_for(meeting, previous) -> AgendaKey:
    return AgendaKey(
        meeting_id=meeting.id,
        organization=meeting.organization,
        period_start=meeting.period_start,
        period_end=meeting.period_end,
        snapshot=json.dumps(meeting.snapshot, sort_keys=True),
        previous=json.dumps(previous.snapshot, sort_keys=True) if previous else "",
        previous_label=previous.label if previous else "",
    )


def _moved(before: dict, now: dict) -> bool:
    """The number the committee saw last time lies outside today's 95% interval (or, without an
    interval, moved by more than 2%)."""
    b, v = before.get("value"), now.get("value")
    if b is None or v is None:
        return False
    lo, hi = now.get("ci_low"), now.get("ci_high")
    if lo is not None and hi is not None:
        return not (lo <= b <= hi)
    return abs(v - b) > 0.02 * abs(b)


def changes(ws, registry, viewer, key: AgendaKey, change_points=()) -> pd.DataFrame:
    """One row per compared line: before, now, change, moved, and the SPC reading of the lines
    that moved most (the rest: not read here)."""
    now = json.loads(key.snapshot).get("values", {})
    before = json.loads(key.previous).get("values", {}) if key.previous else {}
    rows = []
    for mid in change_metric_ids(registry):
        m, n, b = registry.get(mid), now.get(mid, {}), before.get(mid, {})
        moved = _moved(b, n)
        change = (
            (n["value"] - b["value"])
            if moved or (n.get("value") is not None and b.get("value") is not None)
            else None
        )
        rows.append(
            {
                "metric_id": mid,
                "line": m.name,
                "at the last meeting": format_value(m, b.get("value")) if b else "—",
                "now": "suppressed" if n.get("suppressed") else format_value(m, n.get("value")),
                "95% interval now": interval_text(
                    m, n.get("ci_low"), n.get("ci_high"), bool(n.get("suppressed"))
                ),
                "moved": "yes" if moved else "no",
                "_size": abs(change / b["value"]) if moved and b.get("value") else 0.0,
                "SPC reading (latest month)": "",
            }
        )
    # Moved lines first, largest first; otherwise the order of change_metric_ids (headline first).
    df = pd.DataFrame(sorted(rows, key=lambda r: (r["moved"] != "yes", -r["_size"])))
    to_read = [HEADLINE] + df.loc[df["moved"] == "yes", "metric_id"].head(MAX_READINGS).tolist()
    for mid in dict.fromkeys(to_read):
        try:
            res = readings.chart_for(
                ws,
                registry,
                viewer,
                mid,
                filters=_filters(key.organization),
                change_points=list(change_points),
            )
            df.loc[df["metric_id"] == mid, "SPC reading (latest month)"] = res["reading"]
        except (NotEntitled, ValueError, KeyError) as exc:
            df.loc[df["metric_id"] == mid, "SPC reading (latest month)"] = f"not available ({exc})"
    return df.drop(columns=["_size"]).reset_index(drop=True)


def quality_numbers(ws, registry, viewer, key: AgendaKey) -> dict:
    period = Period.from_months(key.period_start, key.period_end)
    measures = quality.quality_metrics(registry)
    contract = contract_of(
        ws, key.organization or (viewer.organization if viewer.kind == "org" else None), period.end.year
    )
    rates = engine.compute_metrics(
        ws, registry, [m.id for m in measures], viewer, period, (), _filters(key.organization)
    )
    rows = []
    for m in measures:
        r = rates[rates["metric_id"] == m.id]
        r = r.iloc[0] if len(r) else None
        target, _ = quality.target_for(m, contract)
        hidden = r is None or bool(r["suppressed"])
        value = None if hidden else _num(r["value"])
        met = None if hidden or bool(r["too_few"]) else quality.meets(m, value, target)
        rows.append(
            {
                "measure": m.name + (" (lower is better)" if m.direction == "lower" else ""),
                "rate": "suppressed" if r is not None and hidden else format_value(m, value),
                "95% interval": "" if hidden else interval_text(m, r["ci_low"], r["ci_high"]),
                "denominator": "suppressed" if hidden else format_count(r["denominator"]),
                "target": format_value(m, target) if target is not None else "—",
                "against target": "too few to judge"
                if r is not None and not hidden and bool(r["too_few"])
                else {True: "meets target", False: "short of target", None: "—"}[met],
                "_value": value,
                "_low": None if hidden else _num(r["ci_low"]),
                "_high": None if hidden else _num(r["ci_high"]),
                "_target": target,
            }
        )
    try:
        comp = quality.quality_composite(ws, registry, contract, viewer, period)
    except NotEntitled:
        comp = None
    return {"rows": rows, "composite": comp, "contract": contract.contract_id if contract else None}


def cost_numbers(ws, registry, viewer, key: AgendaKey) -> dict:
    period = Period.from_months(key.period_start, key.period_end)
    org = key.organization
    exp = cost.expenditure(ws, viewer, period, organization=org)
    bench = cost.contract_benchmark(ws, viewer, org, period.end.year)
    ids = []
    for c in SERVICE_CATEGORIES:
        ids += [f"pmpm_{c}_completed"]
    cats = engine.compute_metrics(
        ws, registry, ["total_cost_pmpm_completed", *ids], viewer, period, (), _filters(org)
    )
    full = engine.data_period(ws)
    trend = engine.compute_metrics(
        ws, registry, ["total_cost_pmpm", "total_cost_pmpm_completed"], viewer, full, ["month"], _filters(org)
    )
    return {"expenditure": exp, "benchmark": bench, "categories": cats, "trend": trend}


def attribution_numbers(ws, viewer, key: AgendaKey) -> dict:
    from vbc import attribution

    period = Period.from_months(key.period_start, key.period_end)
    data = attribution.page_data(
        ws, viewer, period.start, period.end, attribution.AttributionSettings(), ("organization",)
    )
    moves = data["moves"]
    if key.organization:
        moves = moves[moves["organization"] == key.organization]
    counts = data["counts"]
    if key.organization and "organization" in counts:
        counts = counts[counts["organization"] == key.organization]
    return {"moves": moves.reset_index(drop=True), "counts": counts.reset_index(drop=True)}


def settlement_numbers(ws, registry, viewer, key: AgendaKey) -> list[dict]:
    from vbc.settlement_claims import contracts_for_viewer, settlement_for

    year = Period.from_months(key.period_start, key.period_end).end.year
    out = []
    for terms in contracts_for_viewer(ws, viewer):
        if terms.performance_year != year or (
            key.organization and terms.provider_organization != key.organization
        ):
            continue
        row = {"contract": terms.contract_id, "organization": terms.provider_organization}
        try:
            est = settlement_for(ws, terms, viewer, registry)
        except NotEntitled as exc:
            out.append({**row, "shown": False, "why": str(exc)})
            continue
        rng = est.range
        out.append(
            {
                **row,
                "shown": True,
                "status": est.status,
                "payment": float(est.settlement.final_payment),
                "payment_low": float(rng["payment_low"]),
                "payment_high": float(rng["payment_high"]),
                "savings_rate_low": float(rng["savings_rate_low"]),
                "savings_rate_high": float(rng["savings_rate_high"]),
                "msr": float(rng["minimum_savings_rate"]),
                "straddles_msr": bool(rng["straddles_msr"]),
            }
        )
    return out


def numbers(
    ws: Workspace, registry: Registry, viewer: Viewer, key: AgendaKey, change_points: tuple = ()
) -> dict:
    """Everything on the agenda that comes from the claims, for `viewer`."""
    if viewer.kind == "org" and key.organization not in (None, viewer.organization):
        raise NotEntitled(
            f"{viewer.organization} may not see the agenda of a meeting about {key.organization}"
        )
    headline = readings.chart_for(
        ws, registry, viewer, HEADLINE, filters=_filters(key.organization), change_points=list(change_points)
    )
    return {
        "changes": changes(ws, registry, viewer, key, change_points),
        "headline": headline,
        "quality": quality_numbers(ws, registry, viewer, key),
        "cost": cost_numbers(ws, registry, viewer, key),
        "attribution": attribution_numbers(ws, viewer, key),
        "settlement": settlement_numbers(ws, registry, viewer, key),
    }


# ------------------------------------------------------------------------------------------------
# The sections


def _cover(meeting, previous, now_stamp: dict) -> Section:
    s = Section("meeting", meeting.title)
    opened = meeting.stamp
    s.lines = [
        f"Held on {meeting.held_on:%A %d %B %Y} · "
        + (f"organization: {meeting.organization}" if meeting.organization else "all organizations")
        + f" · performance period {meeting.period.label}",
        "Attendees: " + ("; ".join(meeting.attendees) if meeting.attendees else "not recorded"),
        f"Data when the meeting was opened: paid through {opened.get('paid_through')}, "
        f"fingerprint {opened.get('fingerprint')}.",
    ]
    if opened.get("fingerprint") != now_stamp.get("fingerprint"):
        s.lines.append(
            f"The data have been rebuilt since: now paid through {now_stamp.get('paid_through')}, "
            f"fingerprint {now_stamp.get('fingerprint')}. What changed compares the numbers the "
            "meetings were opened on; the other sections show today's numbers."
        )
    s.lines.append(
        f"Previous meeting: {previous.label} (paid through {previous.stamp.get('paid_through')})."
        if previous
        else "No earlier meeting about this organization: nothing to compare with yet."
    )
    return s


def _changed(nums: dict, key: AgendaKey, registry: Registry, notes: list) -> Section:
    from vbc import chart_notes, charts

    s = Section("changes", "What changed since the last meeting")
    df = nums["changes"]
    moved = df[df["moved"] == "yes"]
    if not key.previous:
        s.lines.append("First meeting: the numbers below are the baseline the next meeting compares with.")
    elif moved.empty:
        s.lines.append("No line moved outside its 95% interval since the last meeting.")
    else:
        s.lines.append(
            f"{len(moved)} line(s) moved outside today's 95% interval since {key.previous_label}: "
            + ", ".join(moved["line"].head(6))
            + ". Whether a move is a signal or noise is the SPC reading's call, not the size of the move."
        )
    shown = pd.concat([moved, df[df["moved"] != "yes"]])
    s.tables.append(("Compared lines (joint view)", shown.drop(columns=["metric_id"])))
    res = nums["headline"]
    if "values" in res and pd.Series(res["values"], dtype=float).notna().any():
        metric = registry.get(HEADLINE)
        fig = charts.spc_figure(metric, res["months"], res["values"], res, y_title="completed PMPM ($)")
        chart_notes.add_notes(
            fig,
            res["months"],
            [n for n in notes if n.applies_to(HEADLINE)],
            chart_organization=key.organization,
            # Below the chart's own labels: phase lines, a proposed change point, the incomplete band.
            first_row=max(len(res.get("phases", [])) - 1, 0)
            + (1 if res.get("proposal") else 0)
            + (1 if pd.Series(res.get("incomplete", []), dtype=bool).any() else 0),
        )
        fig.update_layout(height=420)
        s.figures.append((f"{metric.name}: {res['reading']}", fig))
    return s


def _quality(nums: dict) -> Section:
    q = nums["quality"]
    s = Section("quality", "Quality scorecard against targets")
    comp = q["composite"]
    if comp is not None:
        s.lines.append(
            f"Quality composite {comp['score']:.1f} of 100; {comp['share_meeting_target']:.0%} of the "
            f"{comp['judged']} judged measures meet their target"
            + (
                f" (targets and weights of contract {q['contract']})."
                if q["contract"]
                else " (definition targets)."
            )
        )
    rows = pd.DataFrame(q["rows"])
    s.tables.append(("Measures", rows[[c for c in rows.columns if not c.startswith("_")]]))
    s.figures.append(
        ("Rates with their 95% intervals against the target", meeting_charts.scorecard_figure(q["rows"]))
    )
    return s


def _cost(nums: dict, key: AgendaKey, registry: Registry, notes: list, paid_through) -> Section:
    from vbc import chart_notes, charts

    c = nums["cost"]
    exp, bench = c["expenditure"], c["benchmark"]
    s = Section("cost", "Cost of care against the benchmark")
    line = (
        f"Completed PMPM ${exp['pmpm']:,.2f} (range ${exp['pmpm_low']:,.2f} – ${exp['pmpm_high']:,.2f}); "
        f"raw PMPM paid so far ${exp['pmpm_raw']:,.2f}."
        if not math.isnan(exp["pmpm"])
        else "No member months in this selection."
    )
    s.lines.append(line)
    if bench and not math.isnan(exp["pmpm"]):
        gap = exp["pmpm"] - bench[0]
        s.lines.append(
            f"Benchmark ${bench[0]:,.2f} ({bench[1]}): completed is ${abs(gap):,.2f} "
            f"({abs(gap) / bench[0]:.1%}) {'above' if gap > 0 else 'below'} it"
            + (
                "; the range straddles the benchmark."
                if exp["pmpm_low"] <= bench[0] <= exp["pmpm_high"]
                else "."
            )
        )
    elif not bench:
        s.lines.append(
            "No fixed contract benchmark for this selection (a benchmark belongs to one organization)."
        )
    if exp["incomplete_months"]:
        s.lines.append(f"Incomplete months (claims still arriving): {', '.join(exp['incomplete_months'])}.")
    cats = c["categories"]
    rows = []
    for cat in ["total", *SERVICE_CATEGORIES]:
        mid = "total_cost_pmpm_completed" if cat == "total" else f"pmpm_{cat}_completed"
        r = cats[cats["metric_id"] == mid]
        if r.empty:
            continue
        r = r.iloc[0]
        hidden = bool(r["suppressed"])
        rows.append(
            {
                "category": "Total cost of care" if cat == "total" else CATEGORY_LABELS.get(cat, cat),
                "completed PMPM": "suppressed" if hidden else f"${r['value']:,.2f}",
                "completion range": "" if hidden else f"${r['ci_low']:,.2f} – ${r['ci_high']:,.2f}",
            }
        )
    s.tables.append(("By service category (completed)", pd.DataFrame(rows)))
    t = c["trend"]
    raw = t[t["metric_id"] == "total_cost_pmpm"].set_index("month")
    comp = t[t["metric_id"] == "total_cost_pmpm_completed"].set_index("month")
    months = sorted(str(m) for m in raw.index.dropna())
    if months:
        fig = charts.completion_figure(
            months,
            raw["value"].reindex(months).tolist(),
            comp["value"].reindex(months).tolist(),
            comp["ci_low"].reindex(months).tolist(),
            comp["ci_high"].reindex(months).tolist(),
            comp["incomplete"].reindex(months).fillna(False).astype(bool).tolist(),
            benchmark=bench[0] if bench else None,
            paid_through=paid_through,
        )
        chart_notes.add_notes(
            fig,
            months,
            [n for n in notes if n.applies_to(HEADLINE)],
            chart_organization=key.organization,
            first_row=1,
        )
        fig.update_layout(height=400)
        s.figures.append(("Monthly PMPM: raw and completed", fig))
    return s


def _attribution(nums: dict) -> Section:
    a = nums["attribution"]
    s = Section("attribution", "Attribution: members gained and lost")
    moves = a["moves"]
    months = sorted(moves["month"].unique())[-MOVES_MONTHS:] if len(moves) else []
    recent = moves[moves["month"].isin(months)]
    if recent.empty:
        s.lines.append("No attribution moves in the period.")
        return s
    if recent["suppressed"].any():
        s.lines.append(
            "Counts from 1 to 10 are hidden in the joint view (and any count they could be worked out from)."
        )
    wide = recent.assign(
        cell=[
            ("1–10 or hidden" if sup else f"{v:,.0f}")
            for v, sup in zip(recent["members"], recent["suppressed"])
        ]
    ).pivot_table(
        index=["organization", "direction", "reason"], columns="month", values="cell", aggfunc="first"
    )
    s.tables.append((f"Last {len(months)} month(s), by reason", wide.reset_index()))
    s.figures.append(
        ("Gains and losses by month (hidden counts not drawn)", meeting_charts.moves_figure(recent))
    )
    return s


def _settlement(nums: dict) -> Section:
    s = Section("settlement", "Settlement estimate with its range")
    items = nums["settlement"]
    if not items:
        s.lines.append("No contract for this selection and performance year.")
        return s
    rows = []
    for r in items:
        if not r["shown"]:
            rows.append(
                {
                    "contract": r["contract"],
                    "organization": r["organization"],
                    "status": "not shown",
                    "payment": r["why"],
                    "95% range": "",
                }
            )
            continue
        rows.append(
            {
                "contract": r["contract"],
                "organization": r["organization"],
                "status": r["status"],
                "payment": f"${r['payment']:,.0f}",
                "95% range": f"${r['payment_low']:,.0f} to ${r['payment_high']:,.0f}",
                "savings rate range": f"{r['savings_rate_low']:.1%} to {r['savings_rate_high']:.1%} (MSR {r['msr']:.1%})",
            }
        )
        if r["straddles_msr"]:
            s.lines.append(
                f"{r['contract']}: the range crosses the minimum savings rate; the result could land on either side."
            )
    s.lines.insert(
        0, "Positive: the payer pays the organization; negative: the organization pays. Ranges are 95%."
    )
    s.tables.append(("Contracts", pd.DataFrame(rows)))
    if any(r["shown"] for r in items):
        s.figures.append(
            (
                "Final payment with its 95% range",
                meeting_charts.settlement_figure([r for r in items if r["shown"]]),
            )
        )
    return s


def _notes_section(notes: list, registry: Registry) -> Section:
    s = Section("annotations", "Annotations of the period")
    if not notes:
        s.lines.append("No annotations for this period yet.")
        return s
    s.tables.append(
        (
            "Notes on the charts",
            pd.DataFrame(
                [
                    {
                        "months": n.months_text,
                        "title": n.title,
                        "text": n.text,
                        "metric": registry.metrics[n.metric_id].name
                        if n.metric_id in registry.metrics
                        else "all metrics",
                        "organization": n.organization or "all",
                        "seen by": side_label(n.visibility),
                        "change point": "yes" if n.change_point else "",
                        "author": n.created_by,
                    }
                    for n in notes
                ]
            ),
        )
    )
    return s


def _actions_section(store, viewer: Viewer, key: AgendaKey, registry: Registry, today: date) -> Section:
    s = Section("actions", "Action items: open and overdue")
    items = actions.visible(store, viewer, organization=key.organization, open_only=True)
    late = [a for a in items if a.overdue(today)]
    s.lines.append(f"{len(items)} open item(s), {len(late)} overdue." if items else "No open action items.")
    names = {m.id: m.name for m in registry}
    if items:
        rows = actions.rows(store, late + [a for a in items if not a.overdue(today)], today, names)
        s.tables.append(("Open items, overdue first", pd.DataFrame(rows)))
    done = [
        a
        for a in actions.visible(store, viewer, organization=key.organization)
        if a.meeting_id == key.meeting_id and a.status not in actions.OPEN
    ]
    if done:
        s.tables.append(("Closed in this meeting", pd.DataFrame(actions.rows(store, done, today, names))))
    return s


def _decisions_section(store, meeting) -> Section:
    from vbc import meetings

    s = Section("decisions", "Decisions on record")
    items = meetings.decisions_of(store, meeting.id)
    if not items:
        s.lines.append("No decisions recorded in this meeting yet.")
        return s
    s.tables.append(
        (
            "Decisions",
            pd.DataFrame(
                [
                    {
                        "decision": d.decision,
                        "rationale": d.rationale,
                        "recorded by": d.created_by,
                        "at": f"{d.created_at:%Y-%m-%d %H:%M} UTC",
                    }
                    for d in items
                ]
            ),
        )
    )
    return s


def assemble(
    ws: Workspace,
    registry: Registry,
    store,
    meeting,
    viewer: Viewer,
    *,
    nums: dict | None = None,
    change_points: tuple | None = None,
    today: date | None = None,
) -> Agenda:
    """The meeting's agenda for `viewer`: numbers from the claims (`nums`, computed when not
    given) and the committee's records as they are in the store now."""
    from vbc import meetings

    today = today or date.today()
    previous = meetings.previous(store, meeting)
    key = key_for(meeting, previous)
    if change_points is None:
        change_points = tuple(all_change_points(ws, store))
    if nums is None:
        nums = numbers(ws, registry, viewer, key, change_points)
    period = meeting.period
    notes = annotations.visible(
        store,
        viewer,
        organization=meeting.organization,
        start=f"{period.start:%Y-%m}",
        end=f"{period.end:%Y-%m}",
    )
    chart_notes_all = annotations.visible(store, viewer, organization=meeting.organization)
    now_stamp = engine.stamp(ws, registry)
    sections = [
        _cover(meeting, previous, now_stamp),
        _changed(nums, key, registry, chart_notes_all),
        _quality(nums),
        _cost(nums, key, registry, chart_notes_all, now_stamp.get("paid_through")),
        _attribution(nums),
        _settlement(nums),
        _notes_section(notes, registry),
        _actions_section(store, viewer, key, registry, today),
        _decisions_section(store, meeting),
    ]
    return Agenda(meeting=meeting, viewer=viewer, stamp=now_stamp, sections=sections)


def all_change_points(ws: Workspace, store) -> list:
    """The change points the charts rebase at: the data directory's change_points.yaml and the
    annotations marked as change points."""
    from vbc import spc

    return [*spc.load_change_points(ws.data_dir), *annotations.change_points(store)]
