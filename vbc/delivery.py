"""A new delivery compared with the last good build before it replaces it.

Payers resend extracts monthly, and a delivery can be partial (only this year's claims, one file of
a folder missing) or empty. Built as it is, such a delivery would replace good numbers with wrong
ones: total PMPM falling by three quarters without a warning. Before a build is swapped in, its row
counts and paid dollars per table and per incurred month are compared with the last good build's:

- a required table with no rows stops the build;
- an incurred month that was complete in the last build (outside its run-out window) and has lost
  more than SHRINK_SHARE of its paid dollars stops the build, with a message saying which months
  shrank and by how much.

`build --accept-shrink` takes such a delivery anyway (a payer's restatement can do this); the build
report records it. Data health shows the comparison either way.
"""

from __future__ import annotations

import duckdb

from vbc.findings import ERROR, WARNING, Report

SHRINK_SHARE = 0.05  # a complete month losing more than 5% of its paid dollars is a shrunken delivery
REQUIRED = ("eligibility", "medical_claim", "provider")
PAID = {"medical_claim": "claim_start_date", "pharmacy_claim": "dispensing_date"}
COUNTED = ("eligibility", "medical_claim", "pharmacy_claim", "lab_result", "observation", "provider")


def stats(con: duckdb.DuckDBPyConnection) -> dict:
    """Rows per table, and paid dollars per claim table and incurred month (after netting)."""
    rows = {t: int(con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]) for t in COUNTED}
    paid = {}
    for table, date_col in PAID.items():
        paid[table] = {
            m: float(v)
            for m, v in con.execute(
                f"SELECT strftime({date_col}, '%Y-%m'), sum(paid_amount) FROM \"{table}\" GROUP BY 1"
            ).fetchall()
        }
    return {"rows": rows, "paid_by_month": paid}


def compare(previous: dict | None, current: dict) -> list[dict]:
    """Per table and per incurred month: the last good build's figures beside this delivery's
    (nothing for a first build, which has nothing to be compared with)."""
    if not (previous or {}).get("delivery"):
        return []
    out = []
    before = (previous or {}).get("delivery") or {}
    for table, n in current["rows"].items():
        out.append(
            {"table": table, "month": "", "rows_before": (before.get("rows") or {}).get(table), "rows_now": n}
        )
    for table, months in current["paid_by_month"].items():
        old = ((before.get("paid_by_month") or {}).get(table)) or {}
        for m in sorted(set(months) | set(old)):
            out.append(
                {"table": table, "month": m, "paid_before": old.get(m), "paid_now": months.get(m, 0.0)}
            )
    return out


def _shrunk_months(previous: dict, current: dict) -> list[tuple[str, float, float]]:
    """(month, paid before, paid now) for complete months of the last build that lost dollars."""
    before = (previous.get("delivery") or {}).get("paid_by_month") or {}
    incomplete = set(previous.get("incomplete_months") or [])
    totals_before: dict[str, float] = {}
    totals_now: dict[str, float] = {}
    for months in before.values():
        for m, v in months.items():
            totals_before[m] = totals_before.get(m, 0.0) + v
    for months in current["paid_by_month"].values():
        for m, v in months.items():
            totals_now[m] = totals_now.get(m, 0.0) + v
    out = []
    for m, was in sorted(totals_before.items()):
        now = totals_now.get(m, 0.0)
        if m not in incomplete and was > 0 and (was - now) / was > SHRINK_SHARE:
            out.append((m, was, now))
    return out


def check(previous: dict | None, current: dict, report: Report, accept_shrink: bool) -> None:
    """Refuse an empty required table, and (unless accepted) a delivery that shrank."""
    for table in REQUIRED:
        if current["rows"].get(table, 0) == 0:
            report.add(
                ERROR,
                table,
                None,
                0,
                "the delivery has no rows for this required table",
                check="empty_delivery",
            )
    if not previous:
        return
    shrunk = _shrunk_months(previous, current)
    if not shrunk:
        return
    shown = "; ".join(
        f"{m}: ${was:,.2f} -> ${now:,.2f} ({(now - was) / was:+.0%})" for m, was, now in shrunk[:6]
    )
    more = f" and {len(shrunk) - 6} more" if len(shrunk) > 6 else ""
    total_was = sum(w for _, w, _ in shrunk)
    total_now = sum(n for _, _, n in shrunk)
    message = (
        f"{len(shrunk)} incurred month(s) that were complete in the last good build lost more than "
        f"{SHRINK_SHARE:.0%} of their paid dollars (${total_was:,.2f} -> ${total_now:,.2f}): {shown}{more}"
    )
    if accept_shrink:
        report.add(
            WARNING,
            "(delivery)",
            None,
            len(shrunk),
            message + "; taken with --accept-shrink",
            check="shrink_accepted",
        )
    else:
        report.add(
            ERROR,
            "(delivery)",
            None,
            len(shrunk),
            message + ". A partial or wrong delivery? The last good build keeps serving; "
            "`python -m vbc build --data DIR --accept-shrink` takes it anyway.",
            check="shrunk_delivery",
        )
