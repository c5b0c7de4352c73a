"""Run async tests without a pytest plugin, each one bounded in time."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .servers import TIMEOUT

__all__ = ["async_test"]

_F = TypeVar("_F", bound=Callable[..., Coroutine[Any, Any, None]])


def async_test(func: _F) -> Callable[..., None]:
    """Turn ``async def test_x(...)`` into a sync test run by :func:`asyncio.run`.

    The whole test is bounded by three times the scaled unit, so a hang fails
    the test instead of the run.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async def bounded() -> None:
            await asyncio.wait_for(func(*args, **kwargs), 3 * TIMEOUT)

        asyncio.run(bounded())

    return wrapper
