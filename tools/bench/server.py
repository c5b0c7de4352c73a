"""The echo servers, each in a process of its own.

The server must never be what limits a client, so the uncompressed scenarios run
against picows on uvloop, the fastest Python WebSocket server at hand, echoing
every frame as it arrives. picows has no permessage-deflate, so the compressed
scenarios run against the websockets library's asyncio server, on uvloop too,
which refuses any connection that did not negotiate compression: a client whose
compression setting was ignored fails loudly instead of measuring the wrong thing.

Run as ``python -m tools.bench.server picows|websockets [uvloop|asyncio]``: the
child binds an ephemeral port on 127.0.0.1, prints ``PORT <n>`` and serves until
its standard input closes, so it never outlives the benchmark.
:class:`ServerProcess` starts it from the parent. The benchmark always uses
uvloop; plain asyncio is for the tests, which do not install uvloop.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import resource
import select
import subprocess
import sys
import threading
from types import TracebackType
from typing import Any

from tools.bench import ROOT

__all__ = ["MAX_SIZE", "ServerProcess", "raise_fd_limit"]

# Large enough for a 1 MiB message with room to spare, on every side.
MAX_SIZE = 32 * 1024 * 1024
BACKLOG = 4096
SERVERS = ("picows", "websockets")
LOOPS = ("uvloop", "asyncio")
STARTUP_TIMEOUT = 30.0


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise the soft limit of open files towards ``wanted``; return the new one.

    A thousand idle connections need a thousand descriptors in the client and as
    many in the server, more than the usual soft limit of 1024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


class ServerProcess:
    """An echo server child process; a context manager that stops it on exit."""

    def __init__(self, kind: str, loop: str = "uvloop") -> None:
        if kind not in SERVERS:
            raise ValueError(f"unknown server {kind!r}; use 'picows' or 'websockets'")
        if loop not in LOOPS:
            raise ValueError(f"unknown event loop {loop!r}; use 'uvloop' or 'asyncio'")
        self.kind = kind
        self.loop = loop
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def start(self) -> None:
        """Start the child and wait for its port.

        Raises:
            RuntimeError: The child exited or said nothing within the startup
                timeout; the message includes what it wrote on stderr.
        """
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.bench.server", self.kind, self.loop],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._process = process
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
        line = process.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            process.kill()
            _, err = process.communicate()
            raise RuntimeError(
                f"the {self.kind} echo server did not start (is the bench "
                f"dependency group installed?): {line!r}\n"
                + err.decode(errors="replace")
            )
        self.port = int(line.split()[1])

    def check(self) -> None:
        """Raise if the child died, which would make every client fail."""
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError(f"the {self.kind} echo server is not running")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# The child.


def _picows_server() -> Any:
    """The listener factory of an echo server that returns every frame as is."""
    import picows

    class Echo(picows.WSListener):  # type: ignore[misc, unused-ignore]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            msg_type = frame.msg_type
            if msg_type is picows.WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_reason())
                transport.disconnect()
            elif msg_type is picows.WSMsgType.PING:
                transport.send_pong(frame.get_payload_as_bytes())
            elif msg_type is not picows.WSMsgType.PONG:
                transport.send(msg_type, frame.get_payload_as_memoryview(), frame.fin)

    async def start() -> Any:
        return await picows.ws_create_server(
            lambda request: Echo(),
            "127.0.0.1",
            0,
            max_frame_size=MAX_SIZE,
            backlog=BACKLOG,
        )

    return start


def _websockets_server() -> Any:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(connection: ServerConnection) -> None:
        names = [extension.name for extension in connection.protocol.extensions]
        if "permessage-deflate" not in names:
            await connection.close(
                1008, "this server is for the compressed scenarios: offer deflate"
            )
            return
        async for message in connection:
            await connection.send(message)

    async def start() -> Any:
        return await serve(
            echo,
            "127.0.0.1",
            0,
            compression="deflate",
            max_size=MAX_SIZE,
            ping_interval=None,
            backlog=BACKLOG,
        )

    return start


async def _serve(kind: str) -> None:
    start = _picows_server() if kind == "picows" else _websockets_server()
    server = await start()
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()

    def watch_stdin() -> None:
        # The parent closes our stdin to stop us, or dies: either way, EOF.
        while sys.stdin.buffer.read(1):
            pass
        loop.call_soon_threadsafe(stopped.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    await stopped.wait()
    server.close()


def main(argv: list[str]) -> int:
    if (
        not 1 <= len(argv) <= 2
        or argv[0] not in SERVERS
        or argv[1:2]
        not in (
            [],
            *([loop] for loop in LOOPS),
        )
    ):
        sys.stderr.write(
            "usage: python -m tools.bench.server picows|websockets [uvloop|asyncio]\n"
        )
        return 2
    raise_fd_limit()
    if argv[1:] == ["asyncio"]:
        asyncio.run(_serve(argv[0]))
    else:
        # Imported by name: the type-check environment does not install the
        # benchmark's server dependencies.
        uvloop = importlib.import_module("uvloop")
        uvloop.run(_serve(argv[0]))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
