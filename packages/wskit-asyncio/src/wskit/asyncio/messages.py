"""The queue between incoming frames and ``recv()``, with flow control.

This module is I/O-specific: it waits with :mod:`asyncio` futures and timers. The
threading front end holds its own twin built on a condition variable; the code that
calls it (:mod:`wskit.asyncio.connection`) is shared.

A message that came in one frame, the common case, is queued as its payload: ``str``
for text, ``bytes`` for binary, so that ``recv()`` returns it as it is. The frames of
a fragmented message are queued as the core's :class:`~wskit.core.events.TextData`
and :class:`~wskit.core.events.BinaryData` events, without copying, and joined once
when the message is read, so a message received in many fragments costs linear
time. When more than ``high`` frames wait, reading from
the network is paused; it resumes when the queue drains to ``low`` frames. That is
what bounds memory when the server sends faster than the application reads.
"""

from __future__ import annotations

import asyncio
import codecs
from collections import deque
from collections.abc import AsyncIterator, Callable

from wskit.core.events import BinaryData, TextData
from wskit.core.exceptions import ConcurrencyError

__all__ = ["Assembler", "DataFrame"]

DataFrame = TextData | BinaryData
"""A frame of a data message, as the core delivers it."""

_Item = str | bytes | DataFrame
# A queued item: a whole message (str or bytes) or a frame of a fragmented one.


def _convert(data: str | bytes, decode: bool | None) -> str | bytes:
    # Text comes decoded by the core (str); binary comes as bytes.
    if decode is None:
        return data
    if type(data) is str:
        return data if decode else data.encode()
    return data.decode() if decode else data  # type: ignore[union-attr]


