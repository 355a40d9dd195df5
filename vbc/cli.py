"""Command line: `python -m vbc <command>`. Calls the same engine functions as the pages."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from vbc.engine import GROUPINGS, compute_metrics, data_period, export_rows, organizations, stamp
from vbc.periods import Period
from vbc.registry import MetricDefinitionError, load_registry
from vbc.security import Viewer
from vbc.workspace import NoBuildError, Workspace

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _err(*lines: str) -> None:
    for line in lines:
        print(line, file=sys.stderr)


def open_ready(data: str) -> Workspace:
    """Build when the extracts changed; keep serving the last good build when the new one fails
    or another build is running. The workspace returned is pinned to the build it serves."""
    ws = Workspace.open(data)
    result = ws.ensure_built()
    if result is not None and result.busy:
        if not ws.good:
            _err(
                "Another build of these extracts is running and there is no earlier good build yet; try again shortly."
            )
            raise SystemExit(EXIT_INVALID)
        _err(
            "NOTE: the extracts changed and another build is running; serving the last good build "
            f"(built {ws.good.get('built_at')})."
        )
        return ws
    failed = result.report if result is not None and not result.ok else ws.failed_report
    if failed is not None:
        if not ws.good:
            _err("The data could not be built and there is no earlier good build:", failed.text())
            raise SystemExit(EXIT_INVALID)
        _err(
            "WARNING: the newest extracts could not be built; serving the last good build "
            f"(built {ws.good.get('built_at')}).",
            failed.text(),
        )
    return ws


def known_viewer(ws: Workspace, text: str) -> Viewer:
    """The --viewer of a command, refused (exit 2) when it names an organization the build does not
    know, listing the ones it does; an empty export with exit 0 would look like a real answer."""
    viewer = Viewer.parse(text)
    if viewer.kind == "org":
        known = organizations(ws)
        if viewer.organization not in known:
            raise ValueError(
                f"unknown organization '{viewer.organization}' in --viewer; known: {', '.join(known) or 'none'}"
            )
    return viewer


def cmd_demo(args: argparse.Namespace) -> int:
    from vbc.demo import generate

    summary = generate(
        Path(args.out),
        members=args.members,
        months=args.months,
        seed=args.seed,
        **({"end_month": args.end} if args.end else {}),
    )
    print(json.dumps({k: summary[k] for k in summary if k != "stories"}, indent=1, default=str))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from vbc.validate import validate

    report = validate(Path(args.data))
    print(report.text())
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_build(args: argparse.Namespace) -> int:
    ws = Workspace.open(args.data)
    result = ws.build(accept_shrink=args.accept_shrink)
    print(result.report.text())
    if result.busy:
        _err("Another build of these extracts is running; nothing was built.")
        return EXIT_INVALID
    if not result.ok:
        if ws.good:
            _err(f"Build failed; the last good build (built {ws.good.get('built_at')}) keeps serving.")
        return EXIT_INVALID
    print(
        f"Built {ws.mart_path} in {result.seconds:.1f}s; paid through {result.meta['paid_through'] or 'unknown (no paid dates)'}, "
        f"attribution {result.meta['attribution_source']}."
    )
    return EXIT_OK


def _period(args: argparse.Namespace, ws: Workspace) -> Period:
    full = data_period(ws)
    start = args.start or f"{full.start:%Y-%m}"
    end = args.end or f"{full.end:%Y-%m}"
    return Period.from_months(start, end)


# The stamp columns of a CSV export: the numbers' stamp, then who produced it and as which viewer.
STAMP_COLUMNS = ("paid_through", "incurred_through", "fingerprint", "viewer", "account")


def _write(doc_stamp: dict, rows: list[dict], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"stamp": doc_stamp, "rows": rows}, indent=1, default=str))
        return
    out = io.StringIO()
    stamp_cols = {f"stamp_{k}": doc_stamp.get(k) for k in STAMP_COLUMNS}
    fields = list(rows[0].keys()) if rows else []
    writer = csv.DictWriter(out, fieldnames=[*fields, *stamp_cols], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, **stamp_cols})
    sys.stdout.write(out.getvalue())


def _audited(data: str, doc_stamp: dict, rows: list[dict], command: str, detail: dict | None = None) -> dict:
    """Record the export (one audit row, under the operating-system user) before it is printed,
    and return its stamp with the viewer and the account next to it."""
    from vbc import audit
    from vbc.store import open_store

    actor = audit.cli_actor(doc_stamp.get("viewer"))
    audit.record(
        open_store(data),
        actor,
        "export",
        stamp=doc_stamp,
        detail={"command": command, **(detail or {})},
        row_count=len(rows),
    )
    return audit.export_stamp(doc_stamp, actor)


def _export(args: argparse.Namespace, doc_stamp: dict, rows: list[dict], detail: dict | None = None) -> None:
    """Audit, then print, one export of a command that reads the extracts."""
    detail = {"format": args.format, **(detail or {})}
    if getattr(args, "start", None) or getattr(args, "end", None):
        detail["period"] = f"{args.start or ''}..{args.end or ''}"
    _write(_audited(args.data, doc_stamp, rows, args.command, detail), rows, args.format)


def cmd_metrics(args: argparse.Namespace) -> int:
    registry = load_registry()
    ws = open_ready(args.data)
    viewer = known_viewer(ws, args.viewer)
    # Default: every metric of the registry (completed PMPMs included).
    metric_ids = args.metric or sorted(registry.metrics)
    for m in metric_ids:
        registry.get(m)
    by = list(args.by or [])
    df = compute_metrics(ws, registry, metric_ids, viewer, _period(args, ws), by)
    doc_stamp = {**stamp(ws, registry), "viewer": viewer.key}
    _export(args, doc_stamp, export_rows(df, by), {"metric_ids": metric_ids, "filters": {"by": by}})
    return EXIT_OK


def cmd_spc(args: argparse.Namespace) -> int:
    """Each month of one metric's SPC chart (per organization, TIN or PCP with --by): the point, its
    phase, what it was judged against, its rule flags and the reading, from the function the pages
    call (vbc.readings.chart_for)."""
    from vbc import readings
    from vbc.agenda import all_change_points
    from vbc.spc import ChangePointError
    from vbc.terms import HighCostCap

    registry = load_registry()
    metric = registry.get(args.metric)
    ws = open_ready(args.data)
    viewer = known_viewer(ws, args.viewer)
    cap = HighCostCap(amount=args.cap) if args.cap else None
    try:
        charts = readings.charts_by(
            ws,
            registry,
            viewer,
            metric.id,
            args.by,
            start=args.start,
            end=args.end,
            cap=cap,
            target=metric.target,
            # The charts the pages draw: change_points.yaml and the annotations marked as change points.
            change_points=all_change_points(ws, _store(args)),
        )
    except ChangePointError as exc:
        _err(f"error: {exc}")
        return EXIT_INVALID
    rows = [row for group, res in charts for row in readings.point_rows(res, group)]
    summaries = [readings.chart_summary(res, group) for group, res in charts]
    doc_stamp = {**stamp(ws, registry), "viewer": viewer.key, "metric_id": metric.id}
    detail = {"metric_ids": [metric.id], "filters": {"by": args.by, "cap": args.cap}}
    if args.format == "csv":
        _export(args, doc_stamp, rows, detail)
        return EXIT_OK
    detail = {"format": args.format, **detail}
    out_stamp = _audited(args.data, doc_stamp, rows, args.command, detail)
    print(json.dumps({"stamp": out_stamp, "charts": summaries, "rows": rows}, indent=1, default=str))
    return EXIT_OK


def _attribution_settings(args: argparse.Namespace):
    from vbc.attribution import AttributionSettings
    from vbc.terms import load_terms

    if args.contract:
        return load_terms(args.contract).attribution
    return AttributionSettings(args.window, args.mode)


def cmd_attribution(args: argparse.Namespace) -> int:
    from vbc import attribution
    from vbc.periods import parse_month
    from vbc.security import NotEntitled

    viewer = Viewer.parse(args.viewer)
    if not viewer.member_level:
        _err(
            "error: the joint (de-identified) view cannot export member-level attribution; "
            "use --viewer payer or --viewer org:NAME (the Attribution page shows the joint view's counts)"
        )
        return EXIT_INVALID
    settings = _attribution_settings(args)
    ws = open_ready(args.data)
    known_viewer(ws, args.viewer)
    period = _period(args, ws)
    window = None
    if args.start:  # an explicit assignment window replaces the contract's
        window = (period.start, period.end)
    con = ws.connect()
    try:
        df = attribution.attribution_at(con, viewer, parse_month(f"{period.end:%Y-%m}"), settings, window)
    except NotEntitled as exc:
        _err(f"error: {exc}")
        return EXIT_INVALID
    finally:
        con.close()
    registry = load_registry()
    doc_stamp = {
        **stamp(ws, registry),
        "viewer": viewer.key,
        "in_force": f"{period.end:%Y-%m}",
        "window": (
            f"{window[0]:%Y-%m} to {window[1]:%Y-%m}"
            if window
            else f"{settings.mode}, {settings.window_months} months"
        ),
    }
    _export(args, doc_stamp, attribution.export_rows(df))
    return EXIT_OK


def _settlement_csv(doc_stamp: dict, rows: list[dict]) -> list[dict]:
    return [{**r, "inputs": json.dumps(r["inputs"], sort_keys=True, default=str)} for r in rows]


def cmd_settlement(args: argparse.Namespace) -> int:
    from vbc import settlement
    from vbc.security import NotEntitled
    from vbc.settlement_claims import settlement_for
    from vbc.terms import ContractTermsError, load_terms

    try:
        terms = load_terms(args.contract)
    except ContractTermsError as exc:
        _err(f"error: {exc}")
        return EXIT_INVALID
    given = [args.benchmark_pmpm, args.actual_pmpm, args.member_months]
    if args.data is None:
        if (
            args.actual_pmpm is None
            or args.member_months is None
            or (args.benchmark_pmpm is None and not terms.benchmark.fixed)
        ):
            _err(
                "error: without --data give --actual-pmpm and --member-months (and --benchmark-pmpm "
                "unless the contract fixes benchmark.pmpm)"
            )
            return EXIT_USAGE
        fig = settlement.Figures(
            member_months=args.member_months,
            actual_pmpm=args.actual_pmpm,
            benchmark_pmpm=args.benchmark_pmpm,
            members=args.members,
            quality_score=args.quality_score,
        )
        result = settlement.settle(terms, fig)
        doc_stamp = {
            "source": "given figures (no claims)",
            "contract": str(terms.path),
            "paid_through": None,
            "incurred_through": None,
            "fingerprint": None,
        }
        extra = {}
    else:
        if any(v is not None for v in given):
            _err(
                "error: --benchmark-pmpm/--actual-pmpm/--member-months are for the calculator without --data"
            )
            return EXIT_USAGE
        viewer = Viewer.parse(args.viewer)
        ws = open_ready(args.data)
        registry = load_registry()
        try:
            estimate = settlement_for(
                ws, terms, viewer, registry, quality_score=args.quality_score, members=args.members
            )
        except NotEntitled as exc:
            _err(f"error: {exc}")
            return EXIT_INVALID
        result = estimate.settlement
        doc_stamp = {
            **stamp(ws, registry),
            "viewer": viewer.key,
            "contract": str(terms.path),
            "status": estimate.status,
            "period": estimate.period.label,
        }
        extra = {"range": estimate.range, "notes": estimate.notes}
    rows = settlement.export_rows(result)
    if args.data is not None:
        doc_stamp = _audited(
            args.data, doc_stamp, rows, "settlement", {"format": args.format, "contract": terms.contract_id}
        )
    if args.format == "json":
        print(json.dumps({"stamp": doc_stamp, **extra, "rows": rows}, indent=1, default=str))
    else:
        _write(
            {k: doc_stamp[k] for k in STAMP_COLUMNS if k in doc_stamp},
            _settlement_csv(doc_stamp, rows),
            "csv",
        )
    return EXIT_OK


def cmd_measure_results(args: argparse.Namespace) -> int:
    """One row per person (per index discharge for discharge measures) for one quality measure."""
    from vbc.quality import measure_results
    from vbc.security import NotEntitled

    registry = load_registry()
    metric = registry.get(args.metric)
    ws = open_ready(args.data)
    viewer = known_viewer(ws, args.viewer)
    try:
        df = measure_results(ws, registry, metric.id, viewer, _period(args, ws))
    except NotEntitled as exc:
        _err(
            f"refused: {exc}; person-level results are for the payer or the member's own "
            "provider organization (--viewer payer or --viewer org:NAME)"
        )
        return 3
    rows = []
    for rec in df.to_dict("records"):
        rows.append(
            {
                k: (
                    None
                    if v is None or (isinstance(v, float) and v != v)
                    else v.item()
                    if hasattr(v, "item")
                    else v
                )
                for k, v in rec.items()
            }
        )
    doc_stamp = {
        **stamp(ws, registry),
        "viewer": viewer.key,
        "metric_id": metric.id,
        "metric_version": metric.version,
    }
    _export(args, doc_stamp, rows, {"metric_ids": [metric.id]})
    return EXIT_OK


FIRST_ADMIN = "python -m vbc users add --data {data} --email YOU@EXAMPLE.ORG --role admin --password-stdin"


def _store(args: argparse.Namespace):
    from vbc.store import open_store

    return open_store(args.data)


def _known_organization(data: str, organization: str | None) -> None:
    """An org account must name an organization of the roster (checked when a build exists)."""
    if not organization:
        return
    ws = Workspace.open(data)
    if not ws.good:
        _err(f"NOTE: no build yet, so '{organization}' was not checked against the roster.")
        return
    known = organizations(ws)
    if organization not in known:
        raise ValueError(
            f"unknown organization '{organization}'; the roster has: {', '.join(known) or 'none'}"
        )


def _read_password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    if sys.stdin.isatty():  # typed by hand: do not echo it
        import getpass

        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ValueError("--password-stdin: no password on standard input")
    return password


def cmd_users_add(args: argparse.Namespace) -> int:
    from vbc import accounts, audit

    _known_organization(args.data, args.organization)
    password = _read_password(args)
    actor = audit.cli_actor()
    try:
        account = accounts.add(
            _store(args), args.email, args.role, args.organization, password, by=actor.account
        )
    except accounts.AccountError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    audit.record(
        _store(args),
        actor,
        "account_add",
        detail={"target": account.email, "role": account.role, "organization": account.organization},
    )
    print(f"Added {account.email} ({account.label}).")
    if password is None:
        print("No password: this account signs in through single sign-on only (see README, Sign-in).")
    return EXIT_OK


def cmd_users_list(args: argparse.Namespace) -> int:
    from vbc import accounts

    rows = accounts.list_accounts(_store(args))
    if not rows:
        _err(
            "No accounts yet: with real extracts the dashboard shows no data until someone signs in.",
            "Create the first administrator (you are asked for a password on standard input):",
            "  " + FIRST_ADMIN.format(data=args.data),
        )
        return EXIT_OK
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "role", "organization", "password", "disabled", "locked_until", "created_at"])
    for a in rows:
        writer.writerow(
            [
                a.email,
                a.role,
                a.organization or "",
                "yes" if a.has_password else "sso only",
                "yes" if a.disabled else "no",
                a.locked_until or "",
                a.created_at,
            ]
        )
    sys.stdout.write(out.getvalue())
    return EXIT_OK


def cmd_users_disable(args: argparse.Namespace) -> int:
    from vbc import accounts, audit

    disable = not args.enable
    try:
        account = accounts.set_disabled(_store(args), args.email, disable)
    except accounts.AccountError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    action = "account_disable" if disable else "account_enable"
    audit.record(_store(args), audit.cli_actor(), action, detail={"target": account.email})
    print(f"{account.email} is {'disabled' if disable else 'enabled'}.")
    return EXIT_OK


def cmd_users_set_password(args: argparse.Namespace) -> int:
    from vbc import accounts, audit

    args.password_stdin = True
    try:
        account = accounts.set_password(_store(args), args.email, _read_password(args))
    except accounts.AccountError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    audit.record(_store(args), audit.cli_actor(), "account_password", detail={"target": account.email})
    print(f"Password of {account.email} replaced (and any lock-out lifted).")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """The audit log since a day, newest first. Reading it is itself an audited export."""
    from datetime import date

    from vbc import audit

    since = date.fromisoformat(args.since) if args.since else None
    until = date.fromisoformat(args.until) if args.until else None
    store = _store(args)
    df = audit.read(store, since=since, until=until, account=args.account, actions=args.action or ())
    df["at"] = df["at"].astype(str)
    rows = [{k: (None if v is None or v != v else v) for k, v in r.items()} for r in df.to_dict("records")]
    actor = audit.cli_actor()
    detail = {"command": "audit", "format": args.format, "since": args.since, "until": args.until}
    audit.record(store, actor, "export", detail=detail, row_count=len(rows))
    _write({"source": "audit log", "account": actor.account, "viewer": None}, rows, args.format)
    return EXIT_OK


# ------------------------------------------------------------------ meetings, annotations, packets
def _author(side: str | None = None):
    """The command line writes as its operating-system user, on the payer's side unless --side
    names an organization (the data's owner runs it; an organization's staff say so)."""
    from vbc import audit
    from vbc.collab import Author

    viewer = Viewer.parse(side or "payer")
    if viewer.kind == "joint":
        raise ValueError("--side is payer or org:NAME")
    actor = audit.cli_actor(viewer.key)
    return Author(actor.account, "org" if viewer.kind == "org" else "cli", viewer.organization, viewer, actor)


def cmd_annotations_import(args: argparse.Namespace) -> int:
    """Every row of a CSV saved in one transaction; a bad row is refused with its line number."""
    from vbc import annotations
    from vbc.collab import Invalid, NotAllowed

    ws = open_ready(args.data)
    registry = load_registry()
    author = _author(args.side)
    text = Path(args.file).read_text(encoding="utf-8-sig")
    try:
        saved = annotations.import_csv(_store(args), author, text, registry.metrics, organizations(ws))
    except (Invalid, NotAllowed) as exc:
        _err(f"error: {args.file}, {exc}; nothing was imported")
        return EXIT_INVALID
    print(f"Imported {len(saved)} annotation(s) from {args.file}.")
    return EXIT_OK


def cmd_annotations_export(args: argparse.Namespace) -> int:
    from vbc import annotations

    viewer = Viewer.parse(args.viewer)
    rows = annotations.export_rows(annotations.visible(_store(args), viewer))
    doc_stamp = {"source": "annotations", "viewer": viewer.key}
    _write(
        _audited(args.data, doc_stamp, rows, "annotations export", {"format": args.format}), rows, args.format
    )
    return EXIT_OK


def cmd_meeting_new(args: argparse.Namespace) -> int:
    """Open a meeting (the data stamp and the joint view's numbers as they are now); print its id."""
    from datetime import date

    from vbc import meetings
    from vbc.collab import Invalid, NotAllowed

    ws = open_ready(args.data)
    try:
        meeting = meetings.open_meeting(
            _store(args),
            _author(args.side),
            ws,
            load_registry(),
            held_on=date.fromisoformat(args.date),
            title=args.title,
            organization=args.organization,
            attendees=args.attendees or "",
        )
    except (Invalid, NotAllowed) as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    print(meeting.id)
    return EXIT_OK


def cmd_packet(args: argparse.Namespace) -> int:
    """The meeting packet (PDF or PowerPoint) for a viewer, written to --out; audited as an export."""
    from vbc import agenda, audit, meetings, packet
    from vbc.security import NotEntitled

    ws = open_ready(args.data)
    registry = load_registry()
    viewer = known_viewer(ws, args.viewer)
    store = _store(args)
    try:
        meeting = meetings.get(store, args.meeting, viewer)
    except NotEntitled as exc:
        _err(f"error: {exc}")
        return EXIT_INVALID
    if meeting is None:
        _err(f"error: no meeting {args.meeting}")
        return EXIT_USAGE
    try:
        doc = agenda.assemble(ws, registry, store, meeting, viewer)
        data = packet.render(doc, args.format)
    except (NotEntitled, packet.PacketError) as exc:
        _err(f"error: {exc}")
        return EXIT_INVALID
    out = Path(args.out)
    out.write_bytes(data)
    packet.audit_packet(store, audit.cli_actor(viewer.key), doc, args.format, out.name)
    print(f"Wrote {out} ({len(doc.sections)} sections, viewer {viewer.key}).")
    return EXIT_OK


def _meeting_parsers(sub) -> None:
    an = sub.add_parser("annotations", help="annotations on the charts: import or export as CSV")
    ann = an.add_subparsers(dest="annotations_command", required=True)
    imp = ann.add_parser("import", help="add every row of a CSV (one transaction; a bad row stops it all)")
    imp.add_argument("--data", required=True, metavar="DIR")
    imp.add_argument("--file", required=True, metavar="FILE")
    imp.add_argument("--side", metavar="payer|org:NAME", help="whose side writes (default payer)")
    imp.set_defaults(func=cmd_annotations_import)
    exp = ann.add_parser("export", help="the annotations a viewer may see")
    exp.add_argument("--data", required=True, metavar="DIR")
    exp.add_argument("--viewer", default="payer", help="payer | joint | org:NAME")
    _format_option(exp)
    exp.set_defaults(func=cmd_annotations_export)

    mt = sub.add_parser("meeting", help="joint meetings: open one")
    mts = mt.add_subparsers(dest="meeting_command", required=True)
    new = mts.add_parser("new", help="open a meeting with the data stamp of now; prints its id")
    new.add_argument("--data", required=True, metavar="DIR")
    new.add_argument("--date", required=True, metavar="YYYY-MM-DD")
    new.add_argument("--organization", metavar="NAME", help="the organization reviewed (default all)")
    new.add_argument("--title", metavar="T")
    new.add_argument("--attendees", metavar="'NAME; NAME'", help="attendees, separated by semicolons")
    new.add_argument("--side", metavar="payer|org:NAME", help="whose side opens it (default payer)")
    new.set_defaults(func=cmd_meeting_new)

    pk = sub.add_parser("packet", help="a meeting's packet (PDF or PowerPoint) for a viewer")
    pk.add_argument("--data", required=True, metavar="DIR")
    pk.add_argument("--meeting", required=True, type=int, metavar="ID")
    pk.add_argument("--viewer", default="joint", help="payer | joint | org:NAME")
    pk.add_argument("--format", choices=("pdf", "pptx"), required=True)
    pk.add_argument("--out", required=True, metavar="FILE")
    pk.set_defaults(func=cmd_packet)


def _users_parser(sub) -> None:
    u = sub.add_parser("users", help="accounts: add, list, disable, set-password")
    users = u.add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account")
    add.add_argument("--data", required=True, metavar="DIR")
    add.add_argument("--email", required=True, metavar="E")
    add.add_argument("--role", required=True, choices=("payer", "org", "committee", "admin"))
    add.add_argument(
        "--organization", metavar="NAME", help="for --role org: the roster's provider_organization"
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_users_add)
    ls = users.add_parser("list", help="list the accounts")
    ls.add_argument("--data", required=True, metavar="DIR")
    ls.set_defaults(func=cmd_users_list)
    dis = users.add_parser("disable", help="disable (or with --enable, re-enable) an account")
    dis.add_argument("--data", required=True, metavar="DIR")
    dis.add_argument("--email", required=True, metavar="E")
    dis.add_argument("--enable", action="store_true")
    dis.set_defaults(func=cmd_users_disable)
    pw = users.add_parser("set-password", help="replace a password (read from standard input)")
    pw.add_argument("--data", required=True, metavar="DIR")
    pw.add_argument("--email", required=True, metavar="E")
    pw.set_defaults(func=cmd_users_set_password)


def _add_spc_parser(sub) -> None:
    c = sub.add_parser("spc", help="one metric's SPC chart: every month, its phase, limits, flags, reading")
    c.add_argument("--data", required=True)
    c.add_argument("--metric", required=True, help="metric id")
    c.add_argument("--by", choices=("organization", "tin", "npi"), help="one chart per group")
    c.add_argument("--start", help="first month charted, YYYY-MM")
    c.add_argument("--end", help="last month charted, YYYY-MM")
    c.add_argument("--viewer", default="payer", help="payer | joint | org:NAME")
    c.add_argument(
        "--cap",
        type=float,
        metavar="DOLLARS",
        help="high-cost cap per member per year (total_cost_pmpm_completed)",
    )
    _format_option(c)
    c.set_defaults(func=cmd_spc)


def _format_option(parser: argparse.ArgumentParser, default: str = "csv") -> None:
    parser.add_argument("--format", choices=("csv", "json"), default=default)


def _data_parsers(sub) -> None:
    d = sub.add_parser("demo", help="generate seeded demo extracts")
    d.add_argument("--out", required=True)
    d.add_argument("--members", type=int, default=20_000)
    d.add_argument("--months", type=int, default=36)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--end", help="last month of the demo data, YYYY-MM (default 2026-10)")
    d.set_defaults(func=cmd_demo)

    v = sub.add_parser("validate", help="check extracts against the data contract")
    v.add_argument("--data", required=True)
    v.set_defaults(func=cmd_validate)

    b = sub.add_parser("build", help="validate and build the marts")
    b.add_argument("--data", required=True)
    b.add_argument(
        "--accept-shrink",
        action="store_true",
        help="take a delivery whose complete months lost dollars against the last good build",
    )
    b.set_defaults(func=cmd_build)


def cmd_serve(args: argparse.Namespace) -> int:
    from vbc.ui.serve import serve

    return serve(args.data, args.port, args.address, args.streamlit)


def _serve_parser(sub) -> None:
    s = sub.add_parser(
        "serve",
        help="run the dashboard (its code loaded before the server listens); after --, options for streamlit run",
    )
    s.add_argument("--data", help="the extracts (default: VBC_DATA_DIR, else demo data)")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--address", help="the address to listen on (default: every interface)")
    s.add_argument("streamlit", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_serve)


def _reading_parsers(sub) -> None:
    m = sub.add_parser("metrics", help="compute metrics")
    m.add_argument("--data", required=True)
    m.add_argument("--metric", action="extend", nargs="+", help="metric id(s) (default all)")
    m.add_argument("--by", action="extend", nargs="+", choices=sorted(GROUPINGS), help="grouping(s)")
    _period_options(m)
    m.add_argument("--viewer", default="payer", help="payer | joint | org:NAME")
    _format_option(m)
    m.set_defaults(func=cmd_metrics)

    _add_spc_parser(sub)

    r = sub.add_parser("measure-results", help="person-level results of one quality measure")
    r.add_argument("--data", required=True)
    r.add_argument("--metric", required=True, help="quality measure id")
    _period_options(r)
    r.add_argument("--viewer", default="payer", help="payer | org:NAME (the joint view is refused)")
    _format_option(r)
    r.set_defaults(func=cmd_measure_results)

    a = sub.add_parser("attribution", help="export the attribution in force at --end, one row per person")
    a.add_argument("--data", required=True)
    a.add_argument("--start", help="first month of an explicit assignment window, YYYY-MM")
    a.add_argument("--end", help="the month whose attribution to export, YYYY-MM (default: last month)")
    a.add_argument("--contract", help="take the window and mode from this contract file")
    a.add_argument("--window", type=int, choices=(12, 24), default=12, help="assignment window, months")
    a.add_argument("--mode", choices=("retrospective", "prospective"), default="retrospective")
    a.add_argument("--viewer", default="payer", help="payer | org:NAME (joint: refused, member-level)")
    _format_option(a)
    a.set_defaults(func=cmd_attribution)

    st = sub.add_parser("settlement", help="every step of a contract's settlement")
    st.add_argument("--contract", required=True, help="contract terms YAML")
    st.add_argument("--data", help="extracts; without it, compute from the figures given below")
    st.add_argument("--benchmark-pmpm", type=float)
    st.add_argument("--actual-pmpm", type=float)
    st.add_argument("--member-months", type=float)
    st.add_argument("--members", type=int, help="attributed members (default member months / 12)")
    st.add_argument("--quality-score", type=float, help="quality composite, 0-100")
    st.add_argument("--viewer", default="payer", help="payer | joint | org:NAME")
    _format_option(st, default="json")
    st.set_defaults(func=cmd_settlement)


def _period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", help="first month, YYYY-MM")
    parser.add_argument("--end", help="last month, YYYY-MM")


def _audit_parser(sub) -> None:
    au = sub.add_parser("audit", help="export the audit log (an audited export itself)")
    au.add_argument("--data", required=True, metavar="DIR")
    au.add_argument("--since", metavar="YYYY-MM-DD", help="first day")
    au.add_argument("--until", metavar="YYYY-MM-DD", help="last day")
    au.add_argument("--account", metavar="E", help="only this account")
    au.add_argument("--action", action="extend", nargs="+", metavar="ACTION", help="only these actions")
    _format_option(au)
    au.set_defaults(func=cmd_audit)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vbc", description="Shared VBC performance dashboard")
    sub = p.add_subparsers(dest="command", required=True)
    _data_parsers(sub)
    _serve_parser(sub)
    _reading_parsers(sub)
    _users_parser(sub)
    _audit_parser(sub)
    _meeting_parsers(sub)
    return p


# How a value is written in the synopsis when its option names no metavar of its own.
VALUE_NAMES = {
    "data": "DIR",
    "port": "N",
    "address": "HOST",
    "out": "DIR",
    "start": "YYYY-MM",
    "end": "YYYY-MM",
    "since": "YYYY-MM-DD",
    "viewer": "payer|joint|org:NAME",
    "metric": "ID",
    "contract": "FILE",
    "file": "FILE",
    "members": "N",
    "months": "N",
    "seed": "N",
    "benchmark_pmpm": "DOLLARS",
    "actual_pmpm": "DOLLARS",
    "member_months": "N",
    "quality_score": "0-100",
}


def _option_text(action: argparse.Action) -> str:
    flag = max(action.option_strings, key=len)
    if action.nargs == 0:
        return flag
    if action.choices:
        value = "|".join(str(c) for c in action.choices)
    else:
        value = action.metavar or VALUE_NAMES.get(action.dest, action.dest.upper())
    if action.nargs in ("+", "*"):
        value = f"{value} ..."
    return f"{flag} {value}"


def synopsis() -> list[str]:
    """One usage line per command, generated from the parser (the README's command-line block is
    this text; tests/test_docs.py fails when they differ)."""
    return _synopsis(build_parser(), "python -m vbc")


def _synopsis(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lines = []
    for name, command in sub.choices.items():
        if any(isinstance(a, argparse._SubParsersAction) for a in command._actions):
            lines += _synopsis(command, f"{prefix} {name}")
            continue
        parts = [f"{prefix} {name}"]
        for action in command._actions:
            if not action.option_strings or action.dest == "help":
                continue
            text = _option_text(action)
            parts.append(text if action.required else f"[{text}]")
        lines.append(" ".join(parts))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (MetricDefinitionError, NoBuildError) as exc:
        _err(f"error: {exc}")
        return EXIT_INVALID
    except (ValueError, KeyError) as exc:
        _err(f"error: {exc.args[0] if exc.args else exc}")
        return EXIT_USAGE
