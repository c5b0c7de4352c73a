"""Read the handshake headers from the connection (legacy attributes)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets


async def main(base_uri):
    async with websockets.connect(
        base_uri + "/echo", extra_headers=[("X-Trace", "abc")]
    ) as websocket:
        sent = websocket.request_headers["X-Trace"]
        upgrade = websocket.response_headers["Upgrade"]
        accept = "Sec-WebSocket-Accept" in websocket.response_headers
        await websocket.send(sent)
        return [sent, upgrade, accept, await websocket.recv()]


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
