"""The soak clients: one driver per backend, all reconnecting with ``connect``.

Each client sends numbered messages (:mod:`tools.soak.messages`) with at most
``window`` of them in flight, while a receiver checks the echoes
(:mod:`tools.soak.ledger`). After a random number of messages, or at the
deadline, it waits for every echo, closes with 1000 and starts a new connection,
which ``async for websocket in connect(...)`` (``for`` in wskit.threading) opens,
retrying after refused connections and HTTP 503 answers.

wskit.asyncio and wskit.legacy share the asyncio session; wskit.threading runs
the same steps in a thread, with the receiver in a second thread.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import wskit.asyncio
import wskit.legacy
import wskit.threading
from wskit.core.exceptions import ConnectionClosed

from .ledger import ClientLedger, Closure, ConnectionLedger
from .messages import KIND_FLOOD, Corrupted, MessageFactory, parse

__all__ = [
    "BACKENDS",
    "HANG_GUARD",
    "ClientConfig",
    "FloodResult",
    "LegacyConnect",
    "closure_of",
    "flood_asyncio",
    "flood_threading",
    "run_asyncio_client",
    "run_threading_client",
]

BACKENDS = ("wskit.asyncio", "wskit.threading", "wskit.legacy")

# Hang guards, not expectations: a healthy run stays far below them.
HANG_GUARD = 60.0


@dataclass
class ClientConfig:
    """One client's settings.

    Args:
        uri: The echo server's URI.
        origin: The client's number, written in each of its messages.
        backend: One of :data:`BACKENDS`.
        compression: Offer permessage-deflate.
        seed: The run's seed; the client's RNG is seeded with it and ``origin``.
        deadline: :func:`time.monotonic` time after which the client stops.
        window: How many messages may await their echo at once.
        drain_timeout: How long to wait for the last echoes before closing.
        pace: Upper bound of the random pause after each message, in seconds.
    """

    uri: str
    origin: int
    backend: str
    compression: bool
    seed: int
    deadline: float
    window: int = 8
    drain_timeout: float = 30.0
    pace: float = 0.01
    crashes: list[str] = field(default_factory=list)

    def rng(self) -> random.Random:
        return random.Random(f"{self.seed}:client:{self.origin}")


def fast_delays() -> Iterator[float]:
    """Reconnection delays for a soak: short, so that faults come often."""
    delay = 0.05
    while True:
        yield delay
        delay = min(delay * 2, 1.0)


class LegacyConnect(wskit.legacy.connect):
    """wskit.legacy's ``connect`` with a short backoff (legacy class attributes)."""

    BACKOFF_INITIAL = 0.1
    BACKOFF_MIN = 0.2
    BACKOFF_MAX = 1.0
    BACKOFF_FACTOR = 1.618


def closure_of(exc: ConnectionClosed) -> Closure:
    """How the connection ended, from the exception that reported it."""
    return Closure(
        handshake=exc.rcvd is not None and exc.sent is not None,
        code=None if exc.rcvd is None else exc.rcvd.code,
        reason="" if exc.rcvd is None else exc.rcvd.reason,
    )


class _AsyncSocket(Protocol):
    async def send(self, message: Any) -> None: ...
    async def recv(self) -> Any: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


# asyncio and legacy.


async def run_asyncio_client(config: ClientConfig, ledger: ClientLedger) -> None:
    """Run one asyncio or legacy client until its deadline."""
    rng = config.rng()
    factory = MessageFactory(config.origin, rng)
    compression = "deflate" if config.compression else None
    connections: Any
    if config.backend == "wskit.legacy":
        connections = LegacyConnect(
            config.uri, compression=compression, close_timeout=10
        )
    else:
        connections = wskit.asyncio.connect(
            config.uri,
            compression=compression,
            reconnect_delays=fast_delays,
            proxy=None,
        )
    try:
        async for websocket in connections:
            if await _asyncio_session(websocket, config, ledger, factory, rng):
                break
    except Exception:
        config.crashes.append(f"client {config.origin}: {traceback.format_exc()}")


async def _asyncio_session(
    websocket: _AsyncSocket,
    config: ClientConfig,
    ledger: ClientLedger,
    factory: MessageFactory,
    rng: random.Random,
) -> bool:
    """One connection; returns whether the deadline passed."""
    conn = ledger.connection()
    changed = asyncio.Event()

    async def receive() -> ConnectionClosed:
        try:
            while True:
                conn.received(await websocket.recv())
                changed.set()
        except ConnectionClosed as exc:
            return exc
        finally:
            changed.set()

    async def wait_for_room(room: int) -> None:
        # Until at most `room` messages are in flight or the receiver stopped.
        give_up = time.monotonic() + config.drain_timeout
        while len(conn.in_flight) > room and not receiver.done():
            changed.clear()
            left = give_up - time.monotonic()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(changed.wait(), left)
            except asyncio.TimeoutError:
                return

    receiver = asyncio.create_task(receive())
    quota = rng.randint(20, 400)
    try:
        for _ in range(quota):
            if time.monotonic() > config.deadline or receiver.done():
                break
            await wait_for_room(config.window - 1)
            out = factory.next()
            conn.sending(out.record)
            await asyncio.wait_for(
                websocket.send(out.fragments or out.payload), HANG_GUARD
            )
            await asyncio.sleep(rng.uniform(0, config.pace))
        await wait_for_room(0)
        if not receiver.done():
            await asyncio.wait_for(websocket.close(), HANG_GUARD)
    except ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        config.crashes.append(f"client {config.origin}: send or close hung")
    try:
        exc = await asyncio.wait_for(receiver, HANG_GUARD)
    except asyncio.TimeoutError:
        config.crashes.append(f"client {config.origin}: recv hung after the close")
        conn.finish(Closure(handshake=False))
        return True
    conn.finish(closure_of(exc))
    return time.monotonic() > config.deadline


