from __future__ import annotations

import base64
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wskit.core.exceptions import (
    InvalidHeader,
    InvalidHeaderFormat,
    InvalidHeaderValue,
    InvalidStatus,
    InvalidUpgrade,
    NegotiationError,
    UnsafeHeader,
)
from wskit.core.extensions.base import Extension, ExtensionParameter
from wskit.core.frames import Frame
from wskit.core.handshake import (
    GUID,
    USER_AGENT,
    accept_key,
    build_request,
    check_response,
    generate_key,
)
from wskit.core.headers import Headers
from wskit.core.http11 import Response, ResponseParser
from wskit.core.uri import WebSocketURI, parse_uri
from wskit.core.version import __version__

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@dataclass
class FakeExtension:
    name: str
    params: list[ExtensionParameter]
    factory: str
    position: int

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        return frame

    def encode(self, frame: Frame) -> Frame:
        return frame


class FakeFactory:
    """Offers ``request_params``; accepts a response whose params contain ``needs``."""

    def __init__(
        self,
        name: str,
        request_params: Sequence[ExtensionParameter] = (),
        *,
        needs: ExtensionParameter | None = None,
        tag: str = "",
    ) -> None:
        self._name = name
        self.request_params = request_params
        self.needs = needs
        self.tag = tag

    @property
    def name(self) -> str:
        return self._name

    def get_request_params(self) -> Sequence[ExtensionParameter]:
        return self.request_params

    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> Extension:
        if self.needs is not None and self.needs not in params:
            raise NegotiationError(f"{self.tag} needs {self.needs}")
        return FakeExtension(
            self.name, list(params), self.tag, len(accepted_extensions)
        )


def response(*extra: tuple[str, str], status: int = 101) -> Response:
    headers = Headers(
        [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", ACCEPT),
        ]
    )
    headers.update(extra)
    return Response(status, "Switching Protocols", headers)


# Keys.


def test_generate_key() -> None:
    key = generate_key()
    assert len(base64.b64decode(key, validate=True)) == 16
    assert generate_key() != key


def test_generated_keys_are_unique_and_valid() -> None:
    # More than one block of the key pool.
    keys = [generate_key() for _ in range(300)]
    assert len(set(keys)) == 300
    for key in keys:
        assert len(base64.b64decode(key, validate=True)) == 16


def test_key_pool_dropped_after_fork() -> None:
    # _drop_keys runs in a forked child (os.register_at_fork): the child then
    # draws from a fresh block instead of replaying its parent's keys.
    from wskit.core import handshake

    generate_key()
    remaining = list(handshake._keys)
    handshake._drop_keys()
    assert handshake._keys == []
    key = generate_key()
    assert len(handshake._keys) == handshake._KEYS_PER_BLOCK - 1
    assert key not in remaining
    assert not set(remaining) & set(handshake._keys)


def test_accept_key_rfc6455_example() -> None:
    # RFC 6455 section 1.3.
    assert accept_key(KEY) == ACCEPT
    assert GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def test_accept_key_interop() -> None:
    websockets_utils = pytest.importorskip("websockets.utils")
    wsproto_utilities = pytest.importorskip("wsproto.utilities")
    for _ in range(5):
        key = generate_key()
        assert accept_key(key) == websockets_utils.accept_key(key)
        assert accept_key(key).encode() == wsproto_utilities.generate_accept_token(
            key.encode()
        )


def test_user_agent() -> None:
    major, minor = sys.version_info[:2]
    expected = f"Python/{major}.{minor} wskit/{__version__}"
    assert expected == USER_AGENT
    assert __version__ == "0.1.0"


# build_request.


def test_build_request_minimal_bytes() -> None:
    request = build_request(parse_uri("ws://example.com/chat?x=1"), key=KEY)
    assert request.path == "/chat?x=1"
    assert request.serialize() == (
        b"GET /chat?x=1 HTTP/1.1\r\n"
        b"Host: example.com\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"User-Agent: " + USER_AGENT.encode() + b"\r\n"
        b"\r\n"
    )


