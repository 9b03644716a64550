"""limconn: paint which inputs reach which LSTM units, train live, compare.

    streamlit run app.py
"""

import streamlit as st

from limconn.ui import state

st.set_page_config(page_title="limconn", page_icon=":material/hub:", layout="wide")
state.workspace()
navigation = st.navigation(
    [
        st.Page("app_pages/design.py", title="Design", icon=":material/brush:", default=True),
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    ]
)
navigation.run()
