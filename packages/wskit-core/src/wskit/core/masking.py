"""Masking of client frames (RFC 6455 section 5.3), in C when it was built.

This module decides whether the C extension ``wskit.core._speedups`` is used
(:mod:`wskit.core.whole_frames` follows its choice); everything else calls
:func:`apply_mask` and :func:`mask_frame` from here. The
pure-Python twins, :func:`apply_mask_python` and :func:`mask_frame_python`, give
identical results and is always available, so the
tests can compare both in one run and a machine without a compiler still works.

Setting the environment variable ``WSKIT_NO_EXTENSIONS=1`` before the first import
selects the pure-Python twin even when the extension is installed, e.g. to test the
fallback or to rule the C code out while debugging. :data:`IMPLEMENTATION` says
which one is active.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Final, Literal

__all__ = [
    "IMPLEMENTATION",
    "apply_mask",
    "apply_mask_python",
    "mask_frame",
    "mask_frame_python",
]


# 256 translation tables: _XOR_TABLES[k] maps every byte b to b ^ k, so that
# bytes.translate XORs a whole buffer with one key byte at C speed.
_XOR_TABLES: Final[tuple[bytes, ...]] = tuple(
    bytes(b ^ k for b in range(256)) for k in range(256)
)

# Below this size, one big-integer XOR beats four strided translations; above it,
# the translations win and stay linear with a small constant (about 2.5 times
# faster at 1 MiB). Measured on CPython 3.10-3.13, where the curves cross between
# 512 and 1024 bytes; tools/bench_core.py reports both paths.
_TRANSLATE_THRESHOLD: Final = 1024


def apply_mask_python(data: bytes | bytearray | memoryview, mask: bytes, /) -> bytes:
    """XOR ``data`` with ``mask`` repeated, in pure Python.

    RFC 6455 section 5.3: octet i of the masked data is octet i of the original
    data XOR octet (i MOD 4) of the masking key. The same function unmasks.

    Args:
        data: The payload; any contiguous bytes-like object.
        mask: The 4-byte masking key; any bytes-like object of length 4.

    Returns:
        The masked payload as a new ``bytes`` object.

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes long.
        BufferError: ``data`` is a memoryview that is not contiguous.
    """
    if type(mask) is not bytes:
        mask = bytes(mask)
    if len(mask) != 4:
        raise ValueError(
            f"mask must be exactly 4 bytes long, got {len(mask)} bytes; "
            "RFC 6455 section 5.3 defines a 32-bit masking key"
        )
    if type(data) is memoryview:
        # len() counts items, not bytes, for views of wider items; the C
        # version takes the raw bytes of any contiguous buffer, and so does this.
        if not data.c_contiguous:
            raise BufferError(
                "data must be a C-contiguous buffer; copy it with bytes(data) first"
            )
        n = data.nbytes
    else:
        n = len(data)
    if n < _TRANSLATE_THRESHOLD:
        if n == 0:
            return b""
        q, r = divmod(n, 4)
        repeated = mask * q + mask[:r]
        return (
            int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")
        ).to_bytes(n, "little")
    # Four strided slices, one per key byte: each is translated in one C call
    # and written back in place with an extended slice assignment.
    out = bytearray(data)
    tables = _XOR_TABLES
    out[0::4] = out[0::4].translate(tables[mask[0]])
    out[1::4] = out[1::4].translate(tables[mask[1]])
    out[2::4] = out[2::4].translate(tables[mask[2]])
    out[3::4] = out[3::4].translate(tables[mask[3]])
    return bytes(out)


_pack_short = struct.Struct("!BB").pack
_pack_medium = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack


def mask_frame_python(
    head: int, data: bytes | bytearray | memoryview | str, mask: bytes, /
) -> bytes:
    """Build a masked client frame: header, masking key, masked payload.

    Args:
        head: The first byte of the frame: FIN, RSV bits and opcode.
        data: The payload; any contiguous bytes-like object, or an ASCII
            ``str`` (which is its own UTF-8: the C version masks it without
            encoding it first).
        mask: The 4-byte masking key.

    Raises:
        ValueError: ``head`` is not a byte or ``mask`` is not 4 bytes long.
        TypeError: ``data`` is a ``str`` that is not ASCII.
    """
    if not 0 <= head <= 255:
        raise ValueError(f"head must be the frame's first byte (0-255), got {head}")
    if isinstance(data, str):
        if not data.isascii():
            raise TypeError(
                "mask_frame() takes a str only when it is ASCII; "
                "encode other text to UTF-8 first"
            )
        data = data.encode("ascii")
    payload = apply_mask_python(data, mask)
    length = len(payload)
    # RFC 6455 section 5.2: 7-bit, 16-bit or 64-bit payload length.
    if length < 126:
        header = _pack_short(head, 0x80 | length)
    elif length < 65536:
        header = _pack_medium(head, 0x80 | 126, length)
    else:
        header = _pack_long(head, 0x80 | 127, length)
    return header + bytes(mask) + payload


apply_mask: Callable[[bytes | bytearray | memoryview, bytes], bytes]
"""XOR ``data`` with the 4-byte ``mask`` repeated (RFC 6455 section 5.3).

The C version when it is built and not disabled, else :func:`apply_mask_python`.
Both take ``(data, mask)`` positionally and behave identically.
"""

mask_frame: Callable[[int, bytes | bytearray | memoryview | str, bytes], bytes]
"""Build a whole masked client frame in one buffer, copying the payload once.

The C version when it is built and not disabled, else :func:`mask_frame_python`.
Both take ``(head, data, mask)`` positionally and behave identically.
"""

IMPLEMENTATION: Literal["c", "python"]
"""Which implementation :func:`apply_mask` and :func:`mask_frame` are."""

if os.environ.get("WSKIT_NO_EXTENSIONS") == "1":
    apply_mask = apply_mask_python
    mask_frame = mask_frame_python
    IMPLEMENTATION = "python"
else:
    try:
        from ._speedups import apply_mask, mask_frame
    except ImportError:
        apply_mask = apply_mask_python
        mask_frame = mask_frame_python
        IMPLEMENTATION = "python"
    else:
        IMPLEMENTATION = "c"
