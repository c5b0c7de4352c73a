"""The HTTP/1.1 messages of the opening handshake, and an incremental response parser.

A WebSocket client sends exactly one request and reads exactly one response, so
this is not a general HTTP implementation; it is a strict one. The response
parser is sans-I/O: bytes go in with :meth:`ResponseParser.feed`, a
:class:`Response` comes out of :meth:`ResponseParser.parse` once it is complete,
and whatever followed it (the first WebSocket frames may share a TCP segment
with a ``101``) is available from :meth:`ResponseParser.remainder`.

The parser gives the same result however the input is split, which is what lets
front ends feed it whatever their transport delivers. Every buffer is bounded:
line length, header count, body size and the number of interim ``1xx``
responses all have finite defaults.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from .exceptions import InvalidMessage, InvalidState, SecurityError
from .headers import Headers, validate_outgoing_all

__all__ = ["Request", "Response", "ResponseParser"]

# RFC 7230 section 3.2.6: token = 1*tchar.
_TOKEN_RE = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")

# RFC 7230 section 3.2: field-content, and section 3.1.2: reason-phrase, both
# *( HTAB / SP / VCHAR / obs-text ). Obs-text is tolerated and decoded as
# ISO-8859-1, which maps bytes to code points one to one and cannot fail.
_VALUE_RE = re.compile(rb"[\x09\x20-\x7e\x80-\xff]*")

# RFC 7230 section 2.6: HTTP-version = HTTP-name "/" DIGIT "." DIGIT.
_VERSION_RE = re.compile(rb"HTTP/[0-9]\.[0-9]")

# RFC 7230 section 3.1.2: status-code = 3DIGIT.
_STATUS_CODE_RE = re.compile(rb"[0-9]{3}")

# RFC 7230 section 4.1: chunk-size [ chunk-ext ], chunk-size = 1*HEXDIG. BWS
# before the extension is tolerated (RFC 7230 section 4.1.1).
_CHUNK_SIZE_RE = re.compile(rb"([0-9A-Fa-f]+)[\t ]*(?:;[\x09\x20-\x7e\x80-\xff]*)?")

# A chunk size or content length with more digits than this exceeds any sane
# max_body; refusing it early keeps int() away from huge numbers.
_MAX_DIGITS = 16

_OWS = b" \t"

# The fast path of the response parser, on the head decoded as ISO-8859-1 (which
# leaves token characters as they are): a status line and header lines that pass
# every check of the line by line parser. Anything else goes through the latter,
# which reports the precise error.
_FAST_HEAD_RE = re.compile(
    r"HTTP/1\.1 ([0-9]{3})(?: ([\x09\x20-\x7e\x80-\xff]*))?\r\n"
    r"((?:[-!#$%&'*+.^_`|~0-9a-zA-Z]+:[\x09\x20-\x7e\x80-\xff]*\r\n)*)"
)
# One header line of such a head; its value without the OWS around it.
_FAST_HEADER_RE = re.compile(
    r"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[\t ]*([\x09\x20-\x7e\x80-\xff]*?)[\t ]*\r\n"
)


@dataclass(slots=True)
class Request:
    """The handshake request; only ``GET`` exists in a WebSocket handshake.

    Attributes:
        path: The request target, e.g. ``/chat?room=1`` (RFC 6455 section 4.1).
        headers: The request headers; callers may add to them before sending.
    """

    path: str
    headers: Headers

    def serialize(self) -> bytes:
        """Render the request, revalidating everything that reaches the wire.

        Validation happens here as well as in the handshake builder because
        callers may change the request in between.

        Returns:
            ``GET path HTTP/1.1\\r\\n``, the headers, and a blank line.

        Raises:
            ValueError: The path is empty or contains a space, a control or a
                non-ASCII character, any of which would corrupt the request line.
            UnsafeHeader: A header fails :func:`~wskit.core.headers.validate_outgoing`.
        """
        # RFC 7230 section 3.1.1: request-line = method SP request-target SP
        # HTTP-version CRLF, and the target is ASCII without spaces.
        path = self.path
        # isprintable() refuses controls and DEL; with isascii() and no space,
        # that leaves exactly \x21-\x7e.
        if not (path and path.isascii() and path.isprintable() and " " not in path):
            raise ValueError(
                f"request path {path!r} must be non-empty printable ASCII "
                "without spaces; percent-encode other characters"
            )
        headers = self.headers
        validate_outgoing_all(headers)
        return f"GET {path} HTTP/1.1\r\n".encode("ascii") + headers.serialize()


@dataclass(frozen=True, slots=True)
class Response:
    """The server's answer to the handshake request.

    Attributes:
        status_code: The status code, ``101`` when the handshake succeeds.
        reason_phrase: The reason phrase, decoded as ISO-8859-1; may be empty.
        headers: The response headers, values decoded as ISO-8859-1.
        body: The body, de-chunked; empty for ``101`` and other bodiless statuses.
    """

    status_code: int
    reason_phrase: str
    headers: Headers
    body: bytes = field(default=b"")

    def serialize(self) -> bytes:
        """Render the response as received, mainly to build test input.

        The body is written as is: for a ``Transfer-Encoding: chunked`` response,
        re-encode it yourself, since the parser removed the chunking.

        Returns:
            The status line, the headers, a blank line and the body.
        """
        status_line = f"HTTP/1.1 {self.status_code:d} {self.reason_phrase}\r\n"
        return status_line.encode("iso-8859-1") + self.headers.serialize() + self.body


class _State(enum.Enum):
    STATUS_LINE = enum.auto()
    HEADERS = enum.auto()
    BODY_LENGTH = enum.auto()
    CHUNK_SIZE = enum.auto()
    CHUNK_DATA = enum.auto()
    CHUNK_END = enum.auto()
    TRAILERS = enum.auto()
    BODY_EOF = enum.auto()
    DONE = enum.auto()


_EOF_MESSAGES = {
    _State.STATUS_LINE: "connection closed while reading the HTTP status line",
    _State.HEADERS: "connection closed while reading HTTP headers",
    _State.BODY_LENGTH: "connection closed while reading the HTTP body",
    _State.CHUNK_SIZE: "connection closed while reading a chunked HTTP body",
    _State.CHUNK_DATA: "connection closed while reading a chunked HTTP body",
    _State.CHUNK_END: "connection closed while reading a chunked HTTP body",
    _State.TRAILERS: "connection closed while reading HTTP trailers",
}


class ResponseParser:
    """Parse an HTTP/1.1 response from bytes fed incrementally.

    Strictness follows RFC 7230 as a client may apply it: lines end with CRLF
    (section 3.5 allows, but does not require, accepting a bare LF; a server
    that sends one is broken in ways worth hearing about), obsolete line folding
    is rejected (section 3.2.4), header names are tokens, and a response
    carrying both ``Transfer-Encoding`` and ``Content-Length`` is rejected as a
    smuggling attempt (section 3.3.3).

    Following RFC 7231 section 6.2, interim ``1xx`` responses other than ``101``
    are skipped, up to ``max_interim`` of them. A ``101`` ends the response: the
    bytes after it belong to the WebSocket connection.

    Errors are sticky: once :meth:`parse` raised, it raises the same error again.

    Args:
        max_line: The longest status, header or chunk line, CRLF excluded.
        max_headers: The most header lines in one response (and in its trailers).
        max_body: The largest body, after de-chunking.
        max_interim: The most interim ``1xx`` responses before the final one.
    """

    def __init__(
        self,
        *,
        max_line: int = 8192,
        max_headers: int = 128,
        max_body: int = 1 << 20,
        max_interim: int = 8,
    ) -> None:
        self.max_line = max_line
        self.max_headers = max_headers
        self.max_body = max_body
        self.max_interim = max_interim

        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer known to hold no LF
        self._eof = False
        self._state = _State.STATUS_LINE
        self._exc: InvalidMessage | SecurityError | None = None

        self._interim = 0
        self._status_code = 0
        self._reason = ""
        self._headers = Headers()
        self._header_count = 0
        self._body = bytearray()
        self._remaining = 0  # bytes left in the body or the current chunk
        self._response: Response | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes received from the server.

        Args:
            data: The bytes, possibly empty; copied, so the caller may reuse a
                receive buffer.

        Raises:
            InvalidState: :meth:`feed_eof` was already called.
        """
        if self._eof:
            raise InvalidState("feed() called after feed_eof(); the stream has ended")
        self._buffer += data

    def feed_eof(self) -> None:
        """Record that the server closed the connection; a second call does nothing."""
        self._eof = True

    def parse(self) -> Response | None:
        """Parse as much as the bytes fed so far allow.

        Returns:
            The response once complete (again on later calls), or ``None`` while
            more bytes are needed.

        Raises:
            InvalidMessage: The response is malformed, uses another HTTP version
                than 1.1, or the stream ended before it was complete.
            SecurityError: A line is longer than ``max_line``, there are more than
                ``max_headers`` headers or ``max_interim`` interim responses, or
                the body is larger than ``max_body``.
        """
        if self._exc is not None:
            raise self._exc
        try:
            return self._parse()
        except (InvalidMessage, SecurityError) as exc:
            self._exc = exc
            raise

    def remainder(self) -> bytes:
        """Return the bytes that followed the response.

        Returns:
            Everything fed after the end of the response, including bytes fed
            after :meth:`parse` returned it.

        Raises:
            InvalidState: The response is not complete yet.
        """
        if self._state is not _State.DONE:
            raise InvalidState(
                "the response isn't complete; call remainder() after parse() "
                "returns a Response"
            )
        return bytes(self._buffer)

    # The state machine. Each step consumes input and returns True, or returns
    # False when it needs more bytes.

    def _parse(self) -> Response | None:
        while self._state is not _State.DONE:
            if not self._step():
                if not self._eof:
                    return None
                if self._state is _State.BODY_EOF:
                    # RFC 7230 section 3.3.3, rule 7: the body ends with the
                    # connection.
                    self._finish()
                elif self._state is _State.STATUS_LINE and not (
                    self._buffer or self._interim
                ):
                    raise InvalidMessage(
                        "connection closed before the server sent an HTTP response"
                    )
                else:
                    raise InvalidMessage(_EOF_MESSAGES[self._state])
        return self._response

    def _step(self) -> bool:
        state = self._state
        if state is _State.STATUS_LINE:
            return self._parse_status_line()
        if state is _State.HEADERS or state is _State.TRAILERS:
            return self._parse_header_line()
        if state is _State.BODY_LENGTH:
            return self._parse_body_length()
        if state is _State.CHUNK_SIZE:
            return self._parse_chunk_size()
        if state is _State.CHUNK_DATA:
            return self._parse_chunk_data()
        if state is _State.CHUNK_END:
            return self._parse_chunk_end()
        assert state is _State.BODY_EOF
        return self._parse_body_eof()

    def _read_line(self, what: str) -> bytes | None:
        # Look for LF only within max_line + CR + LF bytes: the decision depends on
        # those bytes alone, so it is the same however the input was split.
        limit = self.max_line + 2
        end = self._buffer.find(b"\n", self._scanned, limit)
        if end < 0:
            if len(self._buffer) >= limit:
                raise SecurityError(
                    f"{what} is longer than max_line={self.max_line} bytes; "
                    "raise max_line if the server legitimately sends such lines"
                )
            self._scanned = len(self._buffer)
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        self._scanned = 0
        bare_lf = not line.endswith(b"\r")
        if not bare_lf:
            line = line[:-1]
        if len(line) > self.max_line:
            raise SecurityError(
                f"{what} is longer than max_line={self.max_line} bytes; "
                "raise max_line if the server legitimately sends such lines"
            )
        # RFC 7230 section 3.5: lines end with CRLF; a bare LF is not accepted.
        if bare_lf:
            raise InvalidMessage(f"{what} ends with LF without CR: {line!r}")
        return line

    def _parse_head_at_once(self) -> bool:
        """Parse a whole, valid status line and header block, if buffered.

        The handshake response usually arrives in one piece: this checks it with
        one regular expression and extracts its headers with another, instead of
        stepping through the state machine line by line. It accepts exactly what
        the line by line parser accepts, and leaves anything else to it,
        untouched, so that errors are reported the same way however the input
        arrived.
        """
        buffer = self._buffer
        # The first _scanned bytes hold no LF: the blank line cannot start there
        # (this keeps a response fed byte by byte linear).
        end = buffer.find(b"\r\n\r\n", max(self._scanned - 1, 0))
        # A head no longer than max_line has no line longer than max_line.
        if end < 0 or end + 2 > self.max_line:
            return False
        head = buffer[: end + 2].decode("iso-8859-1")
        status = _FAST_HEAD_RE.fullmatch(head)
        if status is None:
            return False
        status_code = int(status[1])
        if not 100 <= status_code <= 599:
            return False
        pairs = _FAST_HEADER_RE.findall(head, status.start(3))
        if len(pairs) > self.max_headers:
            return False
        del buffer[: end + 4]
        self._scanned = 0
        self._status_code = status_code
        reason = status[2]
        self._reason = "" if reason is None else reason
        self._headers = Headers._from_pairs(pairs)
        self._header_count = len(pairs)
        self._end_of_headers()
        return True

    def _parse_status_line(self) -> bool:
        if self._parse_head_at_once():
            return True
        line = self._read_line("HTTP status line")
        if line is None:
            return False
        # RFC 7230 section 3.1.2: status-line = HTTP-version SP status-code SP
        # reason-phrase CRLF. Some servers omit the SP before an empty reason; like
        # h11, accept that, since nothing else could be meant.
        version, _, rest = line.partition(b" ")
        if _VERSION_RE.fullmatch(version) is None:
            raise InvalidMessage(f"invalid HTTP status line: {line!r}")
        if version != b"HTTP/1.1":
            raise InvalidMessage(
                f"unsupported HTTP version {version.decode()}; the WebSocket "
                f"handshake requires HTTP/1.1 (RFC 6455 section 4.1): {line!r}"
            )
        raw_code, _, raw_reason = rest.partition(b" ")
        if _STATUS_CODE_RE.fullmatch(raw_code) is None:
            raise InvalidMessage(f"invalid HTTP status code in status line: {line!r}")
        status_code = int(raw_code)
        # RFC 7231 section 6: status codes range from 100 to 599.
        if not 100 <= status_code <= 599:
            raise InvalidMessage(f"HTTP status code {status_code} isn't in 100-599")
        if _VALUE_RE.fullmatch(raw_reason) is None:
            raise InvalidMessage(f"invalid HTTP reason phrase: {raw_reason!r}")
        self._status_code = status_code
        self._reason = raw_reason.decode("iso-8859-1")
        self._headers = Headers()
        self._header_count = 0
        self._state = _State.HEADERS
        return True

    def _parse_header_line(self) -> bool:
        trailers = self._state is _State.TRAILERS
        line = self._read_line("HTTP trailer line" if trailers else "HTTP header line")
        if line is None:
            return False
        if not line:
            if trailers:
                self._finish()
            else:
                self._end_of_headers()
            return True
        # RFC 7230 section 3.2.4: obsolete line folding is rejected.
        if line[0] in _OWS:
            raise InvalidMessage(
                f"obsolete line folding or leading whitespace in header line: {line!r}"
            )
        if self._header_count >= self.max_headers:
            raise SecurityError(
                f"more than max_headers={self.max_headers} header lines; "
                "raise max_headers if the server legitimately sends that many"
            )
        raw_name, colon, raw_value = line.partition(b":")
        if not colon:
            raise InvalidMessage(f"header line without a colon: {line!r}")
        # RFC 7230 section 3.2.4: no whitespace between field-name and colon.
        if _TOKEN_RE.fullmatch(raw_name) is None:
            raise InvalidMessage(f"invalid HTTP header name: {raw_name!r}")
        # RFC 7230 section 3.2: header-field = field-name ":" OWS field-value OWS.
        raw_value = raw_value.strip(_OWS)
        if _VALUE_RE.fullmatch(raw_value) is None:
            raise InvalidMessage(f"invalid value for header {raw_name.decode()}")
        self._header_count += 1
        if not trailers:
            # Trailers cannot change the handshake's outcome and are dropped.
            self._headers[raw_name.decode("ascii")] = raw_value.decode("iso-8859-1")
        return True

    def _end_of_headers(self) -> None:
        # RFC 7230 section 3.3.3 decides where the body ends.
        status_code, headers = self._status_code, self._headers
        if status_code == 101:
            # RFC 7230 section 6.7: after a 101 the connection speaks the new
            # protocol; nothing more belongs to HTTP.
            self._finish()
            return
        if 100 <= status_code < 200:
            # RFC 7231 section 6.2: a client MUST be able to parse interim
            # responses it does not expect, and may ignore them.
            self._interim += 1
            if self._interim > self.max_interim:
                raise SecurityError(
                    f"more than max_interim={self.max_interim} interim responses"
                )
            self._state = _State.STATUS_LINE
            return
        if status_code == 204 or status_code == 304:
            # RFC 7230 section 3.3.3, rule 1: no body.
            self._finish()
            return
        transfer_encoding = headers.get_all("Transfer-Encoding")
        content_length = headers.get_all("Content-Length")
        if transfer_encoding:
            if content_length:
                raise InvalidMessage(
                    "response has both Transfer-Encoding and Content-Length, "
                    "which RFC 7230 section 3.3.3 treats as a smuggling attempt"
                )
            codings = [
                coding.partition(";")[0].strip(" \t").lower()
                for value in transfer_encoding
                for coding in value.split(",")
            ]
            codings = [coding for coding in codings if coding]
            if codings == ["chunked"]:
                self._state = _State.CHUNK_SIZE
            elif "chunked" in codings:
                raise InvalidMessage(
                    f"unsupported transfer codings: {', '.join(codings)}; "
                    "only chunked alone is supported"
                )
            else:
                # RFC 7230 section 3.3.3, rule 3: without a final chunked coding,
                # the body runs until the connection closes.
                self._state = _State.BODY_EOF
        elif content_length:
            self._remaining = self._parse_content_length(content_length)
            self._state = _State.BODY_LENGTH
        else:
            # RFC 7230 section 3.3.3, rule 7.
            self._state = _State.BODY_EOF

    def _parse_content_length(self, values: list[str]) -> int:
        # RFC 7230 section 3.3.2: repeated identical values may be merged; any
        # other disagreement is an error.
        lengths = {item.strip(" \t") for value in values for item in value.split(",")}
        if len(lengths) != 1:
            raise InvalidMessage(f"conflicting Content-Length: {', '.join(values)}")
        raw_length = lengths.pop()
        if not raw_length.isascii() or not raw_length.isdigit():
            raise InvalidMessage(f"invalid Content-Length: {raw_length!r}")
        digits = raw_length.lstrip("0")
        if len(digits) > _MAX_DIGITS or int(digits or "0") > self.max_body:
            raise SecurityError(
                f"body of {raw_length} bytes exceeds max_body={self.max_body}"
            )
        return int(digits or "0")

    def _parse_body_length(self) -> bool:
        if len(self._buffer) < self._remaining:
            return False
        self._body += self._buffer[: self._remaining]
        del self._buffer[: self._remaining]
        self._finish()
        return True

    def _parse_chunk_size(self) -> bool:
        line = self._read_line("chunk size line")
        if line is None:
            return False
        match = _CHUNK_SIZE_RE.fullmatch(line)
        if match is None:
            raise InvalidMessage(f"invalid chunk size line: {line!r}")
        raw_size = match.group(1).lstrip(b"0") or b"0"
        size = int(raw_size, 16) if len(raw_size) <= _MAX_DIGITS else self.max_body + 1
        if len(self._body) + size > self.max_body:
            raise SecurityError(
                f"chunked body exceeds max_body={self.max_body} bytes "
                f"(chunk of {match.group(1).decode()} bytes, hex, after "
                f"{len(self._body)} bytes)"
            )
        if size == 0:
            # RFC 7230 section 4.1: last-chunk, then the trailer part.
            self._header_count = 0
            self._state = _State.TRAILERS
        else:
            self._remaining = size
            self._state = _State.CHUNK_DATA
        return True

    def _parse_chunk_data(self) -> bool:
        if not self._buffer:
            return False
        data = self._buffer[: self._remaining]
        del self._buffer[: len(data)]
        self._body += data
        self._remaining -= len(data)
        if self._remaining == 0:
            self._state = _State.CHUNK_END
        return True

    def _parse_chunk_end(self) -> bool:
        # RFC 7230 section 4.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
        if len(self._buffer) < 2:
            return False
        if self._buffer[:2] != b"\r\n":
            raise InvalidMessage(
                f"chunk data isn't followed by CRLF: {bytes(self._buffer[:2])!r}"
            )
        del self._buffer[:2]
        self._state = _State.CHUNK_SIZE
        return True

    def _parse_body_eof(self) -> bool:
        if len(self._buffer) > self.max_body:
            raise SecurityError(
                f"body exceeds max_body={self.max_body} bytes; "
                "raise max_body if such responses are expected"
            )
        return False

    def _finish(self) -> None:
        if self._state is _State.BODY_EOF:
            self._body += self._buffer
            self._buffer.clear()
        self._response = Response(
            self._status_code, self._reason, self._headers, bytes(self._body)
        )
        self._state = _State.DONE
