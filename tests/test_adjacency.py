"""Adjacency matrices from CSV: names detected, values read exactly, every bad file refused."""

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from limconn.adjacency import adjacency_from_csv, design_from_csv
from limconn.connectivity import Connectivity
from limconn.settings import Limits
from tests.test_cli import _cli

MATRIX = np.array([[0, 1.5, -2], [0, 0, 3], [-1, 0, 0]])


def _csv(text: str, name: str = "table.csv") -> io.BytesIO:
    data = io.BytesIO(text.encode())
    data.name = name
    return data


def _read(text: str, **options):
    return adjacency_from_csv(_csv(text), **options)


@pytest.mark.parametrize(
    ("text", "rows", "columns"),
    [
        ("0,1.5,-2\n0,0,3\n-1,0,0\n", None, None),
        ("a,b,c\n0,1.5,-2\n0,0,3\n-1,0,0\n", None, ["a", "b", "c"]),
        ("a,0,1.5,-2\nb,0,0,3\nc,-1,0,0\n", ["a", "b", "c"], None),
        ("from,a,b,c\na,0,1.5,-2\nb,0,0,3\nc,-1,0,0\n", ["a", "b", "c"], ["a", "b", "c"]),
        (" ,10,11,12\n7, 0 ,1.5,-2\n8,0,0,3e0\n9,-1,.0,0\n", ["7", "8", "9"],
         ["10", "11", "12"]),
        ("\ufeffa\tb\tc\r\n0\t1.5\t-2\r\n0\t0\t3\r\n-1\t0\t0\r\n\r\n", None, ["a", "b", "c"]),
    ],
    ids=["plain", "header", "index", "header and index", "numeric names", "tabs, BOM, CRLF"],
)
def test_names_are_detected_and_values_read(text, rows, columns):
    mask, sign, row_names, column_names = _read(text)
    np.testing.assert_array_equal(mask, MATRIX != 0)
    np.testing.assert_array_equal(sign, np.sign(MATRIX))
    assert sign.dtype == np.int8
    assert (row_names, column_names) == (rows, columns)


def test_a_pandas_table_reads_back_with_its_names(tmp_path):
    names = ["AVAL", "AVAR", "AVBL"]
    pd.DataFrame(MATRIX, index=names, columns=names).to_csv(tmp_path / "connectome.csv")
    mask, sign, row_names, column_names = adjacency_from_csv(tmp_path / "connectome.csv")
    np.testing.assert_array_equal(sign, np.sign(MATRIX))
    assert row_names == column_names == names


