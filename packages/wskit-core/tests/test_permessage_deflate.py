from __future__ import annotations

import itertools
import random
import tracemalloc
import zlib
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate as ReferencePerMessageDeflate,
)
from websockets.frames import Frame as ReferenceFrame
from websockets.frames import Opcode as ReferenceOpcode
from wsproto.extensions import PerMessageDeflate as WsprotoPerMessageDeflate
from wsproto.frame_protocol import Opcode as WsprotoOpcode
from wsproto.frame_protocol import RsvBits

from wskit.core.exceptions import (
    DuplicateParameter,
    InvalidParameterName,
    InvalidParameterValue,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
)
from wskit.core.extensions import (
    ClientExtensionFactory,
    ClientPerMessageDeflateFactory,
    Extension,
    ExtensionParameter,
    PerMessageDeflate,
    enable_client_permessage_deflate,
)
from wskit.core.frames import Frame, Opcode

TAIL = b"\x00\x00\xff\xff"
HELLO = bytes.fromhex("f2 48 cd c9 c9 07 00")  # RFC 7692 section 7.2.3.1

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def mirror(ext: PerMessageDeflate) -> PerMessageDeflate:
    """The server's side of the same negotiation: local and remote swapped."""
    return PerMessageDeflate(
        ext.local_no_context_takeover,
        ext.remote_no_context_takeover,
        ext.local_max_window_bits,
        ext.remote_max_window_bits,
    )


def fragments(opcode: Opcode, message: bytes, sizes: Sequence[int]) -> list[Frame]:
    """Cut a message into frames of the given sizes (the rest goes last)."""
    frames = []
    pos = 0
    for size in sizes:
        frames.append(Frame(Opcode.CONT, message[pos : pos + size], fin=False))
        pos += size
    frames.append(Frame(Opcode.CONT, message[pos:], fin=True))
    frames[0].opcode = opcode
    return frames


def encode_message(ext: PerMessageDeflate, frames: list[Frame]) -> list[Frame]:
    return [ext.encode(frame) for frame in frames]


def decode_message(
    ext: PerMessageDeflate, frames: list[Frame], max_size: int | None = None
) -> bytes:
    """Decode a message as the protocol does, with the remaining budget per frame."""
    out = b""
    for frame in frames:
        budget = None if max_size is None else max_size - len(out)
        decoded = ext.decode(frame, max_size=budget)
        assert not decoded.rsv1
        assert decoded.opcode is frame.opcode
        assert decoded.fin is frame.fin
        out += decoded.data
    return out


def strict_inflate(data: bytes, window_bits: int) -> bytes:
    """Inflate one output byte at a time.

    With a one-byte output buffer, zlib must take every match from its window, so
    any distance larger than ``2 ** window_bits`` fails with "invalid distance too
    far back"; a normal call would copy from its own output buffer instead.
    """
    decoder = zlib.decompressobj(wbits=-window_bits)
    out = bytearray()
    pending = data
    while True:
        chunk = decoder.decompress(pending, 1)
        out += chunk
        pending = decoder.unconsumed_tail
        if not chunk and not pending:
            return bytes(out)


class WebsocketsPeer:
    """The server's side, implemented by the websockets library."""

    def __init__(self, ext: PerMessageDeflate) -> None:
        # websockets cannot compress with an 8-bit window; 9 stays within the
        # 256 bytes for the reason PerMessageDeflate relies on.
        self.ext = ReferencePerMessageDeflate(
            remote_no_context_takeover=ext.local_no_context_takeover,
            local_no_context_takeover=ext.remote_no_context_takeover,
            remote_max_window_bits=ext.local_max_window_bits,
            local_max_window_bits=max(9, ext.remote_max_window_bits),
        )

    def encode(self, frames: list[Frame]) -> list[Frame]:
        result = []
        for frame in frames:
            ref = self.ext.encode(
                ReferenceFrame(ReferenceOpcode(frame.opcode), frame.data, fin=frame.fin)
            )
            result.append(Frame(Opcode(ref.opcode), bytes(ref.data), ref.fin, ref.rsv1))
        return result

    def decode(self, frames: list[Frame]) -> bytes:
        out = b""
        for frame in frames:
            ref = ReferenceFrame(
                ReferenceOpcode(frame.opcode),
                frame.data,
                fin=frame.fin,
                rsv1=frame.rsv1,
            )
            out += bytes(self.ext.decode(ref).data)
        return out


