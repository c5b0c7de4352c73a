"""Translate the FAQ's asyncio programs into their threading and legacy spellings.

Translations are made by rule so that the three tabs of an answer cannot drift:

- threading: :func:`tools.unasync.unasync_source`, the very rewrite that
  generates :mod:`wskit.threading` from :mod:`wskit.asyncio`, followed by
  :data:`THREADING_RULES` for what only a program (not a library) contains, such
  as ``asyncio.run(main())``.
- legacy: ``from wskit.asyncio import a, b`` becomes ``import wskit.legacy as
  websockets`` with ``a`` and ``b`` qualified as ``websockets.a``, the spelling of
  code written for the legacy websockets API; then :data:`LEGACY_RENAMES`, read
  backwards, turns each new spelling into its legacy name.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Mapping, Sequence

from tools.unasync import unasync_source
from wskit.legacy.renames import Kind, legacy_to_new

__all__ = [
    "LEGACY_MODULE_ALIAS",
    "LEGACY_RENAMES",
    "THREADING_RULES",
    "TranslationError",
    "to_legacy",
    "to_threading",
    "translate",
]


class TranslationError(Exception):
    """A program uses a construct that no rule translates.

    Write that variant by hand in the FAQ (``:class: hand-translated``) or extend
    the rules.
    """


THREADING_RULES: Sequence[tuple[str, str]] = (
    # A blocking program calls its entry point directly.
    (r"(?m)^asyncio\.run\((\w+)\(\)\)$", r"\1()"),
)
"""Regular expression rules applied after ``unasync_source``: (pattern, repl)."""

LEGACY_RENAMES: Mapping[str, str] = legacy_to_new([Kind.KEYWORD, Kind.ATTRIBUTE])
"""Legacy name -> new spelling, for keyword arguments and connection attributes.

Taken from :mod:`wskit.legacy.renames`, the one table that also drives the shim's
deprecation warnings, its codemod and the migration guide, so the legacy tab of
an answer cannot disagree with them.
"""

LEGACY_MODULE_ALIAS = "websockets"
"""Name under which legacy programs import the legacy package."""

_ASYNCIO_MODULE = "wskit.asyncio"
_LEGACY_MODULE = "wskit.legacy"


def _drop_unused_asyncio_import(source: str) -> str:
    """Remove ``import asyncio`` once no ``asyncio.`` use remains."""
    tree = ast.parse(source)
    used = any(
        isinstance(node, ast.Name) and node.id == "asyncio" for node in ast.walk(tree)
    )
    if used:
        return source
    lines = source.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, ast.Import) and [a.name for a in node.names] == ["asyncio"]:
            del lines[node.lineno - 1]
            break
    return "".join(lines).lstrip("\n")


def _sort_imports(source: str) -> str:
    """Reorder each block of top-level imports as isort (and ruff) would.

    Renaming a module can change its place in the alphabet (``wskit.threading``
    sorts after ``wskit.core``); the rule's output must stay lint-clean. Within a
    block of consecutive import statements, ``import`` statements come first, then
    ``from`` statements, each sorted by module name.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    blocks: list[list[ast.Import | ast.ImportFrom]] = []
    for node in tree.body:
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if blocks and blocks[-1][-1].end_lineno == node.lineno - 1:
            blocks[-1].append(node)
        else:
            blocks.append([node])

    def key(node: ast.Import | ast.ImportFrom) -> tuple[int, str]:
        if isinstance(node, ast.Import):
            return (0, node.names[0].name)
        return (1, node.module or "")

    for block in reversed(blocks):
        first = block[0].lineno - 1
        last = block[-1].end_lineno
        assert last is not None
        texts = {id(node): lines[node.lineno - 1 : node.end_lineno] for node in block}
        ordered = sorted(block, key=key)
        lines[first:last] = [line for node in ordered for line in texts[id(node)]]
    return "".join(lines)


