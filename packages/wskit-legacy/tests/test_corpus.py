"""Legacy programs run on the shim, then after the codemod on wskit.asyncio.

Each program in ``corpus/`` runs against a recording server:

1. as written, with its import swapped to ``wskit.legacy``: it must behave as
   expected and warn exactly the legacy spellings it uses, each pointing at the
   program's own file;
2. after the codemod, on wskit.asyncio: no warning at all, the same result and
   the same server observations (headers, messages, close codes, connections).
   Programs using spellings that the codemod must not rewrite get the manual
   fixes listed here, after the codemod listed exactly those spellings and
   pointed the program at the shim; a second run of the codemod then finishes.

Together the programs use every row of the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wskit.asyncio.client
import wskit.legacy.client
from testing.asyncio_run import async_test
from testing.legacy_corpus import ProgramRun, run_program, swap_import
from testing.recording_server import recording_server
from wskit.legacy.codemod import rewrite_source
from wskit.legacy.deprecation import LegacyDeprecationWarning, reset_warnings
from wskit.legacy.renames import RENAMES, Kind

CORPUS = Path(__file__).parent / "corpus"

_MESSAGES = {row.message: row for row in RENAMES}


@dataclasses.dataclass(frozen=True)
class Case:
    """What one program must do.

    Attributes:
        warns: The legacy names it must warn about on the shim.
        result: What ``main()`` returns.
        imports: The import rows it exercises (seen by the codemod only).
        findings: Legacy names the codemod must list instead of rewriting.
        fixes: ``(old, new)`` replacements a human applies after the codemod.
        reject_first: Handshakes the server refuses with 503 first.
    """

    warns: frozenset[str]
    result: Any
    imports: frozenset[str] = frozenset({"websockets"})
    findings: tuple[str, ...] = ()
    fixes: tuple[tuple[str, str], ...] = ()
    reject_first: int = 0


CASES: dict[str, Case] = {
    "echo_basic": Case(frozenset(), ["hello", True, None]),
    "extra_headers": Case(frozenset({"extra_headers"}), ["Bearer secret", "corpus"]),
    "handshake_headers": Case(
        frozenset({"extra_headers", "request_headers", "response_headers"}),
        ["abc", "websocket", True, "abc"],
    ),
    "path_attribute": Case(frozenset({"path"}), "/echo?room=7"),
    "open_closed": Case(
        frozenset({"open", "closed"}), [True, "still open", False, True]
    ),
    "close_timeout": Case(frozenset({"timeout"}), ["bye", 5, 1000]),
    "loop_read_limit": Case(
        frozenset({"loop", "read_limit"}), ["message 0", "message 1", "message 2"]
    ),
    "create_protocol": Case(
        frozenset({"WebSocketClientProtocol", "create_protocol"}),
        ["CountingProtocol", 2],
    ),
    "klass": Case(
        frozenset({"WebSocketClientProtocol", "klass"}),
        "tagged",
        imports=frozenset({"websockets.client"}),
    ),
    "invalid_status_code": Case(
        frozenset({"InvalidStatusCode", "status_code", "headers"}),
        [403, "testing"],
        imports=frozenset({"websockets", "websockets.exceptions"}),
    ),
    "exceptions_module": Case(
        frozenset({"InvalidStatusCode", "status_code"}),
        [["error", 4000, "custom"], ["ok", 1000], 500],
    ),
    "client_module": Case(
        frozenset(),
        ["message 0", "message 1", "message 2", "message 3", 1000],
        imports=frozenset({"websockets.client", "websockets.exceptions"}),
    ),
    "reconnect": Case(
        frozenset(),
        ["connection 1", "connection 2", "connection 3"],
        reject_first=2,
    ),
    "protocol_error_alias": Case(
        frozenset({"WebSocketProtocolError"}),
        ["fatal", "server rejected WebSocket connection: HTTP 404"],
    ),
    "annotated_handler": Case(
        frozenset({"WebSocketClientProtocol", "closed"}),
        ["message 0", "message 1"],
    ),
    "host_port_secure": Case(
        frozenset({"host", "port", "secure"}),
        ["127.0.0.1", "PORT", False],
        findings=("host", "port", "secure"),
        fixes=(
            ("websocket.host", "websocket.remote_address[0]"),
            ("websocket.port", "websocket.remote_address[1]"),
            ("websocket.secure", 'base_uri.startswith("wss:")'),
        ),
    ),
    "ensure_open": Case(
        frozenset({"ensure_open"}),
        "checked",
        findings=("ensure_open",),
        fixes=(("await websocket.ensure_open()", "assert websocket.state"),),
    ),
    "legacy_recv": Case(
        frozenset({"legacy_recv"}),
        ["message 0", "message 1", "message 2"],
        findings=("legacy_recv=",),
        fixes=(
            (", legacy_recv=True", ""),
            (
                "            message = await websocket.recv()\n",
                "            try:\n"
                "                message = await websocket.recv()\n"
                "            except websockets.ConnectionClosed:\n"
                "                message = None\n",
            ),
        ),
    ),
}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Reconnect at once in both APIs, so that no test waits on a timer."""
    for name in ("BACKOFF_INITIAL", "BACKOFF_MIN", "BACKOFF_MAX"):
        monkeypatch.setattr(wskit.legacy.client.connect, name, 0.0)
    monkeypatch.setattr(wskit.legacy.client.connect, "BACKOFF_FACTOR", 2.0)
    for name in (
        "BACKOFF_INITIAL_DELAY",
        "BACKOFF_MIN_DELAY",
        "BACKOFF_MAX_DELAY",
    ):
        monkeypatch.setattr(wskit.asyncio.client, name, 0.0)
    reset_warnings()
    yield
    reset_warnings()


