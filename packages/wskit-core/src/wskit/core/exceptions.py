"""The exceptions that wskit raises, shared by every front end.

The hierarchy follows the websockets library's so that ``except`` clauses written
for it keep working after an import change::

    WebSocketException
    ├── ConnectionClosed
    │   ├── ConnectionClosedOK
    │   └── ConnectionClosedError
    ├── InvalidURI
    ├── InvalidProxy
    ├── UnsafeHeader (also a ValueError)
    ├── InvalidHandshake
    │   ├── SecurityError
    │   ├── InvalidMessage
    │   ├── InvalidStatus
    │   ├── ProxyError
    │   │   ├── InvalidProxyMessage
    │   │   └── InvalidProxyStatus
    │   ├── InvalidHeader
    │   │   ├── InvalidHeaderFormat
    │   │   ├── InvalidHeaderValue
    │   │   └── InvalidUpgrade
    │   └── NegotiationError
    │       ├── DuplicateParameter
    │       ├── InvalidParameterName
    │       └── InvalidParameterValue
    ├── ProtocolError
    ├── PayloadTooBig
    ├── InvalidState
    └── ConcurrencyError (also a RuntimeError)

Peer faults never escape :meth:`~wskit.core.protocol.ClientProtocol.receive_data`:
the protocol records them (``handshake_exc``, the close code) and the front ends raise
them where the application is waiting. Caller faults raise at once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .frames import Close
    from .http11 import Response

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


# The password of user information in a URI: scheme://user:password@host.
_PASSWORD = re.compile(r"^([^:/?#]*://[^:@/?#]*):[^@/?#]*@")


class WebSocketException(Exception):
    """Base class for every exception that wskit raises on purpose."""


class ConnectionClosed(WebSocketException):
    """The connection is closed; raised when receiving or sending afterwards.

    Args:
        rcvd: The close frame received from the server, if any.
        sent: The close frame sent to the server, if any.
        rcvd_then_sent: Whether the server started the closing handshake; ``None``
            unless both frames exist.
    """

    def __init__(
        self,
        rcvd: Close | None,
        sent: Close | None,
        rcvd_then_sent: bool | None = None,
    ) -> None:
        self.rcvd = rcvd
        self.sent = sent
        self.rcvd_then_sent = rcvd_then_sent
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.rcvd is None:
            if self.sent is None:
                return "no close frame received or sent"
            return f"sent {self.sent}; no close frame received"
        if self.sent is None:
            return f"received {self.rcvd}; no close frame sent"
        if self.rcvd_then_sent:
            return f"received {self.rcvd}; then sent {self.sent}"
        return f"sent {self.sent}; then received {self.rcvd}"

    @property
    def code(self) -> int:
        """The close code received, or 1006 when no close frame was received."""
        return 1006 if self.rcvd is None else self.rcvd.code

    @property
    def reason(self) -> str:
        """The close reason received, or ``""``."""
        return "" if self.rcvd is None else self.rcvd.reason


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed cleanly, with code 1000 or 1001 on both sides."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed because of an error or without a closing handshake."""


class InvalidURI(WebSocketException):
    """The URI is not a valid ``ws://`` or ``wss://`` URI.

    Args:
        uri: The URI as given.
        msg: What is wrong with it.
    """

    def __init__(self, uri: str, msg: str) -> None:
        self.uri = uri
        self.msg = msg
        super().__init__(str(self))

    def __str__(self) -> str:
        # Messages end up in logs: never show a password given in the URI.
        uri = _PASSWORD.sub(r"\1:***@", self.uri)
        return f"{uri!r} isn't a valid WebSocket URI: {self.msg}"


class UnsafeHeader(WebSocketException, ValueError):
    """A header that the caller asked to send could smuggle other headers.

    Raised for CR, LF or NUL characters, non-ASCII characters, or a name that is not
    an HTTP token: sending it would let a value inject headers or a body.

    Args:
        name: The header name.
        value: The header value.
        msg: What is wrong.
    """

    def __init__(self, name: str, value: str, msg: str) -> None:
        self.name = name
        self.value = value
        self.msg = msg
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"refusing to send header {self.name!r}: {self.msg}; "
            "remove the offending characters or percent-encode them"
        )


class InvalidHandshake(WebSocketException):
    """The opening handshake failed."""


class SecurityError(InvalidHandshake):
    """The server's response exceeded a limit: header count, line or body size."""


