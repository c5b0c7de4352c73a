"""Generate wskit.threading modules from their wskit.asyncio sources.

The threading client is the asyncio client with ``async`` and ``await`` removed and a
``Thread`` where asyncio uses a ``Task``. Writing that by hand twice lets the two
drift; generating it keeps every answer of the client FAQ true for both. Only the
modules listed in :data:`FILES` are generated; what must differ (how bytes reach the
protocol) is written by hand in each package.

The rewrite works on tokens, not text, so ``await`` inside an identifier or a string
is never touched by accident; strings and comments get the same rewrite by regular
expression, so docstrings show the right spelling.

Three tables say what differs, file by file, and nothing else does:

- :data:`OMIT`: functions and methods left out of the generated file because the
  threading package hand-writes them (in its I/O modules) on top of threads and
  locks rather than futures and tasks;
- :data:`TWINS`: exact snippets of the rewritten text and their threading twins,
  for the few lines that name an asyncio primitive; a twin that no longer
  matches stops the generation, so a change to the asyncio source cannot slip
  through untranslated;
- imports that the omissions left unused are dropped, and import lists that the
  renames changed are deduplicated and sorted again.

Usage::

    python tools/unasync.py          # write the generated files
    python tools/unasync.py --check  # exit 1 if any generated file is stale
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import re
import subprocess
import sys
import tokenize
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "FILES",
    "OMIT",
    "RENAMES",
    "TWINS",
    "generate",
    "generate_module",
    "main",
    "unasync_source",
]

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "packages/wskit-asyncio/src/wskit/asyncio"
DST = ROOT / "packages/wskit-threading/src/wskit/threading"
TESTS_SRC = ROOT / "packages/wskit-asyncio/tests"
TESTS_DST = ROOT / "packages/wskit-threading/tests"

#: Generated files: source path -> destination path.
FILES: dict[Path, Path] = {
    **{SRC / name: DST / name for name in ("client.py", "connection.py")},
    # The tests that hold for both clients; the rest are hand-written.
    **{
        TESTS_SRC / name: TESTS_DST / name
        for name in (
            "test_client.py",
            "test_connection.py",
            "test_faults.py",
            "test_network.py",
            "test_security.py",
        )
    },
}

#: Functions and methods not generated, by source file name: the threading
#: package hand-writes them in ``transport.py`` (``ClientConnection`` inherits
#: them from ``ConnectionIO``) because they rest on futures, tasks or a single
#: thread's view of the protocol.
OMIT: dict[str, frozenset[str]] = {
    "client.py": frozenset(),
    "connection.py": frozenset(
        {
            # Sending: one lock around the core and an ordered outbox.
            "send",
            "_send_fragments",
            "_send_async_fragments",
            "_send_first_fragment",
            "_send_next_fragment",
            "_send_last_fragment",
            "_fail_fragmented",
            "_end_send_in_progress",
            # Closing: safe from a signal handler.
            "close",
            "_raise_closed",
            # Pings return a threading.Event; keepalive is a thread.
            "ping",
            "pong",
            "process_pong",
            "connection_closed",
            "start_keepalive",
            "_start_keepalive_task",
            "keepalive",
            "_keepalive",
            # The handshake waits on an event, bounded by the opening deadline.
            "handshake",
        }
    ),
    # Tests of asyncio-only behaviour (tasks, cancellation, futures, transports);
    # their threading twins are hand-written in test_threads.py.
    "test_client.py": frozenset(
        {"test_unix_connect", "test_reconnect_after_server_restarts"}
    ),
    "test_connection.py": frozenset(
        {
            "wait_until",
            "test_send_fragments_from_async_iterable",
            "test_concurrent_recv_raises_concurrency_error",
            "test_cancelled_recv_loses_nothing",
            "CountingConnection",
            "test_flood_is_bounded_by_max_queue",
            "test_ping_returns_latency",
            "test_pending_pings_fail_when_connection_closes",
            "test_keepalive_timeout_fails_connection",
        }
    ),
    # The asyncio test polls with asyncio.sleep; testing.threaded polls too.
    "test_faults.py": frozenset({"wait_until"}),
    # TLS inside TLS needs a memory BIO pair; see test_threads.py.
    "test_network.py": frozenset(
        {
            "test_https_proxy_to_wss_server",
            "test_https_proxy_to_wss_server_needs_python_3_11",
        }
    ),
}

_GETATTR = '''    # websocket = connect(...)

    def __getattr__(self, name: str) -> Any:
        """Open the connection on first use and delegate to it; the caller closes it.

        ``websocket = connect(...)`` is the twin of asyncio's ``websocket = await
        connect(...)``: the connection opens when ``websocket`` is first used,
        within ``open_timeout``, and ``for message in websocket`` then iterates
        over its messages.
        """
        if name.startswith("__") or name in ("connection", "direct"):
            raise AttributeError(name)
        direct = self.__dict__.get("direct")
        if direct is None:
            direct = self.direct = self.connect()
        value = getattr(direct, name)
        if getattr(value, "__self__", None) is direct:
            # A bound method does not change: keep it, so that later calls
            # (websocket.send, websocket.recv) skip this lookup.
            self.__dict__[name] = value
        return value
'''

#: Snippets of the rewritten text -> their threading twins, by source file name.
#: Each snippet must occur in the rewritten text.
TWINS: dict[str, list[tuple[str, str]]] = {
    "client.py": [
        ("import asyncio\n", "import time\n"),
        ("(OSError, asyncio.TimeoutError, TimeoutError)", "(OSError, TimeoutError)"),
        # Cancelling a task becomes interrupting the thread.
        ("except asyncio.CancelledError:", "except KeyboardInterrupt:"),
        # asyncio.timeout bounds a coroutine; a thread bounds each blocking step.
        (
            "except asyncio.TimeoutError as exc:",
            "except TimeoutError as exc:",
        ),
        ("asyncio.sleep(delay)", "time.sleep(delay)"),
        # "await self" opens the connection through __await__.
        ("self.connection = self\n", "self.connection = self.connect()\n"),
        (
            '''    # connect(...)

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        """Open the connection; the caller closes it."""
        return self.connect().__await__()
''',
            _GETATTR,
        ),
        (
            "        delays: Iterator[float] | None = None\n",
            '        direct = self.__dict__.get("direct")\n'
            "        if direct is not None:\n"
            "            # websocket = connect(...); for message in websocket:\n"
            "            yield from direct\n"
            "            return\n"
            "        delays: Iterator[float] | None = None\n",
        ),
    ],
    "connection.py": [
        ("import asyncio\n", "import threading\n"),
        (
            "(future resolved with the latency, time sent)",
            "(event set by the pong, time sent)",
        ),
        (
            "tuple[asyncio.Future[float], float]",
            "tuple[threading.Event, float]",
        ),
        (
            "self.send_in_progress: asyncio.Future[None] | None",
            "self.send_in_progress: threading.Thread | None",
        ),
        ("Another coroutine is already receiving.", "Another thread is receiving."),
        # The first keepalive ping waits on an event loop timer.
        ("        self._keepalive_timer: QueuedTimer | None = None\n", ""),
        (
            "from .transport import ConnectionIO, QueuedTimer, timer_queue\n",
            "from .transport import ConnectionIO\n",
        ),
        # No "async yield from"; a generator has one.
        (
            "for fragment in self.recv_messages.get_iter(decode):\n"
            "                yield fragment\n",
            "yield from self.recv_messages.get_iter(decode)\n",
        ),
    ],
    "test_client.py": [],
    "test_connection.py": [
        # The asyncio test polls with asyncio.sleep; testing.threaded polls too.
        ("    websockets_server,\n)", "    wait_until,\n    websockets_server,\n)"),
        ("asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))", "scenario()"),
    ],
    "test_faults.py": [
        (
            "from testing.threaded import TIMEOUT\n",
            "from testing.threaded import TIMEOUT, wait_until\n",
        ),
        # Sends are synchronous: what waits is the outbox of the write lock.
        (
            "return ws.transport.get_write_buffer_size()",
            "return sum(map(len, ws.outgoing))",
        ),
    ],
    "test_network.py": [],
}

#: Names replaced wherever they occur as a whole identifier.
RENAMES: dict[str, str] = {
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "StopAsyncIteration": "StopIteration",
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "AsyncGenerator": "Generator",
    "AsyncContextManager": "ContextManager",
    "asynccontextmanager": "contextmanager",
    "AbstractAsyncContextManager": "AbstractContextManager",
    "aclose": "close",
    "anext": "next",
    "aiter": "iter",
}

#: Dotted paths replaced in the text of import lines, strings and comments.
PATH_RENAMES: dict[str, str] = {
    "wskit.asyncio": "wskit.threading",
    "wskit-asyncio": "wskit-threading",
    "asyncio.Task": "threading.Thread",
    # The tests' peers: the same servers, hosted in a thread.
    "testing.asyncio_run": "testing.threaded",
    "testing.servers": "testing.threaded",
    "testing.proxy": "testing.threaded",
}

HEADER = (
    "# Generated by tools/unasync.py: do not edit.\n"
    "# Source: {source}\n"
    "# Change the source, then run: python tools/unasync.py\n"
)

# threading.Thread is not generic: "asyncio.Task[None]" loses its parameter.
_THREAD_PARAMETER = re.compile(r"\bthreading\.Thread\[[^\]]*\]")

_AWAIT = re.compile(r"\bawait\s+")
_ASYNC = re.compile(r"\basync\s+(?=(?:def|with|for)\b)")


def _rename_text(text: str, renames: Mapping[str, str]) -> str:
    text = _ASYNC.sub("", _AWAIT.sub("", text))
    if renames:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, renames)) + r")\b")
        text = pattern.sub(lambda m: renames[m.group(1)], text)
    return text


def _offsets(source: str) -> list[int]:
    """Offset of the start of each line (1-based rows), for token positions."""
    offsets = [0, 0]
    for line in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def unasync_source(source: str, renames: Mapping[str, str] = RENAMES) -> str:
    """Rewrite asyncio source into its synchronous twin."""
    offsets = _offsets(source)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    edits: list[tuple[int, int, str]] = []
    for index, tok in enumerate(tokens):
        start = offsets[tok.start[0]] + tok.start[1]
        end = offsets[tok.end[0]] + tok.end[1]
        if tok.type == tokenize.NAME:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if tok.string == "await" or (
                tok.string == "async"
                and following is not None
                and following.string in ("def", "with", "for")
            ):
                # Drop the keyword and the blanks up to the next token.
                assert following is not None
                next_start = offsets[following.start[0]] + following.start[1]
                edits.append((start, next_start, ""))
            elif tok.string in renames:
                edits.append((start, end, renames[tok.string]))
        elif tok.type in (tokenize.STRING, tokenize.COMMENT):
            rewritten = _rename_text(tok.string, renames)
            if rewritten != tok.string:
                edits.append((start, end, rewritten))
    result = source
    for start, end, text in sorted(edits, reverse=True):
        result = result[:start] + text + result[end:]
    # Dotted paths span several tokens; they are specific enough to be rewritten
    # everywhere, in code, strings and comments alike.
    for old, new in PATH_RENAMES.items():
        result = re.sub(rf"\b{re.escape(old)}\b", new, result)
    return _THREAD_PARAMETER.sub("threading.Thread", result)


def omit_definitions(source: str, names: Iterable[str]) -> str:
    """Remove the functions and classes named ``names`` (at any depth, overloads
    included).

    A definition goes with its decorators and the blank lines after it; a section
    comment left with nothing under it goes too.

    Raises:
        ValueError: A name is not defined in ``source``: the table is stale.
    """
    wanted = set(names)
    if not wanted:
        return source
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and (
            node.name in wanted
        ):
            found.add(node.name)
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            last = node.end_lineno
            assert last is not None
            while last < len(lines) and not lines[last].strip():
                last += 1
            drop.update(range(first - 1, last))
    missing = wanted - found
    if missing:
        raise ValueError(
            f"OMIT names {', '.join(sorted(missing))}, which the source no longer "
            "defines; update tools/unasync.py"
        )
    kept = [line for index, line in enumerate(lines) if index not in drop]
    return _drop_orphan_comments(kept)


def _drop_orphan_comments(lines: list[str]) -> str:
    # A section comment ("    # Pings.") followed by a blank line, then by another
    # section comment at the same depth, a shallower line or the end of file.
    def indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    def is_section(index: int) -> bool:
        line = lines[index]
        return (
            line.lstrip().startswith("# ")
            and index + 1 < len(lines)
            and not lines[index + 1].strip()
            and (index == 0 or not lines[index - 1].strip())
        )

    result: list[str] = []
    index = 0
    while index < len(lines):
        if is_section(index):
            following = index + 1
            while following < len(lines) and not lines[following].strip():
                following += 1
            if (
                following == len(lines)
                or indent(lines[following]) < indent(lines[index])
                or (
                    is_section(following)
                    and indent(lines[following]) == indent(lines[index])
                )
            ):
                index = following
                continue
        result.append(lines[index])
        index += 1
    return "".join(result)


def apply_twins(text: str, twins: Iterable[tuple[str, str]], name: str) -> str:
    """Replace each asyncio snippet with its threading twin.

    Raises:
        ValueError: A snippet no longer occurs: the asyncio source changed.
    """
    for old, new in twins:
        if old not in text:
            raise ValueError(
                f"{name}: the twin of {old.strip()[:60]!r} no longer matches the "
                "asyncio source; update TWINS in tools/unasync.py"
            )
        text = text.replace(old, new)
    return text


def _import_sort_key(name: str) -> tuple[int, str]:
    # isort's order-by-type, as ruff applies it: CONSTANTS, Classes, functions.
    bare = name.split(" as ")[0]
    if bare.isupper() and len(bare) > 1:
        return (0, bare)
    if bare[:1].isupper():
        return (1, bare)
    return (2, bare)


def tidy_imports(text: str) -> str:
    """Drop unused module-level imports, deduplicate and sort the rest.

    Renames can make two imported names equal (``AsyncIterator`` and
    ``Iterator``), and omitted definitions can leave names unused; ruff would
    flag both in a generated file.
    """
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    imports = [
        node
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
    ]
    import_rows = {
        row
        for node in imports
        for row in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }
    used: set[str] = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.start[0] in import_rows:
            continue
        if tok.type == tokenize.NAME:
            used.add(tok.string)
        elif tok.type == tokenize.STRING:
            # Names listed in __all__ count as used.
            used.update(re.findall(r"^[\"\']([A-Za-z_]\w*)[\"\']$", tok.string))
    replacements: dict[int, tuple[int, list[str]]] = {}
    for node in imports:
        end = node.end_lineno or node.lineno
        if isinstance(node, ast.Import):
            names = [
                alias.name
                for alias in node.names
                if (alias.asname or alias.name).split(".")[0] in used
            ]
            new = [f"import {name}\n" for name in names]
        else:
            names = sorted(
                {
                    alias.name
                    if alias.asname is None
                    else f"{alias.name} as {alias.asname}"
                    for alias in node.names
                    if (alias.asname or alias.name) in used
                },
                key=_import_sort_key,
            )
            prefix = f"from {'.' * node.level}{node.module or ''} import "
            single = prefix + ", ".join(names) + "\n"
            if not names:
                new = []
            elif len(single) <= 89:
                new = [single]
            else:
                new = [prefix + "(\n"] + [f"    {name},\n" for name in names] + [")\n"]
        replacements[node.lineno] = (end, new)
    result: list[str] = []
    row = 1
    while row <= len(lines):
        if row in replacements:
            end, new = replacements[row]
            result.extend(new)
            row = end + 1
        else:
            result.append(lines[row - 1])
            row += 1
    return _sort_plain_imports("".join(result))


def _sort_plain_imports(text: str) -> str:
    # A twin may rename "import asyncio" to "import time": keep each run of
    # plain imports in alphabetical order.
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        if lines[index].startswith("import "):
            end = index
            while end < len(lines) and lines[end].startswith("import "):
                end += 1
            lines[index:end] = sorted(lines[index:end])
            index = end
        else:
            index += 1
    return "".join(lines)


#: In tests, ``await f(...)`` of these names becomes ``f(...).connect()``: awaiting
#: a ``connect`` object opens the connection at once, and so must its twin, so
#: that ``pytest.raises`` sees the error (``websocket = connect(...)`` alone opens
#: the connection on first use).
AWAITED_OPENERS = frozenset({"open_ws", "connect", "unix_connect"})


def eager_opens(source: str, names: frozenset[str] = AWAITED_OPENERS) -> str:
    """Rewrite ``await f(...)`` into ``await f(...).connect()`` for ``f`` in ``names``.

    The ``await`` is removed afterwards with every other one.
    """
    offsets = _offsets(source)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    inserts: list[int] = []
    for index, tok in enumerate(tokens[:-2]):
        if not (
            tok.string == "await"
            and tokens[index + 1].string in names
            and tokens[index + 2].string == "("
        ):
            continue
        depth = 0
        for closing in tokens[index + 2 :]:
            if closing.string in "([{" and closing.type == tokenize.OP:
                depth += 1
            elif closing.string in ")]}" and closing.type == tokenize.OP:
                depth -= 1
                if depth == 0:
                    inserts.append(offsets[closing.end[0]] + closing.end[1])
                    break
    for position in sorted(inserts, reverse=True):
        source = source[:position] + ".connect()" + source[position:]
    return source


def generate_module(source: str, name: str) -> str:
    """The threading twin of the asyncio module ``name``, without its header.

    Args:
        source: The asyncio module's text.
        name: Its file name, the key of :data:`OMIT` and :data:`TWINS`.
    """
    text = omit_definitions(source, OMIT.get(name, ()))
    if name.startswith("test_"):
        text = eager_opens(text)
    text = unasync_source(text)
    text = apply_twins(text, TWINS.get(name, ()), name)
    return tidy_imports(text)


def ruff_format(text: str, path: Path) -> str:
    """Format ``text`` as ``ruff format`` would format the file ``filename``.

    Removing ``await`` shortens lines that the formatter would then join; running
    it keeps the generated files as clean as the hand-written ones.

    Raises:
        RuntimeError: ruff is not installed (``pip install ruff``) or failed.
    """
    # Sort and merge imports first (renamed modules may now be one), then format.
    filename = str(path)
    for command in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        completed = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--stdin-filename", filename, "-"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"ruff failed on the generated {filename}; install the lint group "
                f"(pip install ruff): {completed.stderr.strip()}"
            )
        text = completed.stdout
    return text


def generate(files: Mapping[Path, Path] | None = None) -> dict[Path, str]:
    """The expected text of every generated file."""
    mapping = FILES if files is None else files
    result: dict[Path, str] = {}
    for source, destination in mapping.items():
        text = generate_module(source.read_text(encoding="utf-8"), source.name)
        relative = source.relative_to(ROOT) if source.is_relative_to(ROOT) else source
        header = HEADER.format(source=relative.as_posix())
        if source.name.startswith("test_"):
            # Removing "async" leaves nested "with" blocks and comprehensions
            # that a person would have written differently; they are correct.
            header += "# ruff: noqa: SIM117, C416, RUF100\n"
        text = header + text
        result[destination] = ruff_format(text, destination)
    return result


def _stale(expected: Mapping[Path, str]) -> Iterable[tuple[Path, str]]:
    for path, text in expected.items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{path} (on disk)",
                tofile=f"{path} (generated)",
            )
            yield path, "".join(diff)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if generated files are stale"
    )
    args = parser.parse_args(argv)
    expected = generate()
    stale = list(_stale(expected))
    if args.check:
        for path, diff in stale:
            print(f"unasync: {path} is stale", file=sys.stderr)
            print(diff, file=sys.stderr)
        if stale:
            print("unasync: run `python tools/unasync.py` and commit", file=sys.stderr)
            return 1
        print(f"unasync: {len(expected)} generated files are current")
        return 0
    for path, _ in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path], encoding="utf-8")
        print(f"unasync: wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
