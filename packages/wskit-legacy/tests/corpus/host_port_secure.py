"""Log where the connection goes (legacy host, port, secure)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    async with websockets.connect(base_uri + "/echo") as websocket:
        where = [websocket.host, websocket.port, websocket.secure]
        await websocket.send(str(where[0]))
        await websocket.recv()
        return where


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
