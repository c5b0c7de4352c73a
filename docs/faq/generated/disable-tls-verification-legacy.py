# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-disable-tls-verification-asyncio): do not edit.

import asyncio
import ssl

import wskit.legacy as websockets

# Insecure: the server's identity is not checked.
ssl_context = ssl.create_default_context()
ssl_context.check_hostname = False
ssl_context.verify_mode = ssl.CERT_NONE


async def main():
    async with websockets.connect("wss://example.com/", ssl=ssl_context) as websocket:
        print(await websocket.recv())


asyncio.run(main())
