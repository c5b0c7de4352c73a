"""Render FAQ matrix results: terminal text, Markdown, HTML table rows, JSON.

Rows are questions in FAQ order, columns are backends in the order run. Every
failed or skipped cell's reason is listed under the table: a matrix that says
"failed" without saying what the server saw would send readers to the logs.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from .harness import Result, Status

__all__ = [
    "render_html_rows",
    "render_markdown",
    "render_text",
    "summary",
    "write_json",
]

_MARK = {Status.PASSED: "passed", Status.FAILED: "FAILED", Status.SKIPPED: "skipped"}


_Grid = tuple[list[str], list[tuple[str, str]], dict[tuple[str, str], Result]]


def _grid(results: Sequence[Result]) -> _Grid:
    backends: list[str] = []
    questions: list[tuple[str, str]] = []
    cells: dict[tuple[str, str], Result] = {}
    for result in results:
        if result.backend not in backends:
            backends.append(result.backend)
        if (result.question, result.title) not in questions:
            questions.append((result.question, result.title))
        cells[(result.question, result.backend)] = result
    return backends, questions, cells


def summary(results: Sequence[Result]) -> str:
    """One line: how many cells passed, failed, were skipped."""
    counts = dict.fromkeys(Status, 0)
    for result in results:
        counts[result.status] += 1
    return (
        f"{counts[Status.PASSED]} passed, {counts[Status.FAILED]} failed, "
        f"{counts[Status.SKIPPED]} skipped"
    )


def _failures(results: Sequence[Result]) -> list[Result]:
    return [result for result in results if result.status is Status.FAILED]


def _skips(results: Sequence[Result]) -> list[tuple[str, str, int]]:
    """(backend, reason, cells) for skipped cells, one line per backend and reason:
    a backend that is not written yet skips every question for the same reason."""
    counts: dict[tuple[str, str], int] = {}
    for result in results:
        if result.status is Status.SKIPPED:
            key = (result.backend, result.reason)
            counts[key] = counts.get(key, 0) + 1
    return [(backend, reason, n) for (backend, reason), n in counts.items()]


def render_text(results: Sequence[Result]) -> str:
    """A plain-text matrix for the terminal, then the reasons."""
    backends, questions, cells = _grid(results)
    width = max([len(slug) for slug, _ in questions] + [8])
    columns = [max(len(name), 7) for name in backends]
    lines = [
        " " * width
        + "  "
        + "  ".join(n.ljust(c) for n, c in zip(backends, columns, strict=True))
    ]
    for slug, _ in questions:
        row = [
            (_MARK[cells[(slug, name)].status] if (slug, name) in cells else "-").ljust(
                c
            )
            for name, c in zip(backends, columns, strict=True)
        ]
        lines.append(slug.ljust(width) + "  " + "  ".join(row).rstrip())
    lines.append("")
    lines.append(summary(results))
    for backend, reason, count in _skips(results):
        lines.append(f"{backend}: {count} skipped: {reason}")
    for result in _failures(results):
        lines.append("")
        lines.append(f"{result.question} on {result.backend}: {result.status.value}")
        lines.extend("  " + line for line in result.reason.splitlines())
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Sequence[Result]) -> str:
    """The matrix as a Markdown table, then the reasons for each non-pass."""
    backends, questions, cells = _grid(results)
    lines = [
        "| Question | " + " | ".join(f"`{name}`" for name in backends) + " |",
        "|---|" + "---|" * len(backends),
    ]
    for slug, title in questions:
        row = [
            _MARK[cells[(slug, name)].status] if (slug, name) in cells else "-"
            for name in backends
        ]
        lines.append(f"| [{_md(title)}](#faq-{slug}) | " + " | ".join(row) + " |")
    lines.append("")
    lines.append(f"FAQ matrix: {summary(results)}.")
    skips = _skips(results)
    if skips:
        lines.append("")
        for backend, reason, count in skips:
            lines.append(f"- `{backend}`: {count} skipped: {_md(reason)}")
    failures = _failures(results)
    if failures:
        lines.append("")
        for result in failures:
            first, *rest = result.reason.splitlines() or [""]
            lines.append(
                f"- **{_md(result.title)}** on `{result.backend}` "
                f"({result.status.value}): {_md(first)}"
            )
            if rest:  # standard error of the program: keep it verbatim
                lines.extend(["", "  ```", *("  " + line for line in rest), "  ```"])
    return "\n".join(lines) + "\n"


def render_html_rows(results: Sequence[Result]) -> str:
    """The matrix as HTML ``<tr>`` rows (a header row first), for a ``<table>``.

    Each cell has the class ``faq-passed``, ``faq-failed`` or ``faq-skipped`` and
    the reason, or what was checked, as its ``title``.
    """
    backends, questions, cells = _grid(results)
    esc = html.escape
    rows = [
        "<tr><th>Question</th>"
        + "".join(f"<th><code>{esc(name)}</code></th>" for name in backends)
        + "</tr>"
    ]
    for slug, title in questions:
        parts = [f'<tr id="faq-matrix-{esc(slug)}"><th scope="row">{esc(title)}</th>']
        for name in backends:
            result = cells.get((slug, name))
            if result is None:
                parts.append("<td></td>")
                continue
            hover = result.reason or "\n".join(result.details)
            parts.append(
                f'<td class="faq-{result.status.value}" title="{esc(hover)}">'
                f"{esc(result.status.value)}</td>"
            )
        parts.append("</tr>")
        rows.append("".join(parts))
    return "\n".join(rows) + "\n"


def write_json(results: Sequence[Result], path: Path) -> None:
    """Write the results as a JSON list of cells."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps([result.to_json() for result in results], indent=2) + "\n",
        encoding="utf-8",
    )
