"""Opening the TCP, TLS or Unix connection, directly or through a proxy, for threads.

This module is I/O-specific (blocking sockets); it is the twin of
:mod:`wskit.asyncio.network`. The keyword arguments are those that asyncio's
``loop.create_connection`` takes (``host``, ``port``, ``ssl``, ``server_hostname``,
``sock``, ``local_addr``, ``family``, ...), implemented with
:func:`socket.create_connection` and :meth:`ssl.SSLContext.wrap_socket`, so that
code moving from one client to the other keeps its options.

``open_timeout`` bounds the whole opening, redirects included; the asyncio client
gets that from ``asyncio.wait_for``. Here :func:`run_with_deadline` sets a
per-thread deadline that every blocking step of the opening (DNS and TCP, TLS,
the proxy handshake, the WebSocket handshake) reads with :func:`remaining`.
"""

from __future__ import annotations

import socket
import ssl as ssl_module
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

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

__all__ = ["open_connection", "remaining", "run_with_deadline"]

_T = TypeVar("_T")


class _SocketOwner(Protocol):
    def connection_made(self, sock: socket.socket) -> None: ...


_P = TypeVar("_P", bound=_SocketOwner)

# A proxy's answer to CONNECT is a status line and a few headers.
_MAX_PROXY_RESPONSE = 16384

# Keyword arguments of asyncio's create_connection that have no meaning for a
# blocking socket; accepted so that the same options work on both clients.
_IGNORED = frozenset(
    {
        "ssl_handshake_timeout",
        "ssl_shutdown_timeout",
        "happy_eyeballs_delay",
        "interleave",
        "all_errors",
    }
)

_deadline = threading.local()


def run_with_deadline(func: Callable[[], _T], timeout: float | None) -> _T:
    """Call ``func`` with every blocking step of the opening bounded by ``timeout``.

    Args:
        func: The opening, e.g. ``connect._connect``.
        timeout: Seconds for the whole call; ``None`` disables the limit.

    Returns:
        What ``func`` returns.

    Raises:
        TimeoutError: A step found the deadline passed.
    """
    previous = getattr(_deadline, "value", None)
    _deadline.value = None if timeout is None else time.monotonic() + timeout
    try:
        return func()
    finally:
        _deadline.value = previous


def remaining() -> float | None:
    """Seconds left before the current thread's opening deadline, if any.

    Raises:
        TimeoutError: The deadline has passed.
    """
    deadline: float | None = getattr(_deadline, "value", None)
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out during opening handshake")
    return left


