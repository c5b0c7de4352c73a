"""The codemod: each rewrite, what it leaves and lists, idempotence, the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wskit.legacy.codemod import main, rewrite_source
from wskit.legacy.codemod.cli import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS

CORPUS = Path(__file__).parent / "corpus"


def rewrite(source: str) -> tuple[str, list[str]]:
    result = rewrite_source(textwrap.dedent(source), "t.py")
    compile(result.source, "t.py", "exec")
    return result.source, [f"{f.line}:{f.legacy}" for f in result.findings]


# Imports.


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("import websockets\n", "import wskit.asyncio as websockets\n"),
        ("import wskit.legacy as websockets\n", "import wskit.asyncio as websockets\n"),
        ("import websockets as ws\n", "import wskit.asyncio as ws\n"),
        (
            "import websockets.exceptions\n",
            "import wskit.asyncio as websockets\n",
        ),
        ("import json, websockets\n", "import json, wskit.asyncio as websockets\n"),
        ("from websockets import connect\n", "from wskit.asyncio import connect\n"),
        (
            "from websockets.client import connect\n",
            "from wskit.asyncio import connect\n",
        ),
        (
            "from wskit.legacy.client import connect\n",
            "from wskit.asyncio import connect\n",
        ),
        (
            "from websockets.exceptions import InvalidStatusCode, ConnectionClosed\n",
            "from wskit.asyncio import ConnectionClosed, InvalidStatus\n",
        ),
        (
            "from websockets.exceptions import InvalidStatusCode as Refused\n",
            "from wskit.asyncio import InvalidStatus as Refused\n",
        ),
        (
            "from websockets.legacy.client import WebSocketClientProtocol\n",
            "from wskit.asyncio import ClientConnection\n",
        ),
    ],
)
def test_imports(before: str, after: str) -> None:
    assert rewrite(before) == (after, [])


def test_qualified_names_drop_the_submodule() -> None:
    source, findings = rewrite(
        """
        import websockets
        E = (websockets.exceptions.InvalidStatusCode, websockets.client.connect)
        F = websockets.exceptions.WebSocketProtocolError
        """
    )
    assert "E = (websockets.InvalidStatus, websockets.connect)" in source
    assert "F = websockets.ProtocolError" in source
    assert findings == []


def test_renamed_imported_names_follow_their_import() -> None:
    source, _ = rewrite(
        """
        from websockets.client import WebSocketClientProtocol
        from websockets.exceptions import InvalidStatusCode

        class P(WebSocketClientProtocol):
            pass

        def f(x: WebSocketClientProtocol) -> None:
            try:
                pass
            except InvalidStatusCode:
                pass
        """
    )
    assert "class P(ClientConnection):" in source
    assert "def f(x: ClientConnection)" in source
    assert "except InvalidStatus:" in source


def test_names_missing_from_wskit_asyncio_are_listed() -> None:
    source, findings = rewrite(
        """
        import websockets
        from websockets import serve, connect
        websockets.serve
        """
    )
    assert "from websockets import serve, connect" in source
    assert findings == ["3:from websockets import", "4:websockets.serve"]


def test_unaliased_shim_import_is_listed() -> None:
    source, findings = rewrite("import wskit.legacy\n")
    assert source == "import wskit.legacy\n"
    assert findings == ["1:wskit.legacy"]


def test_star_import_is_listed() -> None:
    assert rewrite("from websockets import *\n")[1] == ["1:import *"]


def test_other_code_is_left_alone() -> None:
    source = "import json\nf = open('x')\nprint(f.closed, json.loads('1'))\n"
    result = rewrite_source(source)
    assert result.source == source
    assert not result.changed
    assert result.findings == ()


# connect() arguments.


def test_keyword_arguments() -> None:
    source, findings = rewrite(
        """
        import websockets
        async def main():
            ws = await websockets.connect(
                "ws://x", extra_headers=h, timeout=3, loop=loop, read_limit=9,
            )
        """
    )
    assert (
        'await websockets.connect(\n        "ws://x", additional_headers=h, '
        "close_timeout=3,\n    )"
    ) in source
    assert findings == []


def test_timeout_is_dropped_when_close_timeout_is_given() -> None:
    source, _ = rewrite(
        """
        from websockets import connect
        c = connect("ws://x", timeout=3, close_timeout=4, loop=None)
        """
    )
    assert 'c = connect("ws://x", close_timeout=4)' in source


def test_duplicate_headers_are_listed() -> None:
    _, findings = rewrite(
        """
        import websockets
        websockets.connect("ws://x", extra_headers=a, additional_headers=b)
        """
    )
    assert findings == ["3:extra_headers="]


def test_create_protocol_safe_subclass() -> None:
    source, findings = rewrite(
        """
        import websockets
        class P(websockets.WebSocketClientProtocol):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
        class Q(websockets.WebSocketClientProtocol):
            pass
        a = websockets.connect("ws://x", create_protocol=P)
        b = websockets.connect("ws://x", klass=Q)
        """
    )
    assert 'a = websockets.connect("ws://x", create_connection=P)' in source
    assert 'b = websockets.connect("ws://x", create_connection=Q)' in source
    assert findings == []


def test_create_protocol_unsafe_is_listed() -> None:
    source, findings = rewrite(
        """
        import functools
        import websockets
        class P(websockets.WebSocketClientProtocol):
            def __init__(self, token, **kwargs):
                super().__init__(**kwargs)
        a = websockets.connect("ws://x", create_protocol=P)
        b = websockets.connect("ws://x", create_protocol=functools.partial(P, 1))
        c = websockets.connect("ws://x", legacy_recv=True, **options)
        """
    )
    assert "create_protocol=P)" in source
    assert "legacy_recv=True" in source
    assert findings == [
        "7:create_protocol=",
        "8:create_protocol=",
        "9:legacy_recv=",
        "9:**kwargs",
    ]


# Attributes.


def test_handshake_headers_on_any_object() -> None:
    source, _ = rewrite(
        """
        import websockets
        def f(anything):
            return anything.request_headers, anything.conn.response_headers
        """
    )
    assert "anything.request.headers, anything.conn.response.headers" in source


def test_state_with_module_alias() -> None:
    source, findings = rewrite(
        """
        import websockets
        async def main():
            async with websockets.connect("ws://x") as ws:
                if ws.open and not ws.closed:
                    pass
                flags = [ws.open == True, ws.closed]
        """
    )
    assert (
        "if ws.state is websockets.State.OPEN and "
        "ws.state is not websockets.State.CLOSED:"
    ) in source
    assert "(ws.state is websockets.State.OPEN) == True" in source
    assert findings == []


def test_state_import_is_added() -> None:
    source, _ = rewrite(
        """
        from websockets.client import connect
        async def main():
            ws = await connect("ws://x")
            return ws.closed, ws.path
        """
    )
    assert "\nfrom wskit.asyncio import State, connect\n" in source
    assert "return ws.state is State.CLOSED, ws.request.path" in source


def test_state_import_is_added_after_imports() -> None:
    source, _ = rewrite(
        """
        import asyncio
        from websockets.client import connect as open_ws
        async def main():
            async for ws in open_ws("ws://x"):
                return ws.open
        """
    )
    assert "from wskit.asyncio import State, connect as open_ws\n" in source


def test_ambiguous_names_are_listed_not_rewritten() -> None:
    source, findings = rewrite(
        """
        import websockets
        async def main():
            ws = await websockets.connect("ws://x")
            print(ws.open)
            ws = open("file")
            print(ws.closed, other.closed)
        """
    )
    assert "print(ws.open)" in source
    assert "print(ws.closed, other.closed)" in source
    assert findings == ["5:open", "7:closed"]


def test_unsafe_attributes_are_listed() -> None:
    source, findings = rewrite(
        """
        import websockets
        async def main():
            async with websockets.connect("ws://x") as ws:
                await ws.ensure_open()
                print(ws.host, ws.port, ws.secure)
        """
    )
    assert "print(ws.host, ws.port, ws.secure)" in source
    assert findings == ["5:ensure_open", "6:host", "6:port", "6:secure"]


def test_exception_attributes_in_their_handler() -> None:
    source, findings = rewrite(
        """
        import websockets
        async def main():
            try:
                pass
            except websockets.exceptions.InvalidStatusCode as exc:
                print(exc.status_code, exc.headers)
            except OSError as exc:
                print(exc.headers)
            print(response.status_code)
        """
    )
    assert "print(exc.response.status_code, exc.response.headers)" in source
    assert "print(exc.headers)" in source
    assert "print(response.status_code)" in source
    assert findings == []


# Idempotence.


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.py")), ids=lambda p: p.stem)
def test_idempotent_on_the_corpus(path: Path) -> None:
    first = rewrite_source(path.read_text(), str(path))
    assert first.changed
    second = rewrite_source(first.source, str(path))
    assert second.source == first.source
    assert not second.changed


def test_idempotent_with_findings() -> None:
    source = "import websockets\nfrom websockets import serve\nws.open\n"
    first = rewrite_source(source)
    second = rewrite_source(first.source)
    assert second.source == first.source
    assert [f.legacy for f in second.findings] == [f.legacy for f in first.findings]


# Command line.


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_cli_diff_does_not_write(tmp_path: Path) -> None:
    file = tmp_path / "app.py"
    file.write_text("import websockets\n")
    status, out, err = run_cli("--diff", str(file))
    assert status == EXIT_CLEAN
    assert "-import websockets\n+import wskit.asyncio as websockets\n" in out
    assert "would rewrite 1 file(s)" in err
    assert file.read_text() == "import websockets\n"


def test_cli_writes_and_lists(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    clean = tmp_path / "pkg" / "clean.py"
    clean.write_text("from websockets import connect\n")
    unsafe = tmp_path / "unsafe.py"
    unsafe.write_text("import websockets\nws = await_it()\nx = websockets.serve\n")
    status, out, err = run_cli(str(tmp_path))
    assert status == EXIT_FINDINGS
    assert clean.read_text() == "from wskit.asyncio import connect\n"
    assert f"{unsafe}:3:5: websockets.serve: " in out
    assert "rewrote 2 file(s)" in err
    # The second run changes nothing and lists the same.
    status, out2, err = run_cli(str(tmp_path))
    assert status == EXIT_FINDINGS
    assert out2 == out
    assert "rewrote 0 file(s)" in err


def test_cli_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import websockets\ndef (:\n")
    status, _, err = run_cli(str(broken))
    assert status == EXIT_ERROR
    assert "cannot parse" in err
    status, _, err = run_cli(str(tmp_path / "missing.py"))
    assert status == EXIT_ERROR
    assert "cannot read" in err
    assert run_cli()[0] == EXIT_ERROR


def test_python_dash_m(tmp_path: Path) -> None:
    file = tmp_path / "app.py"
    file.write_text("import websockets\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    completed = subprocess.run(
        [sys.executable, "-m", "wskit.legacy.codemod", "--diff", str(file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == EXIT_CLEAN, completed.stderr
    assert "+import wskit.asyncio as websockets" in completed.stdout
