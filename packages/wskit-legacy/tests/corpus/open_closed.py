"""Poll the connection state (legacy open and closed)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    states = []
    async with websockets.connect(base_uri + "/echo") as websocket:
        states.append(websocket.open)
        if websocket.open and not websocket.closed:
            await websocket.send("still open")
            states.append(await websocket.recv())
        await websocket.close()
        states.append(websocket.open)
        states.append(websocket.closed)
    return states


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
