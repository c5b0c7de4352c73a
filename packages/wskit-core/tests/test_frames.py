from __future__ import annotations

import importlib
import struct
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wskit.core import frames as frames_module
from wskit.core.exceptions import PayloadTooBig, ProtocolError
from wskit.core.frames import (
    Close,
    CloseCode,
    Frame,
    FrameParser,
    Opcode,
    serialize_frame,
)
from wskit.core.masking import apply_mask

_speedups: ModuleType | None
try:
    _speedups = importlib.import_module("wskit.core._speedups")
except ImportError:
    _speedups = None


def server_frame(
    opcode: int,
    data: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    length: int | None = None,
) -> bytes:
    """Build an unmasked frame as a server sends it, with any header bits."""
    head = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(data) if length is None else length
    if n < 126:
        header = struct.pack("!BB", head, n)
    elif n < 65536:
        header = struct.pack("!BBH", head, 126, n)
    else:
        header = struct.pack("!BBQ", head, 127, n)
    return header + data


def parse_all(data: bytes, max_length: int | None = None) -> list[Frame]:
    parser = FrameParser()
    parser.feed(data)
    frames = []
    while (frame := parser.parse(max_length, max_length)) is not None:
        frames.append(frame)
    return frames


def unmask(wire: bytes) -> tuple[int, bool, bool, bytes]:
    """Decode one client frame: (opcode, fin, rsv1, payload)."""
    head, second = wire[0], wire[1]
    assert second & 0x80, "client frames must be masked"
    length = second & 0x7F
    pos = 2
    if length == 126:
        (length,) = struct.unpack_from("!H", wire, 2)
        pos = 4
    elif length == 127:
        (length,) = struct.unpack_from("!Q", wire, 2)
        pos = 10
    key = wire[pos : pos + 4]
    payload = wire[pos + 4 :]
    assert len(payload) == length
    return head & 0x0F, bool(head & 0x80), bool(head & 0x40), apply_mask(payload, key)


