from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Callable
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wskit.core import frames as frames_module
from wskit.core import protocol as protocol_module
from wskit.core.events import BinaryData, Close, Ping, Pong, TextData
from wskit.core.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHeader,
    InvalidMessage,
    InvalidState,
    InvalidStatus,
    InvalidUpgrade,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
    UnsafeHeader,
)
from wskit.core.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from wskit.core.frames import CloseCode
from wskit.core.handshake import accept_key
from wskit.core.http11 import Response
from wskit.core.masking import apply_mask
from wskit.core.protocol import ClientProtocol, State

URI = "ws://example.com/chat"


# Helpers: the server's side of the wire, written out by hand.


def server_frame(opcode: int, data: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    head = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(data)
    if n < 126:
        return struct.pack("!BB", head, n) + data
    if n < 65536:
        return struct.pack("!BBH", head, 126, n) + data
    return struct.pack("!BBQ", head, 127, n) + data


def client_frames(chunks: list[bytes]) -> list[tuple[int, bool, bool, bytes]]:
    """Decode the masked frames a client wrote: (opcode, fin, rsv1, payload)."""
    wire = b"".join(chunks)
    frames = []
    pos = 0
    while pos < len(wire):
        head, second = wire[pos], wire[pos + 1]
        assert second & 0x80, "client frames must be masked"
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
        payload = apply_mask(wire[pos : pos + length], key)
        pos += length
        frames.append((head & 0x0F, bool(head & 0x80), bool(head & 0x40), payload))
    return frames


def handshake_response(
    key: str, *extra: str, status: str = "101 Switching Protocols"
) -> bytes:
    lines = [
        f"HTTP/1.1 {status}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_key(key)}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def open_protocol(**kwargs: object) -> ClientProtocol:
    return ClientProtocol(URI, state=State.OPEN, **kwargs)  # type: ignore[arg-type]


def state_of(protocol: ClientProtocol) -> State:
    """Read the state through a call, so that type narrowing does not stick."""
    return protocol.state


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


# Handshake.


class TestHandshake:
    def test_request(self) -> None:
        protocol = ClientProtocol(
            URI, origin="https://example.com", subprotocols=["chat"]
        )
        request = protocol.connect()
        assert request.path == "/chat"
        assert request.headers["Host"] == "example.com"
        assert request.headers["Sec-WebSocket-Key"] == protocol.key
        assert request.headers["Origin"] == "https://example.com"
        assert request.headers["Sec-WebSocket-Protocol"] == "chat"
        protocol.send_request(request)
        (data,) = protocol.data_to_send()
        assert data.startswith(b"GET /chat HTTP/1.1\r\n")
        assert data.endswith(b"\r\n\r\n")
        assert protocol.request is request

    def test_request_twice(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        with pytest.raises(InvalidState, match="twice"):
            protocol.send_request(protocol.connect())

    def test_request_when_open(self) -> None:
        protocol = open_protocol()
        with pytest.raises(InvalidState, match="connection is open"):
            protocol.send_request(protocol.connect())

    def test_header_injection_refused(self) -> None:
        protocol = ClientProtocol(URI)
        request = protocol.connect()
        request.headers["X-Evil"] = "a\r\nInjected: yes"
        with pytest.raises(UnsafeHeader):
            protocol.send_request(request)
        assert protocol.data_to_send() == []

    def test_success(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.data_to_send()
        protocol.receive_data(handshake_response(protocol.key))
        (response,) = protocol.events_received()
        assert isinstance(response, Response)
        assert response.status_code == 101
        assert protocol.state is State.OPEN
        assert protocol.response is response
        assert protocol.handshake_exc is None

    def test_success_with_frames_in_same_packet(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.receive_data(
            handshake_response(protocol.key) + server_frame(0x1, b"hi")
        )
        events = protocol.events_received()
        assert events[1:] == [TextData("hi")]

    def test_split_response(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        data = handshake_response(protocol.key) + server_frame(0x2, b"x")
        for i in range(len(data)):
            protocol.receive_data(data[i : i + 1])
        events = protocol.events_received()
        assert isinstance(events[0], Response)
        assert events[1:] == [BinaryData(b"x")]

    def test_subprotocol_and_extension(self) -> None:
        protocol = ClientProtocol(
            URI,
            subprotocols=["chat", "superchat"],
            extensions=[ClientPerMessageDeflateFactory()],
        )
        protocol.send_request(protocol.connect())
        protocol.receive_data(
            handshake_response(
                protocol.key,
                "Sec-WebSocket-Protocol: superchat",
                "Sec-WebSocket-Extensions: permessage-deflate",
            )
        )
        assert protocol.subprotocol == "superchat"
        assert [ext.name for ext in protocol.extensions] == ["permessage-deflate"]

    def test_rejected_status(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.data_to_send()
        protocol.receive_data(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope"
        )
        (response,) = protocol.events_received()
        assert isinstance(response, Response)
        assert isinstance(protocol.handshake_exc, InvalidStatus)
        assert protocol.handshake_exc.response.status_code == 403
        assert protocol.handshake_exc.response.body == b"nope"
        assert protocol.data_to_send() == [b""]
        assert protocol.close_expected()
        # Anything after the failure is ignored.
        protocol.receive_data(b"garbage")
        assert protocol.events_received() == []

    def test_body_until_eof(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.receive_data(b"HTTP/1.1 500 Oops\r\n\r\nbroken")
        assert protocol.events_received() == []
        protocol.receive_eof()
        assert isinstance(protocol.handshake_exc, InvalidStatus)
        assert protocol.handshake_exc.response.body == b"broken"
        assert protocol.state is State.CLOSED

    def test_bad_accept(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.receive_data(handshake_response("AAAAAAAAAAAAAAAAAAAAAA=="))
        assert isinstance(protocol.handshake_exc, InvalidHeader)
        assert protocol.state is State.CONNECTING

    def test_missing_upgrade(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.receive_data(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n"
        )
        assert isinstance(protocol.handshake_exc, InvalidUpgrade)

    def test_unexpected_subprotocol(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.receive_data(
            handshake_response(protocol.key, "Sec-WebSocket-Protocol: chat")
        )
        assert isinstance(protocol.handshake_exc, NegotiationError)

    def test_malformed_response(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.receive_data(b"SSH-2.0-OpenSSH\r\n\r\n")
        assert isinstance(protocol.handshake_exc, InvalidMessage)
        assert protocol.data_to_send()[-1] == b""

    def test_eof_during_handshake(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.data_to_send()
        protocol.receive_data(b"HTTP/1.1 101 Switching")
        protocol.receive_eof()
        assert isinstance(protocol.handshake_exc, InvalidMessage)
        assert protocol.state is State.CLOSED
        assert protocol.data_to_send() == [b""]


# Data frames.


class TestReceive:
    def test_text(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x1, "café".encode()))
        assert protocol.events_received() == [TextData("café")]

    def test_binary(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x2, b"\x00\xff"))
        assert protocol.events_received() == [BinaryData(b"\x00\xff")]

    def test_fragmented_text_split_codepoint(self) -> None:
        protocol = open_protocol()
        encoded = "€uro".encode()
        protocol.receive_data(
            server_frame(0x1, encoded[:1], fin=False)
            + server_frame(0x0, encoded[1:4], fin=False)
            + server_frame(0x0, encoded[4:])
        )
        events = protocol.events_received()
        assert events == [
            TextData("", False),
            TextData("€u", False),
            TextData("ro", True),
        ]

    def test_fragmented_binary_with_interleaved_ping(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(
            server_frame(0x2, b"a", fin=False)
            + server_frame(0x9, b"p")
            + server_frame(0x0, b"b")
        )
        assert protocol.events_received() == [
            BinaryData(b"a", False),
            Ping(b"p"),
            BinaryData(b"b", True),
        ]
        assert client_frames(protocol.data_to_send()) == [(0xA, True, False, b"p")]

    def test_pong(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0xA, b"x"))
        assert protocol.events_received() == [Pong(b"x")]
        assert protocol.data_to_send() == []

    def test_one_byte_at_a_time(self) -> None:
        protocol = open_protocol()
        wire = (
            server_frame(0x1, "héllo".encode(), fin=False)
            + server_frame(0x9, b"")
            + server_frame(0x0, b" w\xc3\xb6rld")
            + server_frame(0x2, bytes(300))
        )
        for i in range(len(wire)):
            protocol.receive_data(wire[i : i + 1])
        events = protocol.events_received()
        text = "".join(e.data for e in events if isinstance(e, TextData))
        assert text == "héllo wörld"
        assert events[-1] == BinaryData(bytes(300))
        assert Ping(b"") in events

    @pytest.mark.parametrize("size", [100, 70000])
    def test_read_ending_a_frame_and_bringing_more(self, size: int) -> None:
        # The frame in progress is ended alone, then what follows the end takes
        # the same way as a read that starts on a frame boundary.
        protocol = open_protocol()
        first = server_frame(0x2, b"a" * size)
        rest = (
            server_frame(0x1, b"one")
            + server_frame(0x9, b"p")
            + server_frame(0x2, b"two")
            + server_frame(0x1, b"thr")[:3]
        )
        protocol.receive_data(first[:50])
        assert protocol.events_received() == []
        protocol.receive_data(bytearray(first[50:] + rest))
        protocol.receive_data(server_frame(0x1, b"thr")[3:])
        assert protocol.events_received() == [
            BinaryData(b"a" * size),
            TextData("one"),
            Ping(b"p"),
            BinaryData(b"two"),
            TextData("thr"),
        ]
        assert client_frames(protocol.data_to_send()) == [(0xA, True, False, b"p")]


class TestReceiveErrors:
    def expect_failure(self, protocol: ClientProtocol, code: int) -> None:
        frames = client_frames(protocol.data_to_send())
        assert frames[-1][0] == 0x8
        assert struct.unpack("!H", frames[-1][3][:2])[0] == code
        assert protocol.state is State.CLOSING
        assert protocol.close_expected()
        # The server closes TCP; then the connection is closed with 1006.
        protocol.receive_eof()
        assert state_of(protocol) is State.CLOSED
        assert protocol.close_code == 1006
        exc = protocol.close_exc()
        assert isinstance(exc, ConnectionClosedError)
        assert exc.sent is not None
        assert exc.sent.code == code
        assert protocol.failure is not None
        assert exc.__cause__ is protocol.failure

    def test_invalid_utf8(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x1, b"\xff"))
        assert protocol.events_received() == []
        self.expect_failure(protocol, 1007)

    def test_invalid_utf8_in_partial_frame_fails_fast(self) -> None:
        protocol = open_protocol()
        frame = server_frame(0x1, b"ok\xce\xba\xf4\x90\x80\x80" + b"x" * 100)
        protocol.receive_data(frame[:6])
        assert protocol.data_to_send() == []
        protocol.receive_data(frame[6:12])
        self.expect_failure(protocol, 1007)

    def test_valid_utf8_in_partial_frames(self) -> None:
        protocol = open_protocol()
        payload = "κόσμε".encode() * 10
        frame = server_frame(0x1, payload, fin=False) + server_frame(0x0, payload)
        for i in range(0, len(frame), 3):
            protocol.receive_data(frame[i : i + 3])
        events = protocol.events_received()
        assert (
            "".join(e.data for e in events if isinstance(e, TextData)) == "κόσμε" * 20
        )
        assert protocol.data_to_send() == []

    def test_partial_binary_frame_not_decoded(self) -> None:
        protocol = open_protocol()
        frame = server_frame(0x2, b"\xff" * 10)
        protocol.receive_data(frame[:5])
        protocol.receive_data(frame[5:])
        assert protocol.events_received() == [BinaryData(b"\xff" * 10)]

    def test_invalid_utf8_across_fragments(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x1, b"\xce", fin=False))
        assert protocol.events_received() == [TextData("", False)]
        protocol.receive_data(server_frame(0x0, b"\x41"))
        self.expect_failure(protocol, 1007)

    def test_truncated_utf8_at_end(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x1, b"\xce"))
        self.expect_failure(protocol, 1007)

    def test_unexpected_continuation(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x0, b"x"))
        self.expect_failure(protocol, 1002)

    def test_expected_continuation(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(
            server_frame(0x1, b"x", fin=False) + server_frame(0x1, b"y")
        )
        self.expect_failure(protocol, 1002)

    def test_reserved_bits(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x2, b"x", rsv=0b100))
        self.expect_failure(protocol, 1002)

    def test_reserved_opcode(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x3, b""))
        self.expect_failure(protocol, 1002)

    def test_too_big_single_frame(self) -> None:
        protocol = open_protocol(max_size=10)
        protocol.receive_data(server_frame(0x2, b"x" * 11)[:4])
        self.expect_failure(protocol, 1009)
        assert isinstance(protocol.failure, PayloadTooBig)

    def test_too_big_across_fragments(self) -> None:
        protocol = open_protocol(max_size=10)
        protocol.receive_data(server_frame(0x2, b"x" * 6, fin=False))
        protocol.receive_data(server_frame(0x0, b"x" * 6))
        self.expect_failure(protocol, 1009)

    def test_exactly_max_size(self) -> None:
        protocol = open_protocol(max_size=10)
        protocol.receive_data(
            server_frame(0x2, b"x" * 5, fin=False) + server_frame(0x0, b"x" * 5)
        )
        assert len(protocol.events_received()) == 2
        protocol.receive_data(server_frame(0x2, b"y" * 10))
        assert protocol.events_received() == [BinaryData(b"y" * 10)]

    def test_no_limit(self) -> None:
        protocol = open_protocol(max_size=None)
        protocol.receive_data(server_frame(0x2, bytes(3 * 2**20)))
        assert protocol.events_received() == [BinaryData(bytes(3 * 2**20))]

    def test_bad_close_code(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x8, close_payload(1005)))
        self.expect_failure(protocol, 1002)

    def test_bad_close_reason(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x8, b"\x03\xe8\xff"))
        self.expect_failure(protocol, 1007)

    def test_long_error_reason_truncated(self) -> None:
        protocol = open_protocol(max_size=1)
        protocol.receive_data(server_frame(0x2, bytes(10**12 // 10**6)))
        frames = client_frames(protocol.data_to_send())
        assert len(frames[-1][3]) <= 125

    def test_fault_in_a_frame_ended_by_a_read_drops_the_rest(self) -> None:
        protocol = open_protocol()
        bad = server_frame(0x1, b"a" * 200 + b"\xff")
        protocol.receive_data(bad[:-1])
        protocol.receive_data(bad[-1:] + server_frame(0x1, b"after"))
        assert protocol.events_received() == []
        self.expect_failure(protocol, 1007)

    def test_data_after_failure_ignored(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x0, b"x"))
        protocol.data_to_send()
        protocol.receive_data(server_frame(0x9, b"p"))
        assert protocol.events_received() == []
        assert protocol.data_to_send() == []


class TestCompression:
    def deflate_protocol(self, **params: object) -> ClientProtocol:
        protocol = ClientProtocol(
            URI,
            extensions=[ClientPerMessageDeflateFactory(**params)],  # type: ignore[arg-type]
        )
        protocol.send_request(protocol.connect())
        protocol.data_to_send()
        protocol.receive_data(
            handshake_response(
                protocol.key, "Sec-WebSocket-Extensions: permessage-deflate"
            )
        )
        protocol.events_received()
        return protocol

    @staticmethod
    def compress(data: bytes) -> bytes:
        compressor = zlib.compressobj(wbits=-15)
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    def test_receive_compressed_text(self) -> None:
        protocol = self.deflate_protocol()
        payload = self.compress(("é" * 100).encode())
        protocol.receive_data(server_frame(0x1, payload, rsv=0b100))
        assert protocol.events_received() == [TextData("é" * 100)]

    def test_receive_uncompressed_message(self) -> None:
        protocol = self.deflate_protocol()
        protocol.receive_data(server_frame(0x2, b"plain"))
        assert protocol.events_received() == [BinaryData(b"plain")]

    def test_send_compressed(self) -> None:
        protocol = self.deflate_protocol()
        protocol.send_text("a" * 1000)
        ((opcode, fin, rsv1, payload),) = client_frames(protocol.data_to_send())
        assert (opcode, fin, rsv1) == (0x1, True, True)
        assert len(payload) < 100
        decompressor = zlib.decompressobj(wbits=-15)
        assert decompressor.decompress(payload + b"\x00\x00\xff\xff") == b"a" * 1000

    def test_decompression_bomb(self) -> None:
        protocol = self.deflate_protocol()
        protocol.max_size = 2**16
        protocol.receive_data(server_frame(0x2, self.compress(bytes(2**24)), rsv=0b100))
        assert protocol.events_received() == []
        frames = client_frames(protocol.data_to_send())
        assert struct.unpack("!H", frames[-1][3][:2])[0] == 1009

    def test_rsv1_on_continuation(self) -> None:
        protocol = self.deflate_protocol()
        protocol.receive_data(
            server_frame(0x2, self.compress(b"a"), fin=False, rsv=0b100)
            + server_frame(0x0, self.compress(b"b"), rsv=0b100)
        )
        frames = client_frames(protocol.data_to_send())
        assert struct.unpack("!H", frames[-1][3][:2])[0] == 1002

    def test_rsv1_on_control_frame(self) -> None:
        protocol = self.deflate_protocol()
        protocol.receive_data(server_frame(0x9, b"", rsv=0b100))
        assert protocol.events_received() == []
        frames = client_frames(protocol.data_to_send())
        assert struct.unpack("!H", frames[-1][3][:2])[0] == 1002

    def test_bomb_reports_the_real_limit(self) -> None:
        protocol = self.deflate_protocol()
        protocol.max_size = 1000
        compressor = zlib.compressobj(wbits=-15)
        first = compressor.compress(bytes(600)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        second = compressor.compress(bytes(600)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        protocol.receive_data(
            server_frame(0x2, first, fin=False, rsv=0b100)
            + server_frame(0x0, second[:-4])
        )
        assert isinstance(protocol.failure, PayloadTooBig)
        assert protocol.failure.max_size == 1000

    def test_rsv2_refused_even_with_extension(self) -> None:
        protocol = self.deflate_protocol()
        protocol.receive_data(server_frame(0x2, b"x", rsv=0b010))
        frames = client_frames(protocol.data_to_send())
        assert struct.unpack("!H", frames[-1][3][:2])[0] == 1002


class TestSend:
    def test_text_and_binary(self) -> None:
        protocol = open_protocol()
        protocol.send_text("hé")
        protocol.send_text(b"raw")
        protocol.send_binary(memoryview(b"\x01\x02"))
        assert client_frames(protocol.data_to_send()) == [
            (0x1, True, False, "hé".encode()),
            (0x1, True, False, b"raw"),
            (0x2, True, False, b"\x01\x02"),
        ]

    def test_fragmented(self) -> None:
        protocol = open_protocol()
        protocol.send_text("a", fin=False)
        with pytest.raises(InvalidState, match="fragmented message is in progress"):
            protocol.send_binary(b"x")
        protocol.send_continuation(b"b", fin=False)
        protocol.send_ping(b"p")
        protocol.send_continuation(b"c", fin=True)
        assert [f[:2] for f in client_frames(protocol.data_to_send())] == [
            (0x1, False),
            (0x0, False),
            (0x9, True),
            (0x0, True),
        ]

    def test_continuation_without_message(self) -> None:
        protocol = open_protocol()
        with pytest.raises(InvalidState, match="no fragmented message"):
            protocol.send_continuation(b"x", fin=True)

    def test_ping_pong(self) -> None:
        protocol = open_protocol()
        protocol.send_ping(b"abc")
        protocol.send_pong(b"")
        assert client_frames(protocol.data_to_send()) == [
            (0x9, True, False, b"abc"),
            (0xA, True, False, b""),
        ]

    def test_control_payload_too_long(self) -> None:
        protocol = open_protocol()
        with pytest.raises(ValueError, match="limit is 125"):
            protocol.send_ping(bytes(126))

    def test_send_when_connecting(self) -> None:
        protocol = ClientProtocol(URI)
        with pytest.raises(InvalidState, match="connection is connecting"):
            protocol.send_text("x")

    def test_send_after_close(self) -> None:
        protocol = open_protocol()
        protocol.send_close(1000)
        calls: list[Callable[[], None]] = [
            lambda: protocol.send_text("x"),
            lambda: protocol.send_binary(b"x"),
            lambda: protocol.send_ping(),
            lambda: protocol.send_pong(),
            lambda: protocol.send_close(),
        ]
        for call in calls:
            with pytest.raises(InvalidState, match="connection is closing"):
                call()


# Closing.


class TestClose:
    @pytest.mark.parametrize(
        ("code", "reason"),
        [(CloseCode.NORMAL_CLOSURE, ""), (1000, ""), (CloseCode.NORMAL_CLOSURE, "x")],
    )
    def test_normal_closure_frame(self, code: int, reason: str) -> None:
        # The default close frame is shared between connections; it must be
        # the same frame and the same close_sent as any other 1000.
        protocol = open_protocol()
        protocol.send_close(code, reason)
        assert client_frames(protocol.data_to_send()) == [
            (0x8, True, False, close_payload(1000, reason))
        ]
        assert protocol.close_sent == Close(1000, reason)
        assert protocol.close_sent.code is code
        assert protocol.state is State.CLOSING

    def test_client_initiated(self) -> None:
        protocol = open_protocol()
        protocol.send_close(1000, "bye")
        assert client_frames(protocol.data_to_send()) == [
            (0x8, True, False, close_payload(1000, "bye"))
        ]
        assert protocol.state is State.CLOSING
        assert protocol.close_expected()
        assert (protocol.close_code, protocol.close_reason) == (None, None)
        protocol.receive_data(server_frame(0x8, close_payload(1000, "ok")))
        assert protocol.events_received() == [Close(1000, "ok")]
        assert protocol.data_to_send() == []
        protocol.receive_eof()
        assert state_of(protocol) is State.CLOSED
        assert protocol.data_to_send() == [b""]
        assert protocol.close_code == 1000
        assert protocol.close_reason == "ok"
        exc = protocol.close_exc()
        assert isinstance(exc, ConnectionClosedOK)
        assert exc.rcvd_then_sent is False
        assert "sent 1000 (OK) bye; then received 1000 (OK) ok" in str(exc)

    def test_server_initiated(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x8, close_payload(1001, "restart")))
        assert protocol.events_received() == [Close(1001, "restart")]
        assert client_frames(protocol.data_to_send()) == [
            (0x8, True, False, close_payload(1001, "restart"))
        ]
        assert protocol.state is State.CLOSING
        protocol.receive_eof()
        assert protocol.close_code == 1001
        exc = protocol.close_exc()
        assert isinstance(exc, ConnectionClosedOK)
        assert exc.rcvd_then_sent is True

    def test_server_close_without_code(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x8, b""))
        assert client_frames(protocol.data_to_send()) == [(0x8, True, False, b"")]
        protocol.receive_eof()
        assert protocol.close_code == 1005
        assert isinstance(protocol.close_exc(), ConnectionClosedOK)

    def test_close_without_code(self) -> None:
        protocol = open_protocol()
        protocol.send_close()
        assert client_frames(protocol.data_to_send()) == [(0x8, True, False, b"")]

    def test_error_close_code(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x8, close_payload(1011, "oops")))
        protocol.receive_eof()
        exc = protocol.close_exc()
        assert isinstance(exc, ConnectionClosedError)
        assert exc.code == 1011
        assert exc.reason == "oops"

    def test_eof_without_close(self) -> None:
        protocol = open_protocol()
        protocol.receive_eof()
        assert protocol.state is State.CLOSED
        assert protocol.close_code == 1006
        assert protocol.close_reason == ""
        assert protocol.data_to_send() == [b""]
        exc = protocol.close_exc()
        assert isinstance(exc, ConnectionClosedError)
        assert str(exc) == "no close frame received or sent"

    def test_eof_twice(self) -> None:
        protocol = open_protocol()
        protocol.receive_eof()
        with pytest.raises(InvalidState):
            protocol.receive_eof()
        with pytest.raises(InvalidState):
            protocol.receive_data(b"x")

    def test_messages_before_close_delivered(self) -> None:
        protocol = open_protocol()
        protocol.receive_data(
            server_frame(0x1, b"last")
            + server_frame(0x8, close_payload(1000))
            + server_frame(0x1, b"ignored")
        )
        assert protocol.events_received() == [TextData("last"), Close(1000, "")]

    @pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 5000])
    def test_refuses_bad_code(self, code: int) -> None:
        protocol = open_protocol()
        with pytest.raises(ValueError, match=f"cannot send close code {code}"):
            protocol.send_close(code)

    def test_reason_without_code(self) -> None:
        with pytest.raises(ValueError, match="without a close code"):
            open_protocol().send_close(None, "why")

    def test_reason_too_long(self) -> None:
        with pytest.raises(ValueError, match="limit is 123 bytes"):
            open_protocol().send_close(1000, "é" * 62)

    def test_fail(self) -> None:
        protocol = open_protocol()
        protocol.fail(1011, "keepalive ping timeout")
        assert client_frames(protocol.data_to_send()) == [
            (0x8, True, False, close_payload(1011, "keepalive ping timeout"))
        ]
        assert protocol.state is State.CLOSING
        protocol.fail(1011)  # no second close frame
        assert protocol.data_to_send() == []

    def test_fail_1006_sends_nothing(self) -> None:
        protocol = open_protocol()
        protocol.fail(1006)
        assert protocol.data_to_send() == []
        assert protocol.state is State.OPEN

    def test_fail_while_connecting(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.data_to_send()
        protocol.fail(1006)
        assert protocol.data_to_send() == [b""]
        assert protocol.state is State.CLOSED

    def test_no_pong_after_close_sent(self) -> None:
        protocol = open_protocol()
        protocol.send_close(1000)
        protocol.data_to_send()
        protocol.receive_data(server_frame(0x9, b"p"))
        assert protocol.events_received() == [Ping(b"p")]
        assert protocol.data_to_send() == []


class TestMisc:
    def test_negative_max_size(self) -> None:
        with pytest.raises(ValueError, match="max_size"):
            ClientProtocol(URI, max_size=-1)

    def test_debug_logging(self, caplog: pytest.LogCaptureFixture) -> None:
        logger = logging.getLogger("wskit.test")
        logger.setLevel(logging.DEBUG)
        with caplog.at_level(logging.DEBUG, logger="wskit.test"):
            protocol = ClientProtocol(URI, logger=logger)
            protocol.send_request(protocol.connect())
            protocol.receive_data(
                handshake_response(protocol.key) + server_frame(0x1, b"x")
            )
            protocol.send_binary(b"y")
            protocol.send_ping()
            protocol.receive_data(server_frame(0x0, b"z"))
            protocol.receive_eof()
        messages = [r.getMessage() for r in caplog.records]
        assert "> GET /chat HTTP/1.1" in messages
        assert "< HTTP/1.1 101 Switching Protocols" in messages
        assert "< TEXT 1 bytes" in messages
        assert "> BINARY 1 bytes" in messages
        assert "> PING 0 bytes" in messages
        assert any(
            m.startswith("! failing connection with code 1002") for m in messages
        )
        assert "< EOF" in messages

    def test_default_logger(self) -> None:
        assert ClientProtocol(URI).logger.name == "wskit.client"


# Properties.

server_frames = st.lists(
    st.one_of(
        st.tuples(st.just(0x2), st.binary(max_size=300)),
        st.tuples(st.just(0x1), st.text(max_size=100).map(str.encode)),
        st.tuples(st.sampled_from([0x9, 0xA]), st.binary(max_size=125)),
    ),
    max_size=6,
)


Outcome = tuple[list[object], list[tuple[int, bool, bool, bytes]]]


def run_reads(
    wire: bytes,
    cuts: list[int],
    feed: Callable[[ClientProtocol, bytes], list[object]],
    protocol: ClientProtocol | None = None,
) -> Outcome:
    """Feed ``wire`` cut at ``cuts``, each read through ``feed``, which returns the
    messages it took itself; return the events (but the handshake response) and
    the frames the client sent back."""
    if protocol is None:
        protocol = open_protocol()
    prev = 0
    events: list[object] = []
    out: list[bytes] = []
    for cut in [*sorted(cuts), len(wire)]:
        events += feed(protocol, wire[prev:cut])
        prev = cut
        events += [e for e in protocol.events_received() if not isinstance(e, Response)]
        out += protocol.data_to_send()
    return events, client_frames(out)


def feed_data(protocol: ClientProtocol, data: bytes) -> list[object]:
    protocol.receive_data(data)
    return []


def feed_taking(protocol: ClientProtocol, data: bytes | memoryview) -> list[object]:
    """take_messages() first, then receive_data() for the rest."""
    messages, rest = protocol.take_messages(data)
    if rest:
        protocol.receive_data(rest)
    return [TextData(m) if isinstance(m, str) else BinaryData(m) for m in messages]


def run_split(wire: bytes, cuts: list[int]) -> Outcome:
    return run_reads(wire, cuts, feed_data)


def merge_text(events: list[object]) -> list[object]:
    """Join consecutive data fragments: partial frames may split them differently."""
    merged: list[object] = []
    for event in events:
        if (
            isinstance(event, TextData)
            and merged
            and isinstance(merged[-1], TextData)
            and not merged[-1].final
        ):
            merged[-1] = TextData(merged[-1].data + event.data, event.final)
        else:
            merged.append(event)
    return merged


@pytest.mark.property
@settings(max_examples=200)
@given(frames=server_frames, data=st.data())
def test_split_invariance(frames: list[tuple[int, bytes]], data: st.DataObject) -> None:
    wire = b"".join(server_frame(op, payload) for op, payload in frames)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=8))
    reference = run_split(wire, [])
    assert run_split(wire, cuts) == reference
    assert run_split(wire, list(range(len(wire)))) == reference
    assert len(merge_text(reference[0])) == len(frames)


@pytest.mark.property
@settings(max_examples=300)
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=5))
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    protocol = open_protocol(max_size=1000)
    prev = 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        protocol.receive_data(data[prev:cut])
        prev = cut
    protocol.events_received()
    protocol.data_to_send()
    protocol.receive_eof()
    assert protocol.state is State.CLOSED


