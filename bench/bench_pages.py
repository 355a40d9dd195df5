"""Benchmark: every page of the real app in headless Chromium, at the demo size and at ~10M claim lines.

    .venv/bin/python bench/bench_pages.py                        # demo (20,000 members) and ~10M lines
    .venv/bin/python bench/bench_pages.py --members 20000         # one size
    .venv/bin/python bench/bench_pages.py --data DIR --label 10M  # existing extracts (built afresh)

For each size: the build (a fresh state directory: wall time, peak RSS of the build process, mart
file size against the extracts' Parquet), then for every page of vbc.ui.navigation.PAGES, each on a
freshly started server: the first view, a revisit, and changes of organization, of viewer (payer ->
one organization -> joint, in demo mode's sidebar) and of period. A figure is the time from the
click (or the navigation) until the page's script has finished running (Streamlit's script state
back to "not running"), so everything the page computes is in it. Each figure is printed next to
its budget (the live-meeting budget: at ~10M lines first view and filter change <= 2 s, revisit <= 0.5 s, build
<= 60 s, RSS <= 4 GB, mart <= 2x Parquet; half of each at the demo size). Not a test: timings
depend on the machine and what else runs on it. Playwright drives Debian's /usr/bin/chromium and
never downloads a browser.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vbc.ui.navigation import PAGES  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEMO_MEMBERS = 20_000
LINES_10M_MEMBERS = 118_000
LINES_50M_MEMBERS = 590_000
# Budgets at ~10M claim lines for presenting live; the demo size gets half of each.
BUDGET_10M = {"first": 2.0, "change": 2.0, "revisit": 0.5, "build": 60.0, "rss_gb": 4.0, "mart_ratio": 2.0}
SETTLE = 3.0  # seconds without a new run after which a page counts as settled
IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && app.getAttribute('data-test-connection-state') === 'CONNECTED';
}"""
# Set before a click: a flag that turns true when the app's script starts running, however briefly
# (a MutationObserver sees every change of the attribute, where polling can miss a short rerun).
MARK = """() => {
    window.__vbcRan = false;
    const app = document.querySelector('[data-testid="stApp"]');
    new MutationObserver(() => {
        if (app.getAttribute('data-test-script-state') === 'running') window.__vbcRan = true;
    }).observe(app, {attributes: true});
}"""
RUNNING = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.getAttribute('data-test-script-state') === 'running';
}"""


@dataclass
class PageTimes:
    page: str
    figures: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Data and build


def parquet_bytes(data: Path) -> int:
    return sum(f.stat().st_size for f in data.rglob("*.parquet"))


def build(data: Path, state: Path) -> dict:
    """A full build into an empty state directory, in its own process (its peak RSS is the build's)."""
    shutil.rmtree(state, ignore_errors=True)
    code = (
        "import json, resource, sys, time\n"
        "from vbc.workspace import Workspace\n"
        "t = time.perf_counter(); ws = Workspace.open(sys.argv[1]); r = ws.build()\n"
        "print(json.dumps({'ok': r.ok, 'seconds': time.perf_counter() - t, "
        "'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "'mart': str(ws.mart_path) if r.ok else None, "
        "'steps': (r.meta or {}).get('build_seconds'), 'report': r.report.text() if not r.ok else ''}))\n"
    )
    env = {**os.environ, "VBC_STATE_DIR": str(state)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(data)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if not res["ok"]:
        raise SystemExit(f"build of {data} failed:\n{res['report']}")
    res["mart_bytes"] = Path(res["mart"]).stat().st_size
    res["parquet_bytes"] = parquet_bytes(data)
    return res


def claim_lines(data: Path) -> int:
    import duckdb

    files = [str(f) for f in (data / "medical_claim").rglob("*.parquet")] or [
        str(data / "medical_claim.parquet")
    ]
    return duckdb.sql(f"SELECT count(*) FROM read_parquet({files!r})").fetchall()[0][0]


# ------------------------------------------------------------------------------------------------
# The app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, state: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "VBC_DATA_DIR": str(data), "VBC_STATE_DIR": str(state)}
    # The README's way of starting the app (run.sh): code loaded before the server listens.
    cmd = [sys.executable, "-m", "vbc", "serve", "--port", str(port), "--address", "127.0.0.1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("streamlit did not start")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_idle(page, started: float, timeout_s: float, seen_running: bool = False) -> float:
    """Seconds from `started` until the page has settled: its script has finished and no further
    run (a rerun the first one asked for, such as the app's first-run navigation take-over)
    starts within SETTLE seconds."""
    if not seen_running:
        try:  # a fast rerun may finish before a poll sees it running
            page.wait_for_function(RUNNING, polling=10, timeout=1500)
        except Exception:
            pass
    while True:
        page.wait_for_function(IDLE, polling=10, timeout=int(timeout_s * 1000))
        done = time.perf_counter()
        page.evaluate(MARK)
        try:
            page.wait_for_function("() => window.__vbcRan === true", polling=10, timeout=int(SETTLE * 1000))
        except Exception:
            return done - started


def click_and_wait(page, target, timeout_s: float) -> float:
    """Click `target`; seconds until the script run the click started has finished."""
    page.evaluate(MARK)
    started = time.perf_counter()
    target.click()
    try:
        page.wait_for_function("() => window.__vbcRan === true", polling=10, timeout=5000)
    except Exception:  # the click started no run at all: the page was already what it shows
        return time.perf_counter() - started
    return wait_idle(page, started, timeout_s, seen_running=True)


def choose(page, label: str, option: str, timeout_s: float) -> float:
    """Pick `option` in the sidebar selectbox `label`; seconds until the page is idle again."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text=label)
    box.locator("input").click()
    return click_and_wait(page, page.get_by_role("option", name=option, exact=True), timeout_s)


# ------------------------------------------------------------------------------------------------
# One page, from a fresh server start


def time_page(
    browser, spec, data: Path, state: Path, orgs: list[str], period: str, timeout_s: float
) -> PageTimes:
    """First view, revisit, organization, viewer (payer -> organization -> joint) and period changes."""
    out = PageTimes(spec.title)
    proc, url = start_server(data, state)
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        started = time.perf_counter()
        page.goto(f"{url}/{spec.url_path}", wait_until="commit")
        page.wait_for_selector('[data-testid="stApp"]', timeout=int(timeout_s * 1000))
        out.figures["first"] = wait_idle(page, started, timeout_s)
        nav = page.locator('[data-testid="stSidebarNav"]').get_by_text(spec.title, exact=True)
        out.figures["revisit"] = click_and_wait(page, nav, timeout_s)
        steps = [
            ("organization", "Organization", orgs[0]),
            ("viewer: organization", "Viewing as (demo mode)", f"Provider — {orgs[-1]}"),
            ("viewer: joint", "Viewing as (demo mode)", "Joint committee — de-identified"),
            ("period", "Performance period", period),
        ]
        for name, label, option in steps:
            try:
                out.figures[name] = choose(page, label, option, timeout_s)
            except Exception as exc:  # one step failing must not hide the others
                out.errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        if page.locator('[data-testid="stException"]').count():
            out.errors.append("an exception is shown on the page")
    except Exception as exc:
        out.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    finally:
        page.close()
        stop_server(proc)
    return out


def choices(data: Path, state: Path) -> tuple[list[str], str]:
    """Organizations as the sidebar offers them, and the period to switch to: the year before
    the sidebar's default (the newest complete year), else all months."""
    os.environ["VBC_STATE_DIR"] = str(state)
    from datetime import date

    from vbc import engine
    from vbc.workspace import Workspace

    ws = Workspace.open(data)
    full = engine.data_period(ws)
    complete = [
        y
        for y in range(full.end.year, full.start.year - 1, -1)
        if date(y, 1, 1) >= full.start and date(y, 12, 31) <= full.end
    ]
    other = str(complete[0] - 1) if complete and complete[0] - 1 >= full.start.year else "All months"
    return engine.organizations(ws), other


def run_pages(data: Path, state: Path, only: list[str], timeout_s: float) -> list[PageTimes]:
    from playwright.sync_api import sync_playwright

    orgs, period = choices(data, state)
    specs = [p for p in PAGES if not only or p.url_path in only]
    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            for spec in specs:
                results.append(time_page(browser, spec, data, state, orgs, period, timeout_s))
                print(
                    f"  {spec.title}: {json.dumps({k: round(v, 2) for k, v in results[-1].figures.items()})}"
                    + (f" {results[-1].errors}" if results[-1].errors else ""),
                    flush=True,
                )
        finally:
            browser.close()
    return results


# ------------------------------------------------------------------------------------------------
# Report


def _mark(value: float, budget: float) -> str:
    return f"{value:6.2f} / {budget:g}{'' if value <= budget else ' OVER'}"


def report(label: str, members: int, lines: int, b: dict, pages: list[PageTimes], scale: float) -> str:
    """The figures next to their budgets; `scale` 0.5 at the demo size (half of each budget)."""
    budget = {k: v * scale for k, v in BUDGET_10M.items()}
    rss_gb = b["rss_kb"] / 1024**2
    ratio = b["mart_bytes"] / b["parquet_bytes"]
    rows = [
        f"== {label}: {members:,} members, {lines / 1e6:.1f}M medical claim lines",
        f"build {_mark(b['seconds'], budget['build'])} s   peak RSS {_mark(rss_gb, budget['rss_gb'])} GB   "
        f"mart {b['mart_bytes'] / 1e6:.0f} MB = {_mark(ratio, budget['mart_ratio'])} x Parquet "
        f"({b['parquet_bytes'] / 1e6:.0f} MB)   steps {b.get('steps')}",
        f"{'page':<14} {'first view':>16} {'revisit':>16} {'organization':>16} {'viewer: org':>16} "
        f"{'viewer: joint':>16} {'period':>16}",
    ]
    keys = [
        ("first", "first"),
        ("revisit", "revisit"),
        ("organization", "change"),
        ("viewer: organization", "change"),
        ("viewer: joint", "change"),
        ("period", "change"),
    ]
    for p in pages:
        cells = [_mark(p.figures[k], budget[b_]) if k in p.figures else "   —" for k, b_ in keys]
        rows.append(
            f"{p.page:<14} " + " ".join(f"{c:>16}" for c in cells) + (f"  {p.errors}" if p.errors else "")
        )
    rows.append("(seconds / budget; OVER = over budget)")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, nargs="*", help="sizes to generate (default: 20000 and 118000)")
    ap.add_argument("--data", nargs="*", default=[], help="existing extract directories instead")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--pages", nargs="*", default=[], help="url paths of pages to time (default: all)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one page")
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vbc-pages-"))
    runs = [(Path(d), None) for d in args.data]
    if not runs:
        from vbc.demo import generate

        for members in args.members or [DEMO_MEMBERS, LINES_10M_MEMBERS]:
            out = workdir / f"demo_{members}"
            if not (out / "_demo.json").is_file():
                generate(out, members=members, seed=7)
            runs.append((out, members))
    texts = []
    for data, members in runs:
        state = workdir / f"state_{data.name}"
        b = build(data, state)
        lines = claim_lines(data)
        members = members or _members(data)
        print(f"built {data} in {b['seconds']:.1f} s", flush=True)
        pages = run_pages(data, state, args.pages, args.timeout)
        scale = 0.5 if lines < 5e6 else 1.0
        texts.append(report(data.name, members, lines, b, pages, scale))
        print(texts[-1], flush=True)
    print(f"\nmachine: {os.cpu_count()} cores; workdir {workdir}\n")
    print("\n\n".join(texts))


def _members(data: Path) -> int:
    import duckdb

    return duckdb.sql(
        f"SELECT count(DISTINCT person_id) FROM read_parquet('{data / 'eligibility.parquet'}')"
    ).fetchall()[0][0]


if __name__ == "__main__":
    main()
