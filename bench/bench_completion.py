"""Backtest of claims completion on demo data: error of completed dollars by lag month.

    .venv/bin/python bench/bench_completion.py [--data DIR] [--members 5000]

Without --data it generates demo data (seed 7, 36 months ending 2026-10) in a temporary folder.
For each cut (every month from 6 to 18 months before the paid-through date) the claims paid after the cut
are removed, the chain ladder completes every incurred month, and the completed dollars are
compared with what was paid by the latest paid-through date (incurred months at least 12 months
old by then). Prints the error by lag month (months from incurral to the cut).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--members", type=int, default=5000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vbc-bench-completion-")
    os.environ.setdefault("VBC_STATE_DIR", str(Path(tmp) / "state"))
    from vbc.completion import backtest, backtest_by_lag
    from vbc.workspace import Workspace

    data = args.data
    if not data:
        from vbc.demo import generate

        data = str(Path(tmp) / "demo")
        generate(Path(data), members=args.members)
    ws = Workspace.open(data)
    ws.ensure_built()
    t = time.perf_counter()
    bt = backtest(ws)
    table = backtest_by_lag(bt)
    secs = time.perf_counter() - t
    print(
        f"Data: {data} (paid through {ws.good['paid_through']}); backtest in {secs:.1f}s, "
        f"{len(bt)} (cut, incurred month) cells"
    )
    print("lag  cells  mean error  mean |error|  max |error|  raw shortfall  inside 95% range")
    for r in table.itertuples(index=False):
        print(
            f"{r.lag:>3}  {r.cells:>5}  {r.mean_error:>+10.2%}  {r.mean_abs_error:>12.2%}  "
            f"{r.max_abs_error:>11.2%}  {r.raw_shortfall:>+13.2%}  {r.inside_range:>16.0%}"
        )


if __name__ == "__main__":
    main()
