"""The queue between incoming frames and ``recv()``, with flow control, for threads.

This module is I/O-specific: it waits on a :class:`threading.Condition`. It is the
twin of :mod:`wskit.asyncio.messages`; the code that calls it
(:mod:`wskit.threading.connection`) is generated from the asyncio client.

The reader thread puts frames; the application's thread gets messages. When more
than ``high`` frames wait, :meth:`Assembler.put` blocks the reader thread until the
queue drains to ``low`` frames: reading from the socket stops, TCP flow control
slows the server down, and memory stays bounded when the application reads slower
than the server sends.
"""

from __future__ import annotations

import codecs
import threading
import time
from collections import deque
from collections.abc import Iterator

from wskit.core.events import BinaryData, TextData
from wskit.core.exceptions import ConcurrencyError

__all__ = ["Assembler", "DataFrame"]

DataFrame = TextData | BinaryData
"""A frame of a data message, as the core delivers it."""


def _convert(frame: DataFrame, data: str | bytes, decode: bool | None) -> str | bytes:
    # Text frames come decoded by the core; binary frames come as bytes.
    if decode is None:
        return data
    if type(frame) is TextData:
        return data if decode else data.encode()  # type: ignore[union-attr]
    return data.decode() if decode else data  # type: ignore[union-attr]


