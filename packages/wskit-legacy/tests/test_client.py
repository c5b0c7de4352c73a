"""The shim's connect(): legacy arguments, reconnection policy, exceptions."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, unix_serve

import wskit.asyncio
import wskit.legacy as websockets
import wskit.legacy.client
from testing.asyncio_run import async_test
from testing.recording_server import recording_server
from wskit.asyncio import ClientConnection, InvalidStatus
from wskit.legacy.connection import WebSocketClientProtocol
from wskit.legacy.deprecation import LegacyDeprecationWarning, reset_warnings


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    reset_warnings()
    yield
    reset_warnings()


def record() -> warnings.catch_warnings[list[warnings.WarningMessage]]:
    return warnings.catch_warnings(record=True)


# The package.


def test_legacy_names_are_the_new_objects() -> None:
    assert websockets.connect is websockets.client.connect
    assert websockets.Connect is websockets.connect
    assert websockets.ConnectionClosed is wskit.asyncio.ConnectionClosed
    assert websockets.exceptions.InvalidHandshake is wskit.asyncio.InvalidHandshake
    assert websockets.exceptions.InvalidURI is wskit.asyncio.InvalidURI
    assert websockets.exceptions.InvalidMessage is wskit.asyncio.InvalidMessage
    assert websockets.exceptions.ConnectionClosedOK is wskit.asyncio.ConnectionClosedOK
    assert issubclass(WebSocketClientProtocol, ClientConnection)


def test_legacy_classes_warn_where_named() -> None:
    with pytest.warns(LegacyDeprecationWarning, match="ClientConnection") as info:
        cls = websockets.WebSocketClientProtocol
    assert cls is WebSocketClientProtocol
    assert info[0].filename == __file__
    with pytest.warns(LegacyDeprecationWarning, match="ClientConnection"):
        assert websockets.client.WebSocketClientProtocol is WebSocketClientProtocol
    with pytest.warns(LegacyDeprecationWarning, match="InvalidStatus"):
        status_cls = websockets.exceptions.InvalidStatusCode
    assert issubclass(status_cls, InvalidStatus)
    with pytest.warns(LegacyDeprecationWarning, match="ProtocolError"):
        assert websockets.exceptions.WebSocketProtocolError is websockets.ProtocolError
    with pytest.warns(LegacyDeprecationWarning, match="InvalidStatus"):
        from wskit.legacy.exceptions import InvalidStatusCode  # noqa: F401


def test_unknown_names_raise_attribute_error() -> None:
    for module in (websockets, websockets.client, websockets.exceptions):
        with pytest.raises(AttributeError, match="no attribute 'serve'"):
            module.serve  # noqa: B018


def test_data_path_is_wskit_asyncio() -> None:
    # No per-message layer: legacy code runs at wskit.asyncio's speed.
    for name in ("recv", "send", "data_received", "recv_streaming", "close"):
        assert getattr(WebSocketClientProtocol, name) is getattr(
            ClientConnection, name
        ), name


# Arguments.


def options(**kwargs: Any) -> wskit.legacy.client.connect:
    with record():
        warnings.simplefilter("always")
        return websockets.connect("ws://127.0.0.1:1/", **kwargs)


def test_close_timeout_defaults() -> None:
    assert options().close_timeout == 10
    assert options(timeout=3).close_timeout == 3
    assert options(timeout=3, close_timeout=4).close_timeout == 4
    assert options(close_timeout=None).close_timeout == 10


def test_max_queue_counts_messages_as_frames() -> None:
    assert options().max_queue == 32
    assert options(max_queue=4).max_queue == 4
    assert options(max_queue=None).max_queue is None


def test_create_protocol_beats_klass() -> None:
    class A(WebSocketClientProtocol):
        pass

    class B(WebSocketClientProtocol):
        pass

    assert options(create_protocol=A, klass=B).protocol_factory is A
    assert options(klass=B).protocol_factory is B
    assert options().protocol_factory is WebSocketClientProtocol


def test_extra_headers_and_additional_headers_conflict() -> None:
    with pytest.raises(TypeError, match="pass only additional_headers"):
        options(extra_headers={"a": "1"}, additional_headers={"b": "2"})


def test_every_legacy_keyword_warns_at_the_caller() -> None:
    with record() as caught:
        warnings.simplefilter("always")
        websockets.connect(
            "ws://127.0.0.1:1/",
            extra_headers={},
            timeout=1,
            klass=WebSocketClientProtocol,
            create_protocol=WebSocketClientProtocol,
            legacy_recv=False,
            loop=None,
            read_limit=1,
        )
    assert {str(w.message).split()[3] for w in caught} == {
        "extra_headers=",
        "timeout=",
        "klass=",
        "create_protocol=",
        "legacy_recv=",
        "loop=",
        "read_limit=",
    }
    assert {w.filename for w in caught} == {__file__}


def test_modern_spellings_do_not_warn() -> None:
    with record() as caught:
        warnings.simplefilter("always")
        websockets.connect(
            "ws://127.0.0.1:1/",
            additional_headers={},
            close_timeout=1,
            create_connection=WebSocketClientProtocol,
        )
    assert caught == []


# Connections.


@async_test
async def test_connection_attributes() -> None:
    async with recording_server() as server:
        with record() as caught:
            warnings.simplefilter("always")
            async with websockets.connect(server.uri("/echo?x=1")) as ws:
                assert ws.path == "/echo?x=1"
                assert ws.open is True
                assert ws.closed is False
                assert ws.host == "127.0.0.1"
                assert ws.port == server.port
                assert ws.secure is False
                await ws.ensure_open()
                assert ws.local_address[0] == "127.0.0.1"
                assert ws.remote_address == ("127.0.0.1", server.port)
                assert ws.subprotocol is None
                assert [ws.close_code] == [None]  # no narrowing for mypy
                assert "OPEN" in repr(ws)
            # A tuple, so that mypy does not narrow the properties from above.
            assert (ws.open, ws.closed) == (False, True)
            assert ws.close_code == 1000
            assert ws.close_reason == ""
            with pytest.raises(websockets.ConnectionClosedOK):
                await ws.ensure_open()
    assert {w.filename for w in caught} == {__file__}
    assert all(issubclass(w.category, LegacyDeprecationWarning) for w in caught)


@async_test
async def test_invalid_status_code() -> None:
    async with recording_server() as server:
        with pytest.raises(InvalidStatus) as info:
            await websockets.connect(server.uri("/reject/403"))
    exc = info.value
    assert type(exc).__name__ == "InvalidStatusCode"
    assert exc.response.status_code == 403
    with pytest.warns(LegacyDeprecationWarning, match="response.status_code"):
        assert exc.status_code == 403  # type: ignore[attr-defined]
    with pytest.warns(LegacyDeprecationWarning, match="response.headers"):
        assert exc.headers["X-Reject-Reason"] == "testing"  # type: ignore[attr-defined]
    assert str(exc) == "server rejected WebSocket connection: HTTP 403"


def test_invalid_status_code_legacy_constructor() -> None:
    from wskit.legacy.invalid_status import InvalidStatusCode

    exc = InvalidStatusCode(500, {"Retry-After": "3"})
    assert exc.response.status_code == 500
    assert exc.response.headers["Retry-After"] == "3"


@async_test
async def test_legacy_recv_returns_none_when_closed() -> None:
    async with recording_server() as server:
        with pytest.warns(LegacyDeprecationWarning, match="legacy_recv"):
            websocket = await websockets.connect(
                server.uri("/send/1"), legacy_recv=True
            )
        assert await websocket.recv() == "message 0"
        assert await websocket.recv() is None
        await websocket.close()


@async_test
async def test_async_with_closes_normally_after_an_exception() -> None:
    async with recording_server() as server:
        with pytest.raises(ZeroDivisionError):
            async with websockets.connect(server.uri("/echo")):
                1 / 0  # noqa: B018
    assert server.closes == [(1000, "")]


@async_test
async def test_create_protocol_receives_keyword_arguments() -> None:
    received: dict[str, Any] = {}

    def factory(**kwargs: Any) -> WebSocketClientProtocol:
        received.update(kwargs)
        return WebSocketClientProtocol(**kwargs)

    async with recording_server() as server:
        with pytest.warns(LegacyDeprecationWarning, match="create_connection"):
            connection = websockets.connect(
                server.uri("/echo"), create_protocol=factory, max_queue=7
            )
        async with connection as websocket:
            assert websocket.max_queue_high == 7
    assert received["max_queue"] == 7
    assert received["close_timeout"] == 10


@async_test
async def test_unix_connect_warns_at_the_caller() -> None:
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ws.sock")
        async with unix_serve(echo, path):
            with pytest.warns(LegacyDeprecationWarning, match="close_timeout") as info:
                connection = websockets.unix_connect(path, timeout=2)
            assert info[0].filename == __file__
            async with connection as websocket:
                await websocket.send("over unix")
                assert await websocket.recv() == "over unix"
                assert websocket.close_timeout == 2


# Reconnection.


@async_test
async def test_reconnects_after_any_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # wskit.asyncio gives up on a 403; legacy websockets retried every error.
    for name in ("BACKOFF_INITIAL", "BACKOFF_MIN", "BACKOFF_MAX"):
        monkeypatch.setattr(wskit.legacy.client.connect, name, 0.0)
    async with recording_server(reject_first=2, reject_status=403) as server:
        async for websocket in websockets.connect(server.uri("/echo")):
            await websocket.send("third time")
            assert await websocket.recv() == "third time"
            break
    assert server.rejected == 2
    assert server.connections == 1


@async_test
async def test_legacy_backoff_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) == 7:
            raise asyncio.CancelledError
        await real_sleep(0)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port: each attempt fails at once.
    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    with pytest.raises(asyncio.CancelledError):
        async for _ in websockets.connect(f"ws://127.0.0.1:{port}/"):
            pass  # pragma: no cover
    monkeypatch.undo()
    # From BACKOFF_MIN / BACKOFF_FACTOR, truncated to whole seconds; the second
    # delay reaches BACKOFF_MIN and is drawn at random, as in legacy websockets.
    assert delays[0] == 1
    assert 0 <= delays[1] <= 5
    assert delays[2:] == [5, 8, 13, 21, 34]
