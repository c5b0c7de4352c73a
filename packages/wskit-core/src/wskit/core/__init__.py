"""wskit.core: the sans-I/O WebSocket client protocol shared by every wskit front end.

It turns bytes into events and calls into bytes, and performs every protocol duty
(RFC 6455, RFC 7692) itself, so that the asyncio and threading clients only move
bytes and wake up waiters.
"""

from __future__ import annotations

from .events import BinaryData, Close, Event, Ping, Pong, Response, TextData
from .exceptions import (
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
from .frames import CloseCode, Frame, Opcode
from .headers import Headers, HeadersLike, MultipleValuesError
from .http11 import Request
from .protocol import ClientProtocol, State
from .uri import WebSocketURI, parse_uri
from .version import __version__

__all__ = [
    "BinaryData",
    "ClientProtocol",
    "Close",
    "CloseCode",
    "ConcurrencyError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "DuplicateParameter",
    "Event",
    "Frame",
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
    "MultipleValuesError",
    "NegotiationError",
    "Opcode",
    "PayloadTooBig",
    "Ping",
    "Pong",
    "ProtocolError",
    "ProxyError",
    "Request",
    "Response",
    "SecurityError",
    "State",
    "TextData",
    "UnsafeHeader",
    "WebSocketException",
    "WebSocketURI",
    "__version__",
    "parse_uri",
]