class WsprotoPeer:
    """The server's side, implemented by wsproto (which never flushes mid-message)."""

    proto: Any = SimpleNamespace(client=False)

    def __init__(self, ext: PerMessageDeflate) -> None:
        self.ext = WsprotoPerMessageDeflate(
            client_no_context_takeover=ext.local_no_context_takeover,
            client_max_window_bits=max(9, ext.local_max_window_bits),
            server_no_context_takeover=ext.remote_no_context_takeover,
            server_max_window_bits=max(9, ext.remote_max_window_bits),
        )

    def encode(self, frames: list[Frame]) -> list[Frame]:
        result = []
        for frame in frames:
            rsv, data = self.ext.frame_outbound(
                self.proto,
                WsprotoOpcode(frame.opcode),
                RsvBits(False, False, False),
                frame.data,
                frame.fin,
            )
            result.append(Frame(frame.opcode, bytes(data), frame.fin, rsv.rsv1))
        return result

    def decode(self, frames: list[Frame]) -> bytes:
        out = b""
        for frame in frames:
            self.ext.frame_inbound_header(
                self.proto,
                WsprotoOpcode(frame.opcode),
                RsvBits(frame.rsv1, False, False),
                len(frame.data),
            )
            data = self.ext.frame_inbound_payload_data(self.proto, frame.data)
            assert isinstance(data, bytes)
            out += data
            tail = self.ext.frame_inbound_complete(self.proto, frame.fin)
            if tail is not None:
                assert isinstance(tail, bytes)
                out += tail
        return out


PEERS = [WebsocketsPeer, WsprotoPeer]


def sample_messages() -> Iterator[tuple[Opcode, bytes, list[int]]]:
    rnd = random.Random(7692)
    text = "Ein Geist, der stets verneint! Ça va? 日本語 " * 50
    yield Opcode.TEXT, b"", []
    yield Opcode.BINARY, b"", [0]
    yield Opcode.TEXT, b"Hello", []
    yield Opcode.TEXT, text.encode(), []
    yield Opcode.TEXT, text.encode(), [1, 0, 100, 7]
    yield Opcode.BINARY, bytes(rnd.getrandbits(8) for _ in range(3000)), [1000, 1000]
    yield Opcode.BINARY, bytes(70000), [65536]
    yield Opcode.BINARY, (bytes(range(256)) * 4 + b"x" * 300) * 20, [0, 0, 5000]


MESSAGES = list(sample_messages())

PARAMETERS = list(
    itertools.product([False, True], [False, True], [8, 9, 12, 15], [8, 9, 12, 15])
)


# ---------------------------------------------------------------------------
# PerMessageDeflate: construction
# ---------------------------------------------------------------------------


def test_name_and_repr() -> None:
    ext = PerMessageDeflate(False, True, 10, 12)
    assert ext.name == "permessage-deflate"
    assert repr(ext) == (
        "PerMessageDeflate(remote_no_context_takeover=False, "
        "local_no_context_takeover=True, remote_max_window_bits=10, "
        "local_max_window_bits=12)"
    )


def test_satisfies_extension_protocol() -> None:
    ext: Extension = PerMessageDeflate(False, False, 15, 15)
    factory: ClientExtensionFactory = ClientPerMessageDeflateFactory()
    assert ext.name == factory.name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"remote_max_window_bits": 7}, "remote_max_window_bits must be an integer"),
        ({"remote_max_window_bits": 16}, "remote_max_window_bits must be an integer"),
        ({"local_max_window_bits": True}, "local_max_window_bits must be an integer"),
        ({"local_max_window_bits": "9"}, "local_max_window_bits must be an integer"),
        ({"compress_settings": {"wbits": -9}}, "set local_max_window_bits instead"),
        ({"compress_settings": {"zdict": b"x"}}, "must not include zdict"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "remote_no_context_takeover": False,
        "local_no_context_takeover": False,
        "remote_max_window_bits": 15,
        "local_max_window_bits": 15,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        PerMessageDeflate(**arguments)


def test_compress_settings_are_copied_and_used() -> None:
    settings = {"level": 0}
    ext = PerMessageDeflate(False, False, 15, 15, settings)
    settings["level"] = 9
    # Level 0 stores the data: the payload shows through.
    frame = ext.encode(Frame(Opcode.BINARY, b"plain text"))
    assert b"plain text" in frame.data


# ---------------------------------------------------------------------------
# PerMessageDeflate: frames that pass through, RSV1 rules
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [Opcode.PING, Opcode.PONG, Opcode.CLOSE])
def test_control_frames_pass_through(opcode: Opcode) -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    frame = Frame(opcode, b"\x03\xe8")
    assert ext.encode(frame) is frame
    assert ext.decode(frame) is frame


@pytest.mark.parametrize("opcode", [Opcode.PING, Opcode.PONG, Opcode.CLOSE])
def test_control_frame_with_rsv1_fails(opcode: Opcode) -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    with pytest.raises(ProtocolError, match="control frames are never compressed"):
        ext.decode(Frame(opcode, b"", rsv1=True))


def test_uncompressed_message_passes_through() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    first = Frame(Opcode.TEXT, b"plain", fin=False)
    last = Frame(Opcode.CONT, b" text", fin=True)
    assert ext.decode(first) is first
    assert ext.decode(last) is last
    # A compressed message can follow.
    assert ext.decode(Frame(Opcode.TEXT, HELLO, rsv1=True)).data == b"Hello"


