"""`python -m vbc serve`: the dashboard's server, started with the app's code already loaded.

A fresh Streamlit server imports nothing until someone opens a page: the first view then waits for
pandas, Plotly, DuckDB, SQLAlchemy and the engine to import and for the metric definitions and
value sets to be read (seconds on a small machine). Doing that before the server listens makes the
first view after a restart, the one a meeting starts with, cost what a later view costs.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard.py"


def _imports(path: Path) -> list[str]:
    """The absolute module names a script imports anywhere in its body, the submodules named by
    `from package import module` included."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            spec = importlib.util.find_spec(node.module)
            if spec is not None and spec.submodule_search_locations:  # a package
                names += [
                    f"{node.module}.{a.name}"
                    for a in node.names
                    if importlib.util.find_spec(f"{node.module}.{a.name}") is not None
                ]
    return names


class _NoRuntimeYet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No runtime found" not in record.getMessage()


def preload() -> float:
    """Import what dashboard.py and every page import, read the definitions and value sets once
    (into the caches the pages read them from); returns the seconds it took."""
    from vbc.ui.navigation import PAGES

    started = time.perf_counter()
    # st.cache_data checks its options against the runtime's cache store when a function is
    # decorated and warns that there is none yet; the cache itself is taken from the runtime at
    # the first call, inside the server, so that warning is noise here.
    caching_log = logging.getLogger("streamlit.runtime.caching.cache_data_api")
    quiet = _NoRuntimeYet()
    caching_log.addFilter(quiet)
    try:
        for script in (APP, *(ROOT / p.file for p in PAGES)):
            for name in _imports(script):
                importlib.import_module(name)
    finally:
        caching_log.removeFilter(quiet)
    from vbc.ui import context
    from vbc.valuesets import all_value_sets

    all_value_sets()
    try:
        context.registry()
    except ValueError:
        pass  # an invalid definition: the app says so on every page, the server still starts
    return time.perf_counter() - started


def serve(data: str | None, port: int, address: str | None, streamlit_args: list[str]) -> int:
    """Preload, then run `streamlit run dashboard.py` in this process (so the loaded modules and
    caches are the ones the app's runs find)."""
    seconds = preload()
    print(f"Loaded the app's code in {seconds:.1f}s.", flush=True)
    from streamlit.web import cli

    argv = ["streamlit", "run", str(APP), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    argv += ["--server.port", str(port)]
    if address:
        argv += ["--server.address", address]
    argv += [a for a in streamlit_args if a != "--"]
    if data:
        argv += ["--", "--data", data]
    sys.argv = argv
    try:
        cli.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
