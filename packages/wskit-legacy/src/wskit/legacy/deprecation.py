"""Deprecation warnings for legacy spellings: once per call site, at the caller.

Each legacy spelling warns once per call site: per (spelling, file, line) of the
user code that used it. A loop that reads ``websocket.request_headers`` a million
times warns once, while every line that still needs migrating is reported, even
under the default warning filters that would otherwise show only the first one per
module. The registry is process-wide; :func:`reset_warnings` clears it (tests use
it to observe the warnings of a program run twice).

Warnings point at the user's line (``stacklevel``), so that ``python -W error``
shows the line to change, and name the new spelling with the version (see
:attr:`wskit.legacy.renames.Rename.message`).
"""

from __future__ import annotations

import sys
import threading
import warnings

from .renames import Kind, lookup

__all__ = ["LegacyDeprecationWarning", "reset_warnings", "warn_legacy"]


class LegacyDeprecationWarning(DeprecationWarning):
    """A legacy websockets spelling was used; the message names its replacement.

    A subclass, so that an application can silence or escalate exactly these
    warnings: ``-W error::wskit.legacy.LegacyDeprecationWarning``.
    """


_seen: set[tuple[Kind, str, str, int]] = set()
_lock = threading.Lock()


def reset_warnings() -> None:
    """Forget which call sites were warned about, so that they warn again."""
    with _lock:
        _seen.clear()


def warn_legacy(kind: Kind, legacy: str, *, stacklevel: int = 2) -> None:
    """Warn that legacy code used ``legacy``, once per call site.

    Args:
        kind: The kind of spelling, as in :data:`~wskit.legacy.renames.RENAMES`.
        legacy: The legacy name.
        stacklevel: As for :func:`warnings.warn` called in place of this function:
            ``2`` blames the caller of the function that calls this one.

    Raises:
        KeyError: The table has no row for the spelling (a bug in the shim).
    """
    row = lookup(kind, legacy)
    try:
        frame = sys._getframe(stacklevel)
    except ValueError:  # pragma: no cover - called from the top of the stack
        filename, lineno = "<unknown>", 0
    else:
        filename, lineno = frame.f_code.co_filename, frame.f_lineno
    key = (kind, legacy, filename, lineno)
    with _lock:
        if key in _seen:
            return
        _seen.add(key)
    warnings.warn(row.message, LegacyDeprecationWarning, stacklevel=stacklevel + 1)