def test_control_frame_inside_compressed_message() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    ping = Frame(Opcode.PING, b"ping")
    decoded = [
        ext.decode(Frame(Opcode.TEXT, HELLO[:3], fin=False, rsv1=True)),
        ext.decode(ping),
        ext.decode(Frame(Opcode.CONT, HELLO[3:], fin=True)),
    ]
    assert decoded[1] is ping
    assert decoded[0].data + decoded[2].data == b"Hello"


@pytest.mark.parametrize("compressed", [False, True])
def test_rsv1_on_continuation_fails(compressed: bool) -> None:
    # RFC 7692 section 6.1: RSV1 is only allowed on the first frame.
    ext = PerMessageDeflate(False, False, 15, 15)
    first = HELLO[:3] if compressed else b"Hel"
    ext.decode(Frame(Opcode.TEXT, first, fin=False, rsv1=compressed))
    with pytest.raises(ProtocolError, match="RSV1 set on a continuation frame"):
        ext.decode(Frame(Opcode.CONT, HELLO[3:], fin=True, rsv1=True))


def test_decoded_frame_keeps_other_bits() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    frame = Frame(Opcode.BINARY, HELLO, True, True, True, True)
    assert ext.decode(frame) == Frame(Opcode.BINARY, b"Hello", True, False, True, True)
    encoded = ext.encode(Frame(Opcode.BINARY, b"Hello", True, False, True, False))
    assert (encoded.rsv1, encoded.rsv2, encoded.rsv3) == (True, True, False)


# ---------------------------------------------------------------------------
# PerMessageDeflate: the examples of RFC 7692 section 7.2.3
# ---------------------------------------------------------------------------


def test_rfc_7_2_3_1_one_block() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    assert ext.encode(Frame(Opcode.TEXT, b"Hello")) == Frame(
        Opcode.TEXT, HELLO, rsv1=True
    )
    assert ext.decode(Frame(Opcode.TEXT, HELLO, rsv1=True)).data == b"Hello"


def test_rfc_7_2_3_1_fragmented() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    frames = [
        Frame(Opcode.TEXT, HELLO[:3], fin=False, rsv1=True),
        Frame(Opcode.CONT, HELLO[3:], fin=True),
    ]
    assert decode_message(ext, frames) == b"Hello"


def test_rfc_7_2_3_2_sharing_the_window() -> None:
    second = bytes.fromhex("f2 00 11 00 00")
    sender = PerMessageDeflate(False, False, 15, 15)
    assert sender.encode(Frame(Opcode.TEXT, b"Hello")).data == HELLO
    assert sender.encode(Frame(Opcode.TEXT, b"Hello")).data == second
    receiver = PerMessageDeflate(False, False, 15, 15)
    assert receiver.decode(Frame(Opcode.TEXT, HELLO, rsv1=True)).data == b"Hello"
    assert receiver.decode(Frame(Opcode.TEXT, second, rsv1=True)).data == b"Hello"


def test_no_context_takeover_restarts_the_window() -> None:
    sender = PerMessageDeflate(False, True, 15, 15)
    assert sender.encode(Frame(Opcode.TEXT, b"Hello")).data == HELLO
    assert sender.encode(Frame(Opcode.TEXT, b"Hello")).data == HELLO
    receiver = PerMessageDeflate(True, False, 15, 15)
    for _ in range(2):
        assert receiver.decode(Frame(Opcode.TEXT, HELLO, rsv1=True)).data == b"Hello"


def test_rfc_7_2_3_3_stored_block() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    payload = bytes.fromhex("00 05 00 fa ff 48 65 6c 6c 6f 00")
    assert ext.decode(Frame(Opcode.TEXT, payload, rsv1=True)).data == b"Hello"


def test_rfc_7_2_3_4_bfinal_then_next_message() -> None:
    # After a BFINAL block the stream is over; the next message starts a new one
    # even with context takeover.
    ext = PerMessageDeflate(False, False, 15, 15)
    bfinal = bytes.fromhex("f3 48 cd c9 c9 07 00 00")
    assert ext.decode(Frame(Opcode.TEXT, bfinal, rsv1=True)).data == b"Hello"
    assert ext.decode(Frame(Opcode.TEXT, bfinal, rsv1=True)).data == b"Hello"
    assert ext.decode(Frame(Opcode.TEXT, HELLO, rsv1=True)).data == b"Hello"


def test_data_after_bfinal_fails() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    bfinal = bytes.fromhex("f3 48 cd c9 c9 07 00")
    with pytest.raises(ProtocolError, match="after the end of the deflate stream"):
        ext.decode(Frame(Opcode.TEXT, bfinal + HELLO, rsv1=True))


