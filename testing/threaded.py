"""The asyncio test peers, hosted in a background thread, for the threading client.

Each server of :mod:`testing.servers` and proxy of :mod:`testing.proxy` is an async
context manager; here each has a synchronous twin of the same name that runs it in
its own event loop on a daemon thread. So a test written for the asyncio client,
``async with websockets_server() as peer``, becomes the threading client's test by
removing ``async``, which is what the test generator does.

The peers' records (``peer.requests``, ``peer.close_codes``, ...) are lists appended
in the loop's thread; the test's thread reads them, after a bounded wait with
:func:`wait_until` when the server may still be recording.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    contextmanager,
)
from typing import Any, ParamSpec, TypeVar

from . import proxy as _proxy
from . import servers as _servers
from .proxy import ProxyPeer
from .servers import TIMEOUT, Peer, accept_response, make_tls, status_response

__all__ = [
    "TIMEOUT",
    "Peer",
    "ProxyPeer",
    "accept_response",
    "aiohttp_server",
    "async_test",
    "deaf_server",
    "hosted",
    "http_proxy",
    "http_server",
    "make_tls",
    "silent_server",
    "socks5_proxy",
    "stalled_server",
    "status_response",
    "wait_until",
    "websockets_server",
]

_T = TypeVar("_T")
_P = ParamSpec("_P")


@contextmanager
def hosted(factory: Callable[[], AbstractAsyncContextManager[_T]]) -> Iterator[_T]:
    """Enter ``factory()`` in a new event loop on a daemon thread; exit it on exit.

    ``factory`` runs in that loop, since some servers need a running loop to be
    created (``websockets.asyncio.server.unix_serve``).

    Entering and exiting are each bounded by the scaled unit; an exception raised
    by the server while entering is raised here.
    """
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def host() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        box["stop"] = lambda: loop.call_soon_threadsafe(stop.set)
        try:
            async with factory() as value:
                box["value"] = value
                ready.set()
                await stop.wait()
        except BaseException as exc:
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=asyncio.run, args=(host(),), daemon=True)
    thread.start()
    if not ready.wait(TIMEOUT):  # pragma: no cover - server failed to start
        raise TimeoutError("test server did not start")
    if "error" in box:
        thread.join(TIMEOUT)
        raise box["error"]
    try:
        yield box["value"]
    finally:
        box["stop"]()
        thread.join(TIMEOUT)
        if thread.is_alive():  # pragma: no cover - server failed to stop
            raise TimeoutError("test server did not stop")
        if "error" in box:
            raise box["error"]


def _twin(
    factory: Callable[_P, AbstractAsyncContextManager[_T]],
) -> Callable[_P, AbstractContextManager[_T]]:
    @functools.wraps(factory)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> AbstractContextManager[_T]:
        return hosted(lambda: factory(*args, **kwargs))

    return wrapper


websockets_server = _twin(_servers.websockets_server)
aiohttp_server = _twin(_servers.aiohttp_server)
deaf_server = _twin(_servers.deaf_server)
silent_server = _twin(_servers.silent_server)
stalled_server = _twin(_servers.stalled_server)
http_server = _twin(_servers.http_server)
http_proxy = _twin(_proxy.http_proxy)
socks5_proxy = _twin(_proxy.socks5_proxy)


def async_test(func: Callable[_P, None]) -> Callable[_P, None]:
    """The twin of :func:`testing.asyncio_run.async_test` for synchronous tests.

    The test runs in the calling thread: every wait inside it is bounded on its
    own (socket timeouts, ``open_timeout``, ``close_timeout``, :func:`wait_until`).
    """
    return func


def wait_until(predicate: Callable[[], bool]) -> None:
    """Wait until ``predicate()`` is true, polling, bounded by the scaled unit.

    Raises:
        TimeoutError: ``predicate()`` stayed false.
    """
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in time")
        time.sleep(0.01)
