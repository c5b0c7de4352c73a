"""Log the request path and query of the connection (legacy path)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    websocket = await websockets.connect(base_uri + "/echo?room=7")
    try:
        await websocket.send(websocket.path)
        return await websocket.recv()
    finally:
        await websocket.close()


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
