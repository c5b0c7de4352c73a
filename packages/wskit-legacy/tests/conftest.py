"""Every test of this package leaves no descriptor, thread or task behind."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from testing.guards import TaskCheckingPolicy, no_leaks


@pytest.fixture(autouse=True)
def leak_check() -> Iterator[None]:
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(TaskCheckingPolicy())
    try:
        with no_leaks():
            yield
    finally:
        asyncio.set_event_loop_policy(previous)
