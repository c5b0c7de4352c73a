"""The permessage-deflate extension (RFC 7692), client side.

The names follow the websockets library's ``websockets.extensions.permessage_deflate``
so that code written for it keeps working after an import change:
:class:`PerMessageDeflate` transforms frames, :class:`ClientPerMessageDeflateFactory`
negotiates it, and :func:`enable_client_permessage_deflate` is what
``compression="deflate"`` means in the front ends.

Two facts about zlib shape this module:

* Raw deflate streams (``wbits`` negative) have no header, so the window size is a
  promise between the peers, not something the decoder can read from the data.
* ``zlib.compressobj(wbits=-8)`` raises ``ValueError`` (zlib 1.2.9 and later refuse a
  256-byte window without the zlib wrapper). A negotiated
  ``client_max_window_bits=8`` is honoured anyway, with a 9-bit compressor whose
  matches never reach more than 250 bytes back (see ``_compressor_wbits``).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, Final

from wskit.core.exceptions import (
    DuplicateParameter,
    InvalidParameterName,
    InvalidParameterValue,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
)
from wskit.core.frames import Frame, Opcode

from .base import ClientExtensionFactory, Extension, ExtensionName, ExtensionParameter

__all__ = [
    "ClientPerMessageDeflateFactory",
    "PerMessageDeflate",
    "enable_client_permessage_deflate",
]

_NAME: Final = ExtensionName("permessage-deflate")

# RFC 7692 section 7.2.1: the four octets that end a sync flush (an empty stored
# block's LEN and NLEN); the sender removes them, the receiver appends them again.
_TAIL: Final = b"\x00\x00\xff\xff"

# What may follow a block with BFINAL set at the end of a message: nothing, or the
# empty stored block of RFC 7692 section 7.2.3.4, with or without its first byte.
_AFTER_BFINAL: Final = (b"", _TAIL, b"\x00" + _TAIL)

# Below this many bytes, appending _TAIL to the payload (a copy) and inflating once
# is faster than a second decompress() call; above it, the copy costs more.
_JOIN_LIMIT: Final = 2048

# RFC 7692 section 7.1.2: window bits are "a decimal integer value without leading
# zeroes between 8 and 15, inclusive". Matching the exact strings rejects "09",
# "+9", " 9" and non-ASCII digits, which int() would accept.
_WINDOW_BITS: Final[dict[str, int]] = {str(bits): bits for bits in range(8, 16)}

# What compression="deflate" uses (see enable_client_permessage_deflate and
# docs/howto/compression.rst for the measurements behind them): level 1 deflates
# about twice as fast as zlib's default 6 for 10 to 30% more bytes on text and JSON;
# memLevel 5 is both smaller and, with the 4 KiB windows servers often ask for,
# faster than zlib's 8.
DEFAULT_COMPRESS_SETTINGS: Final[dict[str, int]] = {"level": 1, "memLevel": 5}
# Below 64 bytes, the most that deflate can save is less than the TCP/IP headers of
# the packet that carries the message, and sending it as it is spares zlib on both
# sides.
DEFAULT_COMPRESS_THRESHOLD: Final = 64

_CONT: Final = Opcode.CONT
_TEXT: Final = Opcode.TEXT
_BINARY: Final = Opcode.BINARY
_SYNC_FLUSH: Final = zlib.Z_SYNC_FLUSH


def _compressor_wbits(window_bits: int) -> int:
    """The ``wbits`` for a compressor that must stay within ``window_bits``.

    zlib refuses a raw deflate stream with an 8-bit window, so 8 becomes 9. That
    still honours the 256-byte limit: zlib's deflate never emits a match distance
    above ``MAX_DIST = window size - MIN_LOOKAHEAD`` (MIN_LOOKAHEAD is 262, the
    longest match plus the shortest match plus one), which is 250 bytes for a
    512-byte window, within the 256 bytes that a peer with an 8-bit window keeps.
    The test suite checks this by inflating with an 8-bit window one output byte at
    a time, so that every distance must come from that window.
    """
    return -max(9, window_bits)


def _decompressor_wbits(window_bits: int) -> int:
    """The ``wbits`` for a decompressor of data sent within ``window_bits``.

    Inflating with a window larger than the sender's is always safe: the window
    only needs to cover the farthest distance the sender may use. 8 becomes 9 so
    that no zlib build's handling of the 256-byte raw window matters, at the cost
    of 256 more bytes.
    """
    return -max(9, window_bits)


class PerMessageDeflate:
    """The negotiated permessage-deflate extension: compresses and decompresses frames.

    The protocol hands every data frame of a compressed message to :meth:`decode`
    and every outgoing data frame to :meth:`encode`. Both keep one zlib stream per
    direction, reset after each message when context takeover is off, and created
    lazily so that an idle connection without context takeover holds no zlib
    memory.

    Args:
        remote_no_context_takeover: The server resets its compressor after each
            message (``server_no_context_takeover``), so the decompressor must too.
        local_no_context_takeover: Reset the compressor after each message
            (``client_no_context_takeover``).
        remote_max_window_bits: The server's LZ77 window, 8 to 15.
        local_max_window_bits: The client's LZ77 window, 8 to 15.
        compress_settings: Extra keyword arguments for :func:`zlib.compressobj`,
            such as ``level`` or ``memLevel``; not ``wbits``.
        compress_threshold: Unfragmented messages shorter than this many bytes
            are sent uncompressed (RFC 7692 section 6 lets a sender choose per
            message); 0 compresses every message.

    Raises:
        ValueError: A window size is outside 8 to 15, ``compress_settings``
            holds ``wbits``, or ``compress_threshold`` is negative.
    """

    name: ExtensionName = _NAME

    def __init__(
        self,
        remote_no_context_takeover: bool,
        local_no_context_takeover: bool,
        remote_max_window_bits: int,
        local_max_window_bits: int,
        compress_settings: dict[str, Any] | None = None,
        compress_threshold: int = 0,
    ) -> None:
        _check_window_bits("remote_max_window_bits", remote_max_window_bits)
        _check_threshold(compress_threshold)
        _check_window_bits("local_max_window_bits", local_max_window_bits)
        settings = {} if compress_settings is None else dict(compress_settings)
        _check_compress_settings(settings, "local_max_window_bits")
        self.remote_no_context_takeover = bool(remote_no_context_takeover)
        self.local_no_context_takeover = bool(local_no_context_takeover)
        self.remote_max_window_bits = remote_max_window_bits
        self.local_max_window_bits = local_max_window_bits
        self.compress_settings = settings
        self.compress_threshold = compress_threshold
        self._decoder_wbits = _decompressor_wbits(remote_max_window_bits)
        self._encoder_wbits = _compressor_wbits(local_max_window_bits)
        # One zlib stream per direction, None until a message needs it.
        self._decoder: zlib._Decompress | None = None
        self._encoder: zlib._Compress | None = None
        # True between the first and the last frame of a compressed message, so
        # that its continuation frames are decompressed too (RFC 7692 section 6.1:
        # only the first frame carries RSV1).
        self._decoding = False

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate("
            f"remote_no_context_takeover={self.remote_no_context_takeover}, "
            f"local_no_context_takeover={self.local_no_context_takeover}, "
            f"remote_max_window_bits={self.remote_max_window_bits}, "
            f"local_max_window_bits={self.local_max_window_bits})"
        )

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        """Decompress a frame of a compressed message; pass other frames through.

        Args:
            frame: A received frame.
            max_size: The most bytes this frame may decompress to, that is what is
                left of the message's size budget; ``None`` for no limit. zlib never
                produces more than ``max_size + 1`` bytes, so a small payload that
                inflates to gigabytes costs no more memory than the limit allows
                (twice the limit at the peak, as CPython joins zlib's output
                blocks, as it does for any large output).

        Returns:
            The frame with its payload decompressed and RSV1 cleared, or the frame
            itself when it is not part of a compressed message.

        Raises:
            ProtocolError: RSV1 is set on a continuation or control frame, or the
                payload is not valid deflate data.
            PayloadTooBig: The decompressed payload would exceed ``max_size``.
        """
        opcode = frame.opcode
        if opcode is _CONT:
            # RFC 7692 section 6.1: RSV1 marks the first frame of a compressed
            # message only; "An endpoint receiving such a frame MUST _Fail the
            # WebSocket Connection_".
            if frame.rsv1:
                raise ProtocolError(
                    "RSV1 set on a continuation frame: permessage-deflate allows it "
                    "only on the first frame of a message"
                )
            if not self._decoding:
                return frame
            fin = frame.fin
            if fin:
                self._decoding = False
        elif frame.rsv1:
            if opcode is not _TEXT and opcode is not _BINARY:
                # RFC 7692 section 6.1: control frames are never compressed.
                raise ProtocolError(
                    f"RSV1 set on a {opcode.name} frame: control frames are never "
                    "compressed"
                )
            fin = frame.fin
            self._decoding = not fin
        else:
            return frame

        out = self.decode_payload(frame.data, fin, max_size)
        return Frame(opcode, out, fin, False, frame.rsv2, frame.rsv3)

    def decode_payload(
        self, data: bytes, fin: bool, max_size: int | None = None
    ) -> bytes:
        """Inflate the payload of a frame of a compressed message.

        :meth:`decode` without :class:`Frame` objects, once it established that
        the frame belongs to a compressed message; the protocol calls it directly
        for a whole compressed message in one frame. ``max_size`` is as for
        :meth:`decode`.

        Raises:
            ProtocolError: The payload is not valid deflate data.
            PayloadTooBig: The decompressed payload would exceed ``max_size``.
        """
        decoder = self._decoder
        if decoder is None:
            decoder = self._decoder = zlib.decompressobj(wbits=self._decoder_wbits)
        # max_length 0 means "no limit" to zlib; one byte over the budget is enough
        # to know that the budget is exceeded.
        limit = 0 if max_size is None else max_size + 1
        try:
            if fin and len(data) < _JOIN_LIMIT:
                # RFC 7692 section 7.2.2: append 0x00 0x00 0xff 0xff to the tail
                # end of the payload of the message, then inflate.
                out = decoder.decompress(data + _TAIL, limit)
                if limit and len(out) == limit:
                    raise PayloadTooBig(None, limit - 1)
            else:
                out = decoder.decompress(data, limit)
                # Less output than max_length means that zlib consumed all input
                # (unconsumed_tail is empty) and holds no pending output.
                if limit and len(out) == limit:
                    raise PayloadTooBig(None, limit - 1)
                if fin:
                    # Section 7.2.2 again, without copying a large payload: the
                    # tail completes the empty stored block that the sender's
                    # flush began, and may release output held back until then.
                    more = decoder.decompress(_TAIL, limit and limit - len(out))
                    if more:
                        out += more
                        if limit and len(out) == limit:
                            raise PayloadTooBig(None, limit - 1)
        except zlib.error as exc:
            raise ProtocolError(
                f"decompression failed: {exc}; the server sent invalid deflate data"
            ) from exc

        if fin and (self.remote_no_context_takeover or decoder.eof):
            if decoder.eof and decoder.unused_data not in _AFTER_BFINAL:
                # RFC 7692 section 7.2.3.4 lets a sender end a message with a
                # BFINAL block, then the 0x00 of an empty block; anything else
                # after it belongs to no stream.
                raise ProtocolError(
                    "decompression failed: data after the end of the deflate stream"
                )
            # Section 7.1.1.1: without context takeover each message starts from an
            # empty window. After a BFINAL block the stream is over either way:
            # zlib cannot continue it, so the next message starts a new one (a
            # sender that ends its streams cannot refer to earlier messages).
            self._decoder = None
        return out

    def encode(self, frame: Frame) -> Frame:
        """Compress an outgoing data frame; pass control frames through.

        Every frame is flushed, so each one can be inflated as soon as it arrives.
        An unfragmented message shorter than ``compress_threshold`` bytes goes out
        as it is, without RSV1, which RFC 7692 section 6 allows: deflate cannot
        make it meaningfully smaller, and both sides skip zlib.

        Args:
            frame: A frame about to be sent.

        Returns:
            The frame with its payload compressed, and RSV1 set on the first frame
            of the message (RFC 7692 section 6.1); or the frame itself.
        """
        opcode = frame.opcode
        if opcode is not _TEXT and opcode is not _BINARY and opcode is not _CONT:
            # RFC 7692 section 6.1: control frames are never compressed.
            return frame
        data, rsv1 = self.encode_payload(opcode, frame.data, frame.fin)
        if data is frame.data:
            return frame
        # A compressed payload is always bytes.
        return Frame(opcode, data, frame.fin, rsv1, frame.rsv2, frame.rsv3)  # type: ignore[arg-type]

    def encode_payload(
        self, opcode: Opcode, data: bytes | bytearray | memoryview, fin: bool
    ) -> tuple[bytes | bytearray | memoryview, bool]:
        """:meth:`encode` for a data frame, without :class:`Frame` objects.

        The protocol calls this directly when permessage-deflate is the only
        extension, which saves two objects per message on the sending path.

        Args:
            opcode: TEXT, BINARY or CONT.
            data: The payload.
            fin: Whether this is the last frame of the message.

        Returns:
            The payload to send, which is ``data`` itself for a message sent
            uncompressed, and whether RSV1 must be set.
        """
        if opcode is not _CONT:
            if fin and len(data) < self.compress_threshold:
                # Nothing goes through the compressor, so its window (and the
                # peer's) stays as it was: no reset needed.
                return data, False
            rsv1 = True
        else:
            rsv1 = False
        encoder = self._encoder
        if encoder is None:
            encoder = self._encoder = self._new_encoder()
        # compress() must run even on an empty payload: zlib emits nothing for a
        # second Z_SYNC_FLUSH in a row, and the empty stored block is needed.
        out = encoder.compress(data)
        tail = encoder.flush(_SYNC_FLUSH)
        if fin:
            # RFC 7692 section 7.2.1: remove the 0x00 0x00 0xff 0xff at the tail
            # end. An empty message thus becomes the single byte 0x00 (section
            # 7.2.3.6). A view, so that only the join below copies.
            if self.local_no_context_takeover:
                # Section 7.1.1.2: a fresh window for every message.
                self._encoder = None
            if not out:
                return tail[:-4], rsv1
            return out + memoryview(tail)[:-4], rsv1
        return (out + tail if out else tail), rsv1

    def _new_encoder(self) -> zlib._Compress:
        return zlib.compressobj(wbits=self._encoder_wbits, **self.compress_settings)


def _check_window_bits(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 8 <= value <= 15:
        raise ValueError(f"{name} must be an integer between 8 and 15, got {value!r}")


def _check_threshold(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"compress_threshold must be an integer >= 0, got {value!r}")


def _check_compress_settings(settings: dict[str, Any], window_option: str) -> None:
    if "wbits" in settings:
        raise ValueError(
            f"compress_settings must not include wbits: set {window_option} instead"
        )
    if "zdict" in settings:
        raise ValueError(
            "compress_settings must not include zdict: the server cannot know the "
            "dictionary, so it could not decompress the messages"
        )


def _parse_response_params(
    params: Sequence[ExtensionParameter],
) -> tuple[bool, bool, int | None, int | None]:
    """Read the parameters of a permessage-deflate response, checking each one.

    Returns:
        ``server_no_context_takeover``, ``client_no_context_takeover``,
        ``server_max_window_bits`` and ``client_max_window_bits``, ``None`` for a
        window size that the response does not state.

    Raises:
        DuplicateParameter: A parameter appears twice (RFC 7692 section 7).
        InvalidParameterName: A parameter is not one of the four of section 7.1.
        InvalidParameterValue: A value is missing, present where none is allowed,
            or not a window size.
    """
    server_no_context_takeover = False
    client_no_context_takeover = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None
    for name, value in params:
        if name == "server_no_context_takeover":
            # Section 7.1.1.1: "This extension parameter has no value."
            if server_no_context_takeover:
                raise DuplicateParameter(name)
            if value is not None:
                raise InvalidParameterValue(name, value)
            server_no_context_takeover = True
        elif name == "client_no_context_takeover":
            # Section 7.1.1.2: "This extension parameter has no value."
            if client_no_context_takeover:
                raise DuplicateParameter(name)
            if value is not None:
                raise InvalidParameterValue(name, value)
            client_no_context_takeover = True
        elif name == "server_max_window_bits":
            # Section 7.1.2.1: a value between 8 and 15 is required.
            if server_max_window_bits is not None:
                raise DuplicateParameter(name)
            if value not in _WINDOW_BITS:
                raise InvalidParameterValue(name, value)
            server_max_window_bits = _WINDOW_BITS[value]
        elif name == "client_max_window_bits":
            # Section 7.1.2.2: only an offer may omit the value; a response must
            # state one.
            if client_max_window_bits is not None:
                raise DuplicateParameter(name)
            if value not in _WINDOW_BITS:
                raise InvalidParameterValue(name, value)
            client_max_window_bits = _WINDOW_BITS[value]
        else:
            # Section 7: "an extension parameter not defined for use in an
            # extension negotiation response" fails the connection.
            raise InvalidParameterName(name)
    return (
        server_no_context_takeover,
        client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    )


class ClientPerMessageDeflateFactory:
    """Offers permessage-deflate and checks the server's answer (RFC 7692 section 7.1).

    Args:
        server_no_context_takeover: Ask the server to reset its compressor after
            each message, which lets the client drop its decompressor between
            messages. The server must agree or decline the extension.
        client_no_context_takeover: Reset the client's compressor after each
            message, whatever the server answers; saves memory between messages at
            the cost of compression ratio.
        server_max_window_bits: Ask the server to use at most this LZ77 window,
            8 to 15, which bounds the decompressor's memory; ``None`` to let the
            server choose.
        client_max_window_bits: ``True`` (the default) tells the server that it may
            choose the client's window; an integer from 8 to 15 also caps it;
            ``None`` leaves the parameter out, so the client uses 15.
        compress_settings: Extra keyword arguments for :func:`zlib.compressobj`,
            e.g. ``{"level": 1, "memLevel": 5}``; not ``wbits`` (use
            ``client_max_window_bits``) nor ``zdict``.
        compress_threshold: Send unfragmented messages shorter than this many
            bytes uncompressed; 0 (the default here) compresses every message.

    Raises:
        ValueError: An argument is out of range or ``compress_settings`` is not
            accepted by :func:`zlib.compressobj`.
    """

    name: ExtensionName = _NAME

    def __init__(
        self,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | bool | None = True,
        compress_settings: dict[str, Any] | None = None,
        compress_threshold: int = 0,
    ) -> None:
        _check_threshold(compress_threshold)
        if server_max_window_bits is not None:
            _check_window_bits("server_max_window_bits", server_max_window_bits)
        if client_max_window_bits is not None and client_max_window_bits is not True:
            if client_max_window_bits is False:
                raise ValueError(
                    "client_max_window_bits must be True, None or an integer "
                    "between 8 and 15, got False; use None to leave it out"
                )
            _check_window_bits("client_max_window_bits", client_max_window_bits)
        settings = {} if compress_settings is None else dict(compress_settings)
        _check_compress_settings(settings, "client_max_window_bits")
        try:
            # Fail now rather than when the first message is sent.
            zlib.compressobj(wbits=-9, **settings)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"invalid compress_settings {settings!r}: {exc}; "
                "see zlib.compressobj for the accepted arguments"
            ) from exc
        self.server_no_context_takeover = bool(server_no_context_takeover)
        self.client_no_context_takeover = bool(client_no_context_takeover)
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.compress_settings = settings
        self.compress_threshold = compress_threshold

    def __repr__(self) -> str:
        threshold = self.compress_threshold
        return (
            f"ClientPerMessageDeflateFactory("
            f"server_no_context_takeover={self.server_no_context_takeover}, "
            f"client_no_context_takeover={self.client_no_context_takeover}, "
            f"server_max_window_bits={self.server_max_window_bits}, "
            f"client_max_window_bits={self.client_max_window_bits}, "
            f"compress_settings={self.compress_settings}"
            + (f", compress_threshold={threshold})" if threshold else ")")
        )

    def get_request_params(self) -> list[ExtensionParameter]:
        """The offer's parameters, in the order of RFC 7692 section 7.1.

        Returns:
            ``(name, value)`` pairs; ``value`` is ``None`` for a parameter without
            one.
        """
        params: list[ExtensionParameter] = []
        if self.server_no_context_takeover:
            params.append(("server_no_context_takeover", None))
        if self.client_no_context_takeover:
            params.append(("client_no_context_takeover", None))
        if self.server_max_window_bits is not None:
            params.append(("server_max_window_bits", str(self.server_max_window_bits)))
        if self.client_max_window_bits is True:
            # Section 7.1.2.2: without a value, the parameter only says that the
            # client accepts a client_max_window_bits in the response.
            params.append(("client_max_window_bits", None))
        elif self.client_max_window_bits is not None:
            params.append(("client_max_window_bits", str(self.client_max_window_bits)))
        return params

    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> PerMessageDeflate:
        """Check the server's response against the offer and build the extension.

        Args:
            params: The parameters of the server's ``permessage-deflate`` element.
            accepted_extensions: The extensions accepted before this one.

        Returns:
            The extension, configured with the parameters both sides agreed on.

        Raises:
            NegotiationError: The response is not a valid acceptance of the offer
                (RFC 7692 section 7.1); the subclasses name a bad parameter.
        """
        # RFC 7692 section 5: the server accepts at most one of the offers.
        if any(extension.name == _NAME for extension in accepted_extensions):
            raise NegotiationError(
                "the server accepted permessage-deflate twice; a response may "
                "accept only one permessage-deflate offer"
            )
        (
            server_no_context_takeover,
            client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        ) = _parse_response_params(params)

        # Section 7.1.1.1: a server accepts server_no_context_takeover by echoing
        # it; a server may also add it unasked.
        #   offer   response  result
        #   no      no        False
        #   no      yes       True
        #   yes     no        error
        #   yes     yes       True
        if self.server_no_context_takeover and not server_no_context_takeover:
            raise NegotiationError(
                "the server accepted permessage-deflate without "
                "server_no_context_takeover, which the offer requested; the server "
                "must echo it or decline the offer"
            )

        # Section 7.1.1.2: client_no_context_takeover in the offer is the client's
        # own choice and holds whatever the response says; in the response it is
        # binding.
        client_no_context_takeover = (
            client_no_context_takeover or self.client_no_context_takeover
        )

        # Section 7.1.2.1: a server accepts server_max_window_bits=N by echoing it
        # with a value of N or less; it may state one unasked.
        #   offer   response  result
        #   None    None      15
        #   None    M         M
        #   N       None      error
        #   N       M <= N    M
        #   N       M > N     error
        if self.server_max_window_bits is not None:
            if server_max_window_bits is None:
                raise NegotiationError(
                    "the server accepted permessage-deflate without "
                    "server_max_window_bits, which the offer requested "
                    f"(server_max_window_bits={self.server_max_window_bits}); the "
                    "server must echo it or decline the offer"
                )
            if server_max_window_bits > self.server_max_window_bits:
                raise NegotiationError(
                    f"the server answered server_max_window_bits="
                    f"{server_max_window_bits}, above the "
                    f"{self.server_max_window_bits} that the offer allowed"
                )

        # Section 7.1.2.2: the server may send client_max_window_bits only if the
        # offer had it, and never above the offered value.
        #   offer   response  result
        #   None    None      15
        #   None    M         error
        #   True    None      15
        #   True    M         M
        #   N       None      N (the offer's own limit)
        #   N       M <= N    M
        #   N       M > N     error
        offered = self.client_max_window_bits
        if offered is None:
            if client_max_window_bits is not None:
                raise NegotiationError(
                    "the server answered client_max_window_bits="
                    f"{client_max_window_bits}, which the offer did not include; "
                    "offer client_max_window_bits=True to allow it"
                )
        elif offered is not True:
            if client_max_window_bits is None:
                client_max_window_bits = offered
            elif client_max_window_bits > offered:
                raise NegotiationError(
                    f"the server answered client_max_window_bits="
                    f"{client_max_window_bits}, above the {offered} that the offer "
                    "allowed"
                )

        return PerMessageDeflate(
            remote_no_context_takeover=server_no_context_takeover,
            local_no_context_takeover=client_no_context_takeover,
            remote_max_window_bits=server_max_window_bits or 15,
            local_max_window_bits=client_max_window_bits or 15,
            compress_settings=self.compress_settings,
            compress_threshold=self.compress_threshold,
        )


def enable_client_permessage_deflate(
    extensions: Sequence[ClientExtensionFactory] | None,
) -> list[ClientExtensionFactory]:
    """Add permessage-deflate with default settings unless it is already offered.

    This is what ``compression="deflate"`` means in the front ends. The default
    offer lets the server choose the client's window (``client_max_window_bits``
    without a value) and uses ``memLevel=5``: the compressor takes 144 KiB instead
    of zlib's default 256 KiB per connection, at a small cost in compression
    ratio. It compresses at level 1, about twice as fast as zlib's default level 6
    on text for 10 to 30% more bytes, and sends messages shorter than 64 bytes
    uncompressed (``compress_threshold``).

    Args:
        extensions: The extension factories configured so far, or ``None``.

    Returns:
        A new list; a factory named ``permessage-deflate`` that is already present
        is kept with its settings.
    """
    result = [] if extensions is None else list(extensions)
    if not any(factory.name == _NAME for factory in result):
        result.append(
            ClientPerMessageDeflateFactory(
                client_max_window_bits=True,
                compress_settings=dict(DEFAULT_COMPRESS_SETTINGS),
                compress_threshold=DEFAULT_COMPRESS_THRESHOLD,
            )
        )
    return result
