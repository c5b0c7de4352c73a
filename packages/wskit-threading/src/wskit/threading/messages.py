"""The queue between incoming frames and ``recv()``, with flow control, for threads.

This module is I/O-specific: it waits on a :class:`threading.Condition`. It is the
twin of :mod:`wskit.asyncio.messages`; the code that calls it
(:mod:`wskit.threading.connection`) is generated from the asyncio client.

Who reads the socket: a thread that wants a message and finds none queued reads
the socket itself when it can take the *read token* (``read`` is set and no other
thread reads), so that a message reaches ``recv()`` without waking another
thread, as in a plain blocking client. The connection's background reading (the
shared background thread, or a reader thread of its own) takes the same token, so
two threads never read the socket at once and frames are queued in the order they
arrived.

Flow control: when more than ``high`` frames wait, further frames wait in a
backlog (at most what one read brought) and the background reading stops until
the queue drains to ``low`` frames: TCP flow control then slows the server down,
and memory stays bounded when the application reads slower than the server
sends. A reader thread of its own blocks in :meth:`Assembler.put` instead.
"""

from __future__ import annotations

import codecs
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from wskit.core.events import BinaryData, TextData
from wskit.core.exceptions import ConcurrencyError

__all__ = ["Assembler", "DataFrame"]

DataFrame = TextData | BinaryData
"""A frame of a data message, as the core delivers it."""

