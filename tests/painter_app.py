"""A tiny app around the mask painter, for the browser test.

Keeps a 12 x 20 mask in `st.session_state` (or `?rows=..&cols=..`), paints it, and shows
the stored mask's connected cells as JSON (up to 64 x 64) plus a `.npy` download of it.
With `?signs=1` the painter shows its sign strip (every row free at first) and the page
shows the stored row signs as text, `row_signs [0, 1, -1, ...]`. The painter sits in a
keyless block, as on the Design page (`st.columns`); the "Note above" toggle adds an element
above that block, which makes Streamlit mount the painter again, and "Hide the painter"
leaves it out (Streamlit then drops its component state, as on a page switch).
"""

from __future__ import annotations

import io
import json

import numpy as np
import streamlit as st

from limconn.ui.painter import Painted, paint_mask

st.set_page_config(page_title="limconn painter test")

if "mask" not in st.session_state:
    rows = int(st.query_params.get("rows", 12))
    cols = int(st.query_params.get("cols", 20))
    st.session_state.mask = np.zeros((rows, cols), dtype=bool)
    if st.query_params.get("signs") == "1":
        st.session_state.row_signs = np.zeros(rows, dtype=np.int8)

if st.toggle("Note above", key="note"):
    st.info("A note above the painter")
painted = Painted(st.session_state.mask, st.session_state.get("row_signs"))
if not st.toggle("Hide the painter", key="hide"):
    with st.container():
        painted = paint_mask(
            st.session_state.mask, key="painter", row_signs=st.session_state.get("row_signs")
        )
st.session_state.mask = mask = painted.mask
if painted.row_signs is not None:
    st.session_state.row_signs = painted.row_signs
    st.text("row_signs " + json.dumps(painted.row_signs.tolist()))

# The download sits before the JSON: once the JSON shows a stroke, the file has it too.
buffer = io.BytesIO()
np.save(buffer, mask, allow_pickle=False)
st.download_button(
    "Download mask (.npy)",
    buffer.getvalue(),
    file_name="mask.npy",
    mime="application/octet-stream",
    on_click="ignore",
)
if mask.size <= 4096:  # syntax-highlighting a longer list would stall the browser
    st.code(json.dumps(np.argwhere(mask).tolist()), language="json")
else:
    st.write(f"{int(mask.sum())} connected cells")
