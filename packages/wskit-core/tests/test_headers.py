from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wskit.core.exceptions import InvalidHeaderFormat, UnsafeHeader
from wskit.core.headers import (
    Headers,
    MultipleValuesError,
    _parse_list,
    _parse_protocol,
    _parse_token,
    build_authorization_basic,
    build_extension,
    build_subprotocol,
    parse_connection,
    parse_extension,
    parse_subprotocol,
    parse_upgrade,
    validate_outgoing,
    validate_outgoing_all,
    validate_subprotocols,
)
from wskit.core.http11 import ResponseParser

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(alphabet=TCHARS, min_size=1, max_size=12)
# Printable ASCII without leading or trailing whitespace: what survives OWS stripping.
values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)).map(
    str.strip
)


# Headers: the mapping.


def test_getitem_is_case_insensitive() -> None:
    headers = Headers([("Content-Type", "text/plain")])
    assert headers["content-type"] == "text/plain"
    assert headers["CONTENT-TYPE"] == "text/plain"


def test_getitem_missing_raises_key_error() -> None:
    with pytest.raises(KeyError):
        Headers()["Host"]


def test_getitem_multiple_values_raises() -> None:
    headers = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    with pytest.raises(MultipleValuesError) as exc_info:
        headers["Set-Cookie"]
    assert isinstance(exc_info.value, LookupError)
    assert not isinstance(exc_info.value, KeyError)
    assert exc_info.value.name == "Set-Cookie"
    assert exc_info.value.count == 2
    assert str(exc_info.value) == (
        "header 'Set-Cookie' has 2 values; read them with get_all('Set-Cookie')"
    )


def test_get_propagates_multiple_values_error() -> None:
    headers = Headers([("A", "1"), ("A", "2")])
    with pytest.raises(MultipleValuesError):
        headers.get("A")
    assert headers.get("B") is None


def test_setitem_appends() -> None:
    headers = Headers()
    headers["Via"] = "1"
    headers["VIA"] = "2"
    assert headers.get_all("via") == ["1", "2"]
    assert list(headers.raw_items()) == [("Via", "1"), ("VIA", "2")]


def test_setitem_rejects_non_str() -> None:
    headers = Headers()
    with pytest.raises(TypeError, match="must be str, not str and int"):
        headers["Content-Length"] = 5  # type: ignore[assignment]
    with pytest.raises(TypeError, match="not int and str"):
        headers[5] = "x"  # type: ignore[index]


def test_delitem_removes_all_values() -> None:
    headers = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    del headers["A"]
    assert list(headers.raw_items()) == [("B", "2")]
    assert "a" not in headers
    with pytest.raises(KeyError):
        del headers["A"]


def test_iteration_yields_each_name_once_in_original_case() -> None:
    headers = Headers([("Host", "x"), ("X-Many", "1"), ("x-many", "2")])
    assert list(headers) == ["Host", "X-Many"]
    assert len(headers) == 2
    assert list(headers.keys()) == ["Host", "X-Many"]


def test_contains() -> None:
    headers = Headers(Host="x")
    assert "host" in headers
    assert "Origin" not in headers
    assert 42 not in headers  # type: ignore[comparison-overlap]


def test_get_all_missing_and_copy() -> None:
    headers = Headers([("A", "1")])
    assert headers.get_all("B") == []
    values = headers.get_all("A")
    values.append("2")
    assert headers.get_all("A") == ["1"]


def test_constructor_accepts_headers_mapping_pairs_kwargs() -> None:
    pairs = [("A", "1"), ("a", "2")]
    assert list(Headers(pairs).raw_items()) == pairs
    assert list(Headers(Headers(pairs)).raw_items()) == pairs
    assert list(Headers({"A": "1", "B": "2"}).raw_items()) == [("A", "1"), ("B", "2")]
    assert list(Headers(pairs, C="3").raw_items()) == [*pairs, ("C", "3")]


