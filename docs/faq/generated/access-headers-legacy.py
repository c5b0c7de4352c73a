# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-access-headers-asyncio): do not edit.

import asyncio

import wskit.legacy as websockets


async def main():
    async with websockets.connect("ws://example.com/") as websocket:
        # Headers sent in the opening handshake request.
        print(websocket.request_headers["Host"])
        # Headers received in the opening handshake response.
        print(websocket.response_headers["Server"])


asyncio.run(main())
