"""The faster permessage-deflate paths behave exactly as the general ones.

Two things make the compressed path cheaper, and each must be invisible to the
peer: small messages go out uncompressed (``compress_threshold``), and the protocol
sends and receives whole compressed messages without :class:`Frame` objects. The tests
compare each with the general path, with the websockets library's and wsproto's
permessage-deflate, and with the websockets library's server over a real socket.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import struct
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate as ReferencePerMessageDeflate,
)
from websockets.frames import Frame as ReferenceFrame
from websockets.frames import Opcode as ReferenceOpcode

from testing.threaded import Peer, wait_until, websockets_server
from wskit.core.events import BinaryData, Event, TextData
from wskit.core.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    enable_client_permessage_deflate,
)
from wskit.core.frames import Frame, Opcode
from wskit.core.masking import apply_mask
from wskit.core.protocol import ClientProtocol, State

TAIL = b"\x00\x00\xff\xff"
URI = "ws://localhost/"


def reference_peer(ext: PerMessageDeflate) -> ReferencePerMessageDeflate:
    """The server's side of ``ext``, as the websockets library implements it."""
    return ReferencePerMessageDeflate(
        remote_no_context_takeover=ext.local_no_context_takeover,
        local_no_context_takeover=ext.remote_no_context_takeover,
        remote_max_window_bits=ext.local_max_window_bits,
        local_max_window_bits=max(9, ext.remote_max_window_bits),
    )


def reference_decode(peer: ReferencePerMessageDeflate, frame: Frame) -> bytes:
    ref = ReferenceFrame(
        ReferenceOpcode(frame.opcode), frame.data, fin=frame.fin, rsv1=frame.rsv1
    )
    return bytes(peer.decode(ref).data)


def strict_inflate(data: bytes, window_bits: int) -> bytes:
    """Inflate one output byte at a time, so that every match must come from a
    window of ``2 ** window_bits`` bytes (see test_permessage_deflate.py)."""
    decoder = zlib.decompressobj(wbits=-window_bits)
    out = bytearray()
    pending = data
    while True:
        chunk = decoder.decompress(pending, 1)
        out += chunk
        pending = decoder.unconsumed_tail
        if not chunk and not pending:
            return bytes(out)


def json_records(count: int, seed: int = 0) -> bytes:
    rnd = random.Random(seed)
    return json.dumps(
        [
            {
                "id": index,
                "symbol": rnd.choice(["AAPL", "MSFT", "GOOG"]),
                "price": round(rnd.uniform(10, 500), 2),
                "side": rnd.choice(["buy", "sell"]),
            }
            for index in range(count)
        ]
    ).encode()


# ---------------------------------------------------------------------------
# compress_threshold
# ---------------------------------------------------------------------------


def test_short_message_sent_uncompressed() -> None:
    ext = PerMessageDeflate(False, False, 15, 15, compress_threshold=64)
    frame = Frame(Opcode.TEXT, b"x" * 63)
    assert ext.encode(frame) is frame
    assert ext.encode_payload(Opcode.BINARY, b"y" * 63, True) == (b"y" * 63, False)


def test_message_at_threshold_compressed() -> None:
    ext = PerMessageDeflate(False, False, 15, 15, compress_threshold=64)
    encoded = ext.encode(Frame(Opcode.TEXT, b"x" * 64))
    assert encoded.rsv1
    assert zlib.decompressobj(wbits=-15).decompress(encoded.data + TAIL) == b"x" * 64


def test_short_fragments_are_compressed() -> None:
    # RSV1 is decided on the first frame, before the message's size is known:
    # fragmented messages are always compressed.
    ext = PerMessageDeflate(False, False, 15, 15, compress_threshold=64)
    first = ext.encode(Frame(Opcode.TEXT, b"ab", fin=False))
    last = ext.encode(Frame(Opcode.CONT, b"cd"))
    assert first.rsv1
    assert not last.rsv1
    decoder = zlib.decompressobj(wbits=-15)
    assert decoder.decompress(first.data + last.data + TAIL) == b"abcd"


@pytest.mark.parametrize("lnct", [False, True])
def test_threshold_keeps_the_streams_in_step(lnct: bool) -> None:
    # A message sent as it is never enters the compressor, so the peer's
    # decompressor, which never sees it either, stays in step.
    ext = PerMessageDeflate(False, lnct, 15, 12, compress_threshold=64)
    peer = reference_peer(ext)
    rnd = random.Random(64)
    body = json_records(50)
    for _ in range(200):
        size = rnd.choice([0, 1, 20, 63, 64, 65, 300, 2000])
        start = rnd.randrange(len(body) - size)
        message = body[start : start + size]
        frame = ext.encode(Frame(Opcode.BINARY, message))
        assert frame.rsv1 is (size >= 64)
        assert reference_decode(peer, frame) == message


