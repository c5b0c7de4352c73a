"""Real runs: subprocesses against a live server, on the reference backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.faq.backends import BACKENDS, Backend, availability
from conformance.faq.extract import parse
from conformance.faq.harness import Result, Status, run_scenario
from conformance.faq.matrix import run_matrix
from conformance.faq.report import render_html_rows, render_markdown, render_text
from conformance.faq.scenarios import SCENARIOS

from .faq_samples import minimal_faq

REFERENCE = "websockets.asyncio"


def test_scenario_passes_on_the_reference_backend() -> None:
    (result,) = run_matrix([REFERENCE], ["access-headers"], jobs=1)
    assert result.status is Status.PASSED, result.reason
    assert result.backend == REFERENCE
    assert any("faq-server/1.0" in detail for detail in result.details)


def test_scenario_fails_when_the_program_breaks_the_promise(tmp_path: Path) -> None:
    broken = minimal_faq().replace('headers["Server"]', 'headers["Upgrade"]')
    source = parse(broken, tmp_path / "client.rst")
    result = run_scenario(
        source, SCENARIOS["access-headers"], BACKENDS[REFERENCE], tmp_path
    )
    assert result.status is Status.FAILED
    assert "response Server 'faq-server/1.0'" in result.reason
    assert "'websocket'" in result.reason  # what the program printed instead


def test_missing_placeholder_fails_with_a_clear_message(tmp_path: Path) -> None:
    moved = minimal_faq().replace("ws://example.com/", "ws://example.org/")
    source = parse(moved, tmp_path / "client.rst")
    result = run_scenario(
        source, SCENARIOS["access-headers"], BACKENDS[REFERENCE], tmp_path
    )
    assert result.status is Status.FAILED
    assert (
        "placeholder 'ws://example.com/' is not in faq-access-headers" in result.reason
    )


def test_backend_without_its_module_is_skipped_with_the_reason() -> None:
    ghost = Backend("ghost", "asyncio", {"wskit.asyncio": "conformance.faq.no_such"})
    unavailable = availability(ghost)
    assert unavailable is not None
    assert not unavailable.failed
    assert unavailable.reason == "conformance.faq.no_such is not installed"


def test_backend_without_connect_is_skipped_with_the_reason() -> None:
    stub = Backend("stub", "asyncio", {"wskit.asyncio": "conformance.faq.standins"})
    assert availability(stub) == (
        False,
        "conformance.faq.standins has no connect() yet",
    )


def test_backend_that_fails_to_import_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "faq_broken_backend.py").write_text(
        "raise ImportError('half-written module')\n", encoding="utf-8"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    broken = Backend("broken", "asyncio", {"wskit.asyncio": "faq_broken_backend"})
    unavailable = availability(broken)
    assert unavailable is not None
    assert unavailable.failed
    assert unavailable.reason == (
        "faq_broken_backend fails to import: ImportError: half-written module"
    )


def test_reference_backend_is_available() -> None:
    assert availability(BACKENDS[REFERENCE]) is None


def test_renderers_show_every_cell_and_every_reason() -> None:
    results = [
        Result("a", "Question A?", "one", Status.PASSED, details=("checked",)),
        Result("a", "Question A?", "two", Status.FAILED, "server saw <nothing>"),
        Result("b", "Question B | pipe?", "one", Status.SKIPPED, "not yet"),
    ]
    text = render_text(results)
    assert "1 passed, 1 failed, 1 skipped" in text
    assert "a on two: failed\n  server saw <nothing>" in text
    assert "one: 1 skipped: not yet" in text
    markdown = render_markdown(results)
    assert "| Question | `one` | `two` |" in markdown
    assert "| [Question B \\| pipe?](#faq-b) | skipped | - |" in markdown
    assert "server saw <nothing>" in markdown
    assert "- `one`: 1 skipped: not yet" in markdown
    rows = render_html_rows(results)
    assert rows.count("<tr") == 3
    assert 'class="faq-failed" title="server saw &lt;nothing&gt;"' in rows
    assert 'title="checked"' in rows