@pytest.mark.property
@settings(max_examples=100)
@given(st.binary(max_size=400))
def test_random_handshake_bytes_never_raise(data: bytes) -> None:
    protocol = ClientProtocol(URI)
    protocol.send_request(protocol.connect())
    protocol.receive_data(data)
    protocol.receive_eof()
    assert protocol.state is State.CLOSED


def test_protocol_error_is_not_raised_to_caller() -> None:
    protocol = open_protocol()
    try:
        protocol.receive_data(b"\x8f\x00")
    except ProtocolError:  # pragma: no cover
        pytest.fail("peer faults must not raise")


def test_connect_additional_headers_and_user_agent() -> None:
    protocol = ClientProtocol(URI)
    request = protocol.connect(
        additional_headers={"User-Agent": "custom/1.0", "X-Token": "t"},
    )
    assert request.headers.get_all("User-Agent") == ["custom/1.0"]
    assert request.headers["X-Token"] == "t"
    request = ClientProtocol(URI).connect(user_agent_header=None)
    assert "User-Agent" not in request.headers


class TestDeferredFailure:
    def test_fault_after_message_is_held(self) -> None:
        protocol = open_protocol(defer_failures=True)
        protocol.receive_data(server_frame(0x1, b"first") + server_frame(0x0, b"bad"))
        assert protocol.events_received() == [TextData("first")]
        assert protocol.failure_pending
        assert protocol.state is State.OPEN
        assert protocol.data_to_send() == []
        # The application answers the message before the failure goes out.
        protocol.send_text("first")
        assert protocol.fail_pending()
        frames = client_frames(protocol.data_to_send())
        assert [f[0] for f in frames] == [0x1, 0x8]
        assert struct.unpack("!H", frames[1][3][:2])[0] == 1002
        assert not protocol.fail_pending()
        assert isinstance(protocol.failure, ProtocolError)

    def test_fault_without_message_fails_at_once(self) -> None:
        protocol = open_protocol(defer_failures=True)
        protocol.receive_data(server_frame(0x1, b"\xff"))
        assert not protocol.failure_pending
        assert state_of(protocol) is State.CLOSING

    def test_fragment_is_not_a_message(self) -> None:
        protocol = open_protocol(defer_failures=True)
        protocol.receive_data(
            server_frame(0x1, b"a", fin=False) + server_frame(0x2, b"")
        )
        assert not protocol.failure_pending

    def test_eof_applies_held_failure(self) -> None:
        protocol = open_protocol(defer_failures=True)
        protocol.receive_data(server_frame(0x2, b"x") + server_frame(0x3, b""))
        protocol.receive_eof()
        assert not protocol.failure_pending
        assert protocol.close_sent is not None
        assert protocol.close_sent.code == 1002
        assert isinstance(protocol.close_exc(), ConnectionClosedError)

    def test_application_close_drops_held_failure(self) -> None:
        protocol = open_protocol(defer_failures=True)
        protocol.receive_data(server_frame(0x2, b"x") + server_frame(0x3, b""))
        protocol.send_close(1000)
        assert not protocol.fail_pending()

    def test_held_data_is_discarded(self) -> None:
        protocol = open_protocol(defer_failures=True)
        protocol.receive_data(server_frame(0x2, b"x") + server_frame(0x3, b""))
        protocol.events_received()
        protocol.receive_data(server_frame(0x2, b"y"))
        assert protocol.events_received() == []


