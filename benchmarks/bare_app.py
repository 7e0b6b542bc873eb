"""Streamlit's own floor: the dashboard's frame with nothing in it (`python -m benchmarks.dashboard` serves it).

A title and three tabs in a fragment bound to the URL, as `dashboard.py` draws them, each holding one line.
What the page open and a tab switch of this app cost on a machine is what any Streamlit app pays there; the
dashboard's figures beyond it are the dashboard's own.
"""

import streamlit as st

TABS = ["One", "Two", "Three"]

st.set_page_config(page_title="bare", layout="wide")
st.title("A bare Streamlit app")


@st.fragment
def draw_tabs() -> None:
    for tab, name in zip(st.tabs(TABS, key="tab", bind="query-params"), TABS, strict=True):
        if tab.open:
            with tab:
                st.write(f"The {name.lower()} tab.")


draw_tabs()
