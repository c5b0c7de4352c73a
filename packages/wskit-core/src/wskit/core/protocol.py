"""The sans-I/O client protocol: bytes in, events and bytes out (RFC 6455, RFC 7692).

The front ends own sockets, timers and tasks; this class owns every protocol duty:
the handshake, framing, UTF-8 and size checks, pong replies, the close handshake and
failing the connection with the right code. Keeping all of it here is what lets the
asyncio and threading clients behave identically.

Peer faults never raise out of :meth:`ClientProtocol.receive_data`: they fail the
connection (a close frame with 1002, 1007 or 1009 goes into the outbox) and show up
in :attr:`~ClientProtocol.close_code` and :meth:`~ClientProtocol.close_exc`. Caller
faults, such as sending after the close, raise at once.
"""

from __future__ import annotations

import codecs
import enum
import logging
from collections.abc import Sequence

from .events import BinaryData, Event, Ping, Pong, TextData
from .exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidMessage,
    InvalidState,
    PayloadTooBig,
    ProtocolError,
)
from .extensions.base import ClientExtensionFactory, Extension
from .extensions.permessage_deflate import PerMessageDeflate
from .frames import (
    Close,
    CloseCode,
    Frame,
    FrameParser,
    Opcode,
    is_ascii,
    serialize_frame,
    serialize_masked,
)
from .handshake import USER_AGENT, build_request, check_response, generate_key
from .headers import HeadersLike
from .http11 import Request, Response, ResponseParser
from .uri import WebSocketURI, parse_uri
from .whole_frames import frame_bounds, take_messages

__all__ = ["ClientProtocol", "State"]

# The default logger, looked up once: getLogger() takes a lock on every call.
_LOGGER = logging.getLogger("wskit.client")

# Close codes after which ConnectionClosedOK, rather than ...Error, is raised.
OK_CLOSE_CODES = frozenset({1000, 1001, 1005})

# Deflate adds at most 5 bytes per 16 KiB stored block plus a small header; a
# compressed frame longer than this bound cannot inflate to fewer than max_size bytes
# unless the peer pads it on purpose, so it is refused before it is buffered.
_DEFLATE_SLACK_DIVISOR = 3000
_DEFLATE_SLACK = 64

# The limit given to take_messages() when max_size is None: larger than any
# length that a frame header can encode and take_messages() accepts.
_NO_LIMIT = 2**63
# What receive_data() leaves to the general parser, from this size on, is fed
# header first: see there.
_HEADER_ALONE_MIN = 4096

# What take_messages() returns when it takes nothing; callers only read it.
_NO_MESSAGES: list[str | bytes] = []

# The close frame that close() sends by default.
_NORMAL_CLOSE = Close(CloseCode.NORMAL_CLOSURE, "")
_NORMAL_CLOSE_PAYLOAD = _NORMAL_CLOSE.serialize()


