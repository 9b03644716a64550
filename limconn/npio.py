"""Reading NumPy files that came from someone else: sizes checked first, nothing unpickled.

Every `.npy` and `.npz` file limconn reads (uploaded datasets, designs, masks) goes through
this module, so the rules live in one place:

* `read_bytes` refuses a file over `max_bytes` before reading it, from its path's size or
  the file object's declared size, and never reads more than `max_bytes + 1` bytes.
* `parse_npy` checks a `.npy` header before `np.load` allocates anything: an object dtype
  (which would need unpickling) is refused, and the declared shape must match the bytes
  that follow.
* `read_npz` checks the archive's directory before decompressing: the chosen arrays'
  declared sizes must fit in `max_bytes` and they must be stored or deflated, as `np.savez`
  and `np.savez_compressed` write them (a small "zip bomb" cannot expand: zipfile bounds
  what it inflates per read, but not what it un-bzip2s or un-lzmas), and each array is then
  read as `.npy` bytes through `parse_npy`.
* Both take a `check` that sees each array's declared `ArrayHeader` (shape and dtype) before
  the array is read, so a caller can refuse shapes over its own limits first.

Every refusal is a `ValueError` that names the file, says what came, and ends with a hint
of what to do; callers pass a `hint` in their own words (e.g. how to save a dataset).

Example:

>>> arrays = read_npz(read_bytes("data.npz", 1 << 20), "data.npz", 1 << 20)  # doctest: +SKIP
>>> sorted(arrays)  # doctest: +SKIP
['X', 'y']
"""

from __future__ import annotations

import io
import lzma
import math
import numbers
import os
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import BinaryIO, NamedTuple

import numpy as np

from limconn.settings import Limits

FileSource = str | os.PathLike | BinaryIO
"""A path, or a binary file object such as an open file or Streamlit's `UploadedFile`."""

NPY_HINT = "Save the array with np.save(path, array, allow_pickle=False)."
NPZ_HINT = "Save the arrays with np.savez(path, name=array, ...)."
REAL_KINDS = "biuf"
"""The dtype kinds `parse_npy` accepts by default: bool, signed and unsigned int, float."""

_KIND_NAMES = {"b": "bool", "i": "int", "u": "int", "f": "float", "U": "text"}
_NPY_SIGNATURE = b"\x93NUMPY"
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_SIGNATURE = b"\x80"
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
# The compression methods of the members np.savez and np.savez_compressed write.
_NPZ_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_OTHER_COMPRESSIONS = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
# The most bytes a `.npy` header can take: signature, version and length fields (12 bytes at
# most), then NumPy's largest header text (10,000 bytes; it refuses longer ones as unsafe).
_NPY_HEADER_MAX_BYTES = 12 + 10_000
# What zipfile and its decompressors raise on a damaged archive; all become one ValueError.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    OSError,
    EOFError,
    ValueError,
)


class ArrayHeader(NamedTuple):
    """What a `.npy` header declares, known before any of the array's data is read.

    Attributes:
        shape: the array's shape.
        dtype: the array's dtype (never an object dtype: those are refused first).
    """

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def num_bytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def source_name(source: FileSource) -> str:
    """The file's base name, for messages and extension checks."""
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(os.fspath(source)) or os.fspath(source)
    name = getattr(source, "name", None)
    return os.path.basename(str(name)) if name else "the uploaded file"


def file_limit(max_bytes: int, limits: Limits | None) -> int:
    """The largest file to read: `max_bytes`, or the operator's upload limit if smaller."""
    return max_bytes if limits is None else min(max_bytes, limits.max_upload_bytes)


def read_bytes(source: FileSource, max_bytes: int) -> bytes:
    """All bytes of a path or a binary file object (read from its start).

    Args:
        source: a path, or a binary file object.
        max_bytes: the largest file accepted; a larger one is refused before it is read
            whenever its size is known in advance, and never read past `max_bytes + 1`.

    Raises:
        ValueError: if the file is too large, cannot be read, or was opened in text mode.
    """
    name = source_name(source)
    _check_limit(max_bytes)
    if isinstance(source, (str, os.PathLike)):
        try:
            _check_size(os.stat(source).st_size, max_bytes, name)
            with open(source, "rb") as stream:
                data = stream.read(max_bytes + 1)
        except OSError as error:
            raise ValueError(
                f"Could not read {os.fspath(source)!r}: {error.strerror or error}. "
                "Check the path."
            ) from error
    elif callable(getattr(source, "read", None)):
        declared = _declared_size(source)
        if declared is not None:
            _check_size(declared, max_bytes, name)
        data = source.read(max_bytes + 1)
        if not isinstance(data, bytes):
            raise ValueError(
                f"{name} was opened in text mode; open it in binary mode ('rb'). "
                f"Received: read() returned {type(data).__name__}."
            )
    else:
        raise ValueError(
            "Expected a file path or a binary file object (raw bytes: wrap them in "
            f"io.BytesIO). Received: {type(source).__name__}."
        )
    _check_size(len(data), max_bytes, name)
    return data


