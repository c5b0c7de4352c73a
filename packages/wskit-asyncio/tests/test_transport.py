"""ConnectionIO: writing, back-pressure and the close timer, over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sys
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

from testing import faulty
from testing.asyncio_run import async_test
from testing.servers import (
    TIMEOUT,
    accept_response,
    deaf_server,
    raw_server,
    read_request,
    silent_server,
    stalled_server,
    websockets_server,
)
from wskit.asyncio import ClientConnection, ConnectionClosedError, State, connect
from wskit.asyncio.transport import COALESCE_FRAMES, timer_queue
from wskit.core.protocol import ClientProtocol


def _load_uvloop() -> ModuleType | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a test dependency but for Windows
        return None
    # uvloop opens a pipe for the whole process along with its first event
    # loop: open it here, outside the descriptor accounting of each test.
    uvloop.new_event_loop().close()
    return uvloop


UVLOOP = _load_uvloop()


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


# Closing: close() returns once TCP is closed, in as few turns of the loop as it can.


@async_test
async def test_close_returns_once_the_socket_is_closed() -> None:
    # The server closes TCP first; the client closes its side as soon as it sees
    # the EOF, and close() returns after connection_lost() ran.
    async with websockets_server() as peer:
        ws = await open_ws(peer.uri)
        sock = ws.transport.get_extra_info("socket")
        await ws.close()
        assert ws.connection_lost_waiter.done()
        assert ws.transport.is_closing()
        assert sock.fileno() == -1
        assert ws.state is State.CLOSED
        assert ws.close_code == 1000
        assert ws.connection_exc is None


@async_test
async def test_cancelled_wait_closed_does_not_cancel_other_waiters() -> None:
    async with websockets_server() as peer:
        ws = await open_ws(peer.uri)
        first = asyncio.ensure_future(ws.wait_closed())
        second = asyncio.ensure_future(ws.wait_closed())
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await ws.close()
        await asyncio.wait_for(second, TIMEOUT)
        assert not ws.connection_lost_waiter.cancelled()
        assert ws._lost_waiters == []


@async_test
async def test_cancelled_close_still_closes() -> None:
    # Cancelling close() cancels the wait, not the closing handshake.
    async with websockets_server() as peer:
        ws = await open_ws(peer.uri)
        closing = asyncio.ensure_future(ws.close())
        await asyncio.sleep(0)
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        assert ws.close_code == 1000


# Keepalive: a timer until the first ping, then a task.


def keepalive_task(ws: ClientConnection) -> asyncio.Task[None] | None:
    # A function, so that mypy does not narrow the attribute across awaits.
    return ws.keepalive_task


@async_test
async def test_keepalive_task_starts_with_the_first_ping() -> None:
    async with websockets_server() as peer:
        ws = await open_ws(peer.uri, ping_interval=0.02)
        assert keepalive_task(ws) is None
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while ws.latency == 0 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert ws.latency > 0
        task = keepalive_task(ws)
        assert task is not None
        await ws.close()
        assert keepalive_task(ws) is None
        await asyncio.sleep(0)
        assert task.done()


@async_test
async def test_no_keepalive_task_after_close() -> None:
    # Closing before the first ping is due cancels the timer: no task, no ping.
    async with websockets_server() as peer:
        ws = await open_ws(peer.uri, ping_interval=0.01)
        await ws.close()
        await asyncio.sleep(0.05)
        assert ws.keepalive_task is None
        assert ws._keepalive_timer is None


# Opening.


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio.wait_for runs a task before 3.11"
)
@async_test
async def test_opening_runs_in_the_calling_task() -> None:
    # Context variables set by the caller are seen by the opening, and no task
    # is created for it.
    seen: list[asyncio.Task[Any] | None] = []

    class Recording(ClientConnection):
        async def handshake(self, *args: Any, **kwargs: Any) -> None:
            seen.append(asyncio.current_task())
            await super().handshake(*args, **kwargs)

    async with websockets_server() as peer:
        async with open_ws(peer.uri, create_connection=Recording) as ws:
            assert isinstance(ws, Recording)
        assert seen == [asyncio.current_task()]
        task = asyncio.current_task()
        assert task is not None
        if sys.version_info >= (3, 11):  # (the test is skipped before)
            assert task.cancelling() == 0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() is 3.11+")
@async_test
async def test_open_timeout_swallowed_by_the_opening_is_withdrawn() -> None:
    # As with asyncio.timeout: when the opening absorbs the cancellation and
    # succeeds anyway, the connection is returned and the task is left with no
    # pending cancellation.
    class Stubborn(ClientConnection):
        async def handshake(self, *args: Any, **kwargs: Any) -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(TIMEOUT)
            await super().handshake(*args, **kwargs)

    async with websockets_server() as peer:
        ws = await open_ws(peer.uri, open_timeout=0.02, create_connection=Stubborn)
        task = asyncio.current_task()
        assert task is not None
        if sys.version_info >= (3, 11):  # (the test is skipped before)
            assert task.cancelling() == 0
        await asyncio.sleep(0)  # no cancellation left to hit this await
        await ws.close()
        assert ws.close_code == 1000


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() is 3.11+")
@async_test
async def test_cancel_during_open_timeout_stays_a_cancellation() -> None:
    # A cancellation from outside, even once the deadline passed, is not turned
    # into TimeoutError.
    async with silent_server() as peer:

        async def opening() -> None:
            await open_ws(peer.uri, open_timeout=0.05)

        task = asyncio.ensure_future(opening())
        while not peer.connections:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@async_test
async def test_cancelling_the_opening_aborts_the_connection() -> None:
    # The caller's cancellation reaches the opening, which drops the TCP
    # connection: the server reads EOF.
    eof = asyncio.Event()

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read()
        eof.set()

    async with raw_server(handle) as peer:
        opening = asyncio.ensure_future(open_ws(peer.uri).connect())
        while not peer.connections:
            await asyncio.sleep(0.01)
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        await asyncio.wait_for(eof.wait(), TIMEOUT)


@async_test
async def test_open_timeout_aborts_the_connection() -> None:
    async with silent_server() as peer:
        with pytest.raises(TimeoutError, match=r"after 0\.05 s"):
            await open_ws(peer.uri, open_timeout=0.05)
        assert peer.connections == 1


# TimerQueue: timers of one delay share one event loop timer.

_var: contextvars.ContextVar[str] = contextvars.ContextVar("_var", default="-")


@async_test
async def test_timer_queue_runs_timers_in_order_in_their_context() -> None:
    loop = asyncio.get_running_loop()
    queue = timer_queue(loop, 0.02)
    assert timer_queue(loop, 0.02) is queue
    fired: list[tuple[str, str]] = []
    for name in ("a", "b", "c", "d"):
        _var.set(name)
        timer = queue.call_later(lambda name=name: fired.append((name, _var.get())))
        if name == "b":
            timer.cancel()
            timer.cancel()  # twice: no effect
        await asyncio.sleep(0.005)
    started = loop.time()
    while len(fired) < 3 and loop.time() < started + TIMEOUT:
        await asyncio.sleep(0.005)
    assert fired == [("a", "a"), ("c", "c"), ("d", "d")]
    assert not queue.timers
    assert queue.handle is None


@async_test
async def test_timer_queue_timers_fire_no_earlier_than_their_delay() -> None:
    loop = asyncio.get_running_loop()
    queue = timer_queue(loop, 0.03)
    fired: list[float] = []
    armed = loop.time()
    queue.call_later(lambda: fired.append(loop.time()))
    while not fired and loop.time() < armed + TIMEOUT:
        await asyncio.sleep(0.005)
    assert fired
    assert fired[0] >= armed + 0.03 - 0.001


@async_test
async def test_timer_queue_drops_cancelled_timers() -> None:
    queue = timer_queue(asyncio.get_running_loop(), 3600)
    timers = [queue.call_later(lambda: None) for _ in range(300)]
    for timer in timers:
        timer.cancel()
    # Purged whenever more than half are dead: the queue does not grow.
    assert len(queue.timers) < 150
    assert queue.dead < 150


@async_test
async def test_timer_queue_isolates_failing_callbacks() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    try:
        queue = timer_queue(loop, 0.01)
        fired: list[str] = []

        def fail() -> None:
            raise RuntimeError("boom")

        queue.call_later(fail)
        queue.call_later(lambda: fired.append("next"))
        started = loop.time()
        while not fired and loop.time() < started + TIMEOUT:
            await asyncio.sleep(0.005)
        assert fired == ["next"]
        assert isinstance(errors[0]["exception"], RuntimeError)
    finally:
        loop.set_exception_handler(None)


@async_test
async def test_keepalive_task_runs_in_the_context_of_its_connection() -> None:
    seen: list[str] = []

    class Recording(ClientConnection):
        async def ping(self, data: Any = None) -> Any:
            seen.append(_var.get())
            return await super().ping(data)

    async with websockets_server() as peer:
        _var.set("first")
        first = await open_ws(peer.uri, ping_interval=0.02, create_connection=Recording)
        _var.set("second")
        second = await open_ws(
            peer.uri, ping_interval=0.02, create_connection=Recording
        )
        _var.set("neither")
        started = asyncio.get_running_loop().time()
        while (
            len(set(seen)) < 2 and asyncio.get_running_loop().time() < started + TIMEOUT
        ):
            await asyncio.sleep(0.01)
        await first.close()
        await second.close()
    assert set(seen) == {"first", "second"}


async def record_until_close(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    received: bytes,
    client_frames: list[tuple[int, bytes]],
) -> None:
    """Keep the client's frames in ``client_frames`` until its close frame; answer
    that with 1000 and close TCP. ``received`` is what was read before."""
    while chunk := await asyncio.wait_for(reader.read(65536), TIMEOUT):
        received += chunk
        client_frames[:] = faulty._client_frames(received)
        if any(opcode == 0x8 for opcode, _ in client_frames):
            writer.write(faulty.server_frame(0x8, b"\x03\xe8"))
            break
    writer.close()


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
        await record_until_close(reader, writer, received, client_frames)

    async with raw_server(handle) as peer:
        ws = await open_ws(peer.uri, compression=None)
        await ws.send("go")
        got = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(7)]
        assert got == ["one", b"two", "three", b"four", "fünf", "six", b"seven"]
        await ws.close()
    assert client_frames == [(0x1, b"go"), (0xA, b"ping"), (0x8, b"\x03\xe8")]


@async_test
async def test_burst_of_sends_is_written_together_in_order() -> None:
    async with websockets_server(compression=None) as peer:
        ws = await open_ws(peer.uri, compression=None, max_queue=None)
        writes: list[int] = []
        write = ws.transport.write

        def counting_write(data: Any) -> None:
            writes.append(len(data))
            write(data)

        ws.transport.write = counting_write  # type: ignore[method-assign]
        burst = [f"message {index}" for index in range(300)]
        for message in burst:
            await ws.send(message)
        # The first frame goes out at once, then a group of COALESCE_FRAMES;
        # the rest is held until the end of this turn of the event loop.
        assert COALESCE_FRAMES + 1 < len(burst) < 2 * COALESCE_FRAMES + 1
        assert len(writes) == 2
        await asyncio.sleep(0)
        assert len(writes) == 3
        got = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in burst]
        assert got == burst
        assert sum(writes) == sum(len(message) + 6 for message in burst)

        # After a read, the next frame is written at once: a request and its
        # response wait for no turn of the event loop.
        count = len(writes)
        await ws.send("after a read")
        assert len(writes) == count + 1
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "after a read"

        # Large frames are never held: joining them would copy them.
        count = len(writes)
        await ws.send(b"x" * 20000)
        await ws.send(b"y" * 20000)
        assert len(writes) == count + 2
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == b"x" * 20000
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == b"y" * 20000
        await ws.close()
    assert peer.received == [*burst, "after a read", b"x" * 20000, b"y" * 20000]
    assert peer.close_codes == [1000]


@async_test
async def test_control_frames_keep_their_place_after_held_frames() -> None:
    client_frames: list[tuple[int, bytes]] = []

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request = await read_request(reader)
        writer.write(accept_response(request))
        await record_until_close(reader, writer, b"", client_frames)

    async with raw_server(handle) as peer:
        ws = await open_ws(peer.uri, compression=None)
        await ws.send("one")
        await ws.send("two")  # held until the end of this turn
        await ws.ping(b"p")  # written after "two"
        await ws.send("three")
        # A burst cut short by close(): the close frame comes after it.
        for index in range(100):
            await ws.send(f"last {index}")
        await ws.close()
    assert client_frames == [
        (0x1, b"one"),
        (0x1, b"two"),
        (0x9, b"p"),
        (0x1, b"three"),
        *[(0x1, f"last {index}".encode()) for index in range(100)],
        (0x8, b"\x03\xe8"),
    ]


@async_test
async def test_large_frames_read_in_place_by_connections_sharing_a_loop() -> None:
    # Each large frame arrives in several writes, so its payload is read into
    # place; two connections on one event loop share the read buffer meanwhile.
    def script(tag: int) -> list[bytes]:
        binary = bytes((tag + i) % 251 for i in range(300_000))
        text = f"{tag}é€".encode() * 40_000
        frames = (
            faulty.server_frame(0x2, binary)
            + faulty.server_frame(0x1, text)
            + faulty.server_frame(0x1, b"end")
        )
        return [frames[i : i + 70_001] for i in range(0, len(frames), 70_001)]

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request = await read_request(reader)
        writer.write(accept_response(request))
        received = await reader.read(65536)
        tag = int(faulty._client_frames(received)[0][1])
        for chunk in script(tag):
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.005)
        await record_until_close(reader, writer, received, [])

    async def run(uri: str, tag: int) -> list[str | bytes]:
        ws = await open_ws(uri, compression=None)
        await ws.send(str(tag))
        got = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(3)]
        await ws.close()
        return got

    original = ClientProtocol.received_into
    with mock.patch.object(
        ClientProtocol, "received_into", autospec=True, side_effect=original
    ) as received_into:
        async with raw_server(handle) as peer:
            results = await asyncio.gather(run(peer.uri, 1), run(peer.uri, 2))
    assert received_into.call_count >= 2
    for tag, got in zip((1, 2), results, strict=True):
        assert got == [
            bytes((tag + i) % 251 for i in range(300_000)),
            f"{tag}é€" * 40_000,
            "end",
        ]


def test_large_frames_read_in_place_on_uvloop() -> None:
    # uvloop holds the buffer it reads into until its callback returns, unlike
    # asyncio's own transports: the payload must still end up intact.
    if UVLOOP is None:
        pytest.skip("uvloop is not installed")
    messages: list[str | bytes] = [
        bytes(i % 251 for i in range(300_000)),
        "é€" * 40_000,
        b"small",
    ]

    async def exchange() -> list[str | bytes]:
        async with websockets_server(compression=None) as peer:
            ws = await open_ws(peer.uri, compression=None)
            for message in messages:
                await ws.send(message)
            got = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in messages]
            await ws.close()
            return got

    original = ClientProtocol.received_into
    loop = UVLOOP.new_event_loop()
    try:
        with mock.patch.object(
            ClientProtocol, "received_into", autospec=True, side_effect=original
        ) as received_into:
            got = loop.run_until_complete(asyncio.wait_for(exchange(), 3 * TIMEOUT))
    finally:
        loop.close()
    assert got == messages
    assert received_into.call_count >= 2
