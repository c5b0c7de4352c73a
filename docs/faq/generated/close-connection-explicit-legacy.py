# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-close-connection-explicit-asyncio): do not edit.

import asyncio

import wskit.legacy as websockets


async def main():
    websocket = await websockets.connect("ws://example.com/")
    await websocket.send("Hello")
    print(await websocket.recv())
    await websocket.close()


asyncio.run(main())
