"""How bytes move between the network and the sans-I/O core, with asyncio.

This module is I/O-specific; the threading front end hand-writes its own twin with
a reader thread. Everything else that ``ClientConnection`` does is shape-level
code in :mod:`wskit.asyncio.connection`.

Speed comes from doing no more than needed per chunk of bytes: reads go into one
buffer that all the connections of an event loop share (the core copies what it
keeps before the read returns), or straight into the payload of a large frame in
progress; ``data_received`` feeds the core directly, hands a read's whole small
messages to the :class:`Assembler` in one step, and every other data frame
without a task, a copy or a queue hop; what the core produced is written at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from wskit.core.events import BinaryData, Event, Pong, TextData
from wskit.core.exceptions import ConnectionClosed
from wskit.core.http11 import Response
from wskit.core.protocol import ClientProtocol, State

from .messages import Assembler

__all__ = ["ConnectionIO"]


class QueuedTimer:
    """A timer of a :class:`TimerQueue`; :meth:`cancel` as for a ``TimerHandle``."""

    __slots__ = ("args", "callback", "context", "queue", "when")

    def __init__(
        self,
        queue: TimerQueue,
        when: float,
        callback: Callable[..., object],
        args: tuple[object, ...],
    ) -> None:
        self.queue = queue
        self.when = when
        self.callback: Callable[..., object] | None = callback
        self.args = args
        self.context = contextvars.copy_context()

    def cancel(self) -> None:
        """Drop the timer; it does nothing when its time comes."""
        if self.callback is not None:
            self.callback = None
            self.queue.dropped()


class TimerQueue:
    """The timers of one delay on one event loop, sharing one event loop timer.

    Each connection arms a close timer, the first keepalive ping and the opening
    deadline, and most connections cancel them moments later. As event loop
    timers, each would be pushed onto the loop's heap (comparisons in Python),
    and stay there, cancelled, until the loop purges its heap. Timers of one
    delay expire in the order they were armed: a queue of them needs one event
    loop timer, for the first one, and cancelling is setting a field. Callbacks
    run exactly as with ``loop.call_later``: at their time, through
    ``loop.call_soon``, in the context that armed them.

    Use :func:`timer_queue` to get the queue of a delay.
    """

    __slots__ = ("dead", "delay", "handle", "loop", "timers")

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        self.loop = loop
        self.delay = delay
        self.timers: deque[QueuedTimer] = deque()
        self.handle: asyncio.TimerHandle | None = None
        self.dead = 0

    def call_later(self, callback: Callable[..., object], *args: object) -> QueuedTimer:
        """Call ``callback(*args)`` after the queue's delay."""
        timer = QueuedTimer(self, self.loop.time() + self.delay, callback, args)
        self.timers.append(timer)
        if self.handle is None:
            self.handle = self.loop.call_at(timer.when, self._expire)
        return timer

    def dropped(self) -> None:
        self.dead += 1
        if self.dead > 64 and self.dead * 2 > len(self.timers):
            self.timers = deque(t for t in self.timers if t.callback is not None)
            self.dead = 0

    def _expire(self) -> None:
        self.handle = None
        loop = self.loop
        # The loop runs a timer up to one clock tick early, as loop.call_at.
        now = loop.time() + _CLOCK_RESOLUTION
        timers = self.timers
        while timers:
            timer = timers[0]
            callback = timer.callback
            if callback is None:
                timers.popleft()
                self.dead -= 1
                continue
            if timer.when > now:
                self.handle = loop.call_at(timer.when, self._expire)
                return
            timers.popleft()
            timer.callback = None
            loop.call_soon(callback, *timer.args, context=timer.context)


_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution

# Event loop -> delay -> queue.
_timer_queues: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[float, TimerQueue]
] = weakref.WeakKeyDictionary()


def timer_queue(loop: asyncio.AbstractEventLoop, delay: float) -> TimerQueue:
    """The queue of the timers of ``delay`` seconds on ``loop``."""
    queues = _timer_queues.get(loop)
    if queues is None:
        queues = _timer_queues[loop] = {}
    queue = queues.get(delay)
    if queue is None:
        queue = queues[delay] = TimerQueue(loop, delay)
    return queue


# Size of the read buffer shared by the connections of an event loop: as large
# as the reads of asyncio's own transports.
READ_BUFFER_SIZE = 2**18

# Event loop -> its read buffer.
_read_buffers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, memoryview] = (
    weakref.WeakKeyDictionary()
)


