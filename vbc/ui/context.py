"""What every page needs: the data directory and its build, the registry, who is viewing, the filters.

Who is viewing comes from the signed-in account (vbc.ui.auth): the viewer is one the account's
role allows, chosen in the sidebar and kept in the server-side session, never read from the URL.
Only in demo mode (generated demo data, no accounts) may the visitor pick any viewer, kept in the
URL like the other shareable choices (period, payer, organization). Every cached engine result goes
through `compute` (or `metrics`), keyed by the function, the build, the definitions, the viewer
and every argument, so cached results never cross viewers and pages hold no caches of their own.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from vbc import audit, completion, engine
from vbc.periods import Period
from vbc.registry import Registry, load_registry
from vbc.security import Viewer
from vbc.store import open_store
from vbc.ui import auth
from vbc.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DEMO_DIR = ROOT / "data" / "demo"
ALL = "All"


@dataclass
class Context:
    ws: Workspace
    registry: Registry
    viewer: Viewer
    period: Period
    payer: str | None
    organization: str | None
    stamp: dict
    build_id: str
    failed_report: object | None
    identity: auth.Identity
    store: Engine
    page: str = ""  # the page being drawn (its URL path), set by dashboard.py; named in audit rows

    @property
    def filters(self) -> dict:
        return {"payer": self.payer, "organization": self.organization}

    @property
    def actor(self) -> audit.Actor:
        """Who is acting, as which viewer: what every audit row of this page view says."""
        return self.identity.actor(self.viewer)


def data_dir_from_args(argv: list[str] | None = None) -> Path | None:
    """`streamlit run dashboard.py -- --data DIR`, else VBC_DATA_DIR, else None (demo data)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data")
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    value = args.data or os.environ.get("VBC_DATA_DIR")
    return Path(value).expanduser() if value else None


def ensure_demo(out: Path = DEFAULT_DEMO_DIR) -> Path:
    if not (out / "_demo.json").is_file():
        from vbc.demo import generate

        with st.spinner("No extracts configured: generating demo data (about a minute, once)…"):
            generate(out)
    return out


@st.cache_resource(show_spinner=False)
def _registry(signature: tuple) -> Registry:
    return load_registry()


def registry() -> Registry:
    from vbc.registry import METRIC_DIR

    sig = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(METRIC_DIR.rglob("*.yaml")))
    return _registry(sig)


@st.cache_data(show_spinner=False)
def organizations(data_dir: str, build_id: str) -> list[str]:
    return engine.organizations(Workspace.open(data_dir, build=build_id))


@st.cache_data(show_spinner=False)
def payers(data_dir: str, build_id: str) -> list[str]:
    return engine.payers(Workspace.open(data_dir, build=build_id))


# What `compute` passes to an engine function by parameter name; pages pass everything else.
_INJECTED = ("ws", "registry", "viewer")


@st.cache_data(show_spinner="Computing…", max_entries=512)
def _compute(
    target: str, data_dir: str, build_id: str, definitions: str, viewer_key: str, kwargs: tuple
) -> object:
    # Every argument is part of the cache key: the viewer included, so results never cross viewers.
    module, name = target.rsplit(".", 1)
    fn = getattr(importlib.import_module(module), name)
    # The build the page was drawn from, even if a newer one has swapped in meanwhile.
    ws = Workspace.open(data_dir, build=build_id)
    env = {"ws": ws, "registry": registry(), "viewer": Viewer.parse(viewer_key)}
    wanted = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in env.items() if k in wanted}, **dict(kwargs))


def compute(ctx: Context, fn: Callable, **kwargs) -> object:
    """`fn(ws=..., registry=..., viewer=..., **kwargs)` for this page's build and viewer, cached.

    The workspace, registry and viewer are always the context's (a page cannot pass another
    viewer); kwargs must be hashable values (periods, ids, tuples, frozen dataclasses)."""
    return _cached_call(ctx, fn, ctx.viewer.key, kwargs)


def _cached_call(ctx: Context, fn: Callable, viewer_key: str, kwargs: dict) -> object:
    if set(kwargs) & set(_INJECTED):
        raise TypeError(f"{', '.join(_INJECTED)} come from the context, not from the page")
    target = f"{fn.__module__}.{fn.__name__}"
    return _compute(
        target,
        str(ctx.ws.data_dir),
        ctx.build_id,
        ctx.registry.fingerprint,
        viewer_key,
        tuple(sorted(kwargs.items())),
    )