def parse_npy(
    data: bytes,
    what: str,
    *,
    kinds: str = REAL_KINDS,
    hint: str = NPY_HINT,
    check: Callable[[ArrayHeader], None] | None = None,
) -> np.ndarray:
    """One array from `.npy` bytes; the header is checked before anything is loaded.

    Args:
        data: the file's bytes.
        what: how messages name the file (e.g. `"X.npy"`).
        kinds: the dtype kinds accepted, from `"biufU"` (`"U"`: unicode text).
        hint: the last sentence of a message about a file that is not `.npy`: what to do.
        check: called with the declared `ArrayHeader` once the header is known to be sound,
            before the array is loaded; it raises `ValueError` to refuse the array (e.g. a
            shape over the caller's limits).

    Raises:
        ValueError: for bytes that are not `.npy` (empty, pickled, an `.npz`, anything else),
            a damaged header or unsupported format version, an object dtype (which would
            need unpickling), a dtype kind not in `kinds`, a header that declares more or
            less data than follows, or whatever `check` refuses.
    """
    header, data_start = _npy_header(data, what, kinds, hint)
    available = len(data) - data_start
    if header.num_bytes != available:
        raise ValueError(
            f"{what} is truncated or damaged: its header declares shape {header.shape} of "
            f"{header.dtype} ({header.num_bytes:,} bytes) but {available:,} bytes of data "
            "follow. Save it again with np.save."
        )
    if check is not None:
        check(header)
    return np.load(io.BytesIO(data), allow_pickle=False)


def read_npz(
    data: bytes,
    name: str,
    max_bytes: int,
    keys: Sequence[str] | None = None,
    *,
    optional: Sequence[str] = (),
    kinds: str = REAL_KINDS,
    hint: str = NPZ_HINT,
    check: Callable[[Mapping[str, ArrayHeader]], None] | None = None,
) -> dict[str, np.ndarray]:
    """Arrays from `.npz` bytes, their sizes checked before anything is decompressed.

    Args:
        data: the archive's bytes (see `read_bytes`).
        name: how messages name the file (e.g. `"data.npz"`).
        max_bytes: the most bytes the returned arrays may take together, as declared by the
            archive's directory; checked before decompressing, and never read past.
        keys: the arrays to return, matched without regard to case (`"x"` finds `X`), and
            returned under these keys; all of them must be present. `None` returns every
            array in the archive, under its own name.
        optional: more arrays to return, matched and checked as `keys`, when the archive
            holds them (absent ones are left out of the result).
        kinds: the dtype kinds accepted, as in `parse_npy`.
        hint: the last sentence of a message about a wrong file: what the archive should
            hold and how to save it.
        check: called with the declared `ArrayHeader` of every returned array (under the
            same keys) once all of them are known to be sound; only the headers' few bytes
            have been decompressed then. It raises `ValueError` to refuse the archive (e.g.
            a shape over the caller's limits).

    Raises:
        ValueError: for bytes that are not a readable `.npz` archive, a missing or
            ambiguous key, arrays that would expand beyond `max_bytes` or are compressed
            otherwise than `np.savez_compressed` does, any array that `parse_npy` refuses,
            or whatever `check` refuses.
    """
    _check_limit(max_bytes)
    if not data.startswith(_ZIP_SIGNATURES):
        raise ValueError(_not_numpy_message(data, name, ".npz", hint))
    unreadable = f"{name} is not a readable .npz archive. {hint}"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except _ZIP_ERRORS as error:
        raise ValueError(f"{unreadable} ({error})") from error
    if keys is None:
        keys = [_array_name(member) for member in members]
    present = {_array_name(member).lower() for member in members}
    keys = [*keys, *(key for key in optional if key.lower() in present)]
    chosen = {key: _npz_member(members, key, name, hint) for key in keys}
    for member in chosen.values():
        if member.compress_type not in _NPZ_COMPRESSIONS:
            method = _OTHER_COMPRESSIONS.get(member.compress_type, f"method {member.compress_type}")
            raise ValueError(
                f"{_member_what(name, member)} is compressed with {method}; limconn reads "
                "arrays stored or deflated, as np.savez and np.savez_compressed write them. "
                f"{hint}"
            )
    declared = sum(member.file_size for member in chosen.values())
    if declared > max_bytes:
        raise ValueError(
            f"{name} expands to {size_text(declared)} of arrays; the limit is "
            f"{size_text(max_bytes)}. Use smaller arrays: fewer entries, or float32 instead "
            "of float64."
        )
    if check is not None:
        headers = {}
        for key, member in chosen.items():
            start = _read_member(archive, member, _NPY_HEADER_MAX_BYTES, unreadable)
            headers[key] = _npy_header(start, _member_what(name, member), kinds, hint)[0]
        check(headers)
    arrays = {}
    for key, member in chosen.items():
        member_bytes = _read_member(archive, member, member.file_size + 1, unreadable)
        arrays[key] = parse_npy(member_bytes, _member_what(name, member), kinds=kinds, hint=hint)
    return arrays


