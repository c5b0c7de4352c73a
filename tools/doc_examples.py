"""Run every Python example of the docs against local echo servers.

Usage::

    python tools/doc_examples.py                 # every example under docs/
    python tools/doc_examples.py docs/howto/tls.rst -v
    python tools/doc_examples.py --list          # what would run, and why not

An example is a ``.. code-block:: python`` (or ``code::``/``sourcecode::``) or a
``.. literalinclude::`` of a ``.py`` file (or with ``:language: python``), in any
``.rst`` file under ``docs/`` except ``docs/faq/`` (the FAQ matrix runs those,
on every backend), ``docs/_build/`` and ``docs/_generated/``.

Rules, so that an example reads like a real program and still runs here:

- ``ws://localhost:8765`` becomes the runner's echo server and
  ``wss://localhost:8765`` its TLS echo server, both on 127.0.0.1 (user
  information before ``localhost`` is kept). The servers run the ``echo``
  handler of ``docs/examples/echo_server.py`` with the options of that file.
- Each example runs as ``python example.py`` in a new temporary directory that
  also holds ``ca.pem`` (the authority of the TLS server's certificate) and
  ``client.pem`` (a client certificate and its key); ``SSL_CERT_FILE`` points at
  ``ca.pem``, so default TLS contexts trust the server. The four packages'
  ``src`` directories and the repository root come first on ``PYTHONPATH``.
- An example passes when it exits with status 0 within ``--timeout`` seconds
  and its standard error holds no traceback, logging error, or unretrieved
  task exception.
- An rST comment right before the example (blank lines allowed) changes that:

  ``.. skip-example: <reason>``
      not run; the reason is printed. For examples that need what the runner
      cannot provide (a proxy, a remote host).
  ``.. example-runs-forever: <reason>``
      the example is expected to run until stopped (a reconnecting client): it
      passes when it is still running, without error, after
      ``--forever-seconds``.

  A marker that is not followed by an example is an error.
- An example that fails only because a wskit module or name it imports does not
  exist yet is reported as ``unavailable``; that is a failure unless
  ``--allow-unavailable`` is given.

The exit status is 1 when any example failed (or a marker is misplaced), else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import enum
import importlib.util
import logging
import os
import re
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "Example",
    "ExampleError",
    "Outcome",
    "Result",
    "Servers",
    "Status",
    "classify",
    "extract_examples",
    "find_examples",
    "main",
    "run_example",
    "substitute",
]

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ECHO_SERVER = DOCS / "examples" / "echo_server.py"
EXCLUDED_DIRS = ("faq", "_build", "_generated")
PACKAGES = ("core", "asyncio", "threading", "legacy")

SKIP_MARKER = "skip-example"
FOREVER_MARKER = "example-runs-forever"

_MARKER = re.compile(rf"^\s*\.\.\s+({SKIP_MARKER}|{FOREVER_MARKER}):\s*(.*?)\s*$")
_CODE_BLOCK = re.compile(r"^(\s*)\.\.\s+(?:code-block|code|sourcecode)::\s*(\S*)\s*$")
_LITERALINCLUDE = re.compile(r"^(\s*)\.\.\s+literalinclude::\s*(\S+)\s*$")
_PYTHON = ("python", "python3", "py")
_OPTION = re.compile(r"^\s*:([\w-]+):\s*(.*?)\s*$")
_URI = re.compile(r"\b(wss?)://([^\s/@\"']+@)?localhost:8765")
_BAD_STDERR = (
    "Traceback (most recent call last)",
    "--- Logging error ---",
    "Task exception was never retrieved",
    "was never awaited",
)
_UNAVAILABLE = re.compile(
    r"^(?:ImportError: cannot import name '\w+' from '(wskit\.[\w.]+)'"
    r"|ModuleNotFoundError: No module named '(wskit\.[\w.]+)'"
    r"|AttributeError: module '(wskit\.[\w.]+)' has no attribute '\w+')",
    re.MULTILINE,
)


class ExampleError(Exception):
    """The docs are malformed for the runner: a misplaced marker, a missing file."""


class Mode(enum.Enum):
    """How an example runs, as its marker says."""

    RUN = "run"
    SKIP = "skip"
    FOREVER = "forever"


@dataclasses.dataclass(frozen=True)
class Example:
    """One Python example of the docs.

    Attributes:
        source: The ``.rst`` file, relative to the repository root.
        line: The line of the directive in that file (1-based).
        code: The program.
        mode: How to run it.
        reason: The marker's reason, if any.
    """

    source: str
    line: int
    code: str
    mode: Mode = Mode.RUN
    reason: str = ""

    @property
    def name(self) -> str:
        """``path:line``, to find the example in the docs."""
        return f"{self.source}:{self.line}"


class Status(enum.Enum):
    """The outcome of one example."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNAVAILABLE = "unavailable"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What running a program gave: exit status (``None``: still running)."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclasses.dataclass(frozen=True)