def test_build_request_all_options() -> None:
    request = build_request(
        parse_uri("wss://alice:s%3Acret@[::1]:8443"),
        key=KEY,
        origin="https://example.com",
        subprotocols=["chat", "superchat"],
        extensions=[
            FakeFactory("permessage-deflate", [("client_max_window_bits", None)]),
            FakeFactory("permessage-deflate"),
            FakeFactory("x-custom", [("a", "1"), ("b", None)]),
        ],
        additional_headers={"X-Trace": "abc", "Cookie": "a=1"},
        user_agent_header="agent/1.0",
    )
    assert request.path == "/"
    assert list(request.headers.raw_items()) == [
        ("Host", "[::1]:8443"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
        ("Origin", "https://example.com"),
        (
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits, permessage-deflate, "
            "x-custom; a=1; b",
        ),
        ("Sec-WebSocket-Protocol", "chat, superchat"),
        ("Authorization", "Basic " + base64.b64encode(b"alice:s:cret").decode()),
        ("User-Agent", "agent/1.0"),
        ("X-Trace", "abc"),
        ("Cookie", "a=1"),
    ]


def test_build_request_additional_headers_forms() -> None:
    wsuri = parse_uri("ws://h/")
    for extra in (
        [("X-A", "1"), ("X-A", "2")],
        Headers([("X-A", "1"), ("X-A", "2")]),
    ):
        request = build_request(wsuri, key=KEY, additional_headers=extra)
        assert request.headers.get_all("X-A") == ["1", "2"]


def test_build_request_additional_headers_override() -> None:
    request = build_request(
        parse_uri("ws://user:pass@h/"),
        key=KEY,
        origin="https://a.example",
        additional_headers=[
            ("host", "virtual.example"),
            ("ORIGIN", "https://b.example"),
            ("Authorization", "Bearer token"),
            ("User-Agent", "mine"),
        ],
    )
    headers = request.headers
    assert headers.get_all("Host") == ["virtual.example"]
    assert headers.get_all("Origin") == ["https://b.example"]
    assert headers.get_all("Authorization") == ["Bearer token"]
    assert headers.get_all("User-Agent") == ["mine"]


def test_build_request_without_user_agent_or_subprotocols() -> None:
    request = build_request(
        parse_uri("ws://h/"), key=KEY, subprotocols=[], user_agent_header=None
    )
    assert "User-Agent" not in request.headers
    assert "Sec-WebSocket-Protocol" not in request.headers
    assert "Sec-WebSocket-Extensions" not in request.headers
    assert "Authorization" not in request.headers
    assert "Origin" not in request.headers


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Upgrade", "it is always 'websocket'"),
        ("connection", "it is always 'Upgrade'"),
        ("Sec-WebSocket-Key", "pass key= instead"),
        ("Sec-WebSocket-Version", "it is always 13"),
        ("Sec-WebSocket-Extensions", "pass extensions= instead"),
        ("sec-websocket-protocol", "pass subprotocols= instead"),
    ],
)
def test_build_request_reserved_headers(name: str, fragment: str) -> None:
    with pytest.raises(
        ValueError, match=f"can't set {name}: the handshake sets it; {fragment}"
    ):
        build_request(parse_uri("ws://h/"), key=KEY, additional_headers={name: "x"})


@pytest.mark.parametrize(
    "options",
    [
        {"additional_headers": {"X-Evil": "a\r\nInjected: 1"}},
        {"additional_headers": {"Bad Name": "x"}},
        {"origin": "https://ex\xe4mple.com"},
        {"user_agent_header": "agent\n"},
    ],
)
def test_build_request_unsafe_headers(options: dict[str, object]) -> None:
    with pytest.raises(UnsafeHeader):
        build_request(parse_uri("ws://h/"), key=KEY, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key", ["", "short", "dGhlIHNhbXBsZSBub25jZQ", "é" * 24, KEY + "AA=="]
)
def test_build_request_invalid_key(key: str) -> None:
    with pytest.raises(
        ValueError, match="isn't 16 bytes encoded in base64; use generate_key"
    ):
        build_request(parse_uri("ws://h/"), key=key)


