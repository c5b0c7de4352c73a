"""The soak test's echo server, which injects faults: ``python -m tools.soak.server``.

It runs in a process of its own, so that its memory and CPU do not blur the
client process's figures, and is built on the websockets library's asyncio server,
an independent implementation of the protocol. It prints ``{"port": N}`` on one
line once it listens on 127.0.0.1, serves until its standard input closes, then
prints its statistics as one JSON line and exits.

Every connection draws its faults from an RNG seeded with the run's seed and the
connection's number, so a seed describes the faults of a run:

- ``close``: after some echoes, close with a code among :data:`CLOSE_CODES`; the
  reason reports what was sent (:func:`~tools.soak.ledger.format_report`);
- ``abrupt``: close TCP without a close frame, mid-stream;
- ``truncate``: write the start of a frame, then close TCP;
- ``reset``: abort the connection with a TCP RST (``SO_LINGER`` 0);
- ``pause``: stop reading for a while (a slow reader: the client's sends block);
- ``burst``: send many messages of its own at once;
- ``reject``: answer the opening handshake with HTTP 503;
- ``refuse``: stop listening for a few seconds (connection refused on reconnect).

The path ``/flood`` sends 256 KiB messages as fast as the client reads them, to
check that a slow reader's memory stays bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import struct
import sys
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .ledger import format_report
from .messages import KIND_BURST, KIND_FLOOD, Corrupted, MessageFactory, encode, parse

__all__ = ["CLOSE_CODES", "FaultPlan", "Settings", "SoakServer", "main", "plan_faults"]

CLOSE_CODES = (1000, 1001, 1011, 1012, 1013, 3000, 4000, 4999)
"""Codes of the ``close`` fault: normal, going away, errors, and private ones."""

TERMINAL_FAULTS = ("close", "abrupt", "truncate", "reset")

FLOOD_SIZE = 256 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    """How often faults happen.

    Args:
        seed: Seeds every connection's RNG, with the connection's number.
        fault_rate: Share of connections that end with a terminal fault.
        pause_rate: Chance, per echo, to stop reading for a while.
        burst_rate: Chance, per echo, to send a burst of messages.
        reject_rate: Share of handshakes answered with HTTP 503.
        refuse_every: Mean seconds between periods of refusing connections;
            0 disables them.
    """

    seed: int = 0
    fault_rate: float = 0.4
    pause_rate: float = 0.01
    burst_rate: float = 0.01
    reject_rate: float = 0.03
    refuse_every: float = 30.0


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The faults of one connection: which terminal fault after how many echoes."""

    terminal: str | None
    after: int
    code: int


def plan_faults(settings: Settings, rng: random.Random) -> FaultPlan:
    """Draw a connection's terminal fault, if any, from its RNG."""
    terminal = (
        rng.choice(TERMINAL_FAULTS) if rng.random() < settings.fault_rate else None
    )
    after = rng.randint(0, 150)
    return FaultPlan(terminal, after, rng.choice(CLOSE_CODES))


@dataclass
class Stats:
    """What the server did, printed as JSON when it stops."""

    connections: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    received: int = 0
    corrupted: int = 0
    echoed: int = 0
    burst_sent: int = 0
    flood_sent: int = 0
    handler_errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "connections": self.connections,
            "faults": dict(sorted(self.faults.items())),
            "received": self.received,
            "corrupted": self.corrupted,
            "echoed": self.echoed,
            "burst_sent": self.burst_sent,
            "flood_sent": self.flood_sent,
            "handler_errors": self.handler_errors[:20],
        }