def to_threading(source: str) -> str:
    """The threading spelling of an asyncio program.

    Args:
        source: A complete asyncio program importing from ``wskit.asyncio``.

    Raises:
        TranslationError: The result still awaits something or runs an event loop.

    Returns:
        The program for ``wskit.threading``.
    """
    result = unasync_source(source)
    for pattern, replacement in THREADING_RULES:
        result = re.sub(pattern, replacement, result)
    result = _sort_imports(_drop_unused_asyncio_import(result))
    tree = ast.parse(result)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "asyncio"
        ):
            raise TranslationError(
                f"line {node.lineno}: asyncio.{node.attr} has no threading rule; "
                "write the threading program by hand (:class: hand-translated)"
            )
    return result


def to_legacy(source: str, renames: Mapping[str, str] = LEGACY_RENAMES) -> str:
    """The legacy spelling of an asyncio program.

    Args:
        source: A complete asyncio program importing from ``wskit.asyncio``.
        renames: Legacy name -> new spelling; applied from new to legacy.

    Raises:
        TranslationError: An import form that the rule does not handle (``as``,
            ``import wskit.asyncio``), or the program already uses the name
            ``websockets``.

    Returns:
        The program for ``wskit.legacy``.
    """
    tree = ast.parse(source)
    imported: set[str] = set()
    spans: list[tuple[int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == LEGACY_MODULE_ALIAS:
            raise TranslationError(
                f"line {node.lineno}: the program already uses the name "
                f"{LEGACY_MODULE_ALIAS!r}"
            )
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == _ASYNCIO_MODULE:
                    raise TranslationError(
                        f"line {node.lineno}: write 'from {_ASYNCIO_MODULE} import "
                        "...' so that the legacy rule can rewrite it"
                    )
        if isinstance(node, ast.ImportFrom) and node.module == _ASYNCIO_MODULE:
            for alias in node.names:
                if alias.asname is not None:
                    raise TranslationError(
                        f"line {node.lineno}: 'import {alias.name} as "
                        f"{alias.asname}' has no legacy rule"
                    )
                imported.add(alias.name)
            assert node.end_lineno is not None
            spans.append((node.lineno, node.end_lineno))
    if not spans:
        raise TranslationError(f"the program does not import from {_ASYNCIO_MODULE}")

    # Qualify the imported names: a NAME token not preceded by a dot, outside the
    # import statements themselves.
    lines = source.splitlines(keepends=True)
    offsets = [0, 0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    skip = {row for first, last in spans for row in range(first, last + 1)}
    edits: list[tuple[int, int, str]] = []
    previous: tokenize.TokenInfo | None = None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if (
            token.type == tokenize.NAME
            and token.string in imported
            and token.start[0] not in skip
            and not (previous is not None and previous.string == ".")
        ):
            start = offsets[token.start[0]] + token.start[1]
            edits.append((start, start, f"{LEGACY_MODULE_ALIAS}."))
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token
    result = source
    for start, end, text in sorted(edits, reverse=True):
        result = result[:start] + text + result[end:]

    # Replace the import statements (their rows did not move: edits are in-line).
    out = result.splitlines(keepends=True)
    for first, last in sorted(spans, reverse=True):
        out[first - 1 : last] = [f"import {_LEGACY_MODULE} as {LEGACY_MODULE_ALIAS}\n"]
    result = "".join(out)

    for legacy, new in renames.items():
        # An attribute path (request.headers) is renamed only as an attribute
        # (websocket.request.headers); a plain name only as a whole identifier.
        before = r"(?<=\.)" if "." in new else r"(?<![\w.])"
        result = re.sub(rf"{before}{re.escape(new)}\b", legacy, result)
    return _sort_imports(result)


def translate(source: str, variant: str) -> str:
    """The ``variant`` spelling of the asyncio program ``source``.

    Raises:
        ValueError: Unknown variant.
        TranslationError: No rule applies.
    """
    if variant == "asyncio":
        return source
    if variant == "threading":
        return to_threading(source)
    if variant == "legacy":
        return to_legacy(source)
    raise ValueError(f"unknown variant {variant!r}; use asyncio, threading or legacy")
