"""The painter's encoding and revision protocol, without a browser."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from limconn.ui.painter import MAX_SIDE, Painted, decode_mask, encode_mask, paint_mask
from limconn.ui.painter_protocol import (
    _reconcile,
    decode_signs,
    encode_connection_signs,
    encode_signs,
)

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


def test_protocol_module_imports_no_streamlit():
    """The protocol is the library side of the painter: usable where Streamlit is not."""
    probe = "import sys, limconn.ui.painter_protocol; print('streamlit' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.strip() == "False"


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


# --- signs ----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([-1, 0, 1]), min_size=1, max_size=MAX_SIDE))
def test_signs_round_trip(values):
    signs = np.array(values, dtype=np.int8)
    text = encode_signs(signs)
    assert len(text) == len(values) and set(text) <= {"+", "-", "0"}
    decoded = decode_signs(text, len(values))
    assert decoded.dtype == np.int8
    np.testing.assert_array_equal(decoded, signs)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("+-", "must have 3 characters, one per row. Received: 2 characters"),
        ("+" * 100_000, "Received: 100000 characters"),
        ("+x0", "only \\+, - and 0. Received: 'x'"),
        ("+\u22120", "only \\+, - and 0. Received: '\u2212'"),
        ([1, -1, 0], r"string of \+, - and 0. Received: \[1, -1, 0\]"),
        (None, "Received: None"),
    ],
)
def test_decode_signs_rejects_malformed_payloads(text, message):
    with pytest.raises(ValueError, match=message):
        decode_signs(text, 3)


def test_connection_signs_travel_as_two_bit_planes():
    signs = np.array([[1, -1, 0], [0, 1, -1]])
    planes = encode_connection_signs(signs)
    positive = decode_mask({"shape": [2, 3], "bits": planes["positive"]}, (2, 3))
    negative = decode_mask({"shape": [2, 3], "bits": planes["negative"]}, (2, 3))
    np.testing.assert_array_equal(positive.astype(int) - negative.astype(int), signs)
    with pytest.raises(ValueError, match="Received other values: 2"):
        encode_connection_signs(np.array([[1, 2]]))


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
    np.testing.assert_array_equal(painted.mask, drawn)
    assert book["pending"]["ack"] == {"nonce": "tab1", "seq": 1}
    # The page stored the result; the same (persisting) state on the next rerun is old news,
    # and the revision does not move.
    again, book = _reconcile(painted.mask, book, _stroke(drawn, 0, 1))
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
    np.testing.assert_array_equal(painted.mask, second)
    assert book["rev"] == 0
    # Same without a second stroke: the first is offered again.
    _, book = _reconcile(mask, None, None)
    _, book = _reconcile(mask, book, _stroke(first, 0, 1))
    painted, book = _reconcile(mask, book, _stroke(first, 0, 1))
    np.testing.assert_array_equal(painted.mask, first)


def test_page_editing_the_result_starts_a_new_revision():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    painted, book = _reconcile(mask, book, _stroke(~mask, 0, 1))
    edited = painted.mask.copy()
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
    np.testing.assert_array_equal(painted.mask, erased)


def test_other_shape_or_remounted_canvas():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    bigger = np.zeros((4, 4), dtype=bool)
    painted, book = _reconcile(bigger, book, _stroke(np.ones((3, 4), dtype=bool), 0, 1))
    assert painted is None and book["rev"] == 1
    # After a page switch the canvas remounts with a new nonce and counts from 1 again.
    _, book = _reconcile(bigger, book, None)
    painted, book = _reconcile(bigger, book, _stroke(~bigger, 1, 1, nonce="tab1-again"))
    np.testing.assert_array_equal(painted.mask, ~bigger)


def test_malformed_stroke_is_ignored_and_acknowledged():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    bad = {**_stroke(mask, 0, 1), "bits": "####"}
    painted, book = _reconcile(mask, book, bad)
    assert painted is None
    assert book["ack"] == {"nonce": "tab1", "seq": 1}
    for junk in ("x", {"seq": 1}, {"nonce": "a", "seq": 0}, {"nonce": "a", "seq": True}):
        assert _reconcile(mask, book, junk)[0] is None


def _signed_stroke(mask, signs, rev, seq, nonce="tab1"):
    return {**_stroke(mask, rev, seq, nonce), "signs": encode_signs(signs)}


def test_strip_edit_comes_back_with_the_mask_and_is_acknowledged():
    mask = np.eye(3, 4, dtype=bool)
    signs = np.zeros(3, dtype=np.int8)
    _, book = _reconcile(mask, None, None, signs)
    edited = np.array([1, -1, 0], dtype=np.int8)
    painted, book = _reconcile(mask, book, _signed_stroke(mask, edited, 0, 1), signs)
    np.testing.assert_array_equal(painted.mask, mask)
    assert painted.row_signs.dtype == np.int8
    np.testing.assert_array_equal(painted.row_signs, edited)
    # The page stored both: acknowledged, same revision, not taken again.
    again, book = _reconcile(
        painted.mask, book, _signed_stroke(mask, edited, 0, 1), painted.row_signs
    )
    assert again is None
    assert book["rev"] == 0 and book["pending"] is None
    assert book["ack"] == {"nonce": "tab1", "seq": 1}


def test_stale_strip_edit_never_overwrites_signs_python_changed():
    mask = np.ones((3, 4), dtype=bool)
    signs = np.zeros(3, dtype=np.int8)
    _, book = _reconcile(mask, None, None, signs)
    preset = np.array([1, 1, -1], dtype=np.int8)  # the page set signs (same mask)...
    clicked = np.array([-1, 0, 0], dtype=np.int8)  # ...while a strip edit was in flight
    painted, book = _reconcile(mask, book, _signed_stroke(mask, clicked, 0, 1), preset)
    assert painted is None
    assert book["rev"] == 1
    # An edit painted on the new revision is taken.
    newer = np.array([1, 0, -1], dtype=np.int8)
    painted, book = _reconcile(mask, book, _signed_stroke(mask, newer, 1, 2), preset)
    np.testing.assert_array_equal(painted.row_signs, newer)


def test_page_storing_the_mask_but_not_the_signs_is_offered_the_edit_again():
    mask = np.zeros((2, 2), dtype=bool)
    signs = np.zeros(2, dtype=np.int8)
    _, book = _reconcile(mask, None, None, signs)
    drawn = np.eye(2, dtype=bool)
    edited = np.array([1, -1], dtype=np.int8)
    painted, book = _reconcile(mask, book, _signed_stroke(drawn, edited, 0, 1), signs)
    # The page keeps the new mask but edits the signs: its own change, a new revision.
    again, book = _reconcile(painted.mask, book, _signed_stroke(drawn, edited, 0, 1), signs)
    assert again is None
    assert book["rev"] == 1


@pytest.mark.parametrize(
    "change",
    [
        {"signs": "+-"},  # one row short
        {"signs": "+" * 10_000},  # oversized
        {"signs": "+-x"},
        {"signs": 7},
        {"signs": None},  # a strip was on show: every stroke carries signs
    ],
)
def test_malformed_signs_are_ignored_and_acknowledged(change, caplog):
    mask = np.zeros((3, 4), dtype=bool)
    signs = np.zeros(3, dtype=np.int8)
    _, book = _reconcile(mask, None, None, signs)
    drawn = ~mask
    stroke = {**_signed_stroke(drawn, signs, 0, 1), **change}
    with caplog.at_level("WARNING"):
        painted, book = _reconcile(mask, book, stroke, signs)
    assert painted is None
    assert book["ack"] == {"nonce": "tab1", "seq": 1}
    assert "Ignoring a malformed painter stroke" in caplog.text


def test_signs_sent_to_a_painter_without_a_strip_are_refused():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    stroke = _signed_stroke(~mask, np.ones(3, dtype=np.int8), 0, 1)
    painted, book = _reconcile(mask, book, stroke)
    assert painted is None
    assert book["ack"] == {"nonce": "tab1", "seq": 1}


def test_turning_the_strip_on_is_a_new_revision():
    mask = np.zeros((3, 4), dtype=bool)
    _, book = _reconcile(mask, None, None)
    signs = np.zeros(3, dtype=np.int8)
    painted, book = _reconcile(mask, book, _signed_stroke(~mask, signs, 0, 1), signs)
    assert painted is None
    assert book["rev"] == 1


def test_paint_mask_outside_streamlit_returns_the_mask_itself():
    mask = np.zeros((2, 3), dtype=bool)
    painted = paint_mask(mask, key="painter")
    assert isinstance(painted, Painted)
    assert painted.mask is mask and painted.row_signs is None
    with pytest.raises(ValueError, match="Received: height=0"):
        paint_mask(mask, key="painter", height=0)
    with pytest.raises(ValueError, match=r"Received: \[300, 3\]"):
        paint_mask(np.zeros((300, 3), dtype=bool), key="painter")


def test_paint_mask_with_signs_outside_streamlit():
    mask = np.zeros((2, 3), dtype=bool)
    signs = np.array([1, -1], dtype=np.int8)
    painted = paint_mask(mask, key="painter", row_signs=signs)
    assert painted.mask is mask and painted.row_signs is signs
    # Other integer dtypes come back as int8 copies with the same values.
    painted = paint_mask(mask, key="painter", row_signs=[1, 0])
    assert painted.row_signs.dtype == np.int8
    np.testing.assert_array_equal(painted.row_signs, [1, 0])
    paint_mask(mask, key="painter", connection_signs=np.zeros((2, 3), dtype=int))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"row_signs": np.zeros(3)}, r"row_signs must have shape \(2,\). Received: shape \(3,\)"),
        ({"row_signs": np.array([1, 2])}, "only -1, 0 and 1. Received other values: 2"),
        ({"row_signs": np.array([True, False])}, "Received: dtype bool"),
        ({"row_signs": ["+", "-"]}, "Received: dtype <U1"),
        ({"connection_signs": np.zeros((3, 2))}, r"Received: shape \(3, 2\)"),
        ({"connection_signs": np.full((2, 3), 0.5)}, "Received other values: 0.5"),
    ],
)
def test_paint_mask_refuses_bad_signs(arguments, message):
    with pytest.raises(ValueError, match=message):
        paint_mask(np.zeros((2, 3), dtype=bool), key="painter", **arguments)


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


def test_apptest_strip_edit_reaches_the_page():
    at = AppTest.from_file(str(Path(__file__).with_name("painter_app.py")), default_timeout=60)
    at.query_params["signs"] = "1"
    at.run()
    assert not at.exception
    assert at.text[0].value == "row_signs " + json.dumps([0] * 12)
    book = at.session_state["_limconn_painter_book::painter"]
    signs = np.zeros(12, dtype=np.int8)
    signs[[2, 3]] = -1
    signs[5] = 1
    drawn = np.zeros((12, 20), dtype=bool)
    drawn[2, 7] = True
    at.session_state["painter"] = {
        "stroke": _signed_stroke(drawn, signs, book["rev"], 1, nonce="apptest")
    }
    at.run()
    assert at.text[0].value == "row_signs " + json.dumps(signs.tolist())
    assert json.loads(at.code[0].value) == [[2, 7]]
    # An oversized sign payload is logged and ignored; the stored state stays.
    at.session_state["painter"] = {
        "stroke": {**_stroke(~drawn, book["rev"], 2, nonce="apptest"), "signs": "-" * 13}
    }
    at.run()
    assert at.text[0].value == "row_signs " + json.dumps(signs.tolist())
    assert json.loads(at.code[0].value) == [[2, 7]]