def test_utf8_failure_reason_does_not_depend_on_chunking() -> None:
    # Found by fuzz_frames.py: the decoder's message names positions within the
    # chunk it saw, so the close reason used to change with the TCP segmentation.
    wire = server_frame(0x1, b"ab\xce")
    sent = []
    for chunks in ([wire], [wire[i : i + 1] for i in range(len(wire))]):
        protocol = open_protocol()
        for chunk in chunks:
            protocol.receive_data(chunk)
        sent.append(client_frames(protocol.data_to_send()))
    assert sent[0] == sent[1]
    assert sent[0][-1][3] == close_payload(1007, "invalid UTF-8 data")


wire_pieces = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([0x1, 0x2]), st.binary(max_size=300)).map(
            lambda f: server_frame(f[0], f[1])
        ),
        st.text(max_size=40).map(lambda t: server_frame(0x1, t.encode())),
        st.binary(max_size=130).map(lambda b: server_frame(0x1, b)),
        st.binary(max_size=6),
    ),
    max_size=6,
)


@pytest.mark.property
@settings(max_examples=300)
@given(pieces=wire_pieces, max_size=st.sampled_from([None, 0, 50, 1000]))
def test_whole_reads_match_byte_reads(
    pieces: list[bytes], max_size: int | None
) -> None:
    """Whole frames taken straight from a read behave as the general parser does.

    Fed at once, complete small frames go through the fast path; fed a byte at a
    time, through the general parser. Events, answers and the close code agree,
    whatever the mix of valid frames, bad UTF-8, oversized frames and garbage.
    """
    wire = b"".join(pieces)
    results = []
    for cuts in ([], list(range(len(wire)))):
        protocol = open_protocol(max_size=max_size)
        prev = 0
        events: list[object] = []
        out: list[bytes] = []
        for cut in [*cuts, len(wire)]:
            protocol.receive_data(wire[prev:cut])
            prev = cut
            events += protocol.events_received()
            out += protocol.data_to_send()
        protocol.receive_eof()
        events += protocol.events_received()
        out += protocol.data_to_send()
        results.append((merge_text(events), client_frames(out), protocol.close_code))
    assert results[0] == results[1]


