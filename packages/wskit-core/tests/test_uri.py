from __future__ import annotations

import dataclasses
import re

import pytest

from wskit.core.exceptions import InvalidURI
from wskit.core.uri import WebSocketURI, parse_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("ws://localhost/", WebSocketURI(False, "localhost", 80, "/", "")),
        ("ws://localhost", WebSocketURI(False, "localhost", 80, "", "")),
        ("wss://localhost/", WebSocketURI(True, "localhost", 443, "/", "")),
        ("WSS://LocalHost:8443", WebSocketURI(True, "localhost", 8443, "", "")),
        ("ws://localhost:/", WebSocketURI(False, "localhost", 80, "/", "")),
        ("ws://localhost:0080/", WebSocketURI(False, "localhost", 80, "/", "")),
        ("ws://127.0.0.1:8765/a/b", WebSocketURI(False, "127.0.0.1", 8765, "/a/b", "")),
        ("ws://[::1]/", WebSocketURI(False, "::1", 80, "/", "")),
        ("ws://[2001:DB8::1]:9000/", WebSocketURI(False, "2001:db8::1", 9000, "/", "")),
        ("ws://[fe80::1%25Eth0]/", WebSocketURI(False, "fe80::1%Eth0", 80, "/", "")),
        ("ws://h/p?", WebSocketURI(False, "h", 80, "/p", "")),
        ("ws://h/p?a=1&b=%20", WebSocketURI(False, "h", 80, "/p", "a=1&b=%20")),
        ("ws://h?q", WebSocketURI(False, "h", 80, "", "q")),
        (
            "ws://user:pass@h/",
            WebSocketURI(False, "h", 80, "/", "", "user", "pass"),
        ),
        (
            "ws://us%65r:p%40ss%3Aword@h/",
            WebSocketURI(False, "h", 80, "/", "", "user", "p@ss:word"),
        ),
        ("ws://user:@h/", WebSocketURI(False, "h", 80, "/", "", "user", "")),
        ("ws://:pass@h/", WebSocketURI(False, "h", 80, "/", "", "", "pass")),
        # Reserved characters and existing escapes are kept as is.
        (
            "ws://h/a%2Fb;c=d@e:f!$&'()*+,=",
            WebSocketURI(False, "h", 80, "/a%2Fb;c=d@e:f!$&'()*+,=", ""),
        ),
    ],
)
def test_parse_uri(uri: str, expected: WebSocketURI) -> None:
    assert parse_uri(uri) == expected


def test_iri_is_converted_to_uri() -> None:
    # RFC 3987 section 3.1: IDNA for the host, UTF-8 percent-encoding elsewhere.
    wsuri = parse_uri("wss://Bücher.example/straße?q=ü&r=%C3%BC")
    assert wsuri.host == "xn--bcher-kva.example"
    assert wsuri.path == "/stra%C3%9Fe"
    assert wsuri.query == "q=%C3%BC&r=%C3%BC"
    assert wsuri.resource_name == "/stra%C3%9Fe?q=%C3%BC&r=%C3%BC"


def test_non_ascii_userinfo_is_kept_decoded() -> None:
    wsuri = parse_uri("ws://jos\xe9:p%C3%A4ss@h/")
    assert wsuri.user_info == ("jos\xe9", "p\xe4ss")


def test_ascii_not_allowed_in_uris_is_percent_encoded() -> None:
    wsuri = parse_uri('ws://h/{a}|"b"<c>^`\\?x=[1]|{}')
    assert wsuri.path == "/%7Ba%7D%7C%22b%22%3Cc%3E%5E%60%5C"
    assert wsuri.query == "x=[1]%7C%7B%7D"


def test_resource_name() -> None:
    assert parse_uri("ws://h").resource_name == "/"
    assert parse_uri("ws://h/").resource_name == "/"
    assert parse_uri("ws://h?a=1").resource_name == "/?a=1"
    assert parse_uri("ws://h/x/y?a=1").resource_name == "/x/y?a=1"


def test_user_info() -> None:
    assert parse_uri("ws://h/").user_info is None
    assert parse_uri("ws://a:b@h/").user_info == ("a", "b")
    # Constructed directly with a user name only: no credentials to send.
    assert WebSocketURI(False, "h", 80, "", "", "a", None).user_info is None


@pytest.mark.parametrize(
    ("uri", "host_header"),
    [
        ("ws://h/", "h"),
        ("ws://h:80/", "h"),
        ("ws://h:443/", "h:443"),
        ("wss://h:443/", "h"),
        ("wss://h:80/", "h:80"),
        ("ws://[::1]/", "[::1]"),
        ("wss://[::1]:8443/", "[::1]:8443"),
        ("ws://[fe80::1%25eth0]:81/", "[fe80::1%25eth0]:81"),
        ("ws://Bücher.example/", "xn--bcher-kva.example"),
    ],
)
def test_host_header(uri: str, host_header: str) -> None:
    assert parse_uri(uri).host_header == host_header


