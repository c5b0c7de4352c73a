"""Authenticate with a header on the handshake request (legacy extra_headers)."""
# mypy: ignore-errors

import asyncio
import json
import sys

import websockets


async def main(base_uri):
    headers = {"Authorization": "Bearer secret", "X-Client": "corpus"}
    async with websockets.connect(
        base_uri + "/headers", extra_headers=headers
    ) as websocket:
        seen = json.loads(await websocket.recv())
        return [seen["authorization"], seen["x-client"]]


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