@pytest.mark.parametrize("value", [-1, 1.5, True, "64"])
def test_invalid_threshold(value: Any) -> None:
    with pytest.raises(ValueError, match="compress_threshold must be an integer"):
        PerMessageDeflate(False, False, 15, 15, compress_threshold=value)
    with pytest.raises(ValueError, match="compress_threshold must be an integer"):
        ClientPerMessageDeflateFactory(compress_threshold=value)


def test_factory_passes_the_threshold_on() -> None:
    factory = ClientPerMessageDeflateFactory(compress_threshold=100)
    assert "compress_threshold=100" in repr(factory)
    ext = factory.process_response_params([], [])
    assert ext.compress_threshold == 100
    assert (
        ClientPerMessageDeflateFactory()
        .process_response_params([], [])
        .compress_threshold
        == 0
    )


# ---------------------------------------------------------------------------
# Large frames
# ---------------------------------------------------------------------------


def large_messages() -> list[bytes]:
    rnd = random.Random(65536)
    records = json_records(4000)
    return [
        records[:65536],
        bytes(rnd.getrandbits(8) for _ in range(70000)),
        records[1000 : 1000 + 300000],
        bytes(200000),
        records[:65537] * 3,
    ]


@pytest.mark.parametrize("lnct", [False, True])
@pytest.mark.parametrize("bits", [8, 9, 12, 15])
def test_large_frames_round_trip(lnct: bool, bits: int) -> None:
    ext = PerMessageDeflate(False, lnct, 15, bits, {"level": 1, "memLevel": 5})
    peer = reference_peer(ext)
    stream = b""
    messages = large_messages()
    for message in messages:
        frame = ext.encode(Frame(Opcode.BINARY, message))
        assert frame.rsv1
        assert reference_decode(peer, frame) == message
        stream += frame.data + TAIL
        if bits == 8 and lnct:
            # Every match within the 256 bytes that an 8-bit peer keeps.
            assert strict_inflate(frame.data + TAIL, 8) == message
    if bits == 8 and not lnct:
        # Across messages too, when the window is carried over.
        assert strict_inflate(stream, 8) == b"".join(messages)


# ---------------------------------------------------------------------------
# The protocol's whole-message paths
# ---------------------------------------------------------------------------


def deflate_protocol(*, debug: bool = False, **kwargs: Any) -> ClientProtocol:
    """An open protocol with permessage-deflate negotiated with 12-bit windows.

    With ``debug``, a logger at DEBUG level sends every frame through the general
    parser and the Frame-based encoder, for comparison.
    """
    logger = logging.getLogger("wskit.test.deflate")
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    protocol = ClientProtocol(URI, state=State.OPEN, logger=logger, **kwargs)
    factory = enable_client_permessage_deflate(None)[0]
    protocol.extensions = [
        factory.process_response_params(
            [("server_max_window_bits", "12"), ("client_max_window_bits", "12")], []
        )
    ]
    return protocol


def server_frame(head: int, data: bytes) -> bytes:
    n = len(data)
    if n < 126:
        return struct.pack("!BB", head, n) + data
    if n < 65536:
        return struct.pack("!BBH", head, 126, n) + data
    return struct.pack("!BBQ", head, 127, n) + data


def client_frames(chunks: list[bytes]) -> list[tuple[int, bytes]]:
    """The masked frames a client wrote: (first byte, unmasked payload)."""
    wire = b"".join(chunks)
    frames = []
    pos = 0
    while pos < len(wire):
        head, second = wire[pos], wire[pos + 1]
        length = second & 0x7F
        pos += 2
        if length == 126:
            (length,) = struct.unpack_from("!H", wire, pos)
            pos += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", wire, pos)
            pos += 8
        key = wire[pos : pos + 4]
        pos += 4
        frames.append((head, apply_mask(wire[pos : pos + length], key)))
        pos += length
    return frames