def test_rfc_7_2_3_5_two_blocks() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    payload = bytes.fromhex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")
    assert ext.decode(Frame(Opcode.TEXT, payload, rsv1=True)).data == b"Hello"


def test_rfc_7_2_3_6_empty_fragment() -> None:
    sender = PerMessageDeflate(False, False, 15, 15)
    frames = encode_message(
        sender,
        [Frame(Opcode.TEXT, b"Hello", fin=False), Frame(Opcode.CONT, b"", fin=True)],
    )
    assert frames == [
        Frame(Opcode.TEXT, HELLO[:-1] + b"\x00" + TAIL, fin=False, rsv1=True),
        Frame(Opcode.CONT, b"\x00", fin=True),
    ]
    receiver = PerMessageDeflate(False, False, 15, 15)
    assert decode_message(receiver, frames) == b"Hello"


@pytest.mark.parametrize("no_context_takeover", [False, True])
def test_empty_messages(no_context_takeover: bool) -> None:
    sender = PerMessageDeflate(False, no_context_takeover, 15, 15)
    receiver = mirror(sender)
    for _ in range(3):
        frame = sender.encode(Frame(Opcode.BINARY, b""))
        assert frame.data == b"\x00"
        assert receiver.decode(frame, max_size=0).data == b""
    # Empty frames anywhere in a fragmented message, including consecutive ones:
    # each still ends with a full flush.
    frames = encode_message(
        sender,
        [
            Frame(Opcode.TEXT, b"", fin=False),
            Frame(Opcode.CONT, b"", fin=False),
            Frame(Opcode.CONT, b"abc", fin=False),
            Frame(Opcode.CONT, b"", fin=False),
            Frame(Opcode.CONT, b"", fin=True),
        ],
    )
    assert [f.data.endswith(TAIL) for f in frames] == [True] * 4 + [False]
    assert frames[-1].data == b"\x00"
    assert decode_message(receiver, frames) == b"abc"


def test_memoryview_payload() -> None:
    sender = PerMessageDeflate(False, False, 15, 15)
    frame = sender.encode(Frame(Opcode.BINARY, memoryview(b"Hello"), fin=True))  # type: ignore[arg-type]
    assert frame.data == HELLO


# ---------------------------------------------------------------------------
# Round trips against the websockets library and wsproto
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("peer_class", PEERS)
@pytest.mark.parametrize(("rnct", "lnct", "rbits", "lbits"), PARAMETERS)
def test_round_trip_with_reference(
    peer_class: Any, rnct: bool, lnct: bool, rbits: int, lbits: int
) -> None:
    ours = PerMessageDeflate(rnct, lnct, rbits, lbits, {"memLevel": 5})
    peer = peer_class(ours)
    for opcode, message, sizes in MESSAGES * 2:
        frames = fragments(opcode, message, sizes)
        # Server to client.
        assert decode_message(ours, peer.encode(frames)) == message
        # Client to server.
        encoded = encode_message(ours, frames)
        assert encoded[0].rsv1
        assert not any(frame.rsv1 for frame in encoded[1:])
        assert peer.decode(encoded) == message


@pytest.mark.parametrize("lnct", [False, True])
def test_eight_bit_client_window_is_honoured(lnct: bool) -> None:
    # zlib cannot compress with an 8-bit raw window; PerMessageDeflate uses 9, which
    # never reaches more than 250 bytes back. Check that with an inflater that
    # keeps only 256 bytes, across messages too when the context is kept.
    ext = PerMessageDeflate(False, lnct, 15, 8, {"level": 9, "memLevel": 9})
    rnd = random.Random(8)
    stream = b""
    messages = []
    for _ in range(20):
        period = rnd.randint(200, 600)
        base = bytes(rnd.getrandbits(8) for _ in range(period))
        message = (base * 10)[: rnd.randint(1, 4000)]
        messages.append(message)
        payload = ext.encode(Frame(Opcode.BINARY, message)).data
        if lnct:
            assert strict_inflate(payload + TAIL, 8) == message
        stream += payload + TAIL
    if not lnct:
        assert strict_inflate(stream, 8) == b"".join(messages)


def test_strict_inflate_detects_a_larger_window() -> None:
    # The check above is meaningful: a 15-bit window fails it.
    base = random.Random(15).randbytes(400)
    compressor = zlib.compressobj(wbits=-15)
    payload = compressor.compress(base * 4) + compressor.flush(zlib.Z_SYNC_FLUSH)
    with pytest.raises(zlib.error, match="invalid distance too far back"):
        strict_inflate(payload, 8)


@pytest.mark.parametrize("bits", [8, 9])
def test_small_server_window(bits: int) -> None:
    # A server limited to 2**bits bytes; decoding with a 512-byte window is a
    # superset.
    ext = PerMessageDeflate(False, False, bits, 15)
    compressor = zlib.compressobj(wbits=-9)
    message = bytes(range(200)) * 20
    payload = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert ext.decode(Frame(Opcode.BINARY, payload[:-4], rsv1=True)).data == message