def test_constructor_rejects_strings_and_several_args() -> None:
    with pytest.raises(TypeError, match="not a string"):
        Headers("Host: x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a string"):
        Headers(b"Host: x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="at most 1 argument, got 2"):
        Headers({}, {})


def test_update_appends() -> None:
    headers = Headers(A="1")
    headers.update(Headers([("A", "2")]), B="3")
    assert list(headers.raw_items()) == [("A", "1"), ("A", "2"), ("B", "3")]


def test_update_from_itself() -> None:
    headers = Headers(A="1")
    headers.update(headers)
    assert headers.get_all("A") == ["1", "1"]


def test_copy_is_independent() -> None:
    headers = Headers(A="1")
    copy = headers.copy()
    copy["A"] = "2"
    assert headers.get_all("A") == ["1"]
    assert type(copy) is Headers


def test_clear() -> None:
    headers = Headers(A="1", B="2")
    headers.clear()
    assert len(headers) == 0
    assert list(headers.raw_items()) == []
    headers["a"] = "3"
    assert list(headers) == ["a"]


def test_pop_and_setdefault_from_mutable_mapping() -> None:
    headers = Headers(A="1")
    assert headers.setdefault("a", "2") == "1"
    assert headers.setdefault("B", "2") == "2"
    assert headers.pop("A") == "1"
    assert list(headers.raw_items()) == [("B", "2")]


def test_equality_ignores_case_and_order_across_names() -> None:
    left = Headers([("A", "1"), ("B", "2"), ("A", "3")])
    assert left == Headers([("b", "2"), ("a", "1"), ("a", "3")])
    assert left != Headers([("A", "3"), ("B", "2"), ("A", "1")])
    assert left != {"A": "1"}
    assert Headers() != Headers(A="")


def test_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(Headers())


def test_str_repr_serialize() -> None:
    headers = Headers([("Host", "example.com"), ("X-Latin", "caf\xe9")])
    assert str(headers) == "Host: example.com\r\nX-Latin: caf\xe9\r\n\r\n"
    assert headers.serialize() == b"Host: example.com\r\nX-Latin: caf\xe9\r\n\r\n"
    assert repr(headers) == (
        "Headers([('Host', 'example.com'), ('X-Latin', 'caf\xe9')])"
    )
    assert str(Headers()) == "\r\n"


def test_raw_items_tolerates_mutation_while_iterating() -> None:
    headers = Headers(A="1")
    for name, value in headers.raw_items():
        headers[name] = value
    assert headers.get_all("A") == ["1", "1"]


@pytest.mark.property
@given(st.lists(st.tuples(tokens, values), max_size=10))
def test_headers_round_trip_through_constructor(pairs: list[tuple[str, str]]) -> None:
    headers = Headers(pairs)
    assert list(headers.raw_items()) == pairs
    assert Headers(headers.raw_items()) == headers
    assert headers.copy() == headers
    for name, _ in pairs:
        assert headers.get_all(name.upper()) == [
            v for n, v in pairs if n.lower() == name.lower()
        ]


@pytest.mark.property
@given(st.lists(st.tuples(tokens, values), max_size=10))
def test_headers_round_trip_through_the_wire(pairs: list[tuple[str, str]]) -> None:
    headers = Headers(pairs)
    for name, value in headers.raw_items():
        validate_outgoing(name, value)
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 101 Switching Protocols\r\n" + headers.serialize())
    response = parser.parse()
    assert response is not None
    assert list(response.headers.raw_items()) == pairs


# validate_outgoing.


def test_validate_outgoing_accepts_printable_ascii_and_tab() -> None:
    validate_outgoing("X-Ok", "")
    validate_outgoing("X-Ok", " leading and trailing spaces are fine ")
    validate_outgoing("X-Ok", "tab\there ~!")
    validate_outgoing("!#$%&'*+-.^_`|~09azAZ", "x")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "isn't an HTTP token"),
        ("X Space", "isn't an HTTP token"),
        ("X:Colon", "isn't an HTTP token"),
        ("X-\xe9", "isn't an HTTP token"),
        ("X\r\nInjected", "isn't an HTTP token"),
    ],
)
def test_validate_outgoing_rejects_names(name: str, fragment: str) -> None:
    with pytest.raises(UnsafeHeader, match=fragment) as exc_info:
        validate_outgoing(name, "v")
    assert exc_info.value.name == name
    assert "remove the offending characters" in str(exc_info.value)


