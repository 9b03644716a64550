"""Sharing a design by link: exact round trips, small tokens, and refusals that say what is
wrong before a hostile token costs memory."""

import base64
import re
import time
import tracemalloc
import zlib
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from limconn import presets
from limconn.connectivity import NUM_GATES, Connectivity
from limconn.settings import PAINTER_MAX_SIDE, Limits
from limconn.share import (
    FORMAT_VERSION,
    MAX_NAME_BYTES,
    MAX_TOKEN_CHARS,
    PARAM,
    as_shared,
    design_from_token,
    design_token,
    share_url,
)

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Sign layouts by the flags' 2-bit code (the module docstring's table).
NO_SIGN, PER_SOURCE, PER_CONNECTION, PER_GATE_CONNECTION = range(4)


# --------------------------------------------------------------------------------------
# The format, written out independently from the module docstring, to craft tokens.
# --------------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def b64url(binary: bytes) -> str:
    return base64.urlsafe_b64encode(binary).decode("ascii").rstrip("=")


def header(input_dim, units, name_bytes=0, flags=0, version=FORMAT_VERSION) -> bytes:
    return bytes([version, flags]) + varint(input_dim) + varint(units) + varint(name_bytes)


def craft(body: bytes, input_dim=2, units=3, name_bytes=0, flags=0, version=FORMAT_VERSION):
    """A token whose header declares what the arguments say, with `body` compressed after."""
    return b64url(header(input_dim, units, name_bytes, flags, version) + zlib.compress(body))


def bits(*planes) -> bytes:
    return np.packbits(np.concatenate([np.ravel(p).astype(bool) for p in planes])).tobytes()


def decode_or_refuse(token):
    """What a hostile or mangled link may do: refuse with a plain ValueError, or decode."""
    try:
        design = design_from_token(token)
    except ValueError as error:
        # Exactly ValueError: binascii.Error and UnicodeDecodeError subclass it and must
        # not leak either.
        assert type(error) is ValueError, repr(error)
        assert "Received" in str(error)
        return None
    assert isinstance(design, Connectivity)
    assert design.input_dim <= PAINTER_MAX_SIDE and design.units <= PAINTER_MAX_SIDE
    return design


# --------------------------------------------------------------------------------------
# Round trips.
# --------------------------------------------------------------------------------------


def random_signs(rng, layout, rows, units):
    shape = (None, (rows,), (rows, units), (NUM_GATES, rows, units))[layout]
    return None if shape is None else rng.integers(-1, 2, size=shape)


@st.composite
def designs(draw):
    input_dim, units = draw(st.integers(1, 32)), draw(st.integers(1, 32))
    density = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    gates = [(NUM_GATES,) if draw(st.booleans()) else () for _ in range(2)]
    name = draw(st.text(max_size=30))
    return Connectivity(
        rng.random((*gates[0], input_dim, units)) < density,
        rng.random((*gates[1], units, units)) < density,
        rng.random(units) < density,
        metadata={"name": name, "preset": "painted", "params": {"seed": 1}},
        input_sign=random_signs(rng, draw(st.integers(0, 3)), input_dim, units),
        recurrent_sign=random_signs(rng, draw(st.integers(0, 3)), units, units),
    )


@settings(max_examples=150, deadline=None)
@given(designs())
def test_every_design_round_trips_exactly_with_its_name(design):
    token = design_token(design)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    back = design_from_token(token)
    assert back == as_shared(design)
    # Masks and signs exactly, shapes and layouts included; of the metadata, the name only.
    assert back.input_mask.shape == design.input_mask.shape
    assert back.recurrent_mask.shape == design.recurrent_mask.shape
    for field in ("input_sign", "recurrent_sign"):
        original, decoded = getattr(design, field), getattr(back, field)
        assert (original is None) == (decoded is None)
        if original is not None:
            assert decoded.shape == original.shape and (decoded == original).all()
    assert back.metadata == ({"name": design.name} if design.name else {})