class Result:
    """An example, its status and the reason for it."""

    example: Example
    status: Status
    reason: str = ""
    output: str = ""


def _directive_body(
    lines: Sequence[str], start: int, indent: int
) -> tuple[dict[str, str], list[str]]:
    """Options and content of the directive whose first line is ``start``."""
    options: dict[str, str] = {}
    index = start + 1
    while index < len(lines):
        match = _OPTION.match(lines[index])
        if not match or _indent(lines[index]) <= indent:
            break
        options[match.group(1)] = match.group(2)
        index += 1
    body: list[str] = []
    while index < len(lines):
        line = lines[index]
        if line.strip() and _indent(line) <= indent:
            break
        body.append(line)
        index += 1
    return options, body


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _select_lines(text: str, spec: str) -> str:
    """Apply a literalinclude ``:lines:`` option such as ``4-`` or ``1,3-5``."""
    lines = text.splitlines()
    chosen: list[str] = []
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        start = int(first) if first else 1
        end = (int(last) if last else len(lines)) if dash else start
        chosen += lines[start - 1 : end]
    return "\n".join(chosen) + "\n"


def extract_examples(text: str, source: str, docs: Path = DOCS) -> list[Example]:
    """Find the Python examples of one rST document.

    Args:
        text: The document.
        source: Its path relative to the repository root (for messages and for
            resolving relative ``literalinclude`` paths).
        docs: The documentation root, for ``literalinclude`` paths starting
            with ``/``.

    Returns:
        The examples, in document order.

    Raises:
        ExampleError: A marker is not followed by an example, or an included
            file does not exist.
    """
    lines = text.splitlines()
    examples: list[Example] = []
    pending: tuple[Mode, str, int] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _MARKER.match(line)
        if marker:
            if pending is not None:
                raise ExampleError(
                    f"{source}:{pending[2]}: marker not followed by an example"
                )
            if not marker.group(2):
                raise ExampleError(
                    f"{source}:{index + 1}: {marker.group(1)} needs a reason"
                )
            mode = Mode.SKIP if marker.group(1) == SKIP_MARKER else Mode.FOREVER
            pending = (mode, marker.group(2), index + 1)
            index += 1
            continue
        code: str | None = None
        block = _CODE_BLOCK.match(line)
        include = _LITERALINCLUDE.match(line)
        skip_to = index + 1
        if block:
            options, body = _directive_body(lines, index, len(block.group(1)))
            skip_to = index + 1 + len(options) + len(body)
            if block.group(2) in _PYTHON:
                code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        elif include:
            options, body = _directive_body(lines, index, len(include.group(1)))
            skip_to = index + 1 + len(options) + len(body)
            code = _included(include.group(2), options, source, index, docs)
        if code is not None:
            mode, reason = (Mode.RUN, "") if pending is None else pending[:2]
            examples.append(Example(source, index + 1, code, mode, reason))
            pending = None
        elif pending is not None and line.strip():
            raise ExampleError(
                f"{source}:{pending[2]}: marker not followed by an example"
            )
        index = skip_to
    if pending is not None:
        raise ExampleError(f"{source}:{pending[2]}: marker not followed by an example")
    return examples


def _included(
    target: str, options: dict[str, str], source: str, index: int, docs: Path
) -> str | None:
    """The code that a ``literalinclude`` shows, if it is Python."""
    language = options.get("language", "")
    if language not in _PYTHON and (language or not target.endswith(".py")):
        return None
    if target.startswith("/"):
        path = docs / target.lstrip("/")
    else:
        path = (ROOT / source).parent / target
    if not path.is_file():
        raise ExampleError(f"{source}:{index + 1}: no such file {target}")
    code = path.read_text(encoding="utf-8")
    if "lines" in options:
        code = _select_lines(code, options["lines"])
    return code


