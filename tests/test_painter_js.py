"""The painter's JavaScript encodings equal Python's, on random masks (Node runs the JS)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from limconn.ui.painter_protocol import (
    decode_mask,
    decode_signs,
    encode_connection_signs,
    encode_mask,
    encode_signs,
)

MODULE = Path(__file__).resolve().parents[1] / "limconn" / "ui" / "painter.mjs"

# Reads cases from stdin, answers with what the browser side would send and would show.
_NODE_SCRIPT = f"""
import {{ readFileSync }} from "node:fs";
import {{ decodeBits, decodeConnectionSigns, decodeSigns, encodeBits, encodeSigns }}
  from {json.dumps(MODULE.as_uri())};
const cases = JSON.parse(readFileSync(0, "utf8"));
const answers = cases.map((c) => ({{
  bits: encodeBits(Uint8Array.from(c.cells)),
  cells: Array.from(decodeBits(c.python_bits, c.cells.length)),
  signs: encodeSigns(Int8Array.from(c.signs)),
  decoded_signs: Array.from(decodeSigns(c.python_signs, c.signs.length)),
  connection_signs: Array.from(decodeConnectionSigns(c.python_planes, c.cells.length)),
}}));
process.stdout.write(JSON.stringify(answers));
"""


def _run_node(cases: list[dict]) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("No `node` on PATH: run the tests with scripts/test.sh, which installs it.")
    done = subprocess.run(
        [node, "--input-type=module", "-e", _NODE_SCRIPT],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_javascript_encodings_equal_python_on_random_masks():
    rng = np.random.default_rng(20240611)
    shapes = [(1, 1), (1, 9), (3, 3), (5, 7), (8, 8), (13, 29), (64, 3), (256, 256)]
    arrays = []
    for rows, cols in shapes:
        density = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0])
        mask = rng.random((rows, cols)) < density
        row_signs = rng.integers(-1, 2, size=rows).astype(np.int8)
        connection_signs = rng.integers(-1, 2, size=(rows, cols)).astype(np.int8)
        arrays.append((mask, row_signs, connection_signs))
    cases = [
        {
            "cells": mask.ravel().astype(int).tolist(),
            "python_bits": encode_mask(mask)["bits"],
            "signs": row_signs.tolist(),
            "python_signs": encode_signs(row_signs),
            "python_planes": encode_connection_signs(connection_signs),
        }
        for mask, row_signs, connection_signs in arrays
    ]
    answers = _run_node(cases)
    assert len(answers) == len(arrays)
    for (mask, row_signs, connection_signs), case, answer in zip(
        arrays, cases, answers, strict=True
    ):
        # Up: what the browser sends decodes in Python to what it painted.
        assert answer["bits"] == case["python_bits"]
        sent = {"shape": list(mask.shape), "bits": answer["bits"]}
        np.testing.assert_array_equal(decode_mask(sent, mask.shape), mask)
        assert answer["signs"] == case["python_signs"]
        np.testing.assert_array_equal(decode_signs(answer["signs"], len(row_signs)), row_signs)
        # Down: what Python sends decodes in the browser to the same cells and signs.
        np.testing.assert_array_equal(answer["cells"], mask.ravel().astype(int))
        np.testing.assert_array_equal(answer["decoded_signs"], row_signs)
        np.testing.assert_array_equal(answer["connection_signs"], connection_signs.ravel())
