"""The websockets library's asyncio and sync clients.

Both default to permessage-deflate: compression is set explicitly either way.
"""

from __future__ import annotations

import websockets.asyncio.client
import websockets.sync.client

from tools.bench.clients.base import AsyncClient, AsyncLink, SyncClient, SyncLink
from tools.bench.server import MAX_SIZE

__all__ = ["WebsocketsAsyncio", "WebsocketsSync"]


class WebsocketsAsyncio(AsyncClient):
    async def connect(self, url: str, *, deflate: bool, text: bool) -> AsyncLink:
        ws = await websockets.asyncio.client.connect(
            url,
            compression="deflate" if deflate else None,
            max_size=MAX_SIZE,
            proxy=None,
        )
        return AsyncLink(ws.send, ws.recv, ws.close)


class WebsocketsSync(SyncClient):
    def connect(self, url: str, *, deflate: bool, text: bool) -> SyncLink:
        ws = websockets.sync.client.connect(
            url,
            compression="deflate" if deflate else None,
            max_size=MAX_SIZE,
            proxy=None,
        )
        return SyncLink(ws.send, ws.recv, ws.close)