def _expected_result(case: Case, port: int) -> Any:
    if isinstance(case.result, list):
        return [port if item == "PORT" else item for item in case.result]
    return case.result


async def _run(
    name: str, source: str, case: Case
) -> tuple[ProgramRun, dict[str, Any], int]:
    async with recording_server(reject_first=case.reject_first) as server:
        run = await run_program(
            source, CORPUS / f"{name}.py", f"ws://127.0.0.1:{server.port}"
        )
        return run, server.observations(), server.port


def _without_ports(observations: dict[str, Any]) -> dict[str, Any]:
    # Each run has its own server, hence its own port in the Host header.
    requests = [
        {key: value for key, value in request.items() if key != "host"}
        for request in observations["requests"]
    ]
    return {**observations, "requests": requests}


@pytest.mark.parametrize("name", sorted(CASES))
@async_test
async def test_runs_on_the_shim_with_its_warnings(name: str) -> None:
    case = CASES[name]
    source = swap_import((CORPUS / f"{name}.py").read_text())
    run, _, port = await _run(name, source, case)
    assert run.result == _expected_result(case, port)
    warned = set()
    for warning in run.warnings:
        assert issubclass(warning.category, LegacyDeprecationWarning), warning
        assert warning.filename == str(CORPUS / f"{name}.py"), warning
        row = _MESSAGES[str(warning.message)]
        assert "deprecated since wskit 0.1.0" in str(warning.message)
        warned.add(row.legacy)
    assert warned == case.warns
    # Once per call site: no line warns twice about the same spelling.
    sites = [(str(w.message), w.lineno) for w in run.warnings]
    assert len(sites) == len(set(sites))


@pytest.mark.parametrize("name", sorted(CASES))
@async_test
async def test_runs_on_wskit_asyncio_after_the_codemod(name: str) -> None:
    case = CASES[name]
    original = (CORPUS / f"{name}.py").read_text()
    result = rewrite_source(original, f"{name}.py")
    # The swapped program (import wskit.legacy as websockets) migrates the same.
    assert rewrite_source(swap_import(original)).source == result.source
    assert tuple(finding.legacy for finding in result.findings) == case.findings
    migrated = result.source
    if case.findings:
        # Left for a human: meanwhile the program imports the shim. After the
        # fixes, a second run finishes the migration.
        assert "import wskit.legacy as websockets" in migrated
        half_run, _, _ = await _run(name, migrated, case)
        reset_warnings()
        assert {_MESSAGES[str(w.message)].legacy for w in half_run.warnings} == {
            finding.rstrip("=") for finding in case.findings
        }
        for old, new in case.fixes:
            assert old in migrated
            migrated = migrated.replace(old, new)
        second = rewrite_source(migrated, f"{name}.py")
        assert second.findings == ()
        migrated = second.source
    assert "wskit.legacy" not in migrated
    assert "import websockets" not in migrated

    _, legacy_seen, _ = await _run(name, swap_import(original), case)
    new_run, new_seen, port = await _run(name, migrated, case)
    assert new_run.warnings == []
    assert new_run.result == _expected_result(case, port)
    assert _without_ports(new_seen) == _without_ports(legacy_seen)


def test_corpus_covers_every_row() -> None:
    assert len(CASES) >= 15
    assert {path.stem for path in CORPUS.glob("*.py")} == set(CASES)
    warned = set().union(*(case.warns for case in CASES.values()))
    imported = set().union(*(case.imports for case in CASES.values()))
    for row in RENAMES:
        if row.kind is Kind.IMPORT:
            assert row.legacy in imported, row
        else:
            assert row.legacy in warned, row


@pytest.mark.parametrize("name", sorted(CASES))
def test_import_rows_are_what_the_program_imports(name: str) -> None:
    source = (CORPUS / f"{name}.py").read_text()
    modules = set()
    for line in source.splitlines():
        if line == "import websockets":
            modules.add("websockets")
        elif line.startswith("from websockets"):
            modules.add(line.split()[1])
    if "websockets.exceptions." in source:
        modules.add("websockets.exceptions")
    if "websockets.client." in source:
        modules.add("websockets.client")
    assert modules >= CASES[name].imports