REFUSALS = {
    "empty": (b"", "is empty"),
    "only blank lines": (b"\n\n  \n", "is empty"),
    "not UTF-8": ("0,1\n1,\u00e9\n".encode("latin-1"), "not UTF-8 text: byte 0xe9"),
    "ragged": (b"0,1,0\n1,0\n", "line 2 has 2 cell"),
    "text cell": (b"0,1\n1,x\n", "line 2, column 2: 'x' is not a number"),
    "empty cell": (b"a,b\n0,\n1,0\n", "line 2, column 2: '' is not a number"),
    "NaN": (b"0,nan\n1,0\n", "line 1, column 2: 'nan' is not a connection"),
    "infinity": (b"a,b\n0,-inf\n1,0\n", "line 2, column 2: '-inf' is not a connection"),
    "overflow": (b"0,1e999\n1,0\n", "'1e999' is too large"),
    "hex": (b"0,1\n1,0x1\n", "'0x1' is not a number"),
    "names only": (b"a,b,c\n", "holds names but no matrix"),
    "repeated names": (b",a,a\na,0,1\nb,1,0\n", "column name 'a' appears more than once"),
    "huge cell": (b'0,"' + b"1" * 200_000 + b'"\n', "not a readable CSV table: field larger"),
    "NUL byte": (b"0,1\n1,\x000\n", r"line 2, column 2: '\\x000' is not a number"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_each_bad_file_is_refused_with_what_came(case):
    data, message = REFUSALS[case]
    with pytest.raises(ValueError, match=message):
        adjacency_from_csv(io.BytesIO(data))


def test_limits_bound_size_columns_and_rows_before_the_body_is_parsed():
    small = Limits(max_units=3, max_inputs=2, max_upload_mb=1)
    too_big = io.BytesIO(b"0," * (1024 * 1024))
    with pytest.raises(ValueError, match="larger than|too large|at most"):
        adjacency_from_csv(too_big, limits=small)
    # Five columns in the first line: refused before the (broken) body is read.
    with pytest.raises(ValueError, match="at most 3 units .* Received: 5 columns"):
        _read("0,0,0,0,0\nthis body is never parsed", limits=small)
    # Four plain columns fit the first-line check (a column of names may follow) but not 3 units.
    with pytest.raises(ValueError, match="at most 3 units \\(columns\\). Received: 4"):
        _read("0,0,0,0\n0,0,0,0\n", limits=small)
    with pytest.raises(ValueError, match="at most 3 source rows"):
        _read("0\n" * 5 + "not a number", limits=small)
    with pytest.raises(ValueError, match="at most 2 inputs \\(rows\\). Received: 3"):
        _read("0,1\n1,0\n1,1\n", limits=small, sources="inputs")
    mask, *_ = _read("a,b,c\n0,1,0\n1,0,0\n0,0,1\n", limits=small)
    assert mask.shape == (3, 3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_random_bytes_only_ever_raise_value_error(data):
    try:
        mask, sign, _, _ = adjacency_from_csv(io.BytesIO(data), limits=Limits())
    except ValueError:
        return
    assert mask.dtype == bool and np.array_equal(mask, sign != 0)


_CELLS = st.one_of(
    st.sampled_from(["0", "1", "-1", "2.5", "-.5", "1e3", "", " ", "nan", "inf", "x", "a b",
                     '"q"', '"', "\t", ";", "\r", "\u00e9", "1e999", "+0"]),
    st.text(max_size=4),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=st.lists(st.lists(_CELLS, min_size=1, max_size=5), max_size=6),
       separator=st.sampled_from([",", "\t"]), newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_random_csv_text_only_ever_raises_value_error(table, separator, newline):
    text = newline.join(separator.join(row) for row in table)
    try:
        mask, sign, rows, columns = adjacency_from_csv(
            io.BytesIO(text.encode()), limits=Limits(max_units=4, max_inputs=4)
        )
    except ValueError:
        return
    assert mask.shape[0] <= 4 and mask.shape[1] <= 4
    assert rows is None or len(rows) == mask.shape[0]
    assert columns is None or len(columns) == mask.shape[1]


def test_design_from_a_recurrent_csv_with_dense_inputs_and_names():
    recurrent = _csv(",a,b,c\na,0,1.5,-2\nb,0,0,3\nc,-1,0,0\n", "worm.csv")
    design = Connectivity.from_csv(recurrent, input_dim=2)
    np.testing.assert_array_equal(design.recurrent_mask, MATRIX != 0)
    np.testing.assert_array_equal(design.recurrent_sign, np.sign(MATRIX))
    assert design.input_mask.all() and design.input_mask.shape == (2, 3)
    assert design.input_sign is None and design.output_mask.all()
    assert design.name == "worm"
    assert design.metadata["unit_names"] == ["a", "b", "c"]
    assert Connectivity.load(io.BytesIO(design.to_npz_bytes())) == design


def test_design_from_both_files_checks_that_they_agree():
    recurrent = ",a,b\na,0,1\nb,1,0\n"
    design = design_from_csv(_csv(recurrent), _csv("x,a,b\nin0,1,0\nin1,-1,1\nin2,0,1\n"))
    assert design.input_dim == 3 and design.units == 2
    assert design.metadata["input_names"] == ["in0", "in1", "in2"]
    np.testing.assert_array_equal(design.input_sign, [[1, 0], [-1, 1], [0, 1]])
    assert design.recurrent_sign is None  # a 0/1 matrix: connections, signs left free
    with pytest.raises(ValueError, match="Received: 'a' and 'b' at position 1"):
        design_from_csv(_csv(recurrent), _csv("x,b,a\nin0,1,0\n"))
    with pytest.raises(ValueError, match="2 in the recurrent matrix. Received: 3 columns"):
        design_from_csv(_csv(recurrent), _csv("1,0,1\n"))
    with pytest.raises(ValueError, match="must match the input matrix's rows .* input_dim=2"):
        design_from_csv(_csv(recurrent), _csv("1,0\n0,1\n1,1\n"), input_dim=2)


def test_design_from_an_input_csv_alone_keeps_the_recurrence_dense():
    design = design_from_csv(inputs=_csv("1,0,0\n0,0,2\n"))
    assert design.recurrent_mask.all() and design.recurrent_sign is None
    np.testing.assert_array_equal(design.input_mask, [[1, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize(
    ("signs", "expected"), [("auto", None), ("always", [[0, 1], [1, 0]]), ("never", None)]
)
def test_sign_modes_on_a_0_1_matrix(signs, expected):
    design = design_from_csv(_csv("0,1\n1,0\n"), input_dim=1, signs=signs)
    if expected is None:
        assert design.recurrent_sign is None
    else:
        np.testing.assert_array_equal(design.recurrent_sign, expected)
    signed = design_from_csv(_csv("0,-1\n1,0\n"), input_dim=1, signs=signs)
    assert (signed.recurrent_sign is None) == (signs == "never")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: design_from_csv(input_dim=2), "Give a recurrent"),
        (lambda: design_from_csv(_csv("0,1\n1,0\n")), "input_dim=None"),
        (lambda: design_from_csv(_csv("0,1\n1,0\n"), input_dim=0), "input_dim=0"),
        (lambda: design_from_csv(_csv("0,1,1\n1,0,0\n"), input_dim=1),
         "must be square .* Received: 2 rows × 3 columns"),
        (lambda: design_from_csv(_csv(",a,b\nb,0,1\na,1,0\n"), input_dim=1),
         "row and column names must name the same units"),
        (lambda: design_from_csv(_csv("0\n"), input_dim=1, signs="maybe"), "signs='maybe'"),
        (lambda: design_from_csv(_csv("0,1\n1,0\n"), input_dim=9, limits=Limits(max_inputs=4)),
         "at most 4 inputs. Received: 9"),
    ],
)
def test_design_from_csv_refusals_name_what_came(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_cli_mask_from_csv_writes_the_design(tmp_path):
    (tmp_path / "units.csv").write_text(",a,b,c\na,0,1.5,-2\nb,0,0,3\nc,-1,0,0\n")
    (tmp_path / "inputs.csv").write_text(",a,b,c\nx,1,0,0\ny,0,0,1\n")
    out = tmp_path / "design.npz"
    made = _cli("mask", "from-csv", tmp_path / "units.csv", "--inputs-csv",
                tmp_path / "inputs.csv", "--out", out, home=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "recurrent signs 2 E / 2 I / 0 free per connection" in made.stdout
    expected = design_from_csv(tmp_path / "units.csv", tmp_path / "inputs.csv")
    assert Connectivity.load(out) == expected

    dense = _cli("mask", "from-csv", tmp_path / "units.csv", "--inputs", 4, "--signs", "never",
                 "--out", out, home=tmp_path)
    assert dense.returncode == 0, dense.stderr
    design = Connectivity.load(out)
    assert design.input_mask.shape == (4, 3) and not design.signed

    (tmp_path / "bad.csv").write_text("0,1\n1,x\n")
    refused = _cli("mask", "from-csv", tmp_path / "bad.csv", "--inputs", 1, "--out", out,
                   home=tmp_path)
    assert refused.returncode == 1
    assert "limconn: error: bad.csv, line 2, column 2: 'x' is not a number" in refused.stderr
    # The preset subcommands still work beside from-csv.
    preset = _cli("mask", "random", "--inputs", 2, "--units", 4, "--out", out, home=tmp_path)
    assert preset.returncode == 0, preset.stderr
