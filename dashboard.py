"""Entry point: who is viewing, the global filters, navigation. Pages do the rest.

streamlit run dashboard.py -- --data DIR     (or VBC_DATA_DIR=DIR; demo data when neither)
"""

import streamlit as st

from vbc.ui import context
from vbc.ui.navigation import DEFAULT, DEFAULT_ROOT_PATH, PAGES

st.set_page_config(page_title="Shared VBC performance", page_icon=":material/monitoring:", layout="wide")

pages = [
    st.Page(
        p.file,
        title=p.title,
        icon=p.icon,
        url_path=DEFAULT_ROOT_PATH if p is DEFAULT else p.url_path,
        default=p is DEFAULT,
    )
    for p in PAGES
]
own_url = st.Page(
    DEFAULT.file, title=DEFAULT.title, icon=DEFAULT.icon, url_path=DEFAULT.url_path, visibility="hidden"
)

nav = st.navigation([*pages, own_url])
st.session_state["vbc_ctx"] = context.load()
if st.session_state["vbc_ctx"] is None:
    st.stop()
nav.run()
