"""Proxy settings and handshake bytes, without I/O."""

from __future__ import annotations

import os
import urllib.request

import pytest

from wskit.core import proxy as proxy_module
from wskit.core.exceptions import InvalidProxy, InvalidProxyMessage, InvalidProxyStatus
from wskit.core.proxy import (
    Proxy,
    build_connect_request,
    build_socks5_connect,
    build_socks5_greeting,
    build_socks5_password,
    environment_proxies,
    get_proxy,
    parse_connect_response,
    parse_proxy,
)
from wskit.core.uri import parse_uri


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://proxy:3128", Proxy("http", "proxy", 3128)),
        ("http://proxy", Proxy("http", "proxy", 80)),
        ("https://proxy/", Proxy("https", "proxy", 443)),
        ("socks5h://proxy", Proxy("socks5h", "proxy", 1080)),
        ("socks5://u%40x:p%3Aw@proxy:9", Proxy("socks5", "proxy", 9, "u@x", "p:w")),
    ],
)
def test_parse_proxy(url: str, expected: Proxy) -> None:
    assert parse_proxy(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://proxy", "isn't supported"),
        ("socks4://proxy", "isn't supported"),
        ("http://", "hostname"),
        ("http://proxy/path", "no path"),
        ("http://proxy?q=1", "no path"),
        ("http://user@proxy", "without password"),
        ("http://proxy:99999", "(?i)port"),
    ],
)
def test_parse_proxy_errors(url: str, message: str) -> None:
    with pytest.raises(InvalidProxy, match=message):
        parse_proxy(url)


def test_get_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ws_proxy", "wss_proxy", "socks_proxy", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    ws, wss = parse_uri("ws://example.com/"), parse_uri("wss://example.com/")
    assert get_proxy(ws) is None
    monkeypatch.setenv("http_proxy", "http://plain:3128")
    assert get_proxy(ws) == "http://plain:3128"
    assert get_proxy(wss) is None  # an HTTP proxy is not used for TLS
    monkeypatch.setenv("https_proxy", "http://secure:3128")
    assert get_proxy(ws) == "http://secure:3128"
    assert get_proxy(wss) == "http://secure:3128"
    monkeypatch.setenv("socks_proxy", "http://socks:1080")
    assert get_proxy(wss) == "socks5h://socks:1080"
    monkeypatch.setenv("wss_proxy", "http://ws-only:3128")
    assert get_proxy(wss) == "http://ws-only:3128"
    monkeypatch.setenv("no_proxy", "example.com")
    assert get_proxy(wss) is None


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"http_proxy": "http://a:1"},
        {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:1"},
        {"HTTPS_PROXY": "http://upper:1", "https_proxy": ""},
        {"Https_Proxy": "http://mixed:1", "WSS_PROXY": "http://w:1"},
        {"HTTP_PROXY": "http://cgi:1", "REQUEST_METHOD": "GET"},
        {"http_proxy": "http://cgi:1", "REQUEST_METHOD": "GET"},
        {"all_proxy": "socks5h://all:1", "no_proxy": "example.com", "X_PROXY": ""},
        {"_proxy": "http://empty-scheme:1", "proxy": "http://no-underscore:1"},
        {"http_proxy": "http://caf\u00e9:1"},
    ],
)
@pytest.mark.skipif(
    proxy_module._SYSTEM_SETTINGS, reason="urllib also reads the system's settings"
)
def test_environment_proxies_match_urllib(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    for name in list(os.environ):
        if name.lower().endswith("proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    expected = urllib.request.getproxies_environment()
    assert environment_proxies() == expected
    uri = parse_uri("ws://example.com/")
    assert get_proxy(uri) == next(
        (
            expected[scheme]
            for scheme in ("ws", "socks", "https", "http")
            if scheme in expected and "no" not in expected
        ),
        None,
    )


def test_connect_request() -> None:
    proxy = Proxy("http", "proxy", 3128, "user", "pass")
    request = build_connect_request(proxy, parse_uri("wss://example.com/chat"), "agent")
    assert request == (
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
        b"User-Agent: agent\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
    )
    request = build_connect_request(
        Proxy("http", "proxy", 3128), parse_uri("ws://[::1]:8000/"), None
    )
    assert request == b"CONNECT [::1]:8000 HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n"


def test_connect_response() -> None:
    assert parse_connect_response(b"HTTP/1.1 200 OK\r\n\r\n") == (200, "OK")
    assert parse_connect_response(b"HTTP/1.0 407\r\n\r\n") == (407, "")
    with pytest.raises(InvalidProxyMessage, match="valid HTTP response"):
        parse_connect_response(b"SSH-2.0\r\n\r\n")
    assert str(InvalidProxyStatus(407, "Auth")) == (
        "proxy rejected connection: HTTP 407 Auth"
    )


def test_socks5_messages() -> None:
    assert build_socks5_greeting(Proxy("socks5", "p", 1)) == b"\x05\x01\x00"
    with_auth = Proxy("socks5", "p", 1, "ab", "c")
    assert build_socks5_greeting(with_auth) == b"\x05\x01\x02"
    assert build_socks5_password(with_auth) == b"\x01\x02ab\x01c"
    with pytest.raises(InvalidProxy, match="255"):
        build_socks5_password(Proxy("socks5", "p", 1, "x" * 256, "c"))
    assert (
        build_socks5_connect("127.0.0.1", 80)
        == b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00P"
    )
    assert (
        build_socks5_connect("::1", 1)
        == b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x00\x01"
    )
    assert build_socks5_connect("a.b", 2) == b"\x05\x01\x00\x03\x03a.b\x00\x02"
