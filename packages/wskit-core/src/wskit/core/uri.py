"""WebSocket URIs (RFC 6455 section 3): parse once, hand the parts to the handshake.

The parser is stricter than :func:`urllib.parse.urlsplit` where leniency would put
something dangerous or surprising on the wire: urllib silently deletes tabs and
newlines, which would hide an injection attempt, and accepts ports and hosts that
cannot be connected to. Internationalized input (an IRI) is converted to a URI as
RFC 3987 section 3.1 describes: the host is IDNA-encoded and non-ASCII characters
elsewhere are percent-encoded as UTF-8, as are the printable ASCII characters that
RFC 3986 does not allow in a URI. Spaces and control characters are refused rather
than encoded: they are almost always a mistake, and urllib would drop some of them
silently.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field

from .exceptions import InvalidURI

__all__ = ["WebSocketURI", "parse_uri"]

# RFC 3986 section 2.2: gen-delims and sub-delims keep their meaning; with "%" they
# are left alone when percent-encoding non-ASCII characters.
_SAFE = ":/?#[]@!$&'()*+,;=%"

# C0 controls, SP and DEL: never valid in a URI (RFC 3986 section 2) and unsafe on
# the request line, where a space or CRLF would split it.
_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f]")

# RFC 3986 section 3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ).
_REG_NAME_RE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]+")

_PORT_RE = re.compile(r"[0-9]+")

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")

# RFC 3986 section 3.2: the authority ends at the next "/", "?" or "#".
_AUTHORITY_RE = re.compile(r"[^/?#]*")

_DEFAULT_PORTS = {False: 80, True: 443}


@dataclass(frozen=True, slots=True)
class WebSocketURI:
    """A parsed ``ws://`` or ``wss://`` URI.

    Attributes:
        secure: ``True`` for ``wss``, which means TLS.
        host: Lower case, IDNA-encoded; an IPv6 address without brackets.
        port: Always set, to the default (80 or 443) when the URI has none.
        path: Percent-encoded; may be empty.
        query: Percent-encoded, without ``?``; may be empty.
        username: Percent-decoded user name from the user information, if any.
        password: Percent-decoded password; set exactly when ``username`` is.
    """

    secure: bool
    host: str
    port: int
    path: str
    query: str
    username: str | None = None
    # Kept out of repr(): a URI shows up in logs and tracebacks.
    password: str | None = field(default=None, repr=False)

    @property
    def resource_name(self) -> str:
        """The request target of the handshake (RFC 6455 section 3): path and query."""
        resource_name = self.path or "/"
        if self.query:
            resource_name += "?" + self.query
        return resource_name

    @property
    def user_info(self) -> tuple[str, str] | None:
        """``(username, password)`` for Basic authentication, or ``None``."""
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password)

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (RFC 7230 section 5.4).

        The port is omitted when it is the scheme's default, and an IPv6 address
        is bracketed (RFC 3986 section 3.2.2), with a zone identifier's ``%``
        escaped as ``%25`` (RFC 6874).
        """
        host = self.host
        if ":" in host:
            host = "[" + host.replace("%", "%25") + "]"
        if self.port != _DEFAULT_PORTS[self.secure]:
            host = f"{host}:{self.port}"
        return host


def _split_authority(uri: str, netloc: str) -> tuple[str | None, str, str]:
    # RFC 3986 section 3.2: authority = [ userinfo "@" ] host [ ":" port ]
    userinfo: str | None
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        userinfo = None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise InvalidURI(uri, "IPv6 address is missing its closing ']'")
        host, rest = hostport[1:end], hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidURI(uri, f"unexpected {rest!r} after the IPv6 address")
        return userinfo, "[" + host + "]", rest[1:]
    host, _, port = hostport.partition(":")
    return userinfo, host, port


def _parse_host(uri: str, raw_host: str) -> str:
    if raw_host.startswith("["):
        literal = urllib.parse.unquote(raw_host[1:-1])
        address, _, zone = literal.partition("%")
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            raise InvalidURI(
                uri, f"{raw_host} isn't a valid IPv6 address in brackets"
            ) from None
        # Zone identifiers name interfaces, whose case may matter (RFC 6874).
        return address.lower() + "%" + zone if zone else address.lower()
    if not raw_host:
        raise InvalidURI(uri, "missing host; write ws://host/path")
    if not raw_host.isascii():
        try:
            raw_host = raw_host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidURI(
                uri,
                f"host {raw_host!r} isn't a valid internationalized domain name",
            ) from None
    if _REG_NAME_RE.fullmatch(raw_host) is None:
        raise InvalidURI(uri, f"host {raw_host!r} contains invalid characters")
    return raw_host.lower()


