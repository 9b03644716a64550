"""A design as a short link: `design_token` packs it into URL-safe text, `design_from_token`
unpacks it, refusing anything malformed or too large before it costs memory.

A token is base64url (no padding) of this binary, format version 1:

* a header, never compressed, so sizes are checked before anything is decompressed:
  the format version (1 byte); a flags byte (bit 0: `input_mask` is per gate, bit 1:
  `recurrent_mask` is per gate, bits 2-3: the layout of `input_sign`, bits 4-5: of
  `recurrent_sign`, each 0 none, 1 per source, 2 per connection, 3 per gate and connection;
  bits 6-7 zero); then `input_dim`, `units` and the name's length in UTF-8 bytes, each an
  unsigned LEB128 varint (7 bits a byte, low bits first);
* the body, zlib-compressed (its checksum catches a mangled link): one row-major bit
  stream packed with `np.packbits` (most significant bit first, the last byte padded with
  zeros) of `input_mask`, `recurrent_mask`, `output_mask`, then each sign array present as
  two bit planes, `sign > 0` then `sign < 0` (2 bits a sign; a sign with both bits set is
  refused), then the name in UTF-8.

Only the name travels of the metadata: a preset's `preset` and `params`, or anything else
in `metadata`, are not in the link. `as_shared(design)` is the design as its link carries
it, and `design_from_token(design_token(design)) == as_shared(design)` always.

Links are bounded by `MAX_TOKEN_CHARS`: Streamlit 1.67's server (uvicorn with h11) refuses
a request whose head passes 16 KiB once it arrives in more than one packet, as it does over
a network, so a token much over 12,000 characters gives a link that does not open (a proxy
in front may allow less: nginx's default is 8 KiB a request line). Structured designs
compress far below it (at 256 x 256 the presets diagonal, block_diagonal and banded give
under 250 characters, small_world about 830, ncp about 10,600); random masks of that size
at density 0.5 carry 16 KiB of information and are refused by `design_token`. The app's
2 x 16 random design gives about 80 characters.

Example:

>>> from limconn import presets
>>> design = presets.random(2, 16, seed=1)
>>> token = design_token(design)
>>> design_from_token(token) == as_shared(design)
True
>>> share_url("https://lab.example/design?theme=dark", token).startswith(
...     "https://lab.example/design?theme=dark&design=")
True
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import math
import re
import zlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from limconn.connectivity import NUM_GATES, Connectivity
from limconn.settings import PAINTER_MAX_SIDE, Limits

__all__ = [
    "FORMAT_VERSION",
    "MAX_NAME_BYTES",
    "MAX_TOKEN_CHARS",
    "PARAM",
    "as_shared",
    "design_from_token",
    "design_token",
    "share_url",
]

PARAM = "design"
"""The query parameter that carries a design's token."""

FORMAT_VERSION = 1
"""The first byte of every token's binary; a token of another version is refused."""

MAX_TOKEN_CHARS = 12_000
"""The longest token made or read (characters); see the module docstring for why."""

MAX_NAME_BYTES = 256
"""The longest name a link carries, in UTF-8 bytes."""

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_NOT_IN_ALPHABET = re.compile(r"[^A-Za-z0-9_-]")
_MAX_VARINT_BYTES = 3  # up to 2,097,151: far over any side or name length allowed
_RESERVED_FLAGS = 0b1100_0000
# Sign layouts as stored in the flags, by the sign array's rank.
_NO_SIGN, _PER_SOURCE, _PER_CONNECTION, _PER_GATE_CONNECTION = range(4)
_LAYOUT_OF_RANK = {1: _PER_SOURCE, 2: _PER_CONNECTION, 3: _PER_GATE_CONNECTION}
_DEFAULT_LIMITS = Limits(max_units=PAINTER_MAX_SIDE, max_inputs=PAINTER_MAX_SIDE)


def as_shared(design: Connectivity) -> Connectivity:
    """The design as its link carries it: the same masks and signs, metadata only the name.

    The metadata becomes `{"name": design.name}` (the name as text), or `{}` when the name
    is empty, so a preset's parameters and any other metadata are left out.

    Args:
        design: a `Connectivity`.

    Returns:
        A `Connectivity` equal to what `design_from_token(design_token(design))` gives.

    Raises:
        ValueError: if `design` is not a `Connectivity`; the message names its type.
    """
    _check_design(design)
    return design.replace(metadata={"name": design.name} if design.name else {})