# ---------------------------------------------------------------------------
# Size limits and the decompression bomb
# ---------------------------------------------------------------------------


def deflate(data: bytes, **kwargs: Any) -> bytes:
    compressor = zlib.compressobj(wbits=-15, **kwargs)
    payload = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert payload.endswith(TAIL)
    return payload[:-4]


def zeros_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, wbits=-15)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(size >> 20)]
    parts.append(compressor.compress(bytes(size & 0xFFFFF)))
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(parts)[:-4]


def test_decompression_bomb_bounded_memory() -> None:
    bomb = zeros_bomb(100 << 20)
    assert len(bomb) < 200_000  # 100 MiB of zeros in about 100 KiB
    max_size = 1 << 20
    ext = PerMessageDeflate(False, False, 15, 15)
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooBig, match=f"max_size={max_size} bytes"):
            ext.decode(Frame(Opcode.BINARY, bomb, rsv1=True), max_size=max_size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # zlib stops one byte past the limit. CPython gathers that output in blocks
    # and joins them, so the peak is twice the limit plus zlib's own state: about
    # 2 MiB, nowhere near 100 MiB.
    assert peak < 2 * max_size + (256 << 10)


def test_decompression_bomb_across_frames() -> None:
    bomb = zeros_bomb(8 << 20)
    max_size = 1 << 20
    ext = PerMessageDeflate(False, False, 15, 15)
    frames = fragments(Opcode.BINARY, bomb, [100] * (len(bomb) // 100))
    frames[0].rsv1 = True
    with pytest.raises(PayloadTooBig):
        decode_message(ext, frames, max_size=max_size)


def test_small_bomb_in_one_call() -> None:
    # A payload short enough to be joined with the tail before inflating.
    bomb = zeros_bomb(2_000_000)
    assert len(bomb) < 2048
    ext = PerMessageDeflate(False, False, 15, 15)
    with pytest.raises(PayloadTooBig):
        ext.decode(Frame(Opcode.BINARY, bomb, rsv1=True), max_size=65536)


@pytest.mark.parametrize("size", [100, 100_000])  # joined with the tail or not
@pytest.mark.parametrize("fin", [False, True])
def test_exact_limit(size: int, fin: bool) -> None:
    message = random.Random(size).randbytes(size)
    payload = deflate(message, level=0)
    if not fin:
        payload += TAIL
    frame = Frame(Opcode.BINARY, payload, fin=fin, rsv1=True)
    ext = PerMessageDeflate(False, False, 15, 15)
    assert ext.decode(frame, max_size=size).data == message
    ext = PerMessageDeflate(False, False, 15, 15)
    with pytest.raises(PayloadTooBig, match=f"max_size={size - 1} bytes"):
        ext.decode(frame, max_size=size - 1)


def test_zero_budget_left() -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    sender = mirror(ext)
    frames = encode_message(
        sender, [Frame(Opcode.TEXT, b"abc", fin=False), Frame(Opcode.CONT, b"")]
    )
    assert decode_message(ext, frames, max_size=3) == b"abc"
    frames = encode_message(
        sender, [Frame(Opcode.TEXT, b"abc", fin=False), Frame(Opcode.CONT, b"d")]
    )
    with pytest.raises(PayloadTooBig):
        decode_message(ext, frames, max_size=3)


def stored_block_cut_before_tail(size: int) -> tuple[bytes, bytes]:
    """A stored block whose last four data bytes are the tail itself.

    The sender's payload stops four bytes short, so the output they carry only
    comes out when the receiver appends the tail.
    """
    message = random.Random(size).randbytes(size - 4) + TAIL
    header = (
        b"\x00" + size.to_bytes(2, "little") + (size ^ 0xFFFF).to_bytes(2, "little")
    )
    return message, header + message[:-4]


def test_output_released_by_the_tail() -> None:
    message, payload = stored_block_cut_before_tail(3000)
    ext = PerMessageDeflate(False, False, 15, 15)
    frame = Frame(Opcode.BINARY, payload, rsv1=True)
    assert ext.decode(frame, max_size=3000).data == message
    ext = PerMessageDeflate(False, False, 15, 15)
    with pytest.raises(PayloadTooBig):
        ext.decode(frame, max_size=2999)
    ext = PerMessageDeflate(False, False, 15, 15)
    assert ext.decode(frame).data == message


def test_no_limit() -> None:
    message = bytes(5 << 20)
    ext = PerMessageDeflate(False, False, 15, 15)
    frame = Frame(Opcode.BINARY, deflate(message), rsv1=True)
    assert ext.decode(frame, max_size=None).data == message


# ---------------------------------------------------------------------------
# Invalid compressed data
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff",  # reserved block type 3
        bytes.fromhex("00 05 00 00 00") + b"Hello",  # stored block: NLEN != ~LEN
        b"\xec" * 3000,  # garbage, long enough for the two-call path
    ],
)
def test_corrupted_data(payload: bytes) -> None:
    ext = PerMessageDeflate(False, False, 15, 15)
    with pytest.raises(ProtocolError, match="decompression failed") as exc_info:
        ext.decode(Frame(Opcode.BINARY, payload, rsv1=True))
    assert isinstance(exc_info.value.__cause__, zlib.error)


def test_distance_beyond_the_start_of_the_stream() -> None:
    # A match that reaches before the first byte: invalid with a fresh window.
    sender = PerMessageDeflate(False, False, 15, 15)
    sender.encode(Frame(Opcode.TEXT, b"Hello"))
    second = sender.encode(Frame(Opcode.TEXT, b"Hello")).data
    receiver = PerMessageDeflate(False, False, 15, 15)
    with pytest.raises(ProtocolError, match="decompression failed"):
        receiver.decode(Frame(Opcode.TEXT, second, rsv1=True))


# ---------------------------------------------------------------------------
# Property: random messages, random fragmentation
# ---------------------------------------------------------------------------

messages = st.lists(
    st.tuples(
        st.sampled_from([Opcode.TEXT, Opcode.BINARY]),
        st.one_of(
            st.binary(max_size=3000),
            st.builds(
                lambda chunk, n: chunk * n,
                st.binary(min_size=1, max_size=40),
                st.integers(1, 200),
            ),
        ),
        st.lists(st.integers(0, 1500), max_size=6),
    ),
    min_size=1,
    max_size=6,
)


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(
    messages=messages,
    params=st.sampled_from(PARAMETERS),
    level=st.integers(0, 9),
)
def test_property_encode_then_decode(
    messages: list[tuple[Opcode, bytes, list[int]]],
    params: tuple[bool, bool, int, int],
    level: int,
) -> None:
    ours = PerMessageDeflate(*params, {"level": level})
    peer = mirror(ours)
    for opcode, message, sizes in messages:
        frames = fragments(opcode, message, sizes)
        assert decode_message(peer, encode_message(ours, frames)) == message
        assert decode_message(ours, encode_message(peer, frames)) == message


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(
    messages=messages,
    cuts=st.lists(st.integers(0, 64), max_size=8),
    no_context_takeover=st.booleans(),
)
def test_property_compressed_payload_cut_anywhere(
    messages: list[tuple[Opcode, bytes, list[int]]],
    cuts: list[int],
    no_context_takeover: bool,
) -> None:
    # Senders that compress a whole message and then fragment the result (as the
    # Autobahn fuzzing server does) cut the deflate data at arbitrary bytes.
    sender = PerMessageDeflate(False, no_context_takeover, 15, 15)
    receiver = mirror(sender)
    for opcode, message, _ in messages:
        payload = sender.encode(Frame(opcode, message)).data
        frames = fragments(opcode, payload, cuts)
        frames[0].rsv1 = True
        assert decode_message(receiver, frames, max_size=len(message)) == message


# ---------------------------------------------------------------------------
# ClientPerMessageDeflateFactory: offer
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "params"),
    [
        ({}, [("client_max_window_bits", None)]),
        ({"client_max_window_bits": None}, []),
        ({"client_max_window_bits": 8}, [("client_max_window_bits", "8")]),
        (
            {
                "server_no_context_takeover": True,
                "client_no_context_takeover": True,
                "server_max_window_bits": 10,
                "client_max_window_bits": 12,
            },
            [
                ("server_no_context_takeover", None),
                ("client_no_context_takeover", None),
                ("server_max_window_bits", "10"),
                ("client_max_window_bits", "12"),
            ],
        ),
    ],
)
def test_request_params(
    kwargs: dict[str, Any], params: list[ExtensionParameter]
) -> None:
    factory = ClientPerMessageDeflateFactory(**kwargs)
    assert factory.name == "permessage-deflate"
    assert factory.get_request_params() == params


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"server_max_window_bits": 7}, "server_max_window_bits must be an integer"),
        ({"server_max_window_bits": 16}, "server_max_window_bits must be an integer"),
        ({"server_max_window_bits": True}, "server_max_window_bits must be an integer"),
        ({"client_max_window_bits": 7}, "client_max_window_bits must be an integer"),
        ({"client_max_window_bits": 16}, "client_max_window_bits must be an integer"),
        ({"client_max_window_bits": False}, "use None to leave it out"),
        ({"compress_settings": {"wbits": 15}}, "set client_max_window_bits instead"),
        ({"compress_settings": {"zdict": b""}}, "must not include zdict"),
        ({"compress_settings": {"memlevel": 5}}, "invalid compress_settings"),
        ({"compress_settings": {"memLevel": 10}}, "invalid compress_settings"),
    ],
)
def test_factory_invalid_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClientPerMessageDeflateFactory(**kwargs)


