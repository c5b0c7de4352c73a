"""The exceptions of the legacy ``websockets.exceptions`` module.

Every exception is wskit's own (:mod:`wskit.core.exceptions`), so that ``except``
clauses in legacy code and in migrated code catch the same objects. Two legacy
names remain, reached through a module ``__getattr__`` that warns once per call
site:

- ``InvalidStatusCode``, a subclass of ``InvalidStatus`` with the legacy
  ``status_code`` and ``headers`` attributes; the shim raises it for a refused
  handshake;
- ``WebSocketProtocolError``, the legacy alias of ``ProtocolError``.

They stay out of ``__all__`` so that ``from ... import *`` does not warn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

from .deprecation import warn_legacy
from .renames import Kind

if TYPE_CHECKING:
    from .invalid_status import InvalidStatusCode as InvalidStatusCode

    WebSocketProtocolError = ProtocolError

__all__ = [
    "ConcurrencyError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "DuplicateParameter",
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
    "SecurityError",
    "UnsafeHeader",
    "WebSocketException",
]


def _legacy_exception(name: str) -> type[Exception] | None:
    """Return the class behind a legacy exception name, without warning.

    Args:
        name: ``InvalidStatusCode`` or ``WebSocketProtocolError``.

    Returns:
        The class, or ``None`` for any other name.
    """
    if name == "InvalidStatusCode":
        from .invalid_status import InvalidStatusCode

        return InvalidStatusCode
    if name == "WebSocketProtocolError":
        return ProtocolError
    return None


def __getattr__(name: str) -> Any:
    """Hand out the legacy exception names with a warning at the caller's line."""
    cls = _legacy_exception(name)
    if cls is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warn_legacy(Kind.EXCEPTION, name)
    return cls
