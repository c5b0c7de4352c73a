"""``wskit.threading``'s names, from ``websockets.sync.client``, adapted.

``wskit.threading`` has ``wskit.asyncio``'s API without ``await``. Two things of
``websockets.sync.client`` differ, and :class:`connect` adapts them:

- one ``connect()`` serves as a context manager, as a reconnecting iterator
  (websockets' ``reconnect()``) and, used directly, as the open connection
  (websockets' ``connect()``);
- ``host`` and ``port`` choose the address to connect to, as in asyncio
  (websockets takes ``address=(host, port)``).
"""

from __future__ import annotations

from typing import Any

from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    WebSocketException,
)
from websockets.sync.client import ClientConnection, reconnect
from websockets.uri import parse_uri

__all__ = [
    "ClientConnection",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidStatus",
    "WebSocketException",
    "connect",
]


class connect(reconnect):
    """Connect to ``uri``: ``with connect(...)``, ``for ... in connect(...)``, or
    ``websocket = connect(...)`` (the connection opens on first use).

    Args:
        uri: The WebSocket URI.
        host: Address to connect to instead of the URI's host.
        port: Port to connect to instead of the URI's port.
        kwargs: Everything else that ``websockets.sync.client.reconnect`` takes.
    """

    def __init__(
        self,
        uri: str,
        *,
        host: str | None = None,
        port: int | None = None,
        **kwargs: Any,
    ) -> None:
        if host is not None or port is not None:
            ws_uri = parse_uri(uri)
            kwargs["address"] = (host or ws_uri.host, port or ws_uri.port)
        super().__init__(uri, **kwargs)
        self._direct: ClientConnection | None = None

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that reconnect lacks: the connection's API.
        # reconnect probes its own "connection" attribute; it is not delegated.
        if name.startswith("_") or name == "connection":
            raise AttributeError(name)
        if self._direct is None:
            self._direct = self.connect()
            self._direct.pending_legacy_warning = False
        return getattr(self._direct, name)
