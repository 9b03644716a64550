"""Visitor-typed text (design and run names, file and column names) shown as text.

`reported` shows a refused change (a `ValueError`: bad input, a full disk) the same way,
as one plain line.

Streamlit renders the text of `st.success`, `st.markdown`, `st.caption`, button labels and
the like as Markdown (with LaTeX, emoji and icon shortcodes). A name a visitor typed must never
become a link, an image fetched from elsewhere, a formula or an icon: `plain` makes it
literal.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import streamlit as st

_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~^$&\"'=])")


def plain(text: object) -> str:
    """`text` with every Markdown-active character escaped, so it renders as typed.

    CommonMark lets any ASCII punctuation be backslash-escaped; a colon gets a zero-width
    space after it, which stops `:emoji:` and `:material/icon:` shortcodes while reading the
    same. Newlines become spaces (a name is one line).

    Example: `st.success(f"Saved {plain(name)}")` shows a name `**x** :rocket:` as those
    very characters, not as bold text and an emoji.
    """
    one_line = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", one_line).replace(":", ":\u200b")


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Shows a `ValueError` raised inside as one plain error line (`plain`, since messages
    quote what the visitor typed) instead of breaking the page; the page goes on."""
    try:
        yield
    except ValueError as error:
        st.error(plain(error))
