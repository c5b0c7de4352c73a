from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wskit.core.exceptions import (
    InvalidMessage,
    InvalidState,
    SecurityError,
    UnsafeHeader,
)
from wskit.core.headers import Headers
from wskit.core.http11 import Request, Response, ResponseParser

SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"\r\n"
)


def parse(data: bytes, *, eof: bool = False, **limits: int) -> Response | None:
    parser = ResponseParser(**limits)
    parser.feed(data)
    if eof:
        parser.feed_eof()
    return parser.parse()


def parse_complete(data: bytes, *, eof: bool = False, **limits: int) -> Response:
    response = parse(data, eof=eof, **limits)
    assert response is not None
    return response


# Request.


def test_request_serialize() -> None:
    request = Request("/chat?room=1", Headers([("Host", "example.com"), ("X-A", "1")]))
    assert request.serialize() == (
        b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n\r\n"
    )


@pytest.mark.parametrize(
    "path", ["", "/a b", "/\r\nX: y", "/caf\xe9", "/\x7f", "/\t", "/\x00", "\x85"]
)
def test_request_serialize_rejects_bad_paths(path: str) -> None:
    with pytest.raises(ValueError, match="must be non-empty printable ASCII"):
        Request(path, Headers()).serialize()


def test_request_serialize_revalidates_headers() -> None:
    # Headers added after the request was built are checked too.
    request = Request("/", Headers(Host="h"))
    request.headers["X-Evil"] = "1\r\nX-Injected: 2"
    with pytest.raises(UnsafeHeader, match="contains CR"):
        request.serialize()


# Response.


def test_response_serialize_round_trips() -> None:
    response = Response(
        200, "OK", Headers([("Content-Length", "5"), ("X", "caf\xe9")]), b"hello"
    )
    assert response.serialize() == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: caf\xe9\r\n\r\nhello"
    )
    assert parse(response.serialize()) == response


def test_response_is_frozen() -> None:
    response = Response(101, "", Headers())
    assert response.body == b""
    with pytest.raises(dataclasses.FrozenInstanceError):
        response.status_code = 200  # type: ignore[misc]


# The parser: success paths.


def test_parse_101_and_remainder() -> None:
    parser = ResponseParser()
    parser.feed(SWITCHING + b"\x81\x02hi")
    response = parser.parse()
    assert response is not None
    assert response.status_code == 101
    assert response.reason_phrase == "Switching Protocols"
    assert response.headers["upgrade"] == "websocket"
    assert response.body == b""
    assert parser.remainder() == b"\x81\x02hi"
    # Bytes fed later also belong to the remainder; parse() stays idempotent.
    parser.feed(b"\x81\x00")
    assert parser.parse() is response
    assert parser.remainder() == b"\x81\x02hi\x81\x00"


def test_parse_101_ignores_content_length() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 101 OK\r\nContent-Length: 4\r\n\r\nabcd")
    assert parse_complete(b"HTTP/1.1 101 OK\r\nContent-Length: 4\r\n\r\n").body == b""
    assert parser.parse() is not None
    assert parser.remainder() == b"abcd"


def test_parse_needs_more_data() -> None:
    parser = ResponseParser()
    assert parser.parse() is None
    parser.feed(SWITCHING[:-1])
    assert parser.parse() is None
    with pytest.raises(InvalidState, match="call remainder\\(\\) after parse"):
        parser.remainder()
    parser.feed(SWITCHING[-1:])
    assert parser.parse() is not None
    assert parser.remainder() == b""


@pytest.mark.parametrize(
    ("status_line", "code", "reason"),
    [
        (b"HTTP/1.1 101 Switching Protocols", 101, "Switching Protocols"),
        (b"HTTP/1.1 101 ", 101, ""),
        (b"HTTP/1.1 101", 101, ""),  # SP before an empty reason omitted
        (b"HTTP/1.1 101 Caf\xe9  \t ok", 101, "Caf\xe9  \t ok"),
        (b"HTTP/1.1 599 x", 599, "x"),
    ],
)
def test_status_line(status_line: bytes, code: int, reason: str) -> None:
    response = parse_complete(status_line + b"\r\n\r\n", eof=True)
    assert (response.status_code, response.reason_phrase) == (code, reason)


