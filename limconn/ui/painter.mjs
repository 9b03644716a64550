// The mask painter's browser side (a Streamlit custom component v2; see painter.py).
//
// Rows are sources, columns are targets. All painting happens here, on a canvas; each
// finished stroke, label click, strip edit or toolbar action goes back to Python once, as
// one payload: {shape, bits, signs?, rev, seq, nonce} (see painter_protocol.py).
//
// The pure parts (bit and sign encodings, stroke geometry, hit regions) are named exports,
// tested with `node --test tests/js/`; Streamlit calls the default export.

const MAX_CELL = 28;   // px: small matrices do not become huge
const MIN_CELL = 2;    // px: 256 x 256 still fits in 512 px (scrolls if narrower)
const GRID_FROM = 6;   // px: draw grid lines from this cell size up
const GLYPH_FROM = 10; // px: write +, − and · in the sign strip from this cell size up
const MARK_FROM = 12;  // px: mark signed grid cells with + or − from this cell size up
const AXIS = 16;       // px: band for the axis titles
const TICK_FONT = 11;  // px
const STRIP = 14;      // px: width of the sign strip
const STRIP_GAP = 4;   // px: between the sign strip and the grid

// --- encodings (must match painter_protocol.py) -------------------------------------------

/** Unpacks `n` cells from base64 of numpy's packbits (row-major, MSB first). */
export function decodeBits(b64, n) {
  const bin = atob(b64);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bin.charCodeAt(i >> 3) >> (7 - (i & 7))) & 1;
  return out;
}

/** Packs 0/1 cells like `np.packbits(cells)` and returns its standard base64. */
export function encodeBits(cells) {
  const bytes = new Uint8Array((cells.length + 7) >> 3);
  for (let i = 0; i < cells.length; i++) if (cells[i]) bytes[i >> 3] |= 0x80 >> (i & 7);
  let bin = "";
  // Chunks keep String.fromCharCode's argument list under engines' limits.
  for (let i = 0; i < bytes.length; i += 0x4000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x4000));
  }
  return btoa(bin);
}

const SIGN_OF_CHAR = { "+": 1, "-": -1, "0": 0 };

/** Row signs from one character per row: "+" excitatory, "-" inhibitory, "0" free. */
export function decodeSigns(text, n) {
  if (typeof text !== "string" || text.length !== n) {
    throw new Error(`signs must be a string of ${n} characters; got ${JSON.stringify(text)}`);
  }
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const sign = SIGN_OF_CHAR[text[i]];
    if (sign === undefined) throw new Error(`unknown sign ${JSON.stringify(text[i])}`);
    out[i] = sign;
  }
  return out;
}

/** The inverse of `decodeSigns`. */
export function encodeSigns(signs) {
  let text = "";
  for (const sign of signs) text += sign > 0 ? "+" : sign < 0 ? "-" : "0";
  return text;
}

/** Per-connection signs from `{positive, negative}` bit planes (-1, 0 or +1 per cell). */
export function decodeConnectionSigns(planes, n) {
  const positive = decodeBits(planes.positive, n);
  const negative = decodeBits(planes.negative, n);
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = positive[i] - negative[i];
  return out;
}

/** A click on the sign strip cycles + → − → free → +. */
export function nextSign(sign) {
  return sign > 0 ? -1 : sign < 0 ? 0 : 1;
}

// --- stroke geometry ------------------------------------------------------------------------

/** Every cell on the line from (r0, c0) to (r1, c1), both included (Bresenham). */
export function lineCells(r0, c0, r1, c1) {
  const cells = [];
  const dr = Math.abs(r1 - r0), dc = Math.abs(c1 - c0);
  const sr = r0 < r1 ? 1 : -1, sc = c0 < c1 ? 1 : -1;
  let err = dc - dr, r = r0, c = c0;
  for (;;) {
    cells.push([r, c]);
    if (r === r1 && c === c1) return cells;
    const e2 = 2 * err;
    if (e2 > -dr) { err -= dr; c += sc; }
    if (e2 < dc) { err += dc; r += sr; }
  }
}