def test_as_shared_keeps_the_name_only_and_the_link_says_the_same():
    design = presets.banded(3, 8)
    assert design.metadata["params"] == {"width": 2}
    assert as_shared(design).metadata == {"name": "banded"}
    assert design_from_token(design_token(design)).metadata == {"name": "banded"}
    unnamed = Connectivity(np.eye(2, 3), metadata={"name": "", "note": "x"})
    assert design_from_token(design_token(unnamed)).metadata == {}


def test_the_token_is_the_documented_format():
    design = Connectivity(np.eye(2, 3), np.eye(3), input_sign=[1, -1], metadata={"name": "é"})
    body = bits(design.input_mask, design.recurrent_mask, design.output_mask,
                design.input_sign > 0, design.input_sign < 0) + "é".encode()
    expected = b64url(header(2, 3, name_bytes=2, flags=PER_SOURCE << 2)
                      + zlib.compress(body, level=9))
    assert design_token(design) == expected


def test_the_apps_default_design_gives_a_short_token():
    design = presets.random(2, 16, density=0.5, seed=0)
    token = design_token(design)
    print(f"2 x 16 random design: {len(token)} characters")
    # 38 bytes of incompressible bits, the name and ~20 bytes of header and zlib framing.
    assert len(token) <= 100


def test_a_large_per_gate_signed_design_round_trips_in_a_short_token():
    band = presets.banded(PAINTER_MAX_SIDE, PAINTER_MAX_SIDE, width=3)
    dale = np.where(np.arange(PAINTER_MAX_SIDE) % 5 == 0, -1, 1)
    design = Connectivity(
        np.stack([band.input_mask, ~band.input_mask, band.input_mask, band.input_mask]),
        np.stack([band.recurrent_mask] * NUM_GATES),
        np.arange(PAINTER_MAX_SIDE) % 2 == 0,
        metadata={"name": "256 banded"},
        input_sign=dale,
        recurrent_sign=np.broadcast_to(dale[None, :, None], (NUM_GATES, *dale.shape, dale.size)),
    )
    token = design_token(design)
    print(f"256 x 256 per-gate signed banded design: {len(token)} characters")
    assert design_from_token(token) == design
    # Its raw bits are 2 x 256 KiB bits; structure compresses them a hundredfold.
    assert len(token) < 2_000


def test_a_design_too_random_for_a_link_is_refused_with_the_length():
    design = presets.random(PAINTER_MAX_SIDE, PAINTER_MAX_SIDE, density=0.5)
    message = r"too large to share as a link: its token would be [\d,]+ .*at most 12,000.*256 x 256"
    with pytest.raises(ValueError, match=message):
        design_token(design)


@pytest.mark.parametrize(
    "design, message",
    [
        (np.eye(3), r"must be a limconn.Connectivity. Received: ndarray"),
        (Connectivity(np.eye(2), metadata={"name": "é" * 129}), r"at most 256 bytes.*258 bytes"),
        (Connectivity(np.eye(2), metadata={"name": "a\ud800"}), r"valid Unicode.*'a\\ud800'"),
    ],
)
def test_design_token_refuses_what_it_cannot_share(design, message):
    with pytest.raises(ValueError, match=message):
        design_token(design)


# --------------------------------------------------------------------------------------
# Links.
# --------------------------------------------------------------------------------------


def test_share_url_keeps_other_parameters_and_replaces_an_old_design():
    token = design_token(presets.diagonal(2, 4))
    url = share_url("https://lab.example/design?theme=dark&design=OLD&x=a%20b#top", token)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https", "lab.example", "/design", "top"
    )
    query = parse_qs(parts.query)
    assert query == {"theme": ["dark"], "x": ["a b"], PARAM: [token]}
    assert design_from_token(query[PARAM][0]) == as_shared(presets.diagonal(2, 4))
    assert parse_qs(urlsplit(share_url("http://h/", "abc", param="d")).query) == {"d": ["abc"]}


@pytest.mark.parametrize(
    "args, message",
    [
        (("", "abc"), r"base_url must be non-empty text. Received: base_url=''"),
        (("http://h/", "ab&c"), r"token must be base64url.*'ab&c'"),
        (("http://h/", "abc", ""), r"param must be non-empty text"),
    ],
)
def test_share_url_refuses_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        share_url(*args)


