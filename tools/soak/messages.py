"""Numbered, self-checking messages: what the soak clients send and verify.

A message is a short ASCII header followed by a body::

    E:<origin>:<seq>:<length>:<crc32>|<body>

``E`` marks a client's message that the server echoes, ``B`` a message the
server sends on its own (a burst), ``F`` a flood message. ``origin`` is the
client number (or the server's connection number), ``seq`` counts from 0,
``length`` is the body's size in bytes (UTF-8 for text) and ``crc32`` its CRC-32.
A receiver can thus check any message on its own, without keeping what was sent:
corruption anywhere in the header or the body fails :func:`parse`.
"""

from __future__ import annotations

import itertools
import random
import zlib
from dataclasses import dataclass

__all__ = [
    "KIND_BURST",
    "KIND_ECHO",
    "KIND_FLOOD",
    "MAX_BODY",
    "Corrupted",
    "Message",
    "MessageFactory",
    "Outgoing",
    "encode",
    "parse",
]

KIND_ECHO = "E"
KIND_BURST = "B"
KIND_FLOOD = "F"
_KINDS = frozenset({KIND_ECHO, KIND_BURST, KIND_FLOOD})

MAX_BODY = 256 * 1024
"""The largest body the factory makes: 256 KiB, well under the 1 MiB max_size."""

# Headers are short; a longer prefix without "|" is corruption, not a header.
_MAX_HEADER = 64


class Corrupted(ValueError):
    """A received message does not match its own header."""


@dataclass(frozen=True, slots=True)
class Message:
    """What a message says about itself, once checked: enough to account for it."""

    kind: str
    origin: int
    seq: int
    length: int
    crc: int
    text: bool


def encode(kind: str, origin: int, seq: int, body: str | bytes) -> str | bytes:
    """Prefix ``body`` with its header; text stays text, bytes stay bytes."""
    raw = body.encode() if isinstance(body, str) else body
    header = f"{kind}:{origin}:{seq}:{len(raw)}:{zlib.crc32(raw):08x}|"
    if isinstance(body, str):
        return header + body
    return header.encode() + body


def parse(data: str | bytes) -> Message:
    """Check a received message against its header.

    Raises:
        Corrupted: The header is malformed, or the body's length or CRC-32 is not
            the one the header announces.
    """
    text = isinstance(data, str)
    raw = data.encode() if isinstance(data, str) else data
    end = raw.find(b"|", 0, _MAX_HEADER)
    if end < 0:
        raise Corrupted(f"no header in {raw[:_MAX_HEADER]!r}")
    fields = raw[:end].split(b":")
    if len(fields) != 5:
        raise Corrupted(f"malformed header {raw[:end]!r}")
    try:
        kind = fields[0].decode("ascii")
        origin, seq, length = (int(field) for field in fields[1:4])
        crc = int(fields[4], 16)
    except ValueError:
        raise Corrupted(f"malformed header {raw[:end]!r}") from None
    if kind not in _KINDS:
        raise Corrupted(f"unknown kind in header {raw[:end]!r}")
    body = memoryview(raw)[end + 1 :]
    if len(body) != length:
        raise Corrupted(f"body of {len(body)} bytes, header says {length}")
    if zlib.crc32(body) != crc:
        raise Corrupted(f"CRC-32 mismatch in message {kind}:{origin}:{seq}")
    return Message(kind, origin, seq, length, crc, text)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send: the whole payload, or the fragments to send it in."""

    payload: str | bytes
    fragments: list[str] | list[bytes] | None
    record: Message


# Text alphabet with 1-, 2-, 3- and 4-byte UTF-8 characters, so that fragments
# and frames split code points.
_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyz0123456789 .,\n\xe9\xff\u0394\u20ac\u4e2d\U0001f600"
)


class MessageFactory:
    """Makes a client's numbered messages from a seeded RNG.

    Sizes go from 0 B to :data:`MAX_BODY`, mostly small: a quarter under 126
    bytes (one-byte length), a third up to 4 KiB, a quarter up to 64 KiB, the rest
    up to 256 KiB (64-bit lengths). Half are text; half of the bodies compress well
    (a repeated pattern) and half do not (random bytes), so that permessage-deflate
    sees both; one message in ten goes out in fragments.
    """

    def __init__(self, origin: int, rng: random.Random) -> None:
        self.origin = origin
        self.rng = rng
        self.seq = 0
        self._text_pool = "".join(rng.choice(_ALPHABET) for _ in range(4096))

    def size(self) -> int:
        """A body size from the mix described above."""
        roll = self.rng.random()
        if roll < 0.25:
            return self.rng.randint(0, 125)
        if roll < 0.6:
            return self.rng.randint(126, 4096)
        if roll < 0.85:
            return self.rng.randint(4097, 65536)
        return self.rng.randint(65537, MAX_BODY)

    def body(self, size: int, text: bool) -> str | bytes:
        """A body of about ``size`` bytes (exactly, for binary)."""
        rng = self.rng
        compressible = rng.random() < 0.5
        if text:
            pool = self._text_pool
            start = rng.randrange(len(pool))
            if compressible:
                chunk = pool[start : start + 64] or pool[:64]
            else:
                chunk = pool[start:] + pool[:start]
            # Text characters average about two bytes in UTF-8.
            chars = size // 2
            return (chunk * (chars // len(chunk) + 1))[:chars]
        if compressible:
            pattern = rng.randbytes(rng.randint(1, 64))
            return (pattern * (size // len(pattern) + 1))[:size]
        return rng.randbytes(size)

    def next(self, kind: str = KIND_ECHO, size: int | None = None) -> Outgoing:
        """The next message, numbered one past the previous one."""
        rng = self.rng
        text = rng.random() < 0.5
        body = self.body(self.size() if size is None else size, text)
        payload = encode(kind, self.origin, self.seq, body)
        record = parse(payload)
        self.seq += 1
        fragments: list[str] | list[bytes] | None = None
        if rng.random() < 0.1 and len(payload) > 1:
            cuts = sorted(rng.sample(range(1, len(payload)), min(3, len(payload) - 1)))
            bounds = itertools.pairwise([0, *cuts, len(payload)])
            if isinstance(payload, str):
                fragments = [payload[a:b] for a, b in bounds]
            else:
                fragments = [payload[a:b] for a, b in bounds]
        return Outgoing(payload, fragments, record)
