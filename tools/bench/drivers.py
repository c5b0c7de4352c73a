"""The measuring loops, run inside a client's worker process.

Each loop runs for a fixed time after a short warm-up on the same connection, and
measures wall time and the process's CPU time (every thread of it: a blocking
client's reader thread counts). Every echo is checked for its type and length,
and one in :data:`CHECK_EVERY` (the first included) byte for byte; a wrong echo
raises :class:`EchoError`, which fails the client's cell loudly.

The asyncio and blocking loops are the same code with and without ``await``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tools.bench.clients.base import AsyncClient, AsyncLink, SyncClient, SyncLink
from tools.bench.scenarios import (
    PAYLOAD_VARIANTS,
    Message,
    Scenario,
    payloads,
    stream_batch,
)

__all__ = [
    "CHECK_EVERY",
    "EchoError",
    "Measurement",
    "RssMeasurement",
    "current_rss",
    "measure",
    "measure_rss",
]

CHECK_EVERY = 16  # a power of two: the check is a bit mask
CONNECT_BATCH = 50  # concurrent opens of the asyncio clients in the RSS scenario
CLOSE_TIMEOUT = 10.0


class EchoError(RuntimeError):
    """The server's echo did not come back as sent: the client is broken."""


@dataclass(frozen=True)
class Measurement:
    """``count`` messages (or connections) in ``wall`` seconds, ``cpu`` of CPU."""

    count: int
    wall: float
    cpu: float


@dataclass(frozen=True)
class RssMeasurement:
    """Resident memory before and after opening ``connections`` connections."""

    connections: int
    before: int
    after: int


def _mismatch(count: int, got: object, expected: Message) -> EchoError:
    got_repr = (
        f"{type(got).__name__} of length {len(got)}"
        if isinstance(got, (str, bytes, bytearray, memoryview))
        else repr(got)
    )
    return EchoError(
        f"echo {count} is wrong: got {got_repr}, expected "
        f"{type(expected).__name__} of length {len(expected)}"
        + (
            " (same type and length, different content)"
            if type(got) is type(expected)
            else ""
        )
    )


def _expected(scenario: Scenario, raw: bool) -> tuple[Sequence[Message], list[Message]]:
    messages = payloads(scenario.size, scenario.text)
    expected: list[Message] = [
        message.encode() if raw and isinstance(message, str) else message
        for message in messages
    ]
    return messages, expected


def _warmup_minimum(scenario: Scenario) -> int:
    """Messages of the warm-up at least: every variant once, so that a raw client
    has masked each frame it will send before the clock starts; one message of a
    compressed scenario (a 1 MiB one takes a tenth of a second), where no raw
    client takes part.
    """
    return 1 if scenario.deflate else PAYLOAD_VARIANTS


# asyncio.


async def _rr_async(
    link: AsyncLink,
    messages: Sequence[Message],
    expected: Sequence[Message],
    seconds: float,
    minimum: int,
) -> int:
    send, recv = link.send, link.recv
    variants = len(messages)
    kind, size = type(expected[0]), len(expected[0])
    mask = CHECK_EVERY - 1
    deadline = time.perf_counter() + seconds
    count = 0
    while True:
        index = count % variants
        pending = send(messages[index])
        if pending is not None:
            await pending
        got = await recv()
        if (
            type(got) is not kind
            or len(got) != size
            or (not count & mask and got != expected[index])
        ):
            raise _mismatch(count, got, expected[index])
        count += 1
        if count >= minimum and time.perf_counter() >= deadline:
            return count


async def _stream_async(
    link: AsyncLink,
    messages: Sequence[Message],
    expected: Sequence[Message],
    seconds: float,
    minimum: int,
) -> int:
    send, recv = link.send, link.recv
    variants = len(messages)
    kind, size = type(expected[0]), len(expected[0])
    batch = stream_batch(size)
    mask = CHECK_EVERY - 1
    deadline = time.perf_counter() + seconds
    count = 0
    while True:
        for index in range(batch):
            pending = send(messages[index % variants])
            if pending is not None:
                await pending
        for index in range(batch):
            got = await recv()
            if (
                type(got) is not kind
                or len(got) != size
                or (not (count + index) & mask and got != expected[index % variants])
            ):
                raise _mismatch(count + index, got, expected[index % variants])
        count += batch
        if count >= minimum and time.perf_counter() >= deadline:
            return count