# --------------------------------------------------------------------------------------
# Refusals, each with its message.
# --------------------------------------------------------------------------------------

VALID = design_token(presets.random(2, 16, seed=3))
VALID_BODY = bits(np.eye(2, 3), np.eye(3), np.ones(3))  # 18 bits: 3 bytes


@pytest.mark.parametrize(
    "token, message",
    [
        (b"AQAC", r"must be text. Received: bytes b'AQAC'"),
        ("", r"empty"),
        (VALID[:20] + "+" + VALID[21:], r"character '\+' at position 20 is not base64url"),
        (VALID + "==", r"character '=' at position \d+ is not base64url"),
        ("AQ AC", r"character ' ' at position 2"),
        ("AQé", r"character 'é' at position 2"),
        ("AQACE", r"looks truncated \(5 characters"),
        ("AQ", r"truncated"),
        (b64url(bytes([1, 0, 0x80, 0x80])), r"truncated in its header's input count"),
        (craft(VALID_BODY, version=2), r"format version 2; this limconn reads version 1"),
        (craft(VALID_BODY, version=0), r"format version 0"),
        (craft(VALID_BODY, flags=0b0100_0000), r"unknown flags 0b01000000"),
        (craft(VALID_BODY, input_dim=0), r"declares 0 inputs"),
        (craft(VALID_BODY, units=0), r"declares 0 units"),
        (craft(VALID_BODY, units=257), r"at most 256 units. Received: 257 units"),
        (craft(VALID_BODY, input_dim=300), r"at most 256 inputs. Received: 300 inputs"),
        (b64url(bytes([1, 0, 0x82, 0x80, 0x80, 0x01])), r"input count runs over 3 bytes"),
        (craft(VALID_BODY, name_bytes=MAX_NAME_BYTES + 1), r"name of 257 bytes, at most 256"),
        (b64url(header(2, 3) + b"not zlib data"), r"damaged: its data does not decompress"),
        (b64url(header(2, 3) + zlib.compress(VALID_BODY)[:-3]), r"truncated: its data ends early"),
        (craft(VALID_BODY[:-1]), r"holds 2 bytes of masks and name where its header declares 3"),
        (craft(VALID_BODY + b"\0"), r"more data than its header declares \(3 bytes\)"),
        (craft(VALID_BODY, name_bytes=1), r"holds 3 bytes .* declares 4"),
        (b64url(header(2, 3) + zlib.compress(VALID_BODY) + b"xy"), r"2 bytes follow its data"),
        (craft(bits(np.eye(2, 3), np.eye(3), np.ones(3), [1])), r"padding bits .* not zero"),
        (craft(bits(np.eye(2, 3), np.eye(3), np.ones(3), [1, 0], [1, 0]), flags=PER_SOURCE << 2),
         r"input_sign holds 1 sign code\(s\) that are neither -1, 0 nor \+1 \(first at index "
         r"\(0,\)\)"),
        (craft(bits(np.eye(2, 3), np.eye(3), np.ones(3), np.eye(3), np.eye(3)),
               flags=PER_CONNECTION << 4), r"recurrent_sign holds 3 sign code\(s\)"),
        (craft(VALID_BODY + b"\xff", name_bytes=1), r"name is not UTF-8"),
    ],
)
def test_malformed_tokens_are_refused_saying_what_is_wrong(token, message):
    with pytest.raises(ValueError, match=message) as caught:
        design_from_token(token)
    assert type(caught.value) is ValueError
    assert caught.value.__cause__ is None or type(caught.value.__cause__) is ValueError


def test_the_crafted_body_decodes_when_nothing_is_wrong():
    """The refusals above differ from this valid token in one thing each."""
    assert design_from_token(craft(VALID_BODY)) == Connectivity(np.eye(2, 3), np.eye(3))