def test_header_values_are_stripped_and_decoded() -> None:
    response = parse_complete(
        b"HTTP/1.1 101 OK\r\n"
        b"A:plain\r\n"
        b"B: \t spaced \t \r\n"
        b"C:\r\n"
        b"D: caf\xe9 inner  space\r\n"
        b"a: again\r\n"
        b"\r\n"
    )
    assert list(response.headers.raw_items()) == [
        ("A", "plain"),
        ("B", "spaced"),
        ("C", ""),
        ("D", "caf\xe9 inner  space"),
        ("a", "again"),
    ]


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 %d X\r\nContent-Length: 3\r\n\r\nabc" % status)
    response = parser.parse()
    assert response is not None
    assert response.body == b""
    assert parser.remainder() == b"abc"


def test_interim_responses_are_skipped() -> None:
    response = parse_complete(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + SWITCHING
    )
    assert response.status_code == 101
    assert "Link" not in response.headers


def test_too_many_interim_responses() -> None:
    data = b"HTTP/1.1 100 Continue\r\n\r\n" * 3 + SWITCHING
    assert parse(data, max_interim=3) is not None
    with pytest.raises(SecurityError, match="more than max_interim=2 interim"):
        parse(data, max_interim=2)


def test_content_length_body_and_remainder() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nhel")
    assert parser.parse() is None
    parser.feed(b"lorest")
    response = parser.parse()
    assert response is not None
    assert response.status_code == 403
    assert response.body == b"hello"
    assert parser.remainder() == b"rest"


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5, 5\r\n",
        b"Content-Length: 5\r\nContent-Length: 005\r\n",
        b"Content-Length: 5\r\ncontent-length: 5\r\n",
    ],
)
def test_identical_content_lengths_are_merged(headers: bytes) -> None:
    data = b"HTTP/1.1 400 Bad\r\n" + headers + b"\r\nhello"
    if b"005" in headers:
        # "5" and "005" differ as strings: RFC 7230 section 3.3.2 only merges
        # identical values.
        with pytest.raises(InvalidMessage, match="conflicting Content-Length"):
            parse(data)
    else:
        assert parse_complete(data).body == b"hello"