class TestSerialize:
    @pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
    def test_lengths_round_trip(self, size: int) -> None:
        data = bytes(range(256)) * (size // 256) + bytes(size % 256)
        wire = b"".join(serialize_frame(Opcode.BINARY, data))
        assert unmask(wire) == (Opcode.BINARY, True, False, data)

    def test_seven_bit_header(self) -> None:
        wire = serialize_frame(Opcode.TEXT, b"Hello")[0]
        assert wire[:2] == b"\x81\x85"
        assert len(wire) == 2 + 4 + 5

    def test_sixteen_bit_header(self) -> None:
        wire = serialize_frame(Opcode.BINARY, bytes(126))[0]
        assert wire[:4] == b"\x82\xfe\x00\x7e"

    def test_sixty_four_bit_header(self) -> None:
        wire = b"".join(serialize_frame(Opcode.BINARY, bytes(65536)))
        assert wire[:10] == b"\x82\xff" + struct.pack("!Q", 65536)

    def test_frame_is_one_buffer(self) -> None:
        # One buffer whatever the size: the payload is copied exactly once.
        assert len(serialize_frame(Opcode.BINARY, bytes(100_000))) == 1
        assert len(serialize_frame(Opcode.BINARY, bytes(100))) == 1

    def test_fin_and_rsv1(self) -> None:
        wire = serialize_frame(Opcode.TEXT, b"x", fin=False, rsv1=True)[0]
        assert wire[0] == 0x41
        assert unmask(wire) == (Opcode.TEXT, False, True, b"x")

    def test_unmasked(self) -> None:
        assert serialize_frame(Opcode.PING, b"ab", mask=False) == [b"\x89\x02ab"]

    def test_memoryview_and_bytearray(self) -> None:
        for data in (bytearray(b"abc"), memoryview(b"abc")):
            wire = serialize_frame(Opcode.BINARY, data)[0]
            assert unmask(wire)[3] == b"abc"

    def test_mask_keys_differ(self) -> None:
        keys = {serialize_frame(Opcode.BINARY, b"")[0][2:6] for _ in range(2000)}
        # 2000 draws from 2**32 keys: a repeat is astronomically unlikely, and the
        # pool of keys is refilled at least once over these draws.
        assert len(keys) == 2000


class TestParse:
    def test_every_opcode(self) -> None:
        stream = b"".join(
            server_frame(op, b"ab") for op in (0x1, 0x2, 0x8, 0x9, 0xA)
        ) + server_frame(0x0, b"cd", fin=True)
        frames = parse_all(stream)
        assert [f.opcode for f in frames] == [
            Opcode.TEXT,
            Opcode.BINARY,
            Opcode.CLOSE,
            Opcode.PING,
            Opcode.PONG,
            Opcode.CONT,
        ]
        assert all(f.data in (b"ab", b"cd") for f in frames)

    @pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
    def test_lengths(self, size: int) -> None:
        data = b"z" * size
        (frame,) = parse_all(server_frame(0x2, data))
        assert frame == Frame(Opcode.BINARY, data)

    def test_flags(self) -> None:
        (frame,) = parse_all(server_frame(0x1, b"a", fin=False, rsv=0b111))
        assert (frame.fin, frame.rsv1, frame.rsv2, frame.rsv3) == (
            False,
            True,
            True,
            True,
        )

    @pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
    def test_reserved_opcode(self, opcode: int) -> None:
        with pytest.raises(ProtocolError, match="invalid opcode"):
            parse_all(server_frame(opcode, b""))

    def test_masked_server_frame(self) -> None:
        with pytest.raises(ProtocolError, match="incorrect masking"):
            parse_all(b"\x81\x80\x00\x00\x00\x00")

    def test_fragmented_control_frame(self) -> None:
        with pytest.raises(ProtocolError, match="fragmented control frame"):
            parse_all(server_frame(0x9, b"", fin=False))

    def test_control_frame_too_long(self) -> None:
        with pytest.raises(ProtocolError, match="control frame too long"):
            parse_all(server_frame(0x9, b"x" * 126))

    def test_non_minimal_16_bit_length(self) -> None:
        with pytest.raises(ProtocolError, match="minimally"):
            parse_all(b"\x82\x7e\x00\x05hello")

    def test_non_minimal_64_bit_length(self) -> None:
        with pytest.raises(ProtocolError, match="minimally"):
            parse_all(b"\x82\x7f" + struct.pack("!Q", 5) + b"hello")

    def test_64_bit_length_msb(self) -> None:
        with pytest.raises(ProtocolError, match="most significant bit"):
            parse_all(b"\x82\x7f" + struct.pack("!Q", 1 << 63))

    def test_too_big_rejected_from_header(self) -> None:
        parser = FrameParser()
        parser.feed(server_frame(0x2, b"", length=1000))
        with pytest.raises(PayloadTooBig) as info:
            parser.parse(999, 999)
        assert info.value.size == 1000
        assert info.value.max_size == 999

    def test_compressed_limit_is_separate(self) -> None:
        parser = FrameParser()
        parser.feed(server_frame(0x2, b"x" * 20, rsv=0b100))
        frame = parser.parse(10, 30)
        assert frame is not None
        assert frame.rsv1

    def test_control_frames_ignore_size_limit(self) -> None:
        (frame,) = parse_all(server_frame(0x9, b"x" * 100), max_length=10)
        assert frame.opcode is Opcode.PING

    def test_incomplete(self) -> None:
        wire = server_frame(0x2, b"x" * 70000)
        for cut in (0, 1, 2, 5, 9, 10, 11, len(wire) - 1):
            parser = FrameParser()
            parser.feed(wire[:cut])
            assert parser.parse(None, None) is None

    def test_partial_payload(self) -> None:
        parser = FrameParser()
        assert parser.partial_payload(0) is None
        assert parser.partial_header() is None
        wire = server_frame(0x1, b"abcdef")
        parser.feed(wire[:5])
        assert parser.parse(None, None) is None
        assert parser.partial_header() == (1, False)
        assert parser.partial_payload(0) == (1, False, b"abc")
        assert parser.partial_payload(2) == (1, False, b"c")
        parser.feed(wire[5:7])
        assert parser.partial_payload(3) == (1, False, b"de")
        parser.feed(wire[7:])
        frame = parser.parse(None, None)
        assert frame is not None
        assert frame.data == b"abcdef"
        assert parser.partial_payload(0) is None
        assert parser.buffered() == 0

    @pytest.mark.parametrize("size", [100, 70000])
    def test_missing(self, size: int) -> None:
        # 100 bytes wait in the buffer; 70000 are collected read by read.
        wire = server_frame(0x2, b"x" * size)
        parser = FrameParser()
        assert parser.missing() == 0
        parser.feed(wire[:1])
        assert parser.parse(None, None) is None
        assert parser.missing() == 0  # the header is incomplete
        parser.feed(wire[1:20])
        assert parser.parse(None, None) is None
        assert parser.missing() == len(wire) - 20
        parser.feed(wire[20:-1])
        assert parser.parse(None, None) is None
        assert parser.missing() == 1
        parser.feed(wire[-1:] + server_frame(0x2, b"next")[:3])
        assert parser.parse(None, None) == Frame(Opcode.BINARY, b"x" * size)
        assert parser.missing() == 0

    def test_collected_payload_fed_with_the_next_frame(self) -> None:
        # A read that ends a collected payload and brings the next frame.
        first = server_frame(0x2, b"a" * 70000)
        second = server_frame(0x1, b"b")
        parser = FrameParser()
        parser.feed(first[:1000])
        assert parser.parse(None, None) is None
        parser.feed(first[1000:] + second)
        assert parser.parse(None, None) == Frame(Opcode.BINARY, b"a" * 70000)
        assert parser.parse(None, None) == Frame(Opcode.TEXT, b"b")
        assert parser.buffered() == 0

    def test_many_frames_large_buffer_compaction(self) -> None:
        frames = [server_frame(0x2, bytes([i % 256]) * 40_000) for i in range(10)]
        parser = FrameParser()
        parser.feed(b"".join(frames))
        for i in range(10):
            frame = parser.parse(None, None)
            assert frame is not None
            assert frame.data == bytes([i % 256]) * 40_000
        assert parser.parse(None, None) is None
        assert parser.buffered() == 0

    def test_feed_after_full_consumption_with_pending_header(self) -> None:
        wire = server_frame(0x2, b"a") + server_frame(0x2, b"bcdef")
        parser = FrameParser()
        parser.feed(wire[:5])  # first frame plus the second header and 1 byte
        assert parser.parse(None, None) == Frame(Opcode.BINARY, b"a")
        assert parser.parse(None, None) is None
        parser.feed(wire[5:])
        assert parser.parse(None, None) == Frame(Opcode.BINARY, b"bcdef")


frame_strategy = st.tuples(
    st.sampled_from([Opcode.TEXT, Opcode.BINARY, Opcode.CONT]),
    st.binary(max_size=70_000),
    st.booleans(),
    st.booleans(),
) | st.tuples(
    st.sampled_from([Opcode.PING, Opcode.PONG, Opcode.CLOSE]),
    st.binary(max_size=125),
    st.just(True),
    st.just(False),
)


@pytest.mark.property
@given(frames=st.lists(frame_strategy, max_size=8), data=st.data())
def test_serialize_parse_round_trip_any_split(
    frames: list[tuple[Opcode, bytes, bool, bool]], data: st.DataObject
) -> None:
    wire = b"".join(
        b"".join(serialize_frame(op, payload, fin=fin, rsv1=rsv1, mask=False))
        for op, payload, fin, rsv1 in frames
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=6)))
    parser = FrameParser()
    parsed = []
    prev = 0
    for cut in [*cuts, len(wire)]:
        parser.feed(wire[prev:cut])
        prev = cut
        while (frame := parser.parse(None, None)) is not None:
            parsed.append(frame)
    assert [(f.opcode, f.data, f.fin, f.rsv1) for f in parsed] == frames


