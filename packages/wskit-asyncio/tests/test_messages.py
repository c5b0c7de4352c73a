"""The Assembler: frames in, messages out, with flow control."""

from __future__ import annotations

import asyncio

import pytest

from testing.asyncio_run import async_test
from wskit.asyncio.messages import Assembler
from wskit.core.events import BinaryData, TextData
from wskit.core.exceptions import ConcurrencyError


class Flow:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def make(high: int | None = 4, low: int | None = None) -> tuple[Assembler, Flow]:
    flow = Flow()
    return Assembler(high, low, pause=flow.pause, resume=flow.resume), flow


@async_test
async def test_single_frames_without_waiting() -> None:
    assembler, _ = make()
    assembler.put(TextData("a"))
    assembler.put(BinaryData(b"b"))
    assert await assembler.get() == "a"
    assert await assembler.get() == b"b"


@async_test
async def test_fragments_are_joined() -> None:
    assembler, _ = make(high=None)
    assembler.put(TextData("ab", final=False))
    assembler.put(TextData("cd", final=False))
    assembler.put(TextData("e"))
    assembler.put(BinaryData(b"x", final=False))
    assembler.put(BinaryData(b"y"))
    assert await assembler.get() == "abcde"
    assert await assembler.get(decode=True) == "xy"


@pytest.mark.parametrize(
    ("frame", "decode", "expected"),
    [
        (TextData("é"), None, "é"),
        (TextData("é"), False, "é".encode()),
        (TextData("é"), True, "é"),
        (BinaryData("é".encode()), None, "é".encode()),
        (BinaryData("é".encode()), True, "é"),
        (BinaryData("é".encode()), False, "é".encode()),
    ],
)
@async_test
async def test_decode(
    frame: TextData | BinaryData, decode: bool | None, expected: object
) -> None:
    assembler, _ = make()
    assembler.put(frame)
    assert await assembler.get(decode=decode) == expected


@async_test
async def test_get_waits_for_the_last_fragment() -> None:
    assembler, _ = make(high=1)
    task = asyncio.ensure_future(assembler.get())
    await asyncio.sleep(0)
    assembler.put(TextData("a", final=False))
    await asyncio.sleep(0)
    assembler.put(TextData("b", final=False))
    assembler.put(TextData("c"))
    assert await task == "abc"


@async_test
async def test_long_fragmented_message_does_not_deadlock_flow_control() -> None:
    assembler, flow = make(high=2, low=0)
    task = asyncio.ensure_future(assembler.get())
    for _ in range(10):
        assembler.put(BinaryData(b"x", final=False))
        await asyncio.sleep(0)
    assembler.put(BinaryData(b"y"))
    assert await task == b"x" * 10 + b"y"
    assert flow.calls.count("pause") == flow.calls.count("resume")


@async_test
async def test_flow_control() -> None:
    assembler, flow = make(high=4)
    for index in range(5):
        assembler.put(TextData(str(index)))
    assert flow.calls == ["pause"]
    assert assembler.paused
    for index in range(4):
        assert await assembler.get() == str(index)
    assert flow.calls == ["pause", "resume"]  # resumed at 1 = 4 // 4 frames
    assert assembler.max_seen == 5


def test_invalid_water_marks() -> None:
    with pytest.raises(ValueError, match="low <= high"):
        Assembler(4, 5)


@async_test
async def test_concurrent_get() -> None:
    assembler, _ = make()
    task = asyncio.ensure_future(assembler.get())
    await asyncio.sleep(0)
    with pytest.raises(ConcurrencyError, match="recv"):
        await assembler.get()
    with pytest.raises(ConcurrencyError, match="recv_streaming"):
        async for _ in assembler.get_iter():
            pass
    assembler.put(TextData("x"))
    assert await task == "x"


@async_test
async def test_timeout_puts_fragments_back() -> None:
    assembler, _ = make(high=None)
    assembler.put(TextData("a", final=False))
    with pytest.raises(TimeoutError):
        await assembler.get(timeout=0.01)
    assembler.put(TextData("b"))
    assert await assembler.get(timeout=0) == "ab"


@async_test
async def test_close_delivers_what_is_left_then_eof() -> None:
    assembler, flow = make(high=0)
    assembler.put(TextData("kept"))
    assembler.put(TextData("partial", final=False))
    assembler.close()
    assert flow.calls == ["pause", "resume"]
    assembler.put(TextData("dropped"))
    assert await assembler.get() == "kept"
    with pytest.raises(EOFError):
        await assembler.get()
    with pytest.raises(EOFError):
        async for _ in assembler.get_iter():
            pass


@async_test
async def test_close_wakes_waiting_reader() -> None:
    assembler, _ = make()
    task = asyncio.ensure_future(assembler.get())
    await asyncio.sleep(0)
    assembler.close()
    with pytest.raises(EOFError):
        await task


@async_test
async def test_get_iter_decodes_split_utf8() -> None:
    assembler, _ = make(high=None)
    data = "é".encode()
    assembler.put(BinaryData(data[:1], final=False))
    assembler.put(BinaryData(data[1:]))
    assert [part async for part in assembler.get_iter(decode=True)] == ["", "é"]
    assembler.put(TextData("t", final=False))
    assembler.put(TextData("u"))
    assert [part async for part in assembler.get_iter(decode=False)] == [b"t", b"u"]


@async_test
async def test_put_messages_mixes_with_fragments_in_order() -> None:
    assembler, _ = make(high=None)
    assembler.put_messages(["one", b"two"])
    assembler.put(TextData("thr", final=False))
    assembler.put(TextData("ee"))
    assembler.put_messages([b"four"])
    assembler.put(BinaryData(b"five"))
    assert assembler.complete == 5
    got = [await assembler.get() for _ in range(5)]
    assert got == ["one", b"two", "three", b"four", b"five"]
    assert assembler.complete == 0


@pytest.mark.parametrize(
    ("message", "decode", "expected"),
    [
        ("é", None, "é"),
        ("é", False, "é".encode()),
        ("é", True, "é"),
        ("é".encode(), None, "é".encode()),
        ("é".encode(), True, "é"),
        ("é".encode(), False, "é".encode()),
    ],
)
@async_test
async def test_put_messages_decode(
    message: str | bytes, decode: bool | None, expected: str | bytes
) -> None:
    assembler, _ = make()
    assembler.put_messages([message])
    assert await assembler.get(decode=decode) == expected
    # The same through a waiting reader and through get_iter().
    reader = asyncio.ensure_future(assembler.get(decode=decode))
    await asyncio.sleep(0)
    assembler.put_messages([message])
    assert await reader == expected
    assembler.put_messages([message])
    assert [part async for part in assembler.get_iter(decode)] == [expected]


@async_test
async def test_put_messages_wakes_reader_and_pauses() -> None:
    assembler, flow = make(high=2)
    reader = asyncio.ensure_future(assembler.get())
    await asyncio.sleep(0)
    assembler.put_messages(["a", "b", "c"])
    assert flow.calls == ["pause"]
    assert await reader == "a"
    assert await assembler.get() == "b"
    assert flow.calls == ["pause"]  # low is 2 // 4 = 0
    assert await assembler.get() == "c"
    assert flow.calls == ["pause", "resume"]
    assert assembler.max_seen == 3
    assembler.close()
    assembler.put_messages(["dropped"])
    with pytest.raises(EOFError):
        await assembler.get()