def test_send_path_matches_the_frame_path() -> None:
    messages: list[str | bytes] = [
        "",
        "short",
        "x" * 64,
        json_records(30).decode(),
        json_records(3000),
        b"\x00" * 100,
    ]
    results = []
    for debug in (False, True):
        protocol = deflate_protocol(debug=debug)
        for message in messages:
            if isinstance(message, str):
                protocol.send_text(message)
            else:
                protocol.send_binary(message)
        protocol.send_binary(b"ab", fin=False)
        protocol.send_continuation(b"cd", fin=True)
        results.append(client_frames(protocol.data_to_send()))
    assert results[0] == results[1]
    heads = [head for head, _ in results[0]]
    # Short messages uncompressed, others with RSV1; fragments as RFC 7692 says.
    assert heads == [0x81, 0x81, 0xC1, 0xC1, 0xC2, 0xC2, 0x42, 0x80]


class ServerSide:
    """Builds what a permessage-deflate server sends, with context takeover."""

    def __init__(self) -> None:
        self.compressor = zlib.compressobj(wbits=-12, memLevel=5)

    def compressed(self, head: int, data: bytes) -> bytes:
        out = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        return server_frame(head, out[:-4])


@st.composite
def deflated_wire(draw: st.DrawFn) -> bytes:
    server = ServerSide()
    pieces = []
    for kind in draw(st.lists(st.integers(0, 9), max_size=8)):
        text = draw(st.text(max_size=200)).encode()
        blob = draw(st.binary(max_size=300))
        if kind == 0:
            pieces.append(server.compressed(0xC1, text))
        elif kind == 1:
            pieces.append(server.compressed(0xC2, blob))
        elif kind == 2:
            pieces.append(server_frame(0x81, text))
        elif kind == 3:
            pieces.append(server_frame(0x82, blob))
        elif kind == 4:
            # Invalid UTF-8, compressed.
            pieces.append(server.compressed(0xC1, b"ok\xff"))
        elif kind == 5:
            # Not deflate data at all.
            pieces.append(server_frame(0xC2, b"\xff\xff\xff\xff"))
        elif kind == 6:
            # A fragmented compressed message.
            out = server.compressor.compress(blob) + server.compressor.flush(
                zlib.Z_SYNC_FLUSH
            )
            cut = len(out) // 2
            pieces.append(server_frame(0x42, out[:cut]))
            pieces.append(server_frame(0x80, out[cut:-4]))
        elif kind == 7:
            pieces.append(server_frame(0x89, blob[:125]))
        elif kind == 8:
            # Large once inflated: over the smaller limits.
            pieces.append(server.compressed(0xC2, bytes(5000)))
        else:
            pieces.append(blob[:5])
    return b"".join(pieces)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(wire=deflated_wire(), max_size=st.sampled_from([None, 0, 50, 1000, 2**20]))
def test_whole_compressed_reads_match_the_general_parser(
    wire: bytes, max_size: int | None
) -> None:
    """Events, answers and close codes agree between the whole-message path (data
    fed at once) and the general parser (a byte at a time, or with debug logging)."""
    results = []
    for debug, cuts in ((False, []), (False, list(range(len(wire)))), (True, [])):
        protocol = deflate_protocol(debug=debug, max_size=max_size)
        prev = 0
        events: list[Event] = []
        out: list[bytes] = []
        for cut in [*cuts, len(wire)]:
            protocol.receive_data(wire[prev:cut])
            prev = cut
            events += protocol.events_received()
            out += protocol.data_to_send()
        protocol.receive_eof()
        events += protocol.events_received()
        out += protocol.data_to_send()
        results.append((merge(events), client_frames(out), protocol.close_code))
    assert results[0] == results[1] == results[2]


def merge(events: list[Event]) -> list[object]:
    """Join data fragments: how a message was cut into events does not matter."""
    merged: list[object] = []
    texts: list[str] = []
    blobs: list[bytes] = []
    for event in events:
        if isinstance(event, TextData):
            texts.append(event.data)
            if event.final:
                merged.append(("text", "".join(texts)))
                texts = []
        elif isinstance(event, BinaryData):
            blobs.append(event.data)
            if event.final:
                merged.append(("binary", b"".join(blobs)))
                blobs = []
        else:
            merged.append(event)
    return merged


