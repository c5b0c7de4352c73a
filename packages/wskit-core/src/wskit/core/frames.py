"""WebSocket frames: the wire format of RFC 6455 section 5.2, both directions.

The parser is incremental and keeps one buffer, so a 1 MiB frame arriving in 64 KiB
reads is copied into place once rather than re-concatenated per read. It checks what
can be checked from the bytes alone (reserved opcodes, masking, control-frame rules,
length encoding, length limits); rules that depend on the connection (RSV bits
versus negotiated extensions, continuation sequencing) belong to the protocol.
"""

from __future__ import annotations

import contextlib
import enum
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .exceptions import PayloadTooBig, ProtocolError
from .masking import IMPLEMENTATION, mask_frame

__all__ = [
    "CLOSE_CODE_EXPLANATIONS",
    "Close",
    "CloseCode",
    "Frame",
    "FrameParser",
    "is_ascii",
    "is_ascii_python",
    "Opcode",
    "serialize_frame",
    "serialize_masked",
]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 section 5.2); compare members with ``is``."""

    CONT = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


# Lookup by the 4-bit wire value; None marks the reserved opcodes 3-7 and 11-15.
_OPCODE_BY_VALUE: Final[tuple[Opcode | None, ...]] = tuple(
    Opcode(value) if value in Opcode._value2member_map_ else None for value in range(16)
)

DATA_OPCODES: Final = frozenset({Opcode.CONT, Opcode.TEXT, Opcode.BINARY})
CTRL_OPCODES: Final = frozenset({Opcode.CLOSE, Opcode.PING, Opcode.PONG})


class CloseCode(enum.IntEnum):
    """Close codes registered in RFC 6455 section 7.4.1 and by IANA."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    # 1004 is reserved.
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


CLOSE_CODE_EXPLANATIONS: Final[dict[int, str]] = {
    1000: "OK",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status received [internal]",
    1006: "connection closed abnormally [internal]",
    1007: "invalid frame payload data",
    1008: "policy violation",
    1009: "message too big",
    1010: "mandatory extension",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    1015: "TLS handshake failure [internal]",
}
"""Short explanations of the registered close codes, for error messages.

"[internal]" marks the codes that are only reported, never sent (RFC 6455 section
7.4.1).
"""

# RFC 6455 section 7.4.1 and 7.4.2: codes that may travel in a close frame. 1004 is
# reserved; 1005, 1006 and 1015 are for reporting only and must never be sent.
_SENDABLE_REGISTERED: Final = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)


def _close_code_allowed(code: int) -> bool:
    # Section 7.4.2: 3000-3999 are for libraries and frameworks, 4000-4999 private.
    return code in _SENDABLE_REGISTERED or 3000 <= code < 5000


@dataclass(frozen=True, slots=True)
class Close:
    """A close frame's payload: the code and the reason (RFC 6455 section 5.5.1).

    Also the event that :class:`~wskit.core.protocol.ClientProtocol` reports when the
    server's close frame arrives. ``code`` is 1005 when the frame had no payload.
    """

    code: int
    reason: str = ""

    def __str__(self) -> str:
        explanation = CLOSE_CODE_EXPLANATIONS.get(self.code)
        if explanation is None:
            if 3000 <= self.code < 4000:
                explanation = "registered"
            elif 4000 <= self.code < 5000:
                explanation = "private use"
            else:
                explanation = "unknown"
        result = f"{self.code} ({explanation})"
        if self.reason:
            result = f"{result} {self.reason}"
        return result

    @classmethod
    def parse(cls, data: bytes) -> Close:
        """Parse a close frame's payload.

        Raises:
            ProtocolError: The payload is one byte long or the code may not be
                sent on the wire.
            UnicodeDecodeError: The reason is not valid UTF-8.
        """
        if len(data) >= 2:
            (code,) = struct.unpack_from("!H", data)
            # The caller maps UnicodeDecodeError to close code 1007, like text.
            close = cls(code, data[2:].decode())
            close.check()
            return close
        if not data:
            return cls(CloseCode.NO_STATUS_RCVD, "")
        raise ProtocolError("close frame too short: 1 byte, expected 0 or at least 2")

    def serialize(self) -> bytes:
        """The payload for a close frame carrying this code and reason."""
        self.check()
        return struct.pack("!H", self.code) + self.reason.encode()

    def check(self) -> None:
        """Check that the code may be sent in a close frame.

        Raises:
            ProtocolError: The code is reserved, internal (1005, 1006, 1015) or
                outside the ranges that RFC 6455 section 7.4 allows.
        """
        if not _close_code_allowed(self.code):
            raise ProtocolError(f"invalid status code: {self.code}")


