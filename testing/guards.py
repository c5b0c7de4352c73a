"""Per-test guards: nothing leaks, nothing hangs.

Each client package's ``conftest.py`` wraps every test in :func:`no_leaks`: after
the test, no file descriptor it opened may still be open, no thread it started
may still run (non-daemon threads, and wskit's own daemon threads), and no
asyncio task may still be pending when an event loop's main coroutine returns
(:class:`TaskCheckingPolicy`). ResourceWarnings already fail tests
(``filterwarnings = error``); collecting garbage after each test makes the
warnings of objects caught in reference cycles show up in the test that leaked
them.

Threads and sockets take a moment to wind down after a test (a reader thread
closes its socket just after waking the application), so the checks retry for a
bounded while before failing; they never wait when nothing leaked.

The threading client's tests have no event loop to bound them: :func:`hang_guard`
interrupts a test that still runs after the same bound as
:func:`testing.asyncio_run.async_test` gives the asyncio tests.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import time
from collections.abc import Coroutine, Generator, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .servers import TIMEOUT

__all__ = ["TaskCheckingPolicy", "hang_guard", "no_leaks", "open_fds"]

_T = TypeVar("_T")

# Pending tasks found when a loop's main coroutine returned, as text.
_leaked_tasks: list[str] = []
_leaked_lock = threading.Lock()
_SETTLE_ITERATIONS = 5


class _TaskCheckingLoop(asyncio.SelectorEventLoop):
    """Records the tasks still pending when the first ``run_until_complete``
    (the main coroutine of :func:`asyncio.run`) returns: ``asyncio.run`` would
    cancel them silently."""

    _checked = False

    def run_until_complete(
        self, future: Generator[Any, None, _T] | Coroutine[Any, Any, _T] | Any
    ) -> _T:
        result: _T = super().run_until_complete(future)
        if not self._checked:
            self._checked = True
            # A task cancelled just before the end finishes within a few
            # iterations of the loop: that is not a leak.
            for _ in range(_SETTLE_ITERATIONS):
                if all(task.done() for task in asyncio.all_tasks(self)):
                    break
                super().run_until_complete(asyncio.sleep(0))
            pending = [task for task in asyncio.all_tasks(self) if not task.done()]
            if pending:
                with _leaked_lock:
                    _leaked_tasks.extend(repr(task) for task in pending)
        return result


class TaskCheckingPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose loops report leaked tasks to :func:`no_leaks`."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return _TaskCheckingLoop()


def open_fds() -> dict[int, str]:
    """The process's open file descriptors and what they point to (Linux only;
    empty elsewhere, which disables the check)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # pragma: no cover - not Linux
        return {}
    fds: dict[int, str] = {}
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the descriptor listdir used, closed since
        fds[int(name)] = target
    return fds


def _lingering(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread not in before
        and thread.is_alive()
        and (not thread.daemon or thread.name.startswith("wskit"))
    ]


def _new_fds(before: dict[int, str]) -> dict[int, str]:
    return {
        fd: target
        for fd, target in open_fds().items()
        if before.get(fd) != target and not target.startswith("/proc/")
    }


@contextmanager
def no_leaks(settle: float = TIMEOUT) -> Iterator[None]:
    """Fail if the block leaves descriptors, threads or pending tasks behind.

    Args:
        settle: How long to let threads and sockets wind down before failing.

    Raises:
        AssertionError: Something leaked; the message lists what.
    """
    fds = open_fds()
    threads = set(threading.enumerate())
    with _leaked_lock:
        _leaked_tasks.clear()
    yield
    deadline = time.monotonic() + settle
    while True:
        gc.collect()
        new_fds = _new_fds(fds)
        lingering = _lingering(threads)
        if not new_fds and not lingering:
            break
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the test leaked file descriptors {new_fds} "
                f"and threads {[thread.name for thread in lingering]}"
            )
        time.sleep(0.01)
    # What survived is alive on purpose (modules, caches): move it out of the
    # collector's sight, so that the next test's collection scans only what
    # that test created and costs milliseconds rather than a full heap walk.
    gc.freeze()
    with _leaked_lock:
        tasks, _leaked_tasks[:] = list(_leaked_tasks), []
    assert not tasks, f"tasks still pending when the event loop finished: {tasks}"


@contextmanager
def hang_guard(limit: float = 3 * TIMEOUT) -> Iterator[None]:
    """Interrupt the main thread with :exc:`TimeoutError` after ``limit`` seconds.

    A blocking call of the threading client that never returns then fails its
    test instead of stalling the whole run. Does nothing outside the main thread
    or where ``SIGALRM`` does not exist.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):  # pragma: no cover - Windows
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"the test still runs after {limit} s: it hangs")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
