"""One process per client: the parent sends a request, the worker measures.

Running each client in a process of its own keeps the clients from disturbing one
another (imports, event loop policy, garbage, threads left behind) and makes the
process CPU time that of one client alone. The worker reads one JSON request per
line on stdin and answers one JSON line on a private copy of stdout (a library
printing to stdout cannot garble the answers: fd 1 goes to stderr).

Requests: ``{"op": "measure", "scenario": ID, "url": URL, "duration": S,
"warmup": S}`` answers ``{"ok": true, "count": N, "wall": S, "cpu": S}``;
``{"op": "rss", "url": URL, "connections": N, "idle": S}`` answers ``{"ok":
true, "connections": N, "before": BYTES, "after": BYTES}``. A failure answers
``{"ok": false, "error": TEXT}`` with the traceback.

Run as ``python -m tools.bench.worker CLIENT``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import traceback
from typing import IO, Any

from tools.bench import ROOT
from tools.bench.clients import by_name, load
from tools.bench.drivers import measure, measure_rss
from tools.bench.scenarios import by_id
from tools.bench.server import raise_fd_limit

__all__ = ["Worker", "WorkerError", "main"]

STARTUP_TIMEOUT = 60.0


class WorkerError(RuntimeError):
    """The worker failed to answer: it died, or hung and was killed."""


class Worker:
    """The parent's handle on one client's worker process."""

    def __init__(self, client: str) -> None:
        self.client = client
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def _start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.bench.worker", self.client],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._process = process
        self._buffer = b""
        assert process.stdout is not None
        hello = json.loads(self._read_line(process.stdout, STARTUP_TIMEOUT))
        if hello != {"ok": True, "ready": self.client}:
            raise WorkerError(
                f"{self.client}: the worker could not load the client (is the "
                f"bench dependency group installed?):\n{hello.get('error', hello)}"
            )
        return process

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait at most ``timeout`` seconds for the answer.

        A worker that died or did not answer in time is killed and raises
        :class:`WorkerError`; the next request starts a fresh one.
        """
        try:
            process = self._process or self._start()
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.write(json.dumps(message).encode() + b"\n")
            process.stdin.flush()
            answer = json.loads(self._read_line(process.stdout, timeout))
        except (WorkerError, OSError, ValueError) as exc:
            self.kill()
            if isinstance(exc, WorkerError):
                raise
            raise WorkerError(f"{self.client}: worker failed: {exc!r}") from exc
        assert isinstance(answer, dict)
        return answer

    def _read_line(self, stream: IO[bytes], timeout: float) -> bytes:
        # Raw reads on the descriptor: select() cannot see a file object's buffer.
        fd = stream.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise WorkerError(
                    f"{self.client}: no answer within {timeout:.0f} s; the worker "
                    "was killed (a hang in the client or the server)"
                )
            chunk = os.read(fd, 65536)
            if not chunk:
                code = self._process.wait() if self._process else None
                raise WorkerError(
                    f"{self.client}: the worker exited with status {code} "
                    "(its stderr is above)"
                )
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """Ask the worker to exit (end of its stdin), killing it if it lingers."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


# The child.


def _handle(client: Any, raw: bool, request: dict[str, Any]) -> dict[str, Any]:
    if request["op"] == "measure":
        result = measure(
            client,
            by_id(request["scenario"]),
            request["url"],
            duration=request["duration"],
            warmup=request["warmup"],
            raw=raw,
        )
        return {
            "ok": True,
            "count": result.count,
            "wall": result.wall,
            "cpu": result.cpu,
        }
    if request["op"] == "rss":
        rss = measure_rss(
            client,
            request["url"],
            connections=request["connections"],
            idle=request["idle"],
        )
        return {
            "ok": True,
            "connections": rss.connections,
            "before": rss.before,
            "after": rss.after,
        }
    raise ValueError(f"unknown request {request['op']!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m tools.bench.worker CLIENT\n")
        return 2
    # Answers go to a private copy of stdout; fd 1 becomes stderr.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    raise_fd_limit()
    spec = by_name(argv[0])

    def answer(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message).encode() + b"\n")
        answers.flush()

    try:
        client = load(spec)
    except Exception:
        answer({"ok": False, "error": traceback.format_exc()})
        return 1
    answer({"ok": True, "ready": spec.name})
    for line in sys.stdin.buffer:
        try:
            reply = _handle(client, spec.raw, json.loads(line))
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        answer(reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
