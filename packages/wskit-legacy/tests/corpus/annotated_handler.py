"""Pass the connection to a typed helper (legacy class name in annotations)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def exchange(websocket: websockets.WebSocketClientProtocol, words) -> list:
    replies = []
    for word in words:
        if websocket.closed:
            break
        await websocket.send(word)
        replies.append(await websocket.recv())
    return replies


async def main(base_uri):
    async with websockets.connect(base_uri + "/echo") as websocket:
        return await exchange(websocket, ["message 0", "message 1"])


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
