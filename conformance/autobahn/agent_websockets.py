"""Autobahn|Testsuite echo agent on the websockets library's sync client.

A reference agent for proving the harness::

    python conformance/autobahn/agent_websockets.py \\
        --url ws://127.0.0.1:9001 --agent websockets
"""

from __future__ import annotations

import sys
from pathlib import Path

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from conformance.autobahn import dance

__all__ = ["MAX_SIZE", "echo", "read_text"]

MAX_SIZE = 2**24
OPEN_TIMEOUT = 10.0


def read_text(url: str) -> str:
    """Connect to ``url`` and return the first message as text."""
    with connect(url, open_timeout=OPEN_TIMEOUT, max_size=MAX_SIZE) as ws:
        message = ws.recv()
    return message if isinstance(message, str) else message.decode()


def echo(url: str) -> None:
    """Connect to ``url`` and echo every message until the connection closes."""
    try:
        with connect(
            url, open_timeout=OPEN_TIMEOUT, max_size=MAX_SIZE, compression="deflate"
        ) as ws:
            for message in ws:
                ws.send(message)
    except WebSocketException:
        pass  # the case decides whether closing this way was right
    except OSError as exc:
        print(f"{url}: {exc!r}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(dance.main(read_text, echo))
