"""Bound the closing handshake (legacy timeout)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    async with websockets.connect(base_uri + "/echo", timeout=5) as websocket:
        await websocket.send("bye")
        reply = await websocket.recv()
    return [reply, websocket.close_timeout, websocket.close_code]


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
