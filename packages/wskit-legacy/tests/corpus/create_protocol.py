"""Count messages in a connection subclass (legacy create_protocol)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


class CountingProtocol(websockets.WebSocketClientProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = 0

    async def send(self, message, *args, **kwargs):
        self.sent += 1
        await super().send(message, *args, **kwargs)


async def main(base_uri):
    async with websockets.connect(
        base_uri + "/echo", create_protocol=CountingProtocol
    ) as websocket:
        for word in ("one", "two"):
            await websocket.send(word)
            await websocket.recv()
        return [type(websocket).__name__, websocket.sent]


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