def _parse_port(uri: str, raw_port: str, secure: bool) -> int:
    # RFC 3986 section 3.2.3: an empty port means the scheme's default.
    if not raw_port:
        return _DEFAULT_PORTS[secure]
    if _PORT_RE.fullmatch(raw_port) is None:
        raise InvalidURI(uri, f"port {raw_port!r} isn't a decimal number")
    digits = raw_port.lstrip("0")
    port = int(digits) if 0 < len(digits) <= 5 else 0
    if not 1 <= port <= 65535:
        raise InvalidURI(uri, f"port {raw_port} isn't between 1 and 65535")
    return port


def _parse_userinfo(uri: str, userinfo: str) -> tuple[str, str]:
    raw_username, colon, raw_password = userinfo.partition(":")
    if not colon:
        # A user name alone cannot make Basic credentials.
        raise InvalidURI(
            uri,
            "user name given without a password; write ws://user:password@host "
            "for Basic authentication",
        )
    try:
        username = urllib.parse.unquote(raw_username, errors="strict")
        password = urllib.parse.unquote(raw_password, errors="strict")
    except UnicodeDecodeError:
        raise InvalidURI(
            uri, "user information contains percent-encoded bytes that aren't UTF-8"
        ) from None
    if ":" in username:
        # RFC 7617 section 2: a user-id containing a colon is invalid.
        raise InvalidURI(uri, "user name contains ':' (%3A), which Basic auth forbids")
    return username, password


def parse_uri(uri: str) -> WebSocketURI:
    """Parse and validate a WebSocket URI.

    Args:
        uri: A ``ws://`` or ``wss://`` URI or IRI.

    Returns:
        The parts of the URI, percent-encoded and IDNA-encoded where needed.

    Raises:
        InvalidURI: The scheme is not ``ws`` or ``wss``, the URI has a fragment,
            the host is missing or invalid, the port is out of range, the user
            information is incomplete, or the URI contains spaces or control
            characters.
    """
    if not isinstance(uri, str):
        raise InvalidURI(repr(uri), f"expected a str, got {type(uri).__name__}")
    if type(uri) is str:
        return _parse_str(uri)
    return _parse_uri(uri)


# Applications connect to the same few URIs again and again; a WebSocketURI is
# immutable, so the result can be shared. Errors are not cached: they are raised
# anew each time.
@functools.lru_cache(maxsize=128)
def _parse_str(uri: str) -> WebSocketURI:
    return _parse_uri(uri)


def _parse_uri(uri: str) -> WebSocketURI:
    match = _FORBIDDEN_RE.search(uri)
    if match is not None:
        char = match.group()
        what = "a space" if char == " " else f"the control character {char!r}"
        raise InvalidURI(
            uri, f"contains {what} at position {match.start()}; percent-encode it"
        )
    # RFC 6455 section 3: "Fragment identifiers are meaningless in the context of
    # WebSocket URIs and MUST NOT be used on these URIs."
    if "#" in uri:
        raise InvalidURI(
            uri, "fragment identifiers aren't allowed; percent-encode '#' as %23"
        )

    # RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ),
    # compared case-insensitively.
    match = _SCHEME_RE.match(uri)
    scheme = match.group(1).lower() if match is not None else ""
    if scheme in ("http", "https"):
        raise InvalidURI(
            uri,
            f"{scheme}:// isn't a WebSocket scheme; "
            f"use {'wss' if scheme == 'https' else 'ws'}:// instead",
        )
    if scheme not in ("ws", "wss"):
        got = f"scheme {scheme!r}" if scheme else "no scheme"
        raise InvalidURI(uri, f"{got}; a WebSocket URI starts with ws:// or wss://")
    secure = scheme == "wss"

    # RFC 6455 section 3: ws-URI = "ws:" "//" host [ ":" port ] path [ "?" query ].
    # The authority is split here rather than by urllib, whose checks of IPv6
    # literals differ between Python versions.
    rest = uri[len(scheme) + 1 :]
    if not rest.startswith("//"):
        raise InvalidURI(uri, f"missing '//' after '{scheme}:'")
    match = _AUTHORITY_RE.match(rest, 2)
    assert match is not None  # the pattern matches the empty string
    rest = rest[match.end() :]
    path, _, raw_query = rest.partition("?")
    userinfo, raw_host, raw_port = _split_authority(uri, match.group())
    host = _parse_host(uri, raw_host)
    port = _parse_port(uri, raw_port, secure)

    username = password = None
    if userinfo is not None:
        username, password = _parse_userinfo(uri, userinfo)

    # RFC 3987 section 3.1: map an IRI to a URI by percent-encoding non-ASCII
    # characters as UTF-8. ASCII characters that RFC 3986 never allows (such as
    # "<>\\^`{|}) are percent-encoded too, as browsers do; reserved characters and
    # existing %XX escapes stay as they are.
    path = urllib.parse.quote(path, safe=_SAFE)
    query = urllib.parse.quote(raw_query, safe=_SAFE)
    return WebSocketURI(secure, host, port, path, query, username, password)
