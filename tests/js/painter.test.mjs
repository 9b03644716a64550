// The painter's pure browser logic, under Node's built-in test runner:
//   node --test tests/js/
// tests/test_painter_js.py checks the same encodings against Python's on random masks.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import paint, {
  decodeBits,
  decodeConnectionSigns,
  decodeSigns,
  encodeBits,
  encodeSigns,
  lineCells,
  lineFillValue,
  nextSign,
  regionAt,
  strokeHits,
} from "../../limconn/ui/painter.mjs";

// Printed by Python: painter_protocol.encode_mask(...)["bits"] and encode_connection_signs.
const PYTHON_VECTORS = [
  { name: "np.eye(3)", rows: 3, cols: 3, on: [[0, 0], [1, 1], [2, 2]], bits: "iIA=" },
  { name: "np.ones((1, 9))", rows: 1, cols: 9, on: [[0, 0], [0, 1], [0, 2], [0, 3],
    [0, 4], [0, 5], [0, 6], [0, 7], [0, 8]], bits: "/4A=" },
  { name: "np.eye(5, 7)", rows: 5, cols: 7, on: [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]],
    bits: "gICAgIA=" },
];

function cellsOf({ rows, cols, on }) {
  const cells = new Uint8Array(rows * cols);
  for (const [r, c] of on) cells[r * cols + c] = 1;
  return cells;
}

describe("bits", () => {
  for (const vector of PYTHON_VECTORS) {
    it(`encodes ${vector.name} as Python's encode_mask does`, () => {
      assert.equal(encodeBits(cellsOf(vector)), vector.bits);
      assert.deepEqual(decodeBits(vector.bits, vector.rows * vector.cols), cellsOf(vector));
    });
  }

  it("round-trips every length around byte boundaries", () => {
    for (let n = 1; n <= 40; n++) {
      const cells = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) % 3 === 0 ? 1 : 0);
      assert.deepEqual(decodeBits(encodeBits(cells), n), cells, `length ${n}`);
    }
  });

  it("encodes a 256 x 256 matrix (larger than one fromCharCode chunk)", () => {
    const cells = new Uint8Array(256 * 256).fill(1);
    const bits = encodeBits(cells);
    assert.equal(bits.length, 10924);
    assert.deepEqual(decodeBits(bits, cells.length), cells);
  });
});

describe("signs", () => {
  it("encodes one character per row, as Python's encode_signs does", () => {
    assert.equal(encodeSigns(Int8Array.from([1, -1, 0, 1])), "+-0+");
    assert.deepEqual(decodeSigns("+-0+", 4), Int8Array.from([1, -1, 0, 1]));
  });

  it("refuses another length or character", () => {
    assert.throws(() => decodeSigns("+-", 3), /3 characters/);
    assert.throws(() => decodeSigns("+x0", 3), /unknown sign "x"/);
    assert.throws(() => decodeSigns(null, 3), /3 characters/);
  });

  it("decodes Python's per-connection bit planes", () => {
    // encode_connection_signs(np.array([[1, -1, 0], [0, 1, -1]]))
    const planes = { positive: "iA==", negative: "RA==" };
    assert.deepEqual(decodeConnectionSigns(planes, 6), Int8Array.from([1, -1, 0, 0, 1, -1]));
  });

  it("cycles + → − → free → +", () => {
    assert.deepEqual([nextSign(1), nextSign(-1), nextSign(0)], [-1, 0, 1]);
  });
});

describe("stroke geometry", () => {
  it("lists every cell of a line, both ends included, without gaps", () => {
    assert.deepEqual(lineCells(2, 1, 2, 4), [[2, 1], [2, 2], [2, 3], [2, 4]]);
    assert.deepEqual(lineCells(0, 0, 0, 0), [[0, 0]]);
    const diagonal = lineCells(5, 9, 0, 0);
    assert.deepEqual(diagonal[0], [5, 9]);
    assert.deepEqual(diagonal.at(-1), [0, 0]);
    for (let i = 1; i < diagonal.length; i++) {
      const [r0, c0] = diagonal[i - 1], [r1, c1] = diagonal[i];
      assert.ok(Math.abs(r1 - r0) <= 1 && Math.abs(c1 - c0) <= 1, `step ${i} jumps`);
    }
  });

  it("a line from the margin enters the grid at its edge", () => {
    // From left of row 3 (column -4) to cell (3, 2): the grid part starts at column 0.
    const inside = lineCells(3, -4, 3, 2).filter(([r, c]) => strokeHits("draw", 5, 5, r, c));
    assert.deepEqual(inside, [[3, 0], [3, 1], [3, 2]]);
  });

  const geo = { left: 60, top: 40, cell: 10, strip: { x: 40, w: 14 } };

  it("tells cells, the sign strip, labels and the margin apart", () => {
    const at = (x, y) => regionAt(geo, 4, 6, x, y);
    assert.deepEqual(at(65, 45), { kind: "cell", r: 0, c: 0 });
    assert.deepEqual(at(119, 79), { kind: "cell", r: 3, c: 5 });
    assert.equal(at(45, 55).kind, "strip");
    assert.equal(at(45, 55).r, 1);
    assert.deepEqual([at(20, 75).kind, at(20, 75).r], ["rowLabel", 3]);
    assert.deepEqual([at(95, 10).kind, at(95, 10).c], ["colLabel", 3]);
    assert.equal(at(56, 45).kind, "margin");   // between the strip and the grid
    assert.equal(at(20, 10).kind, "margin");   // the top-left corner
    assert.equal(at(65, 85).kind, "margin");   // below the grid
    const noStrip = { ...geo, strip: null };
    assert.equal(regionAt(noStrip, 4, 6, 45, 55).kind, "rowLabel");
  });

  it("whole-row and whole-column strokes need only their own axis on the grid", () => {
    assert.ok(strokeHits("row", 4, 6, 2, -3));
    assert.ok(!strokeHits("draw", 4, 6, 2, -3));
    assert.ok(strokeHits("column", 4, 6, -1, 5));
    assert.ok(!strokeHits("column", 4, 6, 0, 6));
  });

  it("a line click connects unless every cell of the line is connected", () => {
    const cells = Uint8Array.from([1, 1, 1, 0, 1, 0]);  // 2 x 3
    assert.equal(lineFillValue(cells, 2, 3, "row", 0), 0);
    assert.equal(lineFillValue(cells, 2, 3, "row", 1), 1);
    assert.equal(lineFillValue(cells, 2, 3, "column", 1), 0);
    assert.equal(lineFillValue(cells, 2, 3, "column", 2), 1);
  });
});

it("the default export is the component's entry point", () => {
  assert.equal(typeof paint, "function");
  // Streamlit calls it with the component's element; without the painter's markup it does
  // nothing (the guard that keeps a half-mounted component from throwing).
  assert.equal(paint({ data: { shape: [1, 1] }, parentElement: { querySelector: () => null } }),
    undefined);
});
