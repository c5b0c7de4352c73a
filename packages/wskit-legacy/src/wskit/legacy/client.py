"""``connect`` and ``unix_connect`` with the legacy signature, on wskit.asyncio.

Code written for the legacy ``websockets.client`` module runs unchanged apart from
its import: :class:`connect` accepts every legacy keyword argument, translates it
to wskit.asyncio's spelling (warning once per call site, see
:mod:`wskit.legacy.deprecation`), and returns a
:class:`~wskit.legacy.connection.WebSocketClientProtocol`.

What keeps its legacy meaning, on purpose:

- ``max_queue`` counts messages (default 32). wskit.asyncio counts frames: the
  shim passes the same number as the high-water mark in frames, which is the
  same bound for unfragmented messages and a tighter one for fragmented
  messages; reading resumes at a quarter of it.
- ``close_timeout`` defaults to ``timeout``, which defaults to 10 seconds.
- ``async for websocket in connect(...)`` retries after *any* exception while
  connecting (wskit.asyncio retries only transient ones), with the legacy
  backoff (class attributes ``BACKOFF_INITIAL``, ``BACKOFF_MIN``,
  ``BACKOFF_MAX``, ``BACKOFF_FACTOR``, read from the ``WEBSOCKETS_BACKOFF_*``
  environment variables as legacy code did).
- Leaving ``async with connect(...)`` closes with code 1000 even after an
  exception.
- A refused handshake raises ``InvalidStatusCode`` (a subclass of
  ``InvalidStatus``).
- Proxies from the environment are not used (legacy websockets never used them)
  unless ``proxy=`` says so; the logger defaults to ``websockets.client``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import traceback
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from types import TracebackType
from typing import Any, Literal, cast

from wskit.asyncio import ClientConnection, InvalidStatus
from wskit.asyncio import client as asyncio_client
from wskit.core.extensions.base import ClientExtensionFactory
from wskit.core.handshake import USER_AGENT
from wskit.core.headers import HeadersLike
from wskit.core.protocol import ClientProtocol

from .connection import WebSocketClientProtocol as _Protocol
from .deprecation import warn_legacy
from .invalid_status import InvalidStatusCode
from .renames import Kind

__all__ = ["Connect", "connect", "unix_connect"]

# Tells a legacy keyword argument given explicitly from one left out, even when
# the caller passes None.
_UNSET: Any = object()


class connect(asyncio_client.connect):
    """Connect to the WebSocket server at ``uri``, with the legacy signature.

    ``await connect(...)``, ``async with connect(...) as websocket`` and ``async
    for websocket in connect(...)`` work as in legacy websockets. Arguments not
    listed here go to :meth:`asyncio.loop.create_connection` (``host``,
    ``port``, ``ssl``, ``sock``, ``server_hostname``, ``local_addr``, ...).

    Args:
        uri: The ``ws://`` or ``wss://`` URI.
        create_protocol: Legacy name of ``create_connection``: a
            :class:`~wskit.legacy.connection.WebSocketClientProtocol` subclass,
            or a callable taking the same keyword arguments.
        logger: The logger; defaults to ``logging.getLogger("websockets.client")``.
        compression: ``"deflate"`` or ``None``.
        origin: The ``Origin`` header.
        extensions: Extension factories to offer.
        subprotocols: Subprotocols to offer.
        extra_headers: Legacy name of ``additional_headers``.
        user_agent_header: The ``User-Agent`` header; ``None`` removes it.
        open_timeout: Seconds for the opening handshake; ``None`` disables it.
        ping_interval: Seconds between keepalive pings; ``None`` disables them.
        ping_timeout: Seconds to wait for a pong; ``None`` waits forever.
        close_timeout: Seconds to wait for the closing handshake; ``None`` means
            ``timeout``.
        max_size: The largest incoming message, in bytes; ``None`` for no limit.
        max_queue: How many incoming messages to buffer before pausing reading;
            ``None`` for no limit.
        read_limit: Ignored: wskit reads straight into the protocol.
        write_limit: High-water mark, in bytes, of the outgoing buffer.
        timeout: Legacy name of ``close_timeout`` (default 10 s).
        klass: Older legacy name of ``create_protocol``.
        legacy_recv: Make ``recv()`` return ``None`` on a closed connection.
        loop: Ignored: the running event loop is used.
        additional_headers: The new spelling of ``extra_headers``.
        create_connection: The new spelling of ``create_protocol``.
        proxy: As in :func:`wskit.asyncio.connect`, but ``None`` by default.
        kwargs: Passed to :meth:`asyncio.loop.create_connection`.

    Raises:
        TypeError: A legacy argument and its new spelling are both given.
        InvalidURI: ``uri`` is not a valid WebSocket URI.
        OSError: The TCP connection failed.
        InvalidStatusCode: The server refused the handshake with an HTTP status.
        InvalidHandshake: The opening handshake failed otherwise.
        TimeoutError: The opening took longer than ``open_timeout``.
    """

    BACKOFF_INITIAL = float(os.environ.get("WEBSOCKETS_BACKOFF_INITIAL_DELAY", "5"))
    """Upper bound of the random delay after a connection that worked (seconds)."""
    BACKOFF_MIN = float(os.environ.get("WEBSOCKETS_BACKOFF_MIN_DELAY", "3.1"))
    """The delay before the retry after that one (seconds)."""
    BACKOFF_MAX = float(os.environ.get("WEBSOCKETS_BACKOFF_MAX_DELAY", "90.0"))
    """The longest delay between retries (seconds)."""
    BACKOFF_FACTOR = float(os.environ.get("WEBSOCKETS_BACKOFF_FACTOR", "1.618"))
    """Growth factor of the delay between retries."""

    def __init__(
        self,
        uri: str,
        *,
        create_protocol: Callable[..., ClientConnection] | None = _UNSET,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
        compression: str | None = "deflate",
        origin: str | None = None,
        extensions: Sequence[ClientExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        extra_headers: HeadersLike | None = _UNSET,
        user_agent_header: str | None = USER_AGENT,
        open_timeout: float | None = 10,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        close_timeout: float | None = None,
        max_size: int | None = 2**20,
        max_queue: int | None = 2**5,
        read_limit: int = _UNSET,
        write_limit: int = 2**16,
        timeout: float | None = _UNSET,
        klass: Callable[..., ClientConnection] | None = _UNSET,
        legacy_recv: bool = _UNSET,
        loop: asyncio.AbstractEventLoop | None = _UNSET,
        additional_headers: HeadersLike | None = None,
        create_connection: Callable[..., ClientConnection] | None = None,
        proxy: str | Literal[True] | None = None,
        _stacklevel: int = 2,
        **kwargs: Any,
    ) -> None:
        def legacy(name: str, value: Any) -> bool:
            if value is _UNSET:
                return False
            warn_legacy(Kind.KEYWORD, name, stacklevel=_stacklevel + 1)
            return True

        if legacy("extra_headers", extra_headers):
            if additional_headers is not None:
                raise TypeError(
                    "extra_headers and additional_headers are the same argument; "
                    "pass only additional_headers"
                )
            additional_headers = extra_headers
        if legacy("timeout", timeout) and close_timeout is None:
            close_timeout = timeout
        if close_timeout is None:
            close_timeout = 10
        factory = create_connection
        # If both are given, klass is ignored, as in legacy websockets.
        for name, value in (("create_protocol", create_protocol), ("klass", klass)):
            if legacy(name, value) and factory is None:
                factory = value
        self.legacy_recv = legacy("legacy_recv", legacy_recv) and bool(legacy_recv)
        legacy("loop", loop)
        legacy("read_limit", read_limit)

        super().__init__(
            uri,
            origin=origin,
            extensions=extensions,
            subprotocols=subprotocols,
            compression=compression,
            additional_headers=additional_headers,
            user_agent_header=user_agent_header,
            proxy=proxy,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_size=max_size,
            max_queue=max_queue,
            write_limit=write_limit,
            logger=(
                logger if logger is not None else logging.getLogger("websockets.client")
            ),
            **kwargs,
        )
        #: Builds the connection: ``create_protocol``, ``klass`` or the default.
        self.protocol_factory: Callable[..., ClientConnection] = (
            _Protocol if factory is None else factory
        )

    def factory(self) -> ClientConnection:
        """Build the sans-I/O protocol and the legacy connection wrapping it."""
        protocol = ClientProtocol(
            self.ws_uri,
            origin=self.origin,
            extensions=self.extensions,
            subprotocols=self.subprotocols,
            max_size=self.max_size,
            logger=self.logger,
            defer_failures=True,
        )
        options: dict[str, Any] = {}
        if self.legacy_recv:
            options["legacy_recv"] = True
        # By keyword, as legacy websockets called create_protocol.
        return self.protocol_factory(
            protocol=protocol,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
            max_queue=self.max_queue,
            write_limit=self.write_limit,
            **options,
        )

    async def connect(self) -> _Protocol:
        """Open the connection; a refused handshake raises ``InvalidStatusCode``.

        Returns:
            The open connection.

        Raises:
            InvalidStatusCode: The server answered with a status other than 101.
            TimeoutError: The opening took longer than ``open_timeout``
                (:exc:`asyncio.TimeoutError` on Python 3.10, as legacy code
                expects).
        """
        try:
            connection = await super().connect()
        except InvalidStatus as exc:
            if isinstance(exc, InvalidStatusCode):
                raise
            legacy_exc = InvalidStatusCode.from_response(exc.response)
            raise legacy_exc.with_traceback(exc.__traceback__) from exc.__cause__
        except TimeoutError as exc:
            if sys.version_info < (3, 11):  # pragma: no cover - Python 3.10
                raise asyncio.TimeoutError(str(exc)) from exc
            raise
        return cast(_Protocol, connection)

    def __await__(self) -> Generator[Any, None, _Protocol]:
        """Open the connection; the caller closes it."""
        return self.connect().__await__()

    async def __aenter__(self) -> _Protocol:
        """Open the connection; it is closed when the block exits."""
        if hasattr(self, "connection"):
            raise RuntimeError("connect() isn't reentrant; call connect() again")
        self.connection: _Protocol = await self
        return self.connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the connection with code 1000, even after an exception."""
        try:
            await self.connection.close()
        finally:
            del self.connection

    async def __aiter__(self) -> AsyncIterator[_Protocol]:
        """Yield a new connection each time the previous one ended or failed.

        Any exception while connecting (or while closing at the end of an
        iteration) leads to a reconnection, after the legacy backoff:
        ``random() * BACKOFF_INITIAL`` seconds after a connection that
        worked, then ``int(delay)`` seconds with ``delay`` growing from
        ``BACKOFF_MIN`` by ``BACKOFF_FACTOR`` up to ``BACKOFF_MAX``; a series
        that starts with a failure begins at ``BACKOFF_MIN / BACKOFF_FACTOR``.
        """
        backoff_delay = self.BACKOFF_MIN / self.BACKOFF_FACTOR
        while True:
            try:
                async with self as connection:
                    yield connection
            except Exception as exc:
                reason = traceback.format_exception_only(type(exc), exc)[0].strip()
                # RFC 6455 section 7.2.3: a random first delay spreads the
                # reconnections of many clients after a server restart.
                if backoff_delay == self.BACKOFF_MIN:
                    initial_delay = random.random() * self.BACKOFF_INITIAL
                    self.logger.info(
                        "connect failed; reconnecting in %.1f seconds: %s",
                        initial_delay,
                        reason,
                    )
                    await asyncio.sleep(initial_delay)
                else:
                    self.logger.info(
                        "connect failed again; retrying in %d seconds: %s",
                        int(backoff_delay),
                        reason,
                    )
                    await asyncio.sleep(int(backoff_delay))
                backoff_delay = min(
                    backoff_delay * self.BACKOFF_FACTOR, self.BACKOFF_MAX
                )
            else:
                backoff_delay = self.BACKOFF_MIN


Connect = connect
"""The legacy name of the class behind :func:`connect`."""


def unix_connect(
    path: str | os.PathLike[str] | None = None,
    uri: str = "ws://localhost/",
    **kwargs: Any,
) -> connect:
    """Connect to a WebSocket server listening on a Unix socket.

    Args:
        path: The socket's path in the file system.
        uri: The WebSocket URI, for the ``Host`` header and TLS.
        kwargs: As for :class:`connect`, legacy spellings included.

    Returns:
        The same object as :class:`connect`.
    """
    return connect(uri, unix=True, path=path, _stacklevel=3, **kwargs)


def __getattr__(name: str) -> Any:
    """Hand out ``WebSocketClientProtocol`` with a warning at the caller's line."""
    if name == "WebSocketClientProtocol":
        warn_legacy(Kind.CLASS, name)
        return _Protocol
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