def test_validate_outgoing_rejects_non_str_name() -> None:
    with pytest.raises(UnsafeHeader, match="isn't an HTTP token"):
        validate_outgoing(5, "v")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("a\rb", "contains CR at position 1, which would end the header line"),
        ("a\nX-Evil: 1", "contains LF at position 1"),
        ("\x00", "contains NUL at position 0"),
        ("ab\x7f", r"control character '\\x7f' at position 2"),
        ("\x1b[31m", r"control character '\\x1b' at position 0"),
        ("caf\xe9", "non-ASCII character 'é' at position 3; HTTP header values"),
        ("\u2603", "non-ASCII character"),
    ],
)
def test_validate_outgoing_rejects_values(value: str, fragment: str) -> None:
    with pytest.raises(UnsafeHeader, match=fragment) as exc_info:
        validate_outgoing("X-Test", value)
    assert isinstance(exc_info.value, ValueError)
    assert exc_info.value.value == value


def test_validate_outgoing_rejects_non_str_value() -> None:
    with pytest.raises(UnsafeHeader, match="the value is a int, not a str"):
        validate_outgoing("Content-Length", 5)  # type: ignore[arg-type]


# parse_connection and parse_upgrade.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Upgrade", ["Upgrade"]),
        ("keep-alive, Upgrade", ["keep-alive", "Upgrade"]),
        (" ,, keep-alive ,\t, upgrade , ", ["keep-alive", "upgrade"]),
        ("a,b", ["a", "b"]),
    ],
)
def test_parse_connection(value: str, expected: list[str]) -> None:
    assert parse_connection(value) == expected


@pytest.mark.parametrize(
    ("value", "pos", "error"),
    [
        ("", 0, "expected token"),
        (",", 1, "expected token"),
        ("Upgrade keep-alive", 8, "expected comma"),
        ("Upgrade;x", 7, "expected comma"),
        ("Up\xe9", 2, "expected comma"),
    ],
)
def test_parse_connection_errors(value: str, pos: int, error: str) -> None:
    with pytest.raises(InvalidHeaderFormat) as exc_info:
        parse_connection(value)
    assert exc_info.value.name == "Connection"
    assert (
        str(exc_info.value) == f"invalid Connection header: {error} at {pos} in {value}"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("websocket", ["websocket"]),
        ("WebSocket", ["WebSocket"]),
        (
            "HTTP/2.0, SHTTP/1.3, IRC/6.9, RTA/x11",
            ["HTTP/2.0", "SHTTP/1.3", "IRC/6.9", "RTA/x11"],
        ),
    ],
)
def test_parse_upgrade(value: str, expected: list[str]) -> None:
    assert parse_upgrade(value) == expected


@pytest.mark.parametrize("value", ["", "/1.0", "websocket/", "web socket", "a/b/c"])
def test_parse_upgrade_errors(value: str) -> None:
    with pytest.raises(InvalidHeaderFormat) as exc_info:
        parse_upgrade(value)
    assert exc_info.value.name == "Upgrade"


# Extensions.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("foo", [("foo", [])]),
        ("foo, bar", [("foo", []), ("bar", [])]),
        (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
            [
                (
                    "permessage-deflate",
                    [
                        ("client_max_window_bits", None),
                        ("server_max_window_bits", "10"),
                    ],
                )
            ],
        ),
        (
            'foo ; a = "1" ;b=x, bar;c',
            [("foo", [("a", "1"), ("b", "x")]), ("bar", [("c", None)])],
        ),
        ('foo; a="\\1\\0"', [("foo", [("a", "10")])]),
        ("foo;a=1;a=2", [("foo", [("a", "1"), ("a", "2")])]),
    ],
)
def test_parse_extension(value: str, expected: list[object]) -> None:
    assert parse_extension(value) == expected


@pytest.mark.parametrize(
    ("value", "error", "pos"),
    [
        ("", "expected token", 0),
        ("foo;", "expected token", 4),
        ("foo; a=", "expected token", 7),
        ("foo; a=b c", "expected comma", 9),
        ('foo; a="a b"', "expected token inside quoted string", 7),
        ('foo; a=""', "expected token inside quoted string", 7),
        ("foo bar", "expected comma", 4),
    ],
)
def test_parse_extension_errors(value: str, error: str, pos: int) -> None:
    with pytest.raises(InvalidHeaderFormat) as exc_info:
        parse_extension(value)
    assert exc_info.value.name == "Sec-WebSocket-Extensions"
    assert str(exc_info.value).endswith(f"{error} at {pos} in {value}")


