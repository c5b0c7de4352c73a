"""Check the connection before sending (legacy ensure_open)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    async with websockets.connect(base_uri + "/echo") as websocket:
        await websocket.ensure_open()
        await websocket.send("checked")
        return await websocket.recv()


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
