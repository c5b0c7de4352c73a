"""connect() and unix_connect(): options, failures, redirects, reconnecting."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any
from unittest import mock

import pytest
from websockets.asyncio.server import ServerConnection, unix_serve

from testing.asyncio_run import async_test
from testing.servers import (
    TIMEOUT,
    Peer,
    accept_response,
    aiohttp_server,
    http_server,
    make_tls,
    silent_server,
    status_response,
    websockets_server,
)
from wskit.asyncio import (
    ConnectionClosedOK,
    Headers,
    InvalidHandshake,
    InvalidHeader,
    InvalidMessage,
    InvalidStatus,
    InvalidUpgrade,
    InvalidURI,
    NegotiationError,
    SecurityError,
    State,
    connect,
    process_exception,
    unix_connect,
)
from wskit.asyncio import client as client_module
from wskit.asyncio.client import backoff
from wskit.core.protocol import ClientProtocol

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


def no_delays() -> Iterator[float]:
    return itertools.repeat(0.001)


# Ways of using connect().


@async_test
async def test_await_connect(server: ServerFactory) -> None:
    async with server() as peer:
        ws = await open_ws(peer.uri)
        try:
            await ws.send("hi")
            assert await ws.recv() == "hi"
        finally:
            await ws.close()


@async_test
async def test_connect_is_not_reentrant() -> None:
    async with websockets_server() as peer:
        opener = open_ws(peer.uri)
        async with opener:
            with pytest.raises(RuntimeError, match="reentrant"):
                await opener.__aenter__()


@async_test
async def test_unix_connect() -> None:
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ws.sock")
        async with (
            unix_serve(echo, path),
            unix_connect(path, open_timeout=TIMEOUT) as ws,
        ):
            await ws.send("over unix")
            assert await ws.recv() == "over unix"
            assert ws.request is not None
            assert ws.request.headers["Host"] == "localhost"


# Options seen by the server.


@async_test
async def test_origin(server: ServerFactory) -> None:
    async with server() as peer, open_ws(peer.uri, origin="https://example.com"):
        pass
    assert peer.requests[0]["origin"] == "https://example.com"


@async_test
async def test_subprotocol_negotiated(server: ServerFactory) -> None:
    async with (
        server(subprotocols=["chat", "superchat"]) as peer,
        open_ws(
            peer.uri_for("/subprotocol"), subprotocols=["superchat", "other"]
        ) as ws,
    ):
        assert ws.subprotocol == "superchat"
        assert await ws.recv() == "superchat"
    assert peer.requests[0]["sec-websocket-protocol"] == "superchat, other"


@async_test
async def test_compression_on_and_off(server: ServerFactory) -> None:
    async with server() as peer:
        async with open_ws(peer.uri) as ws:
            await ws.send("z" * 5000)
            assert await ws.recv() == "z" * 5000
        async with open_ws(peer.uri, compression=None):
            pass
    assert "permessage-deflate" in peer.requests[0]["sec-websocket-extensions"]
    assert "permessage-deflate" in peer.extensions[0]
    assert "sec-websocket-extensions" not in peer.requests[1]
    assert peer.extensions[1] == ""


def test_unsupported_compression() -> None:
    with pytest.raises(ValueError, match="unsupported compression"):
        connect("ws://localhost/", compression="brotli")


@pytest.mark.parametrize(
    "headers",
    [
        Headers([("X-Custom", "1"), ("X-Custom", "2")]),
        {"X-Custom": "1, 2"},
        [("X-Custom", "1"), ("X-Custom", "2")],
    ],
    ids=["Headers", "dict", "pairs"],
)
@async_test
async def test_additional_headers(headers: Any) -> None:
    async with (
        websockets_server() as peer,
        open_ws(peer.uri, additional_headers=headers),
    ):
        pass
    assert peer.requests[0]["x-custom"] == "1, 2"


@async_test
async def test_additional_headers_override_generated_ones() -> None:
    async with (
        websockets_server() as peer,
        open_ws(peer.uri, additional_headers={"User-Agent": "from-headers"}),
    ):
        pass
    assert peer.requests[0]["user-agent"] == "from-headers"


@async_test
async def test_user_agent_header(server: ServerFactory) -> None:
    async with server() as peer:
        async with open_ws(peer.uri):
            pass
        async with open_ws(peer.uri, user_agent_header="my-agent/1.0"):
            pass
        async with open_ws(peer.uri, user_agent_header=None):
            pass
    assert peer.requests[0]["user-agent"].startswith("Python/")
    assert "wskit/" in peer.requests[0]["user-agent"]
    assert peer.requests[1]["user-agent"] == "my-agent/1.0"
    assert "user-agent" not in peer.requests[2]


@async_test
async def test_host_and_port_override_keep_host_header() -> None:
    async with websockets_server() as peer:
        uri = "ws://ws.example.invalid:8080/"
        async with open_ws(uri, host="127.0.0.1", port=peer.port) as ws:
            assert ws.remote_address == ("127.0.0.1", peer.port)
    assert peer.requests[0]["host"] == "ws.example.invalid:8080"


@async_test
async def test_sock_argument() -> None:
    async with websockets_server() as peer:
        sock = socket.create_connection(("127.0.0.1", peer.port))
        async with open_ws("ws://example.invalid/", sock=sock) as ws:
            await ws.send("via sock")
            assert await ws.recv() == "via sock"


@async_test
async def test_basic_auth_from_uri(server: ServerFactory) -> None:
    async with server() as peer, open_ws(f"ws://alice:s%20cret@127.0.0.1:{peer.port}/"):
        pass
    # base64("alice:s cret")
    assert peer.requests[0]["authorization"] == "Basic YWxpY2U6cyBjcmV0"


def test_invalid_uri() -> None:
    with pytest.raises(InvalidURI):
        connect("http://localhost/")


def test_ssl_with_ws_uri() -> None:
    with pytest.raises(ValueError, match="incompatible with a ws:// URI"):
        connect("ws://localhost/", ssl=ssl.create_default_context())


# TLS.


@async_test
async def test_tls_with_test_ca(server: ServerFactory) -> None:
    tls = make_tls()
    async with server(ssl_context=tls.server_context) as peer:
        uri = f"wss://localhost:{peer.port}/"
        async with open_ws(uri, ssl=tls.client_context) as ws:
            await ws.send("secure")
            assert await ws.recv() == "secure"
            assert ws.get_extra_info("ssl_object") is not None
        # host= changes the TCP destination; TLS still checks "localhost".
        async with open_ws(uri, ssl=tls.client_context, host="127.0.0.1") as ws:
            await ws.send("again")
            assert await ws.recv() == "again"


@async_test
@pytest.mark.parametrize("secure", [False, True])
async def test_large_messages_are_read_in_place(
    server: ServerFactory, secure: bool
) -> None:
    # Large frames arrive in several reads: the rest of each payload is read
    # straight into the core's buffer, over TCP or TLS.
    tls = make_tls()
    messages: list[str | bytes] = [
        bytes(i % 251 for i in range(300_000)),
        "é€" * 40_000,
        "end",
    ]
    original = ClientProtocol.received_into
    with mock.patch.object(
        ClientProtocol, "received_into", autospec=True, side_effect=original
    ) as received_into:
        async with server(ssl_context=tls.server_context if secure else None) as peer:
            scheme = "wss" if secure else "ws"
            uri = f"{scheme}://localhost:{peer.port}/"
            ssl_context = tls.client_context if secure else None
            async with open_ws(uri, ssl=ssl_context, compression=None) as ws:
                for message in messages:
                    await ws.send(message)
                assert [await ws.recv() for _ in messages] == messages
    assert received_into.call_count >= 2


@async_test
async def test_tls_verification_fails_without_test_ca() -> None:
    tls = make_tls()
    async with websockets_server(ssl_context=tls.server_context) as peer:
        with pytest.raises(ssl.SSLCertVerificationError):
            await open_ws(f"wss://localhost:{peer.port}/")


# Handshake failures, each with its own exception.


def respond_with(data: bytes) -> Callable[[str, dict[str, str]], bytes]:
    return lambda path, headers: data


@async_test
async def test_open_timeout() -> None:
    async with silent_server() as peer:
        with pytest.raises(TimeoutError, match="timed out during opening handshake"):
            await open_ws(peer.uri, open_timeout=0.05)


@async_test
async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        await open_ws(f"ws://127.0.0.1:{port}/")


@pytest.mark.parametrize("status", [403, 404, 500, 503])
@async_test
async def test_invalid_status(status: int) -> None:
    async with http_server(respond_with(status_response(status, body=b"nope"))) as peer:
        with pytest.raises(InvalidStatus, match=f"HTTP {status}") as info:
            await open_ws(peer.uri)
    assert info.value.response.status_code == status
    assert info.value.response.body == b"nope"


@async_test
async def test_not_http() -> None:
    async with http_server(respond_with(b"SSH-2.0-OpenSSH\r\n\r\n")) as peer:
        with pytest.raises(InvalidMessage):
            await open_ws(peer.uri)


@async_test
async def test_closed_before_response_is_retryable() -> None:
    async with http_server(respond_with(b"HTTP/1.1 101 Switch")) as peer:
        with pytest.raises(InvalidMessage) as info:
            await open_ws(peer.uri)
    assert isinstance(info.value.__cause__, EOFError)
    assert process_exception(info.value) is None


@async_test
async def test_missing_upgrade() -> None:
    response = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n"
    async with http_server(respond_with(response)) as peer:
        with pytest.raises(InvalidUpgrade, match="Upgrade"):
            await open_ws(peer.uri)


@async_test
async def test_wrong_accept() -> None:
    response = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n"
    )
    async with http_server(respond_with(response)) as peer:
        with pytest.raises(InvalidHeader, match="Sec-WebSocket-Accept"):
            await open_ws(peer.uri)


@async_test
async def test_unexpected_subprotocol() -> None:
    def respond(path: str, headers: dict[str, str]) -> bytes:
        return accept_response(headers).replace(
            b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        )

    async with http_server(respond) as peer:
        with pytest.raises(NegotiationError):
            await open_ws(peer.uri)


# Redirects.


@async_test
async def test_same_origin_redirect() -> None:
    def respond(path: str, headers: dict[str, str]) -> bytes:
        if path == "/old":
            return status_response(301, {"Location": "/new"})
        return b""

    async with (
        http_server(respond) as peer,
        open_ws(peer.uri_for("/old"), additional_headers={"Cookie": "a=1"}) as ws,
    ):
        assert ws.request is not None
        assert ws.request.path == "/new"
    assert [request["path"] for request in peer.requests] == ["/old", "/new"]
    assert peer.requests[1]["cookie"] == "a=1"


@async_test
async def test_cross_origin_redirect_drops_credentials() -> None:
    async with websockets_server() as target:
        location = target.uri_for("/")

        def respond(path: str, headers: dict[str, str]) -> bytes:
            return status_response(302, {"Location": location})

        async with http_server(respond) as redirector:
            headers = {"Authorization": "Bearer secret", "Cookie": "c=1", "X-Keep": "1"}
            async with open_ws(redirector.uri, additional_headers=headers) as ws:
                await ws.send("arrived")
                assert await ws.recv() == "arrived"
    assert redirector.requests[0]["authorization"] == "Bearer secret"
    assert "authorization" not in target.requests[0]
    assert "cookie" not in target.requests[0]
    assert target.requests[0]["x-keep"] == "1"


@async_test
async def test_redirect_loop() -> None:
    respond = respond_with(status_response(307, {"Location": "/loop"}))
    async with http_server(respond) as peer:
        with pytest.raises(SecurityError, match="redirects"):
            await open_ws(peer.uri)
    assert len(peer.requests) == client_module.MAX_REDIRECTS + 1


@async_test
async def test_redirect_to_insecure_uri_is_refused() -> None:
    tls = make_tls()
    respond = respond_with(status_response(302, {"Location": "ws://localhost/"}))
    async with http_server(respond, ssl_context=tls.server_context) as peer:
        with pytest.raises(SecurityError, match="downgrade"):
            await open_ws(f"wss://localhost:{peer.port}/", ssl=tls.client_context)


@async_test
async def test_redirect_without_location_is_invalid_status() -> None:
    async with http_server(respond_with(status_response(302))) as peer:
        with pytest.raises(InvalidStatus, match="302"):
            await open_ws(peer.uri)


@async_test
async def test_cross_origin_redirect_with_explicit_host_is_refused() -> None:
    respond = respond_with(status_response(302, {"Location": "ws://other.invalid/"}))
    async with http_server(respond) as peer:
        with pytest.raises(ValueError, match="explicit host"):
            await open_ws("ws://localhost/", host="127.0.0.1", port=peer.port)


# Reconnecting.


def test_process_exception() -> None:
    assert process_exception(OSError()) is None
    assert process_exception(TimeoutError()) is None
    error = InvalidHandshake("fatal")
    assert process_exception(error) is error
    bare = InvalidMessage("no cause")
    assert process_exception(bare) is bare


def test_backoff_reads_module_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "BACKOFF_INITIAL_DELAY", 1.0)
    monkeypatch.setattr(client_module, "BACKOFF_MIN_DELAY", 2.0)
    monkeypatch.setattr(client_module, "BACKOFF_MAX_DELAY", 10.0)
    monkeypatch.setattr(client_module, "BACKOFF_FACTOR", 2.0)
    delays = list(itertools.islice(backoff(), 6))
    assert 0 <= delays[0] < 1.0
    assert delays[1:] == [2.0, 4.0, 8.0, 10.0, 10.0]


@async_test
async def test_reconnect_after_server_restarts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    failures: list[Exception] = []
    started = asyncio.Event()

    def count(exc: Exception) -> Exception | None:
        failures.append(exc)
        if len(failures) == 3:
            started.set()
        return process_exception(exc)

    async def restart_server() -> None:
        await started.wait()
        async with http_server(lambda path, headers: b"", port=port) as peer:
            await stop.wait()
        peers.append(peer)

    peers: list[Peer] = []
    stop = asyncio.Event()
    restarter = asyncio.ensure_future(restart_server())
    connections = 0
    async for ws in open_ws(
        f"ws://127.0.0.1:{port}/", process_exception=count, reconnect_delays=no_delays
    ):
        connections += 1
        assert ws.state is State.OPEN
        break
    stop.set()
    await asyncio.wait_for(restarter, TIMEOUT)
    assert connections == 1
    assert len(failures) >= 3
    assert all(isinstance(exc, OSError) for exc in failures)


@async_test
async def test_reconnect_on_503_then_succeed() -> None:
    def respond(path: str, headers: dict[str, str]) -> bytes:
        if len(peer_requests) <= 2:
            return status_response(503)
        return b""

    async with http_server(lambda p, h: respond(p, h)) as peer:
        peer_requests = peer.requests
        async for ws in open_ws(peer.uri, reconnect_delays=no_delays):
            assert ws.state is State.OPEN
            break
    assert peer.connections == 3


@async_test
async def test_reconnect_loop_yields_new_connection_each_time() -> None:
    async with websockets_server() as peer:
        seen = 0
        async for ws in open_ws(peer.uri_for("/send/1"), reconnect_delays=no_delays):
            seen += 1
            try:
                async for _ in ws:
                    pass
            except ConnectionClosedOK:  # pragma: no cover - async for swallows it
                pass
            if seen == 3:
                break
    assert seen == 3
    assert peer.connections == 3


@async_test
async def test_fatal_error_ends_reconnect_loop() -> None:
    async def loop(uri: str) -> None:
        async for _ in open_ws(uri, reconnect_delays=no_delays):
            pytest.fail("no connection expected")

    async with http_server(respond_with(status_response(404))) as peer:
        with pytest.raises(InvalidStatus):
            await loop(peer.uri)
    assert peer.connections == 1


@async_test
async def test_process_exception_may_replace_the_exception() -> None:
    def replace(exc: Exception) -> Exception | None:
        return RuntimeError("replaced")

    async def loop(uri: str) -> None:
        async for _ in open_ws(uri, process_exception=replace):
            pytest.fail("no connection expected")

    async with http_server(respond_with(status_response(404))) as peer:
        with pytest.raises(RuntimeError, match="replaced"):
            await loop(peer.uri)