@pytest.mark.property
@settings(max_examples=200)
@given(frames=server_frames, data=st.data())
def test_split_invariance_collecting(
    frames: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    """The same, with every incomplete payload collected read by read."""
    wire = b"".join(server_frame(op, payload) for op, payload in frames)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=8))
    reference = run_split(wire, [])
    with mock.patch.object(frames_module, "_COLLECT_MIN", 0):
        assert run_split(wire, cuts) == reference
        assert run_split(wire, list(range(len(wire)))) == reference


def feed_into(protocol: ClientProtocol, data: bytes) -> list[object]:
    """As an I/O layer that reads into receive_buffer() when it can."""
    while data:
        view = protocol.receive_buffer()
        if view is None:
            protocol.receive_data(data)
            break
        size = min(len(view), len(data))
        view[:size] = data[:size]
        protocol.received_into(size)
        data = data[size:]
    return []


def run_split_into(wire: bytes, cuts: list[int]) -> Outcome:
    return run_reads(wire, cuts, feed_into)


@pytest.mark.property
@settings(max_examples=200)
@given(frames=server_frames, data=st.data())
def test_split_invariance_reading_into(
    frames: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    """The same, reading every incomplete payload in place."""
    wire = b"".join(server_frame(op, payload) for op, payload in frames)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=8))
    reference = run_split(wire, [])
    with mock.patch.object(frames_module, "_COLLECT_MIN", 0):
        assert run_split_into(wire, cuts) == reference
        assert run_split_into(wire, list(range(len(wire)))) == reference
        # Every read that the fast paths leave is fed header first.
        with mock.patch.object(protocol_module, "_HEADER_ALONE_MIN", 2):
            assert run_split_into(wire, cuts) == reference
            assert run_split(wire, cuts) == reference


