"""Entry point: who is viewing, the global filters, navigation. Pages do the rest.

streamlit run dashboard.py -- --data DIR     (or VBC_DATA_DIR=DIR; demo data when neither)
"""

import streamlit as st

from vbc.ui import context

st.set_page_config(page_title="Shared VBC performance", page_icon=":material/monitoring:", layout="wide")

# Each url_path is the file's name: on a freshly started server Streamlit's first run looks pages
# up in pages/ by that name (see vbc.ui.context.current), so deep links must match it.
PAGES = [
    st.Page(
        "pages/overview.py", title="Overview", icon=":material/dashboard:", default=True, url_path="overview"
    ),
    st.Page("pages/cost.py", title="Cost of care", icon=":material/payments:", url_path="cost"),
    st.Page(
        "pages/utilization.py", title="Utilization", icon=":material/local_hospital:", url_path="utilization"
    ),
    st.Page(
        "pages/data_health.py", title="Data health", icon=":material/monitor_heart:", url_path="data_health"
    ),
    st.Page("pages/attribution.py", title="Attribution", icon=":material/group:", url_path="attribution"),
    st.Page(
        "pages/settlement.py", title="Settlement", icon=":material/request_quote:", url_path="settlement"
    ),
    st.Page("pages/definitions.py", title="Definitions", icon=":material/menu_book:", url_path="definitions"),
    st.Page("pages/quality.py", title="Quality", icon=":material/verified:", url_path="quality"),
    st.Page("pages/care_gaps.py", title="Care gaps", icon=":material/checklist:", url_path="care_gaps"),
]

nav = st.navigation(PAGES)
st.session_state["vbc_ctx"] = context.load()
if st.session_state["vbc_ctx"] is None:
    st.stop()
nav.run()
