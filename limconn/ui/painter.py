"""The mask painter: a canvas where a researcher paints which sources reach which targets.

A Streamlit custom component v2 (inline HTML, CSS and JavaScript, no build step). Rows are
sources (inputs, or units' previous hidden state), columns are targets (units), as everywhere
in limconn. All painting happens in the browser; each finished stroke comes back to Python
once, as one compact encoding of the whole matrix (see `encode_mask` / `decode_mask`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st

from limconn.connectivity import as_bool_mask

__all__ = ["MAX_SIDE", "decode_mask", "encode_mask", "paint_mask"]

_LOGGER = logging.getLogger(__name__)

MAX_SIDE = 256
"""Largest number of rows or columns the painter accepts."""

_BOOK_PREFIX = "_limconn_painter_book::"
_STATE_NAME = "stroke"
_MAX_NONCE_CHARS = 64

# --------------------------------------------------------------------------------------
# Encoding: what travels between Python and the browser.
# --------------------------------------------------------------------------------------


def _check_shape(shape: Any, what: str) -> tuple[int, int]:
    """Returns `shape` as `(rows, cols)` if it is two ints in 1..MAX_SIDE, else raises."""
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) != 2
        or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape)
    ):
        raise ValueError(f"{what} must be a pair of ints [rows, cols]. Received: {shape!r}")
    rows, cols = int(shape[0]), int(shape[1])
    if not (1 <= rows <= MAX_SIDE and 1 <= cols <= MAX_SIDE):
        raise ValueError(
            f"{what} must have 1..{MAX_SIDE} rows and columns. Received: {[rows, cols]}"
        )
    return rows, cols


def _short(value: Any, limit: int = 120) -> str:
    """`repr(value)`, cut to `limit` characters so error messages stay readable."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """Encodes a 2-D boolean mask as `{"shape": [rows, cols], "bits": base64}`.

    `bits` is the standard (padded) base64 of `np.packbits(mask.ravel())`: row-major,
    8 cells per byte, most significant bit first, the last byte padded with zeros.
    A 256 x 256 mask travels as 10,924 characters.

    Args:
        mask: 2-D bool array (or 0/1 numbers), 1..256 rows and columns.

    Returns:
        A JSON-serialisable dict that `decode_mask` turns back into the same array.

    Raises:
        ValueError: if `mask` is not 2-D, not 0/1, or has a side outside 1..256.

    Example:

    >>> state = encode_mask(np.eye(3, dtype=bool))
    >>> state
    {'shape': [3, 3], 'bits': 'iIA='}
    >>> bool((decode_mask(state, (3, 3)) == np.eye(3, dtype=bool)).all())
    True
    """
    array = as_bool_mask(mask, "mask", ndims=(2,))
    _check_shape(list(array.shape), "mask.shape")
    bits = base64.b64encode(np.packbits(array.ravel()).tobytes()).decode("ascii")
    return {"shape": [int(array.shape[0]), int(array.shape[1])], "bits": bits}


def decode_mask(state: Any, shape: tuple[int, int]) -> np.ndarray:
    """Decodes `encode_mask`'s (or the painter's) encoding into a boolean array.

    The size of the payload is checked against `shape` before anything is decoded or
    allocated, so a malformed or hostile state costs nothing.

    Args:
        state: mapping with `"shape"` (`[rows, cols]`) and `"bits"` (base64 of the
            packed bits); other keys (the painter's `rev`, `seq`, `nonce`) are ignored.
        shape: the `(rows, cols)` the caller expects.

    Returns:
        A new `(rows, cols)` bool array.

    Raises:
        ValueError: if `state` is not a mapping, its shape is not two ints or differs
            from `shape`, or `bits` is not base64 of exactly `ceil(rows * cols / 8)` bytes.
            The message names the value received.
    """
    rows, cols = _check_shape(tuple(shape), "shape")
    if not isinstance(state, Mapping):
        raise ValueError(f"A mask state must be a mapping. Received: {_short(state)}")
    got = _check_shape(state.get("shape"), "state['shape']")
    if got != (rows, cols):
        raise ValueError(
            f"state['shape'] must equal the expected shape {[rows, cols]}. Received: {list(got)}"
        )
    bits = state.get("bits")
    if not isinstance(bits, str):
        raise ValueError(f"state['bits'] must be a base64 string. Received: {_short(bits)}")
    n_bytes = (rows * cols + 7) // 8
    n_chars = 4 * ((n_bytes + 2) // 3)
    if len(bits) != n_chars:
        raise ValueError(
            f"state['bits'] must be {n_chars} base64 characters for a {rows}x{cols} mask. "
            f"Received: {len(bits)} characters"
        )
    try:
        raw = base64.b64decode(bits, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"state['bits'] is not valid base64. Received: {_short(bits)}") from error
    if len(raw) != n_bytes:
        raise ValueError(
            f"state['bits'] must decode to {n_bytes} bytes. Received: {len(raw)} bytes"
        )
    flat = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=rows * cols)
    return flat.astype(bool).reshape(rows, cols)


# --------------------------------------------------------------------------------------
# The revision protocol (pure; unit-tested without Streamlit).
# --------------------------------------------------------------------------------------


def _digest(mask: np.ndarray) -> str:
    """A short content hash of a bool mask, shape included."""
    payload = f"{mask.shape[0]}x{mask.shape[1]}:".encode() + np.packbits(mask.ravel()).tobytes()
    return hashlib.blake2b(payload, digest_size=12).hexdigest()


def _stroke_id(stroke: Any) -> dict[str, Any] | None:
    """`{"nonce", "seq"}` naming a stroke state, or None if it names nothing usable."""
    if not isinstance(stroke, Mapping):
        return None
    nonce, seq = stroke.get("nonce"), stroke.get("seq")
    if not isinstance(nonce, str) or not 0 < len(nonce) <= _MAX_NONCE_CHARS:
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    return {"nonce": nonce, "seq": seq}


def _reconcile(
    mask: np.ndarray, book: Mapping[str, Any] | None, stroke: Any
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Decides whether the browser's latest stroke applies to `mask`.

    Args:
        mask: the page's authoritative mask (validated 2-D bool).
        book: what this painter did last, or None on first use: `rev` (the revision),
            `digest` (of the mask on show), `ack` (the last stroke known to be stored) and
            `pending` (the stroke returned last time, with its result's digest, until the
            page is seen holding that result).
        stroke: the component's `stroke` state (whatever the browser sent), or None.

    Returns:
        `(painted, book)`: `painted` is the new mask when `stroke` is a new stroke painted
        on the current revision with `mask`'s shape, else None; `book` is the updated book.
    """
    digest = _digest(mask)
    stroke_id = _stroke_id(stroke)
    if book is None:
        # First sight: whatever state is lying around predates us; never apply it.
        return None, {"rev": 0, "digest": digest, "ack": stroke_id, "pending": None}
    rev, shown, ack = int(book["rev"]), book["digest"], book["ack"]
    pending = book.get("pending")
    if pending is not None and pending["digest"] == digest:
        # The page stored what we returned last time.
        shown, ack = digest, pending["ack"]
    # Otherwise it did not (its run was interrupted by the next stroke, or it chose not
    # to), and the stroke, still not acknowledged, is offered again below.
    if digest != shown:
        # The page changed the mask (a preset, an upload, a new shape): new revision.
        rev, shown = rev + 1, digest
    book = {"rev": rev, "digest": shown, "ack": ack, "pending": None}
    if stroke_id is None or stroke_id == ack or stroke.get("rev") != rev:
        return None, book
    try:
        painted = decode_mask(stroke, mask.shape)
    except ValueError as error:
        _LOGGER.warning("Ignoring a malformed painter stroke: %s", error)
        book["ack"] = stroke_id
        return None, book
    book["pending"] = {"digest": _digest(painted), "ack": stroke_id}
    return painted, book


# --------------------------------------------------------------------------------------
# The component: HTML, CSS and JavaScript, registered once at import.
# --------------------------------------------------------------------------------------

_HTML = """
<div class="lc-painter">
  <div class="lc-toolbar" role="toolbar" aria-label="Mask painter tools">
    <span class="lc-group" role="group" aria-label="Mode">
      <button type="button" data-mode="toggle" aria-pressed="true"
        title="Click flips a cell; dragging paints the first cell's new value">toggle</button>
      <button type="button" data-mode="draw" aria-pressed="false"
        title="Drag to connect (shift: disconnect)">draw</button>
      <button type="button" data-mode="erase" aria-pressed="false"
        title="Drag to disconnect">erase</button>
      <button type="button" data-mode="row" aria-pressed="false"
        title="Click or drag over whole rows: one source to every target (shift: erase)"
        >row</button>
      <button type="button" data-mode="column" aria-pressed="false"
        title="Click or drag over whole columns: every source to one target (shift: erase)"
        >column</button>
      <button type="button" data-mode="rectangle" aria-pressed="false"
        title="Drag a rectangle to connect (shift: disconnect)">rectangle</button>
    </span>
    <span class="lc-sep" aria-hidden="true"></span>
    <span class="lc-group" role="group" aria-label="Whole matrix">
      <button type="button" data-action="clear" title="Disconnect everything">clear</button>
      <button type="button" data-action="fill" title="Connect everything">fill</button>
      <button type="button" data-action="invert" title="Swap connected and not">invert</button>
    </span>
  </div>
  <div class="lc-scroll">
    <div class="lc-stack">
      <canvas class="lc-grid" role="img"></canvas>
      <canvas class="lc-overlay" aria-hidden="true"></canvas>
      <div class="lc-tip" aria-hidden="true"></div>
    </div>
  </div>
  <div class="lc-status" aria-live="polite">
    <span class="lc-hover"></span><span class="lc-count"></span>
  </div>
</div>
"""

_CSS = """
.lc-painter {
  position: relative;
  font-family: var(--st-font, "Source Sans Pro", sans-serif);
  font-size: var(--st-base-font-size, 1rem);
  color: var(--st-text-color, #31333f);
  user-select: none;
  -webkit-user-select: none;
}
.lc-toolbar {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.25rem;
  margin-bottom: 0.5rem;
}
.lc-group { display: inline-flex; flex-wrap: wrap; gap: 0.25rem; }
.lc-sep {
  width: 1px;
  align-self: stretch;
  margin: 0 0.35rem;
  background: var(--st-border-color, rgba(49, 51, 63, 0.2));
}
.lc-toolbar button {
  font: inherit;
  font-size: 0.875rem;
  line-height: 1.6;
  padding: 0.125rem 0.75rem;
  color: inherit;
  background: var(--st-background-color, #ffffff);
  border: 1px solid var(--st-border-color, rgba(49, 51, 63, 0.2));
  border-radius: var(--st-button-radius, 0.5rem);
  cursor: pointer;
}
.lc-toolbar button:hover { border-color: var(--st-primary-color, #ff4b4b); }
.lc-toolbar button:focus-visible {
  outline: 2px solid var(--st-primary-color, #ff4b4b);
  outline-offset: 1px;
}
.lc-toolbar button[aria-pressed="true"] {
  color: #ffffff;
  background: var(--st-primary-color, #ff4b4b);
  border-color: var(--st-primary-color, #ff4b4b);
}
.lc-scroll { overflow-x: auto; overflow-y: hidden; }
.lc-stack { position: relative; display: inline-block; vertical-align: top; }
.lc-grid { display: block; touch-action: none; cursor: crosshair; }
.lc-overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
.lc-tip {
  position: absolute;
  display: none;
  pointer-events: none;
  z-index: 2;
  padding: 0.1rem 0.4rem;
  font-size: 0.75rem;
  white-space: nowrap;
  color: var(--st-background-color, #ffffff);
  background: var(--st-text-color, #31333f);
  border-radius: 0.25rem;
  opacity: 0.92;
}
.lc-status {
  display: flex;
  justify-content: space-between;
  gap: 1rem;
  min-height: 1.5em;
  margin-top: 0.25rem;
  font-size: 0.875rem;
  font-variant-numeric: tabular-nums;
}
.lc-hover { opacity: 0.9; }
.lc-count { opacity: 0.7; white-space: nowrap; }
"""

_JS = r"""
const MAX_CELL = 28;   // px: small matrices do not become huge
const MIN_CELL = 2;    // px: 256 x 256 still fits in 512 px (scrolls if narrower)
const GRID_FROM = 6;   // px: draw grid lines from this cell size up
const AXIS = 16;       // px: band for the axis titles
const TICK_FONT = 11;  // px

function cssVar(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v && v !== "unset" ? v : fallback;
}

function decodeBits(b64, n) {
  const bin = atob(b64);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bin.charCodeAt(i >> 3) >> (7 - (i & 7))) & 1;
  return out;
}

function encodeBits(cells) {
  const bytes = new Uint8Array((cells.length + 7) >> 3);
  for (let i = 0; i < cells.length; i++) if (cells[i]) bytes[i >> 3] |= 0x80 >> (i & 7);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x4000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x4000));
  }
  return btoa(bin);
}

function createState(root) {
  return {
    root,
    grid: root.querySelector("canvas.lc-grid"),
    overlay: root.querySelector("canvas.lc-overlay"),
    tip: root.querySelector(".lc-tip"),
    hoverText: root.querySelector(".lc-hover"),
    countText: root.querySelector(".lc-count"),
    // Identifies this mounted instance, so Python can tell its strokes from older ones.
    nonce: Math.random().toString(36).slice(2, 10) + Date.now().toString(36),
    rows: 0, cols: 0, cells: null, rev: null,
    seq: 0,        // strokes sent by this instance
    baseSeq: 0,    // strokes sent before the current revision (moot)
    on: 0,         // number of connected cells
    mode: "toggle",
    drag: null, hover: null, width: -1, geo: null, colors: null,
    labels: { source: "input", target: "unit" }, maxHeight: null,
    setStateValue: null, observer: null,
  };
}

// --- data from Python ------------------------------------------------------------------

function applyData(s, data) {
  const rows = data.shape[0], cols = data.shape[1];
  const same = s.cells && rows === s.rows && cols === s.cols && data.rev === s.rev;
  const acked = data.ack && data.ack.nonce === s.nonce ? data.ack.seq : 0;
  const pending = s.drag !== null || s.seq > Math.max(acked, s.baseSeq);
  if (!(same && pending)) {
    // Python's mask is the truth unless we are ahead of it on the same revision.
    if (!same) { s.drag = null; s.baseSeq = s.seq; }
    s.rows = rows; s.cols = cols; s.rev = data.rev;
    s.cells = decodeBits(data.bits, rows * cols);
    s.on = s.cells.reduce((a, b) => a + b, 0);
  }
  s.labels = { source: data.source_label || "input", target: data.target_label || "unit" };
  s.maxHeight = data.height || null;
}

function readTheme(s) {
  const el = s.root;
  s.colors = {
    on: cssVar(el, "--st-primary-color", "#ff4b4b"),
    off: cssVar(el, "--st-secondary-background-color", "#f0f2f6"),
    line: cssVar(el, "--st-border-color", "rgba(49, 51, 63, 0.2)"),
    text: cssVar(el, "--st-text-color", "#31333f"),
    font: cssVar(el, "--st-font", "sans-serif"),
  };
}

// --- geometry and drawing ----------------------------------------------------------------

function tickStep(cell, minGap) {
  for (const step of [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128]) {
    if (step * cell >= minGap) return step;
  }
  return 256;
}

function layout(s) {
  const ctx = s.grid.getContext("2d");
  ctx.font = `${TICK_FONT}px ${s.colors.font}`;
  const rowDigits = Math.ceil(ctx.measureText(String(s.rows - 1)).width);
  const colDigits = Math.ceil(ctx.measureText(String(s.cols - 1)).width);
  const left = AXIS + rowDigits + 8;
  const top = AXIS + TICK_FONT + 8;
  const width = s.root.clientWidth || 600;
  let cell = Math.floor((width - left - 2) / s.cols);
  cell = Math.min(cell, MAX_CELL);
  if (s.maxHeight) cell = Math.min(cell, Math.floor((s.maxHeight - top - 2) / s.rows));
  cell = Math.max(cell, MIN_CELL);
  const gap = cell >= GRID_FROM ? 1 : 0;
  const w = left + cell * s.cols + 1, h = top + cell * s.rows + 1;
  const dpr = window.devicePixelRatio || 1;
  for (const c of [s.grid, s.overlay]) {
    c.style.width = `${w}px`;
    c.style.height = `${h}px`;
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    c.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  s.geo = {
    left, top, cell, gap, w, h,
    colStep: tickStep(cell, colDigits + 8), rowStep: tickStep(cell, TICK_FONT + 3),
  };
  const g = s.grid;
  g.dataset.rows = s.rows; g.dataset.cols = s.cols; g.dataset.cell = cell;
  g.dataset.left = left; g.dataset.top = top;
  g.setAttribute("aria-label",
    `Connectivity mask, ${s.rows} source ${s.labels.source}s by ${s.cols} target ` +
    `${s.labels.target}s; rows are sources, columns are targets`);
}

function paintCell(s, ctx, r, c) {
  const { left, top, cell, gap } = s.geo;
  ctx.fillStyle = s.cells[r * s.cols + c] ? s.colors.on : s.colors.off;
  ctx.fillRect(left + c * cell + gap, top + r * cell + gap, cell - gap, cell - gap);
}

function drawAll(s) {
  const ctx = s.grid.getContext("2d");
  const { left, top, cell, gap, w, h, colStep, rowStep } = s.geo;
  const col = s.colors;
  ctx.clearRect(0, 0, w, h);
  // Axis titles: targets across the top, sources down the side (arrow points down).
  ctx.fillStyle = col.text;
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  ctx.font = `600 12px ${col.font}`;
  ctx.fillText(`target ${s.labels.target} \u2192`, left, AXIS / 2);
  ctx.save();
  ctx.translate(AXIS / 2, top);
  ctx.rotate(Math.PI / 2);
  ctx.fillText(`source ${s.labels.source} \u2192`, 0, 0);
  ctx.restore();
  // Tick numbers (0-based, like numpy) every few cells.
  ctx.font = `${TICK_FONT}px ${col.font}`;
  ctx.globalAlpha = 0.75;
  ctx.textAlign = "center";
  for (let c = 0; c < s.cols; c += colStep) {
    ctx.fillText(String(c), left + (c + 0.5) * cell, top - TICK_FONT / 2 - 3);
  }
  ctx.textAlign = "right";
  for (let r = 0; r < s.rows; r += rowStep) {
    ctx.fillText(String(r), left - 4, top + (r + 0.5) * cell);
  }
  ctx.globalAlpha = 1;
  // Cells: with grid lines, the background shows through 1 px gaps.
  ctx.fillStyle = gap ? col.line : col.off;
  ctx.fillRect(left, top, cell * s.cols + gap, cell * s.rows + gap);
  for (let r = 0; r < s.rows; r++) {
    for (let c = 0; c < s.cols; c++) {
      if (gap || s.cells[r * s.cols + c]) paintCell(s, ctx, r, c);
    }
  }
  drawOverlay(s);
  showStatus(s);
}

function drawOverlay(s) {
  const ctx = s.overlay.getContext("2d");
  const { left, top, cell, w, h } = s.geo;
  ctx.clearRect(0, 0, w, h);
  const d = s.drag;
  if (d && s.mode === "rectangle") {
    const r0 = Math.min(d.r0, d.r), r1 = Math.max(d.r0, d.r);
    const c0 = Math.min(d.c0, d.c), c1 = Math.max(d.c0, d.c);
    const x = left + c0 * cell, y = top + r0 * cell;
    const rw = (c1 - c0 + 1) * cell, rh = (r1 - r0 + 1) * cell;
    ctx.globalAlpha = 0.45;
    ctx.fillStyle = d.value ? s.colors.on : s.colors.off;
    ctx.fillRect(x, y, rw, rh);
    ctx.globalAlpha = 1;
    ctx.strokeStyle = s.colors.text;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([4, 3]);
    ctx.strokeRect(x + 0.75, y + 0.75, rw - 1.5, rh - 1.5);
    ctx.setLineDash([]);
  }
  const p = s.hover;
  if (p) {
    ctx.fillStyle = s.colors.text;
    ctx.globalAlpha = 0.07;
    ctx.fillRect(left, top + p.r * cell, cell * s.cols, cell);
    ctx.fillRect(left + p.c * cell, top, cell, cell * s.rows);
    ctx.globalAlpha = 1;
    ctx.strokeStyle = s.colors.text;
    ctx.lineWidth = cell >= GRID_FROM ? 2 : 1;
    const o = ctx.lineWidth / 2;
    ctx.strokeRect(left + p.c * cell - o, top + p.r * cell - o, cell + 2 * o, cell + 2 * o);
  }
}

function hoverLabel(s, r, c) {
  const value = s.cells[r * s.cols + c] ? "connected" : "not connected";
  return `${s.labels.source} ${r} \u2192 ${s.labels.target} ${c}: ${value}`;
}

function showStatus(s) {
  const total = s.rows * s.cols;
  const pct = total ? (100 * s.on / total).toFixed(1) : "0.0";
  s.countText.textContent = `${s.on} of ${total} connected (${pct}%)`;
  const p = s.hover;
  if (p) {
    const text = hoverLabel(s, p.r, p.c);
    s.hoverText.textContent = text;
    s.tip.textContent = text;
    s.tip.style.display = "block";
    const x = s.geo.left + (p.c + 1) * s.geo.cell + 8;
    const y = s.geo.top + (p.r + 1) * s.geo.cell + 6;
    const tw = s.tip.offsetWidth, th = s.tip.offsetHeight;
    s.tip.style.left = `${x + tw > s.geo.w ? Math.max(0, x - tw - s.geo.cell - 16) : x}px`;
    s.tip.style.top = `${y + th > s.geo.h ? Math.max(0, y - th - s.geo.cell - 12) : y}px`;
  } else {
    s.hoverText.textContent =
      "Hover a cell to see the connection \u00b7 shift-drag erases";
    s.tip.style.display = "none";
  }
}

// --- editing -----------------------------------------------------------------------------

function setCell(s, ctx, r, c, value) {
  const i = r * s.cols + c;
  if (s.cells[i] === value) return;
  s.cells[i] = value;
  s.on += value ? 1 : -1;
  s.drag.changed += 1;
  paintCell(s, ctx, r, c);
}

function applyAt(s, r, c) {
  const ctx = s.grid.getContext("2d");
  const v = s.drag.value;
  if (s.mode === "row") {
    if (r < 0 || r >= s.rows) return;
    for (let j = 0; j < s.cols; j++) setCell(s, ctx, r, j, v);
  } else if (s.mode === "column") {
    if (c < 0 || c >= s.cols) return;
    for (let i = 0; i < s.rows; i++) setCell(s, ctx, i, c, v);
  } else if (r >= 0 && r < s.rows && c >= 0 && c < s.cols) {
    setCell(s, ctx, r, c, v);
  }
}

// Every cell on the line between two cells (Bresenham), so fast drags leave no holes.
function applyLine(s, r0, c0, r1, c1) {
  const dr = Math.abs(r1 - r0), dc = Math.abs(c1 - c0);
  const sr = r0 < r1 ? 1 : -1, sc = c0 < c1 ? 1 : -1;
  let err = dc - dr, r = r0, c = c0;
  for (;;) {
    applyAt(s, r, c);
    if (r === r1 && c === c1) break;
    const e2 = 2 * err;
    if (e2 > -dr) { err -= dr; c += sc; }
    if (e2 < dc) { err += dc; r += sr; }
  }
}

function cellAt(s, e) {
  const rect = s.grid.getBoundingClientRect();
  const x = e.clientX - rect.left - s.geo.left, y = e.clientY - rect.top - s.geo.top;
  const r = Math.floor(y / s.geo.cell), c = Math.floor(x / s.geo.cell);
  return { r, c, inside: r >= 0 && r < s.rows && c >= 0 && c < s.cols };
}

function clampCell(s, p) {
  return {
    r: Math.min(Math.max(p.r, 0), s.rows - 1),
    c: Math.min(Math.max(p.c, 0), s.cols - 1),
  };
}

function commit(s) {
  s.seq += 1;
  if (s.setStateValue) {
    s.setStateValue("stroke", {
      shape: [s.rows, s.cols], bits: encodeBits(s.cells),
      rev: s.rev, seq: s.seq, nonce: s.nonce,
    });
  }
}

function onDown(s, e) {
  if (e.button !== 0 || s.drag) return;
  const p = cellAt(s, e);
  if (!p.inside) return;
  e.preventDefault();
  try {
    s.grid.setPointerCapture(e.pointerId);  // the stroke follows the pointer off the canvas
  } catch (err) {
    // Not a live pointer (e.g. a synthetic event): paint without capture.
  }
  const i = p.r * s.cols + p.c;
  let value;
  if (s.mode === "toggle") value = s.cells[i] ? 0 : 1;
  else if (s.mode === "erase") value = 0;
  else if (e.shiftKey) value = 0;
  else if (s.mode === "row") {
    value = s.cells.subarray(p.r * s.cols, (p.r + 1) * s.cols).every((v) => v) ? 0 : 1;
  } else if (s.mode === "column") {
    let all = 1;
    for (let r = 0; r < s.rows; r++) all &= s.cells[r * s.cols + p.c];
    value = all ? 0 : 1;
  } else value = 1;
  s.drag = { id: e.pointerId, value, r0: p.r, c0: p.c, r: p.r, c: p.c, changed: 0 };
  s.hover = { r: p.r, c: p.c };
  if (s.mode !== "rectangle") applyAt(s, p.r, p.c);
  drawOverlay(s);
  showStatus(s);
}

function onMove(s, e) {
  const p = cellAt(s, e);
  const d = s.drag;
  if (d && e.pointerId === d.id) {
    const q = s.mode === "rectangle" ? clampCell(s, p) : p;
    if (q.r !== d.r || q.c !== d.c) {
      if (s.mode !== "rectangle") applyLine(s, d.r, d.c, q.r, q.c);
      d.r = q.r; d.c = q.c;
    }
  }
  const hover = p.inside ? { r: p.r, c: p.c } : null;
  const old = s.hover;
  if (d || !hover || !old || hover.r !== old.r || hover.c !== old.c) {
    s.hover = hover;
    drawOverlay(s);
    showStatus(s);
  }
}

function onUp(s, e) {
  const d = s.drag;
  if (!d || e.pointerId !== d.id) return;
  if (s.mode === "rectangle") {
    const ctx = s.grid.getContext("2d");
    for (let r = Math.min(d.r0, d.r); r <= Math.max(d.r0, d.r); r++) {
      for (let c = Math.min(d.c0, d.c); c <= Math.max(d.c0, d.c); c++) {
        setCell(s, ctx, r, c, d.value);
      }
    }
  }
  if (s.grid.hasPointerCapture(e.pointerId)) s.grid.releasePointerCapture(e.pointerId);
  s.drag = null;
  if (d.changed) commit(s);
  if (e.type === "pointercancel") s.hover = null;
  drawOverlay(s);
  showStatus(s);
}

function onAction(s, action) {
  if (s.drag) return;
  if (action === "clear") s.cells.fill(0);
  else if (action === "fill") s.cells.fill(1);
  else if (action === "invert") for (let i = 0; i < s.cells.length; i++) s.cells[i] ^= 1;
  s.on = s.cells.reduce((a, b) => a + b, 0);
  drawAll(s);
  commit(s);
}

function setMode(s, mode) {
  s.mode = mode;
  for (const b of s.root.querySelectorAll("[data-mode]")) {
    b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  }
}

function render(s) {
  readTheme(s);
  layout(s);
  s.width = s.root.clientWidth;
  drawAll(s);
}

// --- entry: runs on mount and again on every data or theme change ------------------------

export default function ({ data, parentElement, setStateValue }) {
  const root = parentElement.querySelector(".lc-painter");
  if (!root || !data || !Array.isArray(data.shape)) return;
  let s = root.__limconnPainter;
  if (!s) s = root.__limconnPainter = createState(root);
  s.setStateValue = setStateValue;
  applyData(s, data);

  // Handlers are assigned, not added, so re-running this function never stacks them.
  for (const b of root.querySelectorAll("[data-mode]")) {
    b.onclick = () => setMode(s, b.dataset.mode);
  }
  for (const b of root.querySelectorAll("[data-action]")) {
    b.onclick = () => onAction(s, b.dataset.action);
  }
  const g = s.grid;
  g.onpointerdown = (e) => onDown(s, e);
  g.onpointermove = (e) => onMove(s, e);
  g.onpointerup = (e) => onUp(s, e);
  g.onpointercancel = (e) => onUp(s, e);
  g.onpointerleave = () => {
    if (!s.drag && s.hover) { s.hover = null; drawOverlay(s); showStatus(s); }
  };
  g.oncontextmenu = (e) => e.preventDefault();
  setMode(s, s.mode);

  if (!s.observer && typeof ResizeObserver !== "undefined") {
    s.observer = new ResizeObserver(() => {
      if (s.cells && s.root.clientWidth !== s.width) render(s);
    });
    s.observer.observe(root);
  }
  render(s);
  return () => {
    if (s.observer) s.observer.disconnect();
    s.observer = null;
  };
}
"""

_mount = st.components.v2.component("limconn_mask_painter", html=_HTML, css=_CSS, js=_JS)


def _ignore_change() -> None:
    """Registers `stroke` as a state of the component; the work happens in `paint_mask`."""


# --------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------


def paint_mask(
    mask: np.ndarray,
    *,
    key: str,
    source_label: str = "input",
    target_label: str = "unit",
    height: int | None = None,
) -> np.ndarray:
    """Shows `mask` on a canvas the user paints, and returns it after their latest stroke.

    Use it on a page that keeps the authoritative mask under its own key in
    `st.session_state` (not the painter's `key`: Streamlit drops a component's keyed state
    on a page switch) and stores what this returns:

    ```python
    st.session_state.input_mask = paint_mask(st.session_state.input_mask, key="input_painter")
    ```

    Rows are sources and columns are targets, so `mask[i, j]` means "source `i` may reach
    target `j`"; the canvas reads the same way, with `target unit` across the top,
    `source input` down the side and 0-based tick numbers. Clicking toggles a cell;
    dragging paints the first cell's new value. The toolbar switches to draw, erase,
    whole row, whole column or rectangle (shift-drag erases), and clears, fills or inverts
    the whole matrix. Hovering a cell shows e.g. `input 3 → unit 7: connected`. Painting
    happens in the browser (a canvas, smooth at 256 x 256); each finished stroke or toolbar
    action comes back once, as `encode_mask`'s encoding of the whole matrix plus the
    revision it was painted on, `{"shape", "bits", "rev", "seq", "nonce"}`.

    **Revision protocol.** Python, not the browser, owns the mask. `paint_mask` keeps a
    small book in `st.session_state` (key `"_limconn_painter_book::" + key`): a revision
    number, a digest of the mask on show, the last stroke known to be stored, and the
    stroke it returned last time (pending until the page is seen holding its result).
    Each call:

    1. If `mask` is the pending stroke's result, that stroke is acknowledged. If `mask`
       is neither that nor the mask on show (the page applied a preset, loaded a file,
       changed sizes, or edited the result), the revision goes up. If it is still the
       mask on show, the page never stored the result (typically: the next stroke
       interrupted the run that returned it), and the stroke is offered again.
    2. A stroke is taken only if it is new (its `(nonce, seq)` is not acknowledged;
       `nonce` names the mounted canvas, `seq` counts its strokes) **and** it was painted
       on the current revision **and** has `mask`'s shape. So a stroke painted before a
       preset was applied never overwrites the preset, the component's state (which
       persists across reruns) is taken once, and state left over from before the book
       existed is never taken.
    3. The result is sent down with the revision and the stroke it includes. The canvas
       adopts Python's mask when the revision changed, and otherwise keeps strokes it has
       sent that Python has not yet acknowledged, so a quick second stroke does not
       flicker away while the first one's rerun is in flight.

    Store the result straight away (`st.session_state.x = paint_mask(...)`); a page that
    does not store it gets the same stroke again on its next run.

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

    Returns:
        The mask after the user's latest stroke, as a new bool array, when there is a new
        stroke for this mask; otherwise `mask` itself (the same object, if it was a bool
        array; a bool copy if it was 0/1 numbers).

    Raises:
        ValueError: if `mask` is not a 2-D 0/1 array with 1..256 rows and columns, or
            `height` is not a positive int.

    Example:

    ```python
    import numpy as np
    import streamlit as st

    from limconn.ui.painter import paint_mask

    if "recurrent_mask" not in st.session_state:
        st.session_state.recurrent_mask = np.eye(16, dtype=bool)
    st.session_state.recurrent_mask = paint_mask(
        st.session_state.recurrent_mask,
        key="recurrent_painter",
        source_label="unit",
        target_label="unit",
    )
    st.write(int(st.session_state.recurrent_mask.sum()), "recurrent connections")
    ```
    """
    checked = as_bool_mask(mask, "mask", ndims=(2,))
    _check_shape(list(checked.shape), "mask.shape")
    if height is not None and (
        not isinstance(height, int) or isinstance(height, bool) or height <= 0
    ):
        raise ValueError(f"height must be a positive int or None. Received: height={height!r}")
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty string. Received: key={key!r}")

    book_key = _BOOK_PREFIX + key
    state = st.session_state.get(key)
    stroke = state.get(_STATE_NAME) if isinstance(state, Mapping) else None
    painted, book = _reconcile(checked, st.session_state.get(book_key), stroke)
    st.session_state[book_key] = book

    if painted is not None:
        result = painted
    elif isinstance(mask, np.ndarray) and mask.dtype == bool:
        result = mask
    else:
        result = checked
    data = {
        **encode_mask(result),
        "rev": book["rev"],
        # The last stroke whose result `data` holds: the canvas drops its own copy once
        # every stroke it sent is acknowledged (or the revision moved on).
        "ack": book["pending"]["ack"] if book["pending"] else book["ack"],
        "source_label": str(source_label),
        "target_label": str(target_label),
        "height": height,
    }
    _mount(key=key, data=data, on_stroke_change=_ignore_change)
    return result