def run_split_reusing(
    wire: bytes, cuts: list[int], *, handshake: bool = False
) -> Outcome:
    """run_split() through one read buffer, scribbled over after each read."""
    protocol = open_protocol()
    if handshake:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        protocol.data_to_send()
        wire = handshake_response(protocol.key) + wire
    buffer = bytearray(len(wire) + 1)

    def feed(protocol: ClientProtocol, data: bytes) -> list[object]:
        buffer[: len(data)] = data
        events = feed_taking(protocol, memoryview(buffer)[: len(data)])
        buffer[:] = b"\xee" * len(buffer)
        return events

    return run_reads(wire, cuts, feed, protocol)


@pytest.mark.property
@settings(max_examples=200)
@given(frames=server_frames, data=st.data())
def test_read_buffer_may_be_reused(
    frames: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    """Nothing the protocol keeps points into the caller's read buffer."""
    wire = b"".join(server_frame(op, payload) for op, payload in frames)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=8))
    reference = run_split(wire, [])
    assert run_split_reusing(wire, cuts) == reference
    assert run_split_reusing(wire, cuts, handshake=True) == reference
    with (
        mock.patch.object(frames_module, "_COLLECT_MIN", 0),
        mock.patch.object(protocol_module, "_HEADER_ALONE_MIN", 2),
    ):
        assert run_split_reusing(wire, cuts) == reference


