"""Risk scores and risk-adjusted cost: observed PMPM, expected PMPM and their ratio.

Scores per person and calendar year come from the payer's `risk_score` table when it has rows for
that year; otherwise they are CMS-HCC V28 scores computed from the year's diagnosis codes by the
build (vbc.hcc). People with no payer score in a year the payer did supply get the average of
those who have one.

Scores are normalized so the average over member months in the scope is 1.0; a group's expected
PMPM is the scope's PMPM × the group's average normalized score (over its member months), so for
the whole scope observed = expected and the ratio is exactly 1.0.
"""

from __future__ import annotations

import math

import pandas as pd

from vbc import hcc, serving
from vbc.cost import capped_person_dollars
from vbc.periods import Period
from vbc.scope import member_scope, organization_in_view
from vbc.security import Viewer
from vbc.terms import HighCostCap
from vbc.workspace import Workspace


def computed_scores(ws: Workspace, year: int) -> pd.DataFrame:
    """CMS-HCC V28 scores from diagnosis codes for every person with a member month in `year`
    (vbc.hcc): the build's table when it holds the year, else computed from the build's claims."""
    con = ws.connect()
    try:
        if serving.enabled() and hcc.has_scores(con):
            found = con.execute(
                f"SELECT person_id, year, risk_score, model FROM {hcc.TABLE} WHERE year = $y ORDER BY person_id",
                {"y": year},
            ).df()
            if len(found):
                return found
        return hcc.score_year(con, year)
    finally:
        con.close()


def person_scores(ws: Workspace, years: list[int]) -> tuple[pd.DataFrame, dict[int, str]]:
    """(person_id, year, risk_score) for the years, and the source of each year's scores."""
    con = ws.connect()
    try:
        supplied = con.execute(
            "SELECT person_id, year, risk_score, model FROM risk_score WHERE year IN (SELECT unnest($years))",
            {"years": years},
        ).df()
    finally:
        con.close()
    frames, sources = [], {}
    for y in years:
        s = supplied[supplied["year"] == y]
        if len(s):
            model = s["model"].dropna()
            sources[y] = "payer-supplied risk_score" + (f" ({model.iloc[0]})" if len(model) else "")
            frames.append(s[["person_id", "year", "risk_score"]])
        else:
            sources[y] = f"computed: {hcc.model_label()}"
            frames.append(computed_scores(ws, y)[["person_id", "year", "risk_score"]])
    df = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["person_id", "year", "risk_score"])
    )
    df["year"] = df["year"].astype(int)
    return df, sources


def _member_months(
    ws: Workspace,
    viewer: Viewer,
    period: Period,
    organization: str | None,
    payer: str | None,
    with_paid: bool,
) -> pd.DataFrame:
    scope = member_scope(viewer, {"organization": organization, "payer": payer}, alias="mm")
    params = {**scope.params, "month_start": period.start.replace(day=1), "month_end": period.end}
    paid, join = "", ""
    if with_paid:
        paid = ", coalesce(c.paid, 0) AS paid"
        join = """LEFT JOIN (SELECT person_id, payer, incurred_month, sum(paid_amount) AS paid
                             FROM claim_lines GROUP BY ALL) c
                  ON c.person_id = mm.person_id AND c.payer = mm.payer AND c.incurred_month = mm.year_month"""
    con = ws.connect()
    try:
        return con.execute(
            f"""
            SELECT mm.person_id, mm.payer, year(mm.year_month) AS year, strftime(mm.year_month, '%Y-%m') AS month,
                   mm.organization, mm.tin, mm.npi {paid}
            FROM member_months mm {join}
            WHERE mm.year_month BETWEEN $month_start AND $month_end {scope.sql}""",
            params,
        ).df()
    finally:
        con.close()


