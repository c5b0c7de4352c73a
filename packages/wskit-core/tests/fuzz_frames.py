"""Fuzz target for the frame parser, through the protocol that drives it.

Run it with atheris (``pip install atheris``), from the repository root::

    PYTHONPATH=packages/wskit-core/src python packages/wskit-core/tests/fuzz_frames.py

Arguments after the script name go to libFuzzer, e.g. ``-max_total_time=60`` or a
corpus directory. Without atheris the script runs a random-mutation loop over the
built-in seeds instead (20000 inputs, or ``-runs=N``).

The input is what a server sends after the handshake. The target checks, for an
open :class:`~wskit.core.protocol.ClientProtocol` with a small ``max_size`` and
with permessage-deflate negotiated or not (the first input byte decides):

1. ``receive_data`` and ``receive_eof`` never raise: peer faults become state.
2. Split invariance: the events and the frames sent back (unmasked) are the same
   whether the input arrives in one piece, one byte at a time, or cut where the
   input says, and whether payloads are read into ``receive_buffer()`` or not.
3. Every text event is a ``str``, every binary event ``bytes``, and no message
   exceeds ``max_size``.

The file name does not start with ``test_``, so pytest does not collect it.
"""

from __future__ import annotations

import gc
import os
import random
import struct
import sys
import tempfile
import time
from types import FunctionType, ModuleType

from wskit.core import frames as frames_module
from wskit.core.events import BinaryData, Event, TextData
from wskit.core.extensions.permessage_deflate import PerMessageDeflate
from wskit.core.masking import apply_mask
from wskit.core.protocol import ClientProtocol, State

__all__ = ["SEEDS", "fuzz_one_input", "main"]

MAX_SIZE = 4096

SEEDS = [
    b"\x81\x05hello\x82\x02\x00\xff",
    b"\x01\x03abc\x89\x00\x80\x02de",
    b"\x81\x04\xce\xba\xe1\xbd",
    b"\xc1\x07\xf2H\xcd\xc9\xc9\x07\x00",
    b"\x88\x02\x03\xe8",
    b"\x82\x7e\x01\x00" + bytes(256),
    b"\x8a\x01x\x88\x00",
]


def _unmask(chunks: list[bytes]) -> list[tuple[int, bytes]]:
    wire = b"".join(chunks)
    frames = []
    pos = 0
    while pos < len(wire):
        head, second = wire[pos], wire[pos + 1]
        length = second & 0x7F
        pos += 2
        if length == 126:
            (length,) = struct.unpack_from("!H", wire, pos)
            pos += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", wire, pos)
            pos += 8
        key = wire[pos : pos + 4]
        pos += 4
        frames.append((head, apply_mask(wire[pos : pos + length], key)))
        pos += length
    return frames


def _feed_into(protocol: ClientProtocol, chunk: bytes) -> None:
    """Feed ``chunk`` as an I/O layer that reads into ``receive_buffer()``."""
    while chunk:
        view = protocol.receive_buffer()
        if view is None:
            protocol.receive_data(chunk)
            return
        size = min(len(view), len(chunk))
        view[:size] = chunk[:size]
        protocol.received_into(size)
        chunk = chunk[size:]


def _outcome(
    chunks: list[bytes], deflate: bool, *, into: bool = False
) -> tuple[object, ...]:
    protocol = ClientProtocol("ws://fuzz/", state=State.OPEN, max_size=MAX_SIZE)
    if deflate:
        protocol.extensions = [PerMessageDeflate(False, False, 15, 15)]
    events: list[Event] = []
    output: list[bytes] = []
    for chunk in chunks:
        if into:
            _feed_into(protocol, chunk)
        else:
            protocol.receive_data(chunk)
        events += protocol.events_received()
        output += protocol.data_to_send()
    protocol.receive_eof()
    events += protocol.events_received()
    output += protocol.data_to_send()
    size = 0
    for event in events:
        if isinstance(event, TextData):
            assert isinstance(event.data, str)
            size += len(event.data.encode())
        elif isinstance(event, BinaryData):
            assert isinstance(event.data, bytes)
            size += len(event.data)
        else:
            continue
        assert size <= MAX_SIZE, size
        if event.final:
            size = 0
    assert protocol.state is State.CLOSED
    sent = _unmask([chunk for chunk in output if chunk])
    return (events, sent, protocol.close_code)


def fuzz_one_input(data: bytes) -> None:
    """Check the properties on one input; raise AssertionError on failure."""
    deflate = bool(data[:1]) and data[0] & 1 == 1
    whole = _outcome([data], deflate)
    one_byte = _outcome([data[i : i + 1] for i in range(len(data))], deflate)
    assert one_byte == whole, (one_byte, whole)
    if data:
        cut = data[0] % (len(data) + 1)
        assert _outcome([data[:cut], data[cut:]], deflate) == whole
        # Every payload of 2 bytes or more that does not arrive whole is read
        # into the buffer that receive_buffer() lends.
        collect_min = frames_module._COLLECT_MIN
        frames_module._COLLECT_MIN = 2
        try:
            chunks = [data[:cut], data[cut:]]
            assert _outcome(chunks, deflate, into=True) == whole
            chunks = [data[i : i + 3] for i in range(0, len(data), 3)]
            assert _outcome(chunks, deflate, into=True) == whole
        finally:
            frames_module._COLLECT_MIN = collect_min


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(3)
        index = rng.randrange(len(buffer) + 1)
        if choice == 0 and buffer:
            del buffer[min(index, len(buffer) - 1)]
        elif choice == 1:
            buffer[index:index] = bytes([rng.randrange(256)])
        else:
            other = rng.choice(SEEDS)
            start = rng.randrange(len(other))
            buffer[index:index] = other[start : start + rng.randint(1, 16)]
    return bytes(buffer)


def _instrument_wskit(atheris: ModuleType) -> None:
    # Coverage feedback from wskit's own branches only: instrumenting the standard
    # library too would slow every input down for edges the target does not own.
    # The modules are imported already, so patch their functions in place.
    for obj in gc.get_objects():
        if isinstance(obj, FunctionType) and (obj.__module__ or "").startswith(
            "wskit."
        ):
            atheris.instrument_func(obj)


def _seed_corpus(argv: list[str]) -> list[str]:
    # libFuzzer takes corpus folders as its positional arguments; without one it
    # starts from an empty input, so give it the seeds in a temporary folder.
    if any(not arg.startswith("-") for arg in argv[1:]):
        return argv
    folder = tempfile.mkdtemp(prefix="wskit-fuzz-")
    for index, seed in enumerate(SEEDS):
        with open(os.path.join(folder, f"seed-{index}"), "wb") as file:
            file.write(seed)
    return [*argv, folder]


def main(argv: list[str]) -> None:
    """Run under atheris when available, else a bounded random-mutation loop."""
    try:
        import atheris
    except ImportError:
        rng = random.Random(0)
        runs = [arg.removeprefix("-runs=") for arg in argv if arg.startswith("-runs=")]
        iterations = int(runs[-1]) if runs else 20_000
        started = time.monotonic()
        for seed in SEEDS:
            fuzz_one_input(seed)
        for _ in range(iterations):
            fuzz_one_input(_mutate(rng, rng.choice(SEEDS)))
        elapsed = time.monotonic() - started
        print(
            f"atheris isn't installed; ran {iterations} random mutations in "
            f"{elapsed:.1f} s: no failure"
        )
        return
    _instrument_wskit(atheris)
    atheris.Setup(_seed_corpus(argv), fuzz_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