async def _connect_close_async(
    client: AsyncClient, url: str, seconds: float, minimum: int
) -> int:
    deadline = time.perf_counter() + seconds
    count = 0
    while True:
        link = await client.connect(url, deflate=False, text=False)
        await link.close()
        count += 1
        if count >= minimum and time.perf_counter() >= deadline:
            return count


async def _close_quietly_async(link: AsyncLink) -> None:
    """Close after a failure without hiding it behind a second one."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(link.close(), CLOSE_TIMEOUT)


async def measure_async(
    client: AsyncClient,
    scenario: Scenario,
    url: str,
    *,
    duration: float,
    warmup: float,
    raw: bool,
) -> Measurement:
    await client.start()
    try:
        if scenario.kind == "connect-close":
            await _connect_close_async(client, url, warmup, 2)
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            count = await _connect_close_async(client, url, duration, 1)
            return Measurement(
                count, time.perf_counter() - wall, time.process_time() - cpu
            )
        loop = _rr_async if scenario.kind == "rr" else _stream_async
        messages, expected = _expected(scenario, raw)
        link = await client.connect(url, deflate=scenario.deflate, text=scenario.text)
        try:
            await loop(link, messages, expected, warmup, _warmup_minimum(scenario))
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            count = await loop(link, messages, expected, duration, 1)
            result = Measurement(
                count, time.perf_counter() - wall, time.process_time() - cpu
            )
        except BaseException:
            await _close_quietly_async(link)
            raise
        await link.close()
        return result
    finally:
        await client.stop()


async def rss_async(
    client: AsyncClient, url: str, *, connections: int, idle: float
) -> RssMeasurement:
    messages, expected = _expected(Scenario("rr", 16, False), False)
    await client.start()
    try:
        # One connection first, so that lazy imports and caches are not counted.
        probe = await client.connect(url, deflate=False, text=False)
        await _rr_async(probe, messages, expected, 0.0, 1)
        await probe.close()
        gc.collect()
        before = current_rss()
        links: list[AsyncLink] = []
        while len(links) < connections:
            count = min(CONNECT_BATCH, connections - len(links))
            links += await asyncio.gather(
                *(client.connect(url, deflate=False, text=False) for _ in range(count))
            )
        await asyncio.sleep(idle)
        gc.collect()
        after = current_rss()
        for link in links:  # every one of them is a working connection
            await _rr_async(link, messages, expected, 0.0, 1)
        for start in range(0, len(links), CONNECT_BATCH):
            await asyncio.gather(
                *(link.close() for link in links[start : start + CONNECT_BATCH])
            )
        return RssMeasurement(len(links), before, after)
    finally:
        await client.stop()


# Blocking.


def _rr_sync(
    link: SyncLink,
    messages: Sequence[Message],
    expected: Sequence[Message],
    seconds: float,
    minimum: int,
) -> int:
    send, recv = link.send, link.recv
    variants = len(messages)
    kind, size = type(expected[0]), len(expected[0])
    mask = CHECK_EVERY - 1
    deadline = time.perf_counter() + seconds
    count = 0
    while True:
        index = count % variants
        send(messages[index])
        got = recv()
        if (
            type(got) is not kind
            or len(got) != size
            or (not count & mask and got != expected[index])
        ):
            raise _mismatch(count, got, expected[index])
        count += 1
        if count >= minimum and time.perf_counter() >= deadline:
            return count


def _stream_sync(
    link: SyncLink,
    messages: Sequence[Message],
    expected: Sequence[Message],
    seconds: float,
    minimum: int,
) -> int:
    send, recv = link.send, link.recv
    variants = len(messages)
    kind, size = type(expected[0]), len(expected[0])
    batch = stream_batch(size)
    mask = CHECK_EVERY - 1
    deadline = time.perf_counter() + seconds
    count = 0
    while True:
        for index in range(batch):
            send(messages[index % variants])
        for index in range(batch):
            got = recv()
            if (
                type(got) is not kind
                or len(got) != size
                or (not (count + index) & mask and got != expected[index % variants])
            ):
                raise _mismatch(count + index, got, expected[index % variants])
        count += batch
        if count >= minimum and time.perf_counter() >= deadline:
            return count


def _connect_close_sync(
    client: SyncClient, url: str, seconds: float, minimum: int
) -> int:
    deadline = time.perf_counter() + seconds
    count = 0
    while True:
        link = client.connect(url, deflate=False, text=False)
        link.close()
        count += 1
        if count >= minimum and time.perf_counter() >= deadline:
            return count


def measure_sync(
    client: SyncClient,
    scenario: Scenario,
    url: str,
    *,
    duration: float,
    warmup: float,
    raw: bool,
) -> Measurement:
    client.start()
    try:
        if scenario.kind == "connect-close":
            _connect_close_sync(client, url, warmup, 2)
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            count = _connect_close_sync(client, url, duration, 1)
            return Measurement(
                count, time.perf_counter() - wall, time.process_time() - cpu
            )
        loop = _rr_sync if scenario.kind == "rr" else _stream_sync
        messages, expected = _expected(scenario, raw)
        link = client.connect(url, deflate=scenario.deflate, text=scenario.text)
        try:
            loop(link, messages, expected, warmup, _warmup_minimum(scenario))
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            count = loop(link, messages, expected, duration, 1)
            result = Measurement(
                count, time.perf_counter() - wall, time.process_time() - cpu
            )
        except BaseException:
            with contextlib.suppress(Exception):
                link.close()
            raise
        link.close()
        return result
    finally:
        client.stop()


def rss_sync(
    client: SyncClient, url: str, *, connections: int, idle: float
) -> RssMeasurement:
    messages, expected = _expected(Scenario("rr", 16, False), False)
    client.start()
    try:
        probe = client.connect(url, deflate=False, text=False)
        _rr_sync(probe, messages, expected, 0.0, 1)
        probe.close()
        gc.collect()
        before = current_rss()
        links = [
            client.connect(url, deflate=False, text=False) for _ in range(connections)
        ]
        time.sleep(idle)
        gc.collect()
        after = current_rss()
        for link in links:
            _rr_sync(link, messages, expected, 0.0, 1)
        for link in links:
            link.close()
        return RssMeasurement(len(links), before, after)
    finally:
        client.stop()


# Entry points.


def measure(
    client: AsyncClient | SyncClient,
    scenario: Scenario,
    url: str,
    *,
    duration: float,
    warmup: float,
    raw: bool,
) -> Measurement:
    """Run one throughput or connect scenario; asyncio clients on plain asyncio."""
    if isinstance(client, AsyncClient):
        return asyncio.run(
            measure_async(
                client, scenario, url, duration=duration, warmup=warmup, raw=raw
            )
        )
    return measure_sync(
        client, scenario, url, duration=duration, warmup=warmup, raw=raw
    )


def measure_rss(
    client: AsyncClient | SyncClient, url: str, *, connections: int, idle: float
) -> RssMeasurement:
    """Open ``connections`` connections, idle ``idle`` seconds, read the RSS."""
    if isinstance(client, AsyncClient):
        return asyncio.run(rss_async(client, url, connections=connections, idle=idle))
    return rss_sync(client, url, connections=connections, idle=idle)


def current_rss() -> int:
    """The resident set size of this process, in bytes."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import importlib

        # Imported by name: psutil is optional where /proc exists.
        psutil = importlib.import_module("psutil")
        return int(psutil.Process().memory_info().rss)
