"""``wskit.legacy``'s names, from ``websockets.legacy.client`` (no adaptation).

Importing ``websockets.legacy`` warns that it is deprecated; the warning is
silenced here because the programs under test do not cause it.
"""

from __future__ import annotations

import warnings

from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    WebSocketException,
)
from websockets.legacy.exceptions import InvalidStatusCode

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from websockets.legacy.client import WebSocketClientProtocol, connect

__all__ = [
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidStatusCode",
    "WebSocketClientProtocol",
    "WebSocketException",
    "connect",
]