def test_factory_repr() -> None:
    assert repr(ClientPerMessageDeflateFactory(compress_settings={"memLevel": 5})) == (
        "ClientPerMessageDeflateFactory(server_no_context_takeover=False, "
        "client_no_context_takeover=False, server_max_window_bits=None, "
        "client_max_window_bits=True, compress_settings={'memLevel': 5})"
    )


# ---------------------------------------------------------------------------
# ClientPerMessageDeflateFactory: the server's answer (RFC 7692 section 7.1)
# ---------------------------------------------------------------------------


def negotiate(
    response: list[ExtensionParameter], **kwargs: Any
) -> tuple[bool, bool, int, int]:
    factory = ClientPerMessageDeflateFactory(**kwargs)
    ext = factory.process_response_params(response, [])
    return (
        ext.remote_no_context_takeover,
        ext.local_no_context_takeover,
        ext.remote_max_window_bits,
        ext.local_max_window_bits,
    )


SNCT = ("server_no_context_takeover", None)
CNCT = ("client_no_context_takeover", None)


def smwb(bits: int) -> ExtensionParameter:
    return ("server_max_window_bits", str(bits))


def cmwb(bits: int) -> ExtensionParameter:
    return ("client_max_window_bits", str(bits))


@pytest.mark.parametrize(
    ("offer", "response", "result"),
    [
        # server_no_context_takeover: offered or not, echoed or added.
        ({}, [], (False, False, 15, 15)),
        ({}, [SNCT], (True, False, 15, 15)),
        ({"server_no_context_takeover": True}, [SNCT], (True, False, 15, 15)),
        # client_no_context_takeover: the offer binds the client either way.
        ({}, [CNCT], (False, True, 15, 15)),
        ({"client_no_context_takeover": True}, [], (False, True, 15, 15)),
        ({"client_no_context_takeover": True}, [CNCT], (False, True, 15, 15)),
        # server_max_window_bits.
        ({}, [smwb(10)], (False, False, 10, 15)),
        ({"server_max_window_bits": 12}, [smwb(12)], (False, False, 12, 15)),
        ({"server_max_window_bits": 12}, [smwb(8)], (False, False, 8, 15)),
        # client_max_window_bits.
        ({"client_max_window_bits": None}, [], (False, False, 15, 15)),
        ({"client_max_window_bits": True}, [], (False, False, 15, 15)),
        ({"client_max_window_bits": True}, [cmwb(8)], (False, False, 15, 8)),
        ({"client_max_window_bits": True}, [cmwb(11)], (False, False, 15, 11)),
        ({"client_max_window_bits": 12}, [], (False, False, 15, 12)),
        ({"client_max_window_bits": 12}, [cmwb(12)], (False, False, 15, 12)),
        ({"client_max_window_bits": 12}, [cmwb(9)], (False, False, 15, 9)),
        # Everything at once, in any order.
        (
            {"server_no_context_takeover": True, "server_max_window_bits": 10},
            [cmwb(9), CNCT, smwb(10), SNCT],
            (True, True, 10, 9),
        ),
    ],
)
def test_response_accepted(
    offer: dict[str, Any],
    response: list[ExtensionParameter],
    result: tuple[bool, bool, int, int],
) -> None:
    assert negotiate(response, **offer) == result