class SoakServer:
    """The echo server and its fault injection; see the module's docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = Stats()
        self.rng = random.Random(f"{settings.seed}:server")
        self.servers: list[Server] = []
        self.port = 0
        self._flood_body = random.Random(settings.seed).randbytes(FLOOD_SIZE)

    async def listen(self) -> None:
        """Start listening, on a new port the first time, on the same one after."""
        server = await serve(
            self.handler,
            "127.0.0.1",
            self.port,
            process_request=self.process_request,
            max_size=2**20,
        )
        self.servers.append(server)
        if not self.port:
            self.port = server.sockets[0].getsockname()[1]

    async def refuse_now_and_then(self) -> None:
        """Stop listening for a few seconds at random times."""
        every = self.settings.refuse_every
        if not every:
            return
        while True:
            await asyncio.sleep(self.rng.uniform(0.5 * every, 1.5 * every))
            # Closing the listening socket refuses new connections; the open ones
            # belong to their transports and go on.
            self.servers[-1].server.close()
            self.stats.faults["refuse"] += 1
            await asyncio.sleep(self.rng.uniform(1.0, 4.0))
            await self.listen()

    def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        if request.path == "/flood":
            return None
        if self.rng.random() < self.settings.reject_rate:
            self.stats.faults["reject"] += 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "try again\n")
        return None

    async def handler(self, connection: ServerConnection) -> None:
        self.stats.connections += 1
        number = self.stats.connections
        try:
            if connection.request is not None and connection.request.path == "/flood":
                await self.flood(connection)
            else:
                await self.echo(connection, number)
        except ConnectionClosed:
            pass
        except Exception as exc:
            self.stats.handler_errors.append(f"connection {number}: {exc!r}")

    async def echo(self, connection: ServerConnection, number: int) -> None:
        settings = self.settings
        stats = self.stats
        rng = random.Random(f"{settings.seed}:{number}")
        plan = plan_faults(settings, rng)
        bursts = MessageFactory(number, rng)
        echoed = 0
        while True:
            if plan.terminal is not None and echoed == plan.after:
                stats.faults[plan.terminal] += 1
                await self.terminal_fault(connection, plan, echoed, bursts.seq)
                return
            message = await connection.recv()
            stats.received += 1
            try:
                parse(message)
            except Corrupted as exc:
                stats.corrupted += 1
                stats.handler_errors.append(f"connection {number}: {exc}")
            await connection.send(message)
            echoed += 1
            stats.echoed += 1
            if rng.random() < settings.pause_rate:
                stats.faults["pause"] += 1
                await asyncio.sleep(rng.uniform(0.2, 3.0))
            if rng.random() < settings.burst_rate:
                stats.faults["burst"] += 1
                for _ in range(rng.randint(5, 50)):
                    out = bursts.next(KIND_BURST)
                    await connection.send(out.payload)
                    stats.burst_sent += 1

    async def terminal_fault(
        self, connection: ServerConnection, plan: FaultPlan, echoed: int, burst: int
    ) -> None:
        transport = connection.transport
        if plan.terminal == "close":
            await connection.close(plan.code, format_report(echoed, burst))
        elif plan.terminal == "abrupt":
            transport.close()
        elif plan.terminal == "truncate":
            # A binary frame announcing 4096 bytes, cut after 100.
            transport.write(b"\x82\x7e\x10\x00" + bytes(100))
            transport.close()
        else:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            transport.abort()

    async def flood(self, connection: ServerConnection) -> None:
        seq = 0
        while True:
            await connection.send(encode(KIND_FLOOD, 0, seq, self._flood_body))
            seq += 1
            self.stats.flood_sent += 1

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for server in self.servers:
            await server.wait_closed()


async def run(settings: Settings) -> None:
    server = SoakServer(settings)
    await server.listen()
    print(json.dumps({"port": server.port}), flush=True)
    refuser = asyncio.create_task(server.refuse_now_and_then())
    # The parent closes our standard input to stop us, or by dying.
    await asyncio.to_thread(sys.stdin.buffer.read)
    refuser.cancel()
    await server.close()
    print(json.dumps(server.stats.as_json()), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.soak.server")
    defaults = Settings()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate)
    parser.add_argument("--pause-rate", type=float, default=defaults.pause_rate)
    parser.add_argument("--burst-rate", type=float, default=defaults.burst_rate)
    parser.add_argument("--reject-rate", type=float, default=defaults.reject_rate)
    parser.add_argument("--refuse-every", type=float, default=defaults.refuse_every)
    args = parser.parse_args(argv)
    settings = Settings(
        seed=args.seed,
        fault_rate=args.fault_rate,
        pause_rate=args.pause_rate,
        burst_rate=args.burst_rate,
        reject_rate=args.reject_rate,
        refuse_every=args.refuse_every,
    )
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
