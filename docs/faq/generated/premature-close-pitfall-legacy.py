# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-premature-close-pitfall-asyncio): do not edit.

import asyncio

import wskit.legacy as websockets


async def main():
    async with websockets.connect("ws://example.com/") as websocket:
        await websocket.send("Hello")
    # The connection is closed here: the server's reply is never read.


asyncio.run(main())
