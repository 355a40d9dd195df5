"""Audit log: who signed in, looked at what and exported what, with the stamp of the numbers.
Administrators only; filters and a CSV export (itself audited)."""

from datetime import date, timedelta

import streamlit as st

from vbc import audit
from vbc.ui import context, widgets

ctx = context.current()
widgets.header(ctx, "Audit log")

if not ctx.identity.is_admin:
    st.info("Only administrators can read the audit log.", icon=":material/lock:")
    st.stop()
if ctx.identity.mode == "demo":
    st.caption("Demo mode: anyone can read this log; with accounts only administrators can.")

today = date.today()
c1, c2, c3, c4 = st.columns([2, 2, 3, 3])
since = c1.date_input("From", today - timedelta(days=30), key="audit_since")
until = c2.date_input("To", today, key="audit_until")
actions = c3.multiselect("Actions", list(audit.ACTIONS), key="audit_actions", placeholder="All actions")
account = c4.text_input("Account (exact e-mail)", key="audit_account").strip().lower()

log = audit.read(ctx.store, since=since, until=until, account=account or None, actions=actions)
st.caption(
    f"{len(log):,} rows, newest first; times in UTC. Rows say what was asked for (page, filters, "
    "metric ids, row counts), never member-level values. The log is append-only."
)
st.dataframe(
    log.rename(
        columns={
            "at": "Time (UTC)",
            "account": "Account",
            "role": "Role",
            "viewer": "Viewer",
            "action": "Action",
            "page": "Page",
            "detail": "Asked for",
            "row_count": "Rows",
            "fingerprint": "Fingerprint",
            "paid_through": "Paid through",
            "source": "Source",
        }
    ),
    hide_index=True,
    width="stretch",
    height=560,
)
widgets.csv_download(log, ctx.stamp, f"audit_{since:%Y%m%d}_{until:%Y%m%d}.csv", key="audit_csv")