def find_examples(paths: Sequence[Path] = (), docs: Path = DOCS) -> list[Example]:
    """Every example of the given ``.rst`` files, or of the whole docs.

    Raises:
        ExampleError: As :func:`extract_examples`.
    """
    if not paths:
        paths = sorted(
            path
            for path in docs.rglob("*.rst")
            if path.relative_to(docs).parts[0] not in EXCLUDED_DIRS
        )
    examples = []
    for path in paths:
        path = path.resolve()
        try:
            source = str(path.relative_to(ROOT))
        except ValueError:
            source = str(path)
        examples += extract_examples(path.read_text(encoding="utf-8"), source, docs)
    return examples


def substitute(code: str, port: int, tls_port: int) -> str:
    """Point ``ws://localhost:8765`` and ``wss://localhost:8765`` at the servers."""

    def replace(match: re.Match[str]) -> str:
        scheme, userinfo = match.group(1), match.group(2) or ""
        chosen = tls_port if scheme == "wss" else port
        return f"{scheme}://{userinfo}127.0.0.1:{chosen}"

    return _URI.sub(replace, code)


def classify(example: Example, outcome: Outcome) -> Result:
    """Decide whether an example passed, from how its program ended."""
    output = outcome.stdout + outcome.stderr
    bad = [pattern for pattern in _BAD_STDERR if pattern in outcome.stderr]
    if example.mode is Mode.FOREVER and outcome.returncode is None:
        if bad:
            return Result(example, Status.FAILED, f"stderr shows {bad[0]!r}", output)
        return Result(example, Status.PASSED, "still running, as expected", output)
    if outcome.timed_out:
        return Result(example, Status.FAILED, "timed out", output)
    if outcome.returncode != 0:
        missing = _UNAVAILABLE.search(outcome.stderr)
        if missing:
            module = next(group for group in missing.groups() if group)
            return Result(
                example, Status.UNAVAILABLE, f"{module} lacks what it imports", output
            )
        return Result(
            example, Status.FAILED, f"exit status {outcome.returncode}", output
        )
    if bad:
        return Result(example, Status.FAILED, f"stderr shows {bad[0]!r}", output)
    return Result(example, Status.PASSED, "", output)


