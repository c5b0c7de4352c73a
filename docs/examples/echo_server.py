"""An echo server on ws://localhost:8765/ for trying the examples of these docs.

Run it with ``python echo_server.py``; stop it with Ctrl-C. It needs the
websockets library (``pip install websockets``).
"""

import asyncio

from websockets.asyncio.server import serve


async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)


async def main():
    # max_size=None: accept the large messages of the streaming examples.
    async with serve(echo, "localhost", 8765, max_size=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