def metrics(
    ctx: Context, metric_ids: list[str], by: list[str] = (), period: Period | None = None
) -> pd.DataFrame:
    """Metrics for this view: the engine's frame, cached per viewer, period, grouping and filters."""
    return compute(
        ctx,
        engine.compute_metrics,
        metric_ids=list(metric_ids),
        period=period or ctx.period,
        by=tuple(by),
        filters=ctx.filters,
    )


def incomplete_months(ctx: Context) -> list[str]:
    """The build's incurred months still inside the claims run-out window (one list per build)."""
    return compute(ctx, completion.incomplete_months)


def change_points(ctx: Context) -> tuple:
    """The data directory's declared change points and the annotations marked as change points
    (read on every run, so an edit shows at once; they are part of each chart's cache key). A
    malformed file is said on the page and ignored; the annotations still apply."""
    from vbc import annotations, spc

    noted = tuple(annotations.change_points(ctx.store))
    try:
        return tuple(spc.load_change_points(ctx.ws.data_dir)) + noted
    except spc.ChangePointError as exc:
        st.warning(f"Change points not applied: {exc}", icon=":material/warning:")
        return noted


def spc_chart(ctx: Context, metric_id: str, **kwargs) -> dict:
    """A metric's SPC chart for this view (vbc.readings.chart_for, the function `python -m vbc
    spc` calls), with the data directory's change points, cached per viewer and filters."""
    from vbc import readings

    return compute(
        ctx,
        readings.chart_for,
        metric_id=metric_id,
        filters=ctx.filters,
        change_points=change_points(ctx),
        **kwargs,
    )


def backtest(ctx: Context) -> tuple[pd.DataFrame, int]:
    """The completion backtest by lag in this view's scope, and how many cells it compared."""
    bt = compute(ctx, completion.backtest)
    return completion.backtest_by_lag(bt), len(bt)


def _choice(label: str, options: list[str], param: str, default: str, **kw) -> str:
    current = st.query_params.get(param, default)
    if current not in options:
        current = default
    value = st.sidebar.selectbox(label, options, index=options.index(current), key=f"q_{param}", **kw)
    if value != default:
        st.query_params[param] = value
    elif param in st.query_params:
        del st.query_params[param]
    return value


def _demo_viewer_choice(orgs: list[str]) -> Viewer:
    """Demo mode only (generated data, no accounts): any viewer, kept in the URL."""
    labels = {"payer": "Payer — all organizations", "joint": "Joint committee — de-identified"}
    for org in orgs:
        labels[f"org:{org}"] = f"Provider — {org}"
    keys = list(labels)
    key = _choice(
        "Viewing as (demo mode)",
        keys,
        "viewer",
        "payer",
        format_func=labels.get,
        help="Demo mode: no accounts exist, so any role may be tried. With accounts, the view "
        "comes from the signed-in account: a provider organization sees only its own members; "
        "the joint view is de-identified.",
    )
    return Viewer.parse(key)


def _viewer(identity: auth.Identity, orgs: list[str]) -> Viewer:
    if identity.mode == "demo":
        return _demo_viewer_choice(orgs)
    if "viewer" in st.query_params:
        # A link copied from someone else's view: the account decides, so drop the pretence.
        del st.query_params["viewer"]
    return auth.choose_viewer(identity)


def _period_choice(full: Period) -> Period:
    years = list(range(full.end.year, full.start.year - 1, -1))
    options = [str(y) for y in years] + ["All months"]
    complete = [y for y in years if date(y, 1, 1) >= full.start and date(y, 12, 31) <= full.end]
    default = str(complete[0]) if complete else options[0]
    choice = _choice(
        "Performance period",
        options,
        "period",
        default,
        help="A calendar performance year, clipped to the months the data covers.",
    )
    if choice == "All months":
        return full
    y = int(choice)
    return Period(max(date(y, 1, 1), full.start), min(date(y, 12, 31), full.end))


