# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-close-connection-context-asyncio): do not edit.

import asyncio

import wskit.legacy as websockets


async def main():
    async with websockets.connect("ws://example.com/") as websocket:
        await websocket.send("Hello")
        print(await websocket.recv())


asyncio.run(main())
