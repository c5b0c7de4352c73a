"""Type stub for the C extension ``wskit.core._speedups`` (see ``_speedups.c``)."""

from __future__ import annotations

__all__ = ["apply_mask", "is_ascii", "mask_frame", "payload_buffer", "take_messages"]

def apply_mask(
    data: bytes | bytearray | memoryview,
    mask: bytes | bytearray | memoryview,
    /,
) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (RFC 6455 section 5.3).

    Args:
        data: The payload; any C-contiguous bytes-like object.
        mask: The masking key; any bytes-like object of exactly 4 bytes.

    Returns:
        The masked payload as a new ``bytes`` object.

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes long.
        BufferError: ``data`` is not C-contiguous.
    """

def mask_frame(
    head: int,
    data: bytes | bytearray | memoryview | str,
    mask: bytes | bytearray | memoryview,
    /,
) -> bytes:
    """Build a masked client frame (header, key, masked payload) in one buffer.

    ``data`` may be an ASCII ``str``, masked as its UTF-8 without a copy.

    Raises:
        TypeError: ``data`` is a ``str`` that is not ASCII.
        ValueError: ``head`` is not 0-255 or ``mask`` is not exactly 4 bytes long.
        BufferError: ``data`` is not C-contiguous.
    """

def take_messages(
    data: bytes | bytearray | memoryview, limit: int, /
) -> tuple[list[str | bytes], int]:
    """Decode the whole single-frame data messages at the start of ``data``.

    Text comes as ``str``, binary as ``bytes``; stops at the first frame that
    the general parser must handle. Returns the messages and the bytes taken.

    Raises:
        OverflowError: ``limit`` is negative or does not fit in 64 bits.
        BufferError: ``data`` is not C-contiguous.
    """

def payload_buffer(size: int, /) -> tuple[bytes, memoryview]:
    """A new ``bytes`` object of ``size`` bytes to fill, and a writable view of it.

    A large payload is read straight into the ``bytes`` object that becomes the
    message. The caller fills it through the view and lets go of every view
    before anyone else sees the ``bytes`` object. Views keep the ``bytes`` object
    alive, so one that outlives it never points into freed memory.

    Raises:
        ValueError: ``size`` is negative.
        MemoryError: ``size`` bytes cannot be allocated.
    """

def is_ascii(data: bytes | bytearray | memoryview, /) -> bool:
    """Whether every byte of ``data`` is below 128, without copying it.

    Raises:
        BufferError: ``data`` is not C-contiguous.
    """
