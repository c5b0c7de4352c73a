"""Memory and resource checks of the client process.

RSS is read from ``/proc/self/statm`` once a second by a sampler thread; where
there is no ``/proc``, the peak from :func:`resource.getrusage` stands in. The
bound check compares the last third of the soak with the first third: a client
that leaks a little per message or per connection grows steadily, while a healthy
one levels off once its buffers and caches are warm.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from dataclasses import dataclass

__all__ = [
    "MIB",
    "Resources",
    "RssMonitor",
    "leaks",
    "read_rss",
    "rss_growth_problem",
]

MIB = 1024 * 1024

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def read_rss() -> int:
    """The process's resident set size in bytes (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as file:
            return int(file.read().split()[1]) * _PAGE
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux reports KiB, macOS bytes.
        return peak if sys.platform == "darwin" else peak * 1024


class RssMonitor:
    """Samples RSS every ``interval`` seconds in a daemon thread."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-rss", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> int:
        """Take a sample now, besides the periodic ones."""
        rss = read_rss()
        self.samples.append((time.monotonic(), rss))
        return rss

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def peak(self, since: float = 0.0, until: float = float("inf")) -> int:
        """The highest sample taken between two :func:`time.monotonic` times."""
        values = [rss for when, rss in self.samples if since <= when <= until]
        return max(values, default=0)


def rss_growth_problem(
    samples: list[int], *, ratio: float = 1.5, slack: int = 64 * MIB
) -> str | None:
    """Tell whether RSS kept growing over a run; ``None`` when it stayed bounded.

    The peak of the last third of the samples may exceed the peak of the first
    third by ``ratio`` times plus ``slack`` bytes at most: generous, because
    allocators keep freed memory and large messages come at random, but a leak
    that doubles memory over the run fails it.

    Args:
        samples: RSS values in the order they were taken.
        ratio: Allowed growth factor.
        slack: Allowed growth on top of the factor, in bytes.
    """
    if len(samples) < 6:
        return None
    third = len(samples) // 3
    first = max(samples[:third])
    last = max(samples[-third:])
    limit = first * ratio + slack
    if last > limit:
        return (
            f"RSS grew from a peak of {first / MIB:.1f} MiB in the first third of "
            f"the run to {last / MIB:.1f} MiB in the last third (limit "
            f"{limit / MIB:.1f} MiB)"
        )
    return None


@dataclass(frozen=True, slots=True)
class Resources:
    """Threads and file descriptors of the process at one time."""

    threads: frozenset[str]
    fds: int

    @classmethod
    def now(cls) -> Resources:
        threads = frozenset(
            f"{thread.name}#{thread.ident}" for thread in threading.enumerate()
        )
        try:
            fds = len(os.listdir("/proc/self/fd"))
        except OSError:
            fds = 0
        return cls(threads, fds)


def leaks(before: Resources, settle: float = 10.0) -> list[str]:
    """Threads and file descriptors still open that were not open ``before``.

    Closing is asynchronous in places (a reader thread ends after the socket
    closes), so this waits up to ``settle`` seconds for them to go.
    """
    give_up = time.monotonic() + settle
    while True:
        after = Resources.now()
        threads = sorted(after.threads - before.threads)
        extra_fds = after.fds - before.fds
        if (not threads and extra_fds <= 0) or time.monotonic() > give_up:
            break
        time.sleep(0.1)
    problems = [f"thread still running: {name}" for name in threads]
    if extra_fds > 0:
        problems.append(f"{extra_fds} more file descriptors open than before")
    return problems
