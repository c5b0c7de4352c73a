"""Real WebSocket peers on 127.0.0.1 for the front ends' tests.

Two independent server implementations (the websockets library's asyncio server
and aiohttp's) run the same behaviours, so that a test passes against more than
one reading of RFC 6455. Raw asyncio servers cover what a well-behaved library
will not do: never answer, ignore pings, redirect, fail with 5xx.

Every helper is an async context manager that binds port 0 and yields a
:class:`Peer` with the URI to connect to and what the server observed.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import trustme
from aiohttp import web
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request as WSRequest

__all__ = [
    "BEHAVIOURS",
    "TIMEOUT",
    "Peer",
    "TLSFiles",
    "aiohttp_server",
    "deaf_server",
    "http_server",
    "accept_response",
    "make_tls",
    "raw_server",
    "read_request",
    "silent_server",
    "stalled_server",
    "status_response",
    "websockets_server",
]

TIMEOUT = 10.0
"""The one scaled unit for every bounded wait in the tests, in seconds."""

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclasses.dataclass
class Peer:
    """A running test server and what it observed.

    Attributes:
        host: Always ``127.0.0.1``.
        port: The port bound.
        scheme: ``ws`` or ``wss``.
        requests: The handshake request headers received, one dict (lower-case
            names, values joined with ``", "``) per connection.
        close_codes: The close code each connection ended with, server side.
        received: The messages the server received, in order.
        extensions: The ``Sec-WebSocket-Extensions`` the server accepted.
        connections: How many connections were accepted.
    """

    host: str
    port: int
    scheme: str = "ws"
    requests: list[dict[str, str]] = dataclasses.field(default_factory=list)
    close_codes: list[int | None] = dataclasses.field(default_factory=list)
    received: list[str | bytes] = dataclasses.field(default_factory=list)
    extensions: list[str] = dataclasses.field(default_factory=list)
    connections: int = 0

    @property
    def uri(self) -> str:
        """The URI of the server's root."""
        return f"{self.scheme}://{self.host}:{self.port}/"

    def uri_for(self, path: str) -> str:
        """The URI of ``path`` on the server."""
        return f"{self.scheme}://{self.host}:{self.port}{path}"


@dataclasses.dataclass
class TLSFiles:
    """A test certificate authority and a certificate for ``localhost``.

    Attributes:
        ca: The authority, to trust on the client side.
        server_context: A server-side context presenting the certificate.
        client_context: A client-side context trusting the authority.
    """

    ca: trustme.CA
    server_context: ssl.SSLContext
    client_context: ssl.SSLContext


