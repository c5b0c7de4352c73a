"""What the benchmark measures: one scenario per line of the report.

A scenario is identified by a short id used on the command line and in the JSON
(``rr-16-text``, ``stream-1m-binary-deflate``, ``connect-close``, ``rss``) and
shown with a label (``request/response 16 B text``). The payloads are built here,
once, from a fixed seed, so that every client sends the same bytes in every run.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFLATE_SERVER",
    "KINDS",
    "PAYLOAD_VARIANTS",
    "SCENARIOS",
    "SIZES",
    "Kind",
    "Message",
    "Scenario",
    "by_id",
    "human_size",
    "payloads",
    "select",
    "stream_batch",
]

Message = str | bytes
Kind = Literal["rr", "stream", "connect-close", "rss"]

KINDS: tuple[Kind, ...] = ("rr", "stream", "connect-close", "rss")
SIZES = (16, 1024, 64 * 1024, 1024 * 1024)
# Each message of a run is one of a few distinct payloads, in turn, so that an
# echo returned out of order or stale does not compare equal by chance.
PAYLOAD_VARIANTS = 4
# Which server answers: the uncompressed scenarios go to the fastest server at
# hand, the compressed ones to a server that speaks permessage-deflate.
DEFLATE_SERVER = "websockets"
PLAIN_SERVER = "picows"
# A stream batch keeps at most this many bytes in flight, so that a blocking
# client writing a whole batch before reading never fills every buffer between
# it and the server (the server stops reading when it cannot write).
STREAM_BYTES_IN_FLIGHT = 1 << 20
STREAM_MAX_BATCH = 1000
STREAM_MIN_BATCH = 2

_WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "price",
    "volume",
    "open",
    "close",
    "high",
    "low",
    "bid",
    "ask",
    "symbol",
    "trade",
    "order",
    "status",
    "filled",
    "partial",
    "cancel",
    "true",
    "false",
    "null",
    "id",
    "ts",
    "seq",
)


def human_size(size: int) -> str:
    """``16 B``, ``1 KiB``, ``64 KiB``, ``1 MiB``."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def _short_size(size: int) -> str:
    for unit, factor in (("m", 1 << 20), ("k", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


@dataclass(frozen=True)
class Scenario:
    """One measurement that every client runs once per round."""

    kind: Kind
    size: int = 0
    text: bool = False
    deflate: bool = False

    @property
    def id(self) -> str:
        if self.kind in ("connect-close", "rss"):
            return self.kind
        parts = [self.kind, _short_size(self.size), "text" if self.text else "binary"]
        if self.deflate:
            parts.append("deflate")
        return "-".join(parts)

    @property
    def label(self) -> str:
        if self.kind == "connect-close":
            return "connect + close"
        if self.kind == "rss":
            return "RSS per idle connection"
        name = "request/response" if self.kind == "rr" else "stream"
        label = f"{name} {human_size(self.size)} {'text' if self.text else 'binary'}"
        return label + (" deflate" if self.deflate else "")

    @property
    def server(self) -> str:
        return DEFLATE_SERVER if self.deflate else PLAIN_SERVER

    @property
    def unit(self) -> str:
        """What the throughput counts."""
        if self.kind == "connect-close":
            return "conn/s"
        if self.kind == "rss":
            return "KiB/conn"
        return "msg/s"

    @property
    def higher_is_better(self) -> bool:
        return self.kind != "rss"


def _build() -> tuple[Scenario, ...]:
    scenarios: list[Scenario] = []
    for deflate in (False, True):
        for kind in KINDS[:2]:
            for size in SIZES:
                for text in (True, False):
                    scenarios.append(Scenario(kind, size, text, deflate))
    scenarios.append(Scenario("connect-close"))
    scenarios.append(Scenario("rss"))
    return tuple(scenarios)


SCENARIOS = _build()
_BY_ID = {scenario.id: scenario for scenario in SCENARIOS}


def by_id(scenario_id: str) -> Scenario:
    """The scenario with this id.

    Raises:
        KeyError: No scenario has that id; the message lists the valid ones.
    """
    try:
        return _BY_ID[scenario_id]
    except KeyError:
        raise KeyError(
            f"unknown scenario {scenario_id!r}; valid ids: {', '.join(_BY_ID)}"
        ) from None


def select(patterns: Iterable[str]) -> list[Scenario]:
    """Scenarios whose id matches any of the shell-style patterns, in table order.

    Raises:
        ValueError: A pattern matches no scenario (a typo would otherwise run
            nothing and report nothing).
    """
    chosen: set[str] = set()
    for pattern in patterns:
        matched = fnmatch.filter(_BY_ID, pattern)
        if not matched:
            raise ValueError(
                f"--scenarios: {pattern!r} matches no scenario; valid ids: "
                f"{', '.join(_BY_ID)} (shell patterns such as 'rr-*' work)"
            )
        chosen.update(matched)
    return [scenario for scenario in SCENARIOS if scenario.id in chosen]


def stream_batch(size: int) -> int:
    """How many messages a stream scenario sends before reading the echoes."""
    return max(
        STREAM_MIN_BATCH, min(STREAM_MAX_BATCH, STREAM_BYTES_IN_FLIGHT // max(size, 1))
    )


def _text(rng: random.Random, size: int) -> str:
    """ASCII text made of words and numbers, like JSON records.

    Its compression ratio (about 3:1 with deflate) is that of real text, which is
    what the compressed scenarios are about; repeated bytes would compress to
    nothing and random bytes not at all.
    """
    count = size // 10 + 1  # a piece is at least 10 characters long
    words = rng.choices(_WORDS, k=count)
    numbers = rng.choices(range(100000), k=count)
    return "".join(f'"{w}":{n},' for w, n in zip(words, numbers, strict=True))[:size]


def _binary(rng: random.Random, size: int) -> bytes:
    """Bytes drawn from 16 values: about 2:1 with deflate, like packed records."""
    return rng.randbytes(size).translate(_LOW_NIBBLE)


_LOW_NIBBLE = bytes(value & 0x0F for value in range(256))


_cache: dict[tuple[int, bool], tuple[Message, ...]] = {}


def payloads(size: int, text: bool) -> Sequence[Message]:
    """The distinct payloads of a scenario: ``str`` for text, ``bytes`` for binary.

    Every variant has exactly ``size`` characters (ASCII, so as many bytes).
    """
    key = (size, text)
    if key not in _cache:
        rng = random.Random(f"wskit-bench-{size}-{text}")
        variants: list[Message] = []
        # Each variant is the body rotated, tagged with its index in the first
        # character: distinct, and as compressible as the body.
        cuts = [index * size // PAYLOAD_VARIANTS for index in range(PAYLOAD_VARIANTS)]
        if text:
            body = _text(rng, size)
            for index, cut in enumerate(cuts):
                variants.append(f"{index:x}" + (body[cut:] + body[:cut])[1:])
        else:
            data = _binary(rng, size)
            for index, cut in enumerate(cuts):
                variants.append(f"{index:x}".encode() + (data[cut:] + data[:cut])[1:])
        _cache[key] = tuple(variants)
    return _cache[key]
