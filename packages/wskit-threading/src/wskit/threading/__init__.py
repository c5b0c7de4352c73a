"""wskit.threading: a threading WebSocket client with the asyncio client's API.

The API is :mod:`wskit.asyncio`'s without ``async`` and ``await``, and with a
``Thread`` where asyncio uses a ``Task``::

    from wskit.threading import connect

    with connect("ws://localhost:8765") as websocket:
        websocket.send("Hello")
        print(websocket.recv())

The exceptions, :class:`State` and :class:`Headers` are re-exported so that an
application needs this one import.
"""

from __future__ import annotations

from wskit.core.exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    DuplicateParameter,
    InvalidHandshake,
    InvalidHeader,
    InvalidHeaderFormat,
    InvalidHeaderValue,
    InvalidMessage,
    InvalidParameterName,
    InvalidParameterValue,
    InvalidProxy,
    InvalidProxyMessage,
    InvalidProxyStatus,
    InvalidState,
    InvalidStatus,
    InvalidUpgrade,
    InvalidURI,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
    ProxyError,
    SecurityError,
    UnsafeHeader,
    WebSocketException,
)
from wskit.core.frames import CloseCode
from wskit.core.headers import Headers, HeadersLike
from wskit.core.http11 import Request, Response
from wskit.core.protocol import State

from .client import backoff, connect, process_exception, unix_connect
from .connection import ClientConnection, Data

__all__ = [
    "ClientConnection",
    "CloseCode",
    "ConcurrencyError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "Data",
    "DuplicateParameter",
    "Headers",
    "HeadersLike",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidHeaderFormat",
    "InvalidHeaderValue",
    "InvalidMessage",
    "InvalidParameterName",
    "InvalidParameterValue",
    "InvalidProxy",
    "InvalidProxyMessage",
    "InvalidProxyStatus",
    "InvalidState",
    "InvalidStatus",
    "InvalidURI",
    "InvalidUpgrade",
    "NegotiationError",
    "PayloadTooBig",
    "ProtocolError",
    "ProxyError",
    "Request",
    "Response",
    "SecurityError",
    "State",
    "UnsafeHeader",
    "WebSocketException",
    "__version__",
    "backoff",
    "connect",
    "process_exception",
    "unix_connect",
]

__version__ = "0.1.0"