def test_build_request_invalid_subprotocols() -> None:
    with pytest.raises(TypeError, match="wrap a single subprotocol in a list"):
        build_request(parse_uri("ws://h/"), key=KEY, subprotocols="chat")
    with pytest.raises(ValueError, match="isn't an HTTP token"):
        build_request(parse_uri("ws://h/"), key=KEY, subprotocols=["a b"])


def test_build_request_invalid_extension_params() -> None:
    with pytest.raises(ValueError, match="isn't an HTTP token"):
        build_request(
            parse_uri("ws://h/"), key=KEY, extensions=[FakeFactory("x", [("a", "b c")])]
        )


def test_build_request_colon_in_username() -> None:
    wsuri = WebSocketURI(False, "h", 80, "/", "", "a:b", "c")
    with pytest.raises(ValueError, match="contains ':'"):
        build_request(wsuri, key=KEY)


def test_build_request_parses_back() -> None:
    # A minimal request parser: the request line, then name: value lines.
    request = build_request(
        parse_uri("ws://h:8080/a?b"),
        key=KEY,
        subprotocols=["chat"],
        additional_headers=[("X-A", "1"), ("X-A", "2")],
    )
    head, _, rest = request.serialize().partition(b"\r\n\r\n")
    assert rest == b""
    request_line, *lines = head.decode("ascii").split("\r\n")
    assert request_line == "GET /a?b HTTP/1.1"
    pairs = [tuple(line.split(": ", 1)) for line in lines]
    assert pairs == list(request.headers.raw_items())


# Interop with real server-side implementations.


def test_interop_with_websockets_server() -> None:
    server = pytest.importorskip("websockets.server")
    protocol = server.ServerProtocol(subprotocols=["chat"])
    key = generate_key()
    request = build_request(
        parse_uri("ws://localhost:8765/"), key=key, subprotocols=["x", "chat"]
    )
    protocol.receive_data(request.serialize())
    [received] = protocol.events_received()
    assert received.path == "/"
    assert received.headers["Sec-WebSocket-Key"] == key
    protocol.send_response(protocol.accept(received))
    parser = ResponseParser()
    for data in protocol.data_to_send():
        parser.feed(data)
    parsed = parser.parse()
    assert parsed is not None
    assert parsed.status_code == 101
    assert check_response(parsed, key=key, subprotocols=["x", "chat"]) == ([], "chat")


def test_interop_with_wsproto_server() -> None:
    wsproto = pytest.importorskip("wsproto")
    events = pytest.importorskip("wsproto.events")
    connection = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
    key = generate_key()
    request = build_request(parse_uri("ws://localhost/path"), key=key)
    connection.receive_data(request.serialize())
    [received] = list(connection.events())
    assert isinstance(received, events.Request)
    assert received.target == "/path"
    data = connection.send(events.AcceptConnection())
    parser = ResponseParser()
    parser.feed(data + b"\x81\x02hi")
    parsed = parser.parse()
    assert parsed is not None
    assert parser.remainder() == b"\x81\x02hi"
    assert check_response(parsed, key=key) == ([], None)


# check_response: the happy path.


def test_check_response_minimal() -> None:
    assert check_response(response(), key=KEY) == ([], None)


def test_check_response_header_case_and_lists() -> None:
    resp = Response(
        101,
        "",
        Headers(
            [
                ("upgrade", "WebSocket"),
                ("connection", "keep-alive"),
                ("CONNECTION", "UPGRADE"),
                ("sec-websocket-accept", ACCEPT),
            ]
        ),
    )
    assert check_response(resp, key=KEY, subprotocols=None, extensions=()) == ([], None)


def test_check_response_subprotocol() -> None:
    resp = response(("Sec-WebSocket-Protocol", "superchat"))
    assert check_response(resp, key=KEY, subprotocols=["chat", "superchat"]) == (
        [],
        "superchat",
    )


def test_check_response_extensions_in_response_order() -> None:
    first = FakeFactory("a", tag="first")
    second = FakeFactory("b", tag="second")
    resp = response(
        ("Sec-WebSocket-Extensions", "b; x=1"), ("Sec-WebSocket-Extensions", "a")
    )
    accepted, subprotocol = check_response(resp, key=KEY, extensions=[first, second])
    assert subprotocol is None
    assert accepted == [
        FakeExtension("b", [("x", "1")], "second", 0),
        FakeExtension("a", [], "first", 1),
    ]


