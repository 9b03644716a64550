"""limconn: paint which inputs reach which LSTM units, train live, compare.

    streamlit run app.py

The landing page. The app uses Streamlit's `pages/` discovery: Design, Train, Compare and
Analyze are `pages/*.py`, each starting with the shared `limconn.ui.frame.page_frame`, so a
direct link to any page works as the first request after a restart.
"""

import streamlit as st

from limconn.ui import state
from limconn.ui.frame import page_frame

page_frame("Home")
st.title("limconn")
st.markdown(
    "**Limited connectivity for LSTMs, exactly.** Paint which inputs may reach which LSTM "
    "units and which units may feed which, choose how the mask is enforced, train masked "
    "Keras LSTMs live, and compare what they learned. A 0 in a limconn mask has no influence: "
    "before the first step, after every step, after save and load, on the fused GPU kernel too."
)
design, train, compare, analyze = st.columns(4)
with design.container(border=True):
    st.page_link("pages/design.py", label="Design", icon=":material/brush:")
    st.caption("Paint the input → unit and unit → unit masks, per gate if you like; presets "
               "(banded, block-diagonal, NCP, small-world, ...), signs (Dale's law), imports "
               "(.npy, .npz, CSV adjacency, ncps wirings) and links to share a design.")
with train.container(border=True):
    st.page_link("pages/train.py", label="Train", icon=":material/model_training:")
    st.caption("Synthetic tasks or your CSV / .npy / .npz; seven strategies, from exact "
               "masked kernels to the everyday answers, each saying what it enforces; live "
               "loss curves; several seeds and all designs in one pass.")
with compare.container(border=True):
    st.page_link("pages/compare.py", label="Compare", icon=":material/compare_arrows:")
    st.caption("Loss curves and seed bands, the trained models' own densities and parameter "
               "counts, weight heatmaps with the masks overlaid, pruning into new designs, "
               "and downloads (.zip, PyTorch).")
with analyze.container(border=True):
    st.page_link("pages/analyze.py", label="Analyze", icon=":material/insights:")
    st.caption("What a masked network learned: state trajectories with their fixed points, "
               "eigenvalues of each gate, which units matter (lesions) beside the mask, "
               "which inputs drive the output (attributions), and dynamics compared across "
               "masks.")
designs = state.designs()
st.caption(f"This workspace keeps {len(designs)} design(s). Rows are sources, columns are "
           "targets; gate order i, f, c, o.")
