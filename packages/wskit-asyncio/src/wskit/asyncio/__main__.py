"""An interactive client: ``python -m wskit.asyncio ws://host:port/``.

Lines typed on standard input are sent as text messages; messages received are
printed as they arrive. End of input (Ctrl-D) or Ctrl-C closes the connection
cleanly and exits with status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading

from wskit.core.exceptions import ConnectionClosed

from .client import connect
from .connection import ClientConnection

__all__ = ["main"]


def _read_stdin(
    loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]
) -> None:
    # Reading stdin blocks: a daemon thread does it, so that exiting never
    # waits for a line that will not come.
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def _print_messages(websocket: ClientConnection) -> None:
    async for message in websocket:
        if isinstance(message, bytes):
            print(f"< (binary) {message.hex()}", flush=True)
        else:
            print(f"< {message}", flush=True)


async def run(uri: str) -> int:
    """Connect to ``uri`` and relay stdin and messages until either side ends.

    Args:
        uri: The WebSocket URI.

    Returns:
        The exit status: 0 after a normal end, 1 after a connection error.
    """
    try:
        websocket = await connect(uri)
    except Exception as exc:
        print(f"Failed to connect to {uri}: {exc}", file=sys.stderr)
        return 1
    print(f"Connected to {uri}; type messages, Ctrl-D to exit.", file=sys.stderr)
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    reader = threading.Thread(target=_read_stdin, args=(loop, lines), daemon=True)
    reader.start()
    printer = asyncio.ensure_future(_print_messages(websocket))
    status = 0
    try:
        while True:
            getter = asyncio.ensure_future(lines.get())
            await asyncio.wait([getter, printer], return_when=asyncio.FIRST_COMPLETED)
            if printer.done():
                getter.cancel()
                break
            line = getter.result()
            if line is None:
                break
            await websocket.send(line)
    except ConnectionClosed:
        pass
    finally:
        await websocket.close()
        # Print what arrived before the close; the printer ends by itself now.
        try:
            await printer
        except ConnectionClosed as exc:
            print(f"Connection closed: {exc}", file=sys.stderr)
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the client.

    Args:
        argv: The arguments, without the program name; defaults to ``sys.argv``.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m wskit.asyncio",
        description="Interactive WebSocket client.",
    )
    parser.add_argument("uri", metavar="<uri>", help="ws:// or wss:// URI")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args.uri))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
