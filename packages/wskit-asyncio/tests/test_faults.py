"""Fault injection: servers that break, vanish, flood or stop reading.

The tables of faults live in :mod:`testing.faults`, shared by every backend; each
fault must end with a specific exception whose message or close code says what
the server did wrong, within the documented timeouts (the ``timeout`` given to
``recv()`` is a hang guard, not a measurement).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from testing.asyncio_run import async_test
from testing.faults import (
    FRAME_FAULTS,
    HANDSHAKE_FAULTS,
    FrameFault,
    HandshakeFault,
    after_handshake,
    fault_server,
    flooding,
    frame,
)
from testing.servers import TIMEOUT
from wskit.asyncio import (
    ClientConnection,
    ConnectionClosedError,
    connect,
    process_exception,
)


def open_ws(uri: str, **kwargs: Any) -> connect:
    kwargs.setdefault("proxy", None)
    kwargs.setdefault("open_timeout", TIMEOUT)
    return connect(uri, **kwargs)


async def wait_until(predicate: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), TIMEOUT)


def buffered(ws: ClientConnection) -> int:
    """Bytes waiting in user space to be written to the socket."""
    return ws.transport.get_write_buffer_size()


# The shared tables.


@pytest.mark.parametrize("fault", HANDSHAKE_FAULTS, ids=lambda fault: fault.id)
@async_test
async def test_handshake_fault(fault: HandshakeFault) -> None:
    with fault_server(fault.script) as peer, pytest.raises(fault.error) as info:
        await open_ws(peer.uri, **fault.options)
    fault.check(info.value)


@pytest.mark.parametrize("fault", FRAME_FAULTS, ids=lambda fault: fault.id)
@async_test
async def test_frame_fault(fault: FrameFault) -> None:
    options = {"ping_interval": None, **fault.options}
    with fault_server(fault.script) as peer:
        ws = await open_ws(peer.uri, **options)
        try:
            for expected in fault.before:
                assert await ws.recv(timeout=TIMEOUT) == expected
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv(timeout=TIMEOUT)
        finally:
            await ws.close()
    fault.check(info.value, peer.close_codes)


# Peers that go quiet.


@async_test
async def test_peer_vanishes_without_fin() -> None:
    # The server neither reads, writes nor closes: only keepalive can tell.
    with fault_server(after_handshake(b"", then="hold")) as peer:
        ws = await open_ws(
            peer.uri, ping_interval=0.05, ping_timeout=0.05, close_timeout=0.05
        )
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv(timeout=TIMEOUT)
        await ws.close()
    assert info.value.sent is not None
    assert info.value.sent.code == 1011
    assert info.value.sent.reason == "keepalive ping timeout"
    assert isinstance(info.value.__cause__, TimeoutError)
    assert ws.close_code == 1006


async def send_until_closed(
    ws: ClientConnection, message: bytes, sizes: list[int]
) -> None:
    """Send until the connection fails, noting the bytes buffered after each send."""
    # Far more than any socket buffer holds: the loop must be ended by the
    # connection failing, not by running out of messages.
    for _ in range(100_000):
        await ws.send(message)
        sizes.append(buffered(ws))


@async_test
async def test_server_stops_reading_send_fails_with_keepalive() -> None:
    # The client's sends fill the buffers, then block; keepalive must still
    # notice that the server is gone and end the blocked send.
    message = b"s" * 65536
    with fault_server(after_handshake(b"", then="hold")) as peer:
        ws = await open_ws(
            peer.uri,
            ping_interval=0.05,
            ping_timeout=0.05,
            close_timeout=0.05,
            compression=None,
        )
        sizes: list[int] = []
        with pytest.raises(ConnectionClosedError) as info:
            await send_until_closed(ws, message, sizes)
        await ws.close()
    assert info.value.sent is not None
    assert info.value.sent.code == 1011
    assert info.value.sent.reason == "keepalive ping timeout"
    # Each send() returned with no more than write_limit bytes buffered.
    assert sizes
    assert max(sizes) <= 2**15


# Slow reader, fast writer.


FLOOD_SIZE = 65536
FLOOD_TOTAL = 64 * 2**20


@async_test
async def test_slow_reader_bounds_memory_by_max_queue() -> None:
    with fault_server(flooding(frame(0x2, b"f" * FLOOD_SIZE), FLOOD_TOTAL)) as peer:
        ws = await open_ws(peer.uri, max_queue=4, compression=None, ping_interval=None)
        # Do not read until the server can no longer write.
        await wait_until(peer.stalled.is_set)
        pushed = peer.pushed
        queued = len(ws.recv_messages.frames)
        received = 0
        while received * FLOOD_SIZE < FLOOD_TOTAL:
            message = await ws.recv(timeout=TIMEOUT)
            assert len(message) == FLOOD_SIZE
            received += 1
        await ws.close()
    # The server could push only what the socket buffers and max_queue hold:
    # a small part of what it had to send.
    assert pushed < FLOOD_TOTAL // 4, pushed
    assert 4 <= queued <= 4 + 2**18 // FLOOD_SIZE + 1
    assert ws.recv_messages.max_seen <= 4 + 2**18 // FLOOD_SIZE + 1
    assert received * FLOOD_SIZE == FLOOD_TOTAL


# Reconnecting after DNS failures and refused connections.


def counted_delays(taken: list[float]) -> Callable[[], Iterator[float]]:
    def delays() -> Iterator[float]:
        for delay in itertools.repeat(0.01):
            taken.append(delay)
            yield delay

    return delays


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def reconnect(uri: str, **kwargs: Any) -> None:
    async for _ in open_ws(uri, **kwargs):
        pytest.fail("no connection expected")


@pytest.mark.parametrize("failure", ["dns", "refused"])
@async_test
async def test_reconnect_backs_off_after_each_failure(failure: str) -> None:
    if failure == "dns":
        # AI_NUMERICHOST makes the resolver fail at once, without a query.
        uri = "ws://no-such-host.invalid/"
        options: dict[str, Any] = {"flags": socket.AI_NUMERICHOST}
        expected: type[OSError] = socket.gaierror
    else:
        uri = f"ws://127.0.0.1:{free_port()}/"
        options = {}
        expected = ConnectionRefusedError
    failures: list[Exception] = []
    taken: list[float] = []

    def count(exc: Exception) -> Exception | None:
        failures.append(exc)
        return exc if len(failures) == 5 else process_exception(exc)

    with pytest.raises(expected):
        await reconnect(
            uri,
            process_exception=count,
            reconnect_delays=counted_delays(taken),
            **options,
        )
    assert all(isinstance(exc, expected) for exc in failures)
    # One delay after each transient failure: no busy loop.
    assert len(taken) == len(failures) - 1 == 4
