"""Autobahn|Testsuite echo agent on wskit.threading, through its public API only.

Run by the conformance runner, or by hand against a running fuzzing server::

    python conformance/autobahn/agent_wskit_threading.py \\
        --url ws://127.0.0.1:9001 --agent wskit.threading
"""

from __future__ import annotations

import sys
from pathlib import Path

from wskit.threading import WebSocketException, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from conformance.autobahn import dance

__all__ = ["MAX_SIZE", "echo", "read_text"]

# Cases 9.1.6 and 9.2.6 send 16 MiB messages.
MAX_SIZE = 2**25
OPEN_TIMEOUT = 10.0


def read_text(url: str) -> str:
    """Connect to ``url`` and return the first message as text."""
    with connect(url, open_timeout=OPEN_TIMEOUT, proxy=None) as websocket:
        message = websocket.recv()
    return message if isinstance(message, str) else message.decode()


def echo(url: str) -> None:
    """Connect to ``url`` and echo every message until the connection closes."""
    try:
        with connect(
            url,
            open_timeout=OPEN_TIMEOUT,
            max_size=MAX_SIZE,
            compression="deflate",
            ping_interval=None,
            proxy=None,
        ) as websocket:
            for message in websocket:
                websocket.send(message)
    except WebSocketException:
        pass  # the case decides whether closing this way was right
    except OSError as exc:
        print(f"{url}: {exc!r}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(dance.main(read_text, echo))