def test_check_response_tries_factories_in_order() -> None:
    picky = FakeFactory("pmd", needs=("server_no_context_takeover", None), tag="picky")
    fallback = FakeFactory("pmd", tag="fallback")
    other = FakeFactory("other", tag="other")
    factories = [other, picky, fallback]

    resp = response(("Sec-WebSocket-Extensions", "pmd; server_no_context_takeover"))
    [extension] = check_response(resp, key=KEY, extensions=factories)[0]
    assert isinstance(extension, FakeExtension)
    assert extension.factory == "picky"

    resp = response(("Sec-WebSocket-Extensions", "pmd; client_max_window_bits=10"))
    [extension] = check_response(resp, key=KEY, extensions=factories)[0]
    assert isinstance(extension, FakeExtension)
    assert extension.factory == "fallback"


# check_response: failures, in the order RFC 6455 section 4.1 lists them.


def test_check_response_status() -> None:
    resp = response(status=403)
    with pytest.raises(InvalidStatus) as exc_info:
        check_response(resp, key=KEY)
    assert exc_info.value.response is resp
    assert str(exc_info.value) == "server rejected WebSocket connection: HTTP 403"


@pytest.mark.parametrize(
    ("upgrade", "message"),
    [
        ([], "missing Upgrade header"),
        (["h2c"], "invalid Upgrade header: h2c"),
        (["websocket, h2c"], "invalid Upgrade header: websocket, h2c"),
        (["websocket", "websocket"], "invalid Upgrade header: websocket, websocket"),
        (["websocket/13"], "invalid Upgrade header: websocket/13"),
    ],
)
def test_check_response_upgrade(upgrade: list[str], message: str) -> None:
    headers = Headers([("Upgrade", value) for value in upgrade])
    headers.update(Connection="Upgrade", **{"Sec-WebSocket-Accept": ACCEPT})
    with pytest.raises(InvalidUpgrade) as exc_info:
        check_response(Response(101, "", headers), key=KEY)
    assert str(exc_info.value) == message


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ([], "missing Connection header"),
        (["keep-alive"], "invalid Connection header: keep-alive"),
        (["close", "keep-alive"], "invalid Connection header: close, keep-alive"),
    ],
)
def test_check_response_connection(connection: list[str], message: str) -> None:
    headers = Headers([("Connection", value) for value in connection])
    headers.update(Upgrade="websocket", **{"Sec-WebSocket-Accept": ACCEPT})
    with pytest.raises(InvalidUpgrade) as exc_info:
        check_response(Response(101, "", headers), key=KEY)
    assert str(exc_info.value) == message


def test_check_response_malformed_connection() -> None:
    resp = Response(101, "", Headers(Upgrade="websocket", Connection="Upgrade;x"))
    with pytest.raises(InvalidHeaderFormat, match="Connection"):
        check_response(resp, key=KEY)


def test_check_response_accept_missing() -> None:
    resp = Response(101, "", Headers(Upgrade="websocket", Connection="Upgrade"))
    with pytest.raises(InvalidHeader) as exc_info:
        check_response(resp, key=KEY)
    assert type(exc_info.value) is InvalidHeader
    assert str(exc_info.value) == "missing Sec-WebSocket-Accept header"


def test_check_response_accept_repeated() -> None:
    resp = response(("Sec-WebSocket-Accept", ACCEPT))
    with pytest.raises(InvalidHeader) as exc_info:
        check_response(resp, key=KEY)
    assert str(exc_info.value) == "invalid Sec-WebSocket-Accept header: multiple values"


def test_check_response_accept_wrong() -> None:
    with pytest.raises(InvalidHeaderValue) as exc_info:
        check_response(response(), key=generate_key())
    assert str(exc_info.value) == f"invalid Sec-WebSocket-Accept header: {ACCEPT}"


def test_check_response_extension_not_offered() -> None:
    resp = response(("Sec-WebSocket-Extensions", "permessage-deflate"))
    with pytest.raises(
        NegotiationError, match="accepted extensions that weren't offered"
    ):
        check_response(resp, key=KEY)


