"""Report why the server refused the connection (legacy InvalidStatusCode)."""
# mypy: ignore-errors

import asyncio
import sys

import websockets
from websockets.exceptions import InvalidStatusCode


async def main(base_uri):
    try:
        async with websockets.connect(base_uri + "/reject/403"):
            return "connected"
    except InvalidStatusCode as exc:
        return [exc.status_code, exc.headers["X-Reject-Reason"]]


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
