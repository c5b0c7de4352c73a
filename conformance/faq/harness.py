"""Run the FAQ's programs as subprocesses and turn scenarios into results.

A scenario (see :mod:`conformance.faq.scenarios`) receives a
:class:`ScenarioContext` bound to one backend. It starts live servers, runs the
backend's spelling of a FAQ program in a fresh interpreter (the same Python as
the harness) with the program's placeholders replaced by the server's address,
and checks what the server observed. Each (question, backend) pair gives one
:class:`Result`.
"""

from __future__ import annotations

import contextlib
import enum
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends import Backend, python_path
from .extract import FaqSource
from .generate import program
from .server import Behaviour, LiveServer, ServerError, TestCertificate
from .translate import TranslationError

__all__ = [
    "DEFAULT_TIMEOUT",
    "ClientProcess",
    "Finished",
    "Result",
    "Scenario",
    "ScenarioContext",
    "ScenarioFailure",
    "Status",
    "run_scenario",
]

DEFAULT_TIMEOUT = float(os.environ.get("WSKIT_FAQ_TIMEOUT", "15"))
"""Bound, in seconds, on each wait: a program's run, a server's observation."""

_STDERR_TAIL = 12
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy")


class Status(enum.Enum):
    """Outcome of one (question, backend) cell."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Result:
    """One cell of the FAQ matrix.

    Attributes:
        question: The question's slug, e.g. ``force-ip``.
        title: The question as the FAQ asks it.
        backend: The backend's name, e.g. ``wskit.asyncio``.
        status: Passed, failed or skipped.
        reason: Why it failed or was skipped; empty when it passed.
        details: What the scenario checked and observed, in order.
        seconds: Wall time of the scenario.
    """

    question: str
    title: str
    backend: str
    status: Status
    reason: str = ""
    details: tuple[str, ...] = ()
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``status`` as its string value)."""
        return {
            "question": self.question,
            "title": self.title,
            "backend": self.backend,
            "status": self.status.value,
            "reason": self.reason,
            "details": list(self.details),
            "seconds": round(self.seconds, 3),
        }


class ScenarioFailure(Exception):
    """What the server observed (or the program did) is not what the FAQ says."""


@dataclass(frozen=True)
class Scenario:
    """The proof of one FAQ answer.

    Attributes:
        question: The question's slug.
        examples: The programs (example ids) that the scenario runs; generation
            fails when a program of the question is missing here.
        function: Runs the scenario; raises :exc:`ScenarioFailure` on a
            mismatch.
    """

    question: str
    examples: tuple[str, ...]
    function: Callable[[ScenarioContext], None]