def test_check_response_unsupported_extension() -> None:
    resp = response(("Sec-WebSocket-Extensions", "pmd; x=1, other"))
    factories = [FakeFactory("pmd", needs=("y", None)), FakeFactory("other")]
    with pytest.raises(NegotiationError) as exc_info:
        check_response(resp, key=KEY, extensions=factories)
    assert str(exc_info.value) == "Unsupported extension: name=pmd, params=[('x', '1')]"


def test_check_response_extension_accepted_twice_by_server() -> None:
    # Each accepted entry needs a factory; one accepting repeats is the factory's
    # choice, here modelled by a factory that refuses a second instance.
    class Once(FakeFactory):
        def process_response_params(
            self,
            params: Sequence[ExtensionParameter],
            accepted_extensions: Sequence[Extension],
        ) -> Extension:
            if any(e.name == self.name for e in accepted_extensions):
                raise NegotiationError("already accepted")
            return super().process_response_params(params, accepted_extensions)

    resp = response(("Sec-WebSocket-Extensions", "pmd, pmd"))
    with pytest.raises(NegotiationError, match="Unsupported extension: name=pmd"):
        check_response(resp, key=KEY, extensions=[Once("pmd")])


def test_check_response_malformed_extensions() -> None:
    resp = response(("Sec-WebSocket-Extensions", 'pmd; a="b c"'))
    with pytest.raises(InvalidHeaderFormat, match="Sec-WebSocket-Extensions"):
        check_response(resp, key=KEY, extensions=[FakeFactory("pmd")])


@pytest.mark.parametrize(
    ("offered", "values", "message"),
    [
        (None, ["chat"], "server selected subprotocol chat but none was offered"),
        ([], ["chat"], "but none was offered"),
        (["chat"], ["chat, superchat"], "several subprotocols: chat, superchat"),
        (["chat"], ["chat", "chat"], "several subprotocols: chat, chat"),
        (
            ["chat"],
            ["superchat"],
            "subprotocol superchat, which wasn't offered; offered: chat",
        ),
        (["chat"], ["Chat"], "subprotocol Chat, which wasn't offered"),
    ],
)
def test_check_response_subprotocol_errors(
    offered: list[str] | None, values: list[str], message: str
) -> None:
    resp = response(*[("Sec-WebSocket-Protocol", value) for value in values])
    with pytest.raises(NegotiationError, match=message):
        check_response(resp, key=KEY, subprotocols=offered)


def test_check_response_malformed_subprotocol() -> None:
    resp = response(("Sec-WebSocket-Protocol", "a b"))
    with pytest.raises(InvalidHeaderFormat, match="Sec-WebSocket-Protocol"):
        check_response(resp, key=KEY, subprotocols=["a"])


def test_check_response_full_round_trip_through_parser() -> None:
    data = (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + ACCEPT.encode() + b"\r\n"
        b'Sec-WebSocket-Extensions: x-ext; level="3"\r\n'
        b"Sec-WebSocket-Protocol: chat\r\n"
        b"\r\n"
    )
    parser = ResponseParser()
    parser.feed(data)
    parsed = parser.parse()
    assert parsed is not None
    accepted, subprotocol = check_response(
        parsed, key=KEY, subprotocols=["chat"], extensions=[FakeFactory("x-ext")]
    )
    assert accepted == [FakeExtension("x-ext", [("level", "3")], "", 0)]
    assert subprotocol == "chat"


@pytest.mark.property
@given(
    key=st.one_of(
        st.text(alphabet="AZaz09+/=-_ \n\xe9", max_size=26),
        st.binary(min_size=14, max_size=18).map(
            lambda raw: base64.b64encode(raw).decode()
        ),
    )
)
def test_build_request_key_check_agrees_with_base64(key: str) -> None:
    # A key is valid exactly when it is base64 (no other characters) of 16 bytes.
    try:
        valid = len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (UnicodeEncodeError, ValueError):
        valid = False
    if valid:
        build_request(parse_uri("ws://h/"), key=key)
    else:
        with pytest.raises(ValueError, match="isn't 16 bytes encoded in base64"):
            build_request(parse_uri("ws://h/"), key=key)
