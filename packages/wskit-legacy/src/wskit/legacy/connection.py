"""``WebSocketClientProtocol``: the legacy connection class on wskit.asyncio.

It is a subclass of :class:`wskit.asyncio.ClientConnection` that adds the legacy
attributes as properties and overrides nothing on the data path: ``recv``,
``send``, ``data_received`` and the message queue are wskit.asyncio's own, so
legacy code runs at the speed of the new API. The one exception is
``legacy_recv=True``, which swaps in a ``recv`` that returns ``None`` on a closed
connection, for that connection only.

Each legacy attribute warns once per call site (see
:mod:`wskit.legacy.deprecation`) and names its replacement.
"""

from __future__ import annotations

from wskit.asyncio import ClientConnection, Data
from wskit.core.exceptions import ConnectionClosed, InvalidState
from wskit.core.headers import Headers
from wskit.core.protocol import ClientProtocol, State

from .deprecation import warn_legacy
from .renames import Kind

__all__ = ["WebSocketClientProtocol"]


class WebSocketClientProtocol(ClientConnection):
    """A client connection with the legacy attributes.

    Use it as legacy code did: as the type of the connection that ``connect()``
    returns, or as the base class of a ``create_protocol=`` subclass. Subclasses
    that override ``__init__`` should accept and pass on ``*args, **kwargs``.

    Args:
        protocol: The sans-I/O connection.
        ping_interval: Seconds between keepalive pings; ``None`` disables them.
        ping_timeout: Seconds to wait for a keepalive pong; ``None`` waits forever.
        close_timeout: Seconds to wait for the closing handshake.
        max_queue: High-water mark of the incoming buffer, in frames (``connect``
            passes the legacy count of messages; an unfragmented message is one
            frame); ``None`` disables flow control.
        write_limit: High-water mark, in bytes, of the outgoing buffer.
        legacy_recv: Make ``recv()`` return ``None`` instead of raising
            :exc:`~wskit.core.exceptions.ConnectionClosed` once the connection is
            closed, as very old versions of websockets did.
    """

    def __init__(
        self,
        protocol: ClientProtocol,
        *,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        close_timeout: float | None = 10,
        max_queue: int | tuple[int | None, int | None] | None = 2**5,
        write_limit: int | tuple[int, int | None] = 2**16,
        legacy_recv: bool = False,
    ) -> None:
        super().__init__(
            protocol,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_queue=max_queue,
            write_limit=write_limit,
        )
        #: Whether ``recv()`` returns ``None`` once the connection is closed.
        self.legacy_recv = legacy_recv
        if legacy_recv:
            # Per instance, so that connections without the option keep the
            # class's recv() and its speed.
            self.recv = self._recv_or_none  # type: ignore[method-assign,assignment]

    async def _recv_or_none(
        self, timeout: float | None = None, decode: bool | None = None
    ) -> Data | None:
        try:
            return await ClientConnection.recv(self, timeout, decode)
        except ConnectionClosed:
            return None

    # Handshake.

    @property
    def request_headers(self) -> Headers:
        """The handshake request headers; deprecated: use ``request.headers``.

        Raises:
            AttributeError: The request was not sent yet.
        """
        warn_legacy(Kind.ATTRIBUTE, "request_headers")
        if self.request is None:
            raise AttributeError("request_headers: the handshake request isn't sent")
        return self.request.headers

    @property
    def response_headers(self) -> Headers:
        """The handshake response headers; deprecated: use ``response.headers``.

        Raises:
            AttributeError: The response was not received yet.
        """
        warn_legacy(Kind.ATTRIBUTE, "response_headers")
        if self.response is None:
            raise AttributeError(
                "response_headers: the handshake response isn't received"
            )
        return self.response.headers

    @property
    def path(self) -> str:
        """The request target, path and query; deprecated: use ``request.path``."""
        warn_legacy(Kind.ATTRIBUTE, "path")
        if self.request is None:
            return self.protocol.wsuri.resource_name
        return self.request.path

    # State.

    @property
    def open(self) -> bool:
        """Whether the connection is open; deprecated: ``state is State.OPEN``."""
        warn_legacy(Kind.ATTRIBUTE, "open")
        return self.protocol.state is State.OPEN

    @property
    def closed(self) -> bool:
        """Whether the connection is closed; deprecated: ``state is State.CLOSED``.

        Like the legacy attribute, both :attr:`open` and :attr:`closed` are
        ``False`` while opening and closing.
        """
        warn_legacy(Kind.ATTRIBUTE, "closed")
        return self.protocol.state is State.CLOSED

    async def ensure_open(self) -> None:
        """Raise unless the connection is open; deprecated: handle ConnectionClosed.

        Raises:
            ConnectionClosed: The connection is closing or closed; raised once the
                TCP connection is closed, with the close code and reason.
            InvalidState: The opening handshake is not done.
        """
        warn_legacy(Kind.ATTRIBUTE, "ensure_open")
        state = self.protocol.state
        if state is State.OPEN:
            return
        if state is State.CONNECTING:
            raise InvalidState(
                "WebSocket connection isn't established yet; await connect() first"
            )
        await self._raise_closed()

    # The URI, as the legacy connection kept it.

    @property
    def host(self) -> str:
        """The URI's host; deprecated: ``remote_address[0]`` is the peer's address."""
        warn_legacy(Kind.ATTRIBUTE, "host")
        return self.protocol.wsuri.host

    @property
    def port(self) -> int:
        """The URI's port; deprecated: ``remote_address[1]`` is the peer's port."""
        warn_legacy(Kind.ATTRIBUTE, "port")
        return self.protocol.wsuri.port

    @property
    def secure(self) -> bool:
        """Whether the URI is ``wss://``; deprecated without replacement."""
        warn_legacy(Kind.ATTRIBUTE, "secure")
        return self.protocol.wsuri.secure

    def __repr__(self) -> str:
        """Show the class, the URI and the state, for logs and debuggers."""
        uri = self.protocol.wsuri
        scheme = "wss" if uri.secure else "ws"
        return (
            f"<{type(self).__name__} {scheme}://{uri.host}:{uri.port}"
            f"{uri.resource_name} {self.protocol.state.name}>"
        )