class State(enum.IntEnum):
    """Connection states (RFC 6455 section 4 and 7); compare members with ``is``."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


def _new_utf8_decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="strict")


class ClientProtocol:
    """A WebSocket client connection, without I/O.

    Args:
        uri: The ``ws://`` or ``wss://`` URI to connect to.
        origin: The ``Origin`` header to send, if any.
        extensions: Extension factories to offer, in order of preference.
        subprotocols: Subprotocols to offer, in order of preference.
        state: The initial state; ``State.OPEN`` skips the handshake, e.g. in tests
            or when the handshake went through another channel.
        max_size: The largest message accepted, after decompression; ``None``
            removes the limit, which exposes the application to memory exhaustion.
        max_line: The longest line accepted in the handshake response.
        max_headers: The most headers accepted in the handshake response.
        max_body: The largest body accepted in a non-101 handshake response.
        logger: Where to log; defaults to the ``wskit.client`` logger.
        defer_failures: When a peer fault follows complete messages in the same
            received data, hold the failure until :meth:`fail_pending`, so that
            the application can read, and answer, the messages that came before
            the fault. A front end that sets this must call :meth:`fail_pending`
            once the application had its turn, or the connection never fails.

    Raises:
        InvalidURI: ``uri`` is not a valid WebSocket URI.
    """

    # Slots: with more than 30 attributes, an instance __dict__ no longer shares
    # its keys with the class's other instances and costs 1.6 KB per connection.
    __slots__ = (
        "_decoder_instance",
        "_discarding",
        "_events",
        "_frames",
        "_in_compressed",
        "_in_opcode",
        "_in_size",
        "_out_fragmented",
        "_output",
        "_partial_decoded",
        "_partial_done",
        "_partial_text",
        "_pending_failure",
        "_response_parser",
        "available_extensions",
        "available_subprotocols",
        "close_rcvd",
        "close_rcvd_then_sent",
        "close_sent",
        "debug",
        "defer_failures",
        "eof_rcvd",
        "eof_sent",
        "extensions",
        "failure",
        "handshake_exc",
        "key",
        "logger",
        "max_size",
        "origin",
        "request",
        "response",
        "state",
        "subprotocol",
        "wsuri",
    )

    def __init__(
        self,
        uri: str | WebSocketURI,
        *,
        origin: str | None = None,
        extensions: Sequence[ClientExtensionFactory] | None = None,
        subprotocols: Sequence[str] | None = None,
        state: State = State.CONNECTING,
        max_size: int | None = 2**20,
        max_line: int = 8192,
        max_headers: int = 128,
        max_body: int = 2**20,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
        defer_failures: bool = False,
    ) -> None:
        self.wsuri = parse_uri(uri) if isinstance(uri, str) else uri
        self.origin = origin
        self.available_extensions: list[ClientExtensionFactory] = list(extensions or ())
        self.available_subprotocols: list[str] | None = (
            None if subprotocols is None else list(subprotocols)
        )
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be None or >= 0, got {max_size}")
        self.max_size = max_size
        self.logger = logger if logger is not None else _LOGGER
        # Checked once: per-frame logging must cost nothing when it is off.
        self.debug = self.logger.isEnabledFor(logging.DEBUG)

        self.key = generate_key()
        self.state = state
        #: The handshake request, once :meth:`send_request` has been called.
        self.request: Request | None = None
        #: The handshake response, once received.
        self.response: Response | None = None
        #: Why the handshake failed, if it did.
        self.handshake_exc: InvalidHandshake | None = None
        #: Extensions and subprotocol accepted by the server.
        self.extensions: list[Extension] = []
        self.subprotocol: str | None = None

        self.close_rcvd: Close | None = None
        self.close_sent: Close | None = None
        self.close_rcvd_then_sent: bool | None = None
        self.eof_sent = False
        self.eof_rcvd = False
        #: Set when the connection failed because of the peer or a local limit.
        self.failure: Exception | None = None
        self.defer_failures = defer_failures
        self._pending_failure: tuple[int, Exception, str | None] | None = None

        self._response_parser: ResponseParser | None = (
            ResponseParser(
                max_line=max_line, max_headers=max_headers, max_body=max_body
            )
            if state is State.CONNECTING
            else None
        )
        self._frames = FrameParser()
        # Once the close frame is received or the connection failed, incoming
        # bytes are dropped (RFC 6455 section 5.5.1 and 7.1.7).
        self._discarding = False

        # Incoming message in progress: its opcode (None between messages), its
        # size after decompression, whether it is compressed, and for text the
        # incremental decoder plus what a partial frame already decoded.
        self._in_opcode: Opcode | None = None
        self._in_size = 0
        self._in_compressed = False
        # Created on first use: most connections never need one.
        self._decoder_instance: codecs.IncrementalDecoder | None = None
        self._partial_done = 0
        # Of those, how many were decoded into _partial_text: ASCII is validated
        # without decoding, and decoded with the rest once the frame is complete,
        # so a large ASCII text frame is not decoded in pieces and joined.
        self._partial_decoded = 0
        self._partial_text: list[str] = []

        # Outgoing fragmented message in progress.
        self._out_fragmented = False

        self._events: list[Event] = []
        self._output: list[bytes] = []

    # Handshake.

    def connect(
        self,
        *,
        additional_headers: HeadersLike | None = None,
        user_agent_header: str | None = USER_AGENT,
    ) -> Request:
        """Build the handshake request; the caller may still edit it before sending.

        Args:
            additional_headers: Headers to add; ``Host``, ``Origin``,
                ``Authorization`` or ``User-Agent`` given here replace the
                generated ones rather than being sent twice.
            user_agent_header: The ``User-Agent`` value; ``None`` sends none.

        Raises:
            UnsafeHeader: A header could smuggle other headers into the request.
            ValueError: A header belongs to the handshake itself, such as
                ``Sec-WebSocket-Key``; use the matching option instead.
        """
        return build_request(
            self.wsuri,
            key=self.key,
            origin=self.origin,
            subprotocols=self.available_subprotocols,
            extensions=self.available_extensions,
            additional_headers=additional_headers,
            user_agent_header=user_agent_header,
        )

    def send_request(self, request: Request) -> None:
        """Queue the handshake request.

        Raises:
            InvalidState: The handshake was already sent or the connection is open.
            UnsafeHeader: A header would smuggle other headers into the request.
        """
        if self.state is not State.CONNECTING or self.request is not None:
            raise InvalidState(
                f"cannot send the handshake request: connection is {self._state_name()}"
                if self.request is None
                else "cannot send the handshake request twice"
            )
        # Serializing checks every header again: the caller may have edited them.
        data = request.serialize()
        self.request = request
        if self.debug:
            self.logger.debug("> GET %s HTTP/1.1", request.path)
        self._output.append(data)

    # Receiving.

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes received from the network; never raises because of the peer.

        Nothing keeps a reference to ``data``: it may be a view of a read buffer
        that is reused as soon as this returns.

        Raises:
            InvalidState: :meth:`receive_eof` was already called.
        """
        if self.eof_rcvd:
            raise InvalidState("cannot receive data after the end of the stream")
        if self._discarding:
            return
        if self._response_parser is not None:
            self._receive_handshake(data)
            return
        missing = self._frames.missing()
        if 0 < missing < len(data):
            # The read ends a frame and brings more: end the frame alone, so that
            # what follows can take the fast paths below rather than go through
            # the parser's buffer (a stream of large messages seldom has reads
            # that start on a frame boundary).
            view = data if type(data) is memoryview else memoryview(data)
            if not self._feed(view[:missing]):
                return
            data = view[missing:]
        if (
            self._in_opcode is None
            and not self.extensions
            and not self.debug
            and self._frames.idle()
        ):
            data = self._receive_whole_frames(data)
            if not data:
                return
        elif (
            self._in_opcode is None
            and not self.debug
            and len(self.extensions) == 1
            and type(self.extensions[0]) is PerMessageDeflate
            and self._frames.idle()
        ):
            data = self._receive_whole_deflated_frames(data, self.extensions[0])
            if not data:
                return
        if len(data) >= _HEADER_ALONE_MIN and self._frames.idle():
            # A frame starts here and does not end in this read, or the fast
            # paths above would have taken it: feed its header alone first, so
            # that a large payload goes straight into the buffer it is collected
            # in, rather than into the parse buffer and then there.
            second = data[1]
            size = 2 if second & 0x7F < 126 else 4 if second & 0x7F == 126 else 10
            view = data if type(data) is memoryview else memoryview(data)
            if not self._feed(view[:size]):
                return
            data = view[size:]
        self._frames.feed(data)
        self._parse_frames()

    def receive_buffer(self) -> memoryview | None:
        """A buffer to read the next bytes into, when a large frame is arriving.

        It is the rest of that frame's payload, so that reading into it (with
        ``recv_into`` or :meth:`asyncio.BufferedProtocol.get_buffer`) skips the
        copy from a read buffer: with the C extension, a binary message is then
        the very ``bytes`` object the payload was read into. After writing into
        it, call :meth:`received_into` before any other method.

        Returns:
            A writable view of exactly the bytes still missing from the frame, or
            ``None``: read into a buffer of your own and call
            :meth:`receive_data`.
        """
        if self._discarding or self.eof_rcvd or self._response_parser is not None:
            return None
        return self._frames.payload_buffer()

    def received_into(self, size: int) -> None:
        """Record that ``size`` bytes were read into :meth:`receive_buffer`.

        Never raises because of the peer, as :meth:`receive_data`.

        Raises:
            ValueError: :meth:`receive_buffer` did not lend a buffer, or
                ``size`` is not between 1 and its length.
        """
        self._frames.payload_filled(size)
        if not self._discarding:
            self._parse_frames()

    def _feed(self, data: memoryview) -> bool:
        """Feed and parse part of a read; whether the rest should follow."""
        self._frames.feed(data)
        self._parse_frames()
        return not self._discarding

    def _receive_whole_deflated_frames(
        self, data: bytes | bytearray | memoryview, deflate: PerMessageDeflate
    ) -> bytes | bytearray | memoryview:
        """:meth:`_receive_whole_frames` with permessage-deflate negotiated.

        Takes the complete, unfragmented messages at the start of ``data``,
        compressed (RSV1 set) or not, and returns what is left for the general
        parser. Every check of the general path holds: anything unusual stops here
        before the decompressor sees it. Only a fault found while inflating (bad
        deflate data, a message over ``max_size``, bad UTF-8) fails the connection
        here, as :meth:`_parse_frames` would, since the decompressor has consumed
        the frame by then.
        """
        events = self._events
        max_size = self.max_size
        if max_size is None:
            limit = compressed_limit = 2**63
        else:
            limit = max_size
            compressed_limit = (
                max_size + max_size // _DEFLATE_SLACK_DIVISOR + _DEFLATE_SLACK
            )
        pos = 0
        while (bounds := frame_bounds(data, pos)) is not None:
            head, start, end = bounds
            length = end - start
            if head == 0xC1 or head == 0xC2:
                if length > compressed_limit:
                    break
                try:
                    payload = deflate.decode_payload(
                        bytes(data[start:end]), True, max_size
                    )
                    if head == 0xC1:
                        events.append(TextData(str(payload, "utf-8")))
                    else:
                        events.append(BinaryData(payload))
                except ProtocolError as exc:
                    self._fail_on_error(CloseCode.PROTOCOL_ERROR, exc)
                    return b""
                except UnicodeDecodeError as exc:
                    self._fail_on_error(
                        CloseCode.INVALID_DATA, exc, "invalid UTF-8 data"
                    )
                    return b""
                except PayloadTooBig:
                    assert max_size is not None
                    self._fail_on_error(
                        CloseCode.MESSAGE_TOO_BIG, PayloadTooBig(None, max_size)
                    )
                    return b""
            elif length > limit:
                break
            elif head == 0x82:
                events.append(BinaryData(bytes(data[start:end])))
            elif head == 0x81:
                try:
                    text = str(data[start:end], "utf-8")
                except UnicodeDecodeError:
                    break
                events.append(TextData(text))
            else:
                break
            pos = end
        return data[pos:] if pos else data

    def _receive_whole_frames(
        self, data: bytes | bytearray | memoryview
    ) -> bytes | bytearray | memoryview:
        """Queue events for the whole single-frame messages at the start of ``data``
        and return what is left for the general parser.

        Most reads hold whole small messages; taking them straight from the read
        skips the parser's buffer, a :class:`Frame` and two calls per message.
        """
        limit = self.max_size if self.max_size is not None else _NO_LIMIT
        messages, taken = take_messages(data, limit)
        if taken:
            append = self._events.append
            for message in messages:
                if type(message) is str:
                    append(TextData(message))
                else:
                    append(BinaryData(message))  # type: ignore[arg-type]
            return data[taken:]
        return data

    def take_messages(
        self, data: bytes | bytearray | memoryview
    ) -> tuple[list[str | bytes], bytes | bytearray | memoryview]:
        """Take the whole single-frame messages at the start of a read.

        The fast way in for an I/O layer that queues messages itself: text comes
        as ``str`` and binary as ``bytes``, without an event per message. The rest
        of ``data`` (control frames, fragments, anything unusual, an incomplete
        frame) is returned untouched: feed it to :meth:`receive_data` next, and
        handle the messages returned here before the events that it produces.
        When events are still waiting in :meth:`events_received`, or the
        connection is not in a state for it, nothing is taken.

        Returns:
            The messages, and the bytes of ``data`` left for :meth:`receive_data`.
        """
        if (
            self._in_opcode is None
            and not self._events
            and not self.extensions
            and not self.debug
            and not self.eof_rcvd
            and not self._discarding
            and self._response_parser is None
            and self._frames.idle()
        ):
            limit = self.max_size if self.max_size is not None else _NO_LIMIT
            messages, taken = take_messages(data, limit)
            if taken == len(data):
                return messages, b""
            if taken:
                return messages, data[taken:]
        return _NO_MESSAGES, data

    def receive_eof(self) -> None:
        """Tell the protocol that the server closed its side of the TCP connection.

        Raises:
            InvalidState: :meth:`receive_eof` was already called.
        """
        if self.eof_rcvd:
            raise InvalidState("cannot receive the end of the stream twice")
        self.eof_rcvd = True
        self.fail_pending()
        if self._response_parser is not None and self.handshake_exc is None:
            parser = self._response_parser
            parser.feed_eof()
            try:
                response = parser.parse()
            except InvalidHandshake as exc:
                if isinstance(exc, InvalidMessage) and exc.__cause__ is None:
                    # Lets reconnect policies tell a dropped connection, which is
                    # worth retrying, from a server speaking something else.
                    exc.__cause__ = EOFError("connection closed during the handshake")
                self.handshake_exc = exc
            else:
                if response is None:  # pragma: no cover - feed_eof finishes or raises
                    self.handshake_exc = InvalidMessage(
                        "connection closed while reading the HTTP response"
                    )
                else:
                    self._process_response(response, b"")
        if self.state is not State.CLOSED:
            if self.debug:
                self.logger.debug("< EOF")
            self.state = State.CLOSED
        if not self.eof_sent:
            self._send_eof()

    def events_received(self) -> list[Event]:
        """Drain the events received since the last call.

        The list returned belongs to the caller, except that an empty result may
        be shared: do not append to it.
        """
        events = self._events
        if events:
            self._events = []
        return events

    def data_to_send(self) -> list[bytes]:
        """Drain the bytes to write; ``b""`` means: half-close the TCP connection.

        The list returned belongs to the caller, except that an empty result may
        be shared: do not append to it.
        """
        output = self._output
        if output:
            self._output = []
        return output

    def close_expected(self) -> bool:
        """Whether the server should close TCP soon, so the caller arms a timer.

        After a close frame was sent, or the handshake failed, RFC 6455 section 7.1.1
        says the server closes the TCP connection first; a client that waits forever
        for that would hang on a misbehaving server.
        """
        return self.state is State.CLOSING or self.handshake_exc is not None

    def _receive_handshake(self, data: bytes | bytearray | memoryview) -> None:
        parser = self._response_parser
        assert parser is not None
        parser.feed(data)
        try:
            response = parser.parse()
        except InvalidHandshake as exc:
            self._fail_handshake(exc)
            return
        if response is not None:
            self._process_response(response, parser.remainder())

    def _process_response(self, response: Response, remainder: bytes) -> None:
        self._response_parser = None
        self.response = response
        if self.debug:
            self.logger.debug(
                "< HTTP/1.1 %d %s", response.status_code, response.reason_phrase
            )
        try:
            self.extensions, self.subprotocol = check_response(
                response,
                key=self.key,
                subprotocols=self.available_subprotocols,
                extensions=self.available_extensions,
            )
        except InvalidHandshake as exc:
            self._events.append(response)
            self._fail_handshake(exc)
            return
        self.state = State.OPEN
        self._events.append(response)
        if remainder and not self.eof_rcvd:
            self._frames.feed(remainder)
            self._parse_frames()

    def _fail_handshake(self, exc: InvalidHandshake) -> None:
        self.handshake_exc = exc
        self._response_parser = None
        self._discarding = True
        if self.debug:
            self.logger.debug("! handshake failed: %s", exc)
        if not self.eof_sent:
            self._send_eof()

    def _parse_frames(self) -> None:
        frames = self._frames
        max_size = self.max_size
        try:
            while True:
                if max_size is None:
                    frame = frames.parse(None, None)
                else:
                    left = max_size - self._in_size
                    frame = frames.parse(
                        left, left + left // _DEFLATE_SLACK_DIVISOR + _DEFLATE_SLACK
                    )
                if frame is None:
                    break
                self._receive_frame(frame)
                if self._discarding:
                    return
            if frames.buffered():
                self._check_partial_text()
        except ProtocolError as exc:
            self._fail_on_error(CloseCode.PROTOCOL_ERROR, exc)
        except UnicodeDecodeError as exc:
            # The decoder's message gives positions within the chunk it saw, which
            # depend on how the data arrived: send a reason that does not.
            self._fail_on_error(CloseCode.INVALID_DATA, exc, "invalid UTF-8 data")
        except PayloadTooBig as exc:
            if max_size is not None and exc.max_size != max_size:
                # The frame parser knows only the budget left in this message:
                # report the size of the message and the limit the caller set.
                size = exc.size
                if size is not None:
                    uncompressed = exc.max_size == max_size - self._in_size
                    size = self._in_size + size if uncompressed else None
                exc = PayloadTooBig(size, max_size)
            self._fail_on_error(CloseCode.MESSAGE_TOO_BIG, exc)

    def _receive_frame(self, frame: Frame) -> None:
        if self.debug:
            self.logger.debug("< %s", frame)
        opcode = frame.opcode
        # RFC 6455 section 5.2: RSV bits must be 0 unless an extension defines them;
        # RFC 7692 section 6 gives RSV1 to permessage-deflate, for data frames only.
        if (
            frame.rsv2
            or frame.rsv3
            or (frame.rsv1 and (not self.extensions or opcode.value >= 8))
        ):
            raise ProtocolError("reserved bits must be 0")
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            # Section 5.4: a new message may not start inside a fragmented one.
            if self._in_opcode is not None:
                raise ProtocolError("expected a continuation frame")
            self._in_opcode = opcode
            self._in_compressed = frame.rsv1
            self._receive_data_frame(frame)
        elif opcode is Opcode.CONT:
            if self._in_opcode is None:
                raise ProtocolError("unexpected continuation frame")
            self._receive_data_frame(frame)
        elif opcode is Opcode.PING:
            self._events.append(Ping(frame.data))
            # Section 5.5.2: answer with a pong carrying the same data.
            if self.state is State.OPEN:
                self._send_frame(Opcode.PONG, frame.data)
        elif opcode is Opcode.PONG:
            self._events.append(Pong(frame.data))
        else:
            self._receive_close(frame)

    def _receive_data_frame(self, frame: Frame) -> None:
        if frame.rsv1 or self._in_compressed:
            left = None if self.max_size is None else self.max_size - self._in_size
            try:
                for extension in reversed(self.extensions):
                    frame = extension.decode(frame, max_size=left)
            except PayloadTooBig:
                # The extension only knows the budget left; report the real limit.
                assert self.max_size is not None
                raise PayloadTooBig(None, self.max_size) from None
        data = frame.data
        self._in_size += len(data)
        if self.max_size is not None and self._in_size > self.max_size:
            raise PayloadTooBig(self._in_size, self.max_size)
        final = frame.fin
        if self._in_opcode is Opcode.TEXT:
            if self._partial_done:
                parts = self._partial_text
                rest = data[self._partial_decoded :] if self._partial_decoded else data
                parts.append(self._decoder.decode(rest, final))
                text = "".join(parts)
                self._partial_done = 0
                self._partial_decoded = 0
                self._partial_text = []
            else:
                if frame.opcode is Opcode.TEXT:
                    self._decoder.reset()
                text = self._decoder.decode(data, final)
            self._events.append(TextData(text, final))
        else:
            self._events.append(BinaryData(data, final))
        if final:
            self._in_opcode = None
            self._in_size = 0
            self._in_compressed = False

    @property
    def _decoder(self) -> codecs.IncrementalDecoder:
        decoder = self._decoder_instance
        if decoder is None:
            decoder = self._decoder_instance = _new_utf8_decoder()
        return decoder

    def _check_partial_text(self) -> None:
        """Validate the UTF-8 of a text frame that has not fully arrived yet.

        RFC 6455 section 8.1 asks to fail the connection as soon as invalid UTF-8
        is seen, so a peer cannot make us buffer a large frame that is known bad.
        """
        header = self._frames.partial_header()
        if header is None:
            return
        opcode, rsv = header
        # A frame with any RSV bit set is either compressed or refused once
        # complete (see _receive_frame); validating it here would report 1007 or
        # 1002 depending on how the bytes arrived (found by fuzz_frames.py).
        if rsv:
            return
        if opcode == Opcode.TEXT and self._in_opcode is None:
            # A new uncompressed message: _in_compressed still describes the
            # previous one, so it does not count here.
            if not self._partial_done:
                self._decoder.reset()
        elif not (
            opcode == Opcode.CONT
            and self._in_opcode is Opcode.TEXT
            and not self._in_compressed
        ):
            return
        partial = self._frames.partial_payload(self._partial_done)
        assert partial is not None
        chunk = partial[2]
        if chunk:
            decoder = self._decoder
            if is_ascii(chunk) and not decoder.getstate()[0]:
                # Valid whatever follows, as no sequence is left open: decoded
                # with the rest of the frame once it is complete.
                self._partial_done += len(chunk)
                return
            if self._partial_decoded < self._partial_done:
                # The ASCII validated so far must come first.
                partial = self._frames.partial_payload(self._partial_decoded)
                assert partial is not None
                chunk = partial[2]
            self._partial_text.append(decoder.decode(chunk, False))
            self._partial_decoded += len(chunk)
            self._partial_done = self._partial_decoded

    def _receive_close(self, frame: Frame) -> None:
        # Section 5.5.1: the close payload is a code and a UTF-8 reason.
        close = Close.parse(frame.data)
        self.close_rcvd = close
        self._events.append(close)
        if self.state is State.OPEN:
            # Section 5.5.1: echo the close frame, then wait for the server to
            # close the TCP connection (section 7.1.1).
            self.close_sent = close
            self.close_rcvd_then_sent = True
            self._send_frame(Opcode.CLOSE, frame.data)
            self.state = State.CLOSING
        elif self.close_sent is not None and self.close_rcvd_then_sent is None:
            self.close_rcvd_then_sent = False
        self._discarding = True

    # Sending.

    def send_text(self, data: str | bytes, fin: bool = True) -> None:
        """Send a text frame; bytes are sent as they are and must be valid UTF-8.

        Args:
            data: The text, or its UTF-8 encoding.
            fin: ``False`` starts a fragmented message that
                :meth:`send_continuation` continues.

        Raises:
            InvalidState: The connection is not open or a fragmented message is
                in progress.
        """
        if self.state is not State.OPEN or self._out_fragmented:
            self._check_new_message()
        self._out_fragmented = not fin
        if self.extensions or self.debug:
            if isinstance(data, str):
                data = data.encode()
            self._send_data(Opcode.TEXT, data, fin)
        else:
            if isinstance(data, str) and not data.isascii():
                data = data.encode()
            # ASCII text is masked straight from the str, without encoding it.
            self._output.append(serialize_masked(0x81 if fin else 0x01, data))

    def send_binary(
        self, data: bytes | bytearray | memoryview, fin: bool = True
    ) -> None:
        """Send a binary frame; see :meth:`send_text` for ``fin``.

        Raises:
            InvalidState: The connection is not open or a fragmented message is
                in progress.
        """
        if self.state is not State.OPEN or self._out_fragmented:
            self._check_new_message()
        self._out_fragmented = not fin
        if self.extensions or self.debug:
            self._send_data(Opcode.BINARY, data, fin)
        else:
            self._output.append(serialize_masked(0x82 if fin else 0x02, data))

    def send_continuation(
        self, data: bytes | bytearray | memoryview, fin: bool
    ) -> None:
        """Send the next frame of a fragmented message.

        Raises:
            InvalidState: The connection is not open or no fragmented message is
                in progress.
        """
        self._check_open("send a continuation frame")
        if not self._out_fragmented:
            raise InvalidState(
                "cannot send a continuation frame: no fragmented message in progress; "
                "start one with fin=False"
            )
        self._out_fragmented = not fin
        self._send_data(Opcode.CONT, data, fin)

    def send_ping(self, data: bytes = b"") -> None:
        """Send a ping; the server answers with a pong carrying the same data.

        Raises:
            InvalidState: The connection is not open.
            ValueError: ``data`` is longer than 125 bytes.
        """
        self._check_open("send a ping")
        self._send_control(Opcode.PING, data)

    def send_pong(self, data: bytes = b"") -> None:
        """Send an unsolicited pong, e.g. as a unidirectional heartbeat.

        Raises:
            InvalidState: The connection is not open.
            ValueError: ``data`` is longer than 125 bytes.
        """
        self._check_open("send a pong")
        self._send_control(Opcode.PONG, data)

    def send_close(self, code: int | None = None, reason: str = "") -> None:
        """Start the closing handshake.

        Args:
            code: The close code; ``None`` sends a close frame without a payload.
            reason: A short explanation, at most 123 bytes once encoded.

        Raises:
            InvalidState: The connection is not open.
            ValueError: The code may not be sent, or the reason is too long or
                given without a code.
        """
        if self.state is not State.OPEN:
            self._check_open("send a close frame")
        # The application closes first: a held peer fault no longer matters.
        self._pending_failure = None
        if code is CloseCode.NORMAL_CLOSURE and type(reason) is str and not reason:
            # What close() sends by default: Close is immutable, so share it.
            close, payload = _NORMAL_CLOSE, _NORMAL_CLOSE_PAYLOAD
        elif code is None:
            if reason:
                raise ValueError("cannot send a close reason without a close code")
            payload = b""
            close = Close(CloseCode.NO_STATUS_RCVD, "")
        else:
            close = Close(code, reason)
            try:
                payload = close.serialize()
            except ProtocolError as exc:
                raise ValueError(
                    f"cannot send close code {code}: use 1000-1003, 1007-1014 "
                    "or 3000-4999"
                ) from exc
            if len(payload) > 125:
                raise ValueError(
                    f"close reason is {len(payload) - 2} bytes in UTF-8; "
                    "the limit is 123 bytes"
                )
        self.close_sent = close
        self._send_frame(Opcode.CLOSE, payload)
        self.state = State.CLOSING

    def fail(self, code: int, reason: str = "") -> None:
        """Fail the connection (RFC 6455 section 7.1.7) and stop processing input.

        The front ends call this for local errors, e.g. 1011 when a keepalive ping
        got no pong. A close frame is sent if the connection is open, unless the
        code is 1006, which means that the connection is already gone.
        """
        if self.state is State.OPEN and code != CloseCode.ABNORMAL_CLOSURE:
            close = Close(code, reason)
            self.close_sent = close
            self._send_frame(Opcode.CLOSE, close.serialize())
            self.state = State.CLOSING
        elif self.state is State.CONNECTING and not self.eof_sent:
            self._send_eof()
            self.state = State.CLOSED
        self._discarding = True

    @property
    def failure_pending(self) -> bool:
        """Whether a peer fault waits for :meth:`fail_pending`."""
        return self._pending_failure is not None

    def fail_pending(self) -> bool:
        """Fail the connection for a peer fault held back by ``defer_failures``.

        Returns:
            Whether a failure was pending.
        """
        pending, self._pending_failure = self._pending_failure, None
        if pending is None:
            return False
        self._fail_now(*pending)
        return True

    # Reporting the closure.

    @property
    def close_code(self) -> int | None:
        """The close code received, 1006 without one, ``None`` until closed."""
        if self.state is not State.CLOSED:
            return None
        return (
            CloseCode.ABNORMAL_CLOSURE
            if self.close_rcvd is None
            else self.close_rcvd.code
        )

    @property
    def close_reason(self) -> str | None:
        """The close reason received, ``""`` without one, ``None`` until closed."""
        if self.state is not State.CLOSED:
            return None
        return "" if self.close_rcvd is None else self.close_rcvd.reason

    def close_exc(self) -> ConnectionClosed:
        """The exception to raise when the application uses a closed connection."""
        rcvd, sent = self.close_rcvd, self.close_sent
        exc_type: type[ConnectionClosed]
        if (
            rcvd is not None
            and sent is not None
            and rcvd.code in OK_CLOSE_CODES
            and sent.code in OK_CLOSE_CODES
        ):
            exc_type = ConnectionClosedOK
        else:
            exc_type = ConnectionClosedError
        exc = exc_type(rcvd, sent, self.close_rcvd_then_sent)
        exc.__cause__ = self.failure
        return exc

    # Internals.

    def _state_name(self) -> str:
        return self.state.name.lower()

    def _check_open(self, action: str) -> None:
        if self.state is not State.OPEN:
            raise InvalidState(f"cannot {action}: connection is {self._state_name()}")

    def _check_new_message(self) -> None:
        self._check_open("send a message")
        if self._out_fragmented:
            raise InvalidState(
                "cannot start a new message: a fragmented message is in progress; "
                "finish it with send_continuation(..., fin=True)"
            )

    def _send_data(
        self, opcode: Opcode, data: bytes | bytearray | memoryview, fin: bool
    ) -> None:
        if self.extensions:
            extensions = self.extensions
            if (
                len(extensions) == 1
                and type(extensions[0]) is PerMessageDeflate
                and not self.debug
            ):
                # The common case, without Frame objects: compress, then mask.
                payload, rsv1 = extensions[0].encode_payload(opcode, data, fin)
                self._output.append(
                    serialize_masked(
                        opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0),
                        payload,
                    )
                )
                return
            frame = Frame(opcode, data, fin)  # type: ignore[arg-type]
            for extension in self.extensions:
                frame = extension.encode(frame)
            if self.debug:
                self.logger.debug("> %s", frame)
            self._output += serialize_frame(
                frame.opcode, frame.data, fin=frame.fin, rsv1=frame.rsv1
            )
            return
        if self.debug:
            self.logger.debug("> %s", Frame(opcode, bytes(data), fin))
        self._output += serialize_frame(opcode, data, fin=fin)

    def _send_control(self, opcode: Opcode, data: bytes) -> None:
        # Section 5.5: control frames carry at most 125 bytes.
        if len(data) > 125:
            raise ValueError(
                f"{opcode.name.lower()} payload is {len(data)} bytes; the limit is 125"
            )
        self._send_frame(opcode, data)

    def _send_frame(self, opcode: Opcode, data: bytes) -> None:
        if self.debug:
            self.logger.debug("> %s", Frame(opcode, data))
        self._output += serialize_frame(opcode, data)

    def _send_eof(self) -> None:
        if self.debug:
            self.logger.debug("> EOF")
        self.eof_sent = True
        self._output.append(b"")

    def _fail_on_error(
        self, code: int, exc: Exception, reason: str | None = None
    ) -> None:
        if self.defer_failures and self.state is State.OPEN:
            for event in self._events:
                if isinstance(event, (TextData, BinaryData)) and event.final:
                    if self.debug:
                        self.logger.debug(
                            "! holding failure %d until read: %s", code, exc
                        )
                    self._pending_failure = (code, exc, reason)
                    self._discarding = True
                    return
        self._fail_now(code, exc, reason)

    def _fail_now(self, code: int, exc: Exception, reason: str | None) -> None:
        self.failure = exc
        if self.debug:
            self.logger.debug("! failing connection with code %d: %s", code, exc)
        if reason is None:
            reason = str(exc)
        # Keep the reason within the 123 bytes a close frame allows.
        encoded = reason.encode()
        if len(encoded) > 123:
            reason = encoded[:120].decode(errors="ignore") + "..."
        self.fail(code, reason)