def test_parse_extension_unterminated_quote_reports_quoted_string() -> None:
    # The quote starts a quoted-string, which fails; the error says so.
    with pytest.raises(InvalidHeaderFormat, match="expected quoted string at 7"):
        parse_extension('foo; a="1')


def test_build_extension() -> None:
    assert build_extension([]) == ""
    assert build_extension([("foo", [])]) == "foo"
    assert (
        build_extension(
            [
                ("permessage-deflate", [("client_max_window_bits", None)]),
                ("permessage-deflate", [("server_max_window_bits", "10")]),
            ]
        )
        == "permessage-deflate; client_max_window_bits, "
        "permessage-deflate; server_max_window_bits=10"
    )


@pytest.mark.parametrize(
    ("extensions", "fragment"),
    [
        ([("foo bar", [])], "extension name 'foo bar'"),
        ([("foo", [("a b", None)])], "parameter name of foo 'a b'"),
        ([("foo", [("a", "1 2")])], "value of parameter a of foo '1 2'"),
        ([("foo", [("a", "")])], "value of parameter a of foo ''"),
        ([("foo", [("a", 1)])], "value of parameter a of foo 1"),
    ],
)
def test_build_extension_rejects_non_tokens(
    extensions: list[tuple[str, list[tuple[str, str | None]]]], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        build_extension(extensions)


extension_headers = st.lists(
    st.tuples(tokens, st.lists(st.tuples(tokens, st.none() | tokens), max_size=4)),
    min_size=1,
    max_size=4,
)


@pytest.mark.property
@given(extension_headers)
def test_extension_round_trip(
    extensions: list[tuple[str, list[tuple[str, str | None]]]],
) -> None:
    assert parse_extension(build_extension(extensions)) == extensions


# Subprotocols.


def test_parse_subprotocol() -> None:
    assert parse_subprotocol("chat") == ["chat"]
    assert parse_subprotocol("chat, superchat") == ["chat", "superchat"]
    with pytest.raises(InvalidHeaderFormat) as exc_info:
        parse_subprotocol("chat superchat")
    assert exc_info.value.name == "Sec-WebSocket-Protocol"


def test_build_subprotocol() -> None:
    assert build_subprotocol([]) == ""
    assert build_subprotocol(["chat", "v2.chat"]) == "chat, v2.chat"
    assert build_subprotocol(("chat",)) == "chat"


@pytest.mark.parametrize("subprotocols", ["chat", b"chat", {"chat"}, None])
def test_validate_subprotocols_rejects_non_sequences(subprotocols: object) -> None:
    with pytest.raises(TypeError, match="subprotocols must be a list of str"):
        validate_subprotocols(subprotocols)  # type: ignore[arg-type]


@pytest.mark.parametrize("subprotocol", ["", "a, b", "chat room", "caf\xe9"])
def test_validate_subprotocols_rejects_non_tokens(subprotocol: str) -> None:
    with pytest.raises(ValueError, match=r"subprotocol .* isn't an HTTP token"):
        validate_subprotocols(["ok", subprotocol])
    with pytest.raises(ValueError, match="isn't an HTTP token"):
        build_subprotocol([subprotocol])


@pytest.mark.property
@given(st.lists(tokens, min_size=1, max_size=5))
def test_subprotocol_round_trip(subprotocols: list[str]) -> None:
    assert parse_subprotocol(build_subprotocol(subprotocols)) == subprotocols


# Basic authentication.


def test_build_authorization_basic_rfc7617_example() -> None:
    # RFC 7617 section 2.
    assert build_authorization_basic("Aladdin", "open sesame") == (
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    )


def test_build_authorization_basic_utf8() -> None:
    # RFC 7617 section 2.1's example of the UTF-8 charset.
    assert build_authorization_basic("test", "123\xa3") == "Basic dGVzdDoxMjPCow=="


def test_build_authorization_basic_password_may_contain_colon() -> None:
    value = build_authorization_basic("user", "a:b")
    assert base64.b64decode(value.removeprefix("Basic ")) == b"user:a:b"


def test_build_authorization_basic_rejects_colon_in_username() -> None:
    with pytest.raises(ValueError, match="contains ':'"):
        build_authorization_basic("us:er", "pass")


# validate_outgoing_all: every header at once, the same errors as one by one.


def test_validate_outgoing_all_accepts_valid_headers() -> None:
    validate_outgoing_all(Headers())
    validate_outgoing_all(
        Headers([("Host", "example.com"), ("X-Ok", " tab\there ~! "), ("X-Empty", "")])
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("", "v"),
        ("X Space", "v"),
        ("X:Colon", "v"),
        ("X-\xe9", "v"),
        ("X\r\nInjected", "v"),
        ("X-Test", "a\rb"),
        ("X-Test", "a\nX-Evil: 1"),
        ("X-Test", "\x00"),
        ("X-Test", "ab\x7f"),
        ("X-Test", "caf\xe9"),
    ],
)
def test_validate_outgoing_all_reports_like_validate_outgoing(
    name: str, value: str
) -> None:
    with pytest.raises(UnsafeHeader) as expected:
        validate_outgoing(name, value)
    # The bad header among good ones, anywhere in the list.
    for position in range(3):
        pairs = [("Host", "example.com"), ("X-Good", "fine")]
        pairs.insert(position, (name, value))
        with pytest.raises(UnsafeHeader) as got:
            validate_outgoing_all(Headers(pairs))
        assert str(got.value) == str(expected.value)
        assert (got.value.name, got.value.value) == (name, value)


