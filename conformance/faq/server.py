"""A live WebSocket server on 127.0.0.1 that records what each client did.

The FAQ matrix asserts what a server observed, not what a client claims: headers
received, the name sent in TLS (SNI), messages, who closed and with which code.
The server is the websockets library's asyncio server, run in its own thread and
event loop so that scenarios can be written as plain blocking code that starts
client programs and waits for what the server saw. Every wait is bounded.

websockets and trustme are imported when a server starts, so that generating the
FAQ's programs does not need them.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

__all__ = [
    "SERVER_HEADER",
    "Behaviour",
    "LiveServer",
    "Observed",
    "ServerError",
    "TestCertificate",
]

SERVER_HEADER = "faq-server/1.0"
"""The ``Server`` header of every response, so that programs can print it."""

_LOGGER = logging.getLogger("conformance.faq.server")
_LOGGER.addHandler(logging.NullHandler())
_LOGGER.propagate = False


class ServerError(Exception):
    """The live server did not start or stop in time."""


@dataclass
class Observed:
    """One WebSocket connection, as the server saw it.

    Attributes:
        index: 0 for the first connection of this server, then 1, 2...
        path: The request target.
        headers: The request headers, in order, as received.
        sni: The server name that the client sent in TLS, if any.
        messages: Messages received from the client.
        events: What the server's behaviour did or saw, in words (``"replied"``).
        close_code: Code of the close frame received from the client; ``None``
            when none arrived (the TCP connection just ended).
        close_reason: Reason of that close frame.
        client_closed_first: The client started the closing handshake.
        finished: The connection is over and every field is final.
    """

    index: int
    path: str
    headers: list[tuple[str, str]]
    sni: str | None = None
    messages: list[str | bytes] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    client_closed_first: bool | None = None
    finished: bool = False

    def header(self, name: str) -> list[str]:
        """Every value received for header ``name`` (case-insensitive)."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


Behaviour = Callable[["ServerConnection", Observed], Awaitable[None]]
"""What the server does on a connection; it may record into ``Observed.events``."""


class TestCertificate:
    """A throwaway certificate authority and a server certificate it issued.

    Args:
        directory: Where to write ``ca.pem`` for client programs to trust.
        names: Host names and IP addresses that the certificate covers.
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, directory: Path, names: Sequence[str]) -> None:
        import trustme

        self._ca = trustme.CA()
        self._cert = self._ca.issue_cert(*names)
        self.ca_file = directory / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting the certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._cert.configure_cert(context)
        return context


class LiveServer:
    """Serve ``behaviour`` on 127.0.0.1 on a free port, in a background thread.

    Use as a context manager; the server stops, and its connections close, on
    exit.

    Args:
        behaviour: Coroutine function run for each connection.
        timeout: Bound on every wait, in seconds.
        certificate: Serve ``wss://`` with this certificate.
        subprotocols: Subprotocols that the server accepts.
    """

    def __init__(
        self,
        behaviour: Behaviour,
        *,
        timeout: float,
        certificate: TestCertificate | None = None,
        subprotocols: Sequence[str] | None = None,
    ) -> None:
        self._behaviour = behaviour
        self._timeout = timeout
        self._certificate = certificate
        self._subprotocols = subprotocols
        self._observed: list[Observed] = []
        self._errors: list[str] = []
        self._sni: dict[int, str | None] = {}
        self._changed = threading.Condition()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self.port = 0

    # Life cycle.

    def __enter__(self) -> LiveServer:
        self._thread = threading.Thread(
            target=self._run, name="faq-server", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(self._timeout):
            raise ServerError(f"the server did not start within {self._timeout} s")
        if self._failure is not None:
            raise ServerError(f"the server failed to start: {self._failure!r}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(self._timeout)
            if thread.is_alive() and exc is None:
                raise ServerError(f"the server did not stop within {self._timeout} s")

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.set_exception_handler(self._on_loop_error)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the scenario by __enter__
            self._failure = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve
        from websockets.typing import Subprotocol

        self._stop = asyncio.Event()
        context: ssl.SSLContext | None = None
        if self._certificate is not None:
            context = self._certificate.server_context()
            context.sni_callback = self._on_sni
        async with serve(
            self._handle,
            "127.0.0.1",
            0,
            ssl=context,
            subprotocols=None
            if self._subprotocols is None
            else [Subprotocol(name) for name in self._subprotocols],
            server_header=SERVER_HEADER,
            close_timeout=self._timeout,
            logger=_LOGGER,
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def _on_sni(
        self, sslobj: ssl.SSLObject, name: str | None, _: ssl.SSLContext
    ) -> None:
        self._sni[id(sslobj)] = name

    def _on_loop_error(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        with self._changed:
            self._errors.append(str(context.get("exception") or context.get("message")))
            self._changed.notify_all()

    async def _handle(self, websocket: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        ssl_object = websocket.transport.get_extra_info("ssl_object")
        with self._changed:
            seen = Observed(
                index=len(self._observed),
                path=websocket.request.path if websocket.request else "",
                headers=list(websocket.request.headers.raw_items())
                if websocket.request
                else [],
                sni=self._sni.get(id(ssl_object)) if ssl_object is not None else None,
            )
            self._observed.append(seen)
            self._changed.notify_all()
        try:
            await asyncio.wait_for(self._behaviour(websocket, seen), self._timeout)
            await asyncio.wait_for(websocket.wait_closed(), self._timeout)
        except ConnectionClosed:
            pass
        except asyncio.TimeoutError:
            seen.events.append(f"server gave up after {self._timeout} s")
        except Exception as exc:
            seen.events.append(f"server error: {exc!r}")
        finally:
            protocol = websocket.protocol
            with self._changed:
                if protocol.close_rcvd is not None:
                    seen.close_code = protocol.close_rcvd.code
                    seen.close_reason = protocol.close_rcvd.reason
                seen.client_closed_first = protocol.close_rcvd_then_sent
                seen.finished = True
                self._changed.notify_all()

    # What scenarios read.

    @property
    def uri(self) -> str:
        """The server's URI, ``ws://127.0.0.1:PORT/`` or ``wss://...``."""
        scheme = "wss" if self._certificate is not None else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/"

    @property
    def observed(self) -> list[Observed]:
        """Connections seen so far (a snapshot)."""
        with self._changed:
            return list(self._observed)

    @property
    def errors(self) -> list[str]:
        """Errors that the event loop reported (failed TLS handshakes...)."""
        with self._changed:
            return list(self._errors)

    def wait_for(self, predicate: Callable[[list[Observed]], bool]) -> bool:
        """Wait until ``predicate(connections)`` holds; ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: predicate(self._observed), timeout=self._timeout
            )

    def finished(self, count: int) -> list[Observed]:
        """Wait until ``count`` connections are over, and return them all.

        Raises:
            ServerError: They are not over within the timeout.
        """
        if not self.wait_for(
            lambda seen: len(seen) >= count and all(s.finished for s in seen[:count])
        ):
            seen = self.observed
            raise ServerError(
                f"expected {count} finished connection(s) within {self._timeout} s, "
                f"saw {len(seen)} ({sum(s.finished for s in seen)} finished)"
            )
        return self.observed
