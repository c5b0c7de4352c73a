"""A scriptable raw TCP server for fault injection, and the table of faults.

Every client backend runs the same table (:data:`HANDSHAKE_FAULTS`,
:data:`FRAME_FAULTS`) against the same server, so a fault is tried on each of them
and expected to end the same way: a specific exception, with a message or a
close code that says what happened.

The server is an asyncio server hosted in a daemon thread (like
:mod:`testing.threaded`), so that :func:`fault_server` is a plain context manager
that the asyncio tests and the threading tests both use. Each connection runs a
:data:`Script`: a coroutine driving a :class:`FaultConnection`, which can answer
the handshake with arbitrary bytes or never, write raw frames, close in the middle
of a message, reset the connection (``SO_LINGER`` 0), go silent without a FIN,
stop reading, or flood until the client's flow control stalls it. What the client
sent is recorded on the :class:`FaultPeer`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import re
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from wskit.core import exceptions as E

from .servers import GUID, TIMEOUT, Peer
from .threaded import hosted

__all__ = [
    "FRAME_FAULTS",
    "HANDSHAKE_FAULTS",
    "FaultConnection",
    "FaultPeer",
    "FrameFault",
    "HandshakeFault",
    "Script",
    "accept_for",
    "deflate",
    "fault_server",
    "frame",
]

# Building frames and responses.


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length: int | None = None,
    width: int | None = None,
) -> bytes:
    """A frame as a server would write it, or would not.

    Args:
        opcode: Any 4-bit opcode, reserved ones included.
        payload: The payload, before masking.
        fin: The FIN bit.
        rsv: The three RSV bits, as a number from 0 to 7 (4 is RSV1).
        mask: A masking key: servers must not mask, so this is a fault.
        length: The length to announce, if not the payload's.
        width: Force the length encoding: 7, 16 or 64 bits.
    """
    size = len(payload) if length is None else length
    if width is None:
        width = 7 if size < 126 else 16 if size < 65536 else 64
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    if width == 7:
        head += bytes([mask_bit | size])
    elif width == 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if mask is not None:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def deflate(data: bytes) -> bytes:
    """Compress ``data`` as one permessage-deflate message (RFC 7692 7.2.1)."""
    compressor = zlib.compressobj(wbits=-15)
    compressed = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert compressed.endswith(b"\x00\x00\xff\xff")
    return compressed[:-4]


def accept_for(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value that answers ``key``."""
    digest = hashlib.sha1((key + GUID).encode()).digest()
    return base64.b64encode(digest).decode()


def _response(
    headers: Mapping[str, str], *, status: str = "HTTP/1.1 101 Switching Protocols"
) -> bytes:
    lines = [status, *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _upgrade(request: Mapping[str, str], **extra: str) -> dict[str, str]:
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Accept": accept_for(request["sec-websocket-key"]),
    }
    headers.update({name.replace("_", "-"): value for name, value in extra.items()})
    return headers


# The server.


@dataclasses.dataclass
class FaultPeer(Peer):
    """A :class:`Peer` that records what the client sent, byte for byte.

    Attributes:
        heads: Each raw handshake request (request line and headers).
        frames: The client's frames after the handshake: (opcode, payload).
        masks: The masking key of each of those frames (``b""`` if unmasked).
        pushed: Bytes the script managed to write with :meth:`FaultConnection.flood`.
        stalled: Set when a flood could not write for a while: the client
            stopped reading and the buffers between the two are full.
        done: Set when a connection's script ended.
    """

    heads: list[bytes] = dataclasses.field(default_factory=list)
    frames: list[tuple[int, bytes]] = dataclasses.field(default_factory=list)
    masks: list[bytes] = dataclasses.field(default_factory=list)
    pushed: int = 0
    stalled: threading.Event = dataclasses.field(default_factory=threading.Event)
    done: threading.Event = dataclasses.field(default_factory=threading.Event)