def test_content_length_zero_and_leading_zeros() -> None:
    assert parse_complete(b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n").body == b""
    assert parse_complete(b"HTTP/1.1 400 Bad\r\nContent-Length: 00\r\n\r\n").body == b""
    assert (
        parse_complete(b"HTTP/1.1 400 B\r\nContent-Length: 0002\r\n\r\nab").body
        == b"ab"
    )


def test_chunked_body() -> None:
    parser = ResponseParser()
    parser.feed(
        b"HTTP/1.1 500 Oops\r\n"
        b"Transfer-Encoding: Chunked\r\n"
        b"\r\n"
        b"5\r\nhello\r\n"
        b"1; name=value \t\r\n \r\n"
        b"00A\r\n0123456789\r\n"
        b"000\r\n"
        b"Trailer-A: 1\r\n"
        b"Trailer-B: 2\r\n"
        b"\r\n"
        b"next"
    )
    response = parser.parse()
    assert response is not None
    assert response.body == b"hello 0123456789"
    assert "Trailer-A" not in response.headers
    assert parser.remainder() == b"next"


def test_chunked_body_with_bws_and_empty_elements() -> None:
    response = parse_complete(
        b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: , chunked ,\r\n\r\n"
        b"2 ;x\r\nab\r\n0\r\n\r\n"
    )
    assert response.body == b"ab"


def test_body_until_eof() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\n\r\nsome")
    assert parser.parse() is None
    parser.feed(b" body")
    assert parser.parse() is None
    parser.feed_eof()
    parser.feed_eof()  # harmless
    response = parser.parse()
    assert response is not None
    assert response.body == b"some body"
    assert parser.remainder() == b""


def test_non_chunked_transfer_coding_reads_until_eof() -> None:
    # RFC 7230 section 3.3.3, rule 3.
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b"
    assert parse(data) is None
    assert parse_complete(data, eof=True).body == b"\x1f\x8b"


def test_feed_after_eof() -> None:
    parser = ResponseParser()
    parser.feed_eof()
    with pytest.raises(InvalidState, match="feed\\(\\) called after feed_eof\\(\\)"):
        parser.feed(b"x")


# The parser: errors.


@pytest.mark.parametrize(
    ("status_line", "exc_type", "message"),
    [
        (b"", InvalidMessage, "invalid HTTP status line"),
        (b"HTTP/1.1", InvalidMessage, "invalid HTTP status code"),
        (b"HTTP/1.1 ", InvalidMessage, "invalid HTTP status code"),
        (b"HTTP/1.1  101 x", InvalidMessage, "invalid HTTP status code"),
        (b"HTTP/1.1 1O1 x", InvalidMessage, "invalid HTTP status code"),
        (b"HTTP/1.1 1010 x", InvalidMessage, "invalid HTTP status code"),
        (b"HTTP/1.1 +11 x", InvalidMessage, "invalid HTTP status code"),
        (b"HTTP/1.1 099 x", InvalidMessage, "HTTP status code 99 isn't in 100-599"),
        (b"HTTP/1.1 600 x", InvalidMessage, "HTTP status code 600 isn't in 100-599"),
        (b"HTTP/1.1 101 a\x00b", InvalidMessage, "invalid HTTP reason phrase"),
        (b"HTTP/1.1 101 a\rb", InvalidMessage, "invalid HTTP reason phrase"),
        (b"HTTP/1.0 101 x", InvalidMessage, "unsupported HTTP version HTTP/1.0"),
        (b"HTTP/2.0 101 x", InvalidMessage, "unsupported HTTP version HTTP/2.0"),
        (b"HTTP/2 200", InvalidMessage, "invalid HTTP status line"),
        (b"http/1.1 101 x", InvalidMessage, "invalid HTTP status line"),
        (b"ICY 200 OK", InvalidMessage, "invalid HTTP status line"),
        (b"SSH-2.0-OpenSSH_9.6", InvalidMessage, "invalid HTTP status line"),
    ],
)
def test_bad_status_line(
    status_line: bytes, exc_type: type[Exception], message: str
) -> None:
    with pytest.raises(exc_type, match=message):
        parse(status_line + b"\r\n\r\n")


def test_unsupported_version_message() -> None:
    with pytest.raises(InvalidMessage) as exc_info:
        parse(b"HTTP/1.0 200 OK\r\n\r\n")
    assert str(exc_info.value) == (
        "unsupported HTTP version HTTP/1.0; the WebSocket handshake requires "
        "HTTP/1.1 (RFC 6455 section 4.1): b'HTTP/1.0 200 OK'"
    )


@pytest.mark.parametrize(
    ("header_line", "message"),
    [
        (b" folded", "obsolete line folding"),
        (b"\tfolded", "obsolete line folding"),
        (b"No colon", "header line without a colon"),
        (b"Name : value", "invalid HTTP header name: b'Name '"),
        (b": value", "invalid HTTP header name: b''"),
        (b"N\xe9: value", "invalid HTTP header name"),
        (b"A: x\x00y", "invalid value for header A"),
        (b"A: x\x7fy", "invalid value for header A"),
        (b"A: x\ry", "invalid value for header A"),
    ],
)
def test_bad_header_line(header_line: bytes, message: str) -> None:
    with pytest.raises(InvalidMessage, match=message):
        parse(b"HTTP/1.1 101 OK\r\nFirst: 1\r\n" + header_line + b"\r\n\r\n")


def test_obsolete_line_folding_after_status_line() -> None:
    with pytest.raises(InvalidMessage, match="obsolete line folding"):
        parse(b"HTTP/1.1 101 OK\r\n Upgrade: websocket\r\n\r\n")


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 101 OK\n\r\n",
        b"HTTP/1.1 101 OK\r\nUpgrade: websocket\n\r\n",
        b"HTTP/1.1 101 OK\r\n\n",
    ],
)
def test_bare_lf_is_rejected(data: bytes) -> None:
    with pytest.raises(InvalidMessage, match="ends with LF without CR"):
        parse(data)


