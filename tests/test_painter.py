"""The painter's encoding and revision protocol, without a browser."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from limconn.ui.painter import MAX_SIDE, _reconcile, decode_mask, encode_mask, paint_mask

sides = st.integers(min_value=1, max_value=MAX_SIDE)


@st.composite
def masks(draw):
    rows, cols = draw(sides), draw(sides)
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    density = draw(st.sampled_from([0.0, 0.03, 0.5, 0.97, 1.0]))
    return np.random.default_rng(seed).random((rows, cols)) < density


@settings(max_examples=60, deadline=None)
@given(masks())
def test_round_trip(mask):
    state = encode_mask(mask)
    assert state["shape"] == list(mask.shape)
    decoded = decode_mask(state, mask.shape)
    assert decoded.dtype == bool
    np.testing.assert_array_equal(decoded, mask)


def test_encoding_is_numpy_packbits_base64():
    mask = np.eye(3, dtype=bool)
    state = encode_mask(mask)
    assert state == {"shape": [3, 3], "bits": "iIA="}
    assert base64.b64decode(state["bits"]) == np.packbits(mask.ravel()).tobytes()


def test_encode_accepts_zero_one_numbers_and_refuses_others():
    assert encode_mask(np.eye(2, dtype=int)) == encode_mask(np.eye(2, dtype=bool))
    with pytest.raises(ValueError, match="2-D"):
        encode_mask(np.zeros((2, 2, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"Received: \[1, 257\]"):
        encode_mask(np.zeros((1, 257), dtype=bool))
    with pytest.raises(ValueError, match="0 and 1"):
        encode_mask(np.full((2, 2), 2))


GOOD = encode_mask(np.eye(5, 7, dtype=bool))


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({**GOOD, "bits": GOOD["bits"] + "AAAA"}, "must be 8 base64 .* Received: 12 characters"),
        ({**GOOD, "bits": GOOD["bits"][:-4]}, "Received: 4 characters"),
        ({**GOOD, "bits": "!!!!!!!!"}, "not valid base64. Received: '!!!!!!!!'"),
        ({**GOOD, "bits": 12345}, "Received: 12345"),
        ({**GOOD, "shape": "5x7"}, "pair of ints.*Received: '5x7'"),
        ({**GOOD, "shape": [5.0, 7.0]}, r"pair of ints.*Received: \[5.0, 7.0\]"),
        ({**GOOD, "shape": [5, 7, 1]}, r"Received: \[5, 7, 1\]"),
        ({**GOOD, "shape": [True, 7]}, r"Received: \[True, 7\]"),
        ({**GOOD, "shape": [0, 7]}, r"Received: \[0, 7\]"),
        ({**GOOD, "shape": [7, 5]}, r"expected shape \[5, 7\]. Received: \[7, 5\]"),
        ({"bits": GOOD["bits"]}, "Received: None"),
        ("not a mapping", "mapping. Received: 'not a mapping'"),
    ],
)
def test_decode_rejects_malformed_states(state, message):
    with pytest.raises(ValueError, match=message):
        decode_mask(state, (5, 7))


# --- revision protocol --------------------------------------------------------------------


def _stroke(mask, rev, seq, nonce="tab1"):
    return {**encode_mask(mask), "rev": rev, "seq": seq, "nonce": nonce}


def test_first_sight_never_applies_leftover_state():
    mask = np.zeros((3, 4), dtype=bool)
    painted, book = _reconcile(mask, None, _stroke(~mask, 0, 1))
    assert painted is None
    assert book["rev"] == 0
    assert book["ack"] == {"nonce": "tab1", "seq": 1}


def test_new_stroke_on_current_revision_is_taken_once():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    drawn = mask.copy()
    drawn[1, 2] = True
    painted, book = _reconcile(mask, book, _stroke(drawn, 0, 1))
    np.testing.assert_array_equal(painted, drawn)
    assert book["pending"]["ack"] == {"nonce": "tab1", "seq": 1}
    # The page stored the result; the same (persisting) state on the next rerun is old news,
    # and the revision does not move.
    again, book = _reconcile(painted, book, _stroke(drawn, 0, 1))
    assert again is None
    assert book["rev"] == 0
    assert book["ack"] == {"nonce": "tab1", "seq": 1}
    assert book["pending"] is None


def test_stroke_is_offered_again_when_the_page_never_stored_it():
    # A quick second stroke interrupts the run that returned the first one, before the
    # page stored it: the page still holds the old mask, which is not a change by Python.
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    first = mask.copy()
    first[0, 1] = True
    _, book = _reconcile(mask, book, _stroke(first, 0, 1))
    second = first.copy()
    second[2, 3] = True
    painted, book = _reconcile(mask, book, _stroke(second, 0, 2))
    np.testing.assert_array_equal(painted, second)
    assert book["rev"] == 0
    # Same without a second stroke: the first is offered again.
    _, book = _reconcile(mask, None, None)
    _, book = _reconcile(mask, book, _stroke(first, 0, 1))
    painted, book = _reconcile(mask, book, _stroke(first, 0, 1))
    np.testing.assert_array_equal(painted, first)


def test_page_editing_the_result_starts_a_new_revision():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    painted, book = _reconcile(mask, book, _stroke(~mask, 0, 1))
    edited = painted.copy()
    edited[0, 0] = False  # e.g. the page forbids a connection
    again, book = _reconcile(edited, book, _stroke(~mask, 0, 1))
    assert again is None
    assert book["rev"] == 1


def test_stale_stroke_never_overwrites_a_mask_python_changed():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    preset = np.ones((3, 4), dtype=bool)  # the page applied a preset...
    drawn = mask.copy()
    drawn[0, 0] = True  # ...while a stroke painted on the old mask was in flight
    painted, book = _reconcile(preset, book, _stroke(drawn, 0, 1))
    assert painted is None
    assert book["rev"] == 1
    # A stroke painted on the preset's revision is taken.
    erased = preset.copy()
    erased[2, 3] = False
    painted, book = _reconcile(preset, book, _stroke(erased, 1, 2))
    np.testing.assert_array_equal(painted, erased)


def test_other_shape_or_remounted_canvas():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    bigger = np.zeros((4, 4), dtype=bool)
    painted, book = _reconcile(bigger, book, _stroke(np.ones((3, 4), dtype=bool), 0, 1))
    assert painted is None and book["rev"] == 1
    # After a page switch the canvas remounts with a new nonce and counts from 1 again.
    _, book = _reconcile(bigger, book, None)
    painted, book = _reconcile(bigger, book, _stroke(~bigger, 1, 1, nonce="tab1-again"))
    np.testing.assert_array_equal(painted, ~bigger)


def test_malformed_stroke_is_ignored_and_acknowledged():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    bad = {**_stroke(mask, 0, 1), "bits": "####"}
    painted, book = _reconcile(mask, book, bad)
    assert painted is None
    assert book["ack"] == {"nonce": "tab1", "seq": 1}
    for junk in ("x", {"seq": 1}, {"nonce": "a", "seq": 0}, {"nonce": "a", "seq": True}):
        assert _reconcile(mask, book, junk)[0] is None


def test_paint_mask_outside_streamlit_returns_the_mask_itself():
    mask = np.zeros((2, 3), dtype=bool)
    assert paint_mask(mask, key="painter") is mask
    with pytest.raises(ValueError, match="Received: height=0"):
        paint_mask(mask, key="painter", height=0)
    with pytest.raises(ValueError, match=r"Received: \[300, 3\]"):
        paint_mask(np.zeros((300, 3), dtype=bool), key="painter")


def test_apptest_strokes_reach_the_page_and_stale_ones_do_not():
    """Under AppTest (no JS), a stroke is injected as the component's keyed state."""
    at = AppTest.from_file(str(Path(__file__).with_name("painter_app.py")), default_timeout=60)
    at.run()
    assert not at.exception
    assert json.loads(at.code[0].value) == []
    book = at.session_state["_limconn_painter_book::painter"]
    drawn = np.zeros((12, 20), dtype=bool)
    drawn[3, 4] = drawn[3, 5] = True
    at.session_state["painter"] = {"stroke": _stroke(drawn, book["rev"], 1, nonce="apptest")}
    at.run()
    assert json.loads(at.code[0].value) == [[3, 4], [3, 5]]
    at.run()  # the state persists; it is not applied twice
    assert json.loads(at.code[0].value) == [[3, 4], [3, 5]]
    # The page replaces the mask (as a preset would); a stroke painted before is stale.
    at.session_state["mask"] = np.ones((12, 20), dtype=bool)
    at.session_state["painter"] = {"stroke": _stroke(drawn, book["rev"], 2, nonce="apptest")}
    at.run()
    assert len(json.loads(at.code[0].value)) == 240
    assert at.session_state["_limconn_painter_book::painter"]["rev"] == book["rev"] + 1
