"""ConnectionIO: writing, back-pressure and the close timer, over real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from testing import faulty
from testing.asyncio_run import async_test
from testing.servers import (
    TIMEOUT,
    accept_response,
    deaf_server,
    raw_server,
    read_request,
    stalled_server,
    websockets_server,
)
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
        while not ws.paused_writing:
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


@async_test
async def test_messages_before_a_fault_are_answered_before_the_close() -> None:
    # A message, then a frame with RSV2 set, in one write (Autobahn case 3.2):
    # the application reads and echoes the message, then the client fails the
    # connection with 1002.
    script = faulty.server_frame(0x1, b"hello") + faulty.server_frame(0x1, b"x", rsv=2)

    async def echo(uri: str) -> None:
        async with open_ws(uri) as ws:
            async for message in ws:
                await ws.send(message)

    async with faulty.faulty_server(script) as peer:
        with pytest.raises(ConnectionClosedError) as info:
            await echo(peer.uri)
        assert info.value.sent is not None
        assert info.value.sent.code == 1002
        assert await asyncio.to_thread(peer.done.wait, TIMEOUT)
    assert [opcode for opcode, _ in peer.frames] == [0x1, 0x8]
    assert peer.frames[0][1] == b"hello"


@async_test
async def test_fault_is_not_held_forever_when_the_application_stops_reading() -> None:
    script = faulty.server_frame(0x2, b"kept") + faulty.server_frame(0x0, b"bad")
    async with faulty.faulty_server(script) as peer:
        ws = await open_ws(peer.uri, close_timeout=0.05)
        assert await asyncio.to_thread(peer.done.wait, TIMEOUT)
        assert [opcode for opcode, _ in peer.frames] == [0x8]
        assert await ws.recv() == b"kept"
        with pytest.raises(ConnectionClosedError):
            await ws.recv()


@async_test
async def test_read_mixing_whole_messages_and_other_frames_keeps_order() -> None:
    # One write after the handshake, so one read on the client: whole messages
    # (taken straight from the read), then a ping, a fragmented message and more
    # whole messages (through the general parser), then half a frame whose rest
    # comes in a second write.
    last = faulty.server_frame(0x2, b"seven")
    script = b"".join(
        [
            faulty.server_frame(0x1, b"one"),
            faulty.server_frame(0x2, b"two"),
            faulty.server_frame(0x9, b"ping"),
            faulty.server_frame(0x1, b"thr", fin=False),
            faulty.server_frame(0x0, b"ee"),
            faulty.server_frame(0x2, b"four"),
            faulty.server_frame(0x1, "fünf".encode()),
            faulty.server_frame(0x1, b"six"),
            last[:3],
        ]
    )
    client_frames: list[tuple[int, bytes]] = []

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request = await read_request(reader)
        writer.write(accept_response(request))
        received = await reader.read(65536)  # the client's "go"
        writer.write(script)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(last[3:])
        while chunk := await asyncio.wait_for(reader.read(65536), TIMEOUT):
            received += chunk
            client_frames[:] = faulty._client_frames(received)
            if any(opcode == 0x8 for opcode, _ in client_frames):
                writer.write(faulty.server_frame(0x8, b"\x03\xe8"))
                break
        writer.close()

    async with raw_server(handle) as peer:
        ws = await open_ws(peer.uri, compression=None)
        await ws.send("go")
        got = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(7)]
        assert got == ["one", b"two", "three", b"four", "fünf", "six", b"seven"]
        await ws.close()
    assert client_frames == [(0x1, b"go"), (0xA, b"ping"), (0x8, b"\x03\xe8")]
