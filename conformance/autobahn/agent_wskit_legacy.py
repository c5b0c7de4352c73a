"""Autobahn|Testsuite echo agent on wskit.legacy, written as legacy code would be.

Run by the conformance runner, or by hand against a running fuzzing server::

    python conformance/autobahn/agent_wskit_legacy.py \\
        --url ws://127.0.0.1:9001 --agent wskit.legacy
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import wskit.legacy as websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from conformance.autobahn import dance

__all__ = ["MAX_SIZE", "echo", "read_text"]

# Cases 9.1.6 and 9.2.6 send 16 MiB messages.
MAX_SIZE = 2**25
OPEN_TIMEOUT = 10.0


async def _read_text(url: str) -> str:
    async with websockets.connect(url, open_timeout=OPEN_TIMEOUT) as websocket:
        message = await websocket.recv()
    return message if isinstance(message, str) else message.decode()


async def _echo(url: str) -> None:
    try:
        async with websockets.connect(
            url,
            open_timeout=OPEN_TIMEOUT,
            max_size=MAX_SIZE,
            compression="deflate",
            ping_interval=None,
        ) as websocket:
            async for message in websocket:
                await websocket.send(message)
    except websockets.WebSocketException:
        pass  # the case decides whether closing this way was right
    except OSError as exc:
        print(f"{url}: {exc!r}", file=sys.stderr)


def read_text(url: str) -> str:
    """Connect to ``url`` and return the first message as text."""
    return asyncio.run(_read_text(url))


def echo(url: str) -> None:
    """Connect to ``url`` and echo every message until the connection closes."""
    asyncio.run(_echo(url))


if __name__ == "__main__":
    sys.exit(dance.main(read_text, echo))