class InvalidMessage(InvalidHandshake):
    """The server's response was not a well-formed HTTP/1.1 response."""


class InvalidStatus(InvalidHandshake):
    """The server answered the upgrade request with a status other than 101.

    Args:
        response: The full response, with ``status_code``, ``headers`` and ``body``.
    """

    def __init__(self, response: Response) -> None:
        self.response = response
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"server rejected WebSocket connection: HTTP {self.response.status_code:d}"
        )


class InvalidHeader(InvalidHandshake):
    """A header of the server's response is missing or wrong.

    Args:
        name: The header name.
        value: The value received, or ``None`` when the header is missing.
    """

    def __init__(self, name: str, value: str | None = None) -> None:
        self.name = name
        self.value = value
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.value is None:
            return f"missing {self.name} header"
        if self.value == "":
            return f"empty {self.name} header"
        return f"invalid {self.name} header: {self.value}"


class InvalidHeaderFormat(InvalidHeader):
    """A header value could not be parsed.

    Args:
        name: The header name.
        error: What the parser expected.
        header: The whole value.
        pos: Where parsing failed.
    """

    def __init__(self, name: str, error: str, header: str, pos: int) -> None:
        super().__init__(name, f"{error} at {pos} in {header}")


class InvalidHeaderValue(InvalidHeader):
    """A header value parsed but is not acceptable."""


class InvalidUpgrade(InvalidHeader):
    """The ``Upgrade`` or ``Connection`` header is missing or wrong."""


class NegotiationError(InvalidHandshake):
    """Subprotocol or extension negotiation failed."""


class DuplicateParameter(NegotiationError):
    """An extension parameter appears twice.

    Args:
        name: The parameter name.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"duplicate parameter: {self.name}"


class InvalidParameterName(NegotiationError):
    """An extension parameter has an unknown name.

    Args:
        name: The parameter name.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"invalid parameter name: {self.name}"


class InvalidParameterValue(NegotiationError):
    """An extension parameter has a value that is not allowed.

    Args:
        name: The parameter name.
        value: The value, or ``None`` when the parameter came without one.
    """

    def __init__(self, name: str, value: str | None) -> None:
        self.name = name
        self.value = value
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.value is None:
            return f"missing value for parameter {self.name}"
        if self.value == "":
            return f"empty value for parameter {self.name}"
        return f"invalid value for parameter {self.name}: {self.value}"


class InvalidProxy(WebSocketException):
    """The proxy address is not valid.

    Args:
        proxy: The proxy as given.
        msg: What is wrong with it.
    """

    def __init__(self, proxy: str, msg: str) -> None:
        self.proxy = proxy
        self.msg = msg
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.proxy!r} isn't a valid proxy: {self.msg}"


class ProxyError(InvalidHandshake):
    """Connecting through the proxy failed."""


class InvalidProxyMessage(ProxyError):
    """The proxy's answer could not be parsed."""


class InvalidProxyStatus(ProxyError):
    """The HTTP proxy refused the ``CONNECT`` request.

    Args:
        status_code: The status code the proxy answered with.
        reason: The reason phrase.
    """

    def __init__(self, status_code: int, reason: str = "") -> None:
        self.status_code = status_code
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        message = f"proxy rejected connection: HTTP {self.status_code:d} {self.reason}"
        return message.rstrip()


class ProtocolError(WebSocketException):
    """The peer broke RFC 6455 or RFC 7692 (bad frame, bad UTF-8, bad close code)."""


class PayloadTooBig(WebSocketException):
    """A message exceeded ``max_size`` after decompression.

    Args:
        size: The size reached, when known.
        max_size: The limit in force.
    """

    def __init__(self, size: int | None, max_size: int) -> None:
        self.size = size
        self.max_size = max_size
        super().__init__(str(self))

    def __str__(self) -> str:
        got = "message" if self.size is None else f"{self.size} bytes message"
        return (
            f"{got} exceeds max_size={self.max_size} bytes; "
            "raise max_size if such messages are expected"
        )


class InvalidState(WebSocketException, AssertionError):
    """The caller did what the connection's state forbids, e.g. send after close."""


class ConcurrencyError(WebSocketException, RuntimeError):
    """Two coroutines or threads did something that must not run concurrently.

    For example two concurrent ``recv()`` calls: each message would go to an
    arbitrary one of them.
    """
