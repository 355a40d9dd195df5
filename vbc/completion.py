"""Claims run-out: lag triangle, chain-ladder completion factors, completed PMPM and a backtest.

Recent months look cheap because their claims have not all been paid yet. Here:

* the **lag triangle** is built in DuckDB from `claim_lines`: paid dollars by incurred month (rows)
  and months from incurral to payment (columns, `paid_month - incurred_month`, capped at MAX_LAG),
  over the same dollars a PMPM counts (lines matched to a member month of the viewer's scope);
* **chain ladder** (hand-written, volume-weighted): the development factor from lag k to k+1 is
  sum(C[i,k+1]) / sum(C[i,k]) over the incurred months observed at both lags (C cumulative); the
  cumulative factor to ultimate from lag k is the product of the factors from k on (no tail beyond
  the longest lag seen); an incurred month observed to lag a is `1 / cdf[a]` complete;
* **completed** dollars = raw dollars / completion factor (= raw × cdf);
* the **range** is ±1.96 standard errors of the completed amount by Mack's (1993) formula
  (process and parameter error of the chain-ladder ultimate, relative to the ultimate); the
  backtest below shows how often the eventually-paid amount fell inside it;
* the **backtest** cuts the claims at earlier paid-through dates, completes them, and compares with
  what was paid by the latest paid-through date for incurred months that have since matured.

Completion is applied to a metric per incurred month, so a completed PMPM by organization, TIN or
PCP uses the viewer-scope factors of each month (the organizations share the payer's claims
processing); its range is widened for the group's smaller volume (Mack's process error scaled by
the group's share of the month's dollars, the parameter error kept). A hand-written chain ladder was chosen over the `chainladder` package: the method is a
few lines of numpy over a triangle DuckDB builds anyway, it is tested against hand-worked factors,
and it avoids a heavy dependency (pandas-version-sensitive, sparse/numba extras) for no gain.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from vbc import serving, suppression
from vbc.periods import month_from_index, month_index, month_label
from vbc.scope import member_scope
from vbc.security import Viewer
from vbc.stats import Z95

if TYPE_CHECKING:  # the build (vbc.workspace) records runout_facts, so no import back at run time
    from vbc.workspace import Workspace

MAX_LAG = 24  # payments later than this many months are counted at this lag
COMPLETE_SHARE = 0.975  # a month with at least this share of its dollars paid counts as complete
BACKTEST_CUTS = tuple(range(6, 19))  # months before the paid-through date (6 to 18)
BACKTEST_MATURE = 12  # "eventually paid" = paid by the latest date, for months at least this old
MIN_ORIGINS = 6


COMPLETION_COLUMNS = [
    "month",
    "incurred_month",
    "lag",
    "raw",
    "completion_factor",
    "cdf",
    "rel_se",
    "rel_var_process",
    "rel_var_param",
    "completed",
    "low",
    "high",
    "incomplete",
]


BACKTEST_COLUMNS = [
    "cut_months",
    "paid_through_at_cut",
    "month",
    "lag",
    "raw",
    "completed",
    "low",
    "high",
    "actual",
]


def is_incomplete(completion_factor):
    """The one rule for an incomplete month: less than COMPLETE_SHARE of its dollars are paid
    (the chain-ladder completion factor of the dollars in question). Works on arrays too."""
    return completion_factor < COMPLETE_SHARE


def paid_through(ws: Workspace) -> date | None:
    """The build's paid-through date; None for an extract without paid dates (no completion)."""
    text = (ws.good or {}).get("paid_through")
    return date.fromisoformat(text) if text else None


def runout_facts(con, through: date | None) -> dict:
    """Facts the build records: the incurred months still inside the run-out window (all paid
    dollars, every member month), so every chart of the build marks the same months."""
    if through is None:
        return {"incomplete_months": []}
    table = completion_table(con, None, Viewer("payer"), through=through)
    return {"incomplete_months": [m for m, inc in zip(table["month"], table["incomplete"]) if inc]}