@pytest.mark.property
@given(st.binary(max_size=200))
def test_parser_raises_only_documented_errors(data: bytes) -> None:
    parser = FrameParser()
    parser.feed(data)
    try:
        while parser.parse(2**20, 2**20) is not None:
            pass
    except (ProtocolError, PayloadTooBig):
        pass


class TestClose:
    def test_parse_code_and_reason(self) -> None:
        assert Close.parse(b"\x03\xe8OK") == Close(1000, "OK")

    def test_parse_empty(self) -> None:
        assert Close.parse(b"") == Close(CloseCode.NO_STATUS_RCVD, "")

    def test_parse_one_byte(self) -> None:
        with pytest.raises(ProtocolError, match="1 byte"):
            Close.parse(b"\x03")

    def test_parse_invalid_utf8(self) -> None:
        with pytest.raises(UnicodeDecodeError):
            Close.parse(b"\x03\xe8\xff")

    @pytest.mark.parametrize(
        "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
    )
    def test_invalid_codes(self, code: int) -> None:
        with pytest.raises(ProtocolError, match="invalid status code"):
            Close.parse(struct.pack("!H", code))

    @pytest.mark.parametrize(
        "code",
        [
            1000,
            1001,
            1002,
            1003,
            1007,
            1008,
            1009,
            1010,
            1011,
            1012,
            1013,
            1014,
            3000,
            4999,
        ],
    )
    def test_valid_codes(self, code: int) -> None:
        assert Close.parse(struct.pack("!H", code)).code == code

    def test_serialize(self) -> None:
        assert Close(1001, "bye").serialize() == b"\x03\xe9bye"

    def test_serialize_refuses_internal_code(self) -> None:
        with pytest.raises(ProtocolError):
            Close(1006).serialize()

    @pytest.mark.parametrize(
        ("close", "text"),
        [
            (Close(1000, ""), "1000 (OK)"),
            (Close(1001, "bye"), "1001 (going away) bye"),
            (Close(3001), "3001 (registered)"),
            (Close(4001), "4001 (private use)"),
            (Close(2500), "2500 (unknown)"),
        ],
    )
    def test_str(self, close: Close, text: str) -> None:
        assert str(close) == text


