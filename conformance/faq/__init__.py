"""The client FAQ matrix: every answer of ``docs/faq/client.rst`` on every backend.

Programs are extracted from the FAQ (:mod:`.extract`), translated by rule into
their threading and legacy spellings (:mod:`.translate`, written to
``docs/faq/generated/`` by :mod:`.generate`), and run as subprocesses against a
live local server (:mod:`.server`) by one scenario per question
(:mod:`.scenarios`), which asserts what the server observed.

Command line: ``python -m conformance.faq --help``.
"""

from __future__ import annotations

from .backends import BACKENDS, DEFAULT_BACKENDS, Backend
from .extract import ExtractionError, FaqSource, extract
from .generate import GenerationError, generate
from .harness import Result, Status
from .matrix import run_matrix
from .report import render_html_rows, render_markdown, render_text, summary, write_json

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKENDS",
    "Backend",
    "ExtractionError",
    "FaqSource",
    "GenerationError",
    "Result",
    "Status",
    "extract",
    "generate",
    "render_html_rows",
    "render_markdown",
    "render_text",
    "run_matrix",
    "summary",
    "write_json",
]
