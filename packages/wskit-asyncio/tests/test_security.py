"""Security properties, checked against real sockets.

TLS is verified by default, hostname included; ``ssl=`` cannot turn a wss:// URI
into plain text; masks and keys are unpredictable; nothing the caller passes can
inject a header or a request line; credentials reach neither another origin
after a redirect nor the logs. Handshake size limits and ``Sec-WebSocket-Accept``
checks are in the fault tables of :mod:`testing.faults`.
"""

from __future__ import annotations

import base64
import logging
import ssl
from typing import Any

import pytest
import trustme

from testing.asyncio_run import async_test
from testing.faults import after_handshake, answer, fault_server
from testing.servers import TIMEOUT
from wskit.asyncio import (
    InvalidStatus,
    InvalidURI,
    SecurityError,
    connect,
)


def open_ws(uri: str, **kwargs: Any) -> connect:
    kwargs.setdefault("proxy", None)
    kwargs.setdefault("open_timeout", TIMEOUT)
    return connect(uri, **kwargs)


def redirect_to(location: str) -> bytes:
    return (
        f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


# TLS.


@pytest.fixture
def trusted_ca(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> trustme.CA:
    """A CA that the default context trusts, as a system CA would be."""
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return ca


@async_test
async def test_tls_is_verified_by_default(trusted_ca: trustme.CA) -> None:
    context = server_context(trusted_ca, "localhost")
    with fault_server(after_handshake(b""), ssl_context=context) as peer:
        # No ssl= argument: the default context verifies, and succeeds.
        async with open_ws(f"wss://localhost:{peer.port}/") as ws:
            assert ws.get_extra_info("ssl_object") is not None
    untrusted = server_context(trustme.CA(), "localhost")
    with (
        fault_server(after_handshake(b""), ssl_context=untrusted) as peer,
        pytest.raises(ssl.SSLCertVerificationError, match="certificate"),
    ):
        await open_ws(f"wss://localhost:{peer.port}/")
    assert peer.heads == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
@async_test
async def test_tls_hostname_is_checked_by_default(
    trusted_ca: trustme.CA, host: str
) -> None:
    # Signed by a trusted CA, but for another name.
    context = server_context(trusted_ca, "other.example")
    with (
        fault_server(after_handshake(b""), ssl_context=context) as peer,
        pytest.raises(ssl.SSLCertVerificationError, match=r"[Hh]ostname|match"),
    ):
        await open_ws(f"wss://{host}:{peer.port}/")
    assert peer.heads == []


@pytest.mark.parametrize("value", [None, False])
@async_test
async def test_ssl_cannot_disable_tls_of_wss_uri(value: bool | None) -> None:
    with (
        fault_server(after_handshake(b"")) as peer,
        pytest.raises(ValueError, match=r"ssl=\w+ is incompatible with a (wss|TLS)"),
    ):
        await open_ws(f"wss://127.0.0.1:{peer.port}/", ssl=value)
    assert peer.heads == []


# Randomness.


@async_test
async def test_masks_and_keys_are_unpredictable() -> None:
    with fault_server(after_handshake(b"")) as peer:
        for _ in range(3):
            async with open_ws(peer.uri, compression=None) as ws:
                for index in range(100):
                    await ws.send(f"message {index}")
    keys = [base64.b64decode(request["sec-websocket-key"]) for request in peer.requests]
    assert len(keys) == 3
    assert all(len(key) == 16 for key in keys)
    assert len(set(keys)) == 3
    # Every frame is masked, each with its own key: 303 frames.
    assert len(peer.frames) == 3 * 101
    assert all(len(mask) == 4 for mask in peer.masks)
    assert len(set(peer.masks)) == len(peer.masks)
    assert [payload for _, payload in peer.frames[:2]] == [b"message 0", b"message 1"]


# Injection.

INJECTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "header-value-crlf": ("/", {"additional_headers": {"X-A": "1\r\nX-Injected: 1"}}),
    "header-value-lf": ("/", {"additional_headers": {"X-A": "1\nX-Injected: 1"}}),
    "header-value-cr": ("/", {"additional_headers": {"X-A": "1\rX-Injected: 1"}}),
    "header-value-nul": ("/", {"additional_headers": {"X-A": "1\x00X-Injected"}}),
    "header-name-crlf": ("/", {"additional_headers": {"X-A\r\nX-Injected": "1"}}),
    "header-name-colon": ("/", {"additional_headers": {"X-Injected: 1\r\nX": "1"}}),
    "header-name-space": ("/", {"additional_headers": {"X A": "1"}}),
    "header-pairs-crlf": ("/", {"additional_headers": [("X-A", "\r\nX-Injected: 1")]}),
    "user-agent-crlf": ("/", {"user_agent_header": "ua\r\nX-Injected: 1"}),
    "origin-crlf": ("/", {"origin": "https://a.example\r\nX-Injected: 1"}),
    "subprotocol-crlf": ("/", {"subprotocols": ["chat\r\nX-Injected: 1"]}),
    "path-crlf": ("/a\r\nX-Injected: 1", {}),
    "path-lf": ("/a\nX-Injected: 1", {}),
    "path-space": ("/a HTTP/1.1\r\nX-Injected: 1", {}),
    "path-nul": ("/a\x00b", {}),
    "query-crlf": ("/?q=1\r\nX-Injected: 1", {}),
}


@pytest.mark.parametrize("case", sorted(INJECTIONS))
@async_test
async def test_header_and_request_line_injection_is_refused(case: str) -> None:
    path, options = INJECTIONS[case]
    with (
        fault_server(after_handshake(b"")) as peer,
        pytest.raises((ValueError, InvalidURI)) as info,
    ):
        await open_ws(f"ws://127.0.0.1:{peer.port}{path}", **options)
    # Nothing reached the server, and the message says what was refused.
    assert peer.heads == []
    assert any(word in str(info.value) for word in ("refusing", "invalid", "isn't"))


# Credentials.

SECRET = "s3cret"
BASIC = base64.b64encode(f"alice:{SECRET}".encode()).decode()


@async_test
async def test_credentials_do_not_follow_cross_origin_redirect() -> None:
    headers = {"Cookie": "id=1", "Proxy-Authorization": "Basic eA==", "X-Keep": "1"}
    with fault_server(after_handshake(b"")) as target:
        # Same host, another port: another origin.
        location = f"ws://127.0.0.1:{target.port}/next"
        with fault_server(answer(redirect_to(location))) as redirector:
            uri = f"ws://alice:{SECRET}@127.0.0.1:{redirector.port}/"
            async with open_ws(uri, additional_headers=headers) as ws:
                assert ws.request is not None
                assert ws.request.path == "/next"
    assert redirector.requests[0]["authorization"] == f"Basic {BASIC}"
    assert redirector.requests[0]["cookie"] == "id=1"
    sent = target.requests[0]
    assert "authorization" not in sent
    assert "cookie" not in sent
    assert "proxy-authorization" not in sent
    assert sent["x-keep"] == "1"
    assert SECRET not in target.heads[0].decode()
    assert BASIC not in target.heads[0].decode()


@async_test
async def test_credentials_follow_same_origin_redirect() -> None:
    def respond(request: dict[str, str]) -> bytes:
        return redirect_to("/next")

    with fault_server(answer(respond)) as peer:
        uri = f"ws://alice:{SECRET}@127.0.0.1:{peer.port}/"
        with pytest.raises(SecurityError, match="redirects"):
            await open_ws(uri)
    assert all(
        request["authorization"] == f"Basic {BASIC}" for request in peer.requests
    )


@async_test
async def test_credentials_stay_out_of_logs_and_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    messages = []
    with pytest.raises(InvalidURI) as bad_uri:
        open_ws(f"ws://alice:{SECRET}@127.0.0.1:99999/")
    messages.append(str(bad_uri.value))
    unauthorized = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
    with fault_server(answer(unauthorized)) as target:
        location = f"ws://alice:{SECRET}@127.0.0.1:{target.port}/"
        with fault_server(answer(redirect_to(location))) as redirector:
            uri = f"ws://alice:{SECRET}@127.0.0.1:{redirector.port}/"
            headers = {"Authorization": f"Bearer {SECRET}", "Cookie": SECRET}
            with pytest.raises(InvalidStatus) as refused:
                await open_ws(uri, additional_headers=headers)
    messages.append(str(refused.value))
    assert caplog.records, "debug logging should have recorded the handshake"
    for text in [caplog.text, *messages]:
        assert SECRET not in text
        assert BASIC not in text
    assert "***" in messages[0]


# Downgrades.


@async_test
async def test_redirect_cannot_downgrade_wss() -> None:
    ca = trustme.CA()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    context = server_context(ca, "localhost")
    for location in ("ws://localhost/", "http://localhost/"):
        with (
            fault_server(answer(redirect_to(location)), ssl_context=context) as peer,
            pytest.raises(SecurityError, match="downgrade"),
        ):
            await open_ws(f"wss://localhost:{peer.port}/", ssl=client_context)
        assert len(peer.heads) == 1


@async_test
async def test_scheme_relative_redirect_keeps_tls() -> None:
    ca = trustme.CA()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    context = server_context(ca, "localhost")

    with fault_server(after_handshake(b""), ssl_context=context) as target:
        location = f"//localhost:{target.port}/next"
        with fault_server(answer(redirect_to(location)), ssl_context=context) as peer:
            uri = f"wss://localhost:{peer.port}/"
            async with open_ws(uri, ssl=client_context) as ws:
                assert ws.get_extra_info("ssl_object") is not None
                assert ws.request is not None
                assert ws.request.path == "/next"
    assert len(target.heads) == 1
