"""Fault injection through the legacy API: the tables of :mod:`testing.faults`.

The shim adds nothing on the data path, so each fault must end as it does on
wskit.asyncio, with the legacy spellings where they differ: ``InvalidStatusCode``
for a refused handshake, ``asyncio.TimeoutError`` for the opening timeout on
Python 3.10, and reconnection after any error with the legacy backoff.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest

import wskit.legacy as websockets
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
from wskit.asyncio import InvalidStatus
from wskit.legacy.connection import WebSocketClientProtocol
from wskit.legacy.invalid_status import InvalidStatusCode


def open_ws(uri: str, **kwargs: Any) -> websockets.connect:
    kwargs.setdefault("open_timeout", TIMEOUT)
    return websockets.connect(uri, **kwargs)


async def wait_until(predicate: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), TIMEOUT)


# The shared tables.


@pytest.mark.parametrize("fault", HANDSHAKE_FAULTS, ids=lambda fault: fault.id)
@async_test
async def test_handshake_fault(fault: HandshakeFault) -> None:
    # asyncio.TimeoutError is TimeoutError from Python 3.11 on.
    error = fault.error
    errors = (
        (*error, asyncio.TimeoutError)
        if isinstance(error, tuple)
        else (
            error,
            asyncio.TimeoutError,
        )
    )
    with fault_server(fault.script) as peer, pytest.raises(errors) as info:
        await open_ws(peer.uri, **fault.options)
    if isinstance(info.value, asyncio.TimeoutError):
        assert fault.error is TimeoutError
        assert "timed out during opening handshake" in str(info.value)
        return
    fault.check(info.value)
    if isinstance(info.value, InvalidStatus):
        assert isinstance(info.value, InvalidStatusCode)


@pytest.mark.parametrize("fault", FRAME_FAULTS, ids=lambda fault: fault.id)
@async_test
async def test_frame_fault(fault: FrameFault) -> None:
    options = {"ping_interval": None, **fault.options}
    with fault_server(fault.script) as peer:
        ws = await open_ws(peer.uri, **options)
        assert isinstance(ws, WebSocketClientProtocol)
        try:
            for expected in fault.before:
                assert await ws.recv(timeout=TIMEOUT) == expected
            with pytest.raises(websockets.ConnectionClosedError) as info:
                await ws.recv(timeout=TIMEOUT)
        finally:
            await ws.close()
    fault.check(info.value, peer.close_codes)


# Peers that go quiet.


@async_test
async def test_peer_vanishes_without_fin() -> None:
    with fault_server(after_handshake(b"", then="hold")) as peer:
        ws = await open_ws(
            peer.uri, ping_interval=0.05, ping_timeout=0.05, close_timeout=0.05
        )
        with pytest.raises(websockets.ConnectionClosedError) as info:
            await ws.recv(timeout=TIMEOUT)
        await ws.close()
    assert info.value.sent is not None
    assert info.value.sent.code == 1011
    assert info.value.sent.reason == "keepalive ping timeout"
    assert isinstance(info.value.__cause__, TimeoutError)


async def send_until_closed(ws: WebSocketClientProtocol, message: bytes) -> None:
    for _ in range(100_000):
        await ws.send(message)
        # Each send() returns with at most write_limit bytes buffered.
        assert ws.transport.get_write_buffer_size() <= 2**15


@async_test
async def test_server_stops_reading_send_fails_with_keepalive() -> None:
    with fault_server(after_handshake(b"", then="hold")) as peer:
        ws = await open_ws(
            peer.uri,
            ping_interval=0.05,
            ping_timeout=0.05,
            close_timeout=0.05,
            compression=None,
            write_limit=2**15,
        )
        with pytest.raises(websockets.ConnectionClosedError) as info:
            await send_until_closed(ws, b"s" * 65536)
        await ws.close()
    assert info.value.sent is not None
    assert info.value.sent.code == 1011


# Slow reader, fast writer.

FLOOD_SIZE = 65536
FLOOD_TOTAL = 64 * 2**20


@async_test
async def test_slow_reader_bounds_memory_by_max_queue() -> None:
    script = flooding(frame(0x2, b"f" * FLOOD_SIZE), FLOOD_TOTAL)
    with fault_server(script) as peer:
        # Legacy max_queue counts messages: here, one frame each.
        ws = await open_ws(peer.uri, max_queue=4, compression=None, ping_interval=None)
        await wait_until(peer.stalled.is_set)
        pushed = peer.pushed
        received = 0
        while received * FLOOD_SIZE < FLOOD_TOTAL:
            assert len(await ws.recv(timeout=TIMEOUT)) == FLOOD_SIZE
            received += 1
        await ws.close()
    assert pushed < FLOOD_TOTAL // 4, pushed
    assert ws.recv_messages.max_seen <= 4 + 2**18 // FLOOD_SIZE + 1


# Reconnecting after DNS failures and refused connections.


class Stop(BaseException):
    """Ends a reconnection loop, which retries every Exception."""


@pytest.mark.parametrize("failure", ["dns", "refused"])
@async_test
async def test_reconnect_backs_off_after_each_failure(
    failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if failure == "dns":
        # AI_NUMERICHOST makes the resolver fail at once, without a query.
        uri = "ws://no-such-host.invalid/"
        options: dict[str, Any] = {"flags": socket.AI_NUMERICHOST}
        expected: type[OSError] = socket.gaierror
    else:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        uri = f"ws://127.0.0.1:{port}/"
        options = {}
        expected = ConnectionRefusedError
    delays: list[float] = []
    failures: list[BaseException] = []
    real_sleep = asyncio.sleep

    async def counting_sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 5:
            raise Stop
        await real_sleep(0)

    class Counting(websockets.connect):
        async def connect(self) -> WebSocketClientProtocol:
            try:
                return await super().connect()
            except Exception as exc:
                failures.append(exc)
                raise

    async def loop() -> None:
        async for _ in Counting(uri, **options):
            pytest.fail("no connection expected")

    monkeypatch.setattr(asyncio, "sleep", counting_sleep)
    with pytest.raises(Stop):
        await loop()
    monkeypatch.undo()
    assert all(isinstance(exc, expected) for exc in failures)
    # One delay after each failure, and no zero delay but the random first
    # one: no busy loop.
    assert len(delays) == len(failures) == 5
    assert all(delay >= 1 for delay in delays[2:])