def test_frame_str() -> None:
    assert str(Frame(Opcode.TEXT, b"abc", fin=False)) == "TEXT 3 bytes [continued]"
    assert str(Frame(Opcode.PING, b"")) == "PING 0 bytes"


def test_key_pool_dropped_after_fork() -> None:
    # _drop_keys runs in a forked child (os.register_at_fork): the child then
    # draws from a fresh block instead of replaying its parent's keys.
    from wskit.core import frames

    serialize_frame(Opcode.BINARY, b"")
    remaining = list(frames._keys)
    frames._drop_keys()
    assert frames._keys == []
    key = serialize_frame(Opcode.BINARY, b"")[0][2:6]
    assert len(frames._keys) == frames._KEYS_PER_BLOCK - 1
    assert key not in frames._keys
    assert remaining[-2:] != frames._keys[-2:]


def test_keys_unique_across_threads() -> None:
    """Threads drawing keys at once never share one (list.pop is atomic)."""
    import threading

    from wskit.core import frames

    frames._drop_keys()
    drawn: list[list[bytes]] = [[] for _ in range(8)]

    def draw(out: list[bytes]) -> None:
        for _ in range(3000):
            out.append(frames._mask_key())

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    keys = [key for out in drawn for key in out]
    assert len(keys) == 24000
    # 24000 keys from urandom: a repeat by chance has odds of about 1 in 15000,
    # a repeat by a race would show up as hundreds.
    assert len(set(keys)) >= len(keys) - 2


