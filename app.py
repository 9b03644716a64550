"""limconn: paint which inputs reach which LSTM units, train live, compare.

    streamlit run app.py
"""

import streamlit as st

st.set_page_config(page_title="limconn", page_icon="🧶", layout="wide")
navigation = st.navigation(
    [
        st.Page("pages/design.py", title="Design", icon="🎨", default=True),
        st.Page("pages/train.py", title="Train", icon="🏋️"),
        st.Page("pages/compare.py", title="Compare", icon="📊"),
    ]
)
navigation.run()
