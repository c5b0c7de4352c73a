# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-stop-on-sigterm-asyncio): do not edit.

import asyncio
import signal

import wskit.legacy as websockets


async def main():
    async with websockets.connect("ws://example.com/") as websocket:
        # Close the connection when receiving SIGTERM.
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, loop.create_task, websocket.close())

        # Process messages received on the connection.
        async for message in websocket:
            print(message)


asyncio.run(main())
