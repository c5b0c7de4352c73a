# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-set-headers-remove-asyncio): do not edit.

import asyncio

import wskit.legacy as websockets


async def main():
    async with websockets.connect(
        "ws://example.com/",
        user_agent_header=None,
        compression=None,
    ) as websocket:
        await websocket.send("Hello")
        print(await websocket.recv())


asyncio.run(main())