class FaultConnection:
    """One accepted connection, as a script sees it."""

    def __init__(
        self,
        peer: FaultPeer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.peer = peer
        self.reader = reader
        self.writer = writer
        self._buffer = b""
        #: The code of the client's close frame once received (maybe ``b""``).
        self.closing: bytes | None = None

    async def read_request(self) -> dict[str, str]:
        """Read the handshake request; return its headers, names in lower case."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        self.peer.heads.append(head)
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            if line:
                name, _, value = line.partition(":")
                key = name.strip().lower()
                value = value.strip()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self.peer.requests.append(headers)
        return headers

    async def handshake(
        self, *, compress: bool = False, **extra: str
    ) -> dict[str, str]:
        """Read the request and accept it.

        Args:
            compress: Accept permessage-deflate (the client must offer it),
                without context takeover, so each message stands alone.
            extra: More response headers, ``_`` in names written ``-``.
        """
        request = await self.read_request()
        if compress:
            assert "permessage-deflate" in request.get("sec-websocket-extensions", "")
            extra.setdefault(
                "Sec_WebSocket_Extensions",
                "permessage-deflate; server_no_context_takeover; "
                "client_no_context_takeover",
            )
        self.write(_response(_upgrade(request, **extra)))
        return request

    def write(self, data: bytes) -> None:
        """Write raw bytes."""
        self.writer.write(data)

    async def drain(self) -> None:
        """Wait until the written bytes left the user-space buffer."""
        await self.writer.drain()

    async def read_frames(self) -> None:
        """Record the client's frames until it sends a close frame or closes TCP.

        Bounded by the scaled unit: a client that neither closes nor writes is a
        client that hangs, and the test will say so.
        """
        while True:
            if self._parse_one():
                continue
            if self.closing:
                return
            chunk = await asyncio.wait_for(self.reader.read(65536), 2 * TIMEOUT)
            if not chunk:
                return
            self._buffer += chunk

    def _parse_one(self) -> bool:
        data = self._buffer
        if len(data) < 2:
            return False
        length = data[1] & 0x7F
        pos = 2
        if length == 126:
            if len(data) < 4:
                return False
            (length,) = struct.unpack_from("!H", data, 2)
            pos = 4
        elif length == 127:
            if len(data) < 10:
                return False
            (length,) = struct.unpack_from("!Q", data, 2)
            pos = 10
        mask = b""
        if data[1] & 0x80:
            if len(data) < pos + 4:
                return False
            mask = data[pos : pos + 4]
            pos += 4
        if len(data) < pos + length:
            return False
        payload = data[pos : pos + length]
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._buffer = data[pos + length :]
        self.peer.frames.append((data[0] & 0x0F, payload))
        self.peer.masks.append(mask)
        if data[0] & 0x0F == 0x8:
            self.closing = payload[:2]
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.peer.close_codes.append(code)
        return True

    async def finish(self) -> None:
        """End as a server should: read until the client's close frame, answer
        it with the same code, then close TCP."""
        await self.read_frames()
        if self.closing is not None:
            self.write(frame(0x8, self.closing))
            await self.drain()

    def reset(self) -> None:
        """Drop the connection with a TCP RST instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def hold(self) -> None:
        """Go silent: neither read nor write nor close, until the server stops."""
        # When the server stops, end normally: that spares the log a traceback
        # from asyncio's streams about a cancelled handler.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    async def flood(self, data: bytes, total: int, *, quiet: float = 0.5) -> None:
        """Write ``data`` again and again, up to ``total`` bytes.

        The server's own buffers are kept small, so the bytes counted in
        ``peer.pushed`` are the ones that left for the client. When a write
        cannot drain for ``quiet`` seconds, the client has stopped reading:
        ``peer.stalled`` is set and the flood goes on waiting (bounded).
        """
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        self.writer.transport.set_write_buffer_limits(high=len(data), low=0)
        while self.peer.pushed < total:
            self.write(data)
            try:
                await asyncio.wait_for(asyncio.shield(self.drain()), quiet)
            except asyncio.TimeoutError:
                self.peer.stalled.set()
                await asyncio.wait_for(self.drain(), 2 * TIMEOUT)
            self.peer.pushed += len(data)


Script = Callable[[FaultConnection], Awaitable[None]]
"""What the server does with each connection."""


@asynccontextmanager
async def _serve(
    script: Script, ssl_context: ssl.SSLContext | None
) -> AsyncIterator[FaultPeer]:
    peer = FaultPeer("127.0.0.1", 0, "ws" if ssl_context is None else "wss")
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    writers: list[asyncio.StreamWriter] = []

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await script(FaultConnection(peer, reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client went away: that is its business
        finally:
            writer.close()
            peer.done.set()

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Registered at once, not when the task first runs: a client that
        # connects and fails while the server stops still gets closed.
        peer.connections += 1
        writers.append(writer)
        tasks.add(loop.create_task(run(reader, writer)))

    server = await asyncio.start_server(accepted, "127.0.0.1", 0, ssl=ssl_context)
    peer.port = server.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:
        # A client that connected and gave up at once may still wait in the
        # accept queue: let the loop accept it, so that it is closed below
        # rather than leaked by a half-done accept when the loop stops.
        for _ in range(10):
            await asyncio.sleep(0)
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()  # a task cancelled before it ran did not
        await server.wait_closed()
        await asyncio.sleep(0)  # let the transports close their sockets


@contextmanager
def fault_server(
    script: Script, *, ssl_context: ssl.SSLContext | None = None
) -> Iterator[FaultPeer]:
    """Run ``script`` for each connection, in a server on its own thread.

    Args:
        script: What the server does with each connection.
        ssl_context: Serve TLS with this context.
    """
    with hosted(lambda: _serve(script, ssl_context)) as peer:
        yield peer


# Scripts.


def answer(data: bytes | Callable[[dict[str, str]], bytes]) -> Script:
    """Answer the handshake with ``data`` (or ``data(request)``), then close."""

    async def script(conn: FaultConnection) -> None:
        request = await conn.read_request()
        conn.write(data(request) if callable(data) else data)
        await conn.drain()

    return script


def answer_then_reset(data: bytes) -> Script:
    """Answer the handshake with ``data``, then reset the connection."""

    async def script(conn: FaultConnection) -> None:
        await conn.read_request()
        conn.write(data)
        await conn.drain()
        conn.reset()

    return script


async def never_answer(conn: FaultConnection) -> None:
    """Read the request, then go silent."""
    await conn.read_request()
    await conn.hold()


def after_handshake(
    data: bytes, *, compress: bool = False, then: str = "finish"
) -> Script:
    """Accept the handshake, write ``data``, then end as ``then`` says.

    Args:
        data: Raw bytes: frames, maybe faulty, maybe cut.
        compress: Accept permessage-deflate.
        then: ``"finish"`` reads until the client's close frame and answers it;
            ``"close"`` closes TCP at once (FIN); ``"reset"`` resets it (RST);
            ``"hold"`` goes silent without a FIN.
    """

    async def script(conn: FaultConnection) -> None:
        await conn.handshake(compress=compress)
        conn.write(data)
        await conn.drain()
        if then == "finish":
            await conn.finish()
        elif then == "close":
            return
        elif then == "reset":
            conn.reset()
        elif then == "hold":
            await conn.hold()
        else:  # pragma: no cover - table bug
            raise ValueError(then)

    return script


def flooding(data: bytes, total: int) -> Script:
    """Accept the handshake, :meth:`~FaultConnection.flood` ``data`` up to
    ``total`` bytes, then finish."""

    async def script(conn: FaultConnection) -> None:
        await conn.handshake()
        await conn.flood(data, total)
        await conn.finish()

    return script


# The table of handshake faults.


@dataclasses.dataclass(frozen=True)
class HandshakeFault:
    """A server that breaks the opening handshake.

    Attributes:
        id: The test id.
        script: The server's behaviour.
        error: The exception the client must raise (a subclass is fine).
        match: A regular expression that ``str(exc)`` must match: the message
            says what the server did wrong.
        cause: The type that ``exc.__cause__`` must have, if any.
        options: Client options for this fault.
    """

    id: str
    script: Script
    error: type[BaseException] | tuple[type[BaseException], ...]
    match: str
    cause: type[BaseException] | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def check(self, exc: BaseException) -> None:
        """Assert that ``exc`` is what this fault should raise."""
        assert isinstance(exc, self.error), f"{type(exc).__name__}: {exc}"
        assert re.search(self.match, str(exc)), f"{str(exc)!r} !~ {self.match!r}"
        if self.cause is not None:
            assert isinstance(exc.__cause__, self.cause), repr(exc.__cause__)


def _status(code: int, *headers: str, body: bytes = b"") -> bytes:
    head = [f"HTTP/1.1 {code} Status", *headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _accepting(**extra: str) -> Callable[[dict[str, str]], bytes]:
    return lambda request: _response(_upgrade(request, **extra))


def _without(name: str) -> Callable[[dict[str, str]], bytes]:
    def build(request: dict[str, str]) -> bytes:
        headers = _upgrade(request)
        del headers[name]
        return _response(headers)

    return build


HANDSHAKE_FAULTS: list[HandshakeFault] = [
    HandshakeFault(
        "never-answers",
        never_answer,
        TimeoutError,
        "timed out during opening handshake",
        options={"open_timeout": 0.2},
    ),
    HandshakeFault(
        "closes-before-answering",
        answer(b""),
        E.InvalidMessage,
        "connection closed before the server sent an HTTP response",
        cause=EOFError,
    ),
    HandshakeFault(
        "closes-mid-status-line",
        answer(b"HTTP/1.1 10"),
        E.InvalidMessage,
        "connection closed|status line",
        cause=EOFError,
    ),
    HandshakeFault(
        "closes-mid-headers",
        answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs"),
        E.InvalidMessage,
        "connection closed",
        cause=EOFError,
    ),
    HandshakeFault(
        "resets-mid-headers",
        answer_then_reset(b"HTTP/1.1 101 Switching Protocols\r\nUpgr"),
        (ConnectionResetError, E.InvalidMessage),
        "reset|connection closed",
    ),
    HandshakeFault(
        "401",
        answer(_status(401, 'WWW-Authenticate: Basic realm="x"', body=b"who?")),
        E.InvalidStatus,
        "HTTP 401",
    ),
    HandshakeFault(
        "426-upgrade-required",
        answer(_status(426, "Upgrade: websocket")),
        E.InvalidStatus,
        "HTTP 426",
    ),
    HandshakeFault("502", answer(_status(502)), E.InvalidStatus, "HTTP 502"),
    HandshakeFault(
        "chunked-500",
        answer(
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nerror\r\n0\r\n\r\n"
        ),
        E.InvalidStatus,
        "HTTP 500",
    ),
    HandshakeFault(
        "200-ok",
        answer(_status(200, body=b"<html></html>")),
        E.InvalidStatus,
        "HTTP 200",
    ),
    HandshakeFault(
        "redirect-loop",
        answer(_status(302, "Location: /again")),
        E.SecurityError,
        "redirects",
    ),
    HandshakeFault(
        "redirect-without-location",
        answer(_status(301)),
        E.InvalidStatus,
        "HTTP 301",
    ),
    HandshakeFault(
        "redirect-to-http-scheme",
        answer(_status(302, "Location: ftp://127.0.0.1/")),
        E.InvalidURI,
        "ftp",
    ),
    HandshakeFault(
        "garbage",
        answer(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256))),
        E.InvalidMessage,
        "status line",
    ),
    HandshakeFault(
        "ssh-banner",
        answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        E.InvalidMessage,
        "status line",
    ),
    HandshakeFault(
        "http-1.0",
        answer(
            lambda request: _response(
                _upgrade(request), status="HTTP/1.0 101 Switching Protocols"
            )
        ),
        E.InvalidMessage,
        "HTTP/1.0|HTTP/1.1|version",
    ),
    HandshakeFault(
        "lf-without-cr",
        answer(lambda request: _response(_upgrade(request)).replace(b"\r\n", b"\n")),
        E.InvalidMessage,
        "LF without CR",
    ),
    HandshakeFault(
        "no-upgrade",
        answer(_without("Upgrade")),
        E.InvalidUpgrade,
        "Upgrade",
    ),
    HandshakeFault(
        "upgrade-h2c",
        answer(_accepting(Upgrade="h2c")),
        E.InvalidUpgrade,
        "Upgrade.*h2c",
    ),
    HandshakeFault(
        "no-connection-upgrade",
        answer(_accepting(Connection="keep-alive")),
        E.InvalidUpgrade,
        "Connection.*keep-alive",
    ),
    HandshakeFault(
        "no-accept",
        answer(_without("Sec-WebSocket-Accept")),
        E.InvalidHeader,
        "Sec-WebSocket-Accept",
    ),
    HandshakeFault(
        "wrong-accept",
        answer(_accepting(Sec_WebSocket_Accept=accept_for("dGhlIHNhbXBsZSBub25jZQ=="))),
        E.InvalidHeader,
        "Sec-WebSocket-Accept",
    ),
    HandshakeFault(
        "accept-twice",
        answer(
            lambda request: _response(_upgrade(request)).replace(
                b"\r\n\r\n",
                f"\r\nSec-WebSocket-Accept: {accept_for(request['sec-websocket-key'])}"
                "\r\n\r\n".encode(),
            )
        ),
        E.InvalidHeader,
        "Sec-WebSocket-Accept",
    ),
    HandshakeFault(
        "unrequested-extension",
        answer(_accepting(Sec_WebSocket_Extensions="x-webkit-deflate-frame")),
        E.NegotiationError,
        "x-webkit-deflate-frame",
    ),
    HandshakeFault(
        "extension-when-none-offered",
        answer(_accepting(Sec_WebSocket_Extensions="permessage-deflate")),
        E.NegotiationError,
        "permessage-deflate",
        options={"compression": None},
    ),
    HandshakeFault(
        "deflate-bad-window-bits",
        answer(
            _accepting(
                Sec_WebSocket_Extensions="permessage-deflate; server_max_window_bits=7"
            )
        ),
        E.NegotiationError,
        "server_max_window_bits",
    ),
    HandshakeFault(
        "unrequested-subprotocol",
        answer(_accepting(Sec_WebSocket_Protocol="chat")),
        E.NegotiationError,
        "chat",
    ),
    HandshakeFault(
        "subprotocol-not-offered",
        answer(_accepting(Sec_WebSocket_Protocol="superchat")),
        E.NegotiationError,
        "superchat",
        options={"subprotocols": ["chat"]},
    ),
    HandshakeFault(
        "two-subprotocols",
        answer(_accepting(Sec_WebSocket_Protocol="chat, other")),
        E.NegotiationError,
        "chat",
        options={"subprotocols": ["chat", "other"]},
    ),
    HandshakeFault(
        "header-line-too-long",
        answer(lambda request: _response(_upgrade(request, X_Big="x" * 10000))),
        E.SecurityError,
        "max_line",
    ),
    HandshakeFault(
        "too-many-headers",
        answer(
            lambda request: _response(
                {**_upgrade(request), **{f"X-{i}": "1" for i in range(200)}}
            )
        ),
        E.SecurityError,
        "max_headers",
    ),
    HandshakeFault(
        "huge-error-body",
        answer(b"HTTP/1.1 500 Oops\r\nContent-Length: 1000000000000\r\n\r\n"),
        E.SecurityError,
        "max_body",
    ),
    HandshakeFault(
        "endless-interim-responses",
        answer(b"HTTP/1.1 100 Continue\r\n\r\n" * 20),
        E.SecurityError,
        "interim",
    ),
    HandshakeFault(
        "nul-in-header",
        answer(lambda request: _response(_upgrade(request, X_Evil="a\x00b"))),
        E.InvalidMessage,
        "X-Evil",
    ),
    HandshakeFault(
        "bad-status-code",
        answer(b"HTTP/1.1 999 Nope\r\n\r\n"),
        E.InvalidMessage,
        "999",
    ),
]

# The table of faults after the handshake.

_PING = 0x9
_TEXT, _BINARY, _CONT, _CLOSE = 0x1, 0x2, 0x0, 0x8
_MIB = 2**20


@dataclasses.dataclass(frozen=True)
class FrameFault:
    """A server that breaks the protocol after a successful handshake.

    The client calls ``recv()`` until it raises ``ConnectionClosedError``.

    Attributes:
        id: The test id.
        script: The server's behaviour.
        code: The close code the client must send (1002, 1007, 1009, ...); 1006
            when the connection is gone and the client can send none.
        match: A regular expression that the message of the cause must match
            (``exc.__cause__``: what the server did wrong); for 1006, the
            message of the ``ConnectionClosedError`` itself.
        cause: The type ``exc.__cause__`` must have.
        before: The messages the client must receive before the fault.
        options: Client options for this fault.
    """

    id: str
    script: Script
    code: int
    match: str
    cause: type[BaseException] | None = None
    before: tuple[str | bytes, ...] = ()
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def check(self, exc: BaseException, sent_codes: list[int | None]) -> None:
        """Assert that ``exc`` and the server's records are what this fault
        should produce.

        Args:
            exc: What ``recv()`` raised.
            sent_codes: The close codes the server received.
        """
        errors = E.ConnectionClosedError
        assert isinstance(exc, errors), f"{type(exc).__name__}: {exc}"
        cause = exc.__cause__
        if self.cause is not None:
            assert isinstance(cause, self.cause), repr(cause)
        if self.code == 1006:
            assert exc.rcvd is None
            assert exc.sent is None
            assert sent_codes == []
            text = f"{exc} {cause}"
        else:
            sent = exc.sent
            assert sent is not None, f"no close frame sent: {exc}"
            assert sent.code == self.code, str(exc)
            assert sent_codes == [self.code]
            text = f"{cause} {sent.reason}"
        assert re.search(self.match, text), f"{text!r} !~ {self.match!r}"


def _hello() -> bytes:
    return frame(_TEXT, b"hello")


_BOMB = deflate(b"\x00" * (16 * _MIB))

FRAME_FAULTS: list[FrameFault] = [
    # The connection drops.
    FrameFault(
        "fin-mid-frame",
        after_handshake(_hello() + frame(_BINARY, b"x" * 1000)[:500], then="close"),
        1006,
        "no close frame",
        before=("hello",),
    ),
    FrameFault(
        "fin-mid-message",
        after_handshake(frame(_TEXT, b"part", fin=False), then="close"),
        1006,
        "no close frame",
    ),
    FrameFault(
        "fin-mid-header",
        after_handshake(_hello() + b"\x82\x7f\x00", then="close"),
        1006,
        "no close frame",
        before=("hello",),
    ),
    FrameFault(
        "rst-after-handshake",
        after_handshake(b"", then="reset"),
        1006,
        "reset|no close frame",
        cause=ConnectionResetError,
    ),
    FrameFault(
        "rst-mid-frame",
        after_handshake(frame(_BINARY, b"y" * 5000)[:100], then="reset"),
        1006,
        "reset|no close frame",
        cause=ConnectionResetError,
    ),
    # Frames that break RFC 6455.
    FrameFault(
        "masked-frame",
        after_handshake(frame(_TEXT, b"masked", mask=b"\x01\x02\x03\x04")),
        1002,
        "incorrect masking",
    ),
    FrameFault(
        "reserved-data-opcode",
        after_handshake(frame(0x3, b"")),
        1002,
        "invalid opcode: 0x3",
    ),
    FrameFault(
        "reserved-control-opcode",
        after_handshake(frame(0xB, b"")),
        1002,
        "invalid opcode: 0xb",
    ),
    FrameFault(
        "rsv2-set",
        after_handshake(frame(_TEXT, b"x", rsv=2)),
        1002,
        "reserved bits",
    ),
    FrameFault(
        "rsv1-without-deflate",
        after_handshake(frame(_TEXT, b"x", rsv=4)),
        1002,
        "reserved bits",
        options={"compression": None},
    ),
    FrameFault(
        "rsv1-on-control-frame",
        after_handshake(frame(_PING, b"", rsv=4), compress=True),
        1002,
        "reserved bits",
    ),
    FrameFault(
        "fragmented-ping",
        after_handshake(frame(_PING, b"p", fin=False)),
        1002,
        "fragmented control frame",
    ),
    FrameFault(
        "fragmented-close",
        after_handshake(frame(_CLOSE, b"\x03\xe8", fin=False)),
        1002,
        "fragmented control frame",
    ),
    FrameFault(
        "control-frame-too-long",
        after_handshake(frame(_PING, b"p" * 126)),
        1002,
        "control frame too long",
    ),
    FrameFault(
        "unexpected-continuation",
        after_handshake(frame(_CONT, b"orphan")),
        1002,
        "unexpected continuation",
    ),
    FrameFault(
        "new-message-inside-fragmented-one",
        after_handshake(frame(_TEXT, b"a", fin=False) + frame(_BINARY, b"b")),
        1002,
        "expected a continuation",
    ),
    FrameFault(
        "non-minimal-length",
        after_handshake(frame(_BINARY, b"short", width=16)),
        1002,
        "minimally encoded",
    ),
    FrameFault(
        "length-with-high-bit",
        after_handshake(frame(_BINARY, b"", length=2**63 + 1, width=64)),
        1002,
        "length|most significant",
    ),
    FrameFault(
        "close-frame-one-byte",
        after_handshake(frame(_CLOSE, b"\x03")),
        1002,
        "close frame too short",
    ),
    *(
        FrameFault(
            f"close-code-{code}",
            after_handshake(frame(_CLOSE, struct.pack("!H", code))),
            1002,
            f"invalid status code: {code}",
        )
        for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535)
    ),
    # Invalid UTF-8.
    FrameFault(
        "invalid-utf8-text",
        after_handshake(_hello() + frame(_TEXT, b"caf\xc3")),
        1007,
        "invalid UTF-8",
        before=("hello",),
    ),
    FrameFault(
        "invalid-utf8-in-fragment",
        after_handshake(frame(_TEXT, b"ok", fin=False) + frame(_CONT, b"\xff\xfe")),
        1007,
        "invalid UTF-8",
    ),
    FrameFault(
        "surrogate-in-text",
        after_handshake(frame(_TEXT, b"\xed\xa0\x80")),
        1007,
        "invalid UTF-8",
    ),
    FrameFault(
        "invalid-utf8-close-reason",
        after_handshake(frame(_CLOSE, struct.pack("!H", 1000) + b"\xff")),
        1007,
        "invalid UTF-8|utf-8",
    ),
    FrameFault(
        "invalid-utf8-in-partial-frame",
        # The frame announces 1 MiB but stops after bad bytes: the client must
        # fail without waiting for the rest.
        after_handshake(frame(_TEXT, b"\xff" * 10, length=_MIB - 1)),
        1007,
        "invalid UTF-8",
    ),
    # Sizes.
    FrameFault(
        "frame-over-max-size",
        after_handshake(frame(_BINARY, b"", length=2 * _MIB)),
        1009,
        "over size limit|2097152|1048576",
        options={"max_size": _MIB},
    ),
    FrameFault(
        "fragments-over-max-size",
        after_handshake(
            frame(_BINARY, b"z" * 60000, fin=False) + frame(_CONT, b"z" * 60000)
        ),
        1009,
        "120000 bytes message exceeds max_size=100000",
        options={"max_size": 100000},
    ),
    FrameFault(
        "deflate-bomb",
        after_handshake(frame(_BINARY, _BOMB, rsv=4), compress=True),
        1009,
        "1048576",
        options={"max_size": _MIB},
    ),
    FrameFault(
        "deflate-bomb-in-fragments",
        after_handshake(
            frame(_BINARY, _BOMB[:1000], rsv=4, fin=False) + frame(_CONT, _BOMB[1000:]),
            compress=True,
        ),
        1009,
        "1048576",
        options={"max_size": _MIB},
    ),
    FrameFault(
        "deflate-garbage",
        after_handshake(frame(_BINARY, b"\xff\xff\xff\xff", rsv=4), compress=True),
        1002,
        "decompression failed.*invalid deflate data",
    ),
]
