"""The frame every page shares: page config, the visitor's workspace, the sidebar's links and
sign-in, and designs arriving by link.

The app uses Streamlit's `pages/` discovery (no `st.navigation`): `app.py` is the landing
page and each file in `pages/` calls `page_frame` first. The sidebar's automatic page list is
switched off (`client.showSidebarNavigation = false`) in favour of `st.page_link`s with our
labels and icons, so a direct link to any page works as the first request to a server.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from limconn import share
from limconn.ui import resources, state
from limconn.ui.text import plain

ICON = str(Path(__file__).with_name("static") / "icon.png")
PAGES = (
    ("app.py", "Home", ":material/home:"),
    ("pages/design.py", "Design", ":material/brush:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/compare.py", "Compare", ":material/compare_arrows:"),
    ("pages/analyze.py", "Analyze", ":material/insights:"),
)


def page_frame(title: str) -> str:
    """Sets up a page: config, workspace, sidebar, shared-design intake. Returns the
    workspace id (the page stops here if the visitor must sign in first)."""
    st.set_page_config(page_title=f"{title} · limconn", page_icon=ICON, layout="wide")
    try:
        resources.job_queue()  # holds the home's server lock from the first request on
    except RuntimeError as error:  # another server uses this home
        st.error(str(error))
        st.stop()
    workspace = state.workspace()
    with st.sidebar:
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()
        if state.signed_in():
            who = st.user.get("email") or st.user.get("name") or "you"
            st.caption(f"Signed in as {plain(who)}")
            st.button("Sign out", on_click=st.logout)
        else:
            if state.auth_configured():
                st.button("Sign in", on_click=st.login)
            st.caption("Your workspace is private to this link: bookmark it to come back.")
    _take_shared_design()
    return workspace


def _take_shared_design() -> None:
    """A `?design=` link adds its design to this visitor's workspace, once."""
    token = st.query_params.get(share.PARAM)
    if not token:
        return
    del st.query_params[share.PARAM]
    try:
        design = share.design_from_token(token, limits=resources.settings().limits)
        name = state.new_name(design.name or "shared design")
        state.put(name, design)
    except ValueError as error:
        st.error(f"The design in this link could not be opened: {plain(error)}")
    else:
        st.success(f"Added the shared design as “{plain(name)}” to your workspace.")
