"""The mask painter: a canvas where a researcher paints which sources reach which targets.

A Streamlit custom component v2 with no build step: its HTML, CSS and JavaScript are the
files `painter.html`, `painter.css` and `painter.mjs` beside this module, read once at
import. Rows are sources (inputs, or units' previous hidden state), columns are targets
(units), as everywhere in limconn. All painting happens in the browser; each finished
stroke comes back to Python once, as one compact encoding of the whole matrix (and of the
row signs, when the sign strip shows). That protocol lives in `painter_protocol`, which
does not import Streamlit; this module is only the Streamlit glue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources

import numpy as np
import streamlit as st

from limconn.connectivity import as_bool_mask
from limconn.ui.painter_protocol import (
    MAX_SIDE,
    Painted,
    _reconcile,
    as_signs,
    check_shape,
    decode_mask,
    decode_signs,
    encode_connection_signs,
    encode_mask,
    encode_signs,
)

__all__ = [
    "MAX_SIDE",
    "Painted",
    "decode_mask",
    "decode_signs",
    "encode_mask",
    "encode_signs",
    "paint_mask",
]

_BOOK_PREFIX = "_limconn_painter_book::"
_STATE_NAME = "stroke"


def _front_end(name: str) -> str:
    """The text of one of the component's files beside this module."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


_mount = st.components.v2.component(
    "limconn_mask_painter",
    html=_front_end("painter.html"),
    css=_front_end("painter.css"),
    js=_front_end("painter.mjs"),
)


def _ignore_change() -> None:
    """Registers `stroke` as a state of the component; the work happens in `paint_mask`."""