class TestReceiveInto:
    def test_large_message_read_in_place(self) -> None:
        protocol = open_protocol()
        payload = bytes(range(256)) * 1000
        wire = server_frame(0x2, payload) + server_frame(0x1, b"next")
        assert protocol.receive_buffer() is None
        protocol.receive_data(wire[:100])
        view = protocol.receive_buffer()
        assert view is not None
        assert len(view) == len(payload) + 10 - 100
        view[:] = wire[100 : 100 + len(view)]
        protocol.received_into(len(view))
        assert protocol.receive_buffer() is None
        protocol.receive_data(wire[10 + len(payload) :])
        assert protocol.events_received() == [
            BinaryData(payload),
            TextData("next"),
        ]

    def test_invalid_utf8_fails_before_the_frame_ends(self) -> None:
        protocol = open_protocol()
        wire = server_frame(0x1, b"a" * 1000 + b"\xff" + b"a" * 99_000)
        protocol.receive_data(wire[:20])
        view = protocol.receive_buffer()
        assert view is not None
        view[:1100] = wire[20:1120]
        protocol.received_into(1100)
        assert state_of(protocol) is State.CLOSING
        close = client_frames(protocol.data_to_send())
        assert close[0][:1] == (0x8,)
        assert close[0][3][:2] == struct.pack("!H", 1007)
        # Bytes after the failure are dropped, and no buffer is lent for them.
        assert protocol.receive_buffer() is None

    def test_no_buffer_during_the_handshake(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        assert protocol.receive_buffer() is None
        with pytest.raises(ValueError, match="receive_buffer"):
            protocol.received_into(1)


# take_messages(): the fast way in for I/O layers.


def run_split_taking(wire: bytes, cuts: list[int]) -> Outcome:
    """Like run_split, through take_messages() then receive_data() for the rest."""
    return run_reads(wire, cuts, feed_taking)


@pytest.mark.property
@settings(max_examples=200)
@given(frames=server_frames, data=st.data())
def test_take_messages_then_receive_data_is_receive_data(
    frames: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    wire = b"".join(server_frame(op, payload) for op, payload in frames)
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=8))
    reference = run_split(wire, [])
    assert run_split_taking(wire, cuts) == reference
    assert run_split_taking(wire, list(range(len(wire)))) == reference