class TestLargePayloads:
    """Payloads of at least _COLLECT_MIN bytes are collected read by read."""

    @pytest.mark.parametrize("step", [1, 7, 4096, 65536, 100_003, 300_000])
    def test_any_read_size(self, step: int) -> None:
        payload = bytes(range(256)) * 800  # 204800 bytes
        wire = (
            b"\x82\x7f"
            + struct.pack("!Q", len(payload))
            + payload
            + b"\x81\x02hi"
            + b"\x82\x7f"
            + struct.pack("!Q", len(payload))
            + payload
        )
        parser = FrameParser()
        frames = []
        for pos in range(0, len(wire), step):
            parser.feed(memoryview(wire)[pos : pos + step])
            while (frame := parser.parse(None, None)) is not None:
                frames.append(frame)
        assert [(f.opcode, f.data) for f in frames] == [
            (Opcode.BINARY, payload),
            (Opcode.TEXT, b"hi"),
            (Opcode.BINARY, payload),
        ]
        assert parser.buffered() == 0
        assert parser.idle()

    def test_payload_buffer_takes_the_rest_of_the_payload(self) -> None:
        payload = bytes(range(256)) * 400  # 102400 bytes
        parser = FrameParser()
        assert parser.payload_buffer() is None
        parser.feed(b"\x82\x7f" + struct.pack("!Q", len(payload)) + payload[:1000])
        assert parser.parse(None, None) is None
        views = []
        have = 1000
        for step in (1, 50_000, 30_000):
            view = parser.payload_buffer()
            assert view is not None
            assert len(view) == len(payload) - have == parser.missing()
            view[:step] = payload[have : have + step]
            parser.payload_filled(step)
            views.append(view)
            have += step
            assert parser.buffered() == have
            assert parser.parse(None, None) is None
        parser.feed(payload[have:90_000])  # feed() and the buffer mix
        view = parser.payload_buffer()
        assert view is not None
        view[:] = payload[90_000:]
        parser.payload_filled(len(view))
        assert parser.payload_buffer() is None
        frame = parser.parse(None, None)
        assert frame is not None
        assert type(frame.data) is bytes
        assert frame.data == payload
        assert parser.idle()
        # Nothing lent can write into the payload any more: it is a message now.
        for lent in [*views, view]:
            with pytest.raises(ValueError, match="released"):
                lent[0] = 0

    def test_payload_buffer_only_for_large_payloads(self) -> None:
        parser = FrameParser()
        parser.feed(b"\x82\x7e" + struct.pack("!H", 60000) + bytes(10))
        assert parser.parse(None, None) is None
        assert parser.payload_buffer() is None
        assert parser.missing() == 60000 - 10

    def test_payload_filled_checks_its_size(self) -> None:
        parser = FrameParser()
        with pytest.raises(ValueError, match="payload_buffer"):
            parser.payload_filled(1)
        parser.feed(b"\x82\x7f" + struct.pack("!Q", 70000))
        assert parser.parse(None, None) is None
        view = parser.payload_buffer()
        assert view is not None
        for size in (0, 70001):
            with pytest.raises(ValueError, match="payload_buffer"):
                parser.payload_filled(size)
        parser.payload_filled(70000)
        with pytest.raises(ValueError, match="payload_buffer"):
            parser.payload_filled(1)  # the buffer was given back
        frame = parser.parse(None, None)
        assert frame is not None
        assert len(frame.data) == 70000

    def test_frames_above_the_collect_limit_grow_the_buffer(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(frames_module, "_COLLECT_MAX", 100_000)
        payload = bytes(range(256)) * 500  # 128000 bytes
        parser = FrameParser()
        parser.feed(b"\x82\x7f" + struct.pack("!Q", len(payload)) + payload[:5])
        assert parser.parse(None, None) is None
        assert parser.payload_buffer() is None
        parser.feed(payload[5:])
        frame = parser.parse(None, None)
        assert frame is not None
        assert frame.data == payload

    def test_partial_payload_while_collecting(self) -> None:
        payload = b"abcdefgh" * 10000  # 80000 bytes
        parser = FrameParser()
        parser.feed(b"\x01\x7f" + struct.pack("!Q", len(payload)) + payload[:100])
        assert parser.parse(None, None) is None
        assert parser.partial_payload(0) == (1, False, payload[:100])
        parser.feed(payload[100:30000])
        parser.feed(payload[30000:30001])
        assert parser.partial_payload(50) == (1, False, payload[50:30001])
        assert parser.partial_payload(30001) == (1, False, b"")
        parser.feed(payload[30001:] + b"\x89\x00")
        frame = parser.parse(None, None)
        assert frame is not None
        assert frame.data == payload
        assert not frame.fin
        ping = parser.parse(None, None)
        assert ping is not None
        assert ping.opcode is Opcode.PING


@pytest.mark.parametrize(
    "payload_buffer",
    [
        pytest.param(
            getattr(_speedups, "payload_buffer", None),
            id="c",
            marks=pytest.mark.skipif(
                _speedups is None, reason="the C extension is not built"
            ),
        ),
        pytest.param(frames_module._payload_buffer_python, id="python"),
    ],
)
def test_payload_buffer_storage(payload_buffer: Any) -> None:
    data, view = payload_buffer(100_000)
    assert len(data) == len(view) == 100_000
    assert not view.readonly
    view[:] = bytes(range(250)) * 400
    assert bytes(data) == bytes(range(250)) * 400
    # A view that outlives the buffer's other references keeps it alive.
    tail = view[99_990:]
    del data, view
    tail[:] = b"0123456789"
    assert bytes(tail) == b"0123456789"
    with pytest.raises(ValueError, match=r">= 0|negative"):
        payload_buffer(-1)


@given(data=st.binary(max_size=300), cut=st.integers(0, 300))
def test_is_ascii_matches_bytes_isascii(data: bytes, cut: int) -> None:
    view = memoryview(data)[min(cut, len(data)) :]
    expected = bytes(view).isascii()
    assert frames_module.is_ascii_python(view) is expected
    assert frames_module.is_ascii(view) is expected
    if _speedups is not None:
        assert _speedups.is_ascii(view) is expected