def make_tls() -> TLSFiles:
    """Create a fresh test CA and contexts for ``localhost`` and ``127.0.0.1``."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return TLSFiles(ca, server_context, client_context)


# Behaviours, shared by the websockets and aiohttp servers. The path of the
# request selects one: "/" echoes; "/close/4000" closes with 4000;
# "/send/5" sends five messages then closes; "/flood/N/SIZE" sends N binary
# messages of SIZE bytes as fast as possible then closes; "/subprotocol" sends
# the negotiated subprotocol; "/headers" sends the request headers as a text.

BEHAVIOURS = ("echo", "close", "send", "flood", "subprotocol", "headers", "fragments")


def _headers_dict(items: Any) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        result[key] = f"{result[key]}, {value}" if key in result else value
    return result


@asynccontextmanager
async def websockets_server(
    *,
    ssl_context: ssl.SSLContext | None = None,
    subprotocols: list[str] | None = None,
    compression: str | None = "deflate",
    max_size: int | None = 2**20,
    **kwargs: Any,
) -> AsyncIterator[Peer]:
    """Run the websockets library's server with the behaviours described above.

    Args:
        ssl_context: Serve ``wss://`` with this context.
        subprotocols: Subprotocols the server supports.
        compression: ``"deflate"`` or ``None``.
        max_size: The server's incoming message limit.
        kwargs: More arguments for ``websockets.asyncio.server.serve``.

    Returns:
        The running :class:`Peer`.
    """
    peer = Peer("127.0.0.1", 0, "wss" if ssl_context is not None else "ws")

    def process_request(connection: ServerConnection, request: WSRequest) -> None:
        peer.requests.append(_headers_dict(request.headers.raw_items()))

    async def handler(ws: ServerConnection) -> None:
        peer.connections += 1
        assert ws.request is not None
        assert ws.response is not None
        peer.extensions.append(ws.response.headers.get("Sec-WebSocket-Extensions", ""))
        parts = ws.request.path.split("?")[0].strip("/").split("/")
        try:
            await _websockets_behaviour(ws, parts, peer)
        finally:
            await ws.wait_closed()
            peer.close_codes.append(ws.close_code)

    async with serve(
        handler,
        "127.0.0.1",
        0,
        ssl=ssl_context,
        subprotocols=subprotocols,  # type: ignore[arg-type]
        compression=compression,
        max_size=max_size,
        process_request=process_request,
        **kwargs,
    ) as server:
        peer.port = next(iter(server.sockets)).getsockname()[1]
        yield peer


async def _websockets_behaviour(
    ws: ServerConnection, parts: list[str], peer: Peer
) -> None:
    kind = parts[0] or "echo"
    if kind == "echo":
        async for message in ws:
            peer.received.append(message)
            await ws.send(message)
    elif kind == "close":
        code = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        await ws.close(code, reason)
    elif kind == "send":
        for index in range(int(parts[1])):
            await ws.send(f"message {index}")
        await ws.close()
    elif kind == "flood":
        count, size = int(parts[1]), int(parts[2])
        payload = b"x" * size
        for _ in range(count):
            await ws.send(payload)
        await ws.close()
    elif kind == "subprotocol":
        await ws.send(ws.subprotocol or "")
        await ws.wait_closed()
    elif kind == "headers":
        assert ws.request is not None
        await ws.send(str(ws.request.headers))
        await ws.wait_closed()
    elif kind == "fragments":
        # Echo each message back, split into the number of fragments it names.
        async for message in ws:
            peer.received.append(message)
            assert isinstance(message, str)
            number, _, body = message.partition(":")
            pieces = _split(body, int(number))
            await ws.send(pieces)
    else:  # pragma: no cover - test bug
        raise ValueError(f"unknown behaviour {kind!r}")


def _split(body: str, count: int) -> list[str]:
    if count <= 1 or not body:
        return [body]
    step = max(1, -(-len(body) // count))
    return [body[i : i + step] for i in range(0, len(body), step)]


@asynccontextmanager
async def aiohttp_server(
    *,
    ssl_context: ssl.SSLContext | None = None,
    subprotocols: list[str] | None = None,
    compress: bool = True,
    max_msg_size: int = 2**20,
    autoping: bool = True,
) -> AsyncIterator[Peer]:
    """Run aiohttp's server with the behaviours of :func:`websockets_server`.

    Args:
        ssl_context: Serve ``wss://`` with this context.
        subprotocols: Subprotocols the server supports.
        compress: Whether the server accepts permessage-deflate.
        max_msg_size: The server's incoming message limit.
        autoping: Whether the server answers pings (aiohttp's default).

    Returns:
        The running :class:`Peer`.
    """
    peer = Peer("127.0.0.1", 0, "wss" if ssl_context is not None else "ws")

    async def handler(request: web.Request) -> web.StreamResponse:
        peer.requests.append(_headers_dict(request.headers.items()))
        ws = web.WebSocketResponse(
            protocols=subprotocols or (),
            compress=compress,
            max_msg_size=max_msg_size,
            autoping=autoping,
        )
        await ws.prepare(request)
        peer.connections += 1
        peer.extensions.append(ws.headers.get("Sec-WebSocket-Extensions", ""))
        parts = request.path.strip("/").split("/")
        try:
            await _aiohttp_behaviour(ws, parts, peer, request)
        finally:
            if not ws.closed:
                await ws.close()
            peer.close_codes.append(ws.close_code)
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    server = site._server
    assert server is not None
    peer.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield peer
    finally:
        await runner.cleanup()


async def _aiohttp_behaviour(
    ws: web.WebSocketResponse, parts: list[str], peer: Peer, request: web.Request
) -> None:
    kind = parts[0] or "echo"
    if kind == "echo":
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                peer.received.append(msg.data)
                await ws.send_str(msg.data)
            elif msg.type is aiohttp.WSMsgType.BINARY:
                peer.received.append(msg.data)
                await ws.send_bytes(msg.data)
            else:
                break
    elif kind == "close":
        code = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        await ws.close(code=code, message=reason.encode())
    elif kind == "send":
        for index in range(int(parts[1])):
            await ws.send_str(f"message {index}")
        await ws.close()
    elif kind == "flood":
        count, size = int(parts[1]), int(parts[2])
        payload = b"x" * size
        for _ in range(count):
            await ws.send_bytes(payload)
        await ws.close()
    elif kind == "subprotocol":
        await ws.send_str(ws.ws_protocol or "")
        async for _ in ws:
            pass
    elif kind == "headers":
        await ws.send_str("".join(f"{k}: {v}\r\n" for k, v in request.headers.items()))
        async for _ in ws:
            pass
    else:  # pragma: no cover - test bug
        raise ValueError(f"unknown behaviour {kind!r}")


# Raw servers.


@asynccontextmanager
async def raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    *,
    ssl_context: ssl.SSLContext | None = None,
    port: int = 0,
) -> AsyncIterator[Peer]:
    """Run a plain asyncio server calling ``handle`` for each connection.

    Args:
        handle: The connection handler; the writer is closed after it returns.
        ssl_context: Serve TLS with this context.
        port: The port to bind; 0 picks a free one.

    Returns:
        The running :class:`Peer`.
    """
    peer = Peer("127.0.0.1", 0, "wss" if ssl_context is not None else "ws")
    tasks: set[asyncio.Task[None]] = set()

    async def wrapper(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(wrapper, "127.0.0.1", port, ssl=ssl_context)
    peer.port = server.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> dict[str, str]:
    """Read an HTTP request head and return its headers (lower-case names)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")[1:]
    return _headers_dict(
        tuple(part.strip() for part in line.split(":", 1)) for line in lines if line
    )


def accept_response(request: dict[str, str]) -> bytes:
    """The 101 response a minimal server sends for ``request``."""
    digest = hashlib.sha1((request["sec-websocket-key"] + GUID).encode()).digest()
    accept = base64.b64encode(digest).decode()
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode()


@asynccontextmanager
async def silent_server() -> AsyncIterator[Peer]:
    """A server that accepts TCP connections and never answers."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read()

    async with raw_server(handle) as peer:
        yield peer


@asynccontextmanager
async def deaf_server() -> AsyncIterator[Peer]:
    """A server that completes the handshake, then reads and ignores everything.

    It never answers pings nor close frames and never closes TCP: the client's
    keepalive and close timeouts must save it.
    """

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request = await read_request(reader)
        peer.requests.append(request)
        writer.write(accept_response(request))
        while await reader.read(65536):
            pass

    async with raw_server(handle) as peer:
        yield peer


@asynccontextmanager
async def stalled_server() -> AsyncIterator[Peer]:
    """A server that completes the handshake, then stops reading.

    Its receive buffer fills up, then the client's write buffer: the client's
    ``write_limit`` back-pressure must make ``send()`` wait.
    """

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request = await read_request(reader)
        peer.requests.append(request)
        writer.write(accept_response(request))
        await asyncio.Event().wait()

    async with raw_server(handle) as peer:
        yield peer


@asynccontextmanager
async def http_server(
    respond: Callable[[str, dict[str, str]], bytes],
    *,
    ssl_context: ssl.SSLContext | None = None,
    port: int = 0,
) -> AsyncIterator[Peer]:
    """A server answering each request with the bytes ``respond(path, headers)``.

    When ``respond`` returns ``b""``, the server accepts the WebSocket handshake
    instead and echoes nothing; it then waits for the client to close.

    Args:
        respond: Builds the raw response from the request path and headers.
        ssl_context: Serve TLS with this context.
        port: The port to bind; 0 picks a free one.

    Returns:
        The running :class:`Peer`.
    """

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        first, _, rest = head.decode("iso-8859-1").partition("\r\n")
        path = first.split(" ")[1]
        headers = _headers_dict(
            tuple(part.strip() for part in line.split(":", 1))
            for line in rest.split("\r\n")
            if line
        )
        peer.requests.append({"path": path, **headers})
        response = respond(path, headers)
        if response:
            writer.write(response)
            await writer.drain()
            return
        writer.write(accept_response(headers))
        # Answer a close frame with an empty close frame, then close.
        await reader.read(65536)
        writer.write(b"\x88\x00")
        await writer.drain()

    async with raw_server(handle, ssl_context=ssl_context, port=port) as peer:
        yield peer


def status_response(
    status: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """Build a raw HTTP response with a ``Content-Length``."""
    lines = [f"HTTP/1.1 {status} Status {status}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