class TestTakeMessages:
    def test_whole_messages_then_the_rest(self) -> None:
        protocol = open_protocol()
        ping = server_frame(0x9, b"hi")
        data = server_frame(0x1, b"a") + server_frame(0x2, b"b") + ping
        messages, rest = protocol.take_messages(data)
        assert messages == ["a", b"b"]
        assert rest == ping
        assert protocol.events_received() == []

    def test_everything_taken_leaves_nothing(self) -> None:
        protocol = open_protocol()
        messages, rest = protocol.take_messages(server_frame(0x2, b"x" * 200))
        assert messages == [b"x" * 200]
        assert rest == b""

    def test_nothing_taken_while_events_wait(self) -> None:
        # The messages would overtake the Ping that came before them.
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x9, b"first"))
        data = server_frame(0x1, b"second")
        assert protocol.take_messages(data) == ([], data)
        protocol.events_received()
        assert protocol.take_messages(data) == (["second"], b"")

    def test_nothing_taken_mid_frame_or_mid_message(self) -> None:
        protocol = open_protocol()
        whole = server_frame(0x1, b"whole")
        protocol.receive_data(server_frame(0x2, b"abcdef")[:4])
        assert protocol.take_messages(whole) == ([], whole)
        protocol = open_protocol()
        protocol.receive_data(server_frame(0x1, b"frag", fin=False))
        protocol.events_received()
        assert protocol.take_messages(whole) == ([], whole)

    def test_max_size_is_enforced_by_the_general_parser(self) -> None:
        protocol = open_protocol(max_size=3)
        data = server_frame(0x2, b"four")
        assert protocol.take_messages(data) == ([], data)
        protocol.receive_data(data)
        assert protocol.state is State.CLOSING
        assert protocol.close_sent is not None
        assert protocol.close_sent.code == 1009

    def test_nothing_taken_during_the_handshake_or_after_eof(self) -> None:
        protocol = ClientProtocol(URI)
        protocol.send_request(protocol.connect())
        data = server_frame(0x1, b"early")
        assert protocol.take_messages(data) == ([], data)
        protocol = open_protocol()
        protocol.receive_eof()
        assert protocol.take_messages(data) == ([], data)

    def test_nothing_taken_with_an_extension(self) -> None:
        protocol = TestCompression().deflate_protocol()
        data = server_frame(0x1, b"plain")
        assert protocol.take_messages(data) == ([], data)
