"""Micro-benchmark of wskit.core: masking, frame serialization, frame parsing.

Not a test: it asserts nothing about speed. It measures, next to the same work done
by the websockets library and by wsproto where they are installed:

1. masking throughput of the C extension and of the pure-Python twin, against a
   plain copy of the same size (the floor that any masking must pay: read n bytes,
   allocate and write n bytes);
2. frame serialization with masking, as a client sends;
3. frame parsing of a stream of unmasked server frames fed in 64 KiB reads, as a
   client receives, both at the frame layer and, when it imports, through the
   full ``ClientProtocol``.

Each figure is the best of several repeats (the least disturbed run); the JSON
output also has the median. Usage::

    python tools/bench_core.py            # about half a minute
    python tools/bench_core.py --quick    # a few seconds, for CI
    python tools/bench_core.py --json results.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import struct
import sys
import timeit
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["main"]

SIZES = [16, 1024, 64 * 1024, 1024 * 1024]
CHUNK = 64 * 1024
MASK_KEY = bytes.fromhex("37fa213d")


@dataclass
class Settings:
    """How long to measure: one repeat runs at least min_time seconds."""

    min_time: float
    repeat: int
    stream_bytes: int
    max_frames: int


@dataclass
class Timing:
    """Seconds per call: the best and the median of the repeats."""

    best: float
    median: float


@dataclass
class Row:
    """One line of a table: a size, and one timing per contender."""

    size: int
    timings: dict[str, Timing | None] = field(default_factory=dict)
    units: int = 1  # frames per call, for frames/s


def measure(settings: Settings, fn: Callable[..., object], *args: Any) -> Timing:
    """Time fn(*args): calibrate the number of calls per repeat, then repeat.

    timeit disables the garbage collector while timing, so a collection that a
    previous benchmark provoked does not land in this one.
    """
    timer = timeit.Timer(lambda: fn(*args))
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= settings.min_time:
            break
        # Aim a little past min_time so that the next try usually suffices.
        scale = settings.min_time * 1.2 / max(elapsed, 1e-9)
        number = max(number * 2, int(number * min(scale, 100)))
    runs = [elapsed / number]
    runs += [timer.timeit(number) / number for _ in range(settings.repeat - 1)]
    return Timing(min(runs), statistics.median(runs))


def human_size(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} B"


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def ratio(a: Timing | None, b: Timing | None) -> str:
    """How many times faster a is than b (per call), as text."""
    if a is None or b is None:
        return "n/a"
    return f"{b.best / a.best:.2f}x"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" for _ in header) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# Contenders


def load_masking() -> tuple[
    Callable[[bytes, bytes], bytes] | None, Callable[[bytes, bytes], bytes], str
]:
    masking = importlib.import_module("wskit.core.masking")
    try:
        speedups = importlib.import_module("wskit.core._speedups")
    except ImportError:
        c_mask = None
    else:
        c_mask = speedups.apply_mask
    return c_mask, masking.apply_mask_python, masking.IMPLEMENTATION


def optional_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# 1. Masking


def bench_masking(settings: Settings) -> list[Row]:
    c_mask, py_mask, _ = load_masking()
    rows = []
    for size in SIZES:
        data = os.urandom(size)
        buffer = bytearray(data)
        row = Row(size)
        row.timings["copy"] = measure(settings, bytes, buffer)
        row.timings["c"] = (
            None if c_mask is None else measure(settings, c_mask, data, MASK_KEY)
        )
        row.timings["python"] = measure(settings, py_mask, data, MASK_KEY)
        rows.append(row)
    return rows


def masking_table(rows: list[Row]) -> str:
    def gbps(row: Row, key: str) -> float | None:
        timing = row.timings.get(key)
        return None if timing is None else row.size / timing.best / 1e9

    body = []
    for row in rows:
        c, copy = row.timings.get("c"), row.timings["copy"]
        assert copy is not None
        body.append(
            [
                human_size(row.size),
                fmt(gbps(row, "c")),
                fmt(gbps(row, "python")),
                fmt(gbps(row, "copy")),
                "n/a" if c is None else f"{copy.best / c.best:.2f}",
                ratio(c, row.timings["python"]),
            ]
        )
    header = [
        "size",
        "C GB/s",
        "Python GB/s",
        "copy GB/s",
        "C / copy",
        "C vs Python",
    ]
    return markdown_table(header, body)


# 2. Frame serialization


def serializers() -> dict[str, Callable[[bytes], object]]:
    frames = importlib.import_module("wskit.core.frames")
    serialize_frame, binary = frames.serialize_frame, frames.Opcode.BINARY
    found: dict[str, Callable[[bytes], object]] = {
        "wskit": lambda data: serialize_frame(binary, data, mask=True),
    }
    ws_frames = optional_module("websockets.frames")
    if ws_frames is not None:
        ws_frame, ws_binary = ws_frames.Frame, ws_frames.Opcode.BINARY
        found["websockets"] = lambda data: ws_frame(ws_binary, data).serialize(
            mask=True
        )
    wsproto_fp = optional_module("wsproto.frame_protocol")
    if wsproto_fp is not None:
        protocol = wsproto_fp.FrameProtocol(client=True, extensions=[])
        found["wsproto"] = protocol.send_data
    return found


def bench_serialize(settings: Settings) -> list[Row]:
    contenders = serializers()
    rows = []
    for size in SIZES:
        data = os.urandom(size)
        row = Row(size)
        for name, serialize in contenders.items():
            row.timings[name] = measure(settings, serialize, data)
        rows.append(row)
    return rows


# 3. Frame parsing


def server_stream(size: int, count: int) -> list[bytes]:
    """count unmasked binary frames of size bytes, cut into CHUNK-byte reads."""
    if size < 126:
        header = struct.pack("!BB", 0x82, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x82, 126, size)
    else:
        header = struct.pack("!BBQ", 0x82, 127, size)
    payload = os.urandom(size)
    stream = (header + payload) * count
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]


def parsers() -> dict[str, Callable[[list[bytes]], int]]:
    """Each parser consumes the chunks and returns the payload bytes it saw."""
    frames = importlib.import_module("wskit.core.frames")
    frame_parser = frames.FrameParser

    def wskit_frames(chunks: list[bytes]) -> int:
        parser = frame_parser()
        total = 0
        for chunk in chunks:
            parser.feed(chunk)
            while (frame := parser.parse(None, None)) is not None:
                total += len(frame.data)
        return total

    found: dict[str, Callable[[list[bytes]], int]] = {"wskit frames": wskit_frames}

    protocol = optional_module("wskit.core.protocol")
    if protocol is not None and hasattr(protocol, "ClientProtocol"):
        client_protocol, state_open = protocol.ClientProtocol, protocol.State.OPEN

        def wskit_protocol(chunks: list[bytes]) -> int:
            proto = client_protocol("ws://localhost/", state=state_open, max_size=None)
            total = 0
            for chunk in chunks:
                proto.receive_data(chunk)
                for event in proto.events_received():
                    total += len(event.data)
            return total

        found["wskit protocol"] = wskit_protocol

    ws_client = optional_module("websockets.client")
    if ws_client is not None:
        ws_open = importlib.import_module("websockets.protocol").OPEN
        ws_uri = importlib.import_module("websockets.uri").parse_uri("ws://localhost/")

        def websockets_protocol(chunks: list[bytes]) -> int:
            proto = ws_client.ClientProtocol(ws_uri, state=ws_open, max_size=None)
            total = 0
            for chunk in chunks:
                proto.receive_data(chunk)
                for event in proto.events_received():
                    total += len(event.data)
            return total

        found["websockets"] = websockets_protocol

    wsproto_fp = optional_module("wsproto.frame_protocol")
    if wsproto_fp is not None:
        frame_protocol = wsproto_fp.FrameProtocol

        def wsproto_frames(chunks: list[bytes]) -> int:
            proto = frame_protocol(client=True, extensions=[])
            total = 0
            for chunk in chunks:
                proto.receive_bytes(chunk)
                for frame in proto.received_frames():
                    total += len(frame.payload)
            return total

        found["wsproto"] = wsproto_frames
    return found


def bench_parse(settings: Settings) -> list[Row]:
    contenders = parsers()
    rows = []
    for size in SIZES:
        count = max(4, min(settings.max_frames, settings.stream_bytes // (size + 10)))
        chunks = server_stream(size, count)
        row = Row(size, units=count)
        for name, parse in contenders.items():
            try:
                seen = parse(chunks)
            except Exception as exc:  # a contender that cannot run is reported
                print(f"warning: {name} failed on {human_size(size)}: {exc!r}")
                row.timings[name] = None
                continue
            if seen != size * count:
                print(
                    f"warning: {name} saw {seen} payload bytes on "
                    f"{human_size(size)}, expected {size * count}; not timed"
                )
                row.timings[name] = None
                continue
            row.timings[name] = measure(settings, parse, chunks)
        rows.append(row)
    return rows


def frames_table(rows: list[Row], references: Sequence[str]) -> str:
    """Throughput of every contender, then each reference against each peer."""
    names = list(rows[0].timings)
    pairs = [
        (reference, peer)
        for reference in references
        if reference in names
        for peer in names
        if peer not in references
    ]
    header = ["size"]
    for name in names:
        header += [f"{name} frames/s", f"{name} MB/s"]
    header += [f"{reference} vs {peer}" for reference, peer in pairs]
    body = []
    for row in rows:
        line = [human_size(row.size)]
        for name in names:
            timing = row.timings[name]
            if timing is None:
                line += ["n/a", "n/a"]
            else:
                per_second = row.units / timing.best
                line += [fmt(per_second, 0), fmt(per_second * row.size / 1e6, 0)]
        line += [
            ratio(row.timings[reference], row.timings[peer])
            for reference, peer in pairs
        ]
        body.append(line)
    return markdown_table(header, body)


# Driver


def environment() -> dict[str, str]:
    _, _, active = load_masking()
    info = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "wskit.core.masking": active,
    }
    for name in ("websockets", "wsproto"):
        module = optional_module(name)
        version = getattr(module, "__version__", None)
        info[name] = "not installed" if module is None else str(version)
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Micro-benchmark of wskit.core against websockets and wsproto."
    )
    parser.add_argument(
        "--quick", action="store_true", help="measure briefly (a few seconds), for CI"
    )
    parser.add_argument("--json", metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    settings = (
        Settings(min_time=0.02, repeat=3, stream_bytes=1 << 20, max_frames=2000)
        if args.quick
        else Settings(min_time=0.1, repeat=5, stream_bytes=4 << 20, max_frames=20000)
    )

    env = environment()
    print("# wskit.core micro-benchmark\n")
    print(", ".join(f"{key} {value}" for key, value in env.items()))
    print(f"\nbest of {settings.repeat} repeats of at least {settings.min_time} s\n")

    masking_rows = bench_masking(settings)
    print("## Masking (new bytes out)\n")
    print(masking_table(masking_rows))

    serialize_rows = bench_serialize(settings)
    print("\n## Serialize one masked binary frame\n")
    print(frames_table(serialize_rows, ["wskit"]))

    parse_rows = bench_parse(settings)
    print(f"\n## Parse unmasked binary frames fed in {human_size(CHUNK)} reads\n")
    print(frames_table(parse_rows, ["wskit frames", "wskit protocol"]))

    if args.json:
        results = {
            "environment": env,
            "settings": asdict(settings),
            "masking": [asdict(row) for row in masking_rows],
            "serialize": [asdict(row) for row in serialize_rows],
            "parse": [asdict(row) for row in parse_rows],
        }
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
            file.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