def test_validate_outgoing_all_reports_the_first_bad_header() -> None:
    headers = Headers([("X-A", "ok"), ("X-B", "bad\n"), ("X C", "v")])
    with pytest.raises(UnsafeHeader, match="contains LF") as exc_info:
        validate_outgoing_all(headers)
    assert exc_info.value.name == "X-B"


def test_validate_outgoing_all_rejects_non_str_pairs() -> None:
    # Headers refuses them; a pair slipped into its list is still caught.
    headers = Headers([("X-A", "ok")])
    headers._list.append(("X-B", 5))  # type: ignore[arg-type]
    with pytest.raises(UnsafeHeader, match="the value is a int, not a str"):
        validate_outgoing_all(headers)


@pytest.mark.property
@given(
    pairs=st.lists(
        st.tuples(
            st.text(alphabet="aZ9-!: \t\r\n\x00\x7f\xe9", max_size=4),
            st.text(alphabet="aZ9-!: \t\r\n\x00\x7f\xe9", max_size=4),
        ),
        max_size=4,
    )
)
def test_validate_outgoing_all_agrees_with_validate_outgoing(
    pairs: list[tuple[str, str]],
) -> None:
    def one_by_one() -> str | None:
        for name, value in pairs:
            try:
                validate_outgoing(name, value)
            except UnsafeHeader as exc:
                return str(exc)
        return None

    expected = one_by_one()
    if expected is None:
        validate_outgoing_all(Headers(pairs))
    else:
        with pytest.raises(UnsafeHeader) as exc_info:
            validate_outgoing_all(Headers(pairs))
        assert str(exc_info.value) == expected


@pytest.mark.property
@given(value=st.text(alphabet='aZ9-/!, \t;="\xe9', max_size=12))
def test_single_item_shortcuts_agree_with_the_list_grammar(value: str) -> None:
    # parse_connection and parse_upgrade take a shortcut for a lone token or
    # protocol; the general grammar must give the same answer.
    for parse, parse_item, name in (
        (parse_connection, _parse_token, "Connection"),
        (parse_upgrade, _parse_protocol, "Upgrade"),
    ):
        try:
            expected: object = _parse_list(parse_item, value, name)
        except InvalidHeaderFormat as exc:
            expected = str(exc)
        try:
            got: object = parse(value)
        except InvalidHeaderFormat as exc:
            got = str(exc)
        assert got == expected


def test_validate_outgoing_all_checks_again_after_a_change() -> None:
    headers = Headers([("X-A", "ok")])
    validate_outgoing_all(headers)
    validate_outgoing_all(headers)
    headers["X-B"] = "bad\r\n"
    with pytest.raises(UnsafeHeader, match="contains CR"):
        validate_outgoing_all(headers)
    del headers["X-B"]
    validate_outgoing_all(headers)
    headers.update({"X C": "v"})
    with pytest.raises(UnsafeHeader, match="isn't an HTTP token"):
        validate_outgoing_all(headers)
    headers.clear()
    validate_outgoing_all(headers)
