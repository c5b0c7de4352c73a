"""Rewrite code from the legacy websockets API to wskit.asyncio.

Run it on files or directories::

    python -m wskit.legacy.codemod [--diff] PATH...

It rewrites the imports (``import websockets``, ``import wskit.legacy as
websockets``, ``from websockets.client import connect``,
``websockets.exceptions.X``), the keyword arguments of ``connect()``, the legacy
attributes and exceptions, as :data:`wskit.legacy.renames.RENAMES` says. What it
cannot rewrite safely stays as it was and is listed as ``path:line:column:
spelling: what to do``; such a file imports ``wskit.legacy`` (which accepts the
new spellings too) instead of ``wskit.asyncio``, so that it keeps running, and
every later run lists what remains. Once a human has fixed the listed lines, the
next run switches the import to ``wskit.asyncio``.

Exit status: 0 when nothing is left for a human, 1 when something is listed,
2 when a path cannot be read or parsed (or on a usage error). With ``--diff``,
files are left alone and a unified diff is printed instead.

Running it twice changes nothing the second time.
"""

from __future__ import annotations

import warnings

# libcst 1.0 builds a TypedDict with mypy_extensions, which warns on import; that
# is no concern of the code being migrated, and must not fail a run under -W error.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message="mypy_extensions.TypedDict is deprecated",
        category=DeprecationWarning,
    )
    import libcst  # noqa: F401

from .cli import main
from .transform import Finding, Result, rewrite_source

__all__ = ["Finding", "Result", "main", "rewrite_source"]