def incomplete_months(ws: Workspace) -> list[str]:
    """The incurred months (YYYY-MM) of the build still inside the claims run-out window: their
    dollars are less than COMPLETE_SHARE paid. Every chart marks these months (drawn hollow, out of
    the limits); a completed dollar series also applies the rule to its own claims."""
    good = ws.good or {}
    if "incomplete_months" in good:
        return list(good["incomplete_months"])
    con = ws.connect()  # a build made before the list was recorded
    try:
        return runout_facts(con, paid_through(ws))["incomplete_months"]
    finally:
        con.close()


# ----------------------------------------------------------------------------- chain ladder
def chain_ladder(cumulative: np.ndarray) -> dict:
    """Volume-weighted chain ladder on a cumulative triangle.

    `cumulative[i, k]` is what incurred month i had paid by lag k; NaN where not yet observed.
    Rows are incurred months oldest first; row i is observed to lag `n - 1 - i` (the latest
    diagonal is the paid-through month). Returns the link factors f[k] (lag k -> k+1), the
    cumulative factors to ultimate cdf[k], each row's latest lag, completion factor (share paid),
    ultimate and Mack relative standard error.
    """
    c = np.asarray(cumulative, dtype=float)
    n, K = c.shape
    latest = np.minimum(n - 1 - np.arange(n), K - 1)
    f = np.ones(K - 1)
    sigma2 = np.full(K - 1, np.nan)
    s_k = np.zeros(K - 1)
    for k in range(K - 1):
        rows = np.flatnonzero(latest >= k + 1)
        num, den = c[rows, k + 1].sum(), c[rows, k].sum()
        s_k[k] = den
        if len(rows) and den > 0:
            f[k] = num / den
            ok = rows[c[rows, k] > 0]
            if len(ok) >= 2:
                ratios = c[ok, k + 1] / c[ok, k]
                sigma2[k] = float(np.sum(c[ok, k] * (ratios - f[k]) ** 2) / (len(ok) - 1))
    # Mack's extrapolation where a factor rests on one row (or none).
    for k in range(K - 1):
        if np.isnan(sigma2[k]):
            if k >= 2 and sigma2[k - 1] > 0 and sigma2[k - 2] > 0:
                sigma2[k] = min(sigma2[k - 1] ** 2 / sigma2[k - 2], sigma2[k - 2], sigma2[k - 1])
            elif k >= 1 and not np.isnan(sigma2[k - 1]):
                sigma2[k] = sigma2[k - 1] if f[k] != 1.0 else 0.0
            else:
                sigma2[k] = 0.0
    cdf = np.ones(K)
    for k in range(K - 2, -1, -1):
        cdf[k] = cdf[k + 1] * f[k]
    observed = c[np.arange(n), latest]
    ultimate = observed * cdf[latest]
    # Mack's relative variance, kept in its two parts: process error (the row's own volume: a
    # sub-group with a share s of the row's dollars has s times the volume, so 1/s times this part)
    # and parameter error (the factors' estimation error, the same for any sub-group).
    rel_process, rel_param = np.zeros(n), np.zeros(n)
    for i in range(n):
        proj = observed[i]
        if proj <= 0:
            continue
        for k in range(latest[i], K - 1):
            if f[k] > 0 and s_k[k] > 0:
                rel_process[i] += sigma2[k] / f[k] ** 2 / proj
                rel_param[i] += sigma2[k] / f[k] ** 2 / s_k[k]
            proj *= f[k]
    return {
        "factors": f,
        "cdf": cdf,
        "latest_lag": latest,
        "observed": observed,
        "completion": 1.0 / cdf[latest],
        "ultimate": ultimate,
        "rel_se": np.sqrt(rel_process + rel_param),
        "rel_var_process": rel_process,
        "rel_var_param": rel_param,
        "sigma2": sigma2,
    }