def load() -> Context | None:
    """Resolve everything the pages need; show why and return None when nothing can be served."""
    data_dir = data_dir_from_args()
    if data_dir is None:
        data_dir = ensure_demo()
    ws = Workspace.open(data_dir)
    try:
        store = open_store(ws.data_dir)
    except Exception as exc:  # no store, no sign-in and no audit: show nothing
        st.error(f"The state store (accounts and audit log) cannot be opened, so no data is shown: {exc}")
        return None
    identity = auth.gate(store, str(data_dir), ws.is_demo)
    if identity is None:
        return None
    with st.spinner("Checking the extracts and building the marts…"):
        ws.ensure_built()
    try:
        reg = registry()
    except ValueError as exc:
        st.error(f"A metric definition is invalid, so no numbers are shown: {exc}")
        return None
    if not ws.good:
        report = ws.failed_report
        st.error(
            f"The extracts in `{ws.data_dir}` could not be built, and there is no earlier good build to show."
        )
        if report is not None:
            st.dataframe(pd.DataFrame([f.__dict__ for f in report.findings]), hide_index=True)
        return None
    build_id = ws.build_id
    orgs = organizations(str(ws.data_dir), build_id)
    st.sidebar.header("View")
    viewer = _viewer(identity, orgs)
    period = _period_choice(engine.data_period(ws))
    payer_options = [ALL, *payers(str(ws.data_dir), build_id)]
    payer = _choice("Payer", payer_options, "payer", ALL)
    if viewer.kind == "org":
        organization = None  # the engine scopes an organization's viewer by itself
        st.sidebar.caption(f"Organization: **{viewer.organization}** (your organization only)")
    else:
        organization = _choice("Organization", [ALL, *orgs], "org", ALL)
    ctx = Context(
        ws=ws,
        registry=reg,
        viewer=viewer,
        period=period,
        payer=None if payer == ALL else payer,
        organization=None if organization in (None, ALL) else organization,
        stamp=engine.stamp(ws, reg),
        build_id=build_id,
        failed_report=ws.failed_report,
        identity=identity,
        store=store,
    )
    auth.account_box(store, identity, viewer)
    return ctx


def compute_joint(ctx: Context, fn: Callable, **kwargs) -> object:
    """`compute` in the joint (de-identified) view, whatever the page's viewer: every role may
    present as the joint view (presenter mode, the joint packet)."""
    return _cached_call(ctx, fn, "joint", kwargs)


def audit_view(ctx: Context, action: str = "page_view", detail: dict | None = None) -> None:
    """One audit row per view: written when the page, viewer, filters or `detail` differ from the
    session's last view, so widget reruns of the same view do not repeat it."""
    detail = {
        "period": ctx.period.label,
        "payer": ctx.payer,
        "organization": ctx.organization,
        **(detail or {}),
    }
    seen = (ctx.page, action, ctx.viewer.key, tuple(sorted((k, str(v)) for k, v in detail.items())))
    if st.session_state.get("vbc_last_view") == seen:
        return
    audit.record(ctx.store, ctx.actor, action, stamp=ctx.stamp, page=ctx.page, detail=detail)
    st.session_state["vbc_last_view"] = seen


def take_over_navigation(first_run_only: bool = False) -> None:
    """On the first run after start-up (and on every AppTest run) Streamlit treats pages/ as an
    old-style multipage folder: it may run a page script directly for a deep link, without
    dashboard.py (the session's context would then be an earlier run's, its sign-in unchecked),
    and a form drawn by a first run at the root URL is lost when submitted. Switch that off and
    rerun, so dashboard.py's navigation serves the same URL with the full frame. dashboard.py
    does so on a session's first run only: a rerun later would drop the widget values it carries."""
    from streamlit.runtime.pages_manager import PagesManager

    first = "vbc_started" not in st.session_state
    st.session_state["vbc_started"] = True
    if first_run_only and (not first or "streamlit.testing.v1" in sys.modules):
        # AppTest re-arms the old mode before every run and loses a submitted form on a rerun;
        # its page runs are taken over by `current` instead.
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.session_state["vbc_ctx"] = None
        st.rerun()


def current() -> Context:
    """The context dashboard.py resolved in this run (sign-in checked, viewer from the account)."""
    take_over_navigation()
    ctx = st.session_state.get("vbc_ctx")
    if ctx is None:
        st.stop()
    return ctx
