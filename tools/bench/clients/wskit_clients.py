"""The three wskit clients, each with its default settings but for compression,
the size limit and the proxy (the benchmark talks to 127.0.0.1: no proxy lookup).
"""

from __future__ import annotations

import wskit.asyncio
import wskit.legacy
import wskit.threading
from tools.bench.clients.base import AsyncClient, AsyncLink, SyncClient, SyncLink
from tools.bench.server import MAX_SIZE

__all__ = ["WskitAsyncio", "WskitLegacy", "WskitThreading"]


class WskitAsyncio(AsyncClient):
    async def connect(self, url: str, *, deflate: bool, text: bool) -> AsyncLink:
        ws = await wskit.asyncio.connect(
            url,
            compression="deflate" if deflate else None,
            max_size=MAX_SIZE,
            proxy=None,
        )
        return AsyncLink(ws.send, ws.recv, ws.close)


class WskitThreading(SyncClient):
    def connect(self, url: str, *, deflate: bool, text: bool) -> SyncLink:
        ws = wskit.threading.connect(
            url,
            compression="deflate" if deflate else None,
            max_size=MAX_SIZE,
            proxy=None,
        )
        return SyncLink(ws.send, ws.recv, ws.close)


class WskitLegacy(AsyncClient):
    """Only names that legacy code and the new API share: no deprecation warning."""

    async def connect(self, url: str, *, deflate: bool, text: bool) -> AsyncLink:
        ws = await wskit.legacy.connect(
            url, compression="deflate" if deflate else None, max_size=MAX_SIZE
        )
        return AsyncLink(ws.send, ws.recv, ws.close)