def test_several_compressed_messages_in_one_read() -> None:
    server = ServerSide()
    protocol = deflate_protocol()
    wire = (
        server.compressed(0xC1, "héllo".encode())
        + server_frame(0x82, b"plain")
        + server.compressed(0xC2, b"hello hello")
    )
    protocol.receive_data(wire)
    assert protocol.events_received() == [
        TextData("héllo"),
        BinaryData(b"plain"),
        BinaryData(b"hello hello"),
    ]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\xff\xff\xff\xff", 1002),
        (None, 1007),
        (bytes(3000), 1009),
    ],
)
def test_faults_in_a_whole_compressed_message(payload: bytes | None, code: int) -> None:
    server = ServerSide()
    protocol = deflate_protocol(max_size=1000)
    if payload is None:
        frame = server.compressed(0xC1, b"bad \xff")
    elif code == 1009:
        frame = server.compressed(0xC2, payload)
    else:
        frame = server_frame(0xC2, payload)
    # A message before the fault is delivered; nothing after it is parsed.
    protocol.receive_data(
        server.compressed(0xC1, b"first") + frame + server_frame(0x82, b"after")
    )
    assert protocol.events_received() == [TextData("first")]
    ((head, close),) = client_frames(protocol.data_to_send())
    assert head == 0x88
    assert struct.unpack("!H", close[:2])[0] == code


# ---------------------------------------------------------------------------
# Against the websockets library's server, over a real socket
# ---------------------------------------------------------------------------


class Client:
    """The sans-I/O protocol over a blocking socket: just enough to exchange
    messages with a real server."""

    def __init__(self, peer: Peer, factory: ClientPerMessageDeflateFactory) -> None:
        self.protocol = ClientProtocol(peer.uri, extensions=[factory], max_size=2**24)
        self.sock = socket.create_connection(("127.0.0.1", peer.port), timeout=10)
        self.events: list[Event] = []
        self.protocol.send_request(self.protocol.connect())
        self.flush()
        while self.protocol.state is State.CONNECTING:
            self.read()
        assert self.protocol.handshake_exc is None
        self.events.clear()

    def flush(self) -> list[bytes]:
        out = self.protocol.data_to_send()
        for data in out:
            if data:
                self.sock.sendall(data)
        return out

    def read(self) -> None:
        data = self.sock.recv(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self.events += self.protocol.events_received()
        self.flush()

    def echo(self, message: str | bytes) -> tuple[list[bytes], str | bytes]:
        if isinstance(message, str):
            self.protocol.send_text(message)
        else:
            self.protocol.send_binary(message)
        sent = self.flush()
        while not self.events:
            self.read()
        event = self.events.pop(0)
        assert isinstance(event, (TextData, BinaryData))
        assert event.final
        return sent, event.data

    def close(self) -> None:
        self.protocol.send_close(1000)
        self.flush()
        while self.protocol.state is not State.CLOSED:
            self.read()
        self.sock.close()


def test_real_server_receives_uncompressed_and_large_messages() -> None:
    factory = enable_client_permessage_deflate(None)[0]
    assert isinstance(factory, ClientPerMessageDeflateFactory)
    records = json_records(10000)
    messages: list[str | bytes] = [
        "tiny",  # under the threshold: sent without RSV1
        records[:2000].decode(),
        b"\x01" * 10,
        records,  # large
        "tiny",
        records[:300000].decode(),
        records[1:70000],
        "",
    ]
    with websockets_server() as peer:
        client = Client(peer, factory)
        try:
            assert [ext.name for ext in client.protocol.extensions] == [
                "permessage-deflate"
            ]
            for message in messages:
                sent, echoed = client.echo(message)
                assert echoed == message
                rsv1 = bool(sent[0][0] & 0x40)
                assert rsv1 is (len(message) >= 64)
            client.close()
        finally:
            client.sock.close()
        wait_until(lambda: len(peer.extensions) == 1)
        assert "permessage-deflate" in peer.extensions[0]
        wait_until(lambda: len(peer.received) == len(messages))
        assert peer.received == messages
        wait_until(lambda: peer.close_codes == [1000])


@pytest.mark.parametrize("level", [1, 6, 9])
def test_real_server_with_other_levels(level: int) -> None:
    factory = ClientPerMessageDeflateFactory(
        compress_settings={"level": level, "memLevel": 8}, compress_threshold=0
    )
    messages: list[str | bytes] = ["a", json_records(3000), "b" * 100]
    with websockets_server() as peer:
        client = Client(peer, factory)
        try:
            for message in messages:
                sent, echoed = client.echo(message)
                assert echoed == message
                assert sent[0][0] & 0x40  # compressed, however short
            client.close()
        finally:
            client.sock.close()
        wait_until(lambda: len(peer.received) == len(messages))
        assert peer.received == messages