def paint_mask(
    mask: np.ndarray,
    *,
    key: str,
    source_label: str = "input",
    target_label: str = "unit",
    height: int | None = None,
    row_signs: np.ndarray | None = None,
    connection_signs: np.ndarray | None = None,
) -> Painted:
    """Shows `mask` on a canvas the user paints, and returns it after their latest edit.

    Use it on a page that keeps the authoritative mask (and row signs, if any) under its
    own keys in `st.session_state` (not the painter's `key`: Streamlit drops a component's
    keyed state on a page switch) and stores what this returns:

    ```python
    st.session_state.input_mask = paint_mask(
        st.session_state.input_mask, key="input_painter"
    ).mask
    ```

    Rows are sources and columns are targets, so `mask[i, j]` means "source `i` may reach
    target `j`"; the canvas reads the same way, with `target unit` across the top,
    `source input` down the side and 0-based tick numbers. Clicking toggles a cell;
    dragging paints the first cell's new value; a stroke that starts on a tick number or
    in the margin paints from where it enters the grid. Clicking a row's number (or the
    band left of the row) sets the whole row: connects all of it unless all of it is
    connected already, else disconnects it; shift-click disconnects. Column numbers do the
    same for columns. The toolbar switches to draw, erase, whole row, whole column or
    rectangle (shift-drag erases), and clears, fills or inverts the whole matrix. Hovering
    a cell shows e.g. `input 3 → unit 7: connected`. Painting happens in the browser (a
    canvas, smooth at 256 x 256); each finished edit comes back once, as `encode_mask`'s
    encoding of the whole matrix plus the revision it was painted on,
    `{"shape", "bits", "signs"?, "rev", "seq", "nonce"}`.

    **Signs (Dale's law).** With `row_signs`, a narrow strip left of the grid shows each
    source's sign: `+` excitatory (all its outgoing weights >= 0), `−` inhibitory (all
    <= 0), `·` free. Clicking a strip cell cycles + → − → free; dragging along the strip
    gives every row passed the first cell's new sign. The edit comes back in the same
    payload as strokes (`signs`: one `+`, `-` or `0` per row, checked for length and
    characters before use). Connected cells are drawn in the sign's colour: excitatory
    dark red, inhibitory blue (the ends of the `RdBu` scale the weight heatmaps use), free
    in the theme's primary colour; from 12 px cells up, signed cells also carry a white
    `+` or `−`, so the sign never rests on colour alone. With `connection_signs`, each
    cell takes its own sign instead of its row's. The CSS variables `--lc-excitatory` and
    `--lc-inhibitory` change the two colours.

    **Revision protocol.** Python, not the browser, owns the mask and the row signs.
    `paint_mask` keeps a small book in `st.session_state` (key
    `"_limconn_painter_book::" + key`): a revision number, a digest of the state on show
    (mask and row signs), the last stroke known to be stored, and the stroke it returned
    last time (pending until the page is seen holding its result). Each call:

    1. If the state is the pending stroke's result, that stroke is acknowledged. If it
       is neither that nor the state on show (the page applied a preset, loaded a file,
       changed sizes or signs, or edited the result), the revision goes up. If it is still
       the state on show, the page never stored the result (typically: the next stroke
       interrupted the run that returned it), and the stroke is offered again.
    2. A stroke (or strip edit) is taken only if it is new (its `(nonce, seq)` is not
       acknowledged; `nonce` names the painter's state in the browser tab, `seq` counts
       its strokes) **and**
       it was painted on the current revision **and** has `mask`'s shape (and, with a
       strip, a valid sign for every row; without one, no signs). So a stroke or strip
       edit painted before a preset was applied never overwrites the preset, the
       component's state (which persists across reruns) is taken once, and state left
       over from before the book existed is never taken. A malformed one is logged and
       ignored.
    3. The result is sent down with the revision and the stroke it includes. The canvas
       adopts Python's state when the revision changed, and otherwise keeps edits it has
       sent that Python has not yet acknowledged, so a quick second stroke does not
       flicker away while the first one's rerun is in flight.

    The browser keeps each painter's state (mode, cells, unacknowledged edits, a drag in
    progress) under `key` for the life of the tab, not on the canvas's DOM node: Streamlit
    mounts a component again whenever the block around it is rebuilt (an element that
    appears above a keyless block, such as `st.columns`, shifts its index, React's key for
    it), and a new mount takes the state over and sends any edit not yet acknowledged.

    Store the result straight away (both fields, when signs are in use); a page that does
    not store it gets the same edit again on its next run.

    Args:
        mask: 2-D bool array `(rows, cols)` (0/1 numbers are accepted), rows are sources,
            columns are targets; 1 to 256 of each.
        key: unique key of this painter on the page. Also names its book in
            `st.session_state`.
        source_label: what a row is called, e.g. `"input"`, or `"unit"` for the
            recurrent mask. Shown as `source input ↓` and in the hover text.
        target_label: what a column is called, e.g. `"unit"`.
        height: the most pixels the matrix may take vertically; cells shrink to fit
            (never below 2 px). None (default) sizes cells to the width alone, up to
            28 px.
        row_signs: `(rows,)` numbers -1 (inhibitory), 0 (free) or +1 (excitatory), one
            per source; shows the sign strip, which the user edits. None (default): no
            strip.
        connection_signs: `(rows, cols)` numbers -1, 0 or +1, the sign each connection
            is drawn with (display only; the user does not edit it). None (default):
            connections take their row's sign, or the primary colour without `row_signs`.

    Returns:
        A `Painted(mask, row_signs)`. `mask` is the mask after the user's latest edit, as
        a new bool array, when there is a new edit for this state; otherwise `mask`
        itself (the same object, if it was a bool array; a bool copy if it was 0/1
        numbers). `row_signs` is None without `row_signs`; else likewise the edited
        signs as a new int8 array, or `row_signs` itself (if it was an int8 array; an
        int8 copy otherwise).

    Raises:
        ValueError: if `mask` is not a 2-D 0/1 array with 1..256 rows and columns,
            `height` is not a positive int, `key` is empty, or `row_signs` /
            `connection_signs` are not -1/0/+1 numbers of shape `(rows,)` /
            `(rows, cols)`. The message names the value received.

    Example:

    ```python
    import numpy as np
    import streamlit as st

    from limconn.ui.painter import paint_mask

    if "recurrent_mask" not in st.session_state:
        st.session_state.recurrent_mask = np.eye(16, dtype=bool)
        st.session_state.unit_signs = np.zeros(16, dtype=np.int8)
    painted = paint_mask(
        st.session_state.recurrent_mask,
        key="recurrent_painter",
        source_label="unit",
        target_label="unit",
        row_signs=st.session_state.unit_signs,
    )
    st.session_state.recurrent_mask = painted.mask
    st.session_state.unit_signs = painted.row_signs
    st.write(int(painted.mask.sum()), "recurrent connections")
    ```
    """
    checked = as_bool_mask(mask, "mask", ndims=(2,))
    rows, cols = check_shape(list(checked.shape), "mask.shape")
    if height is not None and (
        not isinstance(height, int) or isinstance(height, bool) or height <= 0
    ):
        raise ValueError(f"height must be a positive int or None. Received: height={height!r}")
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty string. Received: key={key!r}")
    signs = None if row_signs is None else as_signs(row_signs, "row_signs", (rows,))
    cell_signs = (
        None
        if connection_signs is None
        else as_signs(connection_signs, "connection_signs", (rows, cols))
    )

    book_key = _BOOK_PREFIX + key
    state = st.session_state.get(key)
    stroke = state.get(_STATE_NAME) if isinstance(state, Mapping) else None
    painted, book = _reconcile(checked, st.session_state.get(book_key), stroke, signs)
    st.session_state[book_key] = book

    if painted is None:
        painted = Painted(
            mask if isinstance(mask, np.ndarray) and mask.dtype == bool else checked,
            row_signs
            if isinstance(row_signs, np.ndarray) and row_signs.dtype == np.int8
            else signs,
        )
    payload = {
        **encode_mask(painted.mask),
        "signs": None if painted.row_signs is None else encode_signs(painted.row_signs),
        "connection_signs": None if cell_signs is None else encode_connection_signs(cell_signs),
        "rev": book["rev"],
        # Names the painter's state in the browser, which outlives a remount of the canvas.
        "key": key,
        # The last stroke whose result `data` holds: the canvas drops its own copy once
        # every stroke it sent is acknowledged (or the revision moved on).
        "ack": book["pending"]["ack"] if book["pending"] else book["ack"],
        "source_label": str(source_label),
        "target_label": str(target_label),
        "height": height,
    }
    # One JSON text, not the dict: Streamlit looks for dataframes in each list or dict value
    # of a component's data, and that first look imports pandas and pyarrow (~1 s of the
    # first page's run on a fresh server, before the painter could be sent).
    _mount(key=key, data={"json": json.dumps(payload)}, on_stroke_change=_ignore_change)
    return painted
