"""ConnectionIO: writing, back-pressure and the close timer, over real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from testing.asyncio_run import async_test
from testing.servers import TIMEOUT, deaf_server, stalled_server, websockets_server
from wskit.asyncio import ConnectionClosedError, State, connect


def open_ws(uri: str, **kwargs: Any) -> connect:
    kwargs.setdefault("proxy", None)
    kwargs.setdefault("open_timeout", TIMEOUT)
    kwargs.setdefault("ping_interval", None)
    return connect(uri, **kwargs)


@async_test
async def test_send_waits_when_write_buffer_is_full() -> None:
    async with stalled_server() as peer:
        ws = await open_ws(
            peer.uri, write_limit=4096, compression=None, close_timeout=0
        )
        chunk = b"x" * 65536

        async def fill() -> None:
            while True:
                await ws.send(chunk)

        # send() only returns while the buffer is below the limit: once the
        # socket buffers are full, it must block.
        filler = asyncio.ensure_future(fill())
        while not ws._paused_writing:
            await asyncio.sleep(0.01)
        for _ in range(5):
            await asyncio.sleep(0)
        assert not filler.done()
        assert ws.transport.get_write_buffer_size() < 4096 + 2 * len(chunk) + 100
        ws.abort()
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(filler, TIMEOUT)
        assert ws.state is State.CLOSED


@async_test
async def test_close_timer_aborts_after_server_close_frame_without_tcp_close() -> None:
    # The deaf server never closes TCP; when the close is ours, the timer fires.
    async with deaf_server() as peer:
        ws = await open_ws(peer.uri, close_timeout=0.01)
        await ws.close(1001)
        assert ws.state is State.CLOSED
        assert isinstance(ws.connection_exc, TimeoutError)


@async_test
async def test_write_limit_tuple_and_max_queue_tuple() -> None:
    async with (
        websockets_server() as peer,
        open_ws(peer.uri, write_limit=(8192, 1024), max_queue=(8, 2)) as ws,
    ):
        assert ws.recv_messages.high == 8
        assert ws.recv_messages.low == 2
        low, high = ws.transport.get_write_buffer_limits()
        assert (low, high) == (1024, 8192)
        await ws.send("ok")
        assert await ws.recv() == "ok"


@async_test
async def test_no_flow_control() -> None:
    async with (
        websockets_server() as peer,
        open_ws(peer.uri_for("/send/40"), max_queue=None) as ws,
    ):
        await ws.wait_closed()
        assert len(ws.recv_messages.frames) == 40
        assert [message async for message in ws][-1] == "message 39"