# ----------------------------------------------------------------------------- triangle
def triangle_frame(
    con, viewer: Viewer, filters: dict | None, category: str | None, through: date, from_facts: bool = False
) -> pd.DataFrame:
    """Incremental paid dollars by incurred month and lag, for claims paid by `through`.
    `from_facts`: summed from the build's lag_facts (vbc.serving), which hold exactly these
    dollars for `through` = the date they were cut at."""
    scope = member_scope(viewer, filters)
    params = dict(scope.params)
    cat = ""
    if category:
        cat = "AND c.service_category = $category"
        params["category"] = category
    if from_facts:
        return con.execute(
            f"""SELECT c.incurred_month, c.lag, sum(c.paid) AS paid
                FROM {serving.LAG_FACTS} c WHERE true {scope.sql} {cat} GROUP BY ALL ORDER BY 1, 2""",
            params,
        ).df()
    params.update({"through": through})
    return con.execute(
        f"""
        WITH mm AS (SELECT person_id, payer, year_month FROM member_months {scope.where()})
        SELECT c.incurred_month,
               greatest(date_diff('month', c.incurred_month, c.paid_month), 0) AS lag,
               sum(c.paid_amount) AS paid
        FROM claim_lines c JOIN mm ON mm.person_id = c.person_id AND mm.payer = c.payer
                                  AND mm.year_month = c.incurred_month
        WHERE c.paid_date <= $through AND c.incurred_month <= $through {cat}
        GROUP BY ALL ORDER BY 1, 2""",
        params,
    ).df()


def cumulative_triangle(frame: pd.DataFrame, first: date, through: date) -> tuple[list[date], np.ndarray]:
    """Pivot incremental dollars into a cumulative triangle (NaN below the latest diagonal)."""
    t0, t1 = month_index(first), month_index(through)
    months = [month_from_index(i) for i in range(t0, t1 + 1)]
    n = len(months)
    K = max(2, min(MAX_LAG + 1, n))
    inc = np.zeros((n, K))
    if len(frame):
        rows = np.array([month_index(pd.Timestamp(m).date()) for m in frame["incurred_month"]]) - t0
        lags = np.minimum(frame["lag"].to_numpy(dtype=int), K - 1)
        keep = (rows >= 0) & (rows < n)
        np.add.at(inc, (rows[keep], lags[keep]), frame["paid"].to_numpy(dtype=float)[keep])
    cum = np.cumsum(inc, axis=1)
    latest = np.minimum(n - 1 - np.arange(n), K - 1)
    mask = np.arange(K)[None, :] > latest[:, None]
    cum[mask] = np.nan
    return months, cum


def _first_month(con, viewer: Viewer, filters: dict | None) -> date | None:
    scope = member_scope(viewer, filters)
    row = con.execute(f"SELECT min(year_month) FROM member_months {scope.where()}", scope.params).fetchall()[
        0
    ]
    return row[0] if row and row[0] else None


def completion_table(
    con,
    ws: Workspace,
    viewer: Viewer,
    filters: dict | None = None,
    category: str | None = None,
    through: date | None = None,
    frame: pd.DataFrame | None = None,
    first: date | None = None,
) -> pd.DataFrame:
    """Per incurred month: raw dollars, completion factor, cdf, relative range, incomplete flag.

    `frame` (a triangle_frame at a later date) is cut at `through` instead of querying again.
    `ws` is only read for the paid-through date when `through` is not given.
    """
    through = through or paid_through(ws)
    if through is None:  # no paid dates: nothing to complete, every month is taken as paid
        return pd.DataFrame(columns=COMPLETION_COLUMNS)
    first = first or _first_month(con, viewer, filters)
    cols = COMPLETION_COLUMNS
    if first is None or first > through:
        return pd.DataFrame(columns=cols)
    if frame is None:
        served = serving.lag_facts_through(ws) == through
        frame = triangle_frame(con, viewer, filters, category, through, from_facts=served)
    else:
        inc = np.array([month_index(pd.Timestamp(m).date()) for m in frame["incurred_month"]], dtype=int)
        cut = month_index(through)
        frame = frame[(inc <= cut) & (inc + frame["lag"].to_numpy(dtype=int) <= cut)]
    months, cum = cumulative_triangle(frame, first, through)
    cl = chain_ladder(cum)
    out = pd.DataFrame(
        {
            "incurred_month": months,
            "month": [month_label(m) for m in months],
            "lag": cl["latest_lag"],
            "raw": cl["observed"],
            "completion_factor": cl["completion"],
            "cdf": cl["cdf"][cl["latest_lag"]],
            "rel_se": cl["rel_se"],
            "rel_var_process": cl["rel_var_process"],
            "rel_var_param": cl["rel_var_param"],
        }
    )
    out["completed"] = out["raw"] * out["cdf"]
    out["low"] = out["completed"] * np.maximum(1 - Z95 * out["rel_se"], 0)
    out["high"] = out["completed"] * (1 + Z95 * out["rel_se"])
    out["incomplete"] = is_incomplete(out["completion_factor"])
    return out[cols]