def test_limits_bound_the_design():
    token = design_token(presets.random(2, 16))
    assert design_from_token(token, limits=Limits(max_units=16, max_inputs=2)).units == 16
    with pytest.raises(ValueError, match=r"too large to open.*at most 8 units. Received: 16"):
        design_from_token(token, limits=Limits(max_units=8))
    with pytest.raises(ValueError, match=r"at most 1 inputs. Received: 2 inputs"):
        design_from_token(token, limits=Limits(max_inputs=1))


def test_a_token_over_the_maximum_length_is_refused_before_decoding():
    with pytest.raises(ValueError, match=r"too long.*at most 12,000 characters. Received: 12,001"):
        design_from_token("A" * (MAX_TOKEN_CHARS + 1))
    # Not even its alphabet is read.
    with pytest.raises(ValueError, match=r"too long"):
        design_from_token("!" * (MAX_TOKEN_CHARS + 1))


def refused_within(token, message, max_bytes, max_seconds=0.5):
    """Asserts `token` is refused with `message`, fast and within `max_bytes` of allocation."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=message):
            design_from_token(token)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < max_seconds
    assert peak < max_bytes, f"peak allocation {peak} bytes"


def test_a_huge_declared_size_is_refused_from_the_header_before_decompressing():
    # A body that is not zlib at all: had it been decompressed, the message would say
    # "damaged"; 100000 x 100000 per-gate masks would be 5 GB.
    token = b64url(header(100_000, 100_000, flags=0b11) + b"\x00garbage" * 100)
    refused_within(token, r"too large to open.*at most 256 inputs. Received: 100,000 inputs",
                   max_bytes=64 * 1024)
    token = b64url(header(2, 100_000) + b"\x00garbage")
    refused_within(token, r"at most 256 units. Received: 100,000 units", max_bytes=64 * 1024)


def test_a_decompression_bomb_stops_at_the_declared_size():
    bomb = zlib.compress(b"\0" * 8_000_000, level=9)  # 8 MB from ~8 KB
    token = b64url(header(2, 3) + bomb)
    assert len(token) <= MAX_TOKEN_CHARS
    refused_within(token, r"more data than its header declares \(3 bytes\)", max_bytes=256 * 1024)


# --------------------------------------------------------------------------------------
# Fuzz: nothing but a plain ValueError, or a valid design.
# --------------------------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.text(), st.text(alphabet=BASE64URL, max_size=200)))
def test_random_text_is_refused_or_decoded(text):
    decode_or_refuse(text)


@st.composite
def mutated_tokens(draw):
    token = design_token(draw(designs()))
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(token)))
        kind = draw(st.sampled_from(["replace", "delete", "insert", "cut"]))
        char = draw(st.sampled_from(BASE64URL))
        if kind == "replace":
            token = token[:index] + char + token[index + 1 :]
        elif kind == "delete":
            token = token[:index] + token[index + 1 :]
        elif kind == "insert":
            token = token[:index] + char + token[index:]
        else:
            token = token[:index]
    return token


@FUZZ
@given(mutated_tokens())
def test_mangled_links_are_refused_or_decoded(token):
    decode_or_refuse(token)


@st.composite
def mutated_payloads(draw):
    """Valid tokens with their header or decompressed body changed and compressed again,
    so the mutation gets past zlib's checksum to the parsing behind it."""
    design = draw(designs())
    binary = base64.urlsafe_b64decode(design_token(design) + "==")
    length = 2 + sum(len(varint(n)) for n in (design.input_dim, design.units,
                                               len(design.name.encode())))
    head = bytearray(binary[:length])
    body = bytearray(zlib.decompress(binary[length:]))
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from([head, body]))
        index = draw(st.integers(0, max(len(target) - 1, 0)))
        kind = draw(st.sampled_from(["replace", "delete", "insert"]))
        byte = draw(st.integers(0, 255))
        if kind == "replace" and target:
            target[index] = byte
        elif kind == "delete" and target:
            del target[index]
        else:
            target.insert(index, byte)
    return b64url(bytes(head) + zlib.compress(bytes(body)))


@FUZZ
@given(mutated_payloads())
def test_mutated_payloads_are_refused_or_decoded(token):
    decode_or_refuse(token)
