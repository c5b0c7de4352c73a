"""websocket-client (``import websocket``), blocking, with its defaults.

Without the optional ``wsaccel`` package it validates UTF-8 in pure Python, which
is what a plain install gets; the benchmark does not install ``wsaccel``.
"""

from __future__ import annotations

import websocket

from tools.bench.clients.base import DeflateUnsupported, SyncClient, SyncLink

__all__ = ["WebsocketClient"]


class WebsocketClient(SyncClient):
    def connect(self, url: str, *, deflate: bool, text: bool) -> SyncLink:
        if deflate:
            raise DeflateUnsupported("websocket-client has no permessage-deflate")
        ws = websocket.create_connection(url)
        return SyncLink(ws.send if text else ws.send_binary, ws.recv, ws.close)
