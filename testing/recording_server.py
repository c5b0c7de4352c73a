"""A WebSocket server on 127.0.0.1 that records what clients did, for migration tests.

It runs the websockets library's modern asyncio server in-process. The request
path picks a behaviour; whatever the client sends, the headers of each handshake,
and how each connection closed are recorded in a :class:`Recording`, so that two
runs of a program (before and after a migration) can be compared by what the
server observed rather than by what the program printed.

Paths:

- ``/echo``: echo every message until the client closes.
- ``/greet``: send ``hello`` then echo.
- ``/send/N``: send ``message 0`` ... ``message N-1``, then close with 1000.
- ``/close/CODE`` or ``/close/CODE/REASON``: close with that code at once.
- ``/headers``: send the request headers as JSON (lower-case names), then echo.
- ``/reject/STATUS``: refuse the handshake with that HTTP status, a
  ``X-Reject-Reason: testing`` header and a short body.
- ``/once``: send ``connection N`` (N counts connections from 1), then close
  with 1001 (going away), as a restarting server does.
- ``/drop``: close TCP right after the handshake, without a close frame.

The first ``reject_first`` handshakes, whatever their path, are refused with
``reject_status`` (503 by default), to exercise reconnection.
"""

from __future__ import annotations

import dataclasses
import http
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers as WSHeaders
from websockets.http11 import Request as WSRequest
from websockets.http11 import Response as WSResponse

__all__ = ["VOLATILE_HEADERS", "Recording", "recording_server"]

VOLATILE_HEADERS = frozenset({"sec-websocket-key"})
"""Request headers that differ on every connection and are left out of records."""


@dataclasses.dataclass
class Recording:
    """A running recording server and what it observed.

    Attributes:
        port: The port bound on 127.0.0.1.
        requests: Per handshake: ``path`` plus the headers (lower-case names,
            repeated values joined with ``", "``), volatile headers left out.
        received: Every message received, in order, on every connection.
        closes: Per connection: ``(code, reason)`` as the server saw them.
        connections: How many handshakes succeeded.
        rejected: How many handshakes were refused.
    """

    port: int = 0
    requests: list[dict[str, str]] = dataclasses.field(default_factory=list)
    received: list[str | bytes] = dataclasses.field(default_factory=list)
    closes: list[tuple[int | None, str | None]] = dataclasses.field(
        default_factory=list
    )
    connections: int = 0
    rejected: int = 0

    def uri(self, path: str = "/echo") -> str:
        """The URI of ``path`` on this server."""
        return f"ws://127.0.0.1:{self.port}{path}"

    def observations(self) -> dict[str, Any]:
        """Everything recorded, as one comparable value."""
        return {
            "requests": self.requests,
            "received": self.received,
            "closes": self.closes,
            "connections": self.connections,
            "rejected": self.rejected,
        }


def _headers(headers: WSHeaders) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in headers.raw_items():
        key = name.lower()
        if key in VOLATILE_HEADERS:
            continue
        result[key] = f"{result[key]}, {value}" if key in result else value
    return result


@asynccontextmanager
async def recording_server(
    *, reject_first: int = 0, reject_status: int = 503
) -> AsyncIterator[Recording]:
    """Run the recording server on 127.0.0.1 with an ephemeral port.

    Args:
        reject_first: Refuse this many handshakes first.
        reject_status: The HTTP status of those refusals.

    Returns:
        The :class:`Recording`, filled in as clients connect.
    """
    recording = Recording()

    def process_request(
        connection: ServerConnection, request: WSRequest
    ) -> WSResponse | None:
        recording.requests.append({"path": request.path, **_headers(request.headers)})
        if recording.rejected < reject_first:
            recording.rejected += 1
            return connection.respond(http.HTTPStatus(reject_status), "later\n")
        parts = request.path.strip("/").split("/")
        if parts[0] == "reject":
            recording.rejected += 1
            response = connection.respond(http.HTTPStatus(int(parts[1])), "refused\n")
            response.headers["X-Reject-Reason"] = "testing"
            return response
        return None

    async def handler(ws: ServerConnection) -> None:
        recording.connections += 1
        assert ws.request is not None
        parts = ws.request.path.split("?")[0].strip("/").split("/")
        try:
            await _behave(ws, parts, recording)
        finally:
            await ws.wait_closed()
            recording.closes.append((ws.close_code, ws.close_reason))

    async with serve(
        handler, "127.0.0.1", 0, process_request=process_request
    ) as server:
        recording.port = next(iter(server.sockets)).getsockname()[1]
        yield recording


async def _echo(ws: ServerConnection, recording: Recording) -> None:
    async for message in ws:
        recording.received.append(message)
        await ws.send(message)


async def _behave(ws: ServerConnection, parts: list[str], recording: Recording) -> None:
    kind = parts[0]
    if kind == "echo":
        await _echo(ws, recording)
    elif kind == "greet":
        await ws.send("hello")
        await _echo(ws, recording)
    elif kind == "send":
        for index in range(int(parts[1])):
            await ws.send(f"message {index}")
        await ws.close()
    elif kind == "close":
        await ws.close(int(parts[1]), parts[2] if len(parts) > 2 else "")
    elif kind == "headers":
        assert ws.request is not None
        await ws.send(json.dumps(_headers(ws.request.headers), sort_keys=True))
        await _echo(ws, recording)
    elif kind == "once":
        await ws.send(f"connection {recording.connections}")
        await ws.close(1001, "restarting")
    elif kind == "drop":
        ws.transport.abort()
    else:  # pragma: no cover - test bug
        raise ValueError(f"unknown behaviour {kind!r}")
