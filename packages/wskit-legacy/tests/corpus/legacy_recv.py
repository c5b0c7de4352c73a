"""Read until recv() returns None (legacy_recv)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    received = []
    async with websockets.connect(base_uri + "/send/3", legacy_recv=True) as websocket:
        while True:
            message = await websocket.recv()
            if message is None:
                break
            received.append(message)
    return received


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
