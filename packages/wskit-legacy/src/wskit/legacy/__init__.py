"""wskit.legacy: run code written for the legacy websockets API, then migrate it.

Change one import and legacy code runs on wskit.asyncio::

    import wskit.legacy as websockets

    async with websockets.connect(uri, extra_headers={"X-Token": token}) as ws:
        print(ws.request_headers["X-Token"])

Every legacy spelling still works and warns once per call site with a
:class:`LegacyDeprecationWarning` naming its replacement. Then
``python -m wskit.legacy.codemod PATH...`` rewrites the code for
:mod:`wskit.asyncio`. One table, :data:`wskit.legacy.renames.RENAMES`, drives the
warnings, the codemod and the migration guide.

The submodules ``client`` and ``exceptions`` stand in for ``websockets.client``
and ``websockets.exceptions``. The package also exports the new names of
:mod:`wskit.asyncio` (``ClientConnection``, ``InvalidStatus``, ``State``, ...),
so that half-migrated code runs too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wskit.asyncio import ClientConnection, Data
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

from . import client, exceptions
from .client import Connect, connect, unix_connect
from .connection import WebSocketClientProtocol as _Protocol
from .deprecation import LegacyDeprecationWarning, warn_legacy
from .exceptions import _legacy_exception
from .renames import Kind

if TYPE_CHECKING:
    from .connection import WebSocketClientProtocol as WebSocketClientProtocol
    from .invalid_status import InvalidStatusCode as InvalidStatusCode

    WebSocketProtocolError = ProtocolError

__all__ = [
    "ClientConnection",
    "CloseCode",
    "ConcurrencyError",
    "Connect",
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
    "LegacyDeprecationWarning",
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
    "client",
    "connect",
    "exceptions",
    "unix_connect",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Hand out the legacy class and exception names, warning at the caller's line.

    ``WebSocketClientProtocol``, ``InvalidStatusCode`` and
    ``WebSocketProtocolError`` stay out of ``__all__``, so that ``import *`` does
    not warn.
    """
    if name == "WebSocketClientProtocol":
        warn_legacy(Kind.CLASS, name)
        return _Protocol
    cls = _legacy_exception(name)
    if cls is not None:
        warn_legacy(Kind.EXCEPTION, name)
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