def pickle_refusal(what: str) -> str:
    """The message for a file holding pickled Python objects, which limconn never loads."""
    return (
        f"{what} holds pickled Python objects; limconn never unpickles files, because "
        "unpickling can run arbitrary code. Save plain numeric arrays with "
        "np.save(path, array.astype(np.float32), allow_pickle=False)."
    )


def size_text(num_bytes: int) -> str:
    """A size for messages: `"1,000 bytes"`, `"50.0 MiB"` from 1 MiB, `"9.3 GiB"` from 1 GiB."""
    if num_bytes >= 1024**3:
        return f"{num_bytes / 1024**3:,.1f} GiB"
    if num_bytes >= 1024**2:
        return f"{num_bytes / 1024**2:.1f} MiB"
    return f"{num_bytes:,} bytes"


def _check_limit(max_bytes: int) -> None:
    if not isinstance(max_bytes, numbers.Integral) or isinstance(max_bytes, bool) or max_bytes < 1:
        raise ValueError(
            f"max_bytes must be a whole number >= 1. Received: max_bytes={max_bytes!r}"
        )


def _declared_size(stream: BinaryIO) -> int | None:
    """The stream's full size, rewinding it to its start; `None` if it cannot tell."""
    if getattr(stream, "seekable", lambda: False)():
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        return size
    size = getattr(stream, "size", None)
    return size if isinstance(size, int) else None


def _check_size(num_bytes: int, max_bytes: int, name: str) -> None:
    if num_bytes > max_bytes:
        raise ValueError(
            f"{name} is larger than the limit of {size_text(max_bytes)}. Received: "
            f"{size_text(num_bytes)}. Use a smaller file: fewer rows, samples or entries, or "
            "float32 instead of float64."
        )


def _npy_header(data: bytes, what: str, kinds: str, hint: str) -> tuple[ArrayHeader, int]:
    """The header at the start of `.npy` bytes and where its data starts; checks the header.

    `data` may stop anywhere after the header: only the header is read.
    """
    if not data.startswith(_NPY_SIGNATURE):
        raise ValueError(_not_numpy_message(data, what, ".npy", hint))
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = _NPY_HEADER_READERS.get(version)
        header = read_header(stream) if read_header else None
    except (ValueError, TypeError, SyntaxError, tokenize.TokenError) as error:
        raise ValueError(
            f"{what} has a damaged .npy header ({error}). Save the array again with np.save."
        ) from error
    if header is None:
        raise ValueError(
            f"{what} uses .npy format version {version[0]}.{version[1]}, which limconn does not "
            "read. Save plain numeric arrays with np.save."
        )
    shape, _, dtype = header
    if dtype.hasobject:
        raise ValueError(pickle_refusal(what))
    if dtype.kind not in kinds:
        raise ValueError(
            f"{what} must hold {_kinds_text(kinds)}. Received: dtype {dtype}. "
            "Convert it, e.g. with array.astype(np.float32)."
        )
    return ArrayHeader(shape, dtype), stream.tell()


def _read_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, max_bytes: int, unreadable: str
) -> bytes:
    """At most `max_bytes` of one member, decompressing no more than that."""
    try:
        with archive.open(member) as stream:
            return stream.read(max_bytes)
    except _ZIP_ERRORS as error:
        raise ValueError(f"{unreadable} ({error})") from error


def _member_what(name: str, member: zipfile.ZipInfo) -> str:
    return f"{name}: array {member.filename!r}"


def _array_name(member: zipfile.ZipInfo) -> str:
    return member.filename.removesuffix(".npy")


def _npz_member(
    members: list[zipfile.ZipInfo], key: str, name: str, hint: str
) -> zipfile.ZipInfo:
    matches = [m for m in members if _array_name(m).lower() == key.lower()]
    if len(matches) == 1:
        return matches[0]
    present = [_array_name(m) for m in members]
    spellings = " or ".join(dict.fromkeys((key.upper(), key)))
    problem = "has no array" if not matches else "has more than one array"
    raise ValueError(
        f"{name} {problem} named {spellings}. {hint} Received arrays: {present or 'none'}."
    )


def _not_numpy_message(data: bytes, what: str, expected: str, hint: str) -> str:
    if not data:
        return f"{what} is empty. Expected a {expected} file. {hint}"
    if data.startswith(_PICKLE_SIGNATURE):
        return pickle_refusal(what)
    if expected == ".npz" and data.startswith(_NPY_SIGNATURE):
        return f"{what} is a single .npy array, not an .npz archive. {hint}"
    if expected == ".npy" and data.startswith(_ZIP_SIGNATURES):
        return f"{what} is an .npz archive, not a .npy array. {hint}"
    return f"{what} is not a NumPy {expected} file (it does not start with its signature). {hint}"


def _kinds_text(kinds: str) -> str:
    """`"biuf"` -> `"real numbers (bool, int or float)"`; a `"U"` adds `" or text"`."""
    real = list(dict.fromkeys(_KIND_NAMES[kind] for kind in kinds if kind in REAL_KINDS))
    parts = [f"real numbers ({_or_list(real)})"] if real else []
    if "U" in kinds:
        parts.append("text")
    return " or ".join(parts)


def _or_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
