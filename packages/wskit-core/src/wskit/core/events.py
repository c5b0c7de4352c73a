"""What the protocol reports to the front end, as one closed union.

A front end can ``match`` on :data:`Event` and finish with ``assert_never``: adding
an event type then fails type checking in every front end that forgot it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .frames import Close
from .http11 import Response

__all__ = ["BinaryData", "Close", "Event", "Ping", "Pong", "Response", "TextData"]


@dataclass(frozen=True, slots=True)
class TextData:
    """A text frame's payload, already checked and decoded from UTF-8.

    ``final`` is true on the last frame of the message. Continuation frames of a
    text message arrive as ``TextData`` too, so a front end never tracks opcodes.
    """

    data: str
    final: bool = True


@dataclass(frozen=True, slots=True)
class BinaryData:
    """A binary frame's payload; ``final`` is true on the last frame of the message."""

    data: bytes
    final: bool = True


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping from the server; the protocol has already queued the pong."""

    data: bytes = b""


@dataclass(frozen=True, slots=True)
class Pong:
    """A pong from the server, answering one of our pings or unsolicited."""

    data: bytes = b""


Event = Response | TextData | BinaryData | Ping | Pong | Close
"""Everything :meth:`~wskit.core.protocol.ClientProtocol.events_received` returns."""