# ----------------------------------------------------------------------------- completed metrics
def complete_monthly(
    monthly: pd.DataFrame,
    factors: pd.DataFrame,
    month_col: str = "month",
    num_col: str = "numerator",
    sub_groups: bool = False,
) -> pd.DataFrame:
    """Add completed/low/high dollars to rows carrying a month and raw dollars.

    With `sub_groups`, each row is a part (an organization, TIN or PCP) of the scope the factors
    were estimated on: its range widens by its share of the month's dollars (Mack's process error
    grows as volume shrinks; the parameter error does not), so a small panel's completed PMPM is
    not given the whole population's precision.
    """
    f = factors.set_index("month")
    cdf = monthly[month_col].map(f["cdf"]).fillna(1.0).astype(float)
    rel = monthly[month_col].map(f["rel_se"]).fillna(0.0).astype(float)
    out = monthly.copy()
    raw = out[num_col].astype(float)
    if sub_groups and len(out):
        scope = monthly[month_col].map(f["raw"]).astype(float)
        share = (raw / scope).where((scope > 0) & (raw > 0)).clip(upper=1.0)
        proc = monthly[month_col].map(f["rel_var_process"]).fillna(0.0).astype(float)
        param = monthly[month_col].map(f["rel_var_param"]).fillna(0.0).astype(float)
        rel = np.sqrt(proc / share + param).where(share.notna(), rel)
    out["completed"] = raw * cdf
    out["low"] = out["completed"] * np.maximum(1 - Z95 * rel, 0)
    out["high"] = out["completed"] * (1 + Z95 * rel)
    out["incomplete"] = monthly[month_col].map(f["incomplete"]).eq(True)
    return out


def completed_frame(
    metric_id: str, out: pd.DataFrame, monthly: pd.DataFrame, factors: pd.DataFrame, by: list[str]
) -> pd.DataFrame:
    """A completed PMPM in the engine's frame shape (ci_low/ci_high hold the completion range).

    `out` is the raw metric at the output grouping `by` (suppression already applied), `monthly` the
    same raw metric per month (and `by`) in the viewer's scope, `factors` the completion table of
    that scope. `vbc.engine.compute_metrics` gathers these for metrics declaring `completed_from`.
    Neither frame is changed (the engine also returns `out` as the raw metric).
    """
    out = out.copy()
    monthly = complete_monthly(monthly, factors, sub_groups=bool(set(by) - {"month"}))
    keys = list(by)
    if keys:
        agg = monthly.groupby(keys, dropna=False)[["completed", "low", "high"]].sum().reset_index()
        out = out.merge(agg, on=keys, how="left")
    else:
        for col in ("completed", "low", "high"):
            out[col] = float(monthly[col].sum())
    den = out["denominator"].astype(float)
    raw_value = out["value"].astype(float)
    out["raw_value"] = raw_value
    out["value"] = out["completed"] / den
    out["ci_low"] = out["low"] / den
    out["ci_high"] = out["high"] / den
    out["completion_factor"] = out["numerator"].astype(float) / out["completed"]
    out["numerator"] = out["completed"]
    if "month" in by:
        # One flag per month (the scope's factors), whatever other groupings share the month.
        inc = monthly.groupby("month")["incomplete"].any()
        out["incomplete"] = out["month"].map(inc).fillna(False).astype(bool)
    else:
        out["incomplete"] = (
            bool(monthly.loc[monthly["month"].notna(), "incomplete"].any()) if len(monthly) else False
        )
    figures = [
        "numerator",
        "denominator",
        "value",
        "ci_low",
        "ci_high",
        "raw_value",
        "completion_factor",
        "n_persons",
    ]
    out = suppression.blank(out, out["suppressed"].astype(bool), figures)
    out["metric_id"] = metric_id
    return out.drop(columns=["completed", "low", "high"])


