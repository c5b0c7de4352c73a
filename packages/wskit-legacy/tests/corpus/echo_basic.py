"""Send a message, read the echo, ping: nothing legacy but the import."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    async with websockets.connect(base_uri + "/echo") as websocket:
        await websocket.send("hello")
        echo = await websocket.recv()
        pong = await websocket.ping()
        await pong
        return [echo, websocket.latency > 0, websocket.close_code]


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
