"""The command line of the codemod: files in, files (or a diff) out, findings listed."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import libcst as cst

from .transform import rewrite_source

__all__ = ["EXIT_CLEAN", "EXIT_ERROR", "EXIT_FINDINGS", "iter_python_files", "main"]

EXIT_CLEAN = 0
"""Everything legacy was rewritten (or there was nothing to rewrite)."""
EXIT_FINDINGS = 1
"""Some legacy spellings were left and listed for a human."""
EXIT_ERROR = 2
"""A path could not be read or parsed, or the command line was wrong."""


def iter_python_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Yield the given files and the ``*.py`` files under the given directories.

    Args:
        paths: Files and directories.

    Returns:
        An iterator of files, directories' contents in sorted order.
    """
    for path in paths:
        if path.is_dir():
            yield from sorted(
                file for file in path.rglob("*.py") if not file.name.startswith(".")
            )
        else:
            yield path


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the codemod.

    Args:
        argv: The arguments, without the program name; defaults to
            ``sys.argv[1:]``.
        stdout: Where diffs and findings go; defaults to ``sys.stdout``.
        stderr: Where errors and the summary go; defaults to ``sys.stderr``.

    Returns:
        :data:`EXIT_CLEAN`, :data:`EXIT_FINDINGS` or :data:`EXIT_ERROR`.
    """
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    parser = argparse.ArgumentParser(
        prog="python -m wskit.legacy.codemod",
        description="Rewrite code from the legacy websockets API to wskit.asyncio.",
    )
    parser.add_argument(
        "--diff",
        action="store_true",
        help="print a unified diff instead of writing the files",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code else EXIT_CLEAN

    status = EXIT_CLEAN
    changed = 0
    for path in iter_python_files(args.paths):
        try:
            source = path.read_text(encoding="utf-8")
            result = rewrite_source(source, str(path))
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{path}: cannot read: {exc}", file=err)
            status = EXIT_ERROR
            continue
        except cst.ParserSyntaxError as exc:
            print(f"{path}: cannot parse: {exc}", file=err)
            status = EXIT_ERROR
            continue
        if result.changed:
            changed += 1
            if args.diff:
                out.writelines(
                    difflib.unified_diff(
                        source.splitlines(keepends=True),
                        result.source.splitlines(keepends=True),
                        fromfile=f"a/{path}",
                        tofile=f"b/{path}",
                    )
                )
            else:
                path.write_text(result.source, encoding="utf-8")
        for finding in result.findings:
            print(finding, file=out)
        if result.findings and status == EXIT_CLEAN:
            status = EXIT_FINDINGS
    verb = "would rewrite" if args.diff else "rewrote"
    print(f"{verb} {changed} file(s)", file=err)
    return status