# ----------------------------------------------------------------------------- backtest
def _backtest_rows(ws: Workspace, viewer: Viewer, filters, cuts, category, latest: date) -> list[dict]:
    con = ws.connect()
    rows = []
    try:
        first = _first_month(con, viewer, filters)
        frame = triangle_frame(
            con, viewer, filters, category, latest, from_facts=serving.lag_facts_through(ws) == latest
        )
        final = completion_table(con, ws, viewer, filters, category, latest, frame, first)
        actual = dict(zip(final["month"], final["raw"]))
        for cut in cuts:
            idx = month_index(latest) - cut
            cut_date = month_from_index(idx + 1) - timedelta(days=1)
            if first is None or idx - month_index(first) + 1 < MIN_ORIGINS:
                continue
            table = completion_table(con, ws, viewer, filters, category, cut_date, frame, first)
            for r in table.itertuples(index=False):
                age = month_index(latest) - month_index(r.incurred_month)
                if r.lag >= MAX_LAG or age < BACKTEST_MATURE:
                    continue
                rows.append(
                    {
                        "cut_months": cut,
                        "paid_through_at_cut": cut_date.isoformat(),
                        "month": r.month,
                        "lag": int(r.lag),
                        "raw": r.raw,
                        "completed": r.completed,
                        "low": r.low,
                        "high": r.high,
                        "actual": actual.get(r.month, math.nan),
                    }
                )
    finally:
        con.close()
    return rows


def backtest(
    ws: Workspace,
    viewer: Viewer = Viewer("payer"),
    filters: dict | None = None,
    cuts: tuple[int, ...] = BACKTEST_CUTS,
    category: str | None = None,
) -> pd.DataFrame:
    """Cut the claims at earlier paid-through dates, complete, compare with what was paid later.

    One row per (cut, incurred month) with lag at the cut, raw and completed dollars at the cut,
    the range, and the dollars eventually paid (by the latest paid-through date) for incurred months
    at least BACKTEST_MATURE months old by then.
    """
    latest = paid_through(ws)
    # No paid dates: nothing to cut, so nothing to backtest (an empty table).
    rows = [] if latest is None else _backtest_rows(ws, viewer, filters, cuts, category, latest)
    df = pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
    df["error"] = df["completed"] / df["actual"] - 1
    df["raw_error"] = df["raw"] / df["actual"] - 1
    tol = 1e-6 * df["actual"].abs()
    df["inside"] = (df["actual"] >= df["low"] - tol) & (df["actual"] <= df["high"] + tol)
    return df


def backtest_by_lag(bt: pd.DataFrame, max_lag: int = 11) -> pd.DataFrame:
    """Error of completed (and of raw) dollars against eventual payment, by lag month at the cut."""
    d = bt[bt["lag"] <= max_lag]
    g = d.groupby("lag")
    out = pd.DataFrame(
        {
            "cells": g.size(),
            "mean_error": g["error"].mean(),
            "mean_abs_error": g["error"].apply(lambda s: s.abs().mean()),
            "max_abs_error": g["error"].apply(lambda s: s.abs().max()),
            "raw_shortfall": g["raw_error"].mean(),
            "inside_range": g["inside"].mean(),
        }
    ).reset_index()
    return out
