"""Opening the TCP, TLS or Unix connection, directly or through a proxy.

This module is I/O-specific (asyncio transports); the threading front end has its
own twin with blocking sockets. The proxy handshakes run on a small buffering
protocol; once the tunnel is up, the transport is handed to the connection, and
TLS to the WebSocket server is started over it when the URI is ``wss://``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from wskit.core.exceptions import InvalidProxyMessage, InvalidProxyStatus, ProxyError
from wskit.core.proxy import (
    SOCKS5_ERRORS,
    Proxy,
    build_connect_request,
    build_socks5_connect,
    build_socks5_greeting,
    build_socks5_password,
    parse_connect_response,
)
from wskit.core.uri import WebSocketURI

from .transport import timer_queue

__all__ = ["open_connection", "run_with_deadline"]

_P = TypeVar("_P", bound=asyncio.BaseProtocol)
_T = TypeVar("_T")

# A proxy's answer to CONNECT is a status line and a few headers.
_MAX_PROXY_RESPONSE = 16384


class _HandshakeReader(asyncio.Protocol):
    """Buffers what a proxy sends until the tunnel is up."""

    transport: asyncio.Transport

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def _wait(self) -> None:
        if self.eof:
            raise ProxyError("proxy closed the connection during the handshake")
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    async def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            await self._wait()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def read_until(self, separator: bytes) -> bytes:
        while True:
            end = self.buffer.find(separator)
            if end >= 0:
                end += len(separator)
                data = bytes(self.buffer[:end])
                del self.buffer[:end]
                return data
            if len(self.buffer) > _MAX_PROXY_RESPONSE:
                raise InvalidProxyMessage("proxy response headers are too long")
            await self._wait()


async def run_with_deadline(
    func: Callable[[], Awaitable[_T]], timeout: float | None
) -> _T:
    """Await ``func()`` in the current task, cancelled after ``timeout`` seconds.

    The twin of the threading client's ``run_with_deadline``. Unlike
    :func:`asyncio.wait_for` before Python 3.12, it runs ``func()`` in the
    calling task rather than in a new one, which spares each opening a task and
    two steps of the event loop. From Python 3.11 it behaves as
    :func:`asyncio.timeout`, cancellation counting included, with a plain timer
    callback instead of a context manager object and two more coroutines.

    Args:
        func: The opening, e.g. ``connect._connect``.
        timeout: Seconds; ``None`` waits forever.

    Returns:
        What ``func()`` returned.

    Raises:
        asyncio.TimeoutError: ``timeout`` expired (``TimeoutError`` from 3.11).
    """
    if timeout is None:
        return await func()
    if sys.version_info >= (3, 11):
        return await _run_with_timer(func, timeout)
    else:  # pragma: no cover - 3.10
        return await asyncio.wait_for(func(), timeout)


if sys.version_info >= (3, 11):

    async def _run_with_timer(func: Callable[[], Awaitable[_T]], timeout: float) -> _T:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - an await always runs in a task
            raise RuntimeError("run_with_deadline() must run in a task")
        # As asyncio.timeout: a cancellation requested by someone else while the
        # timer also fired is not turned into TimeoutError.
        cancelling = task.cancelling()
        expired: list[bool] = []
        handle = timer_queue(asyncio.get_running_loop(), timeout).call_later(
            _deadline_expired, task, expired
        )
        try:
            return await func()
        except asyncio.CancelledError as exc:
            if expired:
                expired.clear()  # handled here: not again below
                if task.uncancel() <= cancelling:
                    raise TimeoutError from exc
            raise
        finally:
            handle.cancel()
            if expired:
                # The timer fired but func() ended otherwise: withdraw the request.
                task.uncancel()


def _deadline_expired(task: asyncio.Task[Any], expired: list[bool]) -> None:
    expired.append(True)
    task.cancel()


async def _http_tunnel(
    reader: _HandshakeReader, proxy: Proxy, uri: WebSocketURI, user_agent: str | None
) -> None:
    reader.transport.write(build_connect_request(proxy, uri, user_agent))
    head = await reader.read_until(b"\r\n\r\n")
    status_code, reason = parse_connect_response(head)
    if not 200 <= status_code < 300:
        raise InvalidProxyStatus(status_code, reason)


async def _socks5_tunnel(
    reader: _HandshakeReader, proxy: Proxy, uri: WebSocketURI
) -> None:
    write = reader.transport.write
    write(build_socks5_greeting(proxy))
    version, method = await reader.read_exactly(2)
    if version != 5:
        raise InvalidProxyMessage(
            f"proxy did not answer as a SOCKS5 server (version {version})"
        )
    if method == 0x02 and proxy.username is not None:
        # RFC 1929: user name and password authentication.
        write(build_socks5_password(proxy))
        _, status = await reader.read_exactly(2)
        if status != 0:
            raise ProxyError("SOCKS5 proxy rejected the user name or password")
    elif method != 0x00:
        raise ProxyError(
            "SOCKS5 proxy accepts none of the offered authentication methods; "
            "add or remove credentials in the proxy URL"
        )
    host = uri.host
    if proxy.scheme == "socks5":
        # socks5:// resolves locally; socks5h:// lets the proxy resolve.
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, uri.port, type=socket.SOCK_STREAM
        )
        host = str(infos[0][4][0])
    write(build_socks5_connect(host, uri.port))
    _, reply, _, atyp = await reader.read_exactly(4)
    if reply != 0:
        detail = SOCKS5_ERRORS.get(reply, f"error {reply}")
        raise ProxyError(
            f"SOCKS5 proxy failed to connect to {uri.host}:{uri.port}: {detail}"
        )
    if atyp == 1:
        await reader.read_exactly(4 + 2)
    elif atyp == 4:
        await reader.read_exactly(16 + 2)
    elif atyp == 3:
        (length,) = await reader.read_exactly(1)
        await reader.read_exactly(length + 2)
    else:
        raise InvalidProxyMessage(f"SOCKS5 reply has unknown address type {atyp}")


async def open_connection(
    factory: Callable[[], _P],
    uri: WebSocketURI,
    *,
    proxy: Proxy | None,
    user_agent_header: str | None,
    unix: bool = False,
    **kwargs: Any,
) -> _P:
    """Open the connection to the WebSocket server and return its protocol.

    Args:
        factory: Builds the protocol that will own the transport.
        uri: The WebSocket URI; its host and port are the destination unless
            ``host``, ``port`` or ``sock`` say otherwise.
        proxy: The proxy to go through, or ``None``.
        user_agent_header: The ``User-Agent`` sent to an HTTP proxy.
        unix: Connect to the Unix socket at ``path`` instead of TCP.
        kwargs: Passed to :meth:`asyncio.loop.create_connection`. With a proxy,
            ``ssl*`` and ``server_hostname`` apply to the WebSocket server,
            ``proxy_*`` to the proxy, and the rest to the connection to the proxy.

    Returns:
        The protocol built by ``factory``, connected.

    Raises:
        OSError: The connection failed.
        ProxyError: The proxy refused or broke the tunnel.
    """
    loop = asyncio.get_running_loop()
    if uri.secure:
        if kwargs.get("ssl", True) is None or kwargs.get("ssl") is False:
            # Either would connect in plain text to a server the URI says is
            # reached over TLS.
            raise ValueError(
                f"ssl={kwargs['ssl']} is incompatible with a wss:// URI; "
                "use ws:// for an unencrypted connection"
            )
        if kwargs.get("ssl") in (None, True):
            kwargs["ssl"] = ssl_module.create_default_context()
        kwargs.setdefault("server_hostname", uri.host)
    elif kwargs.get("ssl") is not None:
        raise ValueError("ssl argument is incompatible with a ws:// URI; use wss://")

    if unix:
        _, protocol = await loop.create_unix_connection(factory, **kwargs)
        return protocol
    if proxy is None:
        if kwargs.get("sock") is None:
            kwargs.setdefault("host", uri.host)
            kwargs.setdefault("port", uri.port)
        _, protocol = await loop.create_connection(factory, **kwargs)
        return protocol

    server_kwargs: dict[str, Any] = {}
    proxy_kwargs: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key.startswith("ssl") or key == "server_hostname":
            server_kwargs[key] = value
        elif key.startswith("proxy_"):
            proxy_kwargs[key[6:]] = value
        else:
            proxy_kwargs[key] = value
    if proxy.scheme == "https":
        if proxy_kwargs.get("ssl", True) is None:
            raise ValueError("proxy_ssl=None is incompatible with an https:// proxy")
        if proxy_kwargs.get("ssl") in (None, True):
            proxy_kwargs["ssl"] = ssl_module.create_default_context()
        proxy_kwargs.setdefault("server_hostname", proxy.host)
    elif proxy_kwargs.get("ssl") is not None:
        raise ValueError(
            f"proxy_ssl argument is incompatible with a {proxy.scheme}:// proxy"
        )
    if proxy_kwargs.get("sock") is None:
        proxy_kwargs.setdefault("host", proxy.host)
        proxy_kwargs.setdefault("port", proxy.port)

    transport, reader = await loop.create_connection(_HandshakeReader, **proxy_kwargs)
    try:
        if proxy.scheme.startswith("socks"):
            await _socks5_tunnel(reader, proxy, uri)
        else:
            await _http_tunnel(reader, proxy, uri, user_agent_header)
        if reader.buffer:
            raise InvalidProxyMessage("proxy sent data before the tunnel was used")
        protocol = factory()
        transport.set_protocol(protocol)
        ssl = server_kwargs.pop("ssl", None)
        if ssl is not None:
            if proxy.scheme == "https" and sys.version_info < (3, 11):
                # asyncio gained TLS over a TLS transport in Python 3.11.
                raise ProxyError(
                    "wss:// through an https:// proxy needs Python 3.11 or later; "
                    "use an http:// proxy or upgrade Python"
                )
            new_transport = await loop.start_tls(
                transport, protocol, ssl, **server_kwargs
            )
            assert new_transport is not None
            transport = new_transport
        protocol.connection_made(transport)
        return protocol
    except BaseException:
        transport.abort()
        raise