/**
 * What lies under canvas point (x, y) in CSS px: a grid "cell", the sign "strip", a
 * "rowLabel" (left of a row: its tick number or the band around it), a "colLabel" (above
 * a column) or "margin". `r` and `c` are cell coordinates, outside 0..rows-1 / 0..cols-1
 * off the grid, so a stroke can be traced from the margin into the grid.
 */
export function regionAt(geo, rows, cols, x, y) {
  const r = Math.floor((y - geo.top) / geo.cell);
  const c = Math.floor((x - geo.left) / geo.cell);
  const rowInside = r >= 0 && r < rows, colInside = c >= 0 && c < cols;
  let kind = "margin";
  if (rowInside && colInside) kind = "cell";
  else if (rowInside && geo.strip && x >= geo.strip.x && x < geo.strip.x + geo.strip.w) {
    kind = "strip";
  } else if (rowInside && x < (geo.strip ? geo.strip.x : geo.left)) kind = "rowLabel";
  else if (colInside && y < geo.top) kind = "colLabel";
  return { kind, r, c };
}

/** Whether a stroke in `mode` acts on (r, c): whole-row and whole-column modes need one axis. */
export function strokeHits(mode, rows, cols, r, c) {
  const rowInside = r >= 0 && r < rows, colInside = c >= 0 && c < cols;
  if (mode === "row") return rowInside;
  if (mode === "column") return colInside;
  return rowInside && colInside;
}

/** 0 if every cell of row (or column) `index` is connected, else 1: a line click's value. */
export function lineFillValue(cells, rows, cols, axis, index) {
  if (axis === "row") {
    for (let c = 0; c < cols; c++) if (!cells[index * cols + c]) return 1;
  } else {
    for (let r = 0; r < rows; r++) if (!cells[r * cols + index]) return 1;
  }
  return 0;
}

// --- state ------------------------------------------------------------------------------------

function cssVar(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v && v !== "unset" ? v : fallback;
}

// One state per painter (Python's `key`), for the life of the browser tab. Streamlit mounts
// a component again whenever the block around it is rebuilt (an element appearing above a
// keyless block shifts the block's index, React's key for it): state kept on the DOM node
// died with it, taking the chosen mode, edits Python had not acknowledged and a drag in
// progress. Kept here, a new mount takes the state over (`attach`, `resume`).
const STATES = new Map();
const MAX_STATES = 32;  // painters a tab has shown; the oldest are forgotten

function stateFor(key) {
  let s = STATES.get(key);
  if (!s) {
    s = createState();
    STATES.set(key, s);
    if (STATES.size > MAX_STATES) STATES.delete(STATES.keys().next().value);
  }
  return s;
}

function createState() {
  return {
    root: null, grid: null, overlay: null, tip: null, hoverText: null, countText: null,
    // Identifies this painter's strokes in this tab, so Python can tell them from older ones.
    nonce: Math.random().toString(36).slice(2, 10) + Date.now().toString(36),
    rows: 0, cols: 0, cells: null, rev: null,
    signs: null,      // Int8Array per row when the sign strip shows, else null
    connSigns: null,  // Int8Array per cell when Python sent per-connection signs
    seq: 0,        // strokes sent by this painter
    baseSeq: 0,    // strokes sent before the current revision (moot)
    on: 0,         // number of connected cells
    mode: "toggle",
    drag: null, hover: null, width: -1, geo: null, colors: null,
    labels: { source: "input", target: "unit" }, maxHeight: null,
    setStateValue: null, observer: null,
  };
}

// Binds the state to a (new) mount's elements.
function attach(s, root) {
  if (s.observer) s.observer.disconnect();
  s.observer = null;
  s.root = root;
  s.grid = root.querySelector("canvas.lc-grid");
  s.overlay = root.querySelector("canvas.lc-overlay");
  s.tip = root.querySelector(".lc-tip");
  s.hoverText = root.querySelector(".lc-hover");
  s.countText = root.querySelector(".lc-count");
  s.width = -1;
}

