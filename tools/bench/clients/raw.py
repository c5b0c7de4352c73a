"""The transport ceiling: WebSocket spoken by hand, with as little work as can be.

The handshake is a fixed request; every frame to send is built and masked once
per distinct payload, then written again as is; echoed frames are cut out of the
byte stream by their length and handed back as ``bytes``, text included (no UTF-8
decoding). No library can do less per message over the same socket, so these two
clients show how much of a client's time is protocol work at all.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
from collections import deque
from urllib.parse import urlsplit

from tools.bench.clients.base import (
    AsyncClient,
    AsyncLink,
    DeflateUnsupported,
    SyncClient,
    SyncLink,
)
from tools.bench.scenarios import Message

__all__ = ["FrameCutter", "RawAsyncio", "RawSocket", "handshake_request", "mask_frame"]

_KEY = base64.b64encode(b"wskit-bench-key!").decode()
_ACCEPT = base64.b64encode(
    hashlib.sha1((_KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
)
_MASK = b"\x9a\x4f\x21\xd3"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING = 1, 2, 8, 9
READ_SIZE = 256 * 1024


def handshake_request(url: str) -> bytes:
    """The opening handshake request (RFC 6455, section 4.1)."""
    parts = urlsplit(url)
    return (
        f"GET {parts.path or '/'} HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {_KEY}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def check_response(head: bytes) -> None:
    """Refuse anything but a 101 with the right accept key.

    Raises:
        ConnectionError: The server did not switch protocols as expected.
    """
    if not head.startswith(b"HTTP/1.1 101") or _ACCEPT not in head:
        raise ConnectionError(f"raw client: unexpected handshake response {head!r}")


def mask_frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked client frame (RFC 6455, section 5.2)."""
    length = len(payload)
    if length < 126:
        header = bytes([0x80 | opcode, 0x80 | length])
    elif length < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    key = (_MASK * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(
        length, "big"
    )
    return header + _MASK + masked


_CLOSE_FRAME = mask_frame(OP_CLOSE, (1000).to_bytes(2, "big"))


class FrameCutter:
    """Cuts unmasked server frames out of a byte stream.

    ``feed`` returns the payloads of the data frames completed by the bytes fed;
    ``closed`` turns true once a close frame arrived. A fragmented message is
    refused: the echo server returns frames as the client sent them, and a raw
    client sends whole messages.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.closed = False

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self.buffer
        buffer += data
        payloads: list[bytes] = []
        start = 0
        end = len(buffer)
        while end - start >= 2:
            first, second = buffer[start], buffer[start + 1]
            length = second & 0x7F
            offset = start + 2
            if length == 126:
                if end - start < 4:
                    break
                length = int.from_bytes(buffer[offset : offset + 2], "big")
                offset += 2
            elif length == 127:
                if end - start < 10:
                    break
                length = int.from_bytes(buffer[offset : offset + 8], "big")
                offset += 8
            if end - offset < length:
                break
            opcode = first & 0x0F
            if not first & 0x80 or second & 0x80 or opcode == 0:
                raise ConnectionError(f"raw client: unexpected frame header {first:#x}")
            if opcode in (OP_TEXT, OP_BINARY):
                with memoryview(buffer) as view:  # one copy, not two
                    payloads.append(bytes(view[offset : offset + length]))
            elif opcode == OP_CLOSE:
                self.closed = True
            start = offset + length
        if start:
            del buffer[:start]
        return payloads


class _FrameCache(dict[Message, bytes]):
    """Masked frames by payload: each distinct payload is masked once."""

    def __missing__(self, message: Message) -> bytes:
        if isinstance(message, str):
            frame = mask_frame(OP_TEXT, message.encode())
        else:
            frame = mask_frame(OP_BINARY, message)
        self[message] = frame
        return frame


class _RawProtocol(asyncio.Protocol):
    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.cutter = FrameCutter()
        self.messages: deque[bytes] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.error: Exception | None = None
        self.frames = _FrameCache()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                check_response(bytes(self.head[:end]))
            except ConnectionError as exc:
                self.opened.set_exception(exc)
                return
            self.opened.set_result(None)
            data = bytes(self.head[end + 4 :])
        try:
            payloads = self.cutter.feed(data)
        except ConnectionError as exc:
            self._fail(exc)
            return
        if payloads:
            self.messages.extend(payloads)
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        error = ConnectionError("raw client: connection lost")
        if not self.opened.done():
            self.opened.set_exception(error)
        self._fail(error)
        if not self.lost.done():
            self.lost.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def send(self, message: Message) -> None:
        assert self.transport is not None
        self.transport.write(self.frames[message])

    async def recv(self) -> Message:
        messages = self.messages
        if not messages:
            if self.error is not None:
                raise self.error
            waiter = asyncio.get_running_loop().create_future()
            self.waiter = waiter
            await waiter
        return messages.popleft()

    async def close(self) -> None:
        assert self.transport is not None
        self.transport.write(_CLOSE_FRAME)
        # The server answers the close frame, then closes TCP.
        await self.lost
        self.transport.close()


class RawAsyncio(AsyncClient):
    async def connect(self, url: str, *, deflate: bool, text: bool) -> AsyncLink:
        if deflate:
            raise DeflateUnsupported("the raw clients do not compress")
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        _, protocol = await asyncio.get_running_loop().create_connection(
            lambda: _RawProtocol(handshake_request(url)), parts.hostname, parts.port
        )
        await protocol.opened
        return AsyncLink(protocol.send, protocol.recv, protocol.close)


class _RawSocketConnection:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(handshake_request(url))
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError("raw client: connection closed in the handshake")
            head += data
        end = head.index(b"\r\n\r\n")
        check_response(head[:end])
        self.cutter = FrameCutter()
        self.messages: deque[bytes] = deque(self.cutter.feed(head[end + 4 :]))
        self.frames = _FrameCache()

    def send(self, message: Message) -> None:
        self.sock.sendall(self.frames[message])

    def recv(self) -> Message:
        messages = self.messages
        while not messages:
            data = self.sock.recv(READ_SIZE)
            if not data:
                raise ConnectionError("raw client: connection closed")
            messages.extend(self.cutter.feed(data))
        return messages.popleft()

    def close(self) -> None:
        self.sock.sendall(_CLOSE_FRAME)
        # Read to the end: the server echoes the close frame, then closes TCP.
        while self.sock.recv(READ_SIZE):
            pass
        self.sock.close()


class RawSocket(SyncClient):
    def connect(self, url: str, *, deflate: bool, text: bool) -> SyncLink:
        if deflate:
            raise DeflateUnsupported("the raw clients do not compress")
        connection = _RawSocketConnection(url)
        return SyncLink(connection.send, connection.recv, connection.close)