def test_is_frozen_and_slotted() -> None:
    wsuri = parse_uri("ws://h/")
    with pytest.raises(dataclasses.FrozenInstanceError):
        wsuri.host = "evil"  # type: ignore[misc]
    assert not hasattr(wsuri, "__dict__")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://h/", "http:// isn't a WebSocket scheme; use ws:// instead"),
        ("HTTPS://h/", "https:// isn't a WebSocket scheme; use wss:// instead"),
        ("ftp://h/", "scheme 'ftp'; a WebSocket URI starts with ws:// or wss://"),
        ("localhost:8000", "scheme 'localhost'; a WebSocket URI starts with ws://"),
        ("//h/", "no scheme; a WebSocket URI starts with ws:// or wss://"),
        ("h/path", "no scheme"),
        ("ws:/h/", "missing '//' after 'ws:'"),
        ("ws:h", "missing '//' after 'ws:'"),
        ("ws://", "missing host"),
        ("ws:///path", "missing host"),
        ("ws://:80/", "missing host"),
        ("ws://user:pass@/", "missing host"),
        ("ws://h/#", "fragment identifiers aren't allowed; percent-encode '#' as %23"),
        ("ws://h/#frag", "fragment identifiers aren't allowed"),
        ("ws://h/?a#b", "fragment identifiers aren't allowed"),
        ("ws://h/a b", "contains a space at position 8; percent-encode it"),
        ("ws://h/a\r\nHost: evil", r"control character '\\r' at position 8"),
        ("ws://h/\tx", r"control character '\\t'"),
        ("ws://h/\x00", r"control character '\\x00'"),
        ("ws://h/\x7f", r"control character '\\x7f'"),
        ("ws://h:http/", "port 'http' isn't a decimal number"),
        ("ws://h:-1/", "port '-1' isn't a decimal number"),
        ("ws://h:+80/", "port '\\+80' isn't a decimal number"),
        ("ws://h:\u0668\u0660/", "isn't a decimal number"),
        ("ws://h:0/", "port 0 isn't between 1 and 65535"),
        ("ws://h:000/", "port 000 isn't between 1 and 65535"),
        ("ws://h:65536/", "port 65536 isn't between 1 and 65535"),
        ("ws://h:99999999999999999999/", "isn't between 1 and 65535"),
        ("ws://h:80:81/", "port '80:81' isn't a decimal number"),
        ("ws://[::1/", "IPv6 address is missing its closing"),
        ("ws://[::1]x/", "unexpected 'x' after the IPv6 address"),
        ("ws://[not-ip]/", r"\[not-ip\] isn't a valid IPv6 address in brackets"),
        ("ws://[1.2.3.4]/", "isn't a valid IPv6 address"),
        ("ws://ex<ample/", "host 'ex<ample' contains invalid characters"),
        ("ws://ex\\ample/", "contains invalid characters"),
        ("ws://a..\xe9/", "isn't a valid internationalized domain name"),
        ("ws://" + "\xe9" * 64 + "/", "isn't a valid internationalized domain name"),
        (
            "ws://user@h/",
            "user name given without a password; write ws://user:password@host",
        ),
        ("ws://us%3Aer:p@h/", "user name contains ':'"),
        ("ws://u:%FF@h/", "percent-encoded bytes that aren't UTF-8"),
    ],
)
def test_parse_uri_errors(uri: str, message: str) -> None:
    with pytest.raises(InvalidURI, match=message) as exc_info:
        parse_uri(uri)
    assert exc_info.value.uri == uri
    # The message shows the URI as given, except a password.
    shown = re.sub(r"^(ws://[^:@/]*):[^@/]*@", r"\1:***@", uri)
    assert str(exc_info.value).startswith(f"{shown!r} isn't a valid WebSocket URI: ")


def test_invalid_uri_hides_the_password() -> None:
    with pytest.raises(InvalidURI) as exc_info:
        parse_uri("wss://alice:s3cret@example.com:99999/")
    assert exc_info.value.uri == "wss://alice:s3cret@example.com:99999/"
    assert "s3cret" not in str(exc_info.value)
    assert "s3cret" not in repr(exc_info.value)
    assert "'wss://alice:***@example.com:99999/'" in str(exc_info.value)


def test_parse_uri_rejects_non_str() -> None:
    with pytest.raises(InvalidURI, match="expected a str, got bytes"):
        parse_uri(b"ws://h/")  # type: ignore[arg-type]


def test_parse_uri_shares_results_for_the_same_string() -> None:
    # WebSocketURI is immutable: parsing the same string again may return the
    # same object, and equal strings give equal results.
    first = parse_uri("ws://cache.example:8000/a?b")
    assert parse_uri("ws://cache.example:8000/a?b") is first
    assert parse_uri("".join(["ws://cache.example", ":8000/a?b"])) == first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.host = "other"  # type: ignore[misc]


def test_parse_uri_raises_again_for_the_same_bad_string() -> None:
    for _ in range(2):
        with pytest.raises(InvalidURI, match="isn't a decimal number"):
            parse_uri("ws://cache.example:port/")


def test_parse_uri_of_str_subclass() -> None:
    class URI(str):
        pass

    assert parse_uri(URI("ws://sub.example/")) == WebSocketURI(
        False, "sub.example", 80, "/", ""
    )


def test_repr_hides_the_password() -> None:
    uri = parse_uri("wss://alice:s3cret@example.com/")
    assert uri.password == "s3cret"
    assert "s3cret" not in repr(uri)
    assert "username='alice'" in repr(uri)
