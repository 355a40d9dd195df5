"""Benchmark: demo generation and mart build time at growing claim volumes.

    .venv/bin/python bench/bench_build.py                 # ~1M and ~10M medical claim lines
    .venv/bin/python bench/bench_build.py --members 5000  # one custom size

Prints members, claim lines, seconds, lines per second and the ratio to the smallest run, so the
README's figures can be reproduced. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vbc.demo import generate  # noqa: E402
from vbc.workspace import Workspace  # noqa: E402


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run(members: int, months: int, workdir: Path) -> dict:
    out = workdir / f"demo_{members}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    summary = generate(out, members=members, months=months, seed=7)
    gen_s = time.perf_counter() - t0
    os.environ["VBC_STATE_DIR"] = str(workdir / "state")
    ws = Workspace.open(out)
    result = ws.build()
    if not result.ok:
        raise SystemExit(result.report.text())
    lines = summary["counts"]["medical_claim"]
    from vbc.engine import compute_metrics
    from vbc.periods import Period
    from vbc.registry import load_registry
    from vbc.security import Viewer

    t0 = time.perf_counter()
    compute_metrics(
        ws,
        load_registry(),
        ["total_cost_pmpm", "ed_visits_per_1000"],
        Viewer("payer"),
        Period.from_months("2025-01", "2025-12"),
        ["organization", "month"],
    )
    query_s = time.perf_counter() - t0
    return {
        "query_s": query_s,
        "members": members,
        "medical_lines": lines,
        "pharmacy_lines": summary["counts"]["pharmacy_claim"],
        "generate_s": gen_s,
        "build_s": result.seconds,
        "parquet_mb": _size(out) / 1e6,
        "mart_mb": ws.mart_path.stat().st_size / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--members",
        type=int,
        nargs="*",
        help="member counts to run (default: sizes giving ~1M and ~10M claim lines)",
    )
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vbc-bench-"))
    sizes = args.members or [LINES_1M_MEMBERS, LINES_10M_MEMBERS]
    rows = [run(m, args.months, workdir) for m in sizes]
    base = rows[0]
    print(
        f"{'members':>9} {'med lines':>11} {'rx lines':>10} {'gen s':>7} {'build s':>8} "
        f"{'lines/s build':>14} {'query s':>8} {'parquet MB':>11} {'mart MB':>8} {'x lines':>8} "
        f"{'x build':>8}"
    )
    for r in rows:
        print(
            f"{r['members']:>9,} {r['medical_lines']:>11,} {r['pharmacy_lines']:>10,} "
            f"{r['generate_s']:>7.1f} {r['build_s']:>8.1f} "
            f"{r['medical_lines'] / r['build_s']:>14,.0f} {r['query_s']:>8.1f} {r['parquet_mb']:>11.0f} {r['mart_mb']:>8.0f} "
            f"{r['medical_lines'] / base['medical_lines']:>8.1f} {r['build_s'] / base['build_s']:>8.1f}"
        )
    print(
        f"(36 months; query = total_cost_pmpm and ed_visits_per_1000 by organization x month for "
        f"one year; machine: {os.cpu_count()} cores; workdir {workdir})"
    )


# About 85 medical claim lines per member over 36 months in the demo data.
LINES_1M_MEMBERS = 12_000
LINES_10M_MEMBERS = 118_000

if __name__ == "__main__":
    main()
