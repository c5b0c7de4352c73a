"""aiohttp's WebSocket client: one ``ClientSession`` per measurement, as an
application keeps one, with no connection limit (the RSS scenario opens a
thousand WebSocket connections through it).
"""

from __future__ import annotations

import aiohttp

from tools.bench.clients.base import AsyncClient, AsyncLink
from tools.bench.server import MAX_SIZE

__all__ = ["Aiohttp"]


class Aiohttp(AsyncClient):
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def connect(self, url: str, *, deflate: bool, text: bool) -> AsyncLink:
        if self._session is None:
            raise RuntimeError("Aiohttp.start() was not called")
        # compress is the window size in bits; 0 disables compression.
        ws = await self._session.ws_connect(
            url, compress=15 if deflate else 0, max_msg_size=MAX_SIZE
        )
        if deflate and not ws.compress:
            await ws.close()
            raise RuntimeError("aiohttp did not negotiate permessage-deflate")
        if text:
            return AsyncLink(ws.send_str, ws.receive_str, ws.close)
        return AsyncLink(ws.send_bytes, ws.receive_bytes, ws.close)
