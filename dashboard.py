"""Entry point: who is signed in, who is viewing, the global filters, navigation. Pages do the rest.

streamlit run dashboard.py -- --data DIR     (or VBC_DATA_DIR=DIR; demo data when neither)
"""

import streamlit as st

from vbc.ui import context
from vbc.ui.navigation import DEFAULT, DEFAULT_ROOT_PATH, PAGES

st.set_page_config(page_title="Shared VBC performance", page_icon=":material/monitoring:", layout="wide")

context.take_over_navigation(first_run_only=True)
# A context from an earlier run must never serve this one (the session may have expired since).
st.session_state["vbc_ctx"] = None
ctx = context.load()  # draws the sign-in (or why-not) page and returns None when nobody may see data
admin = ctx is not None and ctx.identity.is_admin
pages = [
    st.Page(
        p.file,
        title=p.title,
        icon=p.icon,
        url_path=DEFAULT_ROOT_PATH if p is DEFAULT else p.url_path,
        default=p is DEFAULT,
        visibility="hidden" if p.admin_only and not admin else "visible",
    )
    for p in PAGES
]
own_url = st.Page(
    DEFAULT.file, title=DEFAULT.title, icon=DEFAULT.icon, url_path=DEFAULT.url_path, visibility="hidden"
)

nav = st.navigation([*pages, own_url], position="sidebar" if ctx is not None else "hidden")
if ctx is None:
    st.stop()
spec = next(p for p in PAGES if p.title == nav.title)
ctx.page = spec.url_path
if not spec.audits_itself:
    context.audit_view(ctx)
st.session_state["vbc_ctx"] = ctx
nav.run()