def _load_echo_server() -> Any:
    spec = importlib.util.spec_from_file_location("docs_echo_server", ECHO_SERVER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Options of serve() in docs/examples/echo_server.py: keep them in step.
SERVER_OPTIONS: dict[str, Any] = {"max_size": None}

# Run-forever examples are killed mid-connection: the server's logs about that
# are noise, not the example's failure.
_SERVER_LOGGER = logging.getLogger("wskit.doc_examples.server")
_SERVER_LOGGER.addHandler(logging.NullHandler())
_SERVER_LOGGER.propagate = False


class Servers:
    """The plain and TLS echo servers, in a background thread, on 127.0.0.1.

    Use as a context manager; ``port`` and ``tls_port`` are set inside, and
    ``directory`` holds ``ca.pem`` and ``client.pem``.
    """

    def __init__(self) -> None:
        self.port = 0
        self.tls_port = 0
        self._tmp = tempfile.TemporaryDirectory(prefix="wskit-doc-examples-")
        self.directory = Path(self._tmp.name)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[Any] = []

    def _tls_context(self) -> ssl.SSLContext:
        import trustme

        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(self.directory / "ca.pem"))
        server_cert = ca.issue_cert("localhost", "127.0.0.1")
        client_cert = ca.issue_cert("client.example.com")
        client_cert.private_key_and_cert_chain_pem.write_to_path(
            str(self.directory / "client.pem")
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_cert.configure_cert(context)
        return context

    async def _start(self) -> None:
        from websockets.asyncio.server import serve

        echo = _load_echo_server().echo
        options = {**SERVER_OPTIONS, "logger": _SERVER_LOGGER}
        plain = await serve(echo, "127.0.0.1", 0, **options)
        tls = await serve(echo, "127.0.0.1", 0, ssl=self._tls_context(), **options)
        self._servers = [plain, tls]
        self.port = plain.sockets[0].getsockname()[1]
        self.tls_port = tls.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()

    def __enter__(self) -> Servers:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()
        self._tmp.cleanup()


def _environment(directory: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT / "packages" / f"wskit-{pkg}" / "src") for pkg in PACKAGES]
    paths.append(str(ROOT))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["SSL_CERT_FILE"] = str(directory / "ca.pem")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(
    path: Path, cwd: Path, env: dict[str, str], timeout: float, forever: float | None
) -> Outcome:
    with subprocess.Popen(
        [sys.executable, str(path)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(
                timeout=timeout if forever is None else forever
            )
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            if forever is not None:
                return Outcome(None, stdout, stderr)
            return Outcome(process.returncode, stdout, stderr, timed_out=True)
        return Outcome(process.returncode, stdout, stderr)


def run_example(
    example: Example,
    servers: Servers,
    *,
    timeout: float = 30.0,
    forever_seconds: float = 3.0,
    replacements: Sequence[tuple[str, str]] = (),
) -> Result:
    """Run one example against the servers and classify the outcome.

    Args:
        example: The example.
        servers: Running servers.
        timeout: Seconds an ordinary example may take.
        forever_seconds: Seconds a run-forever example must survive.
        replacements: Extra ``(old, new)`` text replacements, e.g. to try the
            examples against another implementation of the same API.

    Returns:
        The result.
    """
    if example.mode is Mode.SKIP:
        return Result(example, Status.SKIPPED, example.reason)
    code = substitute(example.code, servers.port, servers.tls_port)
    for old, new in replacements:
        code = code.replace(old, new)
    with tempfile.TemporaryDirectory(prefix="wskit-example-") as tmp:
        cwd = Path(tmp)
        for name in ("ca.pem", "client.pem"):
            (cwd / name).write_bytes((servers.directory / name).read_bytes())
        path = cwd / "example.py"
        path.write_text(code, encoding="utf-8")
        forever = forever_seconds if example.mode is Mode.FOREVER else None
        outcome = _run(path, cwd, _environment(cwd), timeout, forever)
    return classify(example, outcome)


def _report(results: Sequence[Result], verbose: bool) -> Iterator[str]:
    for result in results:
        line = f"{result.status.value.upper():12} {result.example.name}"
        if result.reason:
            line += f"  ({result.reason})"
        yield line
        if result.status in (Status.FAILED, Status.UNAVAILABLE) or verbose:
            for output_line in result.output.rstrip().splitlines():
                yield "    | " + output_line
    counts = dict.fromkeys(Status, 0)
    for result in results:
        counts[result.status] += 1
    yield ", ".join(f"{counts[status]} {status.value}" for status in Status)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; see the module docstring.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python tools/doc_examples.py",
        description="Run the Python examples of the docs against echo servers.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help=".rst files (default: all)")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--forever-seconds", type=float, default=3.0)
    parser.add_argument("--allow-unavailable", action="store_true")
    parser.add_argument(
        "--replace",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="replace text in every example before running it (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list, do not run")
    parser.add_argument("-k", dest="pattern", help="only examples whose name matches")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    try:
        examples = find_examples(args.paths)
    except ExampleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.pattern:
        examples = [e for e in examples if re.search(args.pattern, e.name)]
    if args.list:
        for example in examples:
            suffix = f" ({example.reason})" if example.reason else ""
            print(f"{example.mode.value:8} {example.name}{suffix}")
        return 0
    replacements = [tuple(item.split("=", 1)) for item in args.replace]
    results = []
    with Servers() as servers:
        for example in examples:
            started = time.monotonic()
            result = run_example(
                example,
                servers,
                timeout=args.timeout,
                forever_seconds=args.forever_seconds,
                replacements=[(old, new) for old, new in replacements],
            )
            results.append(result)
            if args.verbose:
                elapsed = time.monotonic() - started
                print(f"... {example.name} {result.status.value} in {elapsed:.1f} s")
    for line in _report(results, args.verbose):
        print(line)
    failed = {Status.FAILED} | (
        set() if args.allow_unavailable else {Status.UNAVAILABLE}
    )
    return 1 if any(result.status in failed for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