def test_max_line() -> None:
    line = b"X-Header: " + b"a" * 10  # 20 bytes
    data = b"HTTP/1.1 101 OK\r\n" + line + b"\r\n\r\n"
    assert parse(data, max_line=20) is not None
    with pytest.raises(
        SecurityError, match="HTTP header line is longer than max_line=19"
    ):
        parse(data, max_line=19)
    with pytest.raises(
        SecurityError, match="HTTP status line is longer than max_line=14"
    ):
        parse(data, max_line=14)


def test_max_line_detected_before_lf_arrives() -> None:
    parser = ResponseParser(max_line=10)
    parser.feed(b"HTTP/1.1 1")
    assert parser.parse() is None
    parser.feed(b"0")  # 11 bytes, could still be 10 + CR
    assert parser.parse() is None
    parser.feed(b"1")
    with pytest.raises(SecurityError, match="status line is longer than max_line=10"):
        parser.parse()


def test_long_line_with_bare_lf_is_too_long() -> None:
    # Eleven bytes then LF: too long is reported, whatever the line ending.
    with pytest.raises(SecurityError):
        parse(b"HTTP/1.1 10\n", max_line=10)
    with pytest.raises(InvalidMessage, match="LF without CR"):
        parse(b"HTTP/1.1 1\n", max_line=10)


def test_max_headers() -> None:
    data = b"HTTP/1.1 101 OK\r\n" + b"A: 1\r\n" * 3 + b"\r\n"
    assert parse(data, max_headers=3) is not None
    with pytest.raises(SecurityError, match="more than max_headers=2 header lines"):
        parse(data, max_headers=2)


def test_max_headers_applies_to_each_interim_response() -> None:
    interim = b"HTTP/1.1 103 Early Hints\r\n" + b"Link: x\r\n" * 2 + b"\r\n"
    assert parse(interim * 3 + SWITCHING, max_headers=3) is not None


def test_max_headers_in_trailers() -> None:
    data = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n" + b"T: 1\r\n" * 3 + b"\r\n"
    )
    assert parse(data, max_headers=3) is not None
    with pytest.raises(SecurityError, match="max_headers=2"):
        parse(data, max_headers=2)


def test_bad_trailer() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad\r\n\r\n"
    with pytest.raises(InvalidMessage, match="header line without a colon"):
        parse(data)


@pytest.mark.parametrize(
    ("length", "exc_type", "message"),
    [
        (b"abc", InvalidMessage, "invalid Content-Length: 'abc'"),
        (b"-1", InvalidMessage, "invalid Content-Length"),
        (b"+1", InvalidMessage, "invalid Content-Length"),
        (b"1 1", InvalidMessage, "invalid Content-Length"),
        (b"", InvalidMessage, "invalid Content-Length: ''"),
        (b"1, 2", InvalidMessage, "conflicting Content-Length: 1, 2"),
        (b"\xd9\xa1", InvalidMessage, "invalid Content-Length"),
        (b"11", SecurityError, "body of 11 bytes exceeds max_body=10"),
        (b"9" * 5000, SecurityError, "exceeds max_body=10"),
    ],
)
def test_bad_content_length(
    length: bytes, exc_type: type[Exception], message: str
) -> None:
    with pytest.raises(exc_type, match=message):
        parse(
            b"HTTP/1.1 400 Bad\r\nContent-Length: " + length + b"\r\n\r\n", max_body=10
        )


def test_content_length_at_max_body() -> None:
    data = b"HTTP/1.1 400 Bad\r\nContent-Length: 10\r\n\r\n0123456789"
    assert parse_complete(data, max_body=10).body == b"0123456789"


