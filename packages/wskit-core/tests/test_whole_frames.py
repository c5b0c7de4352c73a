"""Tests for wskit.core.whole_frames: the C fast path and its pure-Python twin.

Both implementations run every test, so they cannot drift apart; the C one is
skipped only when the extension was not built (CI requires it).
"""

from __future__ import annotations

import importlib
import os
import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wskit.core import whole_frames
from wskit.core.whole_frames import take_messages_python

__all__: list[str] = []

TakeFunction = Callable[
    [bytes | bytearray | memoryview, int], tuple[list[str | bytes], int]
]

try:
    _c_take: TakeFunction | None = importlib.import_module(
        "wskit.core._speedups"
    ).take_messages
except ImportError:
    _c_take = None

IMPLEMENTATIONS = [
    pytest.param(take_messages_python, id="python"),
    pytest.param(
        _c_take,
        id="c",
        marks=pytest.mark.skipif(_c_take is None, reason="C extension not built"),
    ),
]


def frame(head: int, payload: bytes, *, length_bytes: int | None = None) -> bytes:
    """A server frame; ``length_bytes`` forces a (possibly non-minimal) encoding,
    where the length fits in it."""
    size = len(payload)
    if length_bytes is None or (length_bytes == 2 and size >= 65536):
        length_bytes = 0 if size < 126 else 2 if size < 65536 else 8
    if length_bytes == 0:
        return bytes([head, size]) + payload
    if length_bytes == 2:
        return bytes([head, 126]) + struct.pack("!H", size) + payload
    return bytes([head, 127]) + struct.pack("!Q", size) + payload


@pytest.mark.parametrize("take", IMPLEMENTATIONS)
def test_whole_messages_in_order(take: TakeFunction) -> None:
    data = frame(0x81, b"one") + frame(0x82, b"\x00\xff") + frame(0x81, "é€".encode())
    assert take(data, 2**20) == (["one", b"\x00\xff", "é€"], len(data))


@pytest.mark.parametrize("take", IMPLEMENTATIONS)
@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300000])
def test_every_length_encoding(take: TakeFunction, size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    data = frame(0x82, payload)
    assert take(data, 2**20) == ([payload], len(data))
    # One byte short: the frame is incomplete and nothing is taken.
    assert take(data[:-1] if size else data[:1], 2**20) == ([], 0)


@pytest.mark.parametrize("take", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(frame(0x89, b"ping"), id="control"),
        pytest.param(frame(0x01, b"frag"), id="fragment"),
        pytest.param(frame(0x80, b"cont"), id="continuation"),
        pytest.param(frame(0xC1, b"rsv1"), id="rsv1"),
        pytest.param(frame(0x92, b"rsv3"), id="rsv3"),
        pytest.param(frame(0x81, b"\xff\xfe"), id="bad-utf8"),
        pytest.param(b"\x82\x84abcd" + b"data", id="masked"),
        pytest.param(frame(0x82, b"short", length_bytes=2), id="long-16-bit"),
        pytest.param(frame(0x82, b"short", length_bytes=8), id="long-64-bit"),
        pytest.param(b"\x82\x7f\x80" + bytes(7), id="64-bit-top-bit"),
        pytest.param(frame(0x82, b"x" * 101), id="over-limit"),
        pytest.param(b"\x82", id="one-byte"),
        pytest.param(b"\x82\x7e\x01", id="partial-16-bit-length"),
        pytest.param(b"\x82\x7f\x00\x00", id="partial-64-bit-length"),
    ],
)
def test_stops_where_the_general_parser_must_take_over(
    take: TakeFunction, stop: bytes
) -> None:
    before = frame(0x81, b"kept")
    after = frame(0x82, b"never reached")
    messages, taken = take(before + stop + after, 100)
    assert messages == ["kept"]
    assert taken == len(before)


@pytest.mark.parametrize("take", IMPLEMENTATIONS)
def test_limit_is_inclusive(take: TakeFunction) -> None:
    assert take(frame(0x82, b"x" * 100), 100) == ([b"x" * 100], 102)
    assert take(frame(0x82, b"x" * 101), 100) == ([], 0)
    assert take(frame(0x82, b""), 0) == ([b""], 2)


@pytest.mark.parametrize("take", IMPLEMENTATIONS)
@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_any_bytes_like_input(take: TakeFunction, kind: type) -> None:
    data = frame(0x81, b"text") + frame(0x82, b"bin")
    assert take(kind(data), 10) == (["text", b"bin"], len(data))


def test_c_rejects_bad_arguments() -> None:
    if _c_take is None:
        pytest.skip("C extension not built")
    with pytest.raises(TypeError, match="exactly 2 arguments"):
        _c_take(b"")  # type: ignore[call-arg]
    with pytest.raises(OverflowError):
        _c_take(b"", -1)
    with pytest.raises(TypeError):
        _c_take("not bytes", 10)  # type: ignore[arg-type]


def test_active_implementation_follows_masking() -> None:
    if whole_frames.IMPLEMENTATION == "c":
        assert whole_frames.take_messages is _c_take
    else:
        assert whole_frames.take_messages is take_messages_python
    if os.environ.get("WSKIT_REQUIRE_EXTENSIONS") == "1" and (
        os.environ.get("WSKIT_NO_EXTENSIONS") != "1"
    ):
        assert whole_frames.IMPLEMENTATION == "c"


# Any mix of frames, good and bad, cut anywhere: both give the same answer.
_heads = st.sampled_from([0x81, 0x82, 0x01, 0x02, 0x80, 0x88, 0x89, 0x8A, 0xC1, 0xA2])
# Large payloads as their size, so that a failing example stays readable.
_payloads = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=60).map(str.encode),
    st.integers(126, 70000),
)
_frames = st.tuples(_heads, _payloads, st.sampled_from([None, None, None, 2, 8]))


@pytest.mark.property
@settings(max_examples=300)
@given(
    frames=st.lists(_frames, max_size=6),
    cut=st.integers(0, 2**20),
    limit=st.sampled_from([0, 10, 125, 65536, 2**63]),
)
def test_c_and_python_agree(
    frames: list[tuple[int, bytes | int, int | None]], cut: int, limit: int
) -> None:
    data = b"".join(
        frame(h, b"a" * p if isinstance(p, int) else p, length_bytes=n)
        for h, p, n in frames
    )
    data = data[: cut % (len(data) + 1)]
    expected = take_messages_python(data, limit)
    messages, taken = expected
    assert 0 <= taken <= len(data)
    assert all(type(m) in (str, bytes) for m in messages)
    if _c_take is not None:
        assert _c_take(data, limit) == expected