// After a remount: a drag still in progress (its release would have ended it, see
// `onWindowUp`) goes on on the new canvas, which takes the pointer capture when it can; without
// it the drag still follows the events the canvas gets, and its release ends it wherever it
// happens. Otherwise an edit Python has not acknowledged is sent (again: Streamlit drops a
// component's state while it is not shown, e.g. on a page switch, so the old mount's send
// may be gone).
function resume(s, ack) {
  if (s.drag) {
    try {
      s.grid.setPointerCapture(s.drag.id);
    } catch (err) {
      // No capture (e.g. the new canvas is not in the document yet): the drag goes on.
    }
    return;
  }
  if (ahead(s, ack)) commit(s);
}

// A release the drag's canvas did not see (it was hidden, or mounted again without the
// pointer capture) still ends the drag: every pointer-up reaches the window, after the
// canvas's own handler has ended a drag it saw.
function onWindowUp(e) {
  for (const s of STATES.values()) {
    if (s.drag && s.drag.id === e.pointerId) onUp(s, e);
  }
}

if (typeof window !== "undefined") {
  window.addEventListener("pointerup", onWindowUp);
  window.addEventListener("pointercancel", onWindowUp);
}

// Whether the canvas shows edits Python has not acknowledged (sent, or being drawn).
function ahead(s, ack) {
  const acked = ack && ack.nonce === s.nonce ? ack.seq : 0;
  return s.drag !== null || s.seq > Math.max(acked, s.baseSeq);
}

function applyData(s, data) {
  const rows = data.shape[0], cols = data.shape[1];
  const same = s.cells && rows === s.rows && cols === s.cols && data.rev === s.rev;
  if (!(same && ahead(s, data.ack))) {
    // Python's state is the truth unless we are ahead of it on the same revision.
    if (!same) { s.drag = null; s.baseSeq = s.seq; }
    s.rows = rows; s.cols = cols; s.rev = data.rev;
    s.cells = decodeBits(data.bits, rows * cols);
    s.on = s.cells.reduce((a, b) => a + b, 0);
    s.signs = typeof data.signs === "string" ? decodeSigns(data.signs, rows) : null;
  }
  s.connSigns = data.connection_signs
    ? decodeConnectionSigns(data.connection_signs, rows * cols) : null;
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
    excitatory: cssVar(el, "--lc-excitatory", "#b2182b"),
    inhibitory: cssVar(el, "--lc-inhibitory", "#2166ac"),
  };
}

// The sign a connected cell is drawn with: its own when Python sent per-connection signs,
// else its row's.
function cellSign(s, r, c) {
  if (s.connSigns) return s.connSigns[r * s.cols + c];
  return s.signs ? s.signs[r] : 0;
}

function signColor(s, sign) {
  return sign > 0 ? s.colors.excitatory : sign < 0 ? s.colors.inhibitory : s.colors.on;
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
  const labelRight = AXIS + rowDigits + 8;
  const strip = s.signs ? { x: labelRight, w: STRIP } : null;
  const left = strip ? strip.x + strip.w + STRIP_GAP : labelRight;
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
    left, top, cell, gap, w, h, labelRight, strip,
    colStep: tickStep(cell, colDigits + 8), rowStep: tickStep(cell, TICK_FONT + 3),
  };
  const g = s.grid;
  g.dataset.rows = s.rows; g.dataset.cols = s.cols; g.dataset.cell = cell;
  g.dataset.left = left; g.dataset.top = top;
  if (strip) {
    g.dataset.stripLeft = strip.x; g.dataset.stripWidth = strip.w;
  } else {
    delete g.dataset.stripLeft; delete g.dataset.stripWidth;
  }
  g.setAttribute("aria-label",
    `Connectivity mask, ${s.rows} source ${s.labels.source}s by ${s.cols} target ` +
    `${s.labels.target}s; rows are sources, columns are targets` +
    (strip ? "; a strip left of the grid holds each source's sign" : ""));
}

function paintCell(s, ctx, r, c) {
  const { left, top, cell, gap } = s.geo;
  const on = s.cells[r * s.cols + c];
  const sign = on ? cellSign(s, r, c) : 0;
  const x = left + c * cell + gap, y = top + r * cell + gap, size = cell - gap;
  ctx.fillStyle = on ? signColor(s, sign) : s.colors.off;
  ctx.fillRect(x, y, size, size);
  if (sign && cell >= MARK_FROM) markSign(ctx, sign, x + size / 2, y + size / 2, cell);
}