def test_transfer_encoding_with_content_length() -> None:
    with pytest.raises(
        InvalidMessage, match="both Transfer-Encoding and Content-Length"
    ):
        parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Length: 5\r\n\r\n"
        )


@pytest.mark.parametrize(
    "coding",
    [b"gzip, chunked", b"chunked, chunked", b"chunked, gzip", b"chunked;x=1, br"],
)
def test_unsupported_transfer_codings(coding: bytes) -> None:
    with pytest.raises(InvalidMessage, match="unsupported transfer codings"):
        parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + b"\r\n\r\n")


@pytest.mark.parametrize(
    ("chunks", "exc_type", "message"),
    [
        (b"x\r\n", InvalidMessage, "invalid chunk size line: b'x'"),
        (b"\r\n", InvalidMessage, "invalid chunk size line"),
        (b"-1\r\n", InvalidMessage, "invalid chunk size line"),
        (b" 1\r\n", InvalidMessage, "invalid chunk size line"),
        (b"1;\x00\r\n", InvalidMessage, "invalid chunk size line"),
        (b"1 x\r\n", InvalidMessage, "invalid chunk size line"),
        (
            b"3\r\nabcX\r\n",
            InvalidMessage,
            "chunk data isn't followed by CRLF: b'X\\\\r'",
        ),
        (b"3\r\nabc\n\r\n", InvalidMessage, "chunk data isn't followed by CRLF"),
        (b"B\r\n", SecurityError, "chunked body exceeds max_body=10 bytes"),
        (b"5\r\nabcde\r\n6\r\n", SecurityError, "chunk of 6 bytes, hex, after 5 bytes"),
        (b"F" * 25 + b"\r\n", SecurityError, "chunked body exceeds max_body=10"),
        (b"1" * 20 + b"\r\n", SecurityError, "chunked body exceeds max_body=10"),
        (b"a" * 31 + b"\r\n", SecurityError, "chunk size line is longer than max_line"),
    ],
)
def test_bad_chunks(chunks: bytes, exc_type: type[Exception], message: str) -> None:
    with pytest.raises(exc_type, match=message):
        parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks,
            max_body=10,
            max_line=30,
        )


def test_body_until_eof_too_large() -> None:
    data = b"HTTP/1.1 200 OK\r\n\r\n0123456789"
    assert parse_complete(data, eof=True, max_body=10).body == b"0123456789"
    with pytest.raises(SecurityError, match="body exceeds max_body=9 bytes"):
        parse(data, max_body=9)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "connection closed before the server sent an HTTP response"),
        (b"HTTP/1.1 101", "connection closed while reading the HTTP status line"),
        (b"HTTP/1.1 100 Continue\r\n\r\n", "while reading the HTTP status line"),
        (b"HTTP/1.1 101 OK\r\n", "connection closed while reading HTTP headers"),
        (b"HTTP/1.1 101 OK\r\nA: 1\r\n", "while reading HTTP headers"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcd",
            "connection closed while reading the HTTP body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "connection closed while reading a chunked HTTP body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "while reading a chunked HTTP body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r",
            "while reading a chunked HTTP body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n",
            "connection closed while reading HTTP trailers",
        ),
    ],
)
def test_eof_before_the_end(data: bytes, message: str) -> None:
    with pytest.raises(InvalidMessage, match=message):
        parse(data, eof=True)


def test_errors_are_sticky() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.0 200 OK\r\n")
    with pytest.raises(InvalidMessage) as first:
        parser.parse()
    parser.feed(SWITCHING)
    with pytest.raises(InvalidMessage) as second:
        parser.parse()
    assert second.value is first.value


# Split invariance: the same outcome however the input is cut.

LIMITS = {"max_line": 64, "max_headers": 6, "max_body": 40, "max_interim": 2}

