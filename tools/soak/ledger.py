"""Bookkeeping of sent and received messages: confirmed, lost, duplicated, ...

Every client message is echoed by the server. Per connection, echoes must come
back intact and in the order the messages were sent; each one confirms the oldest
message still in flight. When the connection ends:

- If the closing handshake completed and the server started it, its close reason
  says how many echoes and burst messages it had sent (``echoed=N burst=M``): the
  client must have received exactly those. Any shortfall is *lost*; messages the
  server never echoed (it was closing) are *unconfirmed*.
- If the closing handshake completed and the client started it, the client had
  waited for every echo first: anything still in flight is *lost*.
- Otherwise a fault cut the connection: what was in flight is *unconfirmed*.

The classes are not thread-safe: a client whose sender and receiver run in two
threads holds a lock around them.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field

from .messages import KIND_BURST, KIND_ECHO, Corrupted, Message, parse

__all__ = [
    "MAX_ERRORS",
    "ClientLedger",
    "Closure",
    "ConnectionLedger",
    "Totals",
    "format_report",
    "parse_report",
]

MAX_ERRORS = 20
"""How many error descriptions :class:`Totals` keeps; the counters keep counting."""

_REPORT = re.compile(r"echoed=(\d+) burst=(\d+)")


def format_report(echoed: int, burst: int) -> str:
    """The close reason by which the server tells what it sent on a connection."""
    return f"echoed={echoed} burst={burst}"


def parse_report(reason: str) -> tuple[int, int] | None:
    """``(echoed, burst)`` from a close reason, or ``None`` if it has no report."""
    match = _REPORT.fullmatch(reason)
    if match is None:
        return None
    return int(match[1]), int(match[2])


@dataclass
class Totals:
    """Counters over all connections of one or more clients."""

    connections: int = 0
    closed_cleanly: int = 0
    faulted: int = 0
    sent: int = 0
    confirmed: int = 0
    unconfirmed: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    corrupted: int = 0
    unexpected: int = 0
    burst_received: int = 0
    burst_lost: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    close_codes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def error(self, description: str) -> None:
        """Keep a description of a failure, up to :data:`MAX_ERRORS` of them."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(description)

    @property
    def failures(self) -> int:
        """Messages lost, duplicated, reordered, corrupted or never sent."""
        return (
            self.lost
            + self.duplicated
            + self.reordered
            + self.corrupted
            + self.unexpected
            + self.burst_lost
        )

    def add(self, other: Totals) -> None:
        """Add another client's counters to these."""
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.close_codes.update(other.close_codes)
        for description in other.errors:
            self.error(description)


@dataclass(frozen=True, slots=True)
class Closure:
    """How a connection ended, as the client saw it.

    Args:
        handshake: Close frames went both ways.
        code: The code of the close frame received, if any.
        reason: The reason of the close frame received.
    """

    handshake: bool
    code: int | None = None
    reason: str = ""


class ConnectionLedger:
    """The messages of one connection; see the module's docstring."""

    def __init__(self, client: ClientLedger) -> None:
        self.client = client
        self.totals = client.totals
        self.in_flight: deque[Message] = deque()
        self.echoed = 0
        self.burst = 0
        self.finished = False

    def sending(self, record: Message) -> None:
        """Record a message before it is sent: its echo may come back at once."""
        self.in_flight.append(record)
        self.totals.sent += 1
        self.totals.bytes_sent += record.length

    def received(self, data: str | bytes) -> None:
        """Check a received message and account for it."""
        totals = self.totals
        totals.bytes_received += len(data)
        try:
            message = parse(data)
        except Corrupted as exc:
            totals.corrupted += 1
            totals.error(f"client {self.client.origin}: {exc}")
            return
        if message.kind == KIND_BURST:
            self._received_burst(message)
        elif message.kind == KIND_ECHO and message.origin == self.client.origin:
            self._received_echo(message)
        else:
            totals.unexpected += 1
            totals.error(f"client {self.client.origin}: unexpected {message}")

    def _received_echo(self, message: Message) -> None:
        totals = self.totals
        in_flight = self.in_flight
        if in_flight and message.seq == in_flight[0].seq:
            sent = in_flight.popleft()
            self.echoed += 1
            self.client.last_confirmed = message.seq
            if message == sent:
                totals.confirmed += 1
            else:
                totals.corrupted += 1
                totals.error(f"echo {message} differs from what was sent: {sent}")
        elif message.seq <= self.client.last_confirmed:
            totals.duplicated += 1
            totals.error(f"client {self.client.origin}: duplicate echo {message.seq}")
        elif any(record.seq == message.seq for record in in_flight):
            # It came back before older messages: they were skipped.
            for index, record in enumerate(in_flight):
                if record.seq == message.seq:
                    del in_flight[index]
                    break
            self.echoed += 1
            totals.reordered += 1
            totals.error(
                f"client {self.client.origin}: echo {message.seq} before "
                f"{in_flight[0].seq}"
            )
        else:
            totals.unexpected += 1
            totals.error(
                f"client {self.client.origin}: echo {message.seq} was not sent on "
                "this connection"
            )

    def _received_burst(self, message: Message) -> None:
        totals = self.totals
        totals.burst_received += 1
        if message.seq != self.burst:
            if message.seq < self.burst:
                totals.duplicated += 1
            else:
                totals.burst_lost += message.seq - self.burst
            totals.error(
                f"client {self.client.origin}: burst message {message.seq}, "
                f"expected {self.burst}"
            )
        self.burst = max(self.burst, message.seq + 1)

    def finish(self, closure: Closure) -> None:
        """Account for what was in flight when the connection ended."""
        if self.finished:
            raise RuntimeError("finish() was called twice for one connection")
        self.finished = True
        totals = self.totals
        totals.connections += 1
        code = "none" if closure.code is None else str(closure.code)
        totals.close_codes[code if closure.handshake else f"{code}, no handshake"] += 1
        pending = len(self.in_flight)
        if not closure.handshake:
            totals.faulted += 1
            totals.unconfirmed += pending
            return
        totals.closed_cleanly += 1
        report = parse_report(closure.reason)
        if report is None:
            lost = pending
        else:
            echoed, burst = report
            lost = max(0, echoed - self.echoed)
            burst_lost = max(0, burst - self.burst)
            if burst_lost:
                totals.burst_lost += burst_lost
                totals.error(
                    f"client {self.client.origin}: the server sent {burst} burst "
                    f"messages before closing, {self.burst} arrived"
                )
            totals.unconfirmed += pending - min(lost, pending)
        if lost:
            totals.lost += lost
            totals.error(
                f"client {self.client.origin}: {lost} messages lost on a connection "
                f"closed with {closure.code} {closure.reason!r}"
            )


class ClientLedger:
    """One client's counters and numbering, across its connections."""

    def __init__(self, origin: int) -> None:
        self.origin = origin
        self.totals = Totals()
        # Sequence numbers increase across connections, so an echo at or below
        # the last confirmed one can only be a duplicate.
        self.last_confirmed = -1

    def connection(self) -> ConnectionLedger:
        """Start accounting for a new connection."""
        return ConnectionLedger(self)
