"""The interface every client adapter implements, asyncio and blocking flavours.

An adapter opens a connection and hands back a *link*: the library's own bound
methods for sending, receiving and closing, picked once per connection (text or
binary). The measuring loops call those directly, so an adapter adds no call and
no ``await`` per message of its own where the library needs none. ``send`` may
return ``None`` instead of an awaitable, for libraries whose send is a plain
call (picows, a raw transport).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tools.bench.scenarios import Message

__all__ = [
    "AsyncClient",
    "AsyncLink",
    "DeflateUnsupported",
    "SyncClient",
    "SyncLink",
]


class DeflateUnsupported(RuntimeError):
    """The library has no permessage-deflate: its compressed cells stay empty."""


@dataclass(frozen=True, slots=True)
class AsyncLink:
    """One open connection of an asyncio client."""

    # Any: a link sends only str or only bytes, and some libraries type that.
    send: Callable[[Any], Awaitable[object] | None]
    recv: Callable[[], Awaitable[Message]]
    close: Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class SyncLink:
    """One open connection of a blocking client."""

    send: Callable[[Any], object]
    recv: Callable[[], Message]
    close: Callable[[], object]


class AsyncClient:
    """A client library on asyncio; ``start``/``stop`` bracket one measurement."""

    async def start(self) -> None:
        """Create what connections share (an HTTP session, for instance)."""

    async def stop(self) -> None:
        """Release what :meth:`start` created."""

    async def connect(self, url: str, *, deflate: bool, text: bool) -> AsyncLink:
        """Open a connection: compression on when ``deflate``, else off.

        Raises:
            DeflateUnsupported: ``deflate`` was asked of a library without it.
        """
        raise NotImplementedError


class SyncClient:
    """A blocking client library; ``start``/``stop`` bracket one measurement."""

    def start(self) -> None:
        """Create what connections share."""

    def stop(self) -> None:
        """Release what :meth:`start` created."""

    def connect(self, url: str, *, deflate: bool, text: bool) -> SyncLink:
        """Open a connection: compression on when ``deflate``, else off.

        Raises:
            DeflateUnsupported: ``deflate`` was asked of a library without it.
        """
        raise NotImplementedError
