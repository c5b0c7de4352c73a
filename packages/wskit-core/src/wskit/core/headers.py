"""HTTP headers: the container, outgoing validation, and the WebSocket header grammars.

:class:`Headers` follows the websockets library's ``Headers`` so code written for it
keeps working: names are case-insensitive, a name may carry several values, and
assignment *appends*, because HTTP allows repeated fields and the handshake must be
able to send and receive them.

Two directions, two policies:

- Headers the caller asks to send go through :func:`validate_outgoing`, which refuses
  anything that could end a header line early (CR, LF), confuse a peer (NUL, other
  controls), or depend on an unspecified charset (non-ASCII).
- Headers received from the server were already checked against RFC 7230 by the
  response parser; their values may hold obs-text, decoded as ISO-8859-1 so that the
  original bytes can always be recovered. The ``parse_*`` functions below turn the
  values that the handshake cares about into Python values, raising
  :exc:`~wskit.core.exceptions.InvalidHeaderFormat` with the position of the error.
"""

from __future__ import annotations

import base64
import re
from collections.abc import (
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from typing import TypeVar

from .exceptions import InvalidHeaderFormat, UnsafeHeader
from .extensions.base import ExtensionName, ExtensionParameter

__all__ = [
    "ExtensionHeader",
    "Headers",
    "HeadersLike",
    "MultipleValuesError",
    "build_authorization_basic",
    "build_extension",
    "build_subprotocol",
    "parse_connection",
    "parse_extension",
    "parse_subprotocol",
    "parse_upgrade",
    "validate_outgoing",
    "validate_outgoing_all",
    "validate_subprotocols",
]

T = TypeVar("T")

# RFC 7230 section 3.2.6: token = 1*tchar.
_TOKEN_RE = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")

# What may be sent in a header value: printable ASCII and HTAB (RFC 7230 section
# 3.2: field-vchar without obs-text). Everything else is reported by position.
_UNSAFE_VALUE_RE = re.compile(r"[^\t\x20-\x7e]")

# RFC 7230 section 3.2.3: OWS = *( SP / HTAB ).
_OWS_RE = re.compile(r"[\t ]*")

# RFC 7230 section 3.2.6: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE.
_QUOTED_STRING_RE = re.compile(
    r'"(?:[\x09\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\x09\x20-\x7e\x80-\xff])*"'
)
_UNQUOTE_RE = re.compile(r"\\([\x09\x20-\x7e\x80-\xff])")

# RFC 7230 section 6.7: protocol = protocol-name ["/" protocol-version].
_PROTOCOL_RE = re.compile(
    r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+(?:/[-!#$%&'*+.^_`|~0-9a-zA-Z]+)?"
)

ExtensionHeader = tuple[ExtensionName, list[ExtensionParameter]]
"""An extension offered or accepted: its name and its parameters, in order."""


class MultipleValuesError(LookupError):
    """A header read as a single value has several.

    Reading such a header with ``headers[name]`` would silently pick one value,
    which for security-relevant headers (``Sec-WebSocket-Accept``) is the wrong
    answer. Use :meth:`Headers.get_all` where repetition is legitimate.

    Args:
        name: The header name.
        count: How many values it has.
    """

    def __init__(self, name: str, count: int = 2) -> None:
        self.name = name
        self.count = count
        super().__init__(name)

    def __str__(self) -> str:
        return (
            f"header {self.name!r} has {self.count} values; "
            f"read them with get_all({self.name!r})"
        )


class Headers(MutableMapping[str, str]):
    """A case-insensitive multi-dict of HTTP headers that keeps order and case.

    ``headers[name] = value`` appends a value, ``del headers[name]`` removes every
    value, and ``headers[name]`` returns the only value or raises
    :exc:`MultipleValuesError`. Iteration yields each distinct name once, spelt as
    it first appeared; :meth:`raw_items` yields every ``(name, value)`` pair in
    order.

    Args:
        *args: At most one :class:`Headers`, mapping, or iterable of pairs.
        **kwargs: More headers, as ``name=value``.

    Raises:
        TypeError: More than one positional argument, or a name or value that is
            not a ``str``.
    """

    __slots__ = ("_case", "_checked", "_dict", "_list")

    def __init__(self, *args: HeadersLike, **kwargs: str) -> None:
        self._list: list[tuple[str, str]] = []
        # Lower-case name -> values in order, and -> spelling of the first one.
        self._dict: dict[str, list[str]] = {}
        self._case: dict[str, str] = {}
        # Set by validate_outgoing_all() once every header passed; any change
        # clears it.
        self._checked = False
        if args or kwargs:
            self.update(*args, **kwargs)

    def __str__(self) -> str:
        return "".join([f"{name}: {value}\r\n" for name, value in self._list]) + "\r\n"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"

    def serialize(self) -> bytes:
        """Render the header block, blank line included, as bytes.

        Values are encoded as ISO-8859-1, the inverse of how the response parser
        decodes them, so received headers round-trip byte for byte.

        Returns:
            ``Name: value\\r\\n`` for each pair, then ``\\r\\n``.
        """
        return str(self).encode("iso-8859-1")

    def copy(self) -> Headers:
        """Return an independent copy."""
        return type(self)(self._list)

    # Mapping interface.

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._case.values())

    def __len__(self) -> int:
        return len(self._dict)

    def __getitem__(self, name: str) -> str:
        values = self._dict[name.lower()]
        if len(values) > 1:
            raise MultipleValuesError(name, len(values))
        return values[0]

    def __setitem__(self, name: str, value: str) -> None:
        # Untyped callers often pass numbers; say so here rather than on the wire.
        # (Annotated as object, not cast(): cast() is a function call at run time.)
        name_obj: object = name
        value_obj: object = value
        if not isinstance(name_obj, str) or not isinstance(value_obj, str):
            raise TypeError(
                f"header names and values must be str, not {type(name).__name__} "
                f"and {type(value).__name__}; convert them with str()"
            )
        self._append(name, value)

    @classmethod
    def _from_pairs(cls, pairs: list[tuple[str, str]]) -> Headers:
        # For callers that know every name and value is a str; takes the list.
        headers = cls()
        headers._list = pairs
        values_of = headers._dict
        case = headers._case
        for name, value in pairs:
            key = name.lower()
            values = values_of.get(key)
            if values is None:
                values_of[key] = [value]
                case[key] = name
            else:
                values.append(value)
        return headers

    def _append(self, name: str, value: str) -> None:
        # For callers that know both are str, e.g. the response parser.
        key = name.lower()
        values = self._dict.get(key)
        if values is None:
            self._dict[key] = [value]
            self._case[key] = name
        else:
            values.append(value)
        self._list.append((name, value))
        self._checked = False

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        del self._dict[key]
        del self._case[key]
        self._list = [pair for pair in self._list if pair[0].lower() != key]
        self._checked = False

    def __eq__(self, other: object) -> bool:
        # Order between different names carries no meaning in HTTP; order among
        # the values of one name does (RFC 7230 section 3.2.2).
        if not isinstance(other, Headers):
            return NotImplemented
        return self._dict == other._dict

    __hash__ = None  # type: ignore[assignment]

    def clear(self) -> None:
        """Remove every header."""
        self._list.clear()
        self._checked = False
        self._dict.clear()
        self._case.clear()

    def update(self, *args: HeadersLike, **kwargs: str) -> None:  # type: ignore[override]
        """Append headers, keeping every value (unlike :meth:`dict.update`).

        Args:
            *args: At most one :class:`Headers`, mapping, or iterable of pairs.
            **kwargs: More headers, as ``name=value``.

        Raises:
            TypeError: More than one positional argument, a ``str`` or ``bytes``
                where pairs were expected, or a name or value that is not a ``str``.
        """
        if len(args) > 1:
            raise TypeError(f"update expected at most 1 argument, got {len(args)}")
        for arg in args:
            pairs: Iterable[tuple[str, str]]
            arg_obj: object = arg
            if isinstance(arg, Headers):
                pairs = arg.raw_items()
            elif isinstance(arg, Mapping):
                pairs = arg.items()
            elif isinstance(arg_obj, (str, bytes)):
                raise TypeError(
                    "headers must be a mapping or an iterable of (name, value) "
                    "pairs, not a string"
                )
            else:
                pairs = arg
            for name, value in list(pairs):
                self[name] = value
        for name, value in kwargs.items():
            self[name] = value

    # Multi-value interface.

    def get_all(self, name: str) -> list[str]:
        """Return every value of a header, in order; ``[]`` when it is absent.

        Args:
            name: The header name, in any case.

        Returns:
            A new list; changing it does not change the headers.
        """
        return list(self._dict.get(name.lower(), ()))

    def raw_items(self) -> Iterator[tuple[str, str]]:
        """Yield every ``(name, value)`` pair in order, names spelt as given."""
        return iter(list(self._list))


HeadersLike = Headers | Mapping[str, str] | Iterable[tuple[str, str]]
"""Anything :class:`Headers` accepts: headers, a mapping, or ``(name, value)`` pairs."""


def validate_outgoing(name: str, value: str) -> None:
    """Refuse a header that would be unsafe or ambiguous on the wire.

    A CR or LF would end the line and let the rest of the value inject headers
    or a body; NUL and other controls are rejected by many servers; non-ASCII has
    no agreed encoding in HTTP/1.1 (RFC 7230 section 3.2.4 deprecates obs-text),
    so the caller must encode it, e.g. by percent-encoding or RFC 8187. Nothing
    else is rejected: leading or trailing spaces are legal and left alone.

    Args:
        name: The header name; must be an HTTP token (RFC 7230 section 3.2.6).
        value: The header value; only printable ASCII and horizontal tab.

    Raises:
        UnsafeHeader: The name is not a token, or the value holds a character
            outside printable ASCII and HTAB.
    """
    name_obj: object = name
    value_obj: object = value
    if not isinstance(name_obj, str) or _TOKEN_RE.fullmatch(name) is None:
        raise UnsafeHeader(
            str(name),
            str(value),
            "the name isn't an HTTP token (RFC 7230 section 3.2.6); it may "
            "contain only letters, digits and !#$%&'*+-.^_`|~",
        )
    if not isinstance(value_obj, str):
        raise UnsafeHeader(
            name, str(value), f"the value is a {type(value).__name__}, not a str"
        )
    match = _UNSAFE_VALUE_RE.search(value)
    if match is None:
        return
    char, pos = match.group(), match.start()
    if char == "\r" or char == "\n":
        what = "CR" if char == "\r" else "LF"
        msg = (
            f"the value contains {what} at position {pos}, which would end the "
            "header line and let the rest inject headers"
        )
    elif char == "\x00":
        msg = f"the value contains NUL at position {pos}"
    elif char < "\x80":
        msg = f"the value contains the control character {char!r} at position {pos}"
    else:
        msg = (
            f"the value contains the non-ASCII character {char!r} at position "
            f"{pos}; HTTP header values must be ASCII"
        )
    raise UnsafeHeader(name, value, msg)


def validate_outgoing_all(headers: Headers) -> None:
    """Apply :func:`validate_outgoing` to every header.

    The characters that each check allows do not depend on their neighbours, so
    all names, then all values, are checked at once; only when that finds a
    problem does each header go through :func:`validate_outgoing`, which reports
    it precisely.

    Args:
        headers: The headers to send.

    Raises:
        UnsafeHeader: As :func:`validate_outgoing`, for the first bad header.
    """
    if headers._checked:
        return  # unchanged since it passed: the request builder checked it
    pairs = headers._list
    if not pairs:
        return
    name_list = [name for name, _ in pairs]
    try:
        names = "".join(name_list)
        values = "".join([value for _, value in pairs])
    except TypeError:
        names = values = "\n"  # a name or value is not a str: check one by one
    if (
        "" in name_list
        or _TOKEN_RE.fullmatch(names) is None
        or _UNSAFE_VALUE_RE.search(values) is not None
    ):
        for name, value in list(pairs):
            validate_outgoing(name, value)
    headers._checked = True


# Parsers for received header values. Each takes the whole value and a position,
# and returns what it parsed with the position after it.


def _peek(header: str, pos: int) -> str | None:
    return None if pos == len(header) else header[pos]


def _parse_ows(header: str, pos: int) -> int:
    # The regex always matches, possibly the empty string.
    match = _OWS_RE.match(header, pos)
    assert match is not None
    return match.end()


def _parse_token(header: str, pos: int, name: str) -> tuple[str, int]:
    match = _TOKEN_RE.match(header, pos)
    if match is None:
        raise InvalidHeaderFormat(name, "expected token", header, pos)
    return match.group(), match.end()


def _parse_quoted_string(header: str, pos: int, name: str) -> tuple[str, int]:
    match = _QUOTED_STRING_RE.match(header, pos)
    if match is None:
        raise InvalidHeaderFormat(name, "expected quoted string", header, pos)
    return _UNQUOTE_RE.sub(r"\1", match.group()[1:-1]), match.end()


def _parse_list(
    parse_item: Callable[[str, int, str], tuple[T, int]],
    header: str,
    name: str,
) -> list[T]:
    # RFC 7230 section 7: 1#element, where "a recipient MUST parse and ignore a
    # reasonable number of empty list elements", hence the loops over commas.
    pos = _parse_ows(header, 0)
    while _peek(header, pos) == ",":
        pos = _parse_ows(header, pos + 1)
    items: list[T] = []
    while True:
        item, pos = parse_item(header, pos, name)
        items.append(item)
        pos = _parse_ows(header, pos)
        if pos == len(header):
            return items
        if _peek(header, pos) != ",":
            raise InvalidHeaderFormat(name, "expected comma", header, pos)
        while _peek(header, pos) == ",":
            pos = _parse_ows(header, pos + 1)
        if pos == len(header):
            return items


def parse_connection(value: str) -> list[str]:
    """Parse a ``Connection`` header value (RFC 7230 section 6.1).

    Args:
        value: One value of the header; callers combine repeated headers.

    Returns:
        The connection options, as sent (compare them case-insensitively).

    Raises:
        InvalidHeaderFormat: The value is not a comma-separated list of tokens.
    """
    # A single token, the usual "Upgrade", is the whole list.
    if _TOKEN_RE.fullmatch(value) is not None:
        return [value]
    return _parse_list(_parse_token, value, "Connection")


def _parse_protocol(header: str, pos: int, name: str) -> tuple[str, int]:
    match = _PROTOCOL_RE.match(header, pos)
    if match is None:
        raise InvalidHeaderFormat(name, "expected protocol", header, pos)
    return match.group(), match.end()


def parse_upgrade(value: str) -> list[str]:
    """Parse an ``Upgrade`` header value (RFC 7230 section 6.7).

    Args:
        value: One value of the header.

    Returns:
        The protocols, each ``name`` or ``name/version``, as sent.

    Raises:
        InvalidHeaderFormat: The value is not a comma-separated list of protocols.
    """
    # A single protocol, the usual "websocket", is the whole list.
    if _PROTOCOL_RE.fullmatch(value) is not None:
        return [value]
    return _parse_list(_parse_protocol, value, "Upgrade")


def _parse_extension_param(
    header: str, pos: int, name: str
) -> tuple[ExtensionParameter, int]:
    # RFC 6455 section 9.1: extension-param = token [ "=" (token | quoted-string) ]
    param, pos = _parse_token(header, pos, name)
    pos = _parse_ows(header, pos)
    value: str | None = None
    if _peek(header, pos) == "=":
        pos = _parse_ows(header, pos + 1)
        if _peek(header, pos) == '"':
            start = pos
            value, pos = _parse_quoted_string(header, pos, name)
            # RFC 6455 section 9.1: "the value after quoted-string unescaping
            # MUST conform to the 'token' ABNF."
            if _TOKEN_RE.fullmatch(value) is None:
                raise InvalidHeaderFormat(
                    name, "expected token inside quoted string", header, start
                )
        else:
            value, pos = _parse_token(header, pos, name)
        pos = _parse_ows(header, pos)
    return (param, value), pos


def _parse_extension_item(
    header: str, pos: int, name: str
) -> tuple[ExtensionHeader, int]:
    # RFC 6455 section 9.1: extension = extension-token *( ";" extension-param )
    extension, pos = _parse_token(header, pos, name)
    pos = _parse_ows(header, pos)
    params: list[ExtensionParameter] = []
    while _peek(header, pos) == ";":
        pos = _parse_ows(header, pos + 1)
        param, pos = _parse_extension_param(header, pos, name)
        params.append(param)
    return (extension, params), pos


def parse_extension(value: str) -> list[ExtensionHeader]:
    """Parse a ``Sec-WebSocket-Extensions`` header value (RFC 6455 section 9.1).

    Args:
        value: One value of the header.

    Returns:
        ``(name, [(param, value or None), ...])`` for each extension, in order.

    Raises:
        InvalidHeaderFormat: The value does not follow the grammar, including a
            quoted parameter value that is not a token once unquoted.
    """
    return _parse_list(_parse_extension_item, value, "Sec-WebSocket-Extensions")


def _check_token(what: str, value: str) -> None:
    value_obj: object = value
    if not isinstance(value_obj, str) or _TOKEN_RE.fullmatch(value) is None:
        raise ValueError(
            f"{what} {value!r} isn't an HTTP token (RFC 7230 section 3.2.6); it may "
            "contain only letters, digits and !#$%&'*+-.^_`|~"
        )


def build_extension(
    extensions: Sequence[tuple[str, Sequence[ExtensionParameter]]],
) -> str:
    """Render a ``Sec-WebSocket-Extensions`` value; inverse of :func:`parse_extension`.

    Parameter values are written bare: RFC 6455 section 9.1 requires them to be
    tokens even when quoted, so quoting would add nothing.

    Args:
        extensions: ``(name, params)`` for each extension, in order of preference.

    Returns:
        The header value.

    Raises:
        ValueError: A name, parameter name or parameter value is not a token.
    """
    items = []
    for extension, params in extensions:
        _check_token("extension name", extension)
        parts = [extension]
        for param, value in params:
            _check_token(f"parameter name of {extension}", param)
            if value is None:
                parts.append(param)
            else:
                _check_token(f"value of parameter {param} of {extension}", value)
                parts.append(f"{param}={value}")
        items.append("; ".join(parts))
    return ", ".join(items)


def parse_subprotocol(value: str) -> list[str]:
    """Parse a ``Sec-WebSocket-Protocol`` header value (RFC 6455 section 11.3.4).

    Args:
        value: One value of the header.

    Returns:
        The subprotocols, in order.

    Raises:
        InvalidHeaderFormat: The value is not a comma-separated list of tokens.
    """
    return _parse_list(_parse_token, value, "Sec-WebSocket-Protocol")


def validate_subprotocols(subprotocols: Sequence[str]) -> None:
    """Check subprotocols before offering them.

    These are caller faults, so they raise built-in exceptions at once: a ``str``
    would be offered one character at a time, and a non-token such as
    ``"a, b"`` would offer two subprotocols where one was meant.

    Args:
        subprotocols: The subprotocols to offer.

    Raises:
        TypeError: ``subprotocols`` is a ``str`` or not a sequence.
        ValueError: A subprotocol is not an HTTP token.
    """
    if isinstance(subprotocols, (str, bytes)) or not isinstance(subprotocols, Sequence):
        raise TypeError(
            f"subprotocols must be a list of str, not {type(subprotocols).__name__}; "
            "wrap a single subprotocol in a list"
        )
    for subprotocol in subprotocols:
        _check_token("subprotocol", subprotocol)


def build_subprotocol(subprotocols: Sequence[str]) -> str:
    """Render a ``Sec-WebSocket-Protocol`` value; inverse of :func:`parse_subprotocol`.

    Args:
        subprotocols: The subprotocols to offer, in order of preference.

    Returns:
        The header value.

    Raises:
        TypeError: ``subprotocols`` is a ``str`` or not a sequence.
        ValueError: A subprotocol is not an HTTP token.
    """
    validate_subprotocols(subprotocols)
    return ", ".join(subprotocols)


def build_authorization_basic(username: str, password: str) -> str:
    """Render an ``Authorization`` value for HTTP Basic authentication (RFC 7617).

    Credentials are encoded as UTF-8, the charset RFC 7617 section 2.1 lets
    servers announce and the one browsers use.

    Args:
        username: The user name; must not contain ``:``.
        password: The password.

    Returns:
        ``"Basic "`` followed by the base64 credentials.

    Raises:
        ValueError: The user name contains ``:``, which would make the
            credentials ambiguous (RFC 7617 section 2).
    """
    # RFC 7617 section 2: "a user-id containing a colon character is invalid".
    if ":" in username:
        raise ValueError(
            f"user name {username!r} contains ':', which Basic authentication "
            "cannot represent; percent-decoding may have produced it from %3A"
        )
    credentials = f"{username}:{password}".encode("utf-8", "surrogateescape")
    return "Basic " + base64.b64encode(credentials).decode("ascii")
