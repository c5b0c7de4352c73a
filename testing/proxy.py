"""Tiny proxies on 127.0.0.1 for the front ends' proxy tests.

An HTTP ``CONNECT`` proxy (RFC 9110 section 9.3.6) and a SOCKS5 proxy (RFC 1928,
RFC 1929 for credentials), each relaying bytes both ways once the tunnel is up and
recording what the client asked for.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

__all__ = ["ProxyPeer", "http_proxy", "socks5_proxy"]


@dataclasses.dataclass
class ProxyPeer:
    """A running proxy and what it saw.

    Attributes:
        port: The port bound on 127.0.0.1.
        scheme: ``http``, ``https`` or ``socks5``/``socks5h`` as the client should
            spell it.
        targets: ``host:port`` of each tunnel requested.
        headers: The ``CONNECT`` request headers (lower-case names), per tunnel.
        credentials: The user name and password each SOCKS5 client sent.
    """

    port: int
    scheme: str
    targets: list[str] = dataclasses.field(default_factory=list)
    headers: list[dict[str, str]] = dataclasses.field(default_factory=list)
    credentials: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def url(self, userinfo: str = "") -> str:
        """The proxy URL, with ``user:password`` when given."""
        at = f"{userinfo}@" if userinfo else ""
        return f"{self.scheme}://{at}127.0.0.1:{self.port}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _relay(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
) -> None:
    up_reader, up_writer = await asyncio.open_connection(host, port)
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


@asynccontextmanager
async def _serve(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    tasks: set[asyncio.Task[None]] = set()

    async def wrapper(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(wrapper, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@asynccontextmanager
async def http_proxy(
    *,
    credentials: tuple[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    status: int = 200,
) -> AsyncIterator[ProxyPeer]:
    """Run an HTTP CONNECT proxy.

    Args:
        credentials: Require this user name and password (407 otherwise).
        ssl_context: Serve the proxy itself over TLS (an ``https://`` proxy).
        status: Answer every CONNECT with this status instead of tunnelling,
            when it is not 200.

    Returns:
        The running :class:`ProxyPeer`.
    """
    peer = ProxyPeer(0, "https" if ssl_context is not None else "http")
    expected = None
    if credentials is not None:
        token = base64.b64encode(":".join(credentials).encode()).decode()
        expected = f"Basic {token}"

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("iso-8859-1")
        first, _, rest = head.partition("\r\n")
        method, target, _ = first.split(" ", 2)
        headers = {}
        for line in rest.split("\r\n"):
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        peer.targets.append(target)
        peer.headers.append(headers)
        if method != "CONNECT":
            writer.write(
                b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"
            )
            return
        if expected is not None and headers.get("proxy-authorization") != expected:
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
            )
            return
        if status != 200:
            writer.write(
                f"HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\n\r\n".encode()
            )
            return
        host, _, port = target.rpartition(":")
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await _relay(reader, writer, host.strip("[]"), int(port))

    async with _serve(handle, ssl_context) as port:
        peer.port = port
        yield peer


@asynccontextmanager
async def socks5_proxy(
    *, credentials: tuple[str, str] | None = None, scheme: str = "socks5h"
) -> AsyncIterator[ProxyPeer]:
    """Run a SOCKS5 proxy supporting CONNECT to IPv4, IPv6 and domain names.

    Args:
        credentials: Require this user name and password (RFC 1929).
        scheme: How the client should spell the proxy URL's scheme.

    Returns:
        The running :class:`ProxyPeer`.
    """
    peer = ProxyPeer(0, scheme)

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        assert version == 5
        wanted = 0x02 if credentials is not None else 0x00
        if wanted not in methods:
            writer.write(b"\x05\xff")
            return
        writer.write(bytes([5, wanted]))
        if wanted == 0x02:
            _, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            (plen,) = await reader.readexactly(1)
            password = (await reader.readexactly(plen)).decode()
            peer.credentials.append((user, password))
            if (user, password) != credentials:
                writer.write(b"\x01\x01")
                return
            writer.write(b"\x01\x00")
        _, command, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif atyp == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode()
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        peer.targets.append(f"{host}:{port}")
        if command != 1:
            writer.write(b"\x05\x07\x00\x01" + bytes(6))
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.write(b"\x05\x05\x00\x01" + bytes(6))
            return
        writer.write(b"\x05\x00\x00\x01" + bytes(6))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async with _serve(handle) as port:
        peer.port = port
        yield peer
