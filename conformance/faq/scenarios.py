"""One scenario per FAQ question: run its programs, check what the server saw.

Each scenario names the programs it runs; generation fails for a question
without a scenario, or a program that no scenario runs. The programs' URIs,
hosts and IP addresses are placeholders (``ws://example.com/``,
``host="192.0.2.1"``) that each scenario replaces by the live server's address,
in the table passed to ``run``/``start``; a placeholder missing from a program is
a failure, so the FAQ and its proof move together.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from .harness import Scenario, ScenarioContext
from .server import SERVER_HEADER, Observed

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

__all__ = ["SCENARIOS", "scenario"]

SCENARIOS: dict[str, Scenario] = {}
"""Question slug -> its scenario."""

WS_URI = "ws://example.com/"
WSS_URI = "wss://example.com/"
GREETING = "Hello from the server"
REPLY = "Hello back"
DROPS = 3
"""Connections that the reconnection scenario's server drops before it stays up."""


def scenario(
    question: str, *, examples: tuple[str, ...]
) -> Callable[[Callable[[ScenarioContext], None]], Callable[[ScenarioContext], None]]:
    """Register the decorated function as the scenario of ``question``.

    Args:
        question: The question's slug (its label without ``faq-``).
        examples: The example ids that the function runs.

    Raises:
        ValueError: The question already has a scenario.
    """

    def register(
        function: Callable[[ScenarioContext], None],
    ) -> Callable[[ScenarioContext], None]:
        if question in SCENARIOS:
            raise ValueError(f"question {question!r} already has a scenario")
        SCENARIOS[question] = Scenario(question, examples, function)
        return function

    return register


# Server behaviours.


async def greet(websocket: ServerConnection, seen: Observed) -> None:
    """Send a greeting, then wait for the client to close."""
    await websocket.send(GREETING)
    seen.events.append("greeted")


async def echo(websocket: ServerConnection, seen: Observed) -> None:
    """Send back every message until the client closes."""
    async for message in websocket:
        seen.messages.append(message)
        await websocket.send(message)


async def idle(websocket: ServerConnection, seen: Observed) -> None:
    """Do nothing: the client closes when it is done."""


async def reply_after_ping(websocket: ServerConnection, seen: Observed) -> None:
    """Reply to the first message, after a ping round trip.

    The ping makes the premature close observable without timing: a client that
    closes right after sending has queued its close frame before it could see
    the ping, so the pong never comes and the server records that the client
    left before the reply; a client that waits for the reply answers the ping.
    """
    from websockets.exceptions import ConnectionClosed

    seen.messages.append(await websocket.recv())
    try:
        await (await websocket.ping())
    except ConnectionClosed:
        seen.events.append("closed before the reply")
        return
    await websocket.send(REPLY)
    seen.events.append("replied")


async def drop_connections(websocket: ServerConnection, seen: Observed) -> None:
    """Drop the first connections three ways; keep the next one open.

    Each connection gets one message, acknowledged by a ping round trip, then:
    the 1st is closed with 1012 (service restart), the 2nd loses its TCP
    connection without a closing handshake, the 3rd is closed with 1001 (going
    away); later ones stay open until the client stops.
    """
    number = seen.index + 1
    await websocket.send(f"connection {number}")
    await (await websocket.ping())
    if number == 1:
        seen.events.append("closed with 1012")
        await websocket.close(1012, "service restart")
    elif number == 2:
        seen.events.append("dropped the TCP connection")
        websocket.transport.abort()
    elif number == 3:
        seen.events.append("closed with 1001")
        await websocket.close(1001, "going away")
    else:
        seen.events.append("stayed open")  # until the client goes


async def greet_and_stay(websocket: ServerConnection, seen: Observed) -> None:
    """Send a greeting, then keep the connection open until the client closes."""
    await websocket.send("ready")
    seen.events.append("greeted")


# Scenarios.


def _closed_normally(context: ScenarioContext, seen: Observed, who: str) -> None:
    context.check(
        seen.close_code == 1000 and seen.client_closed_first is True,
        f"server saw the {who} close the connection with code 1000 "
        f"(got {seen.close_code}, client first: {seen.client_closed_first})",
    )


