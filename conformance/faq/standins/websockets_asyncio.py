"""``wskit.asyncio``'s names, from ``websockets.asyncio.client`` (no adaptation)."""

from __future__ import annotations

from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    WebSocketException,
)

__all__ = [
    "ClientConnection",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidStatus",
    "WebSocketException",
    "connect",
    "unix_connect",
]