@dataclass(slots=True)
class Frame:
    """One frame, before masking or after unmasking.

    ``data`` is ``bytes`` for received frames; outgoing frames may carry any
    bytes-like object, which the serializer copies once while masking it.
    """

    opcode: Opcode
    data: bytes
    fin: bool = True
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False

    def __str__(self) -> str:
        kind = self.opcode.name
        size = len(self.data)
        more = "" if self.fin else " [continued]"
        return f"{kind} {size} bytes{more}"


# Random mask keys are cut from one larger block of os.urandom output: the same
# CSPRNG stream as one call per frame (RFC 6455 section 5.3 asks for unpredictable
# keys, not for a syscall each), at a fraction of the cost for small frames. The
# keys wait in a list because list.pop() is atomic: threads sending at once never
# get the same key, without a lock.
_KEYS_PER_BLOCK = 1024
_keys: list[bytes] = []


def _mask_key() -> bytes:
    try:
        return _keys.pop()
    except IndexError:
        block = os.urandom(4 * _KEYS_PER_BLOCK)
        _keys.extend([block[i : i + 4] for i in range(0, len(block), 4)])
        return _keys.pop()


def _drop_keys() -> None:
    # A forked child must not reuse the keys its parent will also use.
    _keys.clear()


if hasattr(os, "register_at_fork"):  # pragma: no branch
    os.register_at_fork(after_in_child=_drop_keys)


_pack_short = struct.Struct("!BB").pack
_pack_medium = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack


def serialize_frame(
    opcode: Opcode,
    data: bytes | bytearray | memoryview,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bool = True,
) -> list[bytes]:
    """Serialize a frame, masked with a fresh random key as a client must.

    Returns:
        The frame as a list of buffers to write in order (one buffer today; a
        list so that callers can extend their output without copying).
    """
    head = opcode | (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    if mask:
        return [mask_frame(head, data, _mask_key())]
    length = len(data)
    # RFC 6455 section 5.2: 7-bit, 16-bit or 64-bit payload length.
    if length < 126:
        header = _pack_short(head, length)
    elif length < 65536:
        header = _pack_medium(head, 126, length)
    else:
        header = _pack_long(head, 127, length)
    return [header + bytes(data)]


def serialize_masked(head: int, data: bytes | bytearray | memoryview | str) -> bytes:
    """The hot path of :func:`serialize_frame`: a masked frame from its first byte."""
    # _mask_key(), inlined: a call costs more than the masking of a small frame.
    try:
        key = _keys.pop()
    except IndexError:
        key = _mask_key()
    return mask_frame(head, data, key)


# Payloads at least this long that do not arrive in one read are collected in
# a buffer of their size, allocated once their header is parsed: each read is
# copied into place once (or read straight into it, see payload_buffer()), and
# the parse buffer never grows to the frame's size.
_COLLECT_MIN = 65536
# ... and at most this long: a larger frame, which only a max_size above it lets
# through, grows the parse buffer as it arrives instead of reserving its whole
# announced size up front.
_COLLECT_MAX = 2**26


def _payload_buffer_python(size: int) -> tuple[bytearray, memoryview]:
    buffer = bytearray(size)
    return buffer, memoryview(buffer)


def is_ascii_python(data: bytes | bytearray | memoryview) -> bool:
    """The pure-Python twin of :data:`is_ascii`."""
    return (data if type(data) is bytes else bytes(data)).isascii()


is_ascii: Callable[[bytes | bytearray | memoryview], bool]
"""Whether every byte of a payload in progress is ASCII (so valid UTF-8 whatever
follows), without copying it: the C version when it is built, else
:func:`is_ascii_python`."""

_payload_buffer: Callable[[int], tuple[bytes | bytearray, memoryview]]
if IMPLEMENTATION == "c":
    # The payload is read into the bytes object that becomes the message.
    from ._speedups import is_ascii
    from ._speedups import payload_buffer as _payload_buffer
else:
    is_ascii = is_ascii_python
    _payload_buffer = _payload_buffer_python


def _release(view: memoryview) -> None:
    """Release a view of a payload, so that nothing writes into the payload once
    it becomes an immutable message.

    A transport that still holds the buffer it read into while it reports the
    read (uvloop does, until its callback returns) keeps the view exported:
    then it is left to go away with the transport's reference, as the transport
    writes no more into it.
    """
    with contextlib.suppress(BufferError):
        view.release()


class FrameParser:
    """Incremental frame parser for frames sent by a server.

    Feed bytes with :meth:`feed`, then call :meth:`parse` until it returns ``None``.
    """

    __slots__ = (
        "_buf",
        "_have",
        "_head",
        "_length",
        "_lent",
        "_payload",
        "_pos",
        "_start",
        "_view",
    )

    def __init__(self) -> None:
        self._buf = bytearray()
        # Offset of the first unconsumed byte in _buf.
        self._pos = 0
        # Parsed header of the frame in progress: first byte, payload length and
        # the offset of the payload in _buf; _head is -1 when no header is pending.
        self._head = -1
        self._length = 0
        self._start = 0
        # A large payload in progress (see _COLLECT_MIN): the buffer it is
        # collected in, a writable view of it, how many bytes it holds, and the
        # slice lent by payload_buffer(); _payload is None otherwise. While
        # collecting, _buf holds only bytes that follow the payload.
        self._payload: bytes | bytearray | None = None
        self._view: memoryview | None = None
        self._have = 0
        self._lent: memoryview | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes; the parser keeps no reference to ``data``."""
        view = self._view
        if view is not None:
            have = self._have
            need = self._length - have
            if need:
                size = len(data)
                if size <= need:
                    view[have : have + size] = data
                    self._have = have + size
                    return
                data = memoryview(data)
                view[have:] = data[:need]
                self._have = have + need
                data = data[need:]
        buf = self._buf
        if self._pos and self._pos == len(buf):
            # Everything was consumed: restart at the beginning, cheaply.
            buf.clear()
            self._pos = 0
            if self._head >= 0:
                self._start = 0
        buf += data

    def payload_buffer(self) -> memoryview | None:
        """Where the rest of the large payload in progress may be written directly.

        Reading into it (``recv_into``) saves copying the payload from a read
        buffer. Then call :meth:`payload_filled` with how many bytes were
        written, before anything else.

        Returns:
            A writable view of exactly the missing bytes, or ``None`` when no
            large payload is in progress.
        """
        view = self._view
        if view is None or self._have == self._length:
            return None
        lent = self._lent = view[self._have :]
        return lent

    def payload_filled(self, size: int) -> None:
        """Record that ``size`` bytes were written into :meth:`payload_buffer`.

        Raises:
            ValueError: No buffer was lent, or ``size`` is not between 1 and its
                length.
        """
        lent = self._lent
        if lent is None or not 0 < size <= len(lent):
            lent_size = "none" if lent is None else f"{len(lent)} bytes"
            raise ValueError(
                f"{size} bytes written do not fit the buffer lent for the payload "
                f"({lent_size}); ask for the buffer (payload_buffer() or "
                "receive_buffer()) first and pass the number of bytes written into it"
            )
        self._lent = None
        _release(lent)
        self._have += size

    def missing(self) -> int:
        """How many more bytes complete the frame in progress.

        0 when no frame is in progress or its header is still incomplete.
        """
        if self._head < 0:
            return 0
        if self._view is not None:
            return self._length - self._have
        return self._start + self._length - len(self._buf)

    def buffered(self) -> int:
        """The number of bytes received and not yet parsed."""
        pending = len(self._buf) - self._pos
        if self._view is not None:
            pending += self._have
        return pending

    def idle(self) -> bool:
        """Whether no byte is pending: the next byte fed starts a new frame."""
        return self._head < 0 and self._pos == len(self._buf)

    def partial_header(self) -> tuple[int, int] | None:
        """``(opcode value, RSV bits)`` of a frame whose payload is still arriving.

        The RSV bits keep their place in the first byte: 0x40 is RSV1, 0x20 RSV2
        and 0x10 RSV3, so that 0 means none is set.

        Cheap: callers check this before asking :meth:`partial_payload` for bytes,
        so that a large binary frame arriving in many reads is never copied early.
        """
        if self._head < 0:
            return None
        return self._head & 0x0F, self._head & 0x70

    def partial_payload(self, skip: int) -> tuple[int, bool, bytes | memoryview] | None:
        """The frame whose header is parsed and whose payload is still arriving.

        This lets the protocol validate UTF-8 of a text frame before the frame is
        complete, so that invalid data fails fast (RFC 6455 section 8.1).

        Args:
            skip: How many payload bytes the caller already saw; they are not
                copied again, so that a large frame arriving in many reads costs
                linear time.

        Returns:
            ``(opcode value, rsv1, payload bytes after skip)``, or ``None``. The
            bytes of a large payload come as a read-only view of it, valid until
            the next call to another method.
        """
        head = self._head
        if head < 0:
            return None
        view = self._view
        if view is not None:
            # A view, not a copy: see is_ascii.
            return head & 0x0F, bool(head & 0x40), view[skip : self._have].toreadonly()
        end = min(len(self._buf), self._start + self._length)
        return (
            head & 0x0F,
            bool(head & 0x40),
            bytes(memoryview(self._buf)[self._start + skip : end]),
        )

    def parse(self, max_length: int | None, max_compressed: int | None) -> Frame | None:
        """Parse the next complete frame.

        Args:
            max_length: The largest payload accepted for an uncompressed frame.
            max_compressed: The largest payload accepted for a frame with RSV1 set.

        Returns:
            The frame, or ``None`` when more bytes are needed.

        Raises:
            ProtocolError: The frame breaks RFC 6455 section 5.
            PayloadTooBig: The payload is longer than the limit.
        """
        buf = self._buf
        if self._head < 0:
            pos = self._pos
            available = len(buf) - pos
            if available < 2:
                return None
            head = buf[pos]
            second = buf[pos + 1]
            length = second & 0x7F
            start = pos + 2
            if length == 126:
                if available < 4:
                    return None
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                start = pos + 4
                if length < 126:
                    raise ProtocolError("payload length not minimally encoded")
            elif length == 127:
                if available < 10:
                    return None
                (length,) = _unpack_long(buf, pos + 2)
                start = pos + 10
                # Section 5.2: the most significant bit must be 0.
                if length >> 63:
                    raise ProtocolError(
                        "payload length has its most significant bit set"
                    )
                if length < 65536:
                    raise ProtocolError("payload length not minimally encoded")
            self._check_header(head, second, length, max_length, max_compressed)
            self._head = head
            self._length = length
            self._start = start
        else:
            head = self._head
            length = self._length
            start = self._start
        view = self._view
        if view is not None:
            if self._have < length:
                return None
            payload = self._payload
            assert payload is not None
            if self._lent is not None:
                _release(self._lent)
                self._lent = None
            _release(view)
            self._view = self._payload = None
            self._have = 0
            data = payload if type(payload) is bytes else bytes(payload)
        else:
            end = start + length
            if len(buf) < end:
                if _COLLECT_MIN <= length <= _COLLECT_MAX:
                    # Move what arrived of the payload out of the buffer; the
                    # rest is collected by feed() or payload_filled().
                    self._payload, view = _payload_buffer(length)
                    have = len(buf) - start
                    if have:
                        view[:have] = memoryview(buf)[start:]
                    self._view = view
                    self._have = have
                    buf.clear()
                    self._pos = 0
                    self._start = 0
                return None
            # One copy through a temporary view: slicing the bytearray first would
            # copy twice, and large temporary copies cost page faults on every
            # frame.
            data = bytes(memoryview(buf)[start:end])
            if end == len(buf):
                buf.clear()
                self._pos = 0
            elif end > 65536:
                # Drop consumed bytes now and then; bytearray deletes at the front
                # in amortized constant time.
                del buf[:end]
                self._pos = 0
            else:
                self._pos = end
        self._head = -1
        opcode = _OPCODE_BY_VALUE[head & 0x0F]
        assert opcode is not None  # checked with the header
        return Frame(
            opcode,
            data,
            bool(head & 0x80),
            bool(head & 0x40),
            bool(head & 0x20),
            bool(head & 0x10),
        )

    @staticmethod
    def _check_header(
        head: int,
        second: int,
        length: int,
        max_length: int | None,
        max_compressed: int | None,
    ) -> None:
        opcode = _OPCODE_BY_VALUE[head & 0x0F]
        if opcode is None:
            raise ProtocolError(f"invalid opcode: {head & 0x0F:#x}")
        # Section 5.1: a client must close if it receives a masked frame.
        if second & 0x80:
            raise ProtocolError("incorrect masking: server frames must not be masked")
        if opcode in CTRL_OPCODES:
            # Section 5.5: control frames are short and never fragmented.
            if not head & 0x80:
                raise ProtocolError("fragmented control frame")
            if length > 125:
                raise ProtocolError("control frame too long")
            return
        limit = max_compressed if head & 0x40 else max_length
        if limit is not None and length > limit:
            raise PayloadTooBig(length, limit)


_unpack_long = struct.Struct("!Q").unpack_from