CORPUS = [
    SWITCHING,
    SWITCHING + b"\x81\x05hello\x88\x00",
    b"HTTP/1.1 101\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 OK\r\nA: 1\r\n\r\nrest",
    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!after",
    b"HTTP/1.1 500 E\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;x\r\nabc\r\n0\r\nT: 1\r\n\r\nz",
    b"HTTP/1.1 200 OK\r\n\r\nuntil eof",
    b"HTTP/1.1 204 No Content\r\n\r\nleft",
    b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 41,
    b"HTTP/1.1 101 OK\r\n" + b"A: 1\r\n" * 7 + b"\r\n",
    b"HTTP/1.1 101 OK\r\nLong: " + b"v" * 60 + b"\r\n\r\n",
    b"HTTP/1.1 101 OK\r\nLong: " + b"v" * 60 + b"\n\r\n",
    b"HTTP/1.0 101 OK\r\n\r\n",
    b"HTTP/1.1 101 OK\r\n folded\r\n\r\n",
    b"HTTP/1.1 101 OK\nA: 1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeXY0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n29\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab",
    b"HTTP/1.1 1",
    b"",
]

Outcome = tuple[object, ...]


def outcome(chunks: list[bytes], *, eof: bool) -> Outcome:
    parser = ResponseParser(**LIMITS)
    try:
        for chunk in chunks:
            parser.feed(chunk)
            parser.parse()
        if eof:
            parser.feed_eof()
        response = parser.parse()
    except (InvalidMessage, SecurityError) as exc:
        return ("error", type(exc), str(exc))
    if response is None:
        return ("incomplete",)
    return ("response", response, parser.remainder())


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    bounds = [0, *points, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


@pytest.mark.parametrize("data", CORPUS)
@pytest.mark.parametrize("eof", [False, True])
def test_one_byte_at_a_time(data: bytes, eof: bool) -> None:
    one_byte = [data[i : i + 1] for i in range(len(data))]
    assert outcome(one_byte, eof=eof) == outcome([data], eof=eof)


def test_corpus_covers_each_outcome() -> None:
    kinds = {outcome([data], eof=True)[0] for data in CORPUS}
    assert kinds == {"response", "error"}
    kinds = {outcome([data], eof=False)[0] for data in CORPUS}
    assert kinds == {"response", "error", "incomplete"}


@pytest.mark.property
@given(
    data=st.sampled_from(CORPUS),
    cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=8),
    eof=st.booleans(),
)
def test_split_invariance_on_corpus(data: bytes, cuts: list[int], eof: bool) -> None:
    assert outcome(split_at(data, cuts), eof=eof) == outcome([data], eof=eof)


header_lines = st.lists(
    st.sampled_from(
        [
            b"Upgrade: websocket",
            b"Connection: Upgrade",
            b"Content-Length: 4",
            b"Content-Length: 50",
            b"Transfer-Encoding: chunked",
            b"Transfer-Encoding: gzip",
            b"X:  padded\t",
            b" folded",
            b"Bad Name: x",
            b"L: " + b"y" * 70,
        ]
    ),
    max_size=8,
)


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    status = draw(
        st.sampled_from(
            [b"HTTP/1.1 101 OK", b"HTTP/1.1 100", b"HTTP/1.1 200 OK", b"HTTP/1.1 304 x"]
        )
    )
    lines = draw(header_lines)
    ending = draw(st.sampled_from([b"\r\n", b"\n"]))
    head = b"".join(line + b"\r\n" for line in [status, *lines]) + ending
    body = draw(
        st.sampled_from(
            [b"", b"abcd", b"4\r\nabcd\r\n0\r\n\r\n", b"2\r\nab\r\n", b"x" * 45]
        )
    )
    tail = draw(st.binary(max_size=20))
    data = head + body + tail
    # Occasionally corrupt one byte, to reach the error paths at every offset.
    if draw(st.booleans()):
        index = draw(st.integers(min_value=0, max_value=len(data) - 1))
        byte = draw(st.integers(min_value=0, max_value=255))
        data = data[:index] + bytes([byte]) + data[index + 1 :]
    return data


