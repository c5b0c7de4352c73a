# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-set-headers-asyncio): do not edit.

import asyncio

import wskit.legacy as websockets
from wskit.core.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
)


async def main():
    async with websockets.connect(
        "ws://example.com/",
        origin="https://example.com",
        extensions=[ClientPerMessageDeflateFactory(server_max_window_bits=10)],
        subprotocols=["chat"],
        user_agent_header="my-client/1.0",
        extra_headers={"Authorization": "Bearer 2b7e151628aed2a6"},
    ) as websocket:
        print(websocket.subprotocol)


asyncio.run(main())