@scenario(
    "premature-close", examples=("premature-close-pitfall", "premature-close-fix")
)
def premature_close(context: ScenarioContext) -> None:
    """The pitfall loses the reply; the fix receives it."""
    with context.server(reply_after_ping) as server:
        uri = [(WS_URI, server.uri)]
        done = context.run("premature-close-pitfall", uri)
        context.expect_success(done, "premature-close-pitfall")
        (seen,) = server.finished(1)
        context.check(seen.messages == ["Hello"], f"server received {seen.messages}")
        context.check(
            "closed before the reply" in seen.events,
            f"pitfall reproduced: the client closed before the reply ({seen.events})",
        )
        _closed_normally(context, seen, "pitfall")
        context.check(done.stdout == "", f"pitfall printed no reply: {done.stdout!r}")

        done = context.run("premature-close-fix", uri)
        context.expect_success(done, "premature-close-fix")
        seen = server.finished(2)[1]
        context.check("replied" in seen.events, f"fix: server replied ({seen.events})")
        context.check(done.lines == [REPLY], f"fix printed the reply: {done.lines}")
        _closed_normally(context, seen, "fix")


@scenario("access-headers", examples=("access-headers",))
def access_headers(context: ScenarioContext) -> None:
    """The program prints the Host it sent and the Server it received."""
    with context.server(idle) as server:
        done = context.run("access-headers", [(WS_URI, server.uri)])
        context.expect_success(done, "access-headers")
        (seen,) = server.finished(1)
        host = seen.header("Host")
        context.check(
            done.lines == [*host, SERVER_HEADER],
            f"printed request Host {host} and response Server {SERVER_HEADER!r}: "
            f"{done.lines}",
        )


@scenario("set-headers", examples=("set-headers", "set-headers-remove"))
def set_headers(context: ScenarioContext) -> None:
    """Each option sets its header; ``None`` removes User-Agent and extensions."""
    with context.server(echo, subprotocols=["chat"]) as server:
        done = context.run("set-headers", [(WS_URI, server.uri)])
        context.expect_success(done, "set-headers")
        (seen,) = server.finished(1)
        expected = {
            "Origin": ["https://example.com"],
            "Sec-WebSocket-Protocol": ["chat"],
            "User-Agent": ["my-client/1.0"],
            "Authorization": ["Bearer 2b7e151628aed2a6"],
        }
        for name, values in expected.items():
            context.check(
                seen.header(name) == values,
                f"server received {name}: {values} (got {seen.header(name)})",
            )
        extensions = ", ".join(seen.header("Sec-WebSocket-Extensions"))
        context.check(
            "permessage-deflate" in extensions
            and "server_max_window_bits=10" in extensions,
            f"server received Sec-WebSocket-Extensions offering permessage-deflate "
            f"with server_max_window_bits=10 ({extensions!r})",
        )
        context.check(done.lines == ["chat"], f"printed the subprotocol: {done.lines}")

    # A server that accepts subprotocols rejects a client that offers none.
    with context.server(echo) as server:
        done = context.run("set-headers-remove", [(WS_URI, server.uri)])
        context.expect_success(done, "set-headers-remove")
        (seen,) = server.finished(1)
        for name in ("User-Agent", "Sec-WebSocket-Extensions"):
            context.check(
                seen.header(name) == [],
                f"server received no {name} header (got {seen.header(name)})",
            )
        context.check(done.lines == ["Hello"], f"printed the echo: {done.lines}")


@scenario("force-ip", examples=("force-ip",))
def force_ip(context: ScenarioContext) -> None:
    """The TCP connection goes to the forced address; Host and SNI keep the name."""
    certificate = context.certificate("example.com")
    with context.server(greet, certificate=certificate) as server:
        forced = [('host="192.0.2.1"', f'host="127.0.0.1", port={server.port}')]
        done = context.run(
            "force-ip", forced, env={"SSL_CERT_FILE": str(certificate.ca_file)}
        )
        context.expect_success(done, "force-ip")
        (seen,) = server.finished(1)
        context.check(
            seen.header("Host") == ["example.com"],
            "server at 127.0.0.1 received Host: example.com "
            f"(got {seen.header('Host')})",
        )
        context.check(
            seen.sni == "example.com",
            f"TLS sent SNI example.com and verified its certificate (got {seen.sni!r})",
        )
        context.check(done.lines == [GREETING], f"printed the greeting: {done.lines}")