class Assembler:
    """Buffers incoming frames and turns them into messages for one reader at a time.

    Args:
        high: Pause reading when more than this many frames are queued; ``None``
            disables flow control (memory then grows without bound).
        low: Resume reading when at most this many frames are queued; defaults to
            ``high // 4``.
        pause: Called to stop reading from the network.
        resume: Called to read from the network again.
    """

    def __init__(
        self,
        high: int | None = 16,
        low: int | None = None,
        *,
        pause: Callable[[], object] = lambda: None,
        resume: Callable[[], object] = lambda: None,
    ) -> None:
        if high is not None and low is None:
            low = high // 4
        if high is not None and low is not None and not 0 <= low <= high:
            raise ValueError(f"max_queue needs 0 <= low <= high, got ({high}, {low})")
        self.high = high
        self.low = low
        self.pause = pause
        self.resume = resume
        self.paused = False
        self.frames: deque[_Item] = deque()
        # How many queued items end a message: recv() need not wait when > 0.
        self.complete = 0
        # A fragmented message is being queued: its final frame is not a whole
        # message, so it is queued as a frame too.
        self._fragmented = False
        self.closed = False
        self.get_in_progress = False
        #: The most frames queued at once; tests use it to check flow control.
        self.max_seen = 0
        self._waiter: asyncio.Future[None] | None = None
        #: Called once when a reader finds the queue empty and starts waiting:
        #: the application has read, and answered, every message so far.
        self.on_starved: Callable[[], object] | None = None

    # Producer side, called from the network callbacks.

    def put(self, frame: DataFrame) -> None:
        """Queue a frame received from the server; dropped after :meth:`close`."""
        if self.closed:
            return
        frames = self.frames
        if not frame.final:
            frames.append(frame)
            self._fragmented = True
        else:
            if self._fragmented:
                frames.append(frame)
                self._fragmented = False
            else:
                frames.append(frame.data)
            self.complete += 1
        self._added(len(frames))

    def put_messages(self, messages: list[str | bytes]) -> None:
        """Queue whole messages that came in one frame each, in one step.

        The core hands them over this way when a read held nothing else at its
        start (see :meth:`~wskit.core.protocol.ClientProtocol.take_messages`), which
        is never in the middle of a fragmented message.
        """
        if self.closed:
            return
        frames = self.frames
        frames.extend(messages)
        self.complete += len(messages)
        self._added(len(frames))

    def _added(self, size: int) -> None:
        if size > self.max_seen:
            self.max_seen = size
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        # "> high" rather than ">=" so that high = 0 still lets one frame in.
        if self.high is not None and size > self.high and not self.paused:
            self.paused = True
            self.pause()

    def close(self) -> None:
        """End the stream: readers get the frames left, then :exc:`EOFError`."""
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        # Nothing more will arrive; reading need not stay paused.
        if self.paused:
            self.paused = False
            self.resume()

    # Consumer side, called by recv() and recv_streaming().

    async def get(
        self, timeout: float | None = None, decode: bool | None = None
    ) -> str | bytes:
        """Return the next message.

        Args:
            timeout: Give up after this many seconds; ``None`` waits forever,
                ``0`` returns only a message that is already there.
            decode: ``None`` returns text as ``str`` and binary as ``bytes``;
                ``True`` decodes binary from UTF-8; ``False`` encodes text to UTF-8.

        Raises:
            ConcurrencyError: Another coroutine is already reading.
            EOFError: The stream ended; no complete message is left.
            TimeoutError: ``timeout`` elapsed; no frame was consumed.
        """
        if self.get_in_progress:
            raise ConcurrencyError(
                "cannot call recv() while another coroutine is already running "
                "recv() or recv_streaming(); read from a single task"
            )
        frames = self.frames
        if self.complete:
            # Fast path: a whole message is buffered; return it without waiting.
            first = frames.popleft()
            self.complete -= 1
            if self.paused and len(frames) <= self.low:  # type: ignore[operator]
                self.paused = False
                self.resume()
            cls = type(first)
            if cls is str or cls is bytes:
                if decode is None:
                    return first  # type: ignore[return-value]
                return _convert(first, decode)  # type: ignore[arg-type]
            parts: list[DataFrame] = [first]  # type: ignore[list-item]
            while True:
                frame = frames.popleft()
                parts.append(frame)  # type: ignore[arg-type]
                if frame.final:  # type: ignore[union-attr]
                    break
            self._maybe_resume()
            return self._join(parts, decode)
        if self.closed:
            raise EOFError("the stream of frames ended")

        self.get_in_progress = True
        parts = []
        try:
            deadline = None if timeout is None else self._now() + timeout
            while True:
                while not frames:
                    if self.closed:
                        raise EOFError("the stream of frames ended mid-message")
                    if deadline is None and self.on_starved is None:
                        # _wait() inlined: a request/response loop waits once
                        # per message, so one coroutine less counts.
                        waiter = self._waiter = (
                            asyncio.get_running_loop().create_future()
                        )
                        try:
                            await waiter
                        finally:
                            self._waiter = None
                    else:
                        await self._wait(deadline)
                item = frames.popleft()
                if self.paused and len(frames) <= self.low:  # type: ignore[operator]
                    self.paused = False
                    self.resume()
                cls = type(item)
                if cls is str or cls is bytes:
                    # A message in one frame, the common case: nothing to join
                    # (and never after fragments: those end with a frame).
                    self.complete -= 1
                    if decode is None:
                        return item  # type: ignore[return-value]
                    return _convert(item, decode)  # type: ignore[arg-type]
                parts.append(item)  # type: ignore[arg-type]
                if item.final:  # type: ignore[union-attr]
                    self.complete -= 1
                    break
        except BaseException:
            # Cancelled or timed out: put back what was taken so that the next
            # recv() still gets the whole message.
            frames.extendleft(reversed(parts))
            raise
        finally:
            self.get_in_progress = False
        return self._join(parts, decode)

    async def get_iter(self, decode: bool | None = None) -> AsyncIterator[str | bytes]:
        """Yield the fragments of the next message as they arrive.

        Args:
            decode: As for :meth:`get`; binary fragments are decoded incrementally
                so that a UTF-8 sequence split across fragments decodes correctly.

        Raises:
            ConcurrencyError: Another coroutine is already reading.
            EOFError: The stream ended before the end of the message.
        """
        if self.get_in_progress:
            raise ConcurrencyError(
                "cannot call recv_streaming() while another coroutine is already "
                "running recv() or recv_streaming(); read from a single task"
            )
        self.get_in_progress = True
        frames = self.frames
        decoder: codecs.IncrementalDecoder | None = None
        try:
            while True:
                while not frames:
                    if self.closed:
                        raise EOFError("the stream of frames ended")
                    await self._wait(None)
                item = frames.popleft()
                self._maybe_resume()
                if type(item) is str or type(item) is bytes:
                    self.complete -= 1
                    yield _convert(item, decode)
                    return
                frame: DataFrame = item  # type: ignore[assignment]
                if frame.final:
                    self.complete -= 1
                if type(frame) is BinaryData and decode:
                    if decoder is None:
                        decoder = codecs.getincrementaldecoder("utf-8")()
                    yield decoder.decode(frame.data, frame.final)
                else:
                    yield _convert(frame.data, decode)
                if frame.final:
                    return
        finally:
            self.get_in_progress = False

    # Internals.

    def _maybe_resume(self) -> None:
        if self.paused and len(self.frames) <= self.low:  # type: ignore[operator]
            self.paused = False
            self.resume()

    @staticmethod
    def _join(parts: list[DataFrame], decode: bool | None) -> str | bytes:
        first = parts[0]
        if type(first) is TextData:
            text = "".join([part.data for part in parts])  # type: ignore[misc]
            return text.encode() if decode is False else text
        data = b"".join([part.data for part in parts])  # type: ignore[misc]
        return data.decode() if decode else data

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def _wait(self, deadline: float | None) -> None:
        if not self.frames and self.on_starved is not None:
            hook, self.on_starved = self.on_starved, None
            hook()
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None
        if deadline is not None:
            timer = loop.call_at(deadline, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("timed out while waiting for a message"))
