"""picows: a callback API, turned into ``recv()`` with a queue and one future.

This is how an application that awaits replies uses picows; the listener does
the least it can per frame: take the payload, append it, wake the reader.
"""

from __future__ import annotations

import asyncio
from collections import deque
from functools import partial
from typing import Any

import picows

from tools.bench.clients.base import AsyncClient, AsyncLink, DeflateUnsupported
from tools.bench.scenarios import Message
from tools.bench.server import MAX_SIZE

__all__ = ["Picows"]

TEXT = picows.WSMsgType.TEXT
BINARY = picows.WSMsgType.BINARY
CLOSE = picows.WSMsgType.CLOSE


class _Listener(picows.WSListener):  # type: ignore[misc, unused-ignore]
    def __init__(self) -> None:
        super().__init__()
        self.messages: deque[Message] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.error: Exception | None = None

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        msg_type = frame.msg_type
        if msg_type is TEXT:
            self.messages.append(frame.get_payload_as_utf8_text())
        elif msg_type is BINARY:
            self.messages.append(frame.get_payload_as_bytes())
        elif msg_type is CLOSE:
            self._fail(ConnectionError("picows: the server closed the connection"))
            return
        else:
            return
        if not frame.fin:
            # The server echoes frames as they come and picows clients send
            # whole messages: a fragment here means something else is wrong.
            self._fail(ConnectionError("picows: unexpected fragmented message"))
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def on_ws_disconnected(self, transport: Any) -> None:
        self._fail(ConnectionError("picows: disconnected"))

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    async def recv(self) -> Message:
        messages = self.messages
        if not messages:
            if self.error is not None:
                raise self.error
            waiter = asyncio.get_running_loop().create_future()
            self.waiter = waiter
            await waiter
        return messages.popleft()


class Picows(AsyncClient):
    async def connect(self, url: str, *, deflate: bool, text: bool) -> AsyncLink:
        if deflate:
            raise DeflateUnsupported("picows has no permessage-deflate")
        transport, listener = await picows.ws_connect(
            _Listener, url, max_frame_size=MAX_SIZE
        )
        assert isinstance(listener, _Listener)

        async def close() -> None:
            # The server answers the close frame and closes TCP first.
            transport.send_close(picows.WSCloseCode.OK)
            await transport.wait_disconnected()

        send = partial(transport.send, TEXT if text else BINARY)
        return AsyncLink(send, listener.recv, close)