def design_token(design: Connectivity) -> str:
    """Packs a design into a compact, URL-safe token (see the module docstring for the format).

    The token carries the masks and signs exactly, and the name; `design_from_token`
    turns it back into `as_shared(design)`. A 2 x 16 random design gives about 80
    characters; structured designs compress well even at 256 x 256.

    Args:
        design: the `Connectivity` to share.

    Returns:
        base64url text without padding, at most `MAX_TOKEN_CHARS` characters.

    Raises:
        ValueError: if `design` is not a `Connectivity`, its name is longer than
            `MAX_NAME_BYTES` in UTF-8 or not valid Unicode, or its token would be longer than
            `MAX_TOKEN_CHARS` (a large design with little structure); the message says how
            long it came out.

    Example:

    >>> import numpy as np
    >>> token = design_token(Connectivity(np.eye(2, 3), metadata={"name": "eye"}))
    >>> design_from_token(token).name
    'eye'
    """
    _check_design(design)
    try:
        name = design.name.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"A design's name must be valid Unicode text to share. Received: {design.name!r}"
        ) from error
    if len(name) > MAX_NAME_BYTES:
        raise ValueError(
            f"A shared design's name can be at most {MAX_NAME_BYTES} bytes in UTF-8. "
            f"Received: {len(name)} bytes ({_short(design.name)})."
        )
    input_layout = _sign_layout(design.input_sign)
    recurrent_layout = _sign_layout(design.recurrent_sign)
    flags = (
        int(design.input_mask.ndim == 3)
        | int(design.recurrent_mask.ndim == 3) << 1
        | input_layout << 2
        | recurrent_layout << 4
    )
    header = bytes([FORMAT_VERSION, flags]) + b"".join(
        _varint(value) for value in (design.input_dim, design.units, len(name))
    )
    planes = [design.input_mask, design.recurrent_mask, design.output_mask]
    for sign in (design.input_sign, design.recurrent_sign):
        if sign is not None:
            planes += [sign > 0, sign < 0]
    bits = np.packbits(np.concatenate([plane.ravel() for plane in planes]))
    body = zlib.compress(bits.tobytes() + name, level=9)
    token = base64.urlsafe_b64encode(header + body).rstrip(b"=").decode("ascii")
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError(
            f"This design is too large to share as a link: its token would be {len(token):,} "
            f"characters, at most {MAX_TOKEN_CHARS:,} fit in a link. Download it as .npz "
            f"instead. Received: a {design.input_dim} x {design.units} design."
        )
    return token


def design_from_token(token: str, *, limits: Limits | None = None) -> Connectivity:
    """Unpacks a token made by `design_token`, refusing anything malformed or too large.

    Every check costs at most the token's own size until the header's sizes have passed
    `limits`: the length is checked before decoding, the declared input count and units
    before decompressing, and the body is decompressed to at most the exact size the header
    implies (a small token cannot expand into a large allocation).

    Args:
        token: base64url text (no padding), as `design_token` makes and `share_url` puts
            in a link.
        limits: the server's `Limits`; their `max_inputs` and `max_units` bound the
            design. When `None`, both sides are bounded by the painter's 256.

    Returns:
        The `Connectivity`, metadata `{"name": ...}` when the link carries a name, else `{}`.

    Raises:
        ValueError: if the token is not text, is empty or longer than `MAX_TOKEN_CHARS`, has
            a character outside base64url, is truncated or has data to spare, has another
            format version or unknown flags, declares more inputs or units than `limits`
            allow, does not decompress (a mangled link), holds a sign that is neither -1, 0
            nor +1, or a name that is not UTF-8. The message says which, and what came.

    Example:

    >>> design_from_token("not a token!")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: This design link is not valid: character ' ' at position 3 is not base64url...
    """
    binary = _token_bytes(token)
    received = _received(token)
    header = _read_header(binary, received, limits or _DEFAULT_LIMITS)
    shapes, sign_shapes = header.mask_shapes, header.sign_shapes
    sizes = [math.prod(shape) for shape in shapes]
    sizes += [2 * math.prod(shape) for shape in sign_shapes if shape is not None]
    bit_count = sum(sizes)
    bit_bytes = (bit_count + 7) // 8
    body = _inflate(binary[header.length :], bit_bytes + header.name_bytes, received)

    bits = np.unpackbits(np.frombuffer(body[:bit_bytes], dtype=np.uint8))
    if bits[bit_count:].any():
        raise ValueError(
            f"This design link is not valid: the padding bits after the masks are not zero. "
            f"{received}"
        )
    offsets = itertools.accumulate(sizes, initial=0)
    pieces = iter([bits[start:stop].astype(bool) for start, stop in itertools.pairwise(offsets)])
    masks = [next(pieces).reshape(shape) for shape in shapes]
    signs = [
        None if shape is None else _sign(next(pieces), shape, label, received)
        for label, shape in zip(("input_sign", "recurrent_sign"), sign_shapes, strict=True)
    ]
    try:
        name = body[bit_bytes:].decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"This design link is not valid: its name is not UTF-8 text. {received}"
        ) from None
    return Connectivity(
        masks[0],
        masks[1],
        masks[2],
        metadata={"name": name} if name else {},
        input_sign=signs[0],
        recurrent_sign=signs[1],
    )


