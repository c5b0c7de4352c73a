"""ClientConnection against real servers on 127.0.0.1: websockets and aiohttp."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testing.asyncio_run import async_test
from testing.servers import (
    TIMEOUT,
    Peer,
    aiohttp_server,
    deaf_server,
    websockets_server,
)
from wskit.asyncio import (
    ClientConnection,
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    State,
    connect,
)

ServerFactory = Callable[..., AbstractAsyncContextManager[Peer]]

SERVERS: dict[str, ServerFactory] = {
    "websockets": websockets_server,
    "aiohttp": aiohttp_server,
}


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> ServerFactory:
    return SERVERS[request.param]


def open_ws(uri: str, **kwargs: Any) -> connect:
    kwargs.setdefault("proxy", None)
    kwargs.setdefault("open_timeout", TIMEOUT)
    return connect(uri, **kwargs)


async def wait_until(predicate: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), TIMEOUT)


# Echo.


@async_test
async def test_echo_text_and_binary(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01")
        assert await ws.recv() == b"\x00\x01"
        await ws.send(bytearray(b"ba"))
        assert await ws.recv() == b"ba"
        await ws.send(memoryview(b"mv"))
        assert await ws.recv() == b"mv"


@async_test
async def test_echo_without_compression(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri, compression=None) as ws:
        await ws.send("x" * 10000)
        assert await ws.recv() == "x" * 10000
    assert peer.extensions == [""]


@async_test
async def test_text_override(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri) as ws:
        await ws.send(b"caf\xc3\xa9", text=True)
        assert await ws.recv() == "café"
        await ws.send("bin", text=False)
        assert await ws.recv() == b"bin"


@async_test
async def test_recv_decode(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri) as ws:
        await ws.send("café")
        assert await ws.recv(decode=False) == "café".encode()
        await ws.send("café".encode())
        assert await ws.recv(decode=True) == "café"


@async_test
async def test_send_fragments_from_iterable(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri) as ws:
        await ws.send(["spam", "eggs"])
        assert await ws.recv() == "spameggs"
        await ws.send([b"sp", bytearray(b"am"), memoryview(b"!")])
        assert await ws.recv() == b"spam!"
        await ws.send([])  # nothing to send
        await ws.send("after")
        assert await ws.recv() == "after"


@async_test
async def test_send_fragments_from_async_iterable(server: ServerFactory) -> None:
    async def fragments() -> AsyncIterator[str]:
        for part in ("a", "b", "c"):
            await asyncio.sleep(0)
            yield part

    async with server() as peer, open_ws(peer.uri) as ws:
        await ws.send(fragments())
        assert await ws.recv() == "abc"


@async_test
async def test_send_mixed_fragments_fails_connection() -> None:
    async with websockets_server() as peer:
        ws = await open_ws(peer.uri)
        with pytest.raises(TypeError, match="all be str or all bytes"):
            await ws.send(["text", b"bytes"])
        with pytest.raises(ConnectionClosedError):
            await ws.recv()
        await ws.wait_closed()
    assert peer.close_codes == [1011]


@async_test
async def test_send_rejects_unsupported_types() -> None:
    async with websockets_server() as peer, open_ws(peer.uri) as ws:
        with pytest.raises(TypeError, match="dict-like"):
            await ws.send({"a": "b"})
        with pytest.raises(TypeError, match="message must be"):
            await ws.send(42)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="fragments must be"):
            await ws.send([42])  # type: ignore[list-item]
        assert ws.state is State.CLOSING or ws.state is State.CLOSED


@async_test
async def test_recv_streaming_yields_fragments() -> None:
    async with websockets_server() as peer, open_ws(peer.uri_for("/fragments")) as ws:
        await ws.send("3:abcdefghi")
        fragments = [fragment async for fragment in ws.recv_streaming()]
        # The server ends a fragmented message with an empty final frame.
        assert fragments == ["abc", "def", "ghi", ""]
        await ws.send("2:été")
        assert [f async for f in ws.recv_streaming(decode=False)] == [
            "ét".encode(),
            "é".encode(),
            b"",
        ]


# Closing.


@async_test
async def test_messages_before_close_are_delivered(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri_for("/send/5")) as ws:
        messages = [message async for message in ws]
        assert messages == [f"message {i}" for i in range(5)]
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        assert ws.close_code == 1000
        assert ws.state is State.CLOSED


@async_test
async def test_server_close_code(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri_for("/close/4000/bye")) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.code == 4000
        assert info.value.reason == "bye"
        assert ws.close_code == 4000
        assert ws.close_reason == "bye"
        with pytest.raises(ConnectionClosedError):
            async for _ in ws:
                pass


@async_test
async def test_close_is_seen_by_server(server: ServerFactory) -> None:
    async with server() as peer:
        ws = await open_ws(peer.uri)
        await ws.close(4321, "done")
        assert ws.state is State.CLOSED
        await ws.close()  # idempotent
        await ws.wait_closed()
        with pytest.raises(ConnectionClosedError):
            await ws.send("late")
        await wait_until(lambda: bool(peer.close_codes))
    assert peer.close_codes == [4321]


@async_test
async def test_context_manager_closes_with_1000(server: ServerFactory) -> None:
    async with server() as peer:
        async with open_ws(peer.uri) as ws:
            await ws.send("x")
            await ws.recv()
        assert ws.state is State.CLOSED
        with pytest.raises(ConnectionClosedOK):
            await ws.send("late")
        with pytest.raises(ConnectionClosedOK):
            await ws.ping()
        await wait_until(lambda: bool(peer.close_codes))
    assert peer.close_codes == [1000]


@async_test
async def test_close_timeout_against_server_that_never_closes() -> None:
    async with deaf_server() as peer:
        ws = await open_ws(peer.uri, close_timeout=0.05, ping_interval=None)
        await ws.close()
        assert ws.state is State.CLOSED
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert isinstance(info.value.__cause__, TimeoutError)


# Receiving.


@async_test
async def test_concurrent_recv_raises_concurrency_error() -> None:
    async with websockets_server() as peer, open_ws(peer.uri) as ws:
        first = asyncio.ensure_future(ws.recv())
        await asyncio.sleep(0)
        with pytest.raises(ConcurrencyError, match="another coroutine"):
            await ws.recv()
        await ws.send("to first")
        assert await asyncio.wait_for(first, TIMEOUT) == "to first"


@async_test
async def test_recv_timeout_loses_nothing() -> None:
    async with websockets_server() as peer, open_ws(peer.uri) as ws:
        with pytest.raises(TimeoutError):
            await ws.recv(timeout=0)
        with pytest.raises(TimeoutError):
            await ws.recv(timeout=0.01)
        await ws.send("still there")
        assert await ws.recv(timeout=TIMEOUT) == "still there"


@async_test
async def test_cancelled_recv_loses_nothing() -> None:
    async with websockets_server() as peer, open_ws(peer.uri) as ws:
        task = asyncio.ensure_future(ws.recv())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await ws.send("kept")
        assert await ws.recv() == "kept"


@async_test
async def test_max_size_fails_with_1009(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri, max_size=1000) as ws:
        await ws.send("x" * 2000)
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.sent is not None
        assert info.value.sent.code == 1009
        await wait_until(lambda: bool(peer.close_codes))
    assert peer.close_codes == [1009]


class CountingConnection(ClientConnection):
    """Counts how often flow control paused reading."""

    pauses = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        pause = self.recv_messages.pause

        def counting_pause() -> object:
            self.pauses += 1
            return pause()

        self.recv_messages.pause = counting_pause


@async_test
async def test_flood_is_bounded_by_max_queue(server: ServerFactory) -> None:
    size, count, max_queue = 16384, 400, 4
    async with server() as peer:
        ws = await open_ws(
            peer.uri_for(f"/flood/{count}/{size}"),
            max_queue=max_queue,
            create_connection=CountingConnection,
            compression=None,
        )
        assert isinstance(ws, CountingConnection)
        # Let the server fill the buffers until reading pauses.
        await wait_until(lambda: ws.recv_messages.paused)
        received = 0
        async for message in ws:
            assert len(message) == size
            received += 1
        assert received == count
        assert ws.pauses >= 1
        # One read from the socket may carry several frames after the pause:
        # the bound is max_queue plus one read's worth of frames.
        per_read = 2**18 // size + 1
        assert ws.recv_messages.max_seen <= max_queue + per_read


# Pings.


@async_test
async def test_ping_returns_latency(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri, ping_interval=None) as ws:
        pong_received = await ws.ping()
        latency = await asyncio.wait_for(pong_received, TIMEOUT)
        assert latency >= 0
        assert ws.latency == latency
        waiter = await ws.ping(b"abc")
        with pytest.raises(ConcurrencyError, match="same data"):
            await ws.ping("abc")
        await asyncio.wait_for(waiter, TIMEOUT)
        await ws.pong(b"unsolicited")
        await ws.pong("text")
        with pytest.raises(TypeError):
            await ws.ping(1)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await ws.pong(1)  # type: ignore[arg-type]


@async_test
async def test_pending_pings_fail_when_connection_closes() -> None:
    async with deaf_server() as peer:
        ws = await open_ws(peer.uri, ping_interval=None, close_timeout=0.05)
        first = await ws.ping(b"1")
        second = await ws.ping(b"2")
        await ws.close()
        for waiter in (first, second):
            with pytest.raises(ConnectionClosed):
                await waiter


@async_test
async def test_keepalive_measures_latency(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri, ping_interval=0.01) as ws:
        await wait_until(lambda: ws.latency > 0)
        assert ws.state is State.OPEN


@async_test
async def test_keepalive_timeout_fails_connection() -> None:
    async with deaf_server() as peer:
        ws = await open_ws(
            peer.uri, ping_interval=0.05, ping_timeout=0.05, close_timeout=0.05
        )
        with pytest.raises(ConnectionClosedError) as info:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert info.value.sent is not None
        assert info.value.sent.code == 1011
        assert info.value.sent.reason == "keepalive ping timeout"
        assert ws.close_code == 1006


# Attributes.


@async_test
async def test_attributes(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri) as ws:
        assert isinstance(ws.id, uuid.UUID)
        assert ws.local_address[0] == "127.0.0.1"
        assert ws.remote_address == ("127.0.0.1", peer.port)
        assert ws.state is State.OPEN
        assert ws.subprotocol is None
        assert ws.close_code is None
        assert ws.close_reason is None
        assert ws.request is not None
        assert ws.response is not None
        assert ws.response.status_code == 101
        assert ws.logger.name == "wskit.client"


# Property: nothing lost or reordered, whatever the sizes and fragmentation.

message_lists = st.lists(
    st.tuples(st.integers(min_value=1, max_value=4), st.text(max_size=3000)),
    min_size=1,
    max_size=8,
)


@pytest.mark.property
@settings(max_examples=15, deadline=None)
@given(messages=message_lists, compression=st.sampled_from(["deflate", None]))
def test_no_message_lost_or_reordered(
    messages: list[tuple[int, str]], compression: str | None
) -> None:
    async def scenario() -> None:
        async with (
            websockets_server(compression=compression) as peer,
            open_ws(peer.uri_for("/fragments"), compression=compression) as ws,
        ):
            for count, body in messages:
                await ws.send(f"{count}:{body}")
            received = [await ws.recv() for _ in messages]
        assert received == [body for _, body in messages]

    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
