"""Data health: what the build found, what could not be placed, and how complete recent months are."""

from __future__ import annotations

import pandas as pd

from vbc.security import Viewer
from vbc.workspace import Workspace

MATURE_MONTHS = 12


def table_counts(ws: Workspace) -> pd.DataFrame:
    """Rows per input table and per mart, as built."""
    names = [
        "eligibility",
        "medical_claim",
        "pharmacy_claim",
        "lab_result",
        "observation",
        "provider",
        "provider_attribution",
        "risk_score",
        "member_months",
        "claim_lines",
        "inpatient_stays",
        "ed_visits",
        "snf_stays",
    ]
    con = ws.connect()
    try:
        rows = [(n, con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]) for n in names]
    finally:
        con.close()
    return pd.DataFrame(rows, columns=["table", "rows"])


def unmatched_dollars(ws: Workspace, viewer: Viewer) -> pd.DataFrame:
    """Paid dollars in months with no eligibility, by source and incurred month.

    They belong to no member month and so to no organization: only the payer sees them by month;
    other viewers see the total only, as one row.
    """
    con = ws.connect()
    try:
        df = con.execute("""
            SELECT source, strftime(incurred_month, '%Y-%m') AS incurred_month,
                   count(*) AS claim_lines, count(DISTINCT person_id) AS persons,
                   sum(paid_amount) AS paid_amount
            FROM claim_lines WHERE NOT has_member_month
            GROUP BY ALL ORDER BY 2, 1""").df()
    finally:
        con.close()
    if viewer.kind != "payer" and len(df):
        df = pd.DataFrame(
            [
                {
                    "source": "all",
                    "incurred_month": "all months",
                    "claim_lines": int(df["claim_lines"].sum()),
                    "persons": None,
                    "paid_amount": float(df["paid_amount"].sum()),
                }
            ]
        )
    return df


def payment_lag(ws: Workspace) -> pd.DataFrame:
    """Share of paid dollars by months from incurral to payment, over mature incurred months."""
    con = ws.connect()
    try:
        df = con.execute(
            """
            WITH pt AS (SELECT date_trunc('month', max(paid_date)) AS m FROM claim_lines),
            lines AS (
                SELECT date_diff('month', incurred_month, paid_month) AS lag, paid_amount
                FROM claim_lines, pt
                WHERE incurred_month <= pt.m - to_months($mature) AND paid_month IS NOT NULL
            )
            SELECT lag, sum(paid_amount) AS paid FROM lines GROUP BY lag ORDER BY lag
        """,
            {"mature": MATURE_MONTHS},
        ).df()
    finally:
        con.close()
    if df.empty:
        return df.assign(share=[], cumulative=[])
    # A lag with no payments is still a step on the curve (share 0), not a gap in the chart.
    df = (
        df.set_index("lag")
        .reindex(range(int(df["lag"].min()), int(df["lag"].max()) + 1), fill_value=0.0)
        .rename_axis("lag")
        .reset_index()
    )
    df["share"] = df["paid"] / df["paid"].sum()
    df["cumulative"] = df["share"].cumsum()
    return df
