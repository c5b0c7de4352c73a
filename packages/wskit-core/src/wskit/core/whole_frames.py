"""Whole single-frame data messages, taken straight from a read.

Most reads from a server hold nothing but complete, unfragmented text and binary
frames. Decoding those in one call, without the general parser's buffer, a
:class:`~wskit.core.frames.Frame` and an event per message, is most of what the
receive path costs per small message. :func:`take_messages` is in C when the
extension was built (see :mod:`wskit.core.masking` for the choice);
:func:`take_messages_python` is its twin and gives identical results.

Both stop at the first frame that needs the general parser: a control frame, a
fragment, an RSV bit, a masked frame, a length that is not minimally encoded or
exceeds the limit, invalid UTF-8 in a text frame, or an incomplete frame. They never
raise because of the data; the general parser reports what was wrong.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from . import masking

__all__ = ["IMPLEMENTATION", "frame_bounds", "take_messages", "take_messages_python"]

_unpack_long = struct.Struct("!Q").unpack_from


def frame_bounds(
    data: bytes | bytearray | memoryview, pos: int
) -> tuple[int, int, int] | None:
    """The first byte, payload start and payload end of the frame at ``pos``.

    ``None`` when the frame is incomplete, masked (a server must not mask), or its
    length is not minimally encoded or has the top bit set: the general parser
    handles those, with its checks and error messages.
    """
    size = len(data)
    if size - pos < 2:
        return None
    length = data[pos + 1]
    start = pos + 2
    if length == 126:
        if size - pos < 4:
            return None
        length = (data[pos + 2] << 8) | data[pos + 3]
        start = pos + 4
        if length < 126:
            return None
    elif length == 127:
        if size - pos < 10:
            return None
        (length,) = _unpack_long(data, pos + 2)
        start = pos + 10
        if length < 65536 or length >> 63:
            return None
    elif length > 127:
        return None
    end = start + length
    if end > size:
        return None
    return data[pos], start, end


def take_messages_python(
    data: bytes | bytearray | memoryview, limit: int, /
) -> tuple[list[str | bytes], int]:
    """Decode the whole single-frame messages at the start of ``data``.

    Args:
        data: Bytes read from the server.
        limit: The largest payload to accept, in bytes.

    Returns:
        The messages (text as ``str``, binary as ``bytes``) and how many bytes of
        ``data`` they took.
    """
    messages: list[str | bytes] = []
    pos = 0
    while (bounds := frame_bounds(data, pos)) is not None:
        head, start, end = bounds
        if end - start > limit:
            break
        if head == 0x82:
            messages.append(bytes(data[start:end]))
        elif head == 0x81:
            try:
                messages.append(str(data[start:end], "utf-8"))
            except UnicodeDecodeError:
                break
        else:
            break
        pos = end
    return messages, pos


take_messages: Callable[
    [bytes | bytearray | memoryview, int], tuple[list[str | bytes], int]
]
IMPLEMENTATION = masking.IMPLEMENTATION
"""Which implementation :func:`take_messages` is: the same as the masking's."""

if IMPLEMENTATION == "c":
    from ._speedups import take_messages
else:
    take_messages = take_messages_python