def _scored(mm: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    df = mm.merge(scores, on=["person_id", "year"], how="left")
    # Missing scores (no payer score for this person) take the average of that year's scored months.
    year_mean = df.groupby("year")["risk_score"].transform("mean")
    df["risk_score"] = df["risk_score"].fillna(year_mean).fillna(1.0)
    return df


def average_risk(ws: Workspace, viewer: Viewer, period: Period, organization: str | None = None) -> float:
    """Average normalized risk score over the organization's member months in the period.

    Normalized to the whole population (every organization and unattributed member months in the
    period) = 1.0, so it can scale a population benchmark. Only the population average (one number)
    is used from outside the viewer's scope; an organization viewer only ever gets its own
    organization (asking for another raises NotEntitled).
    """
    organization = organization_in_view(viewer, organization)
    pop = _member_months(ws, Viewer("payer"), period, None, None, with_paid=False)
    if pop.empty:
        return math.nan
    scores, _ = person_scores(ws, sorted(pop["year"].unique().tolist()))
    pop = _scored(pop, scores)
    norm = pop.groupby("year")["risk_score"].transform("mean")
    pop["normalized"] = pop["risk_score"] / norm
    sel = pop if not organization else pop[pop["organization"] == organization]
    return float(sel["normalized"].mean()) if len(sel) else math.nan


def risk_adjusted(
    ws: Workspace,
    viewer: Viewer,
    period: Period,
    by: str = "organization",
    organization: str | None = None,
    payer: str | None = None,
    cap: HighCostCap | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Observed PMPM, expected PMPM and observed/expected per group, plus a whole-scope row.

    The scope is the viewer's (and the filters'); normalization is within the scope, so the
    scope's ratio is 1.0. With `cap`, each member's annual paid dollars above it are removed first
    (vbc.cost's high-cost cap); by default raw paid dollars.
    """
    if by not in ("organization", "tin", "npi"):
        raise ValueError("risk-adjusted table groups by organization, tin or npi")
    mm = _member_months(ws, viewer, period, organization, payer, with_paid=True)
    if mm.empty:
        return pd.DataFrame(), {}
    if cap is not None:
        dollars = capped_person_dollars(ws, viewer, period, organization, payer, cap)
        mm = mm.drop(columns="paid").merge(dollars, on=["person_id", "payer", "month"], how="left")
        mm["paid"] = mm["paid"].fillna(0.0)
    scores, sources = person_scores(ws, sorted(mm["year"].unique().tolist()))
    df = _scored(mm, scores)
    df["normalized"] = df["risk_score"] / df.groupby("year")["risk_score"].transform("mean")
    pop_pmpm = df["paid"].sum() / len(df)
    g = df.groupby(df[by].fillna("Unattributed"), dropna=False).agg(
        persons=("person_id", "nunique"),
        member_months=("person_id", "size"),
        paid=("paid", "sum"),
        risk=("normalized", "mean"),
        raw_risk=("risk_score", "mean"),
    )
    g["observed_pmpm"] = g["paid"] / g["member_months"]
    g["expected_pmpm"] = pop_pmpm * g["risk"]
    g["ratio"] = g["observed_pmpm"] / g["expected_pmpm"]
    g = g.reset_index().rename(columns={by: "group"})
    total = {
        "group": "All (this view)",
        "persons": df["person_id"].nunique(),
        "member_months": len(df),
        "paid": df["paid"].sum(),
        "risk": df["normalized"].mean(),
        "raw_risk": df["risk_score"].mean(),
    }
    total["observed_pmpm"] = total["paid"] / total["member_months"]
    total["expected_pmpm"] = pop_pmpm * total["risk"]
    total["ratio"] = total["observed_pmpm"] / total["expected_pmpm"]
    out = pd.concat(
        [g.sort_values("member_months", ascending=False), pd.DataFrame([total])], ignore_index=True
    )
    if viewer.suppresses:
        from vbc import suppression
        from vbc.security import is_small

        hide = out["persons"].map(is_small).astype(bool)
        groups = out.iloc[:-1].assign(denominator=out["member_months"].astype(float))
        hide.iloc[:-1] = suppression.suppress(
            groups, suppression.margins(["group"]), ["persons"], hide.iloc[:-1], "denominator"
        ).to_numpy()
        figures = [
            "persons",
            "member_months",
            "paid",
            "risk",
            "raw_risk",
            "observed_pmpm",
            "expected_pmpm",
            "ratio",
        ]
        out = suppression.blank(out, hide, figures)
        out["suppressed"] = hide
    else:
        out["suppressed"] = False
    return out, sources
