"""Reconnect after refusals and restarts (async for over connect)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    messages = []
    async for websocket in websockets.connect(base_uri + "/once"):
        try:
            messages.append(await websocket.recv())
            await websocket.recv()
        except websockets.ConnectionClosed:
            if len(messages) == 3:
                break
            continue
    return messages


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
