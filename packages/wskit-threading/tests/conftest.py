"""Every test of this package leaves no descriptor, thread or task behind, and
fails instead of hanging."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from testing.guards import TaskCheckingPolicy, hang_guard, no_leaks


@pytest.fixture(autouse=True)
def leak_check() -> Iterator[None]:
    # The test servers run event loops in threads: their tasks are checked too.
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(TaskCheckingPolicy())
    try:
        with no_leaks(), hang_guard():
            yield
    finally:
        asyncio.set_event_loop_policy(previous)
