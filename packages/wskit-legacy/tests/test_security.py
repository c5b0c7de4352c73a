"""Security properties through the legacy API, against real sockets.

The shim builds on wskit.asyncio's ``connect``; these tests make sure that none
of its legacy defaults (its own logger, no proxy, retrying every error) weakens
what wskit.asyncio guarantees.
"""

from __future__ import annotations

import base64
import logging
import ssl
from typing import Any

import pytest
import trustme

import wskit.legacy as websockets
from testing.asyncio_run import async_test
from testing.faults import after_handshake, answer, fault_server
from testing.servers import TIMEOUT

SECRET = "s3cret"
BASIC = base64.b64encode(f"alice:{SECRET}".encode()).decode()


def open_ws(uri: str, **kwargs: Any) -> websockets.connect:
    kwargs.setdefault("open_timeout", TIMEOUT)
    return websockets.connect(uri, **kwargs)


def redirect_to(location: str) -> bytes:
    return (
        f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@async_test
async def test_tls_and_hostname_are_verified_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with fault_server(
        after_handshake(b""), ssl_context=server_context(ca, "localhost")
    ) as peer:
        async with open_ws(f"wss://localhost:{peer.port}/") as ws:
            assert ws.get_extra_info("ssl_object") is not None
    with (
        fault_server(
            after_handshake(b""), ssl_context=server_context(ca, "other.example")
        ) as peer,
        pytest.raises(ssl.SSLCertVerificationError, match=r"[Hh]ostname|match"),
    ):
        await open_ws(f"wss://localhost:{peer.port}/")
    assert peer.heads == []


def test_ssl_only_for_wss() -> None:
    with pytest.raises(ValueError, match="incompatible with a ws:// URI"):
        websockets.connect("ws://localhost/", ssl=ssl.create_default_context())


@pytest.mark.parametrize("value", [None, False])
@async_test
async def test_ssl_cannot_disable_tls_of_wss_uri(value: bool | None) -> None:
    with (
        fault_server(after_handshake(b"")) as peer,
        pytest.raises(ValueError, match=r"ssl=\w+ is incompatible with a wss"),
    ):
        await open_ws(f"wss://127.0.0.1:{peer.port}/", ssl=value)
    assert peer.heads == []


@async_test
async def test_masks_are_unpredictable() -> None:
    with fault_server(after_handshake(b"")) as peer:
        async with open_ws(peer.uri, compression=None) as ws:
            for index in range(100):
                await ws.send(f"message {index}")
    assert len(peer.masks) == 101
    assert len(set(peer.masks)) == 101


@async_test
async def test_header_injection_is_refused() -> None:
    with (
        fault_server(after_handshake(b"")) as peer,
        pytest.raises(ValueError, match="refusing to send header"),
    ):
        await open_ws(peer.uri, additional_headers={"X-A": "1\r\nX-Injected: 1"})
    assert peer.heads == []


@async_test
async def test_redirect_cannot_downgrade_wss() -> None:
    ca = trustme.CA()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    context = server_context(ca, "localhost")
    with (
        fault_server(
            answer(redirect_to("ws://localhost/")), ssl_context=context
        ) as peer,
        pytest.raises(websockets.SecurityError, match="downgrade"),
    ):
        await open_ws(f"wss://localhost:{peer.port}/", ssl=client_context)


@async_test
async def test_credentials_stay_with_their_origin_and_out_of_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with fault_server(after_handshake(b"")) as target:
        location = f"ws://127.0.0.1:{target.port}/"
        with fault_server(answer(redirect_to(location))) as redirector:
            uri = f"ws://alice:{SECRET}@127.0.0.1:{redirector.port}/"
            headers = {"Cookie": SECRET}
            async with open_ws(uri, additional_headers=headers):
                pass
    with pytest.raises(websockets.InvalidURI) as bad_uri:
        open_ws(f"ws://alice:{SECRET}@127.0.0.1:0/")
    assert redirector.requests[0]["authorization"] == f"Basic {BASIC}"
    assert "authorization" not in target.requests[0]
    assert "cookie" not in target.requests[0]
    assert any(record.name == "websockets.client" for record in caplog.records)
    for text in (caplog.text, str(bad_uri.value)):
        assert SECRET not in text
        assert BASIC not in text
