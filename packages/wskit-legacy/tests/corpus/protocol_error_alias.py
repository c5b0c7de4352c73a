"""Group handshake and protocol errors (legacy WebSocketProtocolError)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets

FATAL = (
    websockets.exceptions.WebSocketProtocolError,
    websockets.exceptions.InvalidHandshake,
)


async def main(base_uri):
    try:
        await websockets.connect(base_uri + "/reject/404")
    except FATAL as exc:
        return ["fatal", str(exc)]
    return "connected"


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
