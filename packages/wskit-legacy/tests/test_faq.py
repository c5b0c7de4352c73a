"""The legacy answers of the client FAQ hold on the shim, against a live server.

Each answer is written as the legacy FAQ wrote it (``import websockets``, here
``import wskit.legacy as websockets``), and checked by what the server observed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import wskit.legacy as websockets
import wskit.legacy.client
from testing.asyncio_run import async_test
from testing.recording_server import recording_server
from wskit.legacy.deprecation import LegacyDeprecationWarning, reset_warnings


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("BACKOFF_INITIAL", "BACKOFF_MIN", "BACKOFF_MAX"):
        monkeypatch.setattr(wskit.legacy.client.connect, name, 0.0)
    reset_warnings()
    yield
    reset_warnings()


@async_test
async def test_extra_headers() -> None:
    # "How do I set HTTP headers?": pass extra_headers to connect().
    async with recording_server() as server:
        with pytest.warns(LegacyDeprecationWarning, match="additional_headers="):
            websocket = await websockets.connect(
                server.uri("/headers"), extra_headers={"Authorization": "Bearer t"}
            )
        async with websocket:
            seen = json.loads(await websocket.recv())
    assert seen["authorization"] == "Bearer t"
    assert server.requests[0]["authorization"] == "Bearer t"


@async_test
async def test_request_and_response_headers() -> None:
    # "How do I access HTTP headers?": request_headers and response_headers.
    async with (
        recording_server() as server,
        websockets.connect(server.uri("/echo")) as websocket,
    ):
        with pytest.warns(LegacyDeprecationWarning, match="request.headers"):
            request_headers = websocket.request_headers
        with pytest.warns(LegacyDeprecationWarning, match="response.headers"):
            response_headers = websocket.response_headers
    assert request_headers["Host"] == server.requests[0]["host"]
    assert request_headers["Sec-WebSocket-Version"] == "13"
    assert response_headers["Upgrade"].lower() == "websocket"


@async_test
async def test_host_through_connect() -> None:
    # "How do I connect to a server at another address?": host= goes to
    # create_connection; Host header and URI stay as written.
    async with (
        recording_server() as server,
        websockets.connect(
            f"ws://example.com:{server.port}/echo", host="127.0.0.1"
        ) as websocket,
    ):
        await websocket.send("via host=")
        assert await websocket.recv() == "via host="
    assert server.requests[0]["host"] == f"example.com:{server.port}"


@async_test
async def test_reconnect_with_async_for() -> None:
    # "How do I reconnect automatically?": async for over connect().
    greetings = []
    async with recording_server(reject_first=2) as server:
        async for websocket in websockets.connect(server.uri("/once")):
            try:
                greetings.append(await websocket.recv())
                await websocket.recv()
            except websockets.ConnectionClosed:
                if len(greetings) == 2:
                    break
                continue
    assert greetings == ["connection 1", "connection 2"]
    assert server.rejected == 2
    assert server.connections == 2


@async_test
async def test_connection_closed() -> None:
    # "What does ConnectionClosed mean?": recv() raises it with the close code.
    async with (
        recording_server() as server,
        websockets.connect(server.uri("/close/4001/bye")) as websocket,
    ):
        with pytest.raises(websockets.ConnectionClosed) as info:
            await websocket.recv()
    assert info.value.code == 4001
    assert info.value.reason == "bye"
    assert isinstance(info.value, websockets.exceptions.ConnectionClosedError)
    assert server.closes == [(4001, "bye")]
