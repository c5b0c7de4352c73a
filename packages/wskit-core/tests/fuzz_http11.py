"""Fuzz target for the handshake response parser (wskit.core.http11.ResponseParser).

Run it with atheris (``pip install atheris``), from the repository root::

    PYTHONPATH=packages/wskit-core/src python packages/wskit-core/tests/fuzz_http11.py

Arguments after the script name go to libFuzzer, e.g. ``-max_total_time=60`` or a
corpus directory. Without atheris the script runs a random-mutation loop over the
built-in seeds instead (20000 inputs, or ``-runs=N``), enough to smoke-test the
target.

The target checks three properties for every input:

1. Only the documented exceptions escape: InvalidMessage and SecurityError.
2. Split invariance: feeding the input in one piece, one byte at a time, or cut
   where the input says gives the same outcome (response, remainder, or error).
3. A parsed response keeps its promises: bodiless statuses have no body, the
   body respects ``max_body``, and header counts respect ``max_headers``.

The file name does not start with ``test_``, so pytest does not collect it.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import tempfile
import time
from types import FunctionType, ModuleType

from wskit.core.exceptions import InvalidMessage, SecurityError
from wskit.core.http11 import Response, ResponseParser

__all__ = ["SEEDS", "fuzz_one_input", "main"]

LIMITS = {"max_line": 256, "max_headers": 16, "max_body": 512, "max_interim": 2}

SEEDS = [
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"\r\n\x81\x02hi",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101\r\n\r\n",
    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!",
    b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nuntil the end",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
]

Outcome = tuple[object, ...]


def _outcome(chunks: list[bytes]) -> Outcome:
    parser = ResponseParser(**LIMITS)
    try:
        for chunk in chunks:
            parser.feed(chunk)
            parser.parse()
        parser.feed_eof()
        response = parser.parse()
    except (InvalidMessage, SecurityError) as exc:
        return ("error", type(exc), str(exc))
    assert response is not None, "parse() returned None after feed_eof()"
    _check_response(response)
    return ("response", response, parser.remainder())


def _check_response(response: Response) -> None:
    assert 100 <= response.status_code <= 599
    if response.status_code < 200 or response.status_code in (204, 304):
        assert response.body == b""
    assert len(response.body) <= LIMITS["max_body"]
    assert len(list(response.headers.raw_items())) <= LIMITS["max_headers"]


def fuzz_one_input(data: bytes) -> None:
    """Check the parser's properties on one input; raise AssertionError on failure."""
    whole = _outcome([data])
    one_byte = _outcome([data[i : i + 1] for i in range(len(data))])
    assert one_byte == whole, (one_byte, whole)
    # Let the first byte choose a cut, so the fuzzer explores splits too.
    if data:
        cut = data[0] % (len(data) + 1)
        assert _outcome([data[:cut], data[cut:]]) == whole


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(4)
        index = rng.randrange(len(buffer) + 1)
        if choice == 0 and buffer:
            del buffer[min(index, len(buffer) - 1)]
        elif choice == 1:
            buffer[index:index] = bytes([rng.randrange(256)])
        elif choice == 2:
            buffer[index:index] = rng.choice([b"\r\n", b"\n", b" ", b":", b";", b"0"])
        else:
            other = rng.choice(SEEDS)
            start = rng.randrange(len(other))
            buffer[index:index] = other[start : start + rng.randint(1, 32)]
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
