"""The client connection API: receive, send, ping, close, keepalive.

This module is shape-level: it says what each call does in terms of the sans-I/O
core and plain awaits, and leaves transport callbacks, buffers and timers to
:mod:`wskit.asyncio.transport` and :mod:`wskit.asyncio.messages`, so that the
threading front end can be generated from it.

The API matches ``websockets.asyncio.client.ClientConnection`` name for name.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

from wskit.core.exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidMessage,
)
from wskit.core.frames import CloseCode
from wskit.core.headers import HeadersLike
from wskit.core.http11 import Request, Response
from wskit.core.protocol import ClientProtocol, State

from .transport import ConnectionIO, QueuedTimer, timer_queue

__all__ = ["ClientConnection", "Data"]

Data = str | bytes
"""A message: ``str`` for text, ``bytes`` for binary."""

_BytesLike = (bytes, bytearray, memoryview)

_Self = TypeVar("_Self", bound="ClientConnection")


class ClientConnection(ConnectionIO):
    """A WebSocket client connection.

    :meth:`recv` and ``send()`` exchange messages; ``async for message in
    connection`` reads until the connection closes normally and raises
    :exc:`~wskit.core.exceptions.ConnectionClosedError` otherwise. Use it as an
    async context manager to close it with code 1000 on exit.

    Args:
        protocol: The sans-I/O connection.
        ping_interval: Seconds between keepalive pings; ``None`` disables them.
        ping_timeout: Seconds to wait for a keepalive pong before failing the
            connection with 1011; ``None`` waits forever.
        close_timeout: Seconds to wait for the server to close the connection
            after the closing handshake started; ``None`` waits forever.
        max_queue: High-water mark, in frames, of the incoming buffer, or a
            ``(high, low)`` tuple; the low-water mark defaults to ``high // 4``.
        write_limit: High-water mark, in bytes, of the outgoing buffer, or a
            ``(high, low)`` tuple.
    """

    def __init__(
        self,
        protocol: ClientProtocol,
        *,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        close_timeout: float | None = 10,
        max_queue: int | tuple[int | None, int | None] | None = 16,
        write_limit: int | tuple[int, int | None] = 2**15,
    ) -> None:
        super().__init__(
            protocol,
            close_timeout=close_timeout,
            max_queue=max_queue,
            write_limit=write_limit,
        )
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        # Drawn on first use (see id): a UUID costs a system call and an object,
        # about 5 us of every connection, and most connections never show it.
        self._id: uuid.UUID | None = None
        #: The handshake request, once sent.
        self.request: Request | None = None
        #: The handshake response, once received.
        self.response: Response | None = None
        #: Round-trip time in seconds measured by the last ping; ``0.0`` before.
        self.latency: float = 0.0
        # Ping payload -> (future resolved with the latency, time sent), in the
        # order the pings were sent.
        self.pending_pings: dict[bytes, tuple[asyncio.Future[float], float]] = {}
        # Set while a fragmented message is being sent; other senders wait on it.
        self.send_in_progress: asyncio.Future[None] | None = None
        self.keepalive_task: asyncio.Task[None] | None = None
        self._keepalive_timer: QueuedTimer | None = None

    # Properties.

    @property
    def id(self) -> uuid.UUID:
        """Unique identifier of the connection, useful in logs."""
        if self._id is None:
            self._id = uuid.uuid4()
        return self._id

    @property
    def local_address(self) -> Any:
        """The local address of the socket, e.g. ``(host, port)`` for IPv4."""
        return self.get_extra_info("sockname")

    @property
    def remote_address(self) -> Any:
        """The remote address of the socket, e.g. ``(host, port)`` for IPv4."""
        return self.get_extra_info("peername")

    @property
    def state(self) -> State:
        """The connection state: ``CONNECTING``, ``OPEN``, ``CLOSING`` or ``CLOSED``."""
        return self.protocol.state

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server selected, or ``None``."""
        return self.protocol.subprotocol

    @property
    def close_code(self) -> int | None:
        """The close code received, 1006 without one; ``None`` until closed."""
        return self.protocol.close_code

    @property
    def close_reason(self) -> str | None:
        """The close reason received, ``""`` without one; ``None`` until closed."""
        return self.protocol.close_reason

    # Context manager and iteration.

    async def __aenter__(self: _Self) -> _Self:
        """Return the connection itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the connection with code 1000, or 1011 after an exception."""
        if exc_type is None or issubclass(exc_type, ConnectionClosed):
            await self.close()
        else:
            await self.close(CloseCode.INTERNAL_ERROR)

    async def __aiter__(self) -> AsyncIterator[Data]:
        """Yield messages until the connection closes.

        Raises:
            ConnectionClosedError: The connection closed with an error code.
        """
        try:
            while True:
                yield await self.recv()
        except ConnectionClosedOK:
            return

    # Receiving.

    @overload
    async def recv(
        self, timeout: float | None = ..., *, decode: Literal[True]
    ) -> str: ...

    @overload
    async def recv(
        self, timeout: float | None = ..., *, decode: Literal[False]
    ) -> bytes: ...

    @overload
    async def recv(
        self, timeout: float | None = ..., decode: bool | None = ...
    ) -> Data: ...

    async def recv(
        self, timeout: float | None = None, decode: bool | None = None
    ) -> Data:
        """Receive the next message.

        Messages that arrived before the closing handshake are still returned;
        then :exc:`ConnectionClosed` tells how the connection ended.

        Args:
            timeout: Seconds to wait for a message; ``None`` waits forever.
            decode: ``None`` returns text as ``str`` and binary as ``bytes``;
                ``False`` returns text as UTF-8 ``bytes`` (skips decoding); ``True``
                decodes binary messages from UTF-8.

        Returns:
            The message.

        Raises:
            ConnectionClosedOK: The connection closed normally.
            ConnectionClosedError: The connection closed with an error code or
                without a closing handshake.
            ConcurrencyError: Another coroutine is already receiving.
            TimeoutError: No message arrived within ``timeout``.
        """
        try:
            return await self.recv_messages.get(timeout, decode)
        except EOFError:
            pass
        await self.wait_connection_lost()
        raise self.close_exc()

    @overload
    def recv_streaming(self, decode: Literal[True]) -> AsyncIterator[str]: ...

    @overload
    def recv_streaming(self, decode: Literal[False]) -> AsyncIterator[bytes]: ...

    @overload
    def recv_streaming(self, decode: bool | None = None) -> AsyncIterator[Data]: ...

    async def recv_streaming(self, decode: bool | None = None) -> AsyncIterator[Data]:
        """Receive the next message fragment by fragment, as the frames arrive.

        Args:
            decode: As for :meth:`recv`.

        Returns:
            An async iterator over the fragments of one message.

        Raises:
            ConnectionClosed: The connection closed before the end of the message.
            ConcurrencyError: Another coroutine is already receiving.
        """
        try:
            async for fragment in self.recv_messages.get_iter(decode):
                yield fragment
            return
        except EOFError:
            pass
        await self.wait_connection_lost()
        raise self.close_exc()

    # Sending.

    async def send(
        self,
        message: Data
        | bytearray
        | memoryview
        | Iterable[Data | bytearray | memoryview]
        | AsyncIterable[Data | bytearray | memoryview],
        text: bool | None = None,
    ) -> None:
        """Send a message.

        A ``str`` goes in a text frame, bytes-like objects in a binary frame;
        ``text`` overrides that (``text=True`` sends UTF-8 bytes as text without
        re-encoding). An iterable or async iterable sends one fragmented message,
        one frame per item; items must all be ``str`` or all bytes-like.

        The first message sent after a read is written at once. Messages sent
        after it without a read in between, such as a loop of ``send()`` calls,
        are written together at the end of the event loop's turn (or every 256
        messages, or every 16 KiB): one system call per burst instead of one per
        message. They keep their order with every other frame, close included.

        Args:
            message: The message, or its fragments.
            text: Force a text (``True``) or binary (``False``) frame.

        Raises:
            ConnectionClosed: The connection is closed.
            TypeError: ``message`` has an unsupported type, or fragments mix
                ``str`` and bytes.
        """
        protocol = self.protocol
        if (
            text is None
            and self.send_in_progress is None
            and protocol.state is State.OPEN
        ):
            # The common case, kept short: one str or bytes, nothing in the way.
            cls = type(message)
            if cls is bytes or cls is str:
                if cls is bytes:
                    protocol.send_binary(message)  # type: ignore[arg-type]
                else:
                    protocol.send_text(message)  # type: ignore[arg-type]
                # send_data(), inlined: an open connection's output is frames only.
                output = protocol.data_to_send()
                if self._wrote or self._pending is not None:
                    self.coalesce(output)
                else:
                    transport = self.transport
                    if not transport.is_closing():
                        for chunk in output:
                            transport.write(chunk)
                    self._wrote = True
                if self.paused_writing:
                    await self.drain()
                return
        while self.send_in_progress is not None:
            await asyncio.shield(self.send_in_progress)
        if protocol.state is not State.OPEN:
            await self._raise_closed()
        if isinstance(message, str):
            if text is False:
                protocol.send_binary(message.encode())
            else:
                protocol.send_text(message)
        elif isinstance(message, _BytesLike):
            if text:
                protocol.send_text(bytes(message))
            else:
                protocol.send_binary(message)
        elif isinstance(message, Mapping):
            raise TypeError(
                "cannot send a dict-like object; to send its keys as fragments, "
                "pass message.keys()"
            )
        elif isinstance(message, Iterable):
            await self._send_fragments(message, text)
            return
        elif isinstance(message, AsyncIterable):
            await self._send_async_fragments(message, text)
            return
        else:
            raise TypeError(
                "message must be str, bytes-like, or an iterable or async iterable "
                f"of them, not {type(message).__name__}"
            )
        self.send_data()
        await self.drain()

    async def _send_fragments(
        self, fragments: Iterable[Data | bytearray | memoryview], text: bool | None
    ) -> None:
        iterator = iter(fragments)
        try:
            first = next(iterator)
        except StopIteration:
            return
        self.send_in_progress = self.loop.create_future()
        try:
            is_str = self._send_first_fragment(first, text)
            for fragment in iterator:
                await self._send_next_fragment(fragment, is_str)
            await self._send_last_fragment()
        except Exception:
            await self._fail_fragmented()
            raise
        finally:
            self._end_send_in_progress()

    async def _send_async_fragments(
        self, fragments: AsyncIterable[Data | bytearray | memoryview], text: bool | None
    ) -> None:
        iterator = aiter(fragments)
        try:
            first = await anext(iterator)
        except StopAsyncIteration:
            return
        self.send_in_progress = self.loop.create_future()
        try:
            is_str = self._send_first_fragment(first, text)
            async for fragment in iterator:
                await self._send_next_fragment(fragment, is_str)
            await self._send_last_fragment()
        except Exception:
            await self._fail_fragmented()
            raise
        finally:
            self._end_send_in_progress()

    def _send_first_fragment(
        self, fragment: Data | bytearray | memoryview, text: bool | None
    ) -> bool:
        protocol = self.protocol
        if protocol.state is not State.OPEN:
            raise self.close_exc()
        if isinstance(fragment, str):
            if text is False:
                protocol.send_binary(fragment.encode(), fin=False)
            else:
                protocol.send_text(fragment, fin=False)
            is_str = True
        elif isinstance(fragment, _BytesLike):
            if text:
                protocol.send_text(bytes(fragment), fin=False)
            else:
                protocol.send_binary(fragment, fin=False)
            is_str = False
        else:
            raise TypeError(
                f"fragments must be str or bytes-like, not {type(fragment).__name__}"
            )
        self.send_data()
        return is_str

    async def _send_next_fragment(
        self, fragment: Data | bytearray | memoryview, is_str: bool
    ) -> None:
        if self.protocol.state is not State.OPEN:
            raise self.close_exc()
        if isinstance(fragment, str) and is_str:
            self.protocol.send_continuation(fragment.encode(), fin=False)
        elif isinstance(fragment, _BytesLike) and not is_str:
            self.protocol.send_continuation(fragment, fin=False)
        else:
            raise TypeError(
                "fragments of one message must all be str or all bytes-like"
            )
        self.send_data()
        await self.drain()

    async def _send_last_fragment(self) -> None:
        if self.protocol.state is not State.OPEN:
            raise self.close_exc()
        self.protocol.send_continuation(b"", fin=True)
        self.send_data()
        await self.drain()

    async def _fail_fragmented(self) -> None:
        # Half a message cannot be taken back: the connection is unusable.
        if self.protocol.state is State.OPEN:
            self.protocol.fail(CloseCode.INTERNAL_ERROR, "error in fragmented message")
            self.send_data()
            self.arm_close_timer()

    def _end_send_in_progress(self) -> None:
        waiter, self.send_in_progress = self.send_in_progress, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # Closing.

    async def close(
        self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = ""
    ) -> None:
        """Perform the closing handshake and wait for the TCP connection to close.

        Waiting is bounded by ``close_timeout``: then the connection is aborted.
        Calling :meth:`close` again, or on a closed connection, does nothing.

        Args:
            code: The close code.
            reason: The close reason, at most 123 bytes in UTF-8.

        Raises:
            ValueError: ``code`` may not be sent, or ``reason`` is too long.
        """
        protocol = self.protocol
        if protocol.state is State.OPEN:
            if self.send_in_progress is not None:
                protocol.fail(
                    CloseCode.INTERNAL_ERROR, "close during fragmented message"
                )
            else:
                protocol.send_close(code, reason)
            self.send_data()
            # The server's close frame may wait behind messages that the full
            # queue keeps paused: read on, or the handshake ends in close_timeout
            # and 1006. Bounded: the server stops sending once it has our close.
            messages = self.recv_messages
            messages.high = None
            if messages.paused:
                messages.paused = False
                messages.resume()
        elif protocol.state is State.CONNECTING:
            protocol.fail(CloseCode.ABNORMAL_CLOSURE)
            self.send_data()
        self.arm_close_timer()
        await self.wait_connection_lost()

    async def wait_closed(self) -> None:
        """Wait until the closing handshake is done and the TCP connection closed."""
        await self.wait_connection_lost()

    async def _raise_closed(self) -> None:
        # The close code is known only once TCP is closed; the close timer bounds
        # the wait because the state is CLOSING or CLOSED here.
        self.arm_close_timer()
        await self.wait_connection_lost()
        raise self.close_exc()

    # Pings.

    async def ping(
        self, data: str | bytes | bytearray | memoryview | None = None
    ) -> Awaitable[float]:
        """Send a ping.

        Args:
            data: The payload; ``str`` is encoded to UTF-8; ``None`` picks four
                random bytes that no pending ping uses.

        Returns:
            A future resolved with the latency in seconds when the matching pong
            arrives; ignore it if you do not need to wait. A pong also answers
            every earlier pending ping, as RFC 6455 section 5.5.3 allows a server
            to answer only the latest.

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
        if self.protocol.state is not State.OPEN:
            await self._raise_closed()
        if payload is not None and payload in self.pending_pings:
            raise ConcurrencyError(
                "already waiting for a pong with the same data; pass other data or "
                "None to let the connection pick a unique payload"
            )
        while payload is None or payload in self.pending_pings:
            payload = os.urandom(4)
        pong_received: asyncio.Future[float] = self.loop.create_future()
        self.pending_pings[payload] = (pong_received, self.loop.time())
        self.protocol.send_ping(payload)
        self.send_data()
        await self.drain()
        return pong_received

    async def pong(self, data: str | bytes | bytearray | memoryview = b"") -> None:
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
        if self.protocol.state is not State.OPEN:
            await self._raise_closed()
        self.protocol.send_pong(payload)
        self.send_data()
        await self.drain()

    def process_pong(self, data: bytes) -> None:
        """Resolve the ping this pong answers, and every ping sent before it."""
        pending = self.pending_pings
        if data not in pending:
            return  # unsolicited
        now = self.loop.time()
        acknowledged = []
        for ping_id, (pong_received, sent_at) in pending.items():
            acknowledged.append(ping_id)
            latency = now - sent_at
            if not pong_received.done():
                pong_received.set_result(latency)
            if ping_id == data:
                self.latency = latency
                break
        for ping_id in acknowledged:
            del pending[ping_id]

    def connection_closed(self) -> None:
        """Fail pending pings and stop the keepalive once TCP is closed."""
        if self.pending_pings:
            exc = self.close_exc()
            for pong_received, _ in self.pending_pings.values():
                if not pong_received.done():
                    pong_received.set_exception(exc)
                    # Mark the exception retrieved: nobody may await the future.
                    pong_received.exception()
            self.pending_pings.clear()
        if self._keepalive_timer is not None:
            self._keepalive_timer.cancel()
            self._keepalive_timer = None
        if self.keepalive_task is not None:
            self.keepalive_task.cancel()
            self.keepalive_task = None

    # Keepalive.

    def start_keepalive(self) -> None:
        """Start sending keepalive pings, if ``ping_interval`` is set.

        A timer waits for the first ping and only then starts
        ``keepalive_task``: most connections that live less than
        ``ping_interval`` never need the task, whose first step and cancellation
        would each cost a turn of the event loop.
        """
        if (
            self.ping_interval is not None
            and self.keepalive_task is None
            and self._keepalive_timer is None
            and not self.connection_lost_waiter.done()
        ):
            self._keepalive_timer = timer_queue(
                self.loop, self.ping_interval
            ).call_later(self._start_keepalive_task)

    def _start_keepalive_task(self) -> None:
        self._keepalive_timer = None
        if self.keepalive_task is None and not self.connection_lost_waiter.done():
            self.keepalive_task = self.loop.create_task(self._keepalive(0.0))

    async def keepalive(self) -> None:
        """Ping every ``ping_interval``; fail with 1011 without a pong in time."""
        assert self.ping_interval is not None
        await self._keepalive(self.ping_interval)

    async def _keepalive(self, first_delay: float) -> None:
        # Sleep first_delay, then ping every ping_interval.
        assert self.ping_interval is not None
        latency = self.ping_interval - first_delay

        def expired() -> None:
            # No pong within ping_timeout of the ping, or the ping could not even
            # be written: a server that stopped reading blocks ping() in drain().
            if self.debug:
                self.logger.debug("! timed out waiting for keepalive pong")
            if self.protocol.state is State.OPEN:
                self.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
                self.send_data()
            if self.connection_exc is None:
                self.connection_exc = TimeoutError("keepalive ping timeout")
            self.arm_close_timer()

        try:
            while True:
                # When the pong took a while, ping again sooner, so the period
                # stays close to ping_interval.
                await asyncio.sleep(max(self.ping_interval - latency, 0.0))
                # A timer rather than asyncio.wait_for, which may swallow the
                # cancellation that connection_closed() sends (Python < 3.12).
                timer = None
                if self.ping_timeout is not None:
                    timer = self.loop.call_later(self.ping_timeout, expired)
                try:
                    pong_received = await self.ping()
                    if timer is not None:
                        latency = await asyncio.shield(pong_received)
                except ConnectionClosed:
                    return
                finally:
                    if timer is not None:
                        timer.cancel()
        except asyncio.CancelledError:
            pass

    # Opening handshake.

    async def handshake(
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
        """
        protocol = self.protocol
        request = protocol.connect(
            additional_headers=additional_headers,
            user_agent_header=user_agent_header,
        )
        self.request = request
        protocol.send_request(request)
        self.send_data()
        await self.response_rcvd
        self.response = protocol.response
        exc = protocol.handshake_exc
        if exc is None and protocol.response is None:
            # The connection was lost before any response: a network failure,
            # which reconnecting may fix (see process_exception).
            exc = InvalidMessage("connection closed while reading the HTTP response")
            exc.__cause__ = EOFError("connection closed before the response")
        if exc is not None:
            raise exc