@pytest.mark.property
@given(
    data=responses(),
    cuts=st.lists(st.integers(min_value=0, max_value=1000), max_size=10),
    eof=st.booleans(),
)
def test_split_invariance_on_generated_responses(
    data: bytes, cuts: list[int], eof: bool
) -> None:
    assert outcome(split_at(data, cuts), eof=eof) == outcome([data], eof=eof)


@pytest.mark.property
@given(data=st.binary(max_size=200), cuts=st.lists(st.integers(0, 200), max_size=6))
def test_split_invariance_on_random_bytes(data: bytes, cuts: list[int]) -> None:
    assert outcome(split_at(data, cuts), eof=True) == outcome([data], eof=True)


@pytest.mark.property
@given(path=st.text(max_size=6))
def test_request_path_check(path: str) -> None:
    # Exactly non-empty \x21-\x7e is accepted.
    valid = bool(path) and all("\x21" <= char <= "\x7e" for char in path)
    try:
        Request(path, Headers()).serialize()
    except ValueError:
        assert not valid
    else:
        assert valid


HEADS = [
    b"HTTP/1.1 101 X: y\r\nA: 1\r\n\r\n",
    b"HTTP/1.1 101 \r\nA: 1\r\n\r\n",
    b"HTTP/1.1 101\r\nA:\r\nB: \t\r\n\r\n",
    b"HTTP/1.1 101 OK\r\nA: x\ty \r\nA: \xff\r\n\r\n",
    b"HTTP/1.1 101 OK\r\nA : x\r\n\r\n",
    b"HTTP/1.1 101 OK\r\nA: x\ry\r\n\r\n",
    b"HTTP/1.1 101 OK\r\nA: x\x7f\r\n\r\n",
    b"HTTP/1.1 101 O\x00K\r\n\r\n",
    b"HTTP/1.1 099 Low\r\n\r\n",
    b"HTTP/1.1 600 High\r\n\r\n",
    b"HTTP/1.1 1010 OK\r\n\r\n",
    b"HTTP/1.1  101 OK\r\n\r\n",
    b"HTTP/1.1 101 OK\r\n" + b"A: 1\r\n" * 6 + b"\r\n",
    b"HTTP/1.1 101 OK\r\n" + b"A: 1\r\n" * 6 + b"B: 2\r\n\r\n",
    b"HTTP/1.1 101 OK\r\nL: " + b"v" * 61 + b"\r\n\r\n",
    b"HTTP/1.1 101 OK\r\nL: " + b"v" * 62 + b"\r\n\r\n",
]


@pytest.mark.parametrize("data", CORPUS + HEADS)
def test_whole_head_parses_like_one_line_at_a_time(data: bytes) -> None:
    # A whole head takes the fast path; cutting it after each LF forces the
    # line by line parser. Both must agree, errors included.
    cuts = [index + 1 for index, byte in enumerate(data) if byte == ord("\n")]
    for eof in (False, True):
        assert outcome(split_at(data, cuts), eof=eof) == outcome([data], eof=eof)


def test_fast_path_keeps_header_order_case_and_spacing() -> None:
    response = parse_complete(
        b"HTTP/1.1 101\r\nUpgrade: websocket\r\nX-A:\t a b \t\r\nx-a:\r\n"
        b"Obs: caf\xe9\r\n\r\nframes"
    )
    assert response.reason_phrase == ""
    assert list(response.headers.raw_items()) == [
        ("Upgrade", "websocket"),
        ("X-A", "a b"),
        ("x-a", ""),
        ("Obs", "caf\xe9"),
    ]
    assert response.headers.get_all("x-A") == ["a b", ""]


def test_feed_accepts_any_buffer_and_copies_it() -> None:
    buffer = bytearray(SWITCHING[:20])
    parser = ResponseParser()
    parser.feed(buffer)
    buffer[:] = b"\x00" * 20  # the caller reuses its receive buffer
    parser.feed(memoryview(SWITCHING)[20:])
    response = parser.parse()
    assert response is not None
    assert response.serialize() == SWITCHING
