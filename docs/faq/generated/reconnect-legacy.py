# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-reconnect-asyncio): do not edit.

import asyncio

import wskit.legacy as websockets


async def main():
    async for websocket in websockets.connect("ws://example.com/"):
        try:
            async for message in websocket:
                print(message)
        except websockets.ConnectionClosed:
            continue


asyncio.run(main())
