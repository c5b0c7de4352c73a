"""Proxy settings and the bytes of the proxy handshakes, without I/O.

Which proxy applies follows the websockets library: ``proxy=True`` reads the
environment (``ws_proxy``/``wss_proxy``, ``socks_proxy``, ``https_proxy``,
``http_proxy`` and ``no_proxy``, through :func:`urllib.request.getproxies` and
:func:`urllib.request.proxy_bypass`). HTTP proxies are reached with ``CONNECT``
(RFC 9110 section 9.3.6); SOCKS5 proxies with RFC 1928, and RFC 1929 for a user
name and password. The sockets side lives in each front end's ``network``
module; this part is shared.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import struct
import sys
import urllib.parse
import urllib.request

from .exceptions import InvalidProxy, InvalidProxyMessage
from .headers import Headers, build_authorization_basic
from .uri import WebSocketURI

__all__ = [
    "SOCKS5_ERRORS",
    "Proxy",
    "build_connect_request",
    "build_socks5_connect",
    "build_socks5_greeting",
    "build_socks5_password",
    "environment_proxies",
    "get_proxy",
    "parse_connect_response",
    "parse_proxy",
]

_SCHEMES = ("socks5h", "socks5", "https", "http")


@dataclasses.dataclass(frozen=True)
class Proxy:
    """A parsed proxy address.

    Attributes:
        scheme: ``"socks5h"``, ``"socks5"``, ``"https"`` or ``"http"``.
        host: The proxy's host name or address.
        port: Always set, to the scheme's default when the address has none.
        username: The user name from the address, if any.
        password: The password; set exactly when ``username`` is.
    """

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None


def parse_proxy(proxy: str) -> Proxy:
    """Parse and validate a proxy address such as ``http://user:pass@host:3128``.

    Args:
        proxy: The proxy URL.

    Returns:
        The parsed proxy.

    Raises:
        InvalidProxy: The scheme is not supported or the address is malformed.
    """
    parsed = urllib.parse.urlparse(proxy)
    if parsed.scheme not in _SCHEMES:
        raise InvalidProxy(
            proxy,
            f"scheme {parsed.scheme!r} isn't supported; "
            f"use one of {', '.join(_SCHEMES)}",
        )
    if not parsed.hostname:
        raise InvalidProxy(proxy, "hostname isn't provided")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        raise InvalidProxy(proxy, "a proxy address has no path, query or fragment")
    try:
        port = parsed.port
    except ValueError as exc:
        raise InvalidProxy(proxy, str(exc)) from None
    if port is None:
        port = {"https": 443, "http": 80}.get(parsed.scheme, 1080)
    username, password = parsed.username, parsed.password
    if username is not None:
        if password is None:
            raise InvalidProxy(proxy, "username provided without password")
        username = urllib.parse.unquote(username, errors="strict")
        password = urllib.parse.unquote(password, errors="strict")
    return Proxy(parsed.scheme, parsed.hostname, port, username, password)


# Where urllib.request.getproxies() also reads the system's settings (macOS,
# Windows), it is used as is; elsewhere it reads only the environment, which
# environment_proxies() does several times faster.
_SYSTEM_SETTINGS = sys.platform in ("darwin", "win32") or not os.supports_bytes_environ


def environment_proxies() -> dict[str, str]:
    """The proxies set in the environment, as :func:`urllib.request.getproxies`.

    The same rules as ``urllib.request.getproxies_environment()``: any variable
    named ``<scheme>_proxy`` in any case, the lowercase name winning (an empty
    lowercase value removes the scheme), and ``HTTP_PROXY`` ignored in a CGI
    script (``REQUEST_METHOD`` set) since a client's ``Proxy:`` header sets it.
    ``no_proxy`` is returned under ``"no"``.

    Why not urllib's: it decodes every variable of the environment, which costs
    about 1 us each, 40 us per connection with a usual environment; this screens
    the undecoded names (POSIX only, see ``os.environb``) and decodes the few
    that end in ``_proxy``.
    """
    found: list[tuple[str, str, str]] = []
    proxies: dict[str, str] = {}
    environ = os.environ
    for raw in os.environb:
        if len(raw) > 5 and raw[-6] == 0x5F and raw[-5:].lower() == b"proxy":
            name = os.fsdecode(raw)
            value = environ.get(name, "")
            scheme = name[:-6].lower()
            found.append((name, value, scheme))
            if value:
                proxies[scheme] = value
    if not found:
        return proxies
    if "REQUEST_METHOD" in environ:
        proxies.pop("http", None)
    for name, value, scheme in found:
        if name[-6:] == "_proxy":
            if value:
                proxies[scheme] = value
            else:
                proxies.pop(scheme, None)
    return proxies


def get_proxy(uri: WebSocketURI) -> str | None:
    """Return the proxy configured in the environment for ``uri``, if any.

    Like the websockets library: a ``ws``/``wss`` proxy first, then SOCKS (RFC
    6455 section 4.1 recommends SOCKS5), then HTTPS, then (for ``ws://``) HTTP;
    ``no_proxy`` exempts hosts.

    Args:
        uri: The WebSocket URI about to be opened.

    Returns:
        The proxy URL, or ``None`` to connect directly.
    """
    # Look at no_proxy only when some proxy is configured: proxy_bypass() reads
    # the whole environment again.
    if _SYSTEM_SETTINGS:
        proxies = urllib.request.getproxies()
    else:
        proxies = environment_proxies()
    if not proxies or urllib.request.proxy_bypass(f"{uri.host}:{uri.port}"):
        return None
    schemes = (
        ["wss", "socks", "https"] if uri.secure else ["ws", "socks", "https", "http"]
    )
    for scheme in schemes:
        proxy = proxies.get(scheme)
        if proxy is not None:
            # The operating system may declare SOCKS proxies as http://.
            if scheme == "socks" and proxy.startswith("http://"):
                proxy = "socks5h://" + proxy[7:]
            return proxy
    return None


def _authority(uri: WebSocketURI) -> str:
    host = f"[{uri.host}]" if ":" in uri.host else uri.host
    return f"{host}:{uri.port}"


def build_connect_request(
    proxy: Proxy, uri: WebSocketURI, user_agent_header: str | None
) -> bytes:
    """Build the ``CONNECT`` request that opens a tunnel through an HTTP proxy.

    Args:
        proxy: The proxy, with its credentials if any.
        uri: The WebSocket URI to tunnel to.
        user_agent_header: The ``User-Agent`` header; ``None`` omits it.

    Returns:
        The request bytes.
    """
    authority = _authority(uri)
    headers = Headers()
    # RFC 9110 section 9.3.6: the target is host:port, and so is Host.
    headers["Host"] = authority
    if user_agent_header is not None:
        headers["User-Agent"] = user_agent_header
    if proxy.username is not None and proxy.password is not None:
        headers["Proxy-Authorization"] = build_authorization_basic(
            proxy.username, proxy.password
        )
    return f"CONNECT {authority} HTTP/1.1\r\n".encode() + headers.serialize()


def parse_connect_response(head: bytes) -> tuple[int, str]:
    """Parse the status line of the proxy's answer to ``CONNECT``.

    Args:
        head: The response up to and including the blank line.

    Returns:
        The status code and reason phrase.

    Raises:
        InvalidProxyMessage: The status line is malformed.
    """
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise InvalidProxyMessage(
            f"did not receive a valid HTTP response from proxy: {line[:80]!r}"
        )
    reason = parts[2].decode("iso-8859-1") if len(parts) == 3 else ""
    return int(parts[1]), reason


def build_socks5_greeting(proxy: Proxy) -> bytes:
    """Offer "no authentication", or "user name and password" with credentials.

    RFC 1928 section 3: VER NMETHODS METHODS.
    """
    if proxy.username is not None:
        return b"\x05\x01\x02"
    return b"\x05\x01\x00"


def build_socks5_password(proxy: Proxy) -> bytes:
    """Build the RFC 1929 user name and password sub-negotiation.

    Raises:
        InvalidProxy: The user name or password is longer than 255 bytes.
    """
    username = (proxy.username or "").encode()
    password = (proxy.password or "").encode()
    if len(username) > 255 or len(password) > 255:
        raise InvalidProxy(
            f"socks5://{proxy.host}",
            "SOCKS5 user name and password are limited to 255 bytes",
        )
    return bytes([1, len(username)]) + username + bytes([len(password)]) + password


def build_socks5_connect(host: str, port: int) -> bytes:
    """Build the RFC 1928 section 4 CONNECT request for ``host`` and ``port``.

    Args:
        host: An IPv4 or IPv6 address, or a domain name that the proxy resolves.
        port: The destination port.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("idna")
        target = b"\x03" + bytes([len(name)]) + name
    else:
        if address.version == 4:
            target = b"\x01" + address.packed
        else:
            target = b"\x04" + address.packed
    return b"\x05\x01\x00" + target + struct.pack("!H", port)


SOCKS5_ERRORS = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}
"""RFC 1928 section 6 reply codes."""