@dataclass(frozen=True)
class Finished:
    """A program that ran to its end."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """Standard output, line by line."""
        return self.stdout.splitlines()


class ClientProcess:
    """A FAQ program running in a subprocess, with its output collected live.

    Args:
        argv: The command.
        env: Its environment.
        cwd: Its working directory.
        label: Names it in messages, e.g. ``faq-reconnect-asyncio on wskit.asyncio``.
        timeout: Bound on each wait.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        label: str,
        timeout: float,
    ) -> None:
        self.label = label
        self._timeout = timeout
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._changed = threading.Condition()
        self._popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._readers = [
            threading.Thread(
                target=self._read, args=(self._popen.stdout, self._stdout)
            ),
            threading.Thread(
                target=self._read, args=(self._popen.stderr, self._stderr)
            ),
        ]
        for reader in self._readers:
            reader.daemon = True
            reader.start()

    def _read(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        stream.close()

    @property
    def stdout(self) -> str:
        """Standard output so far."""
        with self._changed:
            return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        """Standard error so far."""
        with self._changed:
            return "".join(self._stderr)

    def wait_for_line(self, line: str) -> bool:
        """Wait until the program prints ``line``; ``False`` on timeout or exit."""

        def printed() -> bool:
            return line in (text.rstrip("\n") for text in self._stdout)

        deadline = time.monotonic() + self._timeout
        with self._changed:
            while not printed():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self._popen.poll() is not None
                    and not any(r.is_alive() for r in self._readers)
                ):
                    return printed()
                self._changed.wait(min(remaining, 0.1))
            return True

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the program."""
        self._popen.send_signal(signum)

    def wait(self) -> Finished:
        """Wait for the program to end.

        Raises:
            ScenarioFailure: It did not end within the timeout (it is killed).
        """
        try:
            returncode = self._popen.wait(self._timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ScenarioFailure(
                f"{self.label} did not exit within {self._timeout} s"
                + _tail(self.stderr)
            ) from None
        for reader in self._readers:
            reader.join(self._timeout)
        return Finished(returncode, self.stdout, self.stderr)

    def kill(self) -> None:
        """Stop the program at once, if it still runs."""
        if self._popen.poll() is None:
            self._popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(self._timeout)
        for reader in self._readers:
            reader.join(self._timeout)


def _tail(stderr: str) -> str:
    lines = stderr.strip().splitlines()[-_STDERR_TAIL:]
    return ("\nstderr:\n  " + "\n  ".join(lines)) if lines else ""


@dataclass
class ScenarioContext:
    """What a scenario works with: one backend, a scratch directory, a timeout.

    Attributes:
        source: The parsed FAQ.
        backend: The backend under test.
        workdir: A scratch directory, removed afterwards.
        timeout: Bound on each wait.
        details: What was checked, for the report.
        ran: Example ids started so far.
    """

    source: FaqSource
    backend: Backend
    workdir: Path
    timeout: float = DEFAULT_TIMEOUT
    details: list[str] = field(default_factory=list)
    ran: set[str] = field(default_factory=set)
    _processes: list[ClientProcess] = field(default_factory=list)

    # Servers.

    def server(
        self,
        behaviour: Behaviour,
        *,
        certificate: TestCertificate | None = None,
        subprotocols: Sequence[str] | None = None,
    ) -> LiveServer:
        """A live server (use as a context manager)."""
        return LiveServer(
            behaviour,
            timeout=self.timeout,
            certificate=certificate,
            subprotocols=subprotocols,
        )

    def certificate(self, *names: str) -> TestCertificate:
        """A test CA and a server certificate for ``names``."""
        return TestCertificate(self.workdir, names)

    # Programs.

    def program(
        self, example: str, substitutions: Sequence[tuple[str, str]] = ()
    ) -> str:
        """The backend's program for ``example``, placeholders replaced.

        Raises:
            ScenarioFailure: A placeholder does not occur in the program: the
                FAQ changed and the scenario's table must follow.
        """
        variant = self.backend.variant
        text = self.backend.adapt(program(self.source, example, variant))
        for old, new in substitutions:
            if old not in text:
                raise ScenarioFailure(
                    f"placeholder {old!r} is not in faq-{example}-{variant}: update "
                    "the scenario's substitutions to match the FAQ"
                )
            text = text.replace(old, new)
        return text

    def start(
        self,
        example: str,
        substitutions: Sequence[tuple[str, str]] = (),
        *,
        env: Mapping[str, str] | None = None,
    ) -> ClientProcess:
        """Start the program ``example`` in a subprocess."""
        text = self.program(example, substitutions)
        self.ran.add(example)
        count = len(self._processes)
        path = self.workdir / f"faq_{example.replace('-', '_')}_{count}.py"
        path.write_text(text, encoding="utf-8")
        environment = {
            key: value
            for key, value in os.environ.items()
            if key.lower() not in _PROXY_VARIABLES and key.lower() != "no_proxy"
        }
        environment.update(
            PYTHONPATH=python_path(), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1"
        )
        environment.update(env or {})
        label = f"faq-{example}-{self.backend.variant} on {self.backend.name}"
        process = ClientProcess(
            [sys.executable, str(path)],
            env=environment,
            cwd=self.workdir,
            label=label,
            timeout=self.timeout,
        )
        self._processes.append(process)
        return process

    def run(
        self,
        example: str,
        substitutions: Sequence[tuple[str, str]] = (),
        *,
        env: Mapping[str, str] | None = None,
    ) -> Finished:
        """Run the program ``example`` to its end."""
        return self.start(example, substitutions, env=env).wait()

    # Checks.

    def check(
        self, condition: bool, message: str, finished: Finished | None = None
    ) -> None:
        """Record ``message`` if ``condition`` holds, else fail with it.

        Args:
            condition: What the FAQ promises.
            message: The promise, in words ("server saw close code 1000").
            finished: The program concerned; its standard error is appended to a
                failure.

        Raises:
            ScenarioFailure: ``condition`` is false.
        """
        if not condition:
            raise ScenarioFailure(
                message + (_tail(finished.stderr) if finished else "")
            )
        self.details.append(message)

    def expect_success(self, finished: Finished, example: str) -> None:
        """Fail unless the program exited with status 0."""
        self.check(
            finished.returncode == 0,
            f"faq-{example} exited with status {finished.returncode}",
            finished,
        )

    def close(self) -> None:
        """Kill the programs that still run."""
        for process in self._processes:
            process.kill()


@contextmanager
def _timer() -> Iterator[Callable[[], float]]:
    start = time.monotonic()
    yield lambda: time.monotonic() - start


def run_scenario(
    source: FaqSource,
    scenario: Scenario,
    backend: Backend,
    workdir: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Result:
    """Run one cell of the matrix.

    Args:
        source: The parsed FAQ.
        scenario: The question's scenario.
        backend: The backend to run the programs on.
        workdir: An empty scratch directory for this cell.
        timeout: Bound on each wait.

    Returns:
        Passed, or failed with the first broken promise; never raises for a
        failing backend.
    """
    title = source.questions[scenario.question].title
    context = ScenarioContext(source, backend, workdir, timeout)
    status, reason = Status.PASSED, ""
    with _timer() as elapsed:
        try:
            scenario.function(context)
        except (ScenarioFailure, ServerError, TranslationError) as exc:
            status, reason = Status.FAILED, str(exc)
        except Exception as exc:
            status, reason = Status.FAILED, f"harness error: {exc!r}"
        finally:
            context.close()
        if status is Status.PASSED:
            missing = sorted(set(scenario.examples) - context.ran)
            if missing:
                status = Status.FAILED
                reason = f"the scenario did not run {', '.join(missing)}"
        seconds = elapsed()
    return Result(
        scenario.question,
        title,
        backend.name,
        status,
        reason,
        tuple(context.details),
        seconds,
    )
