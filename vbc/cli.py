"""Command line: `python -m vbc <command>`. Calls the same engine functions as the pages."""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from vbc.engine import GROUPINGS, Period, compute_metrics, data_period, export_rows, stamp
from vbc.registry import MetricDefinitionError, load_registry
from vbc.security import Viewer
from vbc.workspace import NoBuildError, Workspace

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _err(*lines: str) -> None:
    for line in lines:
        print(line, file=sys.stderr)


def open_ready(data: str) -> Workspace:
    """Build when the extracts changed; keep serving the last good build when the new one fails."""
    ws = Workspace.open(data)
    result = ws.ensure_built()
    failed = result.report if result is not None and not result.ok else ws.failed_report
    if failed is not None:
        if not ws.good:
            _err("The data could not be built and there is no earlier good build:", failed.text())
            raise SystemExit(EXIT_INVALID)
        _err("WARNING: the newest extracts failed validation; serving the last good build "
             f"(built {ws.good.get('built_at')}).", failed.text())
    return ws


def cmd_demo(args: argparse.Namespace) -> int:
    from vbc.demo import generate

    summary = generate(Path(args.out), members=args.members, months=args.months, seed=args.seed,
                       **({"end_month": args.end} if args.end else {}))
    print(json.dumps({k: summary[k] for k in summary if k != "stories"}, indent=1, default=str))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from vbc.validate import validate

    report = validate(Path(args.data))
    print(report.text())
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_build(args: argparse.Namespace) -> int:
    ws = Workspace.open(args.data)
    result = ws.build()
    print(result.report.text())
    if not result.ok:
        if ws.good:
            _err(f"Build failed; the last good build (built {ws.good.get('built_at')}) keeps serving.")
        return EXIT_INVALID
    print(f"Built {ws.mart_path} in {result.seconds:.1f}s; paid through {result.meta['paid_through']}, "
          f"attribution {result.meta['attribution_source']}.")
    return EXIT_OK


def _period(args: argparse.Namespace, ws: Workspace) -> Period:
    full = data_period(ws)
    start = args.start or f"{full.start:%Y-%m}"
    end = args.end or f"{full.end:%Y-%m}"
    return Period.from_months(start, end)


def _write(doc_stamp: dict, rows: list[dict], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"stamp": doc_stamp, "rows": rows}, indent=1))
        return
    out = io.StringIO()
    stamp_cols = {f"stamp_{k}": doc_stamp[k] for k in ("paid_through", "incurred_through", "fingerprint")}
    fields = list(rows[0].keys()) if rows else []
    writer = csv.DictWriter(out, fieldnames=[*fields, *stamp_cols], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, **stamp_cols})
    sys.stdout.write(out.getvalue())


def cmd_metrics(args: argparse.Namespace) -> int:
    registry = load_registry()
    ws = open_ready(args.data)
    viewer = Viewer.parse(args.viewer)
    metric_ids = args.metric or sorted(registry.metrics)
    for m in metric_ids:
        registry.get(m)
    by = list(args.by or [])
    df = compute_metrics(ws, registry, metric_ids, viewer, _period(args, ws), by)
    doc_stamp = {**stamp(ws, registry), "viewer": viewer.key}
    _write(doc_stamp, export_rows(df, by), args.format)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vbc", description="Shared VBC performance dashboard")
    sub = p.add_subparsers(dest="command", required=True)

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
    b.set_defaults(func=cmd_build)

    m = sub.add_parser("metrics", help="compute metrics")
    m.add_argument("--data", required=True)
    m.add_argument("--metric", action="extend", nargs="+", help="metric id(s) (default all)")
    m.add_argument("--by", action="extend", nargs="+", choices=sorted(GROUPINGS), help="grouping(s)")
    m.add_argument("--start", help="first month, YYYY-MM")
    m.add_argument("--end", help="last month, YYYY-MM")
    m.add_argument("--viewer", default="payer", help="payer | joint | org:NAME")
    m.add_argument("--format", choices=("csv", "json"), default="csv")
    m.set_defaults(func=cmd_metrics)
    return p


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
