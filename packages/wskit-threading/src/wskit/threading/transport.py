"""How bytes move between a socket and the sans-I/O core, with threads.

This module is I/O-specific: it is the hand-written twin of
:mod:`wskit.asyncio.transport`, plus the methods of ``ClientConnection`` whose
asyncio versions rest on futures and tasks (sending, closing, pings, keepalive,
the opening handshake). Everything else is generated into
:mod:`wskit.threading.connection` from the asyncio client.

Who reads (plain TCP and Unix sockets):

- The application's thread. ``recv()`` with no message queued takes the read
  token (see :mod:`wskit.threading.messages`), reads with ``recv_into``, feeds the
  core, writes what the core answers (pongs, the close echo) and returns the
  message. No other thread is woken on the way, which is what makes a blocking
  client fast: a hand-off between threads costs more than the rest of a small
  message's trip. ``close()`` reads the close echo and the end of the TCP
  connection the same way, and the opening handshake reads the response.
- The shared background thread (:mod:`wskit.threading.background`), when the
  application has not read for a moment (``_HANDOVER_DELAY``): it watches the
  socket and reads what arrives without blocking (``MSG_DONTWAIT``), so that
  pings are answered, close frames echoed and messages queued while the
  application does something else. When more than ``max_queue`` frames wait, it
  stops reading and TCP flow control slows the server down. It hands reading
  back as soon as an application thread wants to read.

A TLS socket cannot be read without blocking from a thread that must never
block, nor read while the hand-over above happens, so a TLS connection keeps a
reader thread of its own that always reads and queues messages for ``recv()``.

The background thread also runs every connection's keepalive pings and close
timers: no connection has a thread of its own for them.

The application's threads send. Sends are synchronous: ``send()`` returns once
``sendall`` handed the bytes to the kernel, so nothing piles up in user space and
``write_limit`` has nothing to bound (the socket's send buffer does that).

Locks: ``protocol_mutex`` serializes every call into the core and the hand-off of
its output to an ordered outbox; ``write_lock`` serializes socket writes, which
drain the outbox in order. Frames of different threads therefore never
interleave, and a reading thread never waits for a blocked writer: it writes
only when the write lock is free, and otherwise leaves its bytes to the writer
that holds it. A fragmented message holds a send slot for its whole length; other
data frames wait for it, control frames do not.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from threading import get_ident
from typing import Any

from wskit.core.events import BinaryData, Pong, TextData
from wskit.core.exceptions import ConcurrencyError, ConnectionClosed, InvalidMessage
from wskit.core.frames import CloseCode
from wskit.core.headers import HeadersLike
from wskit.core.http11 import Request, Response
from wskit.core.protocol import ClientProtocol, State

from .background import BACKGROUND, Handle
from .messages import Assembler, DataFrame
from .network import remaining

__all__ = ["ConnectionIO"]

_BytesLike = (bytes, bytearray, memoryview)

_Fragment = str | bytes | bytearray | memoryview

# Size of the receive buffer of each reading thread. The rest of a large frame
# is read into the core's buffer for its payload instead (see _read_view).
_READ_SIZE = 2**17
# Chunks up to this total are joined and written with one system call.
_JOIN_LIMIT = 2**14
# Seconds without a read by the application before the background thread reads
# for it. Reading goes back to the application at once when it wants to read.
_HANDOVER_DELAY = 0.2
# Reading without blocking, which the background thread must do.
_DONTWAIT: int | None = getattr(socket, "MSG_DONTWAIT", None)

_local = threading.local()


def _read_buffer() -> tuple[bytearray, memoryview]:
    """The receive buffer of the calling thread.

    One per thread rather than one per connection: a thousand idle connections
    do not hold a thousand buffers. The core copies what it keeps before
    ``receive_data`` returns, so the next read may reuse the buffer.
    """
    try:
        return _local.buffer  # type: ignore[no-any-return]
    except AttributeError:
        buffer = bytearray(_READ_SIZE)
        _local.buffer = buffer, memoryview(buffer)
        return _local.buffer  # type: ignore[no-any-return]


def _wait_readable(sock: socket.socket, timeout: float) -> bool:
    """Whether ``sock`` becomes readable within ``timeout`` seconds.

    ``poll`` rather than ``select``: descriptors above 1023 are common with many
    connections. Not ``settimeout``: that would also bound other threads' sends.
    """
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(math.ceil(timeout * 1000)))
    readable, _, _ = select.select([sock], [], [], timeout)  # pragma: no cover
    return bool(readable)  # pragma: no cover


class ConnectionIO:
    """The threading half of a client connection: socket, reading and locks.

    Args:
        protocol: The sans-I/O connection.
        close_timeout: Seconds to wait for the server to close TCP once the close
            handshake started (or the handshake failed); then the socket is shut
            down. ``None`` waits forever.
        max_queue: High-water mark, in frames, of the incoming buffer, or a
            ``(high, low)`` tuple; ``None`` disables flow control.
        write_limit: Accepted for compatibility with the asyncio client: sends
            are synchronous ``sendall`` calls, so the kernel's send buffer is the
            only buffer and nothing accumulates in user space.
    """

    # Set by ClientConnection.__init__, which is generated.
    ping_interval: float | None
    ping_timeout: float | None
    latency: float
    request: Request | None
    response: Response | None
    pending_pings: dict[bytes, tuple[threading.Event, float]]
    send_in_progress: threading.Thread | None
    keepalive_task: threading.Thread | None

    sock: socket.socket | None = None

    def __init__(
        self,
        protocol: ClientProtocol,
        *,
        close_timeout: float | None = 10,
        max_queue: int | tuple[int | None, int | None] | None = 16,
        write_limit: int | tuple[int, int | None] = 2**15,
    ) -> None:
        self.protocol = protocol
        self.close_timeout = close_timeout
        if isinstance(max_queue, tuple):
            self.max_queue_high, self.max_queue_low = max_queue
        else:
            self.max_queue_high, self.max_queue_low = max_queue, None
        if isinstance(write_limit, tuple):
            self.write_limit_high, self.write_limit_low = write_limit
        else:
            self.write_limit_high, self.write_limit_low = write_limit, None
        self.logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = (
            protocol.logger
        )
        self.debug = protocol.debug
        self.recv_messages = Assembler(self.max_queue_high, self.max_queue_low)
        #: Set when the handshake response arrived or the connection was lost.
        self.response_rcvd = threading.Event()
        #: Set once the socket is closed and every waiter woken.
        self.connection_lost_waiter = threading.Event()
        #: Why the connection dropped, chained to ``ConnectionClosed``.
        self.connection_exc: BaseException | None = None
        self.protocol_mutex = threading.Lock()
        # Wakes senders waiting for a fragmented message to end.
        self.send_done = threading.Condition(self.protocol_mutex)
        self.write_lock = threading.Lock()
        self.outgoing: deque[bytes] = deque()
        # Threads inside a critical section, by identifier: close() called from
        # a signal handler that interrupted one of them must not wait for it.
        self.busy: dict[int, int] = {}
        #: The thread that reads when the application does not: the shared
        #: background thread, or for TLS the connection's own reader thread.
        self.reader_thread: threading.Thread | None = None
        # Whether application threads read the socket themselves (not TLS).
        self._inline = False
        # Reads by application threads, and the count the last idle check saw.
        self._reads = 0
        self._reads_seen = 0
        # Scheduled calls in the background thread; all set under protocol_mutex.
        self._close_timer: Handle | None = None
        self._idle_check_handle: Handle | None = None
        self._keepalive_handle: Handle | None = None
        self._failure_handle: Handle | None = None
        self._lost = False

    # Hooks for the shape-level code.

    def process_response(self, response: Response) -> None:
        """Called with the handshake response."""
        self.response_rcvd.set()

    # The socket.

    def connection_made(self, sock: socket.socket) -> None:
        """Take ownership of a connected socket.

        A TLS connection's reader thread starts once the handshake request is
        written (or now, for a connection that skips the handshake): an
        ``ssl.SSLSocket`` must not be read and written by two threads at once
        while TLS 1.3 still exchanges post-handshake messages, which made the
        opening hang.
        """
        self.sock = sock
        self._inline = _DONTWAIT is not None and not isinstance(sock, ssl.SSLSocket)
        if self._inline:
            self.recv_messages.read = self._read_inline
            self.recv_messages.wake_background = self._schedule_idle_check
            if self.protocol.state is not State.CONNECTING:
                self._watch()
        elif self.protocol.state is not State.CONNECTING:
            self._start_reader()

    # Reading, in whichever thread holds the read token.

    def _read_view(self) -> tuple[memoryview, bool]:
        """Where to read next, and whether it is the core's own buffer.

        The rest of a large payload in progress is read straight into place (see
        ``ClientProtocol.receive_buffer``), anything else into the thread's read
        buffer. Without the protocol mutex: only the thread holding the read
        token touches the core's frame parser.
        """
        view = self.protocol.receive_buffer()
        if view is not None:
            return view, True
        return _read_buffer()[1], False

    def _received(self, data: memoryview, into: bool = False) -> list[DataFrame]:
        """Feed bytes to the core, write its answer, and return the data frames.

        ``into``: ``data`` was read into the buffer from :meth:`_read_view` that
        belongs to the core.
        """
        protocol = self.protocol
        mutex = self.protocol_mutex
        # _acquire() and _release(), inlined on this path of every message.
        ident = get_ident()
        busy = self.busy
        busy[ident] = busy.get(ident, 0) + 1
        mutex.acquire()
        try:
            if into:
                protocol.received_into(len(data))
            else:
                protocol.receive_data(data)
            events = protocol.events_received()
            output = protocol.data_to_send()
            if output:
                self.outgoing.extend(output)
            # close_expected() is false while the connection is open.
            arm = (
                protocol.state is not State.OPEN
                and self._close_timer is None
                and protocol.close_expected()
            )
            if len(events) == 1 and type(events[0]) in (TextData, BinaryData):
                frames: list[DataFrame] = events  # type: ignore[assignment]
                response = None
            else:
                frames = []
                response = None
                for event in events:
                    cls = type(event)
                    if cls is TextData or cls is BinaryData:
                        frames.append(event)  # type: ignore[arg-type]
                    elif cls is Pong:
                        self.process_pong(event.data)  # type: ignore[union-attr,arg-type]
                    elif cls is Response:
                        response = event
                    # Ping: the core already queued the pong. Close: reported
                    # through the core's state once the TCP connection is closed.
        finally:
            mutex.release()
            count = busy[ident] - 1
            if count:
                busy[ident] = count
            else:
                del busy[ident]
        if self.outgoing:
            self.flush(blocking=False)
        if arm:
            self.arm_close_timer()
        if response is not None:
            self.process_response(response)  # type: ignore[arg-type]
        return frames

    def _read_inline(self, deadline: float | None) -> list[DataFrame]:
        """Read once in an application thread that holds the read token.

        Raises:
            TimeoutError: ``deadline`` passed before anything arrived.
        """
        self._reads += 1
        if self.protocol.failure_pending:
            # The application read every message before a peer fault and wants
            # more: the time to fail has come.
            self._fail_pending_now()
        sock = self.sock
        assert sock is not None
        if deadline is not None and not _wait_readable(
            sock, max(deadline - time.monotonic(), 0.0)
        ):
            raise TimeoutError("timed out while waiting for a message")
        view, into = self._read_view()
        try:
            size = sock.recv_into(view)
        except (OSError, ValueError) as exc:
            self._read_failed(exc)
            return []
        if not size:
            self._eof()
            return []
        frames = self._received(view[:size], into)
        if self.protocol.failure_pending:
            self._schedule_failure()
        return frames

    def _background_read(self) -> None:
        """Read what arrived for an application that is not reading.

        Runs in the background thread when the socket is readable; never blocks.
        """
        sock = self.sock
        assert sock is not None
        messages = self.recv_messages
        if not messages.try_take():
            # An application thread reads: leave the socket to it. The thread
            # schedules an idle check once it lets go of the read token.
            self._unwatch()
            return
        frames: list[DataFrame] = []
        try:
            view, into = self._read_view()
            try:
                size = sock.recv_into(view, 0, _DONTWAIT)  # type: ignore[arg-type]
            except (BlockingIOError, InterruptedError):
                size = -1
            except (OSError, ValueError) as exc:
                self._read_failed(exc)
                size = -1
            if size == 0:
                self._eof()
            elif size > 0:
                frames = self._received(view[:size], into)
                if self.protocol.failure_pending:
                    self._schedule_failure()
        finally:
            going_on = messages.give_back(frames)
        if not going_on:
            # Flow control: stop reading until the application catches up,
            # which schedules an idle check.
            self._unwatch()

    def _read_failed(self, exc: BaseException) -> None:
        if self.connection_exc is None and not self._lost:
            self.connection_exc = exc
        self._eof()

    def _eof(self) -> None:
        """The server closed TCP, or reading failed: finish, then clean up."""
        with self._locked():
            protocol = self.protocol
            events = []
            if not self._lost:
                # RFC 6455 section 7.1.1: once the server closed TCP, the client
                # may close its side; the core half-closes ours.
                if not protocol.eof_rcvd:
                    protocol.receive_eof()
                events = protocol.events_received()
                self._queue_output()
        self.flush(blocking=False)
        for event in events:
            if type(event) is Response:
                self.process_response(event)
        self._connection_lost()

    # Handing reading over between the application and the background thread.

    def _watch(self) -> None:
        """Let the background thread read whatever arrives."""
        with self._locked():
            if not self._lost and self.sock is not None:
                BACKGROUND.watch(self.sock, self._background_read)
                self.reader_thread = BACKGROUND.thread

    def _unwatch(self) -> None:
        if self.sock is not None:
            BACKGROUND.unwatch(self.sock)

    def _schedule_idle_check(self) -> None:
        with self._locked():
            if not self._lost and self._idle_check_handle is None:
                self._idle_check_handle = BACKGROUND.call_later(
                    _HANDOVER_DELAY, self._idle_check
                )
                self.reader_thread = BACKGROUND.thread

    def _idle_check(self) -> None:
        # In the background thread: read for the application once it has not
        # read for a while. While an application thread holds the read token,
        # or flow control holds reading back, nothing is scheduled: the
        # assembler calls _schedule_idle_check when that ends. So a thousand
        # threads blocked in recv() cost no wake-ups here.
        with self._locked():
            self._idle_check_handle = None
            lost = self._lost
        if lost or self.recv_messages.holds_background():
            return
        with self._locked():
            if self._lost or self._idle_check_handle is not None:
                return
            if self._reads != self._reads_seen:
                self._reads_seen = self._reads
                self._idle_check_handle = BACKGROUND.call_later(
                    _HANDOVER_DELAY, self._idle_check
                )
            else:
                assert self.sock is not None
                BACKGROUND.watch(self.sock, self._background_read)

    # Peer faults held back until the application read the messages before them.

    def _schedule_failure(self) -> None:
        # Fail anyway after close_timeout if the application stops reading.
        if self.close_timeout is None:
            return
        with self._locked():
            if not self._lost and self._failure_handle is None:
                self._failure_handle = BACKGROUND.call_later(
                    self.close_timeout, self._fail_pending_now
                )

    def _fail_pending_now(self) -> None:
        with self._locked():
            handle, self._failure_handle = self._failure_handle, None
            failed = self.protocol.fail_pending()
            self._queue_output()
            arm = self._close_timer is None and self.protocol.close_expected()
        if handle is not None:
            handle.cancel()
        if failed:
            self.flush(blocking=False)
        if arm:
            self.arm_close_timer()

    # The reader thread of a TLS connection.

    def _start_reader(self) -> None:
        self.reader_thread = threading.Thread(
            target=self._read_loop, name=f"wskit-reader-{id(self):x}", daemon=True
        )
        self.reader_thread.start()

    def _read_loop(self) -> None:
        sock = self.sock
        assert sock is not None
        protocol = self.protocol
        put = self.recv_messages.put
        try:
            while True:
                view, into = self._read_view()
                try:
                    size = sock.recv_into(view)
                except (OSError, ValueError) as exc:
                    if self.connection_exc is None and not self._lost:
                        self.connection_exc = exc
                    break
                if not size:
                    break
                for frame in self._received(view[:size], into):
                    put(frame)
                if protocol.failure_pending:
                    self._fail_pending()
        finally:
            self._eof()

    def _fail_pending(self) -> None:
        """Fail for a peer fault held back until the application read the messages
        before it (``defer_failures``), waiting at most ``close_timeout``."""
        self.recv_messages.wait_drained(self.close_timeout)
        # Give the application's answer to the last message a chance to go out
        # first: it is written as soon as recv() returned it.
        self._fail_pending_now()

    # The end.

    def _connection_lost(self) -> None:
        with self._locked():
            if self._lost:
                return
            self._lost = True
            protocol = self.protocol
            if not protocol.eof_rcvd:
                protocol.receive_eof()
                protocol.events_received()
            protocol.data_to_send()
            self.outgoing.clear()
            handles = [
                self._close_timer,
                self._idle_check_handle,
                self._keepalive_handle,
                self._failure_handle,
            ]
            self._close_timer = self._idle_check_handle = None
            self._keepalive_handle = self._failure_handle = None
            if self._inline:
                # Before closing: the background thread must not watch a closed
                # descriptor, which the next socket may reuse.
                self._unwatch()
            self.send_done.notify_all()
        for handle in handles:
            if handle is not None:
                handle.cancel()
        sock = self.sock
        if sock is not None:
            # Shutting down wakes a writer blocked in sendall; closing waits
            # until it let go of the socket.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with self.write_lock:
                sock.close()
        self.recv_messages.close()
        self.response_rcvd.set()
        self.connection_closed()
        self.connection_lost_waiter.set()

    # Writing.

    def _queue_output(self) -> None:
        # The caller holds protocol_mutex: the outbox keeps the core's order.
        output = self.protocol.data_to_send()
        if output:
            self.outgoing.extend(output)

    def flush(self, blocking: bool = True) -> None:
        """Write the outbox to the socket, in order.

        Args:
            blocking: Wait for the write lock. Reading threads pass ``False``:
                whoever holds the lock writes their bytes too.
        """
        outgoing = self.outgoing
        if not outgoing:
            return
        # _acquire() and _release(), inlined on this path of every message.
        lock = self.write_lock
        ident = get_ident()
        busy = self.busy
        while outgoing:
            busy[ident] = busy.get(ident, 0) + 1
            if not lock.acquire(blocking):
                self._leave(ident)
                return
            try:
                self._write_all(outgoing)
            finally:
                lock.release()
                self._leave(ident)
            # Bytes queued while the lock was held by us are written by the
            # loop: a thread that failed to take the lock relies on that.

    def _write_all(self, outgoing: deque[bytes]) -> None:
        sock = self.sock
        if sock is None or self._lost:
            outgoing.clear()
            return
        try:
            while outgoing:
                if len(outgoing) == 1 and outgoing[0]:
                    sock.sendall(outgoing.popleft())
                    continue
                chunks: list[bytes] = []
                total = 0
                while outgoing and outgoing[0] and total < _JOIN_LIMIT:
                    chunk = outgoing.popleft()
                    chunks.append(chunk)
                    total += len(chunk)
                if chunks:
                    sock.sendall(chunks[0] if len(chunks) == 1 else b"".join(chunks))
                elif outgoing and not outgoing[0]:
                    outgoing.popleft()
                    self._half_close(sock)
        except (OSError, ValueError) as exc:
            outgoing.clear()
            if self.connection_exc is None and not self._lost:
                self.connection_exc = exc
            if self.debug:
                self.logger.debug("! write failed: %s", exc)
            self.abort()

    def _half_close(self, sock: socket.socket) -> None:
        if isinstance(sock, ssl.SSLSocket):
            # TLS cannot half-close: the reader thread closes the connection
            # when the server answers, or the close timer does.
            return
        if self.debug:
            self.logger.debug("x half-closing TCP connection")
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    def abort(self) -> None:
        """Drop the TCP connection at once; the reading thread then cleans up."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            if self._inline:
                # Nobody may be reading: let the background thread see the end.
                self._watch()

    # Locks that a signal handler may interrupt.

    def _acquire(self, lock: threading.Lock, blocking: bool = True) -> bool:
        # Mark the thread busy before it may hold the lock, and until it no
        # longer does: a signal handler running in between sees it as busy.
        ident = threading.get_ident()
        busy = self.busy
        busy[ident] = busy.get(ident, 0) + 1
        if lock.acquire(blocking):
            return True
        self._leave(ident)
        return False

    def _release(self, lock: threading.Lock) -> None:
        lock.release()
        self._leave(threading.get_ident())

    def _leave(self, ident: int) -> None:
        count = self.busy[ident] - 1
        if count:
            self.busy[ident] = count
        else:
            del self.busy[ident]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._acquire(self.protocol_mutex)
        try:
            yield
        finally:
            self._release(self.protocol_mutex)

    def _interrupting(self) -> bool:
        """Whether the current thread interrupted itself inside a critical section.

        That happens when a signal handler calls :meth:`close` while the main
        thread was in ``recv()`` or ``send()``.
        """
        ident = threading.get_ident()
        return ident in self.busy or ident in self.recv_messages.busy

    # Close timer and waiting.

    def arm_close_timer(self) -> None:
        """Shut the socket down if the server has not closed TCP in time.

        RFC 6455 section 7.1.1: the server closes the TCP connection first; a
        client that trusted it forever would hang on a misbehaving server.
        """
        if self.close_timeout is None or self.connection_lost_waiter.is_set():
            return
        with self._locked():
            if self._close_timer is not None or self._lost:
                return
            self._close_timer = BACKGROUND.call_later(
                self.close_timeout, self._close_timeout_expired
            )

    def _close_timeout_expired(self) -> None:
        if self.connection_exc is None:
            self.connection_exc = TimeoutError("timed out while closing connection")
        if self.debug:
            self.logger.debug("! timed out waiting for TCP close")
        self.abort()

    def wait_connection_lost(self) -> None:
        """Wait until the TCP connection is closed, reading until then unless
        another thread reads."""
        if self._inline and not self.connection_lost_waiter.is_set():
            self.recv_messages.read_until_closed()
        self.connection_lost_waiter.wait()

    def close_exc(self) -> ConnectionClosed:
        """The exception telling the application how the connection closed."""
        exc = self.protocol.close_exc()
        if self.connection_exc is not None and exc.__cause__ is None:
            exc.__cause__ = self.connection_exc
        return exc

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Read socket information: ``peername``, ``sockname``, ``socket``,
        ``ssl_object`` or ``peercert``, like asyncio's ``get_extra_info``."""
        sock = self.sock
        if sock is None:
            return default
        try:
            if name == "peername":
                return sock.getpeername()
            if name == "sockname":
                return sock.getsockname()
            if name == "socket":
                return sock
            if isinstance(sock, ssl.SSLSocket):
                if name == "ssl_object":
                    return sock
                if name == "peercert":
                    return sock.getpeercert()
                if name == "cipher":
                    return sock.cipher()
        except OSError:
            return default
        return default

    def _raise_closed(self) -> None:
        # The close code is known only once TCP is closed; the close timer bounds
        # the wait because the state is CLOSING or CLOSED here.
        self.arm_close_timer()
        self.wait_connection_lost()
        raise self.close_exc()

    # Sending.

    def send(
        self,
        message: str | bytes | bytearray | memoryview | Iterable[_Fragment],
        text: bool | None = None,
    ) -> None:
        """Send a message.

        A ``str`` goes in a text frame, bytes-like objects in a binary frame;
        ``text`` overrides that (``text=True`` sends UTF-8 bytes as text without
        re-encoding). An iterable sends one fragmented message, one frame per
        item; items must all be ``str`` or all bytes-like. Any thread may send:
        frames of concurrent sends never interleave, and a fragmented message
        holds back other messages until its last frame.

        Args:
            message: The message, or its fragments.
            text: Force a text (``True``) or binary (``False``) frame.

        Raises:
            ConnectionClosed: The connection is closed.
            TypeError: ``message`` has an unsupported type, or fragments mix
                ``str`` and bytes.
        """
        payload: str | bytes | bytearray | memoryview
        if isinstance(message, str):
            if text is False:
                payload, as_text = message.encode(), False
            else:
                payload, as_text = message, True
        elif isinstance(message, _BytesLike):
            if text:
                payload, as_text = bytes(message), True
            else:
                payload, as_text = message, False
        elif isinstance(message, Mapping):
            raise TypeError(
                "cannot send a dict-like object; to send its keys as fragments, "
                "pass message.keys()"
            )
        elif isinstance(message, Iterable):
            self._send_fragments(message, text)
            return
        else:
            raise TypeError(
                "message must be str, bytes-like, or an iterable of them, "
                f"not {type(message).__name__}"
            )
        protocol = self.protocol
        mutex = self.protocol_mutex
        # _acquire() and _release(), inlined on this path of every message.
        ident = get_ident()
        busy = self.busy
        busy[ident] = busy.get(ident, 0) + 1
        mutex.acquire()
        try:
            if self.send_in_progress is not None:
                self._wait_send_slot()
            closed = protocol.state is not State.OPEN
            if not closed:
                if as_text:
                    protocol.send_text(payload)  # type: ignore[arg-type]
                else:
                    protocol.send_binary(payload)  # type: ignore[arg-type]
                self.outgoing.extend(protocol.data_to_send())
        finally:
            mutex.release()
            count = busy[ident] - 1
            if count:
                busy[ident] = count
            else:
                del busy[ident]
        if closed:
            self._raise_closed()
        self.flush()

    def _wait_send_slot(self) -> None:
        # The caller holds protocol_mutex; send_done waits on it.
        current = threading.current_thread()
        while (
            self.send_in_progress is not None and self.send_in_progress is not current
        ):
            self.send_done.wait()

    def _send_fragments(
        self, fragments: Iterable[_Fragment], text: bool | None
    ) -> None:
        iterator = iter(fragments)
        try:
            first = next(iterator)
        except StopIteration:
            return
        with self._locked():
            self._wait_send_slot()
            self.send_in_progress = threading.current_thread()
        try:
            is_str = self._send_first_fragment(first, text)
            for fragment in iterator:
                self._send_next_fragment(fragment, is_str)
            self._send_fragment(lambda: self.protocol.send_continuation(b"", fin=True))
        except Exception:
            self._fail_fragmented()
            raise
        finally:
            with self._locked():
                self.send_in_progress = None
                self.send_done.notify_all()

    def _send_fragment(self, action: Callable[[], None]) -> None:
        with self._locked():
            if self.protocol.state is not State.OPEN:
                raise self.close_exc()
            action()
            self._queue_output()
        self.flush()

    def _send_first_fragment(self, fragment: _Fragment, text: bool | None) -> bool:
        protocol = self.protocol
        if isinstance(fragment, str):
            if text is False:
                encoded = fragment.encode()
                self._send_fragment(lambda: protocol.send_binary(encoded, fin=False))
            else:
                self._send_fragment(lambda: protocol.send_text(fragment, fin=False))
            return True
        if isinstance(fragment, _BytesLike):
            if text:
                data = bytes(fragment)
                self._send_fragment(lambda: protocol.send_text(data, fin=False))
            else:
                self._send_fragment(lambda: protocol.send_binary(fragment, fin=False))
            return False
        raise TypeError(
            f"fragments must be str or bytes-like, not {type(fragment).__name__}"
        )

    def _send_next_fragment(self, fragment: _Fragment, is_str: bool) -> None:
        protocol = self.protocol
        if isinstance(fragment, str) and is_str:
            data = fragment.encode()
        elif isinstance(fragment, _BytesLike) and not is_str:
            data = fragment  # type: ignore[assignment]
        else:
            raise TypeError(
                "fragments of one message must all be str or all bytes-like"
            )
        self._send_fragment(lambda: protocol.send_continuation(data, fin=False))

    def _fail_fragmented(self) -> None:
        # Half a message cannot be taken back: the connection is unusable.
        with self._locked():
            if self.protocol.state is State.OPEN:
                self.protocol.fail(
                    CloseCode.INTERNAL_ERROR, "error in fragmented message"
                )
                self._queue_output()
        self.flush()
        self.arm_close_timer()

    # Closing.

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Perform the closing handshake and wait for the TCP connection to close.

        Waiting is bounded by ``close_timeout``: then the connection is aborted.
        Calling :meth:`close` again, or on a closed connection, does nothing but
        wait. Any thread may call it; a blocked ``recv()`` or ``for message in
        websocket`` loop in another thread then ends. From a signal handler that
        interrupted this connection's own ``recv()`` or ``send()``, the closing
        handshake runs in a new thread and :meth:`close` returns at once: waiting
        there would wait for the very code the handler interrupted.

        Args:
            code: The close code.
            reason: The close reason, at most 123 bytes in UTF-8.

        Raises:
            ValueError: ``code`` may not be sent, or ``reason`` is too long.
        """
        if self._interrupting():
            threading.Thread(
                target=self.close, args=(code, reason), name="wskit-close"
            ).start()
            return
        with self._locked():
            protocol = self.protocol
            if protocol.state is State.OPEN:
                if self.send_in_progress is not None:
                    protocol.fail(
                        CloseCode.INTERNAL_ERROR, "close during fragmented message"
                    )
                else:
                    protocol.send_close(code, reason)
                self._queue_output()
            elif protocol.state is State.CONNECTING:
                protocol.fail(CloseCode.ABNORMAL_CLOSURE)
                self._queue_output()
        self.flush()
        self.arm_close_timer()
        self.wait_connection_lost()

    # Pings.

    def ping(
        self, data: str | bytes | bytearray | memoryview | None = None
    ) -> threading.Event:
        """Send a ping.

        Args:
            data: The payload; ``str`` is encoded to UTF-8; ``None`` picks four
                random bytes that no pending ping uses.

        Returns:
            An event set when the matching pong arrives (the connection's
            ``latency`` then holds the round trip), or when the connection
            closes: check its ``state`` after waiting. A pong also answers every
            earlier pending ping, as RFC 6455 section 5.5.3 allows a server to
            answer only the latest.

        Raises:
            ConnectionClosed: The connection is closed.
            ConcurrencyError: A ping with the same payload still awaits its pong.
            TypeError: ``data`` is not ``str`` or bytes-like.
        """
        if isinstance(data, str):
            payload: bytes | None = data.encode()
        elif isinstance(data, _BytesLike):
            payload = bytes(data)
        elif data is None:
            payload = None
        else:
            raise TypeError(
                f"ping data must be str or bytes-like, not {type(data).__name__}"
            )
        with self._locked():
            if payload is not None and payload in self.pending_pings:
                raise ConcurrencyError(
                    "already waiting for a pong with the same data; pass other "
                    "data or None to let the connection pick a unique payload"
                )
            pong_received = self._queue_ping(payload)
        if pong_received is None:
            self._raise_closed()
        self.flush()
        if self._inline:
            # Someone must read the pong: the background thread, at once,
            # unless an application thread reads.
            self._watch()
        assert pong_received is not None
        return pong_received

    def _queue_ping(self, payload: bytes | None) -> threading.Event | None:
        # The caller holds protocol_mutex. None: the connection is not open.
        if self.protocol.state is not State.OPEN:
            return None
        while payload is None or payload in self.pending_pings:
            payload = os.urandom(4)
        pong_received = threading.Event()
        self.pending_pings[payload] = (pong_received, time.monotonic())
        self.protocol.send_ping(payload)
        self._queue_output()
        return pong_received

    def pong(self, data: str | bytes | bytearray | memoryview = b"") -> None:
        """Send an unsolicited pong, e.g. as a one-way heartbeat.

        Args:
            data: The payload; ``str`` is encoded to UTF-8.

        Raises:
            ConnectionClosed: The connection is closed.
            TypeError: ``data`` is not ``str`` or bytes-like.
        """
        if isinstance(data, str):
            payload = data.encode()
        elif isinstance(data, _BytesLike):
            payload = bytes(data)
        else:
            raise TypeError(
                f"pong data must be str or bytes-like, not {type(data).__name__}"
            )
        with self._locked():
            closed = self.protocol.state is not State.OPEN
            if not closed:
                self.protocol.send_pong(payload)
                self._queue_output()
        if closed:
            self._raise_closed()
        self.flush()

    def process_pong(self, data: bytes) -> None:
        """Set the event of the ping this pong answers, and of every earlier one.

        Called by the reader thread with ``protocol_mutex`` held.
        """
        pending = self.pending_pings
        if data not in pending:
            return  # unsolicited
        now = time.monotonic()
        acknowledged = []
        for ping_id, (pong_received, sent_at) in pending.items():
            acknowledged.append(ping_id)
            if ping_id == data:
                self.latency = now - sent_at
            pong_received.set()
            if ping_id == data:
                break
        for ping_id in acknowledged:
            del pending[ping_id]

    def connection_closed(self) -> None:
        """Wake the waiters of pending pings once TCP is closed."""
        with self._locked():
            pending, self.pending_pings = self.pending_pings, {}
        for pong_received, _ in pending.values():
            pong_received.set()

    # Keepalive, in the background thread.

    def start_keepalive(self) -> None:
        """Schedule keepalive pings, if ``ping_interval`` is set.

        The shared background thread sends them (``keepalive_task`` is that
        thread): every ``ping_interval`` seconds a ping, and without a pong
        within ``ping_timeout`` the connection fails with 1011.
        """
        if self.ping_interval is not None and self.keepalive_task is None:
            self._schedule_keepalive(self.ping_interval, self._keepalive_ping)
            self.keepalive_task = BACKGROUND.thread

    def keepalive(self) -> None:
        """Start the keepalive pings now; see :meth:`start_keepalive`."""
        if self.ping_interval is not None:
            self._schedule_keepalive(0.0, self._keepalive_ping)
            self.keepalive_task = BACKGROUND.thread

    def _schedule_keepalive(self, delay: float, callback: Callable[[], None]) -> None:
        with self._locked():
            if self._lost:
                return
            if self._keepalive_handle is not None:
                self._keepalive_handle.cancel()
            self._keepalive_handle = BACKGROUND.call_later(delay, callback)

    def _keepalive_ping(self) -> None:
        assert self.ping_interval is not None
        with self._locked():
            self._keepalive_handle = None
            pong_received = None if self._lost else self._queue_ping(None)
        if pong_received is None:
            return
        sent_at = time.monotonic()
        # Whoever holds the write lock writes the ping with its own bytes: a
        # send() blocked on a server that stopped reading must not stop this
        # thread, which serves every connection.
        self.flush(blocking=False)
        if self.ping_timeout is None:
            self._schedule_keepalive(self.ping_interval, self._keepalive_ping)
            return
        self._schedule_keepalive(
            min(self.ping_interval, self.ping_timeout),
            lambda: self._keepalive_check(pong_received, sent_at),
        )

    def _keepalive_check(self, pong_received: threading.Event, sent_at: float) -> None:
        assert self.ping_interval is not None
        assert self.ping_timeout is not None
        with self._locked():
            self._keepalive_handle = None
            if self._lost:
                return
        now = time.monotonic()
        if pong_received.is_set():
            # When the pong took a while, ping again sooner, so the period
            # stays close to ping_interval.
            delay = sent_at + self.ping_interval - now
            if delay > 0:
                self._schedule_keepalive(delay, self._keepalive_ping)
            else:
                self._keepalive_ping()
            return
        if now < sent_at + self.ping_timeout:
            self._schedule_keepalive(
                sent_at + self.ping_timeout - now,
                lambda: self._keepalive_check(pong_received, sent_at),
            )
            return
        if self.debug:
            self.logger.debug("! timed out waiting for keepalive pong")
        with self._locked():
            if self.protocol.state is State.OPEN:
                self.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
                self._queue_output()
            if self.connection_exc is None:
                self.connection_exc = TimeoutError("keepalive ping timeout")
        self.flush(blocking=False)
        self.arm_close_timer()

    # Opening handshake.

    def handshake(
        self,
        additional_headers: HeadersLike | None = None,
        user_agent_header: str | None = None,
    ) -> None:
        """Send the handshake request and wait for the response.

        Args:
            additional_headers: Headers to add to the request.
            user_agent_header: The ``User-Agent`` value; ``None`` removes it.

        Raises:
            InvalidHandshake: The server refused the handshake or answered badly.
            TimeoutError: The opening deadline passed.
        """
        protocol = self.protocol
        with self._locked():
            request = protocol.connect(
                additional_headers=additional_headers,
                user_agent_header=user_agent_header,
            )
            self.request = request
            protocol.send_request(request)
            self._queue_output()
        self.flush()
        if self._inline:
            self._read_response()
        else:
            self._start_reader()
            if not self.response_rcvd.wait(remaining()):
                raise TimeoutError("timed out during opening handshake")
        self.response = protocol.response
        exc = protocol.handshake_exc
        if exc is None and protocol.response is None:
            # The connection was lost before any response: a network failure,
            # which reconnecting may fix (see process_exception).
            exc = InvalidMessage("connection closed while reading the HTTP response")
            exc.__cause__ = EOFError("connection closed before the response")
        if exc is not None:
            raise exc
        if self._inline:
            # The application is about to read; if it does not, the background
            # thread will.
            self._schedule_idle_check()

    def _read_response(self) -> None:
        # Nobody else reads yet and nobody sends: a socket timeout bounds each
        # read without disturbing another thread.
        sock = self.sock
        assert sock is not None
        protocol = self.protocol
        buffer, view = _read_buffer()
        try:
            while not self.response_rcvd.is_set() and protocol.handshake_exc is None:
                sock.settimeout(remaining())
                try:
                    size = sock.recv_into(buffer)
                except TimeoutError:
                    raise TimeoutError("timed out during opening handshake") from None
                except (OSError, ValueError) as exc:
                    self._read_failed(exc)
                    return
                if not size:
                    self._eof()
                    return
                frames = self._received(view[:size])
                if frames:
                    # Messages sent right after the response.
                    self.recv_messages.give_back(frames)
                if protocol.failure_pending:
                    self._schedule_failure()
        finally:
            if not self._lost:
                with contextlib.suppress(OSError):
                    sock.settimeout(None)
