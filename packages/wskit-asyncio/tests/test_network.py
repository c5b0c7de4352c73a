"""Opening connections through HTTP CONNECT and SOCKS5 proxies, on 127.0.0.1."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from testing.asyncio_run import async_test
from testing.proxy import http_proxy, socks5_proxy
from testing.servers import TIMEOUT, make_tls, websockets_server
from wskit.asyncio import InvalidProxy, ProxyError, connect
from wskit.core.exceptions import InvalidProxyStatus


def open_ws(uri: str, **kwargs: Any) -> connect:
    kwargs.setdefault("open_timeout", TIMEOUT)
    return connect(uri, **kwargs)


@async_test
async def test_http_proxy() -> None:
    async with (
        websockets_server() as peer,
        http_proxy() as proxy,
        open_ws(peer.uri, proxy=proxy.url(), user_agent_header="ua") as ws,
    ):
        await ws.send("tunnelled")
        assert await ws.recv() == "tunnelled"
    assert proxy.targets == [f"127.0.0.1:{peer.port}"]
    assert proxy.headers[0]["user-agent"] == "ua"
    assert "proxy-authorization" not in proxy.headers[0]


@async_test
async def test_http_proxy_with_credentials() -> None:
    async with (
        websockets_server() as peer,
        http_proxy(credentials=("user", "p@ss")) as proxy,
    ):
        async with open_ws(peer.uri, proxy=proxy.url("user:p%40ss")) as ws:
            await ws.send("ok")
            assert await ws.recv() == "ok"
        with pytest.raises(InvalidProxyStatus, match="407"):
            await open_ws(peer.uri, proxy=proxy.url("user:wrong"))


@async_test
async def test_http_proxy_refusal() -> None:
    async with http_proxy(status=403) as proxy:
        with pytest.raises(ProxyError, match="403"):
            await open_ws("ws://127.0.0.1:9/", proxy=proxy.url())


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio has TLS over TLS from Python 3.11"
)
@async_test
async def test_https_proxy_to_wss_server() -> None:
    tls = make_tls()
    async with (
        websockets_server(ssl_context=tls.server_context) as peer,
        http_proxy(ssl_context=tls.server_context) as proxy,
    ):
        uri = f"wss://localhost:{peer.port}/"
        proxy_url = f"https://localhost:{proxy.port}"
        async with open_ws(
            uri, proxy=proxy_url, ssl=tls.client_context, proxy_ssl=tls.client_context
        ) as ws:
            await ws.send("double TLS")
            assert await ws.recv() == "double TLS"
    assert proxy.targets == [f"localhost:{peer.port}"]


@pytest.mark.skipif(
    sys.version_info >= (3, 11), reason="asyncio has TLS over TLS from Python 3.11"
)
@async_test
async def test_https_proxy_to_wss_server_needs_python_3_11() -> None:
    tls = make_tls()
    async with (
        websockets_server(ssl_context=tls.server_context) as peer,
        http_proxy(ssl_context=tls.server_context) as proxy,
    ):
        uri = f"wss://localhost:{peer.port}/"
        proxy_url = f"https://localhost:{proxy.port}"
        with pytest.raises(ProxyError, match=r"needs Python 3\.11"):
            await open_ws(
                uri,
                proxy=proxy_url,
                ssl=tls.client_context,
                proxy_ssl=tls.client_context,
            )


@async_test
async def test_proxy_ssl_with_http_proxy() -> None:
    with pytest.raises(ValueError, match="proxy_ssl"):
        await open_ws("ws://localhost/", proxy="http://127.0.0.1:9", proxy_ssl=True)


def test_invalid_proxy() -> None:
    with pytest.raises(InvalidProxy):
        connect("ws://localhost/", proxy="gopher://proxy")


@async_test
async def test_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with websockets_server() as peer, http_proxy() as proxy:
        monkeypatch.setenv("http_proxy", proxy.url())
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        async with open_ws(peer.uri) as ws:
            await ws.send("env")
            assert await ws.recv() == "env"
        # proxy=None connects directly.
        async with open_ws(peer.uri, proxy=None):
            pass
    assert len(proxy.targets) == 1


@pytest.mark.parametrize("scheme", ["socks5h", "socks5"])
@async_test
async def test_socks5_proxy(scheme: str) -> None:
    async with websockets_server() as peer, socks5_proxy(scheme=scheme) as proxy:
        uri = f"ws://localhost:{peer.port}/"
        async with open_ws(uri, proxy=proxy.url()) as ws:
            await ws.send("socks")
            assert await ws.recv() == "socks"
    # socks5h lets the proxy resolve the name; socks5 resolves it locally.
    if scheme == "socks5h":
        assert proxy.targets == [f"localhost:{peer.port}"]
    else:
        assert proxy.targets[0].endswith(f":{peer.port}")
        assert not proxy.targets[0].startswith("localhost")


@async_test
async def test_socks5_proxy_with_credentials() -> None:
    async with (
        websockets_server() as peer,
        socks5_proxy(credentials=("alice", "secret")) as proxy,
    ):
        async with open_ws(peer.uri, proxy=proxy.url("alice:secret")) as ws:
            await ws.send("auth")
            assert await ws.recv() == "auth"
        with pytest.raises(ProxyError, match="user name or password"):
            await open_ws(peer.uri, proxy=proxy.url("alice:wrong"))
        with pytest.raises(ProxyError, match="authentication methods"):
            await open_ws(peer.uri, proxy=proxy.url())
    assert proxy.credentials[0] == ("alice", "secret")


@async_test
async def test_socks5_proxy_connection_refused() -> None:
    async with socks5_proxy() as proxy:
        with pytest.raises(ProxyError, match="connection refused"):
            await open_ws("ws://127.0.0.1:9/", proxy=proxy.url())