def read_buffer(loop: asyncio.AbstractEventLoop) -> memoryview:
    """The read buffer that the connections on ``loop`` share.

    Sharing is safe because a transport calls ``get_buffer()``, reads and calls
    ``buffer_updated()`` in one go, and the core copies what it keeps: the
    buffer is free again when ``buffer_updated()`` returns. A thousand idle
    connections do not hold a thousand buffers.
    """
    view = _read_buffers.get(loop)
    if view is None:
        view = _read_buffers[loop] = memoryview(bytearray(READ_BUFFER_SIZE))
    return view


#: Held frames (see :meth:`ConnectionIO.coalesce`) are written once there are
#: this many...
COALESCE_FRAMES = 256
#: ... or once they hold this many bytes.
COALESCE_BYTES = 2**14


class ConnectionIO(asyncio.BufferedProtocol):
    """The asyncio half of a client connection: transport callbacks and timers.

    Args:
        protocol: The sans-I/O connection.
        close_timeout: Seconds to wait for the server to close TCP once the close
            handshake started (or the handshake failed); then the transport is
            aborted. ``None`` waits forever.
        max_queue: High-water mark, in frames, of the incoming buffer, or a
            ``(high, low)`` tuple; ``None`` disables flow control.
        write_limit: High-water mark, in bytes, of the outgoing buffer, or a
            ``(high, low)`` tuple.
    """

    transport: asyncio.Transport

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
        self.loop = asyncio.get_running_loop()
        self.logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = (
            protocol.logger
        )
        self.debug = protocol.debug
        self.recv_messages = Assembler(self.max_queue_high, self.max_queue_low)
        #: Resolved when the handshake response arrived or the connection was lost.
        self.response_rcvd: asyncio.Future[None] = self.loop.create_future()
        #: Resolved by :meth:`connection_lost`; never cancelled.
        self.connection_lost_waiter: asyncio.Future[None] = self.loop.create_future()
        # One future per caller of wait_connection_lost(): cancelling a caller
        # cancels only its own.
        self._lost_waiters: list[asyncio.Future[None]] = []
        #: Why the connection dropped, chained to ``ConnectionClosed``.
        self.connection_exc: BaseException | None = None
        self._close_timer: QueuedTimer | None = None
        self._fail_timer: asyncio.TimerHandle | None = None
        self.paused_writing = False
        # A list, not a deque: it is almost always empty, and an empty deque
        # takes 600 bytes of every idle connection.
        self._drain_waiters: list[asyncio.Future[None]] = []
        # Write coalescing (see coalesce()): whether a frame was written since
        # the last read or the end of the last burst, the frames held for the
        # end of this turn of the event loop, and their size.
        self._wrote = False
        self._pending: list[bytes] | None = None
        self._pending_size = 0
        # The event loop's shared read buffer, and whether get_buffer() returned
        # the core's buffer for the rest of a large payload instead.
        self._read_view = read_buffer(self.loop)
        self._reading_into = False

    # Hooks for the shape-level code.

    def process_pong(self, data: bytes) -> None:
        """Called for each pong received; overridden to acknowledge pings."""

    def process_response(self, response: Response) -> None:
        """Called with the handshake response."""
        if not self.response_rcvd.done():
            self.response_rcvd.set_result(None)

    def connection_closed(self) -> None:
        """Called once the TCP connection is gone; overridden to end waiters."""

    # asyncio.Protocol callbacks.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport and wire the flow control to it."""
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(self.write_limit_high, self.write_limit_low)
        self.recv_messages.pause = transport.pause_reading
        self.recv_messages.resume = transport.resume_reading

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the transport reads next: the rest of a large payload, if any."""
        view = self.protocol.receive_buffer()
        if view is not None:
            self._reading_into = True
            return view
        self._reading_into = False
        return self._read_view

    def buffer_updated(self, nbytes: int) -> None:
        """Hand what the transport read to the core."""
        if self._reading_into:
            self._reading_into = False
            self._wrote = False
            self.protocol.received_into(nbytes)
            self._process_received()
        else:
            self.data_received(self._read_view[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        """Feed the core, write its answers, dispatch its events."""
        # A read starts a new exchange: the next frame goes out at once.
        self._wrote = False
        protocol = self.protocol
        # Whole small messages first, straight into the queue: for most reads
        # that is all there is, and nothing else needs doing.
        messages, rest = protocol.take_messages(data)
        if messages:
            self.recv_messages.put_messages(messages)
        if not rest:
            return
        protocol.receive_data(rest)
        self._process_received()

    def _process_received(self) -> None:
        """Write what the core answered and dispatch its events."""
        protocol = self.protocol
        events = protocol.events_received()
        self.send_data()
        if (
            protocol.state is not State.OPEN
            and self._close_timer is None
            and protocol.close_expected()
        ):
            self.arm_close_timer()
        put = self.recv_messages.put
        for event in events:
            cls = type(event)
            if cls is TextData or cls is BinaryData:
                put(event)  # type: ignore[arg-type]
            else:
                self._process_other(event)
        if protocol.failure_pending and self._fail_timer is None:
            # The core held a peer fault that followed complete messages: fail
            # once the application has read them and waits for more (so that
            # its answers go out before the close), or after close_timeout.
            self.recv_messages.on_starved = self._fail_pending
            delay = 10.0 if self.close_timeout is None else self.close_timeout
            self._fail_timer = self.loop.call_later(delay, self._fail_pending)

    def _fail_pending(self) -> None:
        self.recv_messages.on_starved = None
        if self._fail_timer is not None:
            self._fail_timer.cancel()
        protocol = self.protocol
        if protocol.fail_pending():
            self.send_data()
            if self._close_timer is None and protocol.close_expected():
                self.arm_close_timer()

    def eof_received(self) -> None:
        """The server closed its side: let the core finish, then close ours."""
        protocol = self.protocol
        protocol.receive_eof()
        events = protocol.events_received()
        transport = self.transport
        if transport.get_extra_info("sslcontext") is not None:
            # TLS closes through its own shutdown once this returns.
            self.send_data()
            for event in events:
                self._process_other(event)
            return
        # RFC 6455 section 7.1.1 lets the client close TCP once the server has,
        # and the whole connection is closed right below: write what the core
        # produced but skip the half-close it asks for, a shutdown() system call
        # that close() makes redundant.
        output = protocol.data_to_send()
        self._flush_pending()
        if not transport.is_closing():
            write = transport.write
            for chunk in output:
                if chunk:
                    write(chunk)
        for event in events:
            self._process_other(event)
        # Returning None would close the transport after this call; closing it
        # here lets the waiters of wait_connection_lost() wake in the turn of the
        # event loop in which the selector transport calls connection_lost(),
        # which it scheduled first, rather than one turn after it. A waiter that
        # wakes before connection_lost() waits again.
        transport.close()
        self._wake_lost_waiters()

    def connection_lost(self, exc: Exception | None) -> None:
        """Mark the connection closed and wake every waiter."""
        protocol = self.protocol
        if not protocol.eof_rcvd:
            protocol.receive_eof()
            for event in protocol.events_received():
                self._process_other(event)
            protocol.data_to_send()
        if exc is not None and self.connection_exc is None:
            self.connection_exc = exc
        # Frames held for the end of the turn have nowhere to go.
        self._pending = None
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._fail_timer is not None:
            self._fail_timer.cancel()
        transport = getattr(self, "transport", None)
        if transport is not None and not transport.is_closing():
            # Python 3.10's TLS transport is not marked closed when the server
            # closed the connection, and warns when collected; it is gone anyway.
            transport.abort()
        self.recv_messages.close()
        if not self.response_rcvd.done():
            self.response_rcvd.set_result(None)
        self.connection_closed()
        self.connection_lost_waiter.set_result(None)
        self._wake_lost_waiters()
        self.paused_writing = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)

    def pause_writing(self) -> None:
        """The write buffer went above ``write_limit``: make senders wait."""
        self.paused_writing = True

    def resume_writing(self) -> None:
        """The write buffer drained: release waiting senders."""
        self.paused_writing = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)

    # Helpers for the shape-level code.

    def coalesce(self, output: list[bytes]) -> None:
        """Hold the frames of a burst of sends and write them in one system call.

        The first frame written after a read goes out at once, so that a request
        and its response cost what they would without this. A frame sent after
        it, before the next read, is held until the end of the current turn of
        the event loop (or until ``COALESCE_FRAMES`` frames or
        ``COALESCE_BYTES`` bytes are held) and written with the others in
        one system call: a coroutine that sends many messages without waiting
        makes one ``send()`` system call per burst rather than one per message.
        The frames reach the transport in the order they were sent, before any
        other output of the connection, and never later than the next turn of
        the event loop; the transport itself gives no earlier guarantee, since it
        writes to the socket only what the kernel accepts at once.

        Args:
            output: Frames from the core's ``data_to_send()``.
        """
        if not output:
            return
        size = len(output[0]) if len(output) == 1 else sum(map(len, output))
        pending = self._pending
        if size >= COALESCE_BYTES:
            # Joining would copy a large frame for nothing.
            if pending:
                self._write_pending(pending)
            transport = self.transport
            if not transport.is_closing():
                for chunk in output:
                    transport.write(chunk)
        elif pending is None:
            self._pending = output
            self._pending_size = size
            self.loop.call_soon(self._end_burst)
        else:
            pending += output
            self._pending_size += size
            if self._pending_size >= COALESCE_BYTES or len(pending) >= COALESCE_FRAMES:
                # Not waiting for the end of a long burst lets the server work
                # on its start meanwhile, and bounds what is held.
                self._write_pending(pending)

    def _write_pending(self, pending: list[bytes]) -> None:
        """Write the held frames; the burst goes on (its end is scheduled)."""
        transport = self.transport
        if not transport.is_closing():
            # One write of the joined frames rather than writelines(): see
            # send_data().
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))
        pending.clear()
        self._pending_size = 0

    def _end_burst(self) -> None:
        self._wrote = False
        self._flush_pending()

    def _flush_pending(self) -> None:
        """Write the frames that :meth:`coalesce` holds, if any."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            if pending:
                self._write_pending(pending)

    def send_data(self) -> None:
        """Write what the core produced; ``b""`` half-closes the connection."""
        output = self.protocol.data_to_send()
        if not output:
            return
        self._flush_pending()
        transport = self.transport
        if transport.is_closing():
            # The socket failed or is closing: asyncio would drop the bytes
            # anyway, and log "socket.send() raised exception." for each write.
            return
        # write() per chunk, not writelines(): the selector transport's
        # writelines() of Python 3.12 and 3.13.0 never calls pause_writing(), so
        # write_limit would not hold and a sending loop would never yield.
        write = transport.write
        for chunk in output:
            if chunk:
                write(chunk)
        if output[-1]:
            return
        if transport.is_closing():
            return
        if transport.can_write_eof():
            if self.debug:
                self.logger.debug("x half-closing TCP connection")
            try:
                transport.write_eof()
            except (OSError, RuntimeError):  # pragma: no cover - already broken
                transport.close()
        else:
            # TLS cannot half-close: close the whole connection.
            if self.debug:
                self.logger.debug("x closing TCP connection")
            transport.close()

    async def drain(self) -> None:
        """Wait until the write buffer is below its low-water mark."""
        if not self.paused_writing:
            return
        waiter = self.loop.create_future()
        self._drain_waiters.append(waiter)
        try:
            await waiter
        finally:
            self._drain_waiters.remove(waiter)

    def arm_close_timer(self) -> None:
        """Abort the transport if the server has not closed TCP in time.

        RFC 6455 section 7.1.1: the server closes the TCP connection first; a
        client that trusted it forever would hang on a misbehaving server.
        """
        if self._close_timer is not None or self.connection_lost_waiter.done():
            return
        if self.close_timeout is None:
            return
        self._close_timer = timer_queue(self.loop, self.close_timeout).call_later(
            self._close_timeout_expired
        )

    def _close_timeout_expired(self) -> None:
        self._close_timer = None
        if self.connection_exc is None:
            self.connection_exc = TimeoutError("timed out while closing connection")
        if self.debug:
            self.logger.debug("! timed out waiting for TCP close")
        self.transport.abort()

    def abort(self) -> None:
        """Drop the TCP connection at once, e.g. when opening it was cancelled."""
        transport = getattr(self, "transport", None)
        if transport is not None:
            transport.abort()

    async def wait_connection_lost(self) -> None:
        """Wait until the TCP connection is closed, without cancelling the waiter.

        A future of its own rather than :func:`asyncio.shield`, which costs an
        extra turn of the event loop to pass the result on.
        """
        lost = self.connection_lost_waiter
        waiters = self._lost_waiters
        while not lost.done():
            waiter = self.loop.create_future()
            waiters.append(waiter)
            try:
                await waiter
            finally:
                waiters.remove(waiter)

    def _wake_lost_waiters(self) -> None:
        for waiter in self._lost_waiters:
            if not waiter.done():
                waiter.set_result(None)

    def close_exc(self) -> ConnectionClosed:
        """The exception telling the application how the connection closed."""
        exc = self.protocol.close_exc()
        if self.connection_exc is not None and exc.__cause__ is None:
            exc.__cause__ = self.connection_exc
        return exc

    def _process_other(self, event: Event) -> None:
        cls = type(event)
        if cls is TextData or cls is BinaryData:
            self.recv_messages.put(event)  # type: ignore[arg-type]
        elif cls is Pong:
            self.process_pong(event.data)  # type: ignore[union-attr,arg-type]
        elif cls is Response:
            self.process_response(event)  # type: ignore[arg-type]
        # Ping: the core already queued the pong. Close: reported through the
        # core's state once the TCP connection is closed.

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Read transport information such as ``peername`` or ``ssl_object``."""
        transport = getattr(self, "transport", None)
        if transport is None:
            return default
        return transport.get_extra_info(name, default)