# threading.


def run_threading_client(config: ClientConfig, ledger: ClientLedger) -> None:
    """Run one wskit.threading client until its deadline (in its own thread)."""
    rng = config.rng()
    factory = MessageFactory(config.origin, rng)
    try:
        for websocket in wskit.threading.connect(
            config.uri,
            compression="deflate" if config.compression else None,
            reconnect_delays=fast_delays,
            proxy=None,
        ):
            if _threading_session(websocket, config, ledger, factory, rng):
                break
    except Exception:
        config.crashes.append(f"client {config.origin}: {traceback.format_exc()}")


def _threading_session(
    websocket: wskit.threading.ClientConnection,
    config: ClientConfig,
    ledger: ClientLedger,
    factory: MessageFactory,
    rng: random.Random,
) -> bool:
    conn: ConnectionLedger = ledger.connection()
    changed = threading.Condition()
    closed: list[ConnectionClosed] = []

    def receive() -> None:
        try:
            while True:
                data = websocket.recv()
                with changed:
                    conn.received(data)
                    changed.notify()
        except ConnectionClosed as exc:
            closed.append(exc)
        except Exception:
            config.crashes.append(f"client {config.origin}: {traceback.format_exc()}")
        finally:
            with changed:
                changed.notify()

    def wait_for_room(room: int) -> None:
        give_up = time.monotonic() + config.drain_timeout
        with changed:
            while len(conn.in_flight) > room and receiver.is_alive():
                left = give_up - time.monotonic()
                if left <= 0:
                    return
                changed.wait(left)

    receiver = threading.Thread(
        target=receive, name=f"soak-recv-{config.origin}", daemon=True
    )
    receiver.start()
    quota = rng.randint(20, 400)
    try:
        for _ in range(quota):
            if time.monotonic() > config.deadline or not receiver.is_alive():
                break
            wait_for_room(config.window - 1)
            out = factory.next()
            with changed:
                conn.sending(out.record)
            websocket.send(out.fragments or out.payload)
            time.sleep(rng.uniform(0, config.pace))
        wait_for_room(0)
        if receiver.is_alive():
            websocket.close()
    except ConnectionClosed:
        pass
    receiver.join(HANG_GUARD)
    if receiver.is_alive() or not closed:
        config.crashes.append(f"client {config.origin}: recv hung after the close")
        with changed:
            conn.finish(Closure(handshake=False))
        return True
    with changed:
        conn.finish(closure_of(closed[0]))
    return time.monotonic() > config.deadline


# Flood: the server sends as fast as the client reads, and the client reads slowly.


@dataclass
class FloodResult:
    """What a flooded client saw."""

    backend: str
    received: int = 0
    bytes_received: int = 0
    errors: list[str] = field(default_factory=list)
    closure: Closure | None = None
    close_seconds: float = 0.0


def _flood_check(result: FloodResult, data: str | bytes) -> None:
    try:
        message = parse(data)
    except Corrupted as exc:
        result.errors.append(str(exc))
        return
    if message.kind != KIND_FLOOD or message.seq != result.received:
        result.errors.append(f"flood message {message.seq}, expected {result.received}")
    result.received += 1
    result.bytes_received += len(data)


async def flood_asyncio(
    uri: str, backend: str, seconds: float, delay: float
) -> FloodResult:
    """Read the flood slowly for ``seconds``, then close.

    The server may be refusing connections at that moment (``refuse``), so the
    client opens with the reconnecting iterator, like the soak clients.
    """
    result = FloodResult(backend)
    connections: Any
    if backend == "wskit.legacy":
        connections = LegacyConnect(uri, compression=None)
    else:
        connections = wskit.asyncio.connect(
            uri, compression=None, proxy=None, reconnect_delays=fast_delays
        )
    try:
        async for websocket in connections:
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                _flood_check(result, await websocket.recv())
                await asyncio.sleep(delay)
            closing = time.monotonic()
            await websocket.close()
            result.close_seconds = time.monotonic() - closing
            # Messages queued before the close may still come first.
            try:
                for _ in range(10_000):
                    await websocket.recv()
            except ConnectionClosed as exc:
                result.closure = closure_of(exc)
            break
    except Exception:
        result.errors.append(traceback.format_exc())
    return result


def flood_threading(uri: str, seconds: float, delay: float) -> FloodResult:
    """Read the flood slowly for ``seconds``, then close (wskit.threading)."""
    result = FloodResult("wskit.threading")
    try:
        for websocket in wskit.threading.connect(
            uri, compression=None, proxy=None, reconnect_delays=fast_delays
        ):
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                _flood_check(result, websocket.recv())
                time.sleep(delay)
            closing = time.monotonic()
            websocket.close()
            result.close_seconds = time.monotonic() - closing
            try:
                for _ in range(10_000):
                    websocket.recv()
            except ConnectionClosed as exc:
                result.closure = closure_of(exc)
            break
    except Exception:
        result.errors.append(traceback.format_exc())
    return result