ReadOnce = Callable[[float | None], list[DataFrame]]
"""Reads the socket once in the calling thread, which holds the read token, and
returns the data frames received; raises :exc:`TimeoutError` (having read nothing)
when the deadline, a :func:`time.monotonic` value, passes first."""


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
        high: Stop reading in the background when more than this many frames
            are queued; ``None`` disables flow control (memory then grows
            without bound).
        low: Resume when at most this many frames are queued; defaults to
            ``high // 4``.
        read: Reads the socket in the calling thread (see ``ReadOnce`` in this module);
            ``None`` when only another thread reads and :meth:`put` frames.
    """

    def __init__(
        self,
        high: int | None = 16,
        low: int | None = None,
        read: ReadOnce | None = None,
    ) -> None:
        if high is not None and low is None:
            low = high // 4
        if high is not None and low is not None and not 0 <= low <= high:
            raise ValueError(f"max_queue needs 0 <= low <= high, got ({high}, {low})")
        self.high = high
        self.low = low
        self.read = read
        self.mutex = threading.Lock()
        self.changed = threading.Condition(self.mutex)
        #: Whether the background reading is held back by flow control.
        self.paused = False
        #: How many times flow control held the background reading back.
        self.pauses = 0
        self.frames: deque[DataFrame] = deque()
        # Frames read while the queue was full; they join it as it drains.
        self.backlog: deque[DataFrame] = deque()
        # How many queued frames end a message: get() need not wait when > 0.
        self.complete = 0
        self.closed = False
        self.get_in_progress = False
        #: The read token: whether a thread is reading the socket.
        self.reading = False
        #: Called, without the mutex, when the background reading asked to be
        #: told (``background_waiting``) that the token was released or that
        #: flow control let reading resume.
        self.wake_background: Callable[[], None] | None = None
        self.background_waiting = False
        # Threads waiting on `changed`; notifying is skipped when there are none.
        self.waiting = 0
        # Set when a reader waits on an empty queue; see wait_drained().
        self.starved = False
        #: The most frames queued at once; tests use it to check flow control.
        self.max_seen = 0
        #: Threads inside get() or get_iter(), by identifier: the connection
        #: checks it to tell a signal handler interrupting recv() (see close()).
        self.busy: dict[int, int] = {}

    # Producer side. The caller of the underscored methods holds the mutex.

    def _deliver(self, new: Iterable[DataFrame]) -> None:
        frames = self.frames
        high = self.high
        for frame in new:
            if self.backlog or (high is not None and len(frames) > high):
                # "> high" rather than ">=" so that high = 0 still lets one in.
                self.backlog.append(frame)
                if not self.paused:
                    self.paused = True
                    self.pauses += 1
                continue
            frames.append(frame)
            if frame.final:
                self.complete += 1
            if high is not None and len(frames) > high and not self.paused:
                self.paused = True
                self.pauses += 1
        size = len(frames)
        if size > self.max_seen:
            self.max_seen = size
        self.starved = False
        if self.waiting:
            self.changed.notify_all()

    def put(self, frame: DataFrame) -> None:
        """Queue a frame; block while the queue is above the high-water mark.

        For a reader thread of the connection's own. Frames put after
        :meth:`close` are dropped.
        """
        with self.mutex:
            if self.closed:
                return
            self._deliver((frame,))
            while self.paused and not self.closed:
                self._wait(None)

    def try_take(self) -> bool:
        """Take the read token for the background reading, if it is free."""
        with self.mutex:
            if self.closed:
                return False
            if self.reading:
                self.background_waiting = True
                return False
            self.reading = True
            return True

    def give_back(self, frames: list[DataFrame]) -> bool:
        """Queue what the background reading read and release the read token.

        Returns:
            Whether the background reading may go on: not held back by flow
            control.
        """
        with self.mutex:
            if frames:
                self._deliver(frames)
            self.reading = False
            if self.waiting:
                self.changed.notify_all()
            if self.paused:
                self.background_waiting = True
                return False
            return True

    def holds_background(self) -> bool:
        """Whether the background reading must wait: a thread reads, or flow
        control holds reading back. If so, :attr:`wake_background` is called
        once that ends."""
        with self.mutex:
            if self.reading or self.paused:
                self.background_waiting = True
                return True
            return False

    def close(self) -> None:
        """End the stream: readers get the frames left, then :exc:`EOFError`."""
        with self.mutex:
            self.closed = True
            self.paused = False
            self.frames.extend(self.backlog)
            self.backlog.clear()
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
        busy = self.busy
        busy[ident] = busy.get(ident, 0) + 1
        try:
            with self.mutex:
                if self.get_in_progress:
                    raise ConcurrencyError(
                        "cannot call recv() while another thread is already running "
                        "recv() or recv_streaming(); read from a single thread"
                    )
                if not self.complete:
                    parts = self._get_slow(timeout)
                else:
                    # Fast path: a whole message is buffered; take it at once.
                    frames = self.frames
                    first = frames.popleft()
                    if first.final:
                        self.complete -= 1
                        if self.paused or self.backlog:
                            self._maybe_resume()
                        return _convert(first, first.data, decode)
                    parts = [first]
                    while not parts[-1].final:
                        parts.append(frames.popleft())
                    self.complete -= 1
                    self._maybe_resume()
            if len(parts) == 1:
                return _convert(parts[0], parts[0].data, decode)
            return self._join(parts, decode)
        finally:
            count = busy[ident] - 1
            if count:
                busy[ident] = count
            else:
                del busy[ident]

    def get_iter(self, decode: bool | None = None) -> Iterator[str | bytes]:
        """Yield the fragments of the next message as they arrive.

        Args:
            decode: As for :meth:`get`; binary fragments are decoded incrementally
                so that a UTF-8 sequence split across fragments decodes correctly.

        Raises:
            ConcurrencyError: Another thread is already reading.
            EOFError: The stream ended before the end of the message.
        """
        with self.mutex:
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
                    with self.mutex:
                        while not self.frames:
                            if self.closed:
                                raise EOFError("the stream of frames ended")
                            self._fill(None)
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
            with self.mutex:
                self.get_in_progress = False

    def read_until_closed(self) -> None:
        """Read the socket in the calling thread, or let the thread that holds
        the read token do it, until the stream ends.

        For closing: the close frame and the end of the TCP connection arrive
        without a thread handing them over.
        """
        with self.mutex:
            while not self.closed:
                self._fill(None)

    # Internals; the caller holds the mutex.

    def _get_slow(self, timeout: float | None) -> list[DataFrame]:
        # Take frames as they arrive, so that a message longer than the queue
        # does not hold the background reading back forever.
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
                    self._fill(deadline)
                frame = frames.popleft()
                parts.append(frame)
                if self.paused or self.backlog:
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

    def _fill(self, deadline: float | None) -> None:
        """Get more frames: read the socket if the read token is free, else wait
        for the thread that holds it."""
        read = self.read
        if read is None or self.reading:
            self._wait(deadline)
            return
        if not self.frames and not self.starved:
            self.starved = True
        self.reading = True
        new: list[DataFrame] = []
        self.mutex.release()
        try:
            new = read(deadline)
        finally:
            self.mutex.acquire()
            self.reading = False
            if new:
                self._deliver(new)
            elif self.waiting:
                self.changed.notify_all()
            if self.background_waiting and not self.paused:
                self._signal_background()

    def _wait(self, deadline: float | None) -> None:
        if not self.frames and not self.starved:
            # The application read, and answered, every message so far.
            self.starved = True
            self.changed.notify_all()
        self.waiting += 1
        try:
            if deadline is None:
                self.changed.wait()
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out while waiting for a message")
            self.changed.wait(remaining)
        finally:
            self.waiting -= 1

    def _maybe_resume(self) -> None:
        backlog = self.backlog
        if backlog:
            frames = self.frames
            high = self.high
            while backlog and (high is None or len(frames) <= high):
                frame = backlog.popleft()
                frames.append(frame)
                if frame.final:
                    self.complete += 1
        if (
            self.paused and not backlog and len(self.frames) <= self.low  # type: ignore[operator]
        ):
            self.paused = False
            if self.waiting:
                self.changed.notify_all()
            if self.background_waiting and not self.reading:
                self._signal_background()

    def _signal_background(self) -> None:
        # The caller holds the mutex; the hook runs without it.
        self.background_waiting = False
        wake = self.wake_background
        if wake is None:
            return
        self.mutex.release()
        try:
            wake()
        finally:
            self.mutex.acquire()

    def wait_drained(self, timeout: float | None) -> bool:
        """Wait until the application read every queued frame and waits for more.

        A reader thread of the connection's own waits here before failing the
        connection for a peer fault that followed complete messages, so the
        application can answer them first.

        Returns:
            Whether the queue drained (or the stream ended) within ``timeout``.
        """
        with self.mutex:
            self.waiting += 1
            try:
                return self.changed.wait_for(
                    lambda: (self.starved and not self.frames) or self.closed, timeout
                )
            finally:
                self.waiting -= 1

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