class _HandshakeReader:
    """Reads what a proxy sends, byte-exact, until the tunnel is up."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> None:
        self.sock.settimeout(remaining())
        data = self.sock.recv(4096)
        if not data:
            raise ProxyError("proxy closed the connection during the handshake")
        self.buffer += data

    def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_until(self, separator: bytes) -> bytes:
        while True:
            end = self.buffer.find(separator)
            if end >= 0:
                end += len(separator)
                data = bytes(self.buffer[:end])
                del self.buffer[:end]
                return data
            if len(self.buffer) > _MAX_PROXY_RESPONSE:
                raise InvalidProxyMessage("proxy response headers are too long")
            self._fill()

    def write(self, data: bytes) -> None:
        self.sock.settimeout(remaining())
        self.sock.sendall(data)


def _http_tunnel(
    reader: _HandshakeReader, proxy: Proxy, uri: WebSocketURI, user_agent: str | None
) -> None:
    reader.write(build_connect_request(proxy, uri, user_agent))
    head = reader.read_until(b"\r\n\r\n")
    status_code, reason = parse_connect_response(head)
    if not 200 <= status_code < 300:
        raise InvalidProxyStatus(status_code, reason)


def _socks5_tunnel(reader: _HandshakeReader, proxy: Proxy, uri: WebSocketURI) -> None:
    reader.write(build_socks5_greeting(proxy))
    version, method = reader.read_exactly(2)
    if version != 5:
        raise InvalidProxyMessage(
            f"proxy did not answer as a SOCKS5 server (version {version})"
        )
    if method == 0x02 and proxy.username is not None:
        # RFC 1929: user name and password authentication.
        reader.write(build_socks5_password(proxy))
        _, status = reader.read_exactly(2)
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
        infos = socket.getaddrinfo(host, uri.port, type=socket.SOCK_STREAM)
        host = str(infos[0][4][0])
    reader.write(build_socks5_connect(host, uri.port))
    _, reply, _, atyp = reader.read_exactly(4)
    if reply != 0:
        detail = SOCKS5_ERRORS.get(reply, f"error {reply}")
        raise ProxyError(
            f"SOCKS5 proxy failed to connect to {uri.host}:{uri.port}: {detail}"
        )
    if atyp == 1:
        reader.read_exactly(4 + 2)
    elif atyp == 4:
        reader.read_exactly(16 + 2)
    elif atyp == 3:
        (length,) = reader.read_exactly(1)
        reader.read_exactly(length + 2)
    else:
        raise InvalidProxyMessage(f"SOCKS5 reply has unknown address type {atyp}")


def _tls_defaults(kwargs: dict[str, Any], secure: bool, host: str, what: str) -> None:
    if secure:
        if kwargs.get("ssl", True) is None or kwargs.get("ssl") is False:
            # Either would connect in plain text where the URI asks for TLS.
            raise ValueError(
                f"{what}ssl={kwargs['ssl']} is incompatible with a TLS endpoint; "
                "use ws:// for an unencrypted connection"
            )
        if kwargs.get("ssl") in (None, True):
            kwargs["ssl"] = ssl_module.create_default_context()
        kwargs.setdefault("server_hostname", host)
    elif kwargs.get("ssl") is not None:
        raise ValueError(
            f"{what}ssl argument is incompatible with a ws:// URI; use wss://"
            if not what
            else f"{what}ssl argument is incompatible with a plain proxy"
        )


def _open_socket(
    host: str | None,
    port: int | None,
    *,
    unix: bool,
    path: str | None,
    sock: socket.socket | None,
    family: int = 0,
    proto: int = 0,
    flags: int = 0,
    local_addr: tuple[str, int] | None = None,
) -> socket.socket:
    if sock is not None:
        return sock
    if unix:
        if path is None:
            raise ValueError("unix_connect() needs a path or a sock")
        new = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            new.settimeout(remaining())
            new.connect(path)
        except BaseException:
            new.close()
            raise
        return new
    assert host is not None
    assert port is not None
    if family or proto or flags:
        error: OSError | None = None
        for af, kind, prot, _, address in socket.getaddrinfo(
            host, port, family, socket.SOCK_STREAM, proto, flags
        ):
            new = socket.socket(af, kind, prot)
            try:
                new.settimeout(remaining())
                if local_addr is not None:
                    new.bind(local_addr)
                new.connect(address)
            except OSError as exc:
                new.close()
                error = exc
                continue
            return new
        raise error if error is not None else OSError(f"cannot resolve {host}")
    return socket.create_connection(
        (host, port), timeout=remaining(), source_address=local_addr
    )


def _connect_socket(
    host: str | None,
    port: int | None,
    *,
    unix: bool = False,
    path: str | None = None,
    sock: socket.socket | None = None,
    ssl: ssl_module.SSLContext | None = None,
    server_hostname: str | None = None,
    family: int = 0,
    proto: int = 0,
    flags: int = 0,
    local_addr: tuple[str, int] | None = None,
    **kwargs: Any,
) -> socket.socket:
    unknown = set(kwargs) - _IGNORED
    if unknown:
        raise TypeError(
            f"unexpected connection arguments: {', '.join(sorted(unknown))}; "
            "see asyncio's loop.create_connection for the supported ones"
        )
    raw = _open_socket(
        host,
        port,
        unix=unix,
        path=path,
        sock=sock,
        family=family,
        proto=proto,
        flags=flags,
        local_addr=local_addr,
    )
    try:
        if raw.family in (socket.AF_INET, socket.AF_INET6):
            # Frames are written whole; Nagle's algorithm would only delay them.
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl is not None:
            raw.settimeout(remaining())
            raw = ssl.wrap_socket(raw, server_hostname=server_hostname)
        return raw
    except BaseException:
        raw.close()
        raise


def open_connection(
    factory: Callable[[], _P],
    uri: WebSocketURI,
    *,
    proxy: Proxy | None,
    user_agent_header: str | None,
    unix: bool = False,
    **kwargs: Any,
) -> _P:
    """Open the connection to the WebSocket server and hand its socket to a new
    connection object.

    Args:
        factory: Builds the object that takes the socket, through its
            ``connection_made(sock)`` method.
        uri: The WebSocket URI; its host and port are the destination unless
            ``host``, ``port`` or ``sock`` say otherwise.
        proxy: The proxy to go through, or ``None``.
        user_agent_header: The ``User-Agent`` sent to an HTTP proxy.
        unix: Connect to the Unix socket at ``path`` instead of TCP.
        kwargs: As for asyncio's ``loop.create_connection``. With a proxy,
            ``ssl*`` and ``server_hostname`` apply to the WebSocket server,
            ``proxy_*`` to the proxy, and the rest to the connection to the proxy.

    Returns:
        The object built by ``factory``, owning a connected blocking socket
        (without timeout), TLS-wrapped for ``wss://``.

    Raises:
        OSError: The connection failed.
        ProxyError: The proxy refused or broke the tunnel.
        TimeoutError: The opening deadline passed.
    """
    _tls_defaults(kwargs, uri.secure, uri.host, "")
    if proxy is None:
        if kwargs.get("sock") is None and not unix:
            kwargs.setdefault("host", uri.host)
            kwargs.setdefault("port", uri.port)
        sock = _connect_socket(
            kwargs.pop("host", None), kwargs.pop("port", None), unix=unix, **kwargs
        )
    else:
        sock = _open_through_proxy(uri, proxy, user_agent_header, kwargs)
    sock.settimeout(None)
    connection = factory()
    connection.connection_made(sock)
    return connection


def _open_through_proxy(
    uri: WebSocketURI,
    proxy: Proxy,
    user_agent_header: str | None,
    kwargs: dict[str, Any],
) -> socket.socket:
    server_kwargs: dict[str, Any] = {}
    proxy_kwargs: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key.startswith("ssl") or key == "server_hostname":
            server_kwargs[key] = value
        elif key.startswith("proxy_"):
            proxy_kwargs[key[6:]] = value
        else:
            proxy_kwargs[key] = value
    _tls_defaults(proxy_kwargs, proxy.scheme == "https", proxy.host, "proxy_")
    if proxy_kwargs.get("sock") is None:
        proxy_kwargs.setdefault("host", proxy.host)
        proxy_kwargs.setdefault("port", proxy.port)
    sock = _connect_socket(
        proxy_kwargs.pop("host", None), proxy_kwargs.pop("port", None), **proxy_kwargs
    )
    try:
        reader = _HandshakeReader(sock)
        if proxy.scheme.startswith("socks"):
            _socks5_tunnel(reader, proxy, uri)
        else:
            _http_tunnel(reader, proxy, uri, user_agent_header)
        if reader.buffer:
            raise InvalidProxyMessage("proxy sent data before the tunnel was used")
        ssl = server_kwargs.pop("ssl", None)
        if ssl is not None:
            sock.settimeout(remaining())
            # TLS inside TLS (wss:// through an https:// proxy) needs a memory
            # BIO pair; the standard library offers it only to asyncio.
            if isinstance(sock, ssl_module.SSLSocket):
                raise ProxyError(
                    "wss:// through an https:// proxy is not supported by "
                    "wskit.threading; use an http:// proxy or wskit.asyncio"
                )
            sock = ssl.wrap_socket(sock, **server_kwargs)
        return sock
    except BaseException:
        sock.close()
        raise
