"""The interactive client, run as a subprocess against a live server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from testing.asyncio_run import async_test
from testing.servers import TIMEOUT, Peer, websockets_server
from wskit.asyncio.__main__ import main


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [
            os.path.abspath(path)
            for path in ("packages/wskit-core/src", "packages/wskit-asyncio/src")
        ]
        + [env.get("PYTHONPATH", "")]
    )
    env.pop("http_proxy", None)
    env.pop("HTTP_PROXY", None)
    return env


async def _spawn(uri: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wskit.asyncio",
        uri,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )


@async_test
async def test_sends_lines_prints_messages_and_exits_on_eof() -> None:
    async with websockets_server() as peer:
        process = await _spawn(peer.uri)
        assert process.stdin is not None
        assert process.stdout is not None
        for line in (b"hello", b"world"):
            # Wait for each echo: a server that reads the close frame together
            # with the last message may close before echoing it.
            process.stdin.write(line + b"\n")
            echo = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
            assert echo == b"< " + line + b"\n"
        process.stdin.close()
        await asyncio.wait_for(process.wait(), TIMEOUT)
        await asyncio.wait_for(peer_closed(peer), TIMEOUT)
    assert process.returncode == 0
    assert peer.received == ["hello", "world"]
    assert peer.close_codes == [1000]


async def peer_closed(peer: Peer) -> None:
    while not peer.close_codes:
        await asyncio.sleep(0.01)


@async_test
async def test_exits_cleanly_on_ctrl_c() -> None:
    async with websockets_server() as peer:
        process = await _spawn(peer.uri)
        assert process.stdout is not None
        assert process.stdin is not None
        process.stdin.write(b"ping\n")
        line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        assert line == b"< ping\n"
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), TIMEOUT)
    assert process.returncode == 0


@async_test
async def test_server_closing_ends_the_client() -> None:
    async with websockets_server() as peer:
        process = await _spawn(peer.uri_for("/send/2"))
        stdout, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 0
    assert stdout == b"< message 0\n< message 1\n"


def test_connection_failure_exits_with_1() -> None:
    assert main(["ws://127.0.0.1:9/"]) == 1
