"""Pass the event loop and a read buffer size, as very old code did."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    loop = asyncio.get_running_loop()
    async with websockets.connect(
        base_uri + "/send/3", loop=loop, read_limit=2**16, max_queue=2
    ) as websocket:
        return [message async for message in websocket]


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
