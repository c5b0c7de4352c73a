"""Tests for building a whole masked frame in one buffer, in C and in Python."""

from __future__ import annotations

import importlib
import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wskit.core.frames import FrameParser, Opcode, serialize_frame
from wskit.core.masking import (
    IMPLEMENTATION,
    apply_mask_python,
    mask_frame,
    mask_frame_python,
)

__all__: list[str] = []

FrameFunction = Callable[[int, bytes | bytearray | memoryview | str, bytes], bytes]

try:
    _c_mask_frame: FrameFunction | None = importlib.import_module(
        "wskit.core._speedups"
    ).mask_frame
except ImportError:
    _c_mask_frame = None

both = pytest.mark.parametrize(
    "build",
    [
        pytest.param(
            _c_mask_frame,
            id="c",
            marks=pytest.mark.skipif(
                _c_mask_frame is None, reason="the C extension is not built"
            ),
        ),
        pytest.param(mask_frame_python, id="python"),
    ],
)

KEY = bytes.fromhex("37fa213d")


def expected(head: int, data: bytes, key: bytes) -> bytes:
    """RFC 6455 section 5.2, spelled out: header, key, then the masked payload."""
    n = len(data)
    if n < 126:
        header = struct.pack("!BB", head, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", head, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", head, 0x80 | 127, n)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(data))


@both
@pytest.mark.parametrize("n", [0, 1, 4, 125, 126, 127, 65535, 65536, 70001])
def test_lengths_and_headers(build: FrameFunction, n: int) -> None:
    data = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
    assert build(0x82, data, KEY) == expected(0x82, data, KEY)


@both
def test_head_byte_is_copied_as_given(build: FrameFunction) -> None:
    for head in (0x00, 0x01, 0x81, 0xC1, 0x89, 0xFF):
        assert build(head, b"ab", KEY)[0] == head


@both
def test_bytes_like_inputs(build: FrameFunction) -> None:
    data = bytes(range(200))
    want = expected(0x82, data, KEY)
    assert build(0x82, bytearray(data), KEY) == want
    assert build(0x82, memoryview(data), bytes(KEY)) == want


@both
@pytest.mark.parametrize("head", [-1, 256])
def test_head_out_of_range(build: FrameFunction, head: int) -> None:
    with pytest.raises(ValueError, match="first byte"):
        build(head, b"", KEY)


@both
def test_bad_mask_length(build: FrameFunction) -> None:
    with pytest.raises(ValueError, match="exactly 4 bytes"):
        build(0x82, b"data", b"abc")


@given(st.binary(max_size=2000), st.binary(min_size=4, max_size=4))
def test_c_equals_python(data: bytes, key: bytes) -> None:
    if _c_mask_frame is not None:
        assert _c_mask_frame(0x81, data, key) == mask_frame_python(0x81, data, key)


def test_active_implementation() -> None:
    if IMPLEMENTATION == "c":
        assert mask_frame is _c_mask_frame
    else:
        assert mask_frame is mask_frame_python


@pytest.mark.parametrize("n", [10, 300, 70000])
def test_serialized_frame_parses_back(n: int) -> None:
    """A masked frame unmasks to the payload with the key it carries."""
    data = bytes(range(256)) * (n // 256 + 1)
    data = data[:n]
    (wire,) = serialize_frame(Opcode.BINARY, data)
    offset = {10: 2, 300: 4, 70000: 10}[n]
    key = wire[offset : offset + 4]
    assert wire[1] & 0x80
    assert apply_mask_python(wire[offset + 4 :], key) == data
    # The parser refuses masked frames (a server never masks): proof that the
    # mask bit is where RFC 6455 puts it.
    parser = FrameParser()
    parser.feed(wire)
    with pytest.raises(Exception, match="masking"):
        parser.parse(None, None)


@both
@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 200000])
def test_ascii_str_is_masked_as_its_utf8(build: FrameFunction, size: int) -> None:
    text = ("wskit " * (size // 6 + 1))[:size]
    assert build(0x81, text, KEY) == expected(0x81, text.encode(), KEY)


@both
@pytest.mark.parametrize("text", ["é", "ascii then ü", "\U0001f600"])
def test_non_ascii_str_is_refused(build: FrameFunction, text: str) -> None:
    with pytest.raises(TypeError, match="only when it is ASCII"):
        build(0x81, text, KEY)


@pytest.mark.property
@given(text=st.text(max_size=300))
def test_send_text_frames_any_str_like_its_utf8(text: str) -> None:
    """The core sends ASCII str without encoding and other str encoded: the
    frames carry the same payload either way."""
    from wskit.core.protocol import ClientProtocol, State

    protocol = ClientProtocol("ws://example.com/", state=State.OPEN)
    protocol.send_text(text)
    protocol.send_text(text.encode())
    payloads = []
    for frame in protocol.data_to_send():
        assert frame[0] == 0x81
        length, start = frame[1] & 0x7F, 2
        if length == 126:
            (length,), start = struct.unpack_from("!H", frame, 2), 4
        key = frame[start : start + 4]
        payloads.append(apply_mask_python(frame[start + 4 :], key))
        assert len(payloads[-1]) == length
    assert payloads == [text.encode(), text.encode()]