// A white + or − in a signed cell: the sign does not rest on colour alone (an excitatory
// cell and a free one are both red-ish under Streamlit's default red primary colour).
function markSign(ctx, sign, x, y, cell) {
  const arm = Math.round(cell * 0.2);
  ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
  ctx.lineWidth = Math.max(1.5, cell / 10);
  ctx.beginPath();
  ctx.moveTo(x - arm, y);
  ctx.lineTo(x + arm, y);
  if (sign > 0) {
    ctx.moveTo(x, y - arm);
    ctx.lineTo(x, y + arm);
  }
  ctx.stroke();
}

function paintStripCell(s, ctx, r) {
  const { top, cell, gap, strip } = s.geo;
  const sign = s.signs[r];
  const y = top + r * cell + gap, h = cell - gap;
  ctx.fillStyle = sign ? signColor(s, sign) : s.colors.off;
  ctx.fillRect(strip.x, y, strip.w, h);
  if (cell >= GLYPH_FROM) {
    ctx.fillStyle = sign ? "#ffffff" : s.colors.text;
    ctx.font = `700 ${Math.min(cell - 2, 13)}px ${s.colors.font}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(sign > 0 ? "+" : sign < 0 ? "\u2212" : "\u00b7", strip.x + strip.w / 2,
      y + h / 2 + 0.5);
  }
}

function drawAll(s) {
  const ctx = s.grid.getContext("2d");
  const { left, top, cell, gap, w, h, labelRight, strip, colStep, rowStep } = s.geo;
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
  if (strip) ctx.fillText("\u00b1", strip.x + strip.w / 2, top - TICK_FONT / 2 - 3);
  ctx.textAlign = "right";
  for (let r = 0; r < s.rows; r += rowStep) {
    ctx.fillText(String(r), labelRight - 4, top + (r + 0.5) * cell);
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
  if (strip) {
    ctx.fillStyle = gap ? col.line : col.off;
    ctx.fillRect(strip.x, top, strip.w, cell * s.rows + gap);
    for (let r = 0; r < s.rows; r++) paintStripCell(s, ctx, r);
  }
  drawOverlay(s);
  showStatus(s);
}

function drawOverlay(s) {
  const ctx = s.overlay.getContext("2d");
  const { left, top, cell, w, h } = s.geo;
  ctx.clearRect(0, 0, w, h);
  const d = s.drag;
  if (d && d.kind === "paint" && s.mode === "rectangle" && d.value !== null) {
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
  if (!p) return;
  ctx.fillStyle = s.colors.text;
  ctx.globalAlpha = 0.07;
  if (p.kind !== "colLabel") ctx.fillRect(left, top + p.r * cell, cell * s.cols, cell);
  if (p.kind === "cell" || p.kind === "colLabel") {
    ctx.fillRect(left + p.c * cell, top, cell, cell * s.rows);
  }
  ctx.globalAlpha = 1;
  if (p.kind === "cell") {
    ctx.strokeStyle = s.colors.text;
    ctx.lineWidth = cell >= GRID_FROM ? 2 : 1;
    const o = ctx.lineWidth / 2;
    ctx.strokeRect(left + p.c * cell - o, top + p.r * cell - o, cell + 2 * o, cell + 2 * o);
  }
}

function signName(sign) {
  return sign > 0 ? "excitatory" : sign < 0 ? "inhibitory" : "free";
}

function hoverLabel(s, p) {
  const { source, target } = s.labels;
  if (p.kind === "strip") {
    return `${source} ${p.r}: ${signName(s.signs[p.r])} \u00b7 click cycles + \u2192 ` +
      "\u2212 \u2192 free, drag sets rows";
  }
  if (p.kind === "rowLabel") {
    return `${source} ${p.r}: click connects to every ${target} (shift: disconnects)`;
  }
  if (p.kind === "colLabel") {
    return `${target} ${p.c}: click connects every ${source} (shift: disconnects)`;
  }
  const connected = s.cells[p.r * s.cols + p.c];
  const signed = connected && (s.signs || s.connSigns);
  const value = connected ? "connected" : "not connected";
  const sign = signed ? ` (${signName(cellSign(s, p.r, p.c))})` : "";
  return `${source} ${p.r} \u2192 ${target} ${p.c}: ${value}${sign}`;
}

function showStatus(s) {
  const total = s.rows * s.cols;
  const pct = total ? (100 * s.on / total).toFixed(1) : "0.0";
  s.countText.textContent = `${s.on} of ${total} connected (${pct}%)`;
  const p = s.hover;
  if (p) {
    const text = hoverLabel(s, p);
    s.hoverText.textContent = text;
    s.tip.textContent = text;
    s.tip.style.display = "block";
    // Off the grid (labels, strip) the tip sits by the nearest cell.
    const r = Math.min(Math.max(p.r, 0), s.rows - 1), c = Math.min(Math.max(p.c, 0), s.cols - 1);
    const x = s.geo.left + (c + 1) * s.geo.cell + 8;
    const y = s.geo.top + (r + 1) * s.geo.cell + 6;
    const tw = s.tip.offsetWidth, th = s.tip.offsetHeight;
    s.tip.style.left = `${x + tw > s.geo.w ? Math.max(0, x - tw - s.geo.cell - 16) : x}px`;
    s.tip.style.top = `${y + th > s.geo.h ? Math.max(0, y - th - s.geo.cell - 12) : y}px`;
  } else {
    s.hoverText.textContent = "Hover a cell to see the connection \u00b7 shift-drag erases" +
      " \u00b7 click a row or column number to fill it";
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

function fillRow(s, ctx, r, value) {
  for (let c = 0; c < s.cols; c++) setCell(s, ctx, r, c, value);
}

function fillColumn(s, ctx, c, value) {
  for (let r = 0; r < s.rows; r++) setCell(s, ctx, r, c, value);
}

function setSign(s, r, sign) {
  if (s.signs[r] === sign) return;
  s.signs[r] = sign;
  s.drag.changed += 1;
  const ctx = s.grid.getContext("2d");
  paintStripCell(s, ctx, r);
  // Connected cells take their row's sign unless Python sent per-connection signs.
  if (!s.connSigns) {
    for (let c = 0; c < s.cols; c++) if (s.cells[r * s.cols + c]) paintCell(s, ctx, r, c);
  }
}

// The stroke's value, decided on the first cell it acts on (which is later than the press
// when the stroke starts in the margin).
function firstValue(s, r, c, shift) {
  if (s.mode === "toggle") return s.cells[r * s.cols + c] ? 0 : 1;
  if (s.mode === "erase" || shift) return 0;
  if (s.mode === "row") return lineFillValue(s.cells, s.rows, s.cols, "row", r);
  if (s.mode === "column") return lineFillValue(s.cells, s.rows, s.cols, "column", c);
  return 1;
}

// Paints the cells a stroke passes through, in order; off-grid ones are skipped, so a
// stroke from the margin paints from where it enters the grid.
function paintAlong(s, path) {
  const d = s.drag;
  const ctx = s.grid.getContext("2d");
  for (const [r, c] of path) {
    if (!strokeHits(s.mode, s.rows, s.cols, r, c)) continue;
    if (d.value === null) {
      d.value = firstValue(s, r, c, d.shift);
      d.r0 = r; d.c0 = c;
    }
    if (s.mode === "rectangle") return;  // the rectangle is filled on release
    if (s.mode === "row") fillRow(s, ctx, r, d.value);
    else if (s.mode === "column") fillColumn(s, ctx, c, d.value);
    else setCell(s, ctx, r, c, d.value);
  }
}

function pointAt(s, e) {
  const rect = s.grid.getBoundingClientRect();
  return regionAt(s.geo, s.rows, s.cols, e.clientX - rect.left, e.clientY - rect.top);
}

function clampCell(s, p) {
  return {
    r: Math.min(Math.max(p.r, 0), s.rows - 1),
    c: Math.min(Math.max(p.c, 0), s.cols - 1),
  };
}

function commit(s) {
  s.seq += 1;
  if (!s.setStateValue) return;
  const payload = {
    shape: [s.rows, s.cols], bits: encodeBits(s.cells),
    rev: s.rev, seq: s.seq, nonce: s.nonce,
  };
  if (s.signs) payload.signs = encodeSigns(s.signs);
  s.setStateValue("stroke", payload);
}

function onDown(s, e) {
  if (e.button !== 0 || s.drag) return;
  const p = pointAt(s, e);
  e.preventDefault();
  try {
    s.grid.setPointerCapture(e.pointerId);  // the stroke follows the pointer off the canvas
  } catch (err) {
    // Not a live pointer (e.g. a synthetic event): paint without capture.
  }
  if (p.kind === "strip") {
    s.drag = { kind: "strip", id: e.pointerId, value: nextSign(s.signs[p.r]), r: p.r, changed: 0 };
    setSign(s, p.r, s.drag.value);
  } else {
    s.drag = {
      kind: "paint", id: e.pointerId, origin: p, shift: e.shiftKey,
      value: null, r0: null, c0: null, r: p.r, c: p.c, changed: 0,
    };
    paintAlong(s, [[p.r, p.c]]);
  }
  s.hover = p.kind === "margin" ? null : p;
  drawOverlay(s);
  showStatus(s);
}

function onMove(s, e) {
  const p = pointAt(s, e);
  const d = s.drag;
  if (d && e.pointerId === d.id) {
    if (d.kind === "strip") {
      // Dragging along the strip gives every row passed the first cell's new sign.
      const r0 = Math.max(Math.min(d.r, p.r), 0), r1 = Math.min(Math.max(d.r, p.r), s.rows - 1);
      for (let r = r0; r <= r1; r++) setSign(s, r, d.value);
      d.r = p.r;
    } else if (p.r !== d.r || p.c !== d.c) {
      const entered = d.value !== null;
      if (!(entered && s.mode === "rectangle")) paintAlong(s, lineCells(d.r, d.c, p.r, p.c));
      const q = s.mode === "rectangle" && d.value !== null ? clampCell(s, p) : p;
      d.r = q.r; d.c = q.c;
    }
  }
  const hover = p.kind === "margin" ? null : p;
  const old = s.hover;
  if (d || !hover || !old || hover.kind !== old.kind || hover.r !== old.r || hover.c !== old.c) {
    s.hover = hover;
    drawOverlay(s);
    showStatus(s);
  }
}

// A press and release on the same row (column) label, without entering the grid, sets the
// whole row (column): connects all unless all are connected already; shift disconnects.
function labelClick(s, d, p) {
  const o = d.origin;
  const ctx = s.grid.getContext("2d");
  if (o.kind === "rowLabel" && p.kind === "rowLabel" && p.r === o.r) {
    fillRow(s, ctx, o.r, d.shift ? 0 : lineFillValue(s.cells, s.rows, s.cols, "row", o.r));
  } else if (o.kind === "colLabel" && p.kind === "colLabel" && p.c === o.c) {
    fillColumn(s, ctx, o.c, d.shift ? 0 : lineFillValue(s.cells, s.rows, s.cols, "column", o.c));
  }
}

function onUp(s, e) {
  const d = s.drag;
  if (!d || e.pointerId !== d.id) return;
  if (d.kind === "paint" && d.value === null && e.type === "pointerup") {
    labelClick(s, d, pointAt(s, e));
  } else if (d.kind === "paint" && s.mode === "rectangle" && d.value !== null) {
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

export default function ({ data: sent, parentElement, setStateValue }) {
  const root = parentElement.querySelector(".lc-painter");
  // painter.py sends its payload as one JSON text (see there why).
  const data = typeof sent?.json === "string" ? JSON.parse(sent.json) : null;
  if (!root || !data || !Array.isArray(data.shape)) return;
  const s = stateFor(data.key);
  const remounted = s.root !== null && s.root !== root;
  if (s.root !== root) attach(s, root);
  s.setStateValue = setStateValue;
  applyData(s, data);
  if (remounted) resume(s, data.ack);

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
