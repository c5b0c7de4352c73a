"""A server that breaks the protocol on purpose, recording what the client answers.

It completes the handshake, writes a script of raw frames in one write (valid
messages followed by a fault, as Autobahn cases 3.x, 4.x and 5.15 do), then reads
the client's frames until the client or the test ends the connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import struct
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .servers import TIMEOUT, Peer, accept_response, raw_server, read_request

__all__ = ["FaultyPeer", "faulty_server", "server_frame"]


def server_frame(opcode: int, data: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """An unmasked frame with any opcode and RSV bits."""
    head = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(data)
    if length < 126:
        return struct.pack("!BB", head, length) + data
    if length < 65536:
        return struct.pack("!BBH", head, 126, length) + data
    return struct.pack("!BBQ", head, 127, length) + data


def _client_frames(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    pos = 0
    while pos + 2 <= len(data):
        head, second = data[pos], data[pos + 1]
        length = second & 0x7F
        pos += 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, pos)
            pos += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, pos)
            pos += 8
        key = data[pos : pos + 4]
        pos += 4
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(data[pos : pos + length]))
        pos += length
        frames.append((head & 0x0F, payload))
    return frames


@dataclasses.dataclass
class FaultyPeer(Peer):
    """A :class:`Peer` that also keeps the client's frames: (opcode, payload)."""

    frames: list[tuple[int, bytes]] = dataclasses.field(default_factory=list)
    #: Set when the connection ended; a thread event, so both clients can wait.
    done: threading.Event = dataclasses.field(default_factory=threading.Event)


@asynccontextmanager
async def faulty_server(script: bytes) -> AsyncIterator[FaultyPeer]:
    """Serve ``script`` after the handshake; see the module docstring."""
    peer = FaultyPeer("127.0.0.1", 0)

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request = await read_request(reader)
        peer.requests.append(request)
        writer.write(accept_response(request) + script)
        received = b""
        try:
            while chunk := await asyncio.wait_for(reader.read(65536), 2 * TIMEOUT):
                received += chunk
                peer.frames = _client_frames(received)
                if any(opcode == 0x8 for opcode, _ in peer.frames):
                    break
        finally:
            peer.done.set()

    async with raw_server(handle) as running:
        peer.port = running.port
        yield peer
