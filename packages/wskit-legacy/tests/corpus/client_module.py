"""Import connect from the client module and iterate over messages."""
# mypy: ignore-errors

import asyncio
import sys

from websockets.client import connect
from websockets.exceptions import ConnectionClosed


async def main(base_uri):
    received = []
    try:
        async with connect(base_uri + "/send/4") as websocket:
            while True:
                received.append(await websocket.recv())
    except ConnectionClosed as exc:
        received.append(exc.code)
    return received


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
