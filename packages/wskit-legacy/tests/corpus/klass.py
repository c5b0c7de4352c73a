"""Tag a connection subclass (oldest spelling: klass)."""
# mypy: ignore-errors

import asyncio
import sys

from websockets.client import WebSocketClientProtocol, connect


class TaggedProtocol(WebSocketClientProtocol):
    tag = "tagged"


async def main(base_uri):
    async with connect(base_uri + "/echo", klass=TaggedProtocol) as websocket:
        await websocket.send(websocket.tag)
        return await websocket.recv()


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
