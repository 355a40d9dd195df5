"""The joint view's suppression holds across tables: no count from 1 to 10 can be derived by
subtracting shown cells from a shown total, whichever two of the joint exports one compares
(overall, by organization, by month, by organization and month, by TIN against its organization)."""

from __future__ import annotations

import pandas as pd
import pytest

from vbc.engine import compute_metrics
from vbc.periods import Period
from vbc.registry import load_registry
from vbc.security import Viewer, is_small

PERIOD = Period.from_months("2025-01", "2025-12")
JOINT = Viewer("joint")


def _counts(metric) -> list[str]:
    """The columns of an export that are counts (dollars are not)."""
    if metric.kind in ("proportion", "per_1000"):
        return ["numerator", "denominator"]
    return ["denominator"]


def _derived(total: pd.DataFrame, cells: pd.DataFrame, keys: list[str], col: str) -> list:
    """For each shown total: total minus its shown cells, where any of its cells is hidden."""
    out = []
    totals = total[~total["suppressed"]]
    for _, t in totals.iterrows():
        part = cells
        for k in keys:
            part = part[part[k].isna()] if pd.isna(t[k]) else part[part[k] == t[k]]
        if not part["suppressed"].any():
            continue
        out.append((tuple(t[k] for k in keys), t[col] - part.loc[~part["suppressed"], col].sum()))
    return out


@pytest.fixture(scope="module")
def tables(demo_ws):
    registry = load_registry()
    ids = sorted(m.id for m in registry if not m.completed_from)
    frames = {
        by: compute_metrics(demo_ws, registry, ids, JOINT, PERIOD, list(by))
        for by in ((), ("organization",), ("month",), ("organization", "month"), ("tin",))
    }
    parents = demo_ws.connect().execute("SELECT DISTINCT tin, organization FROM member_months").df()
    frames[("tin",)] = frames[("tin",)].merge(parents, on="tin", how="left")
    return registry, ids, frames


def test_no_small_count_is_derivable_across_joint_tables(tables):
    registry, ids, f = tables
    pairs = [
        ((), ("organization",), []),
        ((), ("month",), []),
        (("organization",), ("organization", "month"), ["organization"]),
        (("month",), ("organization", "month"), ["month"]),
        (("organization",), ("tin",), ["organization"]),
    ]
    found = []
    checked = 0
    for mid in ids:
        metric = registry.get(mid)
        for total_by, cells_by, keys in pairs:
            total = f[total_by][f[total_by]["metric_id"] == mid]
            cells = f[cells_by][f[cells_by]["metric_id"] == mid]
            for col in _counts(metric):
                for key, diff in _derived(total, cells, keys, col):
                    checked += 1
                    if is_small(round(diff, 6)):
                        found.append((mid, total_by, cells_by, key, col, diff))
    assert checked > 50  # the demo does hide cells, so the check has something to check
    assert not found, found[:10]


def test_joint_tables_hide_every_small_count(tables):
    registry, ids, f = tables
    for by, df in f.items():
        shown = df[~df["suppressed"]]
        for mid in ids:
            rows = shown[shown["metric_id"] == mid]
            for col in _counts(registry.get(mid)):
                assert not rows[col].map(is_small).any(), (mid, by, col)
