"""The one table of legacy spellings and their replacements.

Everything that tells a user how to migrate reads this table, so the runtime
warnings, the codemod (:mod:`wskit.legacy.codemod`) and the migration guide
(:func:`render_table`) cannot disagree:

- the shim warns with :attr:`Rename.message` when legacy code uses a row's legacy
  spelling (rows of kind :attr:`Kind.IMPORT` only exist in source code: the shim
  cannot see them, the codemod rewrites them);
- the codemod rewrites the rows marked :attr:`Rename.codemod_safe` and lists the
  others with their file and line;
- the docs render the table with :func:`render_table`.

Code that translates in the other direction (new spelling -> legacy spelling, as
the FAQ generator does to show the legacy tab of an answer) uses
:func:`new_to_legacy`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "DEPRECATED_SINCE",
    "RENAMES",
    "Kind",
    "Rename",
    "legacy_to_new",
    "lookup",
    "new_to_legacy",
    "render_table",
]

DEPRECATED_SINCE = "0.1.0"
"""The wskit version from which every legacy spelling is deprecated."""


class Kind(enum.Enum):
    """Where a legacy spelling appears in user code."""

    KEYWORD = "keyword argument"
    """A keyword argument of ``connect()`` or ``unix_connect()``."""
    ATTRIBUTE = "attribute"
    """An attribute or method of the connection."""
    CLASS = "class"
    """A class exported by the legacy package."""
    EXCEPTION = "exception"
    """An exception class."""
    EXCEPTION_ATTRIBUTE = "exception attribute"
    """An attribute of a legacy exception."""
    IMPORT = "import"
    """A module path in an import statement or a dotted name."""


@dataclass(frozen=True)
class Rename:
    """One legacy spelling and what replaces it.

    Attributes:
        legacy: The legacy spelling, e.g. ``extra_headers``.
        new: The spelling in :mod:`wskit.asyncio`, e.g. ``additional_headers``;
            ``None`` when the legacy spelling goes away without a replacement.
        kind: Where the spelling appears.
        note: What changes besides the name, for the migration guide.
        codemod_safe: Whether the codemod may rewrite it mechanically. When
            ``False`` it lists each use for a human to migrate.
        needs_proof: The codemod rewrites it only where it can prove the
            rewrite right: ``open``, ``path``, ``headers`` on an object it can
            tell is a connection (or the exception), ``create_protocol`` for a
            compatible subclass; it lists the other uses.
    """

    legacy: str
    new: str | None
    kind: Kind
    note: str
    codemod_safe: bool
    needs_proof: bool = False

    @property
    def warns(self) -> bool:
        """Whether the shim warns at run time; imports are only seen by the codemod."""
        return self.kind is not Kind.IMPORT

    @property
    def new_spelling(self) -> str:
        """The replacement as the messages and the docs write it."""
        if self.new is None:
            return "(removed)"
        if self.kind is Kind.KEYWORD:
            return f"{self.new}="
        return self.new

    @property
    def legacy_spelling(self) -> str:
        """The legacy spelling as the messages and the docs write it."""
        if self.kind is Kind.KEYWORD:
            return f"{self.legacy}="
        return self.legacy

    @property
    def message(self) -> str:
        """The text of the ``DeprecationWarning`` for this spelling.

        It names the new spelling and the version, so that the warning alone tells
        what to write instead.
        """
        where = f"{self.kind.value} {self.legacy_spelling}"
        if self.new is None:
            instead = "remove it"
        else:
            instead = f"use {self.new_spelling} (wskit.asyncio)"
        return (
            f"legacy {where} is deprecated since wskit {DEPRECATED_SINCE}; "
            f"{instead}: {self.note}"
        )


RENAMES: tuple[Rename, ...] = (
    # connect() and unix_connect() keyword arguments.
    Rename(
        "extra_headers",
        "additional_headers",
        Kind.KEYWORD,
        "same values: a Headers, a mapping or (name, value) pairs",
        codemod_safe=True,
    ),
    Rename(
        "timeout",
        "close_timeout",
        Kind.KEYWORD,
        "ignored when close_timeout is also given",
        codemod_safe=True,
    ),
    Rename(
        "create_protocol",
        "create_connection",
        Kind.KEYWORD,
        "takes a ClientConnection subclass; rewritten only for a subclass "
        "defined in the same file that keeps the base __init__ signature",
        codemod_safe=True,
        needs_proof=True,
    ),
    Rename(
        "klass",
        "create_connection",
        Kind.KEYWORD,
        "older name of create_protocol; same conditions",
        codemod_safe=True,
        needs_proof=True,
    ),
    Rename(
        "loop",
        None,
        Kind.KEYWORD,
        "the running event loop is always used",
        codemod_safe=True,
    ),
    Rename(
        "read_limit",
        None,
        Kind.KEYWORD,
        "bytes go straight to the protocol; max_queue bounds incoming data",
        codemod_safe=True,
    ),
    Rename(
        "legacy_recv",
        None,
        Kind.KEYWORD,
        "recv() raises ConnectionClosed instead of returning None once closed; "
        "catch it where the code tested for None",
        codemod_safe=False,
    ),
    # Connection attributes.
    Rename(
        "request_headers",
        "request.headers",
        Kind.ATTRIBUTE,
        "the handshake request is kept whole in request",
        codemod_safe=True,
    ),
    Rename(
        "response_headers",
        "response.headers",
        Kind.ATTRIBUTE,
        "the handshake response is kept whole in response",
        codemod_safe=True,
    ),
    Rename(
        "path",
        "request.path",
        Kind.ATTRIBUTE,
        "the request target, path and query",
        codemod_safe=True,
        needs_proof=True,
    ),
    Rename(
        "open",
        "state is State.OPEN",
        Kind.ATTRIBUTE,
        "prefer handling ConnectionClosed to testing the state",
        codemod_safe=True,
        needs_proof=True,
    ),
    Rename(
        "closed",
        "state is State.CLOSED",
        Kind.ATTRIBUTE,
        "or await wait_closed()",
        codemod_safe=True,
        needs_proof=True,
    ),
    Rename(
        "host",
        "remote_address[0]",
        Kind.ATTRIBUTE,
        "host was the URI's host name, remote_address[0] is the peer's IP address",
        codemod_safe=False,
    ),
    Rename(
        "port",
        "remote_address[1]",
        Kind.ATTRIBUTE,
        "port was the URI's port, remote_address[1] is the peer's port",
        codemod_safe=False,
    ),
    Rename(
        "secure",
        None,
        Kind.ATTRIBUTE,
        "the connection uses TLS exactly when the URI starts with wss://",
        codemod_safe=False,
    ),
    Rename(
        "ensure_open",
        None,
        Kind.ATTRIBUTE,
        "send() and recv() raise ConnectionClosed; handle that instead",
        codemod_safe=False,
    ),
    # Classes and exceptions.
    Rename(
        "WebSocketClientProtocol",
        "ClientConnection",
        Kind.CLASS,
        "subclasses receive the sans-I/O protocol and keyword options in __init__",
        codemod_safe=True,
    ),
    Rename(
        "InvalidStatusCode",
        "InvalidStatus",
        Kind.EXCEPTION,
        "the whole HTTP response is in exc.response",
        codemod_safe=True,
    ),
    Rename(
        "WebSocketProtocolError",
        "ProtocolError",
        Kind.EXCEPTION,
        "same exception",
        codemod_safe=True,
    ),
    Rename(
        "status_code",
        "response.status_code",
        Kind.EXCEPTION_ATTRIBUTE,
        "on InvalidStatusCode, which became InvalidStatus",
        codemod_safe=True,
        needs_proof=True,
    ),
    Rename(
        "headers",
        "response.headers",
        Kind.EXCEPTION_ATTRIBUTE,
        "on InvalidStatusCode, which became InvalidStatus",
        codemod_safe=True,
        needs_proof=True,
    ),
    # Imports: only the codemod sees these.
    Rename(
        "websockets",
        "wskit.asyncio",
        Kind.IMPORT,
        "import wskit.asyncio as websockets keeps qualified names working",
        codemod_safe=True,
    ),
    Rename(
        "websockets.client",
        "wskit.asyncio",
        Kind.IMPORT,
        "connect, unix_connect and ClientConnection live in wskit.asyncio",
        codemod_safe=True,
    ),
    Rename(
        "websockets.exceptions",
        "wskit.asyncio",
        Kind.IMPORT,
        "wskit.asyncio re-exports every exception",
        codemod_safe=True,
    ),
)
"""Every legacy spelling the shim accepts, in the order of the migration guide."""

# One row per (kind, legacy name), so that lookup() is unambiguous; a test checks
# that no row is shadowed.
_INDEX: Mapping[tuple[Kind, str], Rename] = {
    (row.kind, row.legacy): row for row in RENAMES
}


def lookup(kind: Kind, legacy: str) -> Rename:
    """Return the row for a legacy spelling.

    Args:
        kind: Where the spelling appears.
        legacy: The legacy name, without ``=`` for keyword arguments.

    Returns:
        The row.

    Raises:
        KeyError: The table has no such row; add one before warning about it.
    """
    return _INDEX[kind, legacy]


def _selected(kinds: Iterable[Kind] | None) -> list[Rename]:
    wanted = set(Kind) if kinds is None else set(kinds)
    return [row for row in RENAMES if row.kind in wanted]


def legacy_to_new(kinds: Iterable[Kind] | None = None) -> dict[str, str]:
    """Map legacy names to new spellings: ``extra_headers`` -> ``additional_headers``.

    Rows without a replacement are left out.

    Args:
        kinds: Keep only these kinds; ``None`` keeps all.

    Returns:
        A new dict; when two kinds share a legacy name (``headers`` is only an
        exception attribute today), the first row wins.
    """
    result: dict[str, str] = {}
    for row in _selected(kinds):
        if row.new is not None:
            result.setdefault(row.legacy, row.new)
    return result


def new_to_legacy(kinds: Iterable[Kind] | None = None) -> dict[str, str]:
    """Map new spellings to legacy names: ``request.headers`` -> ``request_headers``.

    This is the direction in which documentation shows the legacy variant of a
    modern example. When several legacy names share a new spelling
    (``create_protocol`` and ``klass`` both became ``create_connection``), the row
    listed first in :data:`RENAMES` (the newer legacy name) wins. Rows that only
    need a proof of type (``open``, ``path``) are included: a reader of the result
    applies them to connections only.

    Args:
        kinds: Keep only these kinds; ``None`` keeps all.

    Returns:
        A new dict.
    """
    result: dict[str, str] = {}
    for row in _selected(kinds):
        if row.new is not None:
            result.setdefault(row.new, row.legacy)
    return result


def _cell(text: str) -> str:
    return f"``{text}``" if text != "(removed)" else "*(removed)*"


def render_table(fmt: str = "rst", rows: Iterable[Rename] = RENAMES) -> str:
    """Render the table for the migration guide.

    Args:
        fmt: ``"rst"`` (a ``list-table`` directive) or ``"markdown"``.
        rows: The rows to render, by default all of them.

    Returns:
        The table, ending with a newline.

    Raises:
        ValueError: ``fmt`` is neither ``"rst"`` nor ``"markdown"``.
    """
    header = ("Legacy spelling", "New spelling", "Kind", "Codemod", "Note")
    body = [
        (
            row.legacy_spelling,
            row.new_spelling,
            row.kind.value,
            ("yes, where provable" if row.needs_proof else "yes")
            if row.codemod_safe
            else "no, listed",
            row.note,
        )
        for row in rows
    ]
    if fmt == "rst":
        lines = [
            ".. list-table:: Legacy spellings and their replacements",
            "   :header-rows: 1",
            "",
        ]
        for cells in [header, *body]:
            first = True
            for index, cell in enumerate(cells):
                if cells is not header and index < 2:
                    cell = _cell(cell)
                prefix = "   * - " if first else "     - "
                lines.append(prefix + cell)
                first = False
        return "\n".join(lines) + "\n"
    if fmt == "markdown":

        def escape(text: str) -> str:
            return text.replace("|", "\\|")

        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        for cells in body:
            shown = [
                f"`{cell}`" if index < 2 and cell != "(removed)" else cell
                for index, cell in enumerate(cells)
            ]
            lines.append("| " + " | ".join(escape(cell) for cell in shown) + " |")
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown table format {fmt!r}; use 'rst' or 'markdown'")
