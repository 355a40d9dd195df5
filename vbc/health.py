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


def corrections(ws: Workspace) -> pd.DataFrame:
    """What netting reversals and adjustments did, per claim table (from the build's facts)."""
    rows = [{"table": t, **v} for t, v in ((ws.good or {}).get("netted") or {}).items()]
    return pd.DataFrame(
        rows,
        columns=[
            "table",
            "lines_delivered",
            "lines_after_netting",
            "reversed_dollars",
            "claims_replaced",
            "orphan_lines",
            "orphan_dollars",
        ],
    )


def orphan_reversals(ws: Workspace, viewer: Viewer) -> pd.DataFrame:
    """Reversal lines whose original claim is not in the extract, kept out of every total.

    They name members, so only the payer sees them line by line; other viewers see the totals."""
    con = ws.connect()
    try:
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'reversal_orphans'"
        ).fetchall()
        if not exists[0][0]:
            return pd.DataFrame(
                columns=["source", "claim_id", "claim_line_number", "person_id", "paid_amount"]
            )
        df = con.execute(
            "SELECT source, claim_id, claim_line_number, person_id, paid_amount FROM reversal_orphans ORDER BY 1, 2, 3"
        ).df()
    finally:
        con.close()
    if viewer.kind != "payer" and len(df):
        df = pd.DataFrame(
            [
                {
                    "source": "all",
                    "claim_id": f"{len(df):,} lines",
                    "claim_line_number": None,
                    "person_id": None,
                    "paid_amount": float(df["paid_amount"].sum()),
                }
            ]
        )
    return df


def delivery_comparison(ws: Workspace, changed_share: float = 0.01) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows per table, and the incurred months whose paid dollars changed by more than
    `changed_share`, against the build before this one (empty for a first build)."""
    rows = pd.DataFrame((ws.good or {}).get("delivery_comparison") or [])
    if rows.empty:
        return rows, rows
    tables = rows[rows["month"] == ""][["table", "rows_before", "rows_now"]]
    months = rows[rows["month"] != ""][["table", "month", "paid_before", "paid_now"]].copy()
    before = months["paid_before"].astype(float)
    change = (months["paid_now"].astype(float) - before) / before.where(before != 0)
    months["change"] = change
    months = months[before.isna() | (change.abs() > changed_share)]
    return tables.reset_index(drop=True), months.reset_index(drop=True)
