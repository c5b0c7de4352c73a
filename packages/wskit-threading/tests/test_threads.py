"""What only the threading client has, and the threading twins of asyncio-only tests.

The generated tests (test_client.py, test_connection.py, test_network.py,
test_proxy.py) hold for both clients; these cover threads: the reader thread
keeping the connection alive, flow control that blocks it, keepalive, concurrent
senders, close() from another thread and from a signal handler.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, unix_serve

from testing import faulty
from testing.threaded import (
    TIMEOUT,
    Peer,
    aiohttp_server,
    deaf_server,
    hosted,
    http_proxy,
    http_server,
    make_tls,
    stalled_server,
    wait_until,
    websockets_server,
)
from wskit.threading import (
    ClientConnection,
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    ProxyError,
    State,
    connect,
    process_exception,
    unix_connect,
)

SERVERS = {"websockets": websockets_server, "aiohttp": aiohttp_server}


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Any:
    return SERVERS[request.param]


def open_ws(uri: str, **kwargs: Any) -> connect:
    kwargs.setdefault("proxy", None)
    kwargs.setdefault("open_timeout", TIMEOUT)
    return connect(uri, **kwargs)


def run_thread(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def join(thread: threading.Thread) -> None:
    thread.join(TIMEOUT)
    assert not thread.is_alive()


# Using connect() directly.


def test_direct_use_opens_on_first_use(server: Any) -> None:
    with server() as peer:
        websocket = open_ws(peer.uri)
        assert peer.connections == 0
        websocket.send("Hello")
        assert websocket.recv() == "Hello"
        websocket.close()
        wait_until(lambda: bool(peer.close_codes))
    assert peer.close_codes == [1000]


def test_direct_use_keeps_methods_and_reads_attributes_live() -> None:
    with websockets_server() as peer:
        websocket = open_ws(peer.uri)
        send = websocket.send
        assert websocket.send is send  # looked up once, then kept
        assert vars(websocket)["send"] is send
        states = [websocket.state]
        websocket.close()
        # Not methods: read from the connection each time.
        states.append(websocket.state)
        assert states == [State.OPEN, State.CLOSED]
        assert "state" not in vars(websocket)


def test_direct_use_iterates_messages() -> None:
    with websockets_server() as peer:
        websocket = open_ws(peer.uri_for("/send/3"))
        assert websocket.response.status_code == 101
        # Typed as the reconnecting iterator; at run time, the messages.
        messages: list[Any] = list(websocket)
        assert messages == ["message 0", "message 1", "message 2"]


# The reader thread.


def test_pings_answered_while_application_does_not_read() -> None:
    # The deaf server never answers; the reader thread answers the server's
    # pings on its own: websockets' server pings every 10 ms here.
    with websockets_server(ping_interval=0.01, ping_timeout=0.5) as peer:
        ws = open_ws(peer.uri)
        assert not ws.recv_messages.frames
        # A dozen keepalive rounds without a recv() call.
        threading.Event().wait(0.3)
        assert ws.state is State.OPEN
        ws.send("still alive")
        assert ws.recv() == "still alive"
        ws.close()


def test_flood_is_bounded_by_max_queue(server: Any) -> None:
    size, count, max_queue = 16384, 400, 4
    with server() as peer:
        ws = open_ws(
            peer.uri_for(f"/flood/{count}/{size}"),
            max_queue=max_queue,
            compression=None,
        ).connect()
        # Let the server fill the buffers until reading pauses.
        wait_until(lambda: ws.recv_messages.paused)
        received = 0
        for message in ws:
            assert len(message) == size
            received += 1
        assert received == count
        assert ws.recv_messages.pauses >= 1
        # The reader thread blocks as soon as the queue is above max_queue.
        assert ws.recv_messages.max_seen == max_queue + 1


def test_no_flow_control() -> None:
    with (
        websockets_server() as peer,
        open_ws(peer.uri_for("/send/40"), max_queue=None) as ws,
    ):
        ws.wait_closed()
        assert len(ws.recv_messages.frames) == 40
        assert list(ws)[-1] == "message 39"


def test_max_queue_tuple() -> None:
    with websockets_server() as peer, open_ws(peer.uri, max_queue=(8, 2)) as ws:
        assert ws.recv_messages.high == 8
        assert ws.recv_messages.low == 2


# Receiving from threads.


def test_concurrent_recv_raises_concurrency_error() -> None:
    with websockets_server() as peer, open_ws(peer.uri) as ws:
        results: list[object] = []
        first = run_thread(lambda: results.append(ws.recv()))
        wait_until(lambda: ws.recv_messages.get_in_progress)
        with pytest.raises(ConcurrencyError, match="another thread"):
            ws.recv()
        ws.send("to first")
        join(first)
        assert results == ["to first"]


def test_recv_timeout_then_message(server: Any) -> None:
    with server() as peer, open_ws(peer.uri) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0)
        ws.send("later")
        assert ws.recv(timeout=TIMEOUT) == "later"


# Pings and keepalive.


def test_ping_returns_event_and_latency(server: Any) -> None:
    with server() as peer, open_ws(peer.uri, ping_interval=None) as ws:
        pong_received = ws.ping()
        assert isinstance(pong_received, threading.Event)
        assert pong_received.wait(TIMEOUT)
        assert ws.latency > 0
        assert ws.ping(b"abc").wait(TIMEOUT)
        ws.pong(b"unsolicited")
        ws.pong("text")
        with pytest.raises(TypeError):
            ws.ping(1)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            ws.pong(1)  # type: ignore[arg-type]


def test_pending_pings_are_woken_when_connection_closes() -> None:
    # The deaf server never answers: the pings stay pending.
    with deaf_server() as peer:
        ws = open_ws(peer.uri, ping_interval=None, close_timeout=0.05).connect()
        first = ws.ping(b"1")
        second = ws.ping(b"2")
        with pytest.raises(ConcurrencyError, match="same data"):
            ws.ping("1")
        assert not first.is_set()
        ws.close()
        assert first.wait(TIMEOUT)
        assert second.wait(TIMEOUT)
        assert ws.state is State.CLOSED
        with pytest.raises(ConnectionClosed):
            ws.ping()


def test_keepalive_timeout_fails_connection() -> None:
    with deaf_server() as peer:
        ws = open_ws(
            peer.uri, ping_interval=0.05, ping_timeout=0.05, close_timeout=0.05
        ).connect()
        with pytest.raises(ConnectionClosedError) as info:
            ws.recv(timeout=TIMEOUT)
        assert info.value.sent is not None
        assert info.value.sent.code == 1011
        assert info.value.sent.reason == "keepalive ping timeout"
        assert ws.close_code == 1006
        assert ws.keepalive_task is not None
        join(ws.keepalive_task)


# Closing from other threads.


def test_close_from_another_thread_ends_iteration(server: Any) -> None:
    with server() as peer:
        ws = open_ws(peer.uri).connect()
        received: list[object] = []

        def consume() -> None:
            for message in ws:
                received.append(message)

        consumer = run_thread(consume)
        ws.send("one")
        wait_until(lambda: received == ["one"])
        ws.close()
        join(consumer)
        wait_until(lambda: bool(peer.close_codes))
    assert peer.close_codes == [1000]
    assert ws.reader_thread is not None
    join(ws.reader_thread)


def test_close_timer_against_server_that_never_closes() -> None:
    with deaf_server() as peer:
        ws = open_ws(peer.uri, close_timeout=0.01, ping_interval=None).connect()
        ws.close(1001)
        assert ws.state is State.CLOSED
        assert isinstance(ws.connection_exc, TimeoutError)


def test_stalled_server_blocks_send_until_abort() -> None:
    with stalled_server() as peer:
        ws = open_ws(peer.uri, compression=None, close_timeout=0).connect()
        sent: list[int] = []
        errors: list[BaseException] = []

        def fill() -> None:
            try:
                while True:
                    ws.send(b"x" * 65536)
                    sent.append(1)
            except ConnectionClosed as exc:
                errors.append(exc)

        filler = run_thread(fill)
        # send() is a synchronous write: once the kernel buffers are full, it
        # blocks, and the count stops growing.
        wait_until(lambda: ws.write_lock.locked() and len(sent) > 0)
        ws.abort()
        join(filler)
        assert isinstance(errors[0], ConnectionClosedError)


# Concurrent senders.


def test_concurrent_senders_never_interleave_frames() -> None:
    threads, per_thread = 64, 50
    # Sizes across one frame, one large frame, and fragmented messages.
    sizes = [1, 100, 3000, 70000]

    def message(thread: int, index: int) -> str | list[str]:
        body = f"{thread}:{index}:" + "x" * sizes[(thread + index) % len(sizes)]
        if index % 5 == 0:
            return [body[: len(body) // 2], body[len(body) // 2 :]]
        return body

    with websockets_server(max_size=2**22) as peer:
        ws = open_ws(peer.uri, max_size=2**22).connect()
        echoed: list[object] = []
        reader = run_thread(lambda: echoed.extend(ws))
        start = threading.Barrier(threads)

        def send_all(thread: int) -> None:
            start.wait(TIMEOUT)
            for index in range(per_thread):
                ws.send(message(thread, index))

        senders = [run_thread(send_all, thread) for thread in range(threads)]
        for sender in senders:
            join(sender)
        wait_until(lambda: len(peer.received) == threads * per_thread)
        ws.close()
        join(reader)
    seen: dict[int, list[int]] = {}
    for received in peer.received:
        assert isinstance(received, str)
        thread, index, _ = received.split(":", 2)
        expected = message(int(thread), int(index))
        assert received == (
            expected if isinstance(expected, str) else "".join(expected)
        )
        seen.setdefault(int(thread), []).append(int(index))
    assert seen == {thread: list(range(per_thread)) for thread in range(threads)}
    assert len(echoed) == threads * per_thread


# A signal handler calling close().

SIGTERM_CLIENT = textwrap.dedent(
    """
    import signal
    import sys

    from wskit.threading import connect

    with connect(sys.argv[1], proxy=None, close_timeout=5) as websocket:
        signal.signal(signal.SIGTERM, lambda signum, frame: websocket.close())
        print("ready", flush=True)
        for message in websocket:
            print(message, flush=True)
    print("closed", websocket.close_code, flush=True)
    """
)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [
            os.path.abspath(path)
            for path in ("packages/wskit-core/src", "packages/wskit-threading/src")
        ]
        + [env.get("PYTHONPATH", "")]
    )
    return env


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_handler_closes_connection_cleanly() -> None:
    with websockets_server() as peer:
        process = subprocess.Popen(
            [sys.executable, "-c", SIGTERM_CLIENT, peer.uri],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_child_env(),
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == b"ready\n"
            # The main thread is now blocked in "for message in websocket".
            wait_until(lambda: peer.connections == 1)
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        finally:
            if process.poll() is None:  # pragma: no cover - hung client
                process.kill()
                process.communicate()
        wait_until(lambda: bool(peer.close_codes))
    assert process.returncode == 0, stderr.decode()
    assert stdout == b"closed 1000\n"
    assert peer.close_codes == [1000]


# Opening: Unix sockets, reconnecting, proxies.


def test_unix_connect() -> None:
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ws.sock")
        with (
            hosted(lambda: unix_serve(echo, path)),
            unix_connect(path, open_timeout=TIMEOUT) as ws,
        ):
            ws.send("over unix")
            assert ws.recv() == "over unix"
            assert ws.request is not None
            assert ws.request.headers["Host"] == "localhost"


def no_delays() -> Iterator[float]:
    while True:
        yield 0.001


def test_reconnect_after_server_restarts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    failures: list[Exception] = []
    started = threading.Event()
    stop = threading.Event()
    peers: list[Peer] = []

    def count(exc: Exception) -> Exception | None:
        failures.append(exc)
        if len(failures) == 3:
            started.set()
        return process_exception(exc)

    def restart_server() -> None:
        started.wait(TIMEOUT)
        with http_server(lambda path, headers: b"", port=port) as peer:
            stop.wait(TIMEOUT)
        peers.append(peer)

    restarter = run_thread(restart_server)
    connections = 0
    for ws in open_ws(
        f"ws://127.0.0.1:{port}/", process_exception=count, reconnect_delays=no_delays
    ):
        connections += 1
        assert ws.state is State.OPEN
        break
    stop.set()
    join(restarter)
    assert connections == 1
    assert len(failures) >= 3
    assert all(isinstance(exc, OSError) for exc in failures)


def test_wss_through_https_proxy_is_refused_clearly() -> None:
    tls = make_tls()
    with (
        websockets_server(ssl_context=tls.server_context) as peer,
        http_proxy(ssl_context=tls.server_context) as proxy,
    ):
        opener = open_ws(
            f"wss://localhost:{peer.port}/",
            proxy=f"https://localhost:{proxy.port}",
            ssl=tls.client_context,
            proxy_ssl=tls.client_context,
        )
        with pytest.raises(ProxyError, match="not supported"):
            opener.connect()


def test_client_connection_is_exported() -> None:
    assert issubclass(ClientConnection, object)
    assert ConnectionClosedOK.__name__ == "ConnectionClosedOK"


def test_messages_before_a_fault_are_answered_before_the_close() -> None:
    # A message, then a frame with RSV2 set, in one write (Autobahn case 3.2):
    # the application reads and echoes the message, then the client fails the
    # connection with 1002.
    script = faulty.server_frame(0x1, b"hello") + faulty.server_frame(0x1, b"x", rsv=2)

    def echo(uri: str) -> None:
        with open_ws(uri) as ws:
            for message in ws:
                ws.send(message)

    with hosted(lambda: faulty.faulty_server(script)) as peer:
        with pytest.raises(ConnectionClosedError) as info:
            echo(peer.uri)
        assert info.value.sent is not None
        assert info.value.sent.code == 1002
        assert peer.done.wait(TIMEOUT)
    assert [opcode for opcode, _ in peer.frames] == [0x1, 0x8]
    assert peer.frames[0][1] == b"hello"


def test_fault_is_not_held_forever_when_the_application_stops_reading() -> None:
    script = faulty.server_frame(0x2, b"kept") + faulty.server_frame(0x0, b"bad")
    with hosted(lambda: faulty.faulty_server(script)) as peer:
        ws = open_ws(peer.uri, close_timeout=0.05).connect()
        assert peer.done.wait(TIMEOUT)
        assert [opcode for opcode, _ in peer.frames] == [0x8]
        assert ws.recv() == b"kept"
        with pytest.raises(ConnectionClosedError):
            ws.recv()
