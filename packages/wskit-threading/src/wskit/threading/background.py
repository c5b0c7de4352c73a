"""The one background thread that every connection of the process shares.

This module is I/O-specific. The thread runs timers (keepalive pings, close
timeouts, the hand-over of reading described below) and reads, without ever
blocking, the sockets of connections whose application is not reading: it answers
the server's pings, echoes its close frame and queues messages while the
application does something else.

One thread for all connections rather than one or two per connection: an idle
connection then costs a socket and a few objects, not thread stacks; a
thousand idle connections do not need a thousand threads. The thread starts
when a connection first needs it and exits once no connection needs it any
more, after a short linger so that a program opening connection after connection
does not start a thread for each.

Callbacks run in the background thread and must not block: they write with
``flush(blocking=False)`` and read with ``MSG_DONTWAIT``.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable

__all__ = ["BACKGROUND", "Background", "Handle"]

logger = logging.getLogger("wskit.client")

# How long the thread stays after its last task, in seconds.
_LINGER = 0.05
# Rebuild the timer heap when it holds more cancelled entries than this and
# than live ones, so that cancelled timeouts do not pile up.
_COMPACT_ABOVE = 256

# Selectors whose registrations apply to a select() call already waiting in
# another thread; the others need a wake-up to see a new socket.
_LIVE_SELECTORS: tuple[type[selectors.BaseSelector], ...] = tuple(
    getattr(selectors, name)
    for name in ("EpollSelector", "KqueueSelector")
    if hasattr(selectors, name)
)


class Handle:
    """A scheduled call; :meth:`cancel` it when it is no longer wanted."""

    __slots__ = ("_owner", "callback", "done", "when")

    def __init__(
        self, when: float, callback: Callable[[], None], owner: Background
    ) -> None:
        self.when = when
        self.callback = callback
        self.done = False
        self._owner = owner

    def __lt__(self, other: Handle) -> bool:
        return self.when < other.when

    def cancel(self) -> None:
        """Drop the call if it has not run yet; calling it again does nothing."""
        self._owner._cancel(self)


class Background:
    """Timers and non-blocking reads for every connection, in one thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heap: list[Handle] = []
        self._live = 0
        self._cancelled = 0
        # The descriptors watched.
        self._fds: set[int] = set()
        # Counts requests, so that the lingering thread tells a quiet moment
        # from a program that keeps opening connections.
        self._requests = 0
        self._selector: selectors.BaseSelector | None = None
        self._wake_on_change = True
        self._wake_w: socket.socket | None = None
        # When the thread wakes up by itself; -inf while it is awake.
        self._deadline = -math.inf
        self.thread: threading.Thread | None = None

    # Any thread.

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle:
        """Run ``callback`` in the background thread at ``when`` (monotonic).

        Returns:
            A handle that cancels the call.
        """
        handle = Handle(when, callback, self)
        with self._lock:
            heapq.heappush(self._heap, handle)
            self._live += 1
            self._requests += 1
            self._ensure_started()
            if when < self._deadline:
                self._wake()
        return handle

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        """Run ``callback`` in the background thread in ``delay`` seconds."""
        return self.call_at(time.monotonic() + delay, callback)

    def _cancel(self, handle: Handle) -> None:
        with self._lock:
            if handle.done:
                return
            handle.done = True
            self._live -= 1
            self._cancelled += 1
            if self._cancelled > _COMPACT_ABOVE and self._cancelled > self._live:
                self._heap = [entry for entry in self._heap if not entry.done]
                heapq.heapify(self._heap)
                self._cancelled = 0
            self._wake_if_idle()

    def watch(self, sock: socket.socket, callback: Callable[[], None]) -> None:
        """Call ``callback`` in the background thread whenever ``sock`` is
        readable, until :meth:`unwatch`. Watching a watched socket does nothing."""
        with self._lock:
            self._ensure_started()
            assert self._selector is not None
            # Looked up rather than caught: the selector's KeyError formats the
            # socket, which costs system calls.
            fd = sock.fileno()
            if fd < 0 or fd in self._fds:
                return
            self._selector.register(sock, selectors.EVENT_READ, callback)
            self._fds.add(fd)
            self._requests += 1
            if self._wake_on_change:
                self._wake()

    def unwatch(self, sock: socket.socket) -> None:
        """Stop watching ``sock``; call it before closing the socket."""
        with self._lock:
            fd = sock.fileno()
            if self._selector is None or fd not in self._fds:
                return
            self._selector.unregister(sock)
            self._fds.discard(fd)
            self._wake_if_idle()

    # Internals; the caller holds the lock.

    def _wake(self) -> None:
        self._deadline = -math.inf
        if self._wake_w is not None:
            # A full pipe means the thread is being woken already.
            with contextlib.suppress(OSError):
                self._wake_w.send(b"\0")

    def _wake_if_idle(self) -> None:
        # Nothing left to do: let the sleeping thread see it and exit, unless it
        # wakes up soon anyway (as it does while it lingers): a program opening
        # and closing connections in turn then wakes it rarely.
        if (
            not self._live
            and not self._fds
            and self._deadline > time.monotonic() + _LINGER
        ):
            self._wake()

    def _ensure_started(self) -> None:
        if self.thread is not None:
            return
        selector = selectors.DefaultSelector()
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        selector.register(wake_r, selectors.EVENT_READ, None)
        self._selector = selector
        self._wake_on_change = not isinstance(selector, _LIVE_SELECTORS)
        self._wake_w = wake_w
        self._deadline = -math.inf
        self.thread = threading.Thread(
            target=self._run,
            args=(selector, wake_r, wake_w),
            name="wskit-background",
            daemon=True,
        )
        self.thread.start()

    # The thread.

    def _run(
        self,
        selector: selectors.BaseSelector,
        wake_r: socket.socket,
        wake_w: socket.socket,
    ) -> None:
        idle_since: float | None = None
        requests = -1
        try:
            while True:
                due: list[Handle] = []
                with self._lock:
                    now = time.monotonic()
                    heap = self._heap
                    while heap and (heap[0].done or heap[0].when <= now):
                        handle = heapq.heappop(heap)
                        if handle.done:
                            self._cancelled -= 1
                            continue
                        handle.done = True
                        self._live -= 1
                        due.append(handle)
                    timeout: float | None
                    if due:
                        timeout = 0.0
                    elif not self._live and not self._fds:
                        if idle_since is None or requests != self._requests:
                            idle_since = now
                            requests = self._requests
                        elif now - idle_since >= _LINGER:
                            self.thread = None
                            self._heap = []
                            self._fds.clear()
                            self._cancelled = 0
                            self._selector = None
                            self._wake_w = None
                            return
                        timeout = _LINGER
                    else:
                        idle_since = None
                        timeout = heap[0].when - now if heap else None
                    self._deadline = math.inf if timeout is None else now + timeout
                for handle in due:
                    self._call(handle.callback)
                if due:
                    continue
                events = selector.select(timeout)
                self._deadline = -math.inf
                for key, _ in events:
                    if key.data is None:
                        try:
                            while wake_r.recv(4096):
                                pass
                        except OSError:
                            pass
                    else:
                        self._call(key.data)
        finally:
            selector.close()
            wake_r.close()
            wake_w.close()

    @staticmethod
    def _call(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # pragma: no cover - a bug: keep serving the others
            logger.exception("error in the wskit background thread")

    def _after_fork(self) -> None:
        # The thread does not exist in a forked child: start afresh there.
        self._lock = threading.Lock()
        self._heap = []
        self._live = self._cancelled = 0
        self._fds = set()
        self._selector = None
        self._wake_w = None
        self._deadline = -math.inf
        self.thread = None


BACKGROUND = Background()
"""The background thread of the process."""

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=BACKGROUND._after_fork)
