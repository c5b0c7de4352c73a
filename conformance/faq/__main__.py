"""Command line of the FAQ matrix.

Usage::

    python -m conformance.faq [--backend NAME ...] [--question SLUG ...] [--json PATH]
    python -m conformance.faq generate           # write docs/faq/generated/
    python -m conformance.faq generate --check   # exit 1 if stale

Running the matrix exits 1 when a cell failed (skipped cells do not count).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .backends import BACKENDS, DEFAULT_BACKENDS
from .generate import GenerationError, generate
from .harness import DEFAULT_TIMEOUT, Status
from .matrix import run_matrix
from .report import render_markdown, render_text, write_json

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["generate"]:
        parser = argparse.ArgumentParser(
            prog="python -m conformance.faq generate",
            description="Write the FAQ's rule-translated programs, or check them.",
        )
        parser.add_argument(
            "--check", action="store_true", help="exit 1 if a generated file is stale"
        )
        options = parser.parse_args(arguments[1:])
        return generate(check=options.check)

    parser = argparse.ArgumentParser(
        prog="python -m conformance.faq",
        description="Run every FAQ answer on every backend against a live server.",
        epilog="'python -m conformance.faq generate [--check]' writes (or checks) "
        "the translated programs that the docs include.",
    )
    parser.add_argument(
        "--backend",
        action="append",
        choices=sorted(BACKENDS),
        help=f"backend to run (repeatable; default: {', '.join(DEFAULT_BACKENDS)})",
    )
    parser.add_argument(
        "--question", action="append", help="question slug to run (repeatable)"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--markdown", type=Path, help="also write a Markdown summary")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"bound on each wait, in seconds (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--jobs", type=int, help="scenarios run at once")
    options = parser.parse_args(arguments)
    try:
        results = run_matrix(
            options.backend,
            options.question,
            timeout=options.timeout,
            jobs=options.jobs,
        )
    except (GenerationError, KeyError) as exc:
        print(f"faq: {exc}", file=sys.stderr)
        return 2
    print(render_text(results), end="")
    if options.json is not None:
        write_json(results, options.json)
    if options.markdown is not None:
        options.markdown.parent.mkdir(parents=True, exist_ok=True)
        options.markdown.write_text(render_markdown(results), encoding="utf-8")
    return 1 if any(r.status is Status.FAILED for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