@scenario(
    "close-connection",
    examples=("close-connection-explicit", "close-connection-context"),
)
def close_connection(context: ScenarioContext) -> None:
    """Both ways close with 1000, started by the client."""
    with context.server(echo) as server:
        for index, example in enumerate(
            ("close-connection-explicit", "close-connection-context")
        ):
            done = context.run(example, [(WS_URI, server.uri)])
            context.expect_success(done, example)
            seen = server.finished(index + 1)[index]
            context.check(done.lines == ["Hello"], f"{example} printed: {done.lines}")
            _closed_normally(context, seen, example)


@scenario("reconnect", examples=("reconnect",))
def reconnect(context: ScenarioContext) -> None:
    """The program reconnects after each of the server's drops."""
    with context.server(drop_connections) as server:
        client = context.start("reconnect", [(WS_URI, server.uri)])
        last = f"connection {DROPS + 1}"
        arrived = server.wait_for(
            lambda seen: len(seen) > DROPS
        ) and client.wait_for_line(last)
        seen = server.observed
        client.kill()
        context.check(
            arrived,
            f"client reconnected {DROPS} times: server saw {len(seen)} connection(s), "
            f"client printed {client.stdout.splitlines()}" + _stderr(client.stderr),
        )
        context.check(
            len(seen) == DROPS + 1,
            f"server saw exactly {DROPS + 1} connections (got {len(seen)})",
        )
        expected = [f"connection {n}" for n in range(1, DROPS + 2)]
        context.check(
            client.stdout.splitlines() == expected,
            f"client received one message per connection: {client.stdout.splitlines()}",
        )
        context.details.append(
            "drops: " + "; ".join(s.events[0] for s in seen[:DROPS] if s.events)
        )


@scenario("stop-on-sigterm", examples=("stop-on-sigterm",))
def stop_on_sigterm(context: ScenarioContext) -> None:
    """SIGTERM closes the connection with 1000 and the program exits with 0."""
    with context.server(greet_and_stay) as server:
        client = context.start("stop-on-sigterm", [(WS_URI, server.uri)])
        context.check(
            client.wait_for_line("ready"),
            "client is processing messages" + _stderr(client.stderr),
        )
        client.send_signal(signal.SIGTERM)
        done = client.wait()
        context.expect_success(done, "stop-on-sigterm after SIGTERM")
        (seen,) = server.finished(1)
        _closed_normally(context, seen, "client")


@scenario("disable-tls-verification", examples=("disable-tls-verification",))
def disable_tls_verification(context: ScenarioContext) -> None:
    """Verification fails by default against an unknown CA; off, it connects."""
    certificate = context.certificate("127.0.0.1")
    with context.server(greet, certificate=certificate) as server:
        uri = [(WSS_URI, server.uri)]
        verified = [*uri, (", ssl=ssl_context", "")]

        done = context.run("disable-tls-verification", verified)
        context.check(
            done.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in done.stderr,
            "with default verification, the program fails with "
            f"CERTIFICATE_VERIFY_FAILED (status {done.returncode})",
            done,
        )
        context.check(server.observed == [], "server saw no WebSocket connection")

        done = context.run(
            "disable-tls-verification",
            verified,
            env={"SSL_CERT_FILE": str(certificate.ca_file)},
        )
        context.expect_success(done, "disable-tls-verification with the CA trusted")
        context.details.append("control: with the test CA trusted, verification passes")

        done = context.run("disable-tls-verification", uri)
        context.expect_success(done, "disable-tls-verification")
        context.check(
            done.lines == [GREETING],
            f"with verification off, the program connects: {done.lines}",
        )
        server.finished(2)


def _stderr(stderr: str) -> str:
    lines = stderr.strip().splitlines()[-12:]
    return ("\nstderr:\n  " + "\n  ".join(lines)) if lines else ""
