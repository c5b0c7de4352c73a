"""Tell closing codes apart through the exceptions module."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    outcomes = []
    for path in ("/close/4000/custom", "/close/1000"):
        async with websockets.connect(base_uri + path) as websocket:
            try:
                await websocket.recv()
            except websockets.exceptions.ConnectionClosedOK as exc:
                outcomes.append(["ok", exc.code])
            except websockets.exceptions.ConnectionClosedError as exc:
                outcomes.append(["error", exc.code, exc.reason])
    try:
        await websockets.client.connect(base_uri + "/reject/500")
    except websockets.exceptions.InvalidStatusCode as exc:
        outcomes.append(exc.status_code)
    return outcomes


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