@pytest.mark.parametrize(
    ("offer", "response", "error", "message"),
    [
        # Section 7: duplicate parameters.
        ({}, [SNCT, SNCT], DuplicateParameter, "server_no_context_takeover"),
        ({}, [CNCT, CNCT], DuplicateParameter, "client_no_context_takeover"),
        ({}, [smwb(9), smwb(9)], DuplicateParameter, "server_max_window_bits"),
        ({}, [cmwb(9), cmwb(10)], DuplicateParameter, "client_max_window_bits"),
        # Section 7: unknown parameters; names are case-sensitive.
        ({}, [("foo", None)], InvalidParameterName, "foo"),
        ({}, [("Server_No_Context_Takeover", None)], InvalidParameterName, "Server"),
        # Values.
        ({}, [("server_no_context_takeover", "")], InvalidParameterValue, "empty"),
        ({}, [("client_no_context_takeover", "1")], InvalidParameterValue, "1"),
        ({}, [("server_max_window_bits", None)], InvalidParameterValue, "missing"),
        ({}, [("server_max_window_bits", "7")], InvalidParameterValue, "7"),
        ({}, [("server_max_window_bits", "16")], InvalidParameterValue, "16"),
        ({}, [("server_max_window_bits", "09")], InvalidParameterValue, "09"),
        ({}, [("server_max_window_bits", "+9")], InvalidParameterValue, r"\+9"),
        ({}, [("server_max_window_bits", " 9")], InvalidParameterValue, " 9"),
        ({}, [("server_max_window_bits", "\u0669")], InvalidParameterValue, "\u0669"),
        ({}, [("client_max_window_bits", None)], InvalidParameterValue, "missing"),
        ({}, [("client_max_window_bits", "abc")], InvalidParameterValue, "abc"),
        ({}, [("client_max_window_bits", "")], InvalidParameterValue, "empty"),
        # Section 7.1.1.1: a requested server_no_context_takeover must be echoed.
        (
            {"server_no_context_takeover": True},
            [],
            NegotiationError,
            "without server_no_context_takeover",
        ),
        # Section 7.1.2.1: a requested server_max_window_bits must be echoed, not
        # raised.
        (
            {"server_max_window_bits": 10},
            [],
            NegotiationError,
            "without server_max_window_bits",
        ),
        (
            {"server_max_window_bits": 10},
            [smwb(11)],
            NegotiationError,
            "server_max_window_bits=11, above the 10",
        ),
        # Section 7.1.2.2: client_max_window_bits only if offered, never raised.
        (
            {"client_max_window_bits": None},
            [cmwb(10)],
            NegotiationError,
            "did not include",
        ),
        (
            {"client_max_window_bits": 10},
            [cmwb(11)],
            NegotiationError,
            "client_max_window_bits=11, above the 10",
        ),
    ],
)
def test_response_rejected(
    offer: dict[str, Any],
    response: list[ExtensionParameter],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        negotiate(response, **offer)


def test_response_rejected_after_permessage_deflate_was_accepted() -> None:
    factory = ClientPerMessageDeflateFactory()
    first = factory.process_response_params([], [])
    with pytest.raises(NegotiationError, match="accepted permessage-deflate twice"):
        factory.process_response_params([], [first])


def test_compress_settings_reach_the_extension() -> None:
    factory = ClientPerMessageDeflateFactory(compress_settings={"memLevel": 5})
    ext = factory.process_response_params([], [])
    assert ext.compress_settings == {"memLevel": 5}


# What the Autobahn fuzzing server answers to the default offer in cases 12.x and
# 13.x (client mode): no parameter, client_no_context_takeover, and a client window
# of 8 (older releases), 9 or 15, alone or together.
AUTOBAHN_RESPONSES = [
    [],
    [CNCT],
    [cmwb(8)],
    [cmwb(9)],
    [cmwb(15)],
    [CNCT, cmwb(8)],
    [CNCT, cmwb(9)],
    [CNCT, cmwb(15)],
]


@pytest.mark.parametrize("response", AUTOBAHN_RESPONSES)
def test_autobahn_responses(response: list[ExtensionParameter]) -> None:
    (factory,) = enable_client_permessage_deflate(None)
    assert factory.get_request_params() == [("client_max_window_bits", None)]
    ext = factory.process_response_params(response, [])
    assert isinstance(ext, PerMessageDeflate)
    assert ext.local_no_context_takeover is (CNCT in response)
    server = mirror(ext)
    data = b'{"Ein": "Geist, der stets verneint!"}' * 300
    for _ in range(3):
        frames = fragments(Opcode.TEXT, data, [256] * (len(data) // 256 - 1))
        assert decode_message(server, encode_message(ext, frames)) == data
        assert decode_message(ext, encode_message(server, frames)) == data
        payload = ext.encode(Frame(Opcode.TEXT, data)).data
        if ext.local_no_context_takeover:
            window = ext.local_max_window_bits
            assert strict_inflate(payload + TAIL, window) == data


# ---------------------------------------------------------------------------
# enable_client_permessage_deflate
# ---------------------------------------------------------------------------


def test_enable_adds_the_default_factory() -> None:
    result = enable_client_permessage_deflate(None)
    assert len(result) == 1
    (factory,) = result
    assert isinstance(factory, ClientPerMessageDeflateFactory)
    assert factory.client_max_window_bits is True
    assert factory.compress_settings == {"level": 1, "memLevel": 5}
    assert factory.compress_threshold == 64
    assert enable_client_permessage_deflate([])[0].name == "permessage-deflate"
    # Each call gets its own settings: editing one offer leaves the next alone.
    factory.compress_settings["level"] = 9
    (again,) = enable_client_permessage_deflate(None)
    assert isinstance(again, ClientPerMessageDeflateFactory)
    assert again.compress_settings["level"] == 1


def test_enable_appends_after_other_extensions() -> None:
    other = SimpleNamespace(name="x-other")
    extensions: list[Any] = [other]
    result = enable_client_permessage_deflate(extensions)
    assert result[0] is other
    assert isinstance(result[1], ClientPerMessageDeflateFactory)
    assert extensions == [other]  # the argument is left alone


def test_enable_keeps_an_existing_factory() -> None:
    custom = ClientPerMessageDeflateFactory(server_max_window_bits=10)
    extensions = (custom,)
    result = enable_client_permessage_deflate(extensions)
    assert result == [custom]
    assert result[0] is custom
    assert isinstance(result, list)