def share_url(base_url: str, token: str, param: str = PARAM) -> str:
    """The link that opens `base_url` with `token` in its `param` query parameter.

    Other query parameters of `base_url` (and its fragment) are kept; a previous `param`
    is replaced, so sharing from a page opened by a link gives a link to the new design.

    Args:
        base_url: the page's address, e.g. `"https://lab.example/design?theme=dark"`.
        token: a token from `design_token`.
        param: the query parameter's name; `PARAM` by default.

    Returns:
        The URL, e.g. `"https://lab.example/design?theme=dark&design=eJx..."`.

    Raises:
        ValueError: if `base_url` or `param` is not non-empty text, or `token` is not
            base64url text; the message names what came.

    Example:

    >>> share_url("http://localhost:8501/design?design=old&x=1", "abc")
    'http://localhost:8501/design?x=1&design=abc'
    """
    for label, value in (("base_url", base_url), ("param", param)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{label} must be non-empty text. Received: {label}={value!r}")
    if not isinstance(token, str) or not token or not _ALPHABET.fullmatch(token):
        raise ValueError(
            f"token must be base64url text, as design_token makes. Received: {_short(token)}"
        )
    parts = urlsplit(base_url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if key != param]
    return urlunsplit(parts._replace(query=urlencode([*query, (param, token)])))


@dataclasses.dataclass(frozen=True)
class _Header:
    """What a token's uncompressed header declares; `length` is its size in bytes."""

    flags: int
    input_dim: int
    units: int
    name_bytes: int
    length: int

    @property
    def mask_shapes(self) -> list[tuple[int, ...]]:
        """The shapes of input_mask, recurrent_mask and output_mask."""
        input_dim, units = self.input_dim, self.units
        return [
            (NUM_GATES, input_dim, units) if self.flags & 1 else (input_dim, units),
            (NUM_GATES, units, units) if self.flags & 2 else (units, units),
            (units,),
        ]

    @property
    def sign_shapes(self) -> list[tuple[int, ...] | None]:
        """The shapes of input_sign and recurrent_sign, `None` for one that is absent."""
        return [
            (None, (rows,), (rows, self.units), (NUM_GATES, rows, self.units))[layout]
            for layout, rows in ((self.flags >> 2 & 3, self.input_dim),
                                 (self.flags >> 4 & 3, self.units))
        ]


def _check_design(design) -> None:
    if not isinstance(design, Connectivity):
        raise ValueError(
            f"design must be a limconn.Connectivity. Received: {type(design).__name__}"
        )


def _short(value, limit: int = 60) -> str:
    """`repr(value)`, cut to `limit` characters so a long token stays readable in a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _received(token: str) -> str:
    """The end of every message about a token: its start and its length."""
    return f"Received: {_short(token)} ({len(token)} characters)."


def _sign_layout(sign: np.ndarray | None) -> int:
    return _NO_SIGN if sign is None else _LAYOUT_OF_RANK[sign.ndim]


def _varint(value: int) -> bytes:
    """Unsigned LEB128: 7 bits a byte, low bits first, the high bit set on all but the last."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _token_bytes(token) -> bytes:
    """The token's binary, after its type, length and alphabet are checked."""
    if not isinstance(token, str):
        raise ValueError(
            f"A design token must be text. Received: {type(token).__name__} {_short(token)}"
        )
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError(
            f"This design link is too long: a token has at most {MAX_TOKEN_CHARS:,} characters. "
            f"Received: {len(token):,} characters."
        )
    received = _received(token)
    if not token:
        raise ValueError(f"This design link is empty: it has no token. {received}")
    bad = _NOT_IN_ALPHABET.search(token)
    if bad:
        raise ValueError(
            f"This design link is not valid: character {bad.group()!r} at position "
            f"{bad.start()} is not base64url (A-Z, a-z, 0-9, - and _). {received}"
        )
    if len(token) % 4 == 1:
        raise ValueError(
            f"This design link is not valid: it looks truncated ({len(token)} characters "
            f"cannot be base64url). {received}"
        )
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _read_header(binary: bytes, received: str, limits: Limits) -> _Header:
    """Reads and checks the header: version, flags, sizes within `limits`, name length."""
    if len(binary) < 2:
        raise ValueError(f"This design link is not valid: it is truncated. {received}")
    version, flags = binary[0], binary[1]
    if version != FORMAT_VERSION:
        raise ValueError(
            f"This design link has format version {version}; this limconn reads version "
            f"{FORMAT_VERSION}. {received}"
        )
    if flags & _RESERVED_FLAGS:
        raise ValueError(
            f"This design link is not valid: unknown flags {flags:#010b} in its header. "
            f"{received}"
        )
    position, values = 2, []
    for field in ("input count", "unit count", "name length"):
        value, position = _read_varint(binary, position, field, received)
        values.append(value)
    input_dim, units, name_bytes = values
    for field, value in (("inputs", input_dim), ("units", units)):
        if value < 1:
            raise ValueError(
                f"This design link is not valid: it declares {value} {field}. {received}"
            )
    try:
        limits.check_design(input_dim=input_dim, units=units)
    except ValueError as error:
        raise ValueError(f"This design link is too large to open. {error}") from None
    if name_bytes > MAX_NAME_BYTES:
        raise ValueError(
            f"This design link is not valid: it declares a name of {name_bytes} bytes, at "
            f"most {MAX_NAME_BYTES} are allowed. {received}"
        )
    return _Header(flags, input_dim, units, name_bytes, position)


def _read_varint(binary: bytes, position: int, field: str, received: str) -> tuple[int, int]:
    """One LEB128 value at `position` and the position after it; at most 3 bytes."""
    value = 0
    for index in range(_MAX_VARINT_BYTES):
        if position + index >= len(binary):
            raise ValueError(
                f"This design link is not valid: it is truncated in its header's {field}. "
                f"{received}"
            )
        byte = binary[position + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, position + index + 1
    raise ValueError(
        f"This design link is not valid: its header's {field} runs over "
        f"{_MAX_VARINT_BYTES} bytes (over 2 million). {received}"
    )


def _inflate(compressed: bytes, expected: int, received: str) -> bytes:
    """Decompresses exactly `expected` bytes, refusing a short, long or damaged stream.

    The output is capped at `expected` bytes, so a decompression bomb stops there; one
    more byte is then asked for to tell "exactly right" from "more than declared".
    """
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(compressed, expected)
        extra = inflater.decompress(inflater.unconsumed_tail, 1)
    except zlib.error:
        raise ValueError(
            f"This design link is damaged: its data does not decompress (a character was "
            f"changed or lost when it was copied?). {received}"
        ) from None
    if extra or inflater.unconsumed_tail:
        raise ValueError(
            f"This design link is not valid: it holds more data than its header declares "
            f"({expected} bytes). {received}"
        )
    if not inflater.eof:
        raise ValueError(
            f"This design link is truncated: its data ends early. {received}"
        )
    if len(body) != expected:
        raise ValueError(
            f"This design link is not valid: it holds {len(body)} bytes of masks and name "
            f"where its header declares {expected}. {received}"
        )
    if inflater.unused_data:
        raise ValueError(
            f"This design link is not valid: {len(inflater.unused_data)} bytes follow its "
            f"data. {received}"
        )
    return body


def _sign(bits: np.ndarray, shape: tuple[int, ...], label: str, received: str) -> np.ndarray:
    """Signs from their two bit planes (positive, negative), refusing a sign with both set."""
    positive, negative = bits.reshape(2, *shape)
    both = positive & negative
    if both.any():
        raise ValueError(
            f"This design link is not valid: {label} holds {int(both.sum())} sign code(s) "
            f"that are neither -1, 0 nor +1 (first at index "
            f"{tuple(int(i) for i in np.argwhere(both)[0])}). {received}"
        )
    return positive.astype(np.int8) - negative.astype(np.int8)