class Assembler:
    """Buffers incoming frames and turns them into messages for one reader at a time.

    Args:
        high: Block the producer when more than this many frames are queued;
            ``None`` disables flow control (memory then grows without bound).
        low: Release the producer when at most this many frames are queued;
            defaults to ``high // 4``.
    """

    def __init__(self, high: int | None = 16, low: int | None = None) -> None:
        if high is not None and low is None:
            low = high // 4
        if high is not None and low is not None and not 0 <= low <= high:
            raise ValueError(f"max_queue needs 0 <= low <= high, got ({high}, {low})")
        self.high = high
        self.low = low
        self.mutex = threading.Lock()
        self.changed = threading.Condition(self.mutex)
        #: Whether the producer is held back by flow control.
        self.paused = False
        #: How many times flow control held the producer back.
        self.pauses = 0
        self.frames: deque[DataFrame] = deque()
        # How many queued frames end a message: get() need not wait when > 0.
        self.complete = 0
        self.closed = False
        self.get_in_progress = False
        # Set when a reader waits on an empty queue; see wait_drained().
        self.starved = False
        #: The most frames queued at once; tests use it to check flow control.
        self.max_seen = 0
        #: Threads inside get() or get_iter(), by identifier: the connection
        #: checks it to tell a signal handler interrupting recv() (see close()).
        self.busy: dict[int, int] = {}

    # Producer side, called from the reader thread.

    def put(self, frame: DataFrame) -> None:
        """Queue a frame; block while the queue is above the high-water mark.

        Frames put after :meth:`close` are dropped.
        """
        with self.changed:
            if self.closed:
                return
            frames = self.frames
            frames.append(frame)
            self.starved = False
            if frame.final:
                self.complete += 1
            size = len(frames)
            if size > self.max_seen:
                self.max_seen = size
            self.changed.notify_all()
            # "> high" rather than ">=" so that high = 0 still lets one frame in.
            if self.high is not None and size > self.high:
                self.paused = True
                self.pauses += 1
                while self.paused and not self.closed:
                    self.changed.wait()

    def close(self) -> None:
        """End the stream: readers get the frames left, then :exc:`EOFError`."""
        with self.changed:
            self.closed = True
            self.paused = False
            self.changed.notify_all()

    # Consumer side, called by recv() and recv_streaming().

    def get(
        self, timeout: float | None = None, decode: bool | None = None
    ) -> str | bytes:
        """Return the next message.

        Args:
            timeout: Give up after this many seconds; ``None`` waits forever,
                ``0`` returns only a message that is already there.
            decode: ``None`` returns text as ``str`` and binary as ``bytes``;
                ``True`` decodes binary from UTF-8; ``False`` encodes text to UTF-8.

        Raises:
            ConcurrencyError: Another thread is already reading.
            EOFError: The stream ended; no complete message is left.
            TimeoutError: ``timeout`` elapsed; no frame was consumed.
        """
        ident = threading.get_ident()
        self.busy[ident] = self.busy.get(ident, 0) + 1
        try:
            with self.changed:
                if self.get_in_progress:
                    raise ConcurrencyError(
                        "cannot call recv() while another thread is already running "
                        "recv() or recv_streaming(); read from a single thread"
                    )
                frames = self.frames
                if self.complete:
                    # Fast path: a whole message is buffered; take it at once.
                    parts = [frames.popleft()]
                    while not parts[-1].final:
                        parts.append(frames.popleft())
                    self.complete -= 1
                    self._maybe_resume()
                else:
                    parts = self._get_slow(timeout)
            if len(parts) == 1:
                return _convert(parts[0], parts[0].data, decode)
            return self._join(parts, decode)
        finally:
            self._leave(ident)

    def get_iter(self, decode: bool | None = None) -> Iterator[str | bytes]:
        """Yield the fragments of the next message as they arrive.

        Args:
            decode: As for :meth:`get`; binary fragments are decoded incrementally
                so that a UTF-8 sequence split across fragments decodes correctly.

        Raises:
            ConcurrencyError: Another thread is already reading.
            EOFError: The stream ended before the end of the message.
        """
        with self.changed:
            if self.get_in_progress:
                raise ConcurrencyError(
                    "cannot call recv_streaming() while another thread is already "
                    "running recv() or recv_streaming(); read from a single thread"
                )
            self.get_in_progress = True
        decoder: codecs.IncrementalDecoder | None = None
        ident = threading.get_ident()
        try:
            while True:
                self.busy[ident] = self.busy.get(ident, 0) + 1
                try:
                    with self.changed:
                        while not self.frames:
                            if self.closed:
                                raise EOFError("the stream of frames ended")
                            self._wait(None)
                        frame = self.frames.popleft()
                        if frame.final:
                            self.complete -= 1
                        self._maybe_resume()
                finally:
                    self._leave(ident)
                if type(frame) is BinaryData and decode:
                    if decoder is None:
                        decoder = codecs.getincrementaldecoder("utf-8")()
                    yield decoder.decode(frame.data, frame.final)
                else:
                    yield _convert(frame, frame.data, decode)
                if frame.final:
                    return
        finally:
            with self.changed:
                self.get_in_progress = False

    # Internals; the caller holds the mutex.

    def _get_slow(self, timeout: float | None) -> list[DataFrame]:
        # Take frames as they arrive, so that a message longer than the queue
        # does not hold the reader thread back forever.
        if self.closed:
            raise EOFError("the stream of frames ended")
        frames = self.frames
        parts: list[DataFrame] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        self.get_in_progress = True
        try:
            while True:
                while not frames:
                    if self.closed:
                        raise EOFError("the stream of frames ended mid-message")
                    self._wait(deadline)
                frame = frames.popleft()
                parts.append(frame)
                self._maybe_resume()
                if frame.final:
                    self.complete -= 1
                    return parts
        except BaseException:
            # Timed out or interrupted: put back what was taken so that the
            # next recv() still gets the whole message.
            frames.extendleft(reversed(parts))
            raise
        finally:
            self.get_in_progress = False

    def _wait(self, deadline: float | None) -> None:
        if not self.frames and not self.starved:
            # The application read, and answered, every message so far.
            self.starved = True
            self.changed.notify_all()
        if deadline is None:
            self.changed.wait()
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out while waiting for a message")
        self.changed.wait(remaining)

    def _maybe_resume(self) -> None:
        if self.paused and len(self.frames) <= self.low:  # type: ignore[operator]
            self.paused = False
            self.changed.notify_all()

    def wait_drained(self, timeout: float | None) -> bool:
        """Wait until the application read every queued frame and waits for more.

        The reader thread waits here before failing the connection for a peer
        fault that followed complete messages, so the application can answer
        them first.

        Returns:
            Whether the queue drained (or the stream ended) within ``timeout``.
        """
        with self.changed:
            return self.changed.wait_for(
                lambda: (self.starved and not self.frames) or self.closed, timeout
            )

    def _leave(self, ident: int) -> None:
        count = self.busy[ident] - 1
        if count:
            self.busy[ident] = count
        else:
            del self.busy[ident]

    @staticmethod
    def _join(parts: list[DataFrame], decode: bool | None) -> str | bytes:
        first = parts[0]
        if type(first) is TextData:
            text = "".join([part.data for part in parts])  # type: ignore[misc]
            return text.encode() if decode is False else text
        data = b"".join([part.data for part in parts])  # type: ignore[misc]
        return data.decode() if decode else data
