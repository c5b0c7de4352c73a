"""Opening client connections: ``connect``, ``unix_connect`` and reconnecting.

This module is shape-level: the sockets are opened in
:mod:`wskit.asyncio.network`. The API matches ``websockets.asyncio.client`` name
for name: ``connect()`` can be awaited, used as an async context manager, or
iterated to reconnect with exponential backoff.

Reconnection delays come from :func:`backoff`, which reads the module attributes
``BACKOFF_INITIAL_DELAY``, ``BACKOFF_MIN_DELAY``, ``BACKOFF_MAX_DELAY`` and
``BACKOFF_FACTOR`` each time a series starts (so tests and applications may change
them), or from the ``reconnect_delays`` option, a callable returning an iterator of
delays in seconds. Redirects are followed up to ``MAX_REDIRECTS`` times. Both can
also be set with the ``WSKIT_BACKOFF_*`` and ``WSKIT_MAX_REDIRECTS`` environment
variables.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import traceback
import urllib.parse
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal

from wskit.core.exceptions import InvalidMessage, InvalidStatus, SecurityError
from wskit.core.extensions.base import ClientExtensionFactory
from wskit.core.extensions.permessage_deflate import enable_client_permessage_deflate
from wskit.core.handshake import USER_AGENT
from wskit.core.headers import Headers, HeadersLike, validate_subprotocols
from wskit.core.protocol import ClientProtocol
from wskit.core.proxy import get_proxy, parse_proxy
from wskit.core.uri import parse_uri

from .connection import ClientConnection
from .network import open_connection, run_with_deadline

__all__ = [
    "BACKOFF_FACTOR",
    "BACKOFF_INITIAL_DELAY",
    "BACKOFF_MAX_DELAY",
    "BACKOFF_MIN_DELAY",
    "MAX_REDIRECTS",
    "backoff",
    "connect",
    "process_exception",
    "unix_connect",
]

# The default logger, looked up once: getLogger() takes a lock on every call.
_LOGGER = logging.getLogger("wskit.client")

MAX_REDIRECTS = int(os.environ.get("WSKIT_MAX_REDIRECTS", "10"))
"""How many HTTP redirects one opening follows before giving up."""

BACKOFF_INITIAL_DELAY = float(os.environ.get("WSKIT_BACKOFF_INITIAL_DELAY", "5"))
"""Upper bound of the random delay before the first reconnection (seconds)."""
BACKOFF_MIN_DELAY = float(os.environ.get("WSKIT_BACKOFF_MIN_DELAY", "3.1"))
"""Delay before the second reconnection (seconds)."""
BACKOFF_MAX_DELAY = float(os.environ.get("WSKIT_BACKOFF_MAX_DELAY", "90.0"))
"""Longest delay between reconnections (seconds)."""
BACKOFF_FACTOR = float(os.environ.get("WSKIT_BACKOFF_FACTOR", "1.618"))
"""Growth factor of the delay between reconnections."""

# RFC 9110 section 15.4: redirects that a client may follow with the same method.
_REDIRECT_CODES = frozenset({300, 301, 302, 303, 307, 308})
# Headers that carry credentials: never sent to another origin after a redirect.
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def backoff(
    initial_delay: float | None = None,
    min_delay: float | None = None,
    max_delay: float | None = None,
    factor: float | None = None,
) -> Generator[float, None, None]:
    """Generate the delays between reconnection attempts.

    The first delay is random (RFC 6455 section 7.2.3 asks clients to spread
    reconnections after an abnormal closure), then delays grow exponentially up
    to a cap. Arguments left to ``None`` read the module's ``BACKOFF_*``
    attributes.

    Args:
        initial_delay: Upper bound of the first, random, delay.
        min_delay: The second delay.
        max_delay: The cap.
        factor: The growth factor.

    Returns:
        An infinite generator of delays in seconds.
    """
    initial = BACKOFF_INITIAL_DELAY if initial_delay is None else initial_delay
    delay = BACKOFF_MIN_DELAY if min_delay is None else min_delay
    cap = BACKOFF_MAX_DELAY if max_delay is None else max_delay
    growth = BACKOFF_FACTOR if factor is None else factor
    yield random.random() * initial
    while delay < cap:
        yield delay
        delay *= growth
    while True:
        yield cap


def process_exception(exc: Exception) -> Exception | None:
    """Tell whether a failed connection attempt is worth retrying.

    The default retries network errors, which may be transient: :exc:`OSError`,
    :exc:`TimeoutError`, an :exc:`~wskit.core.exceptions.InvalidMessage` caused by
    the connection closing (:exc:`EOFError`), and
    :exc:`~wskit.core.exceptions.InvalidStatus` 500, 502, 503 or 504. Everything
    else is fatal.

    Args:
        exc: The exception raised while connecting.

    Returns:
        ``None`` to retry, or the exception to raise (``exc`` or a new one).
    """
    if isinstance(exc, (OSError, asyncio.TimeoutError, TimeoutError)):
        return None
    if isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError):
        return None
    if isinstance(exc, InvalidStatus) and exc.response.status_code in (
        500,
        502,
        503,
        504,
    ):
        return None
    return exc


class connect:
    """Connect to the WebSocket server at ``uri``.

    ``await connect(...)`` returns a :class:`ClientConnection` that you close;
    ``async with connect(...) as websocket:`` closes it on exit; ``async for
    websocket in connect(...):`` reconnects after transient errors (see
    :func:`process_exception`) with exponential backoff, reset after each
    successful connection.

    Args:
        uri: The ``ws://`` or ``wss://`` URI; user information becomes a Basic
            ``Authorization`` header.
        origin: The ``Origin`` header, for servers that require it.
        extensions: Extension factories to offer, in order of preference.
        subprotocols: Subprotocols to offer, in order of preference.
        compression: ``"deflate"`` offers permessage-deflate; ``None`` disables it.
        additional_headers: Headers to add to the request (a ``Headers``, a
            mapping, or ``(name, value)`` pairs); ``Host``, ``Origin``,
            ``Authorization`` and ``User-Agent`` replace the generated ones.
        user_agent_header: The ``User-Agent`` header; ``None`` removes it.
        proxy: ``True`` uses the proxy configured in the environment; a URL such
            as ``http://host:3128`` or ``socks5h://host:1080`` uses that proxy;
            ``None`` connects directly.
        process_exception: When reconnecting, decides whether an error is
            transient (return ``None``) or fatal (return an exception).
        open_timeout: Seconds for the whole opening (TCP, TLS, proxy, handshake,
            redirects); ``None`` disables the timeout.
        ping_interval: Seconds between keepalive pings; ``None`` disables them.
        ping_timeout: Seconds to wait for a keepalive pong; ``None`` disables it.
        close_timeout: Seconds to wait for the closing handshake and TCP close.
        reconnect_delays: Returns the delays between reconnections; defaults to
            :func:`backoff`.
        max_size: The largest incoming message, in bytes; ``None`` removes the
            limit.
        max_queue: High-water mark, in frames, of the incoming buffer, or a
            ``(high, low)`` tuple; ``None`` disables flow control.
        write_limit: High-water mark, in bytes, of the outgoing buffer, or a
            ``(high, low)`` tuple.
        logger: The logger; defaults to ``logging.getLogger("wskit.client")``.
        create_connection: A :class:`ClientConnection` subclass to instantiate.
        kwargs: Passed to :meth:`asyncio.loop.create_connection`: ``host`` and
            ``port`` change where TCP connects (``Host`` and TLS still use the
            URI's host), ``ssl`` sets the TLS context (default:
            :func:`ssl.create_default_context` for ``wss://``),
            ``server_hostname``, ``sock``, ``local_addr``, ``family``, ... With an
            HTTP proxy, ``proxy_``-prefixed arguments (``proxy_ssl``,
            ``proxy_server_hostname``) configure the connection to the proxy.

    Raises:
        InvalidURI: ``uri`` is not a valid WebSocket URI.
        InvalidProxy: ``proxy`` is not a valid proxy.
        OSError: The TCP connection failed.
        InvalidHandshake: The opening handshake failed.
        TimeoutError: The opening took longer than ``open_timeout``.
    """

    def __init__(
        self,
        uri: str,
        *,
        origin: str | None = None,
        extensions: Sequence[ClientExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        compression: str | None = "deflate",
        additional_headers: HeadersLike | None = None,
        user_agent_header: str | None = USER_AGENT,
        proxy: str | Literal[True] | None = True,
        process_exception: Callable[[Exception], Exception | None] = process_exception,
        open_timeout: float | None = 10,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        close_timeout: float | None = 10,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        max_size: int | None = 2**20,
        max_queue: int | tuple[int | None, int | None] | None = 16,
        write_limit: int | tuple[int, int | None] = 2**15,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
        create_connection: type[ClientConnection] | None = None,
        **kwargs: Any,
    ) -> None:
        self.uri = uri
        self.ws_uri = parse_uri(uri)
        if not self.ws_uri.secure and kwargs.get("ssl") is not None:
            raise ValueError(
                "ssl argument is incompatible with a ws:// URI; use wss://"
            )
        if subprotocols is not None:
            validate_subprotocols(subprotocols)
        if compression == "deflate":
            extensions = enable_client_permessage_deflate(extensions)
        elif compression is not None:
            raise ValueError(
                f"unsupported compression: {compression!r}; use 'deflate' or None"
            )
        if proxy is not None and proxy is not True:
            parse_proxy(proxy)  # fail early on a bad proxy address
        self.origin = origin
        self.extensions = extensions
        self.subprotocols = subprotocols
        self.additional_headers = additional_headers
        self.user_agent_header = user_agent_header
        self.proxy = proxy
        self.process_exception = process_exception
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.reconnect_delays = reconnect_delays
        self.max_size = max_size
        self.max_queue = max_queue
        self.write_limit = write_limit
        self.logger = logger if logger is not None else _LOGGER
        self.connection_class = (
            ClientConnection if create_connection is None else create_connection
        )
        self.create_connection_kwargs = kwargs

    def factory(self) -> ClientConnection:
        """Build the sans-I/O protocol and the connection wrapping it."""
        protocol = ClientProtocol(
            self.ws_uri,
            origin=self.origin,
            extensions=self.extensions,
            subprotocols=self.subprotocols,
            max_size=self.max_size,
            logger=self.logger,
            defer_failures=True,
        )
        return self.connection_class(
            protocol,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
            max_queue=self.max_queue,
            write_limit=self.write_limit,
        )

    async def open_tcp_connection(self) -> ClientConnection:
        """Open the network connection, through a proxy if one applies."""
        kwargs = dict(self.create_connection_kwargs)
        unix = bool(kwargs.pop("unix", False))
        proxy_url = self.proxy
        if unix or kwargs.get("sock") is not None:
            proxy_url = None
        elif proxy_url is True:
            proxy_url = get_proxy(self.ws_uri)
        return await open_connection(
            self.factory,
            self.ws_uri,
            proxy=None if proxy_url is None else parse_proxy(proxy_url),
            user_agent_header=self.user_agent_header,
            unix=unix,
            **kwargs,
        )

    def process_redirect(self, exc: Exception) -> Exception | str:
        """Return the URI to follow if ``exc`` is a redirect, else an exception.

        Args:
            exc: The exception raised by the handshake.

        Returns:
            The new URI, or the exception to raise: ``exc`` when it is not a
            redirect, or a new one when the redirect may not be followed.
        """
        if not (
            isinstance(exc, InvalidStatus)
            and exc.response.status_code in _REDIRECT_CODES
            and "Location" in exc.response.headers
        ):
            return exc
        old = self.ws_uri
        new_uri = urllib.parse.urljoin(self.uri, exc.response.headers["Location"])
        # urljoin knows http(s) better than ws(s): accept both spellings.
        if new_uri.startswith("http://"):
            new_uri = "ws://" + new_uri[7:]
        elif new_uri.startswith("https://"):
            new_uri = "wss://" + new_uri[8:]
        new = parse_uri(new_uri)
        if self.create_connection_kwargs.get("sock") is not None:
            return ValueError(
                f"cannot follow redirect to {new_uri} with a preexisting socket"
            )
        if old.secure and not new.secure:
            return SecurityError(
                f"refusing to follow redirect from wss:// to insecure {new_uri}: "
                "that would downgrade TLS"
            )
        if (old.secure, old.host, old.port) != (new.secure, new.host, new.port):
            kwargs = self.create_connection_kwargs
            if kwargs.get("unix", False):
                return ValueError(
                    f"cannot follow cross-origin redirect to {new_uri} "
                    "with a Unix socket"
                )
            if kwargs.get("host") is not None or kwargs.get("port") is not None:
                return ValueError(
                    f"cannot follow cross-origin redirect to {new_uri} "
                    "with an explicit host or port"
                )
            # Never leak credentials to another origin.
            if self.additional_headers is not None:
                self.additional_headers = Headers(
                    (name, value)
                    for name, value in Headers(self.additional_headers).raw_items()
                    if name.lower() not in _CREDENTIAL_HEADERS
                )
        return new_uri

    async def _connect(self) -> ClientConnection:
        for _ in range(MAX_REDIRECTS + 1):
            connection = await self.open_tcp_connection()
            try:
                await connection.handshake(
                    self.additional_headers, self.user_agent_header
                )
            except asyncio.CancelledError:
                connection.abort()
                raise
            except Exception as exc:
                # The HTTP connection is not reused: a new one is opened for a
                # redirect, with a new protocol.
                connection.abort()
                exc_or_uri = self.process_redirect(exc)
                if isinstance(exc_or_uri, Exception):
                    if exc_or_uri is exc:
                        raise
                    raise exc_or_uri from exc
                self.uri = exc_or_uri
                self.ws_uri = parse_uri(exc_or_uri)
                continue
            connection.start_keepalive()
            return connection
        raise SecurityError(
            f"more than {MAX_REDIRECTS} redirects; the server is probably "
            "misconfigured (a redirect loop)"
        )

    async def connect(self) -> ClientConnection:
        """Open the connection, following redirects, within ``open_timeout``.

        Returns:
            The open connection.

        Raises:
            TimeoutError: The opening took longer than ``open_timeout``.
        """
        try:
            return await run_with_deadline(self._connect, self.open_timeout)
        except asyncio.TimeoutError as exc:
            raise TimeoutError(
                f"timed out during opening handshake after {self.open_timeout} s; "
                "raise open_timeout if the server is slow"
            ) from exc

    # await connect(...)

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        """Open the connection; the caller closes it."""
        return self.connect().__await__()

    # async with connect(...) as websocket:

    async def __aenter__(self) -> ClientConnection:
        """Open the connection; it is closed when the block exits."""
        if hasattr(self, "connection"):
            raise RuntimeError("connect() isn't reentrant; call connect() again")
        self.connection = await self
        return self.connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the connection."""
        try:
            await self.connection.__aexit__(exc_type, exc_value, traceback)
        finally:
            del self.connection

    # async for websocket in connect(...):

    async def __aiter__(self) -> AsyncIterator[ClientConnection]:
        """Yield a new connection each time the previous one ended or failed.

        Raises:
            Exception: Whatever :func:`process_exception` deems fatal.
        """
        delays: Iterator[float] | None = None
        while True:
            try:
                async with self as connection:
                    yield connection
            except Exception as exc:
                try:
                    new_exc = self.process_exception(exc)
                except Exception as raised:
                    new_exc = raised
                if new_exc is exc:
                    raise
                if new_exc is not None:
                    raise new_exc from exc
                if delays is None:
                    delays = iter(self.reconnect_delays())
                delay = next(delays)
                self.logger.info(
                    "connect failed; reconnecting in %.1f seconds: %s",
                    delay,
                    traceback.format_exception_only(type(exc), exc)[0].strip(),
                )
                await asyncio.sleep(delay)
            else:
                # The connection worked: the next failure starts a new series.
                delays = None


def unix_connect(
    path: str | os.PathLike[str] | None = None,
    uri: str | None = None,
    **kwargs: Any,
) -> connect:
    """Connect to a WebSocket server listening on a Unix socket.

    Args:
        path: The socket's path in the file system.
        uri: The WebSocket URI; defaults to ``ws://localhost/``, or
            ``wss://localhost/`` when ``ssl`` is given.
        kwargs: As for :func:`connect`.

    Returns:
        The same object as :func:`connect`.
    """
    if uri is None:
        uri = "ws://localhost/" if kwargs.get("ssl") is None else "wss://localhost/"
    return connect(uri=uri, unix=True, path=path, **kwargs)
