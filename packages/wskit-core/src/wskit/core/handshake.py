"""The client side of the opening handshake (RFC 6455 section 4.1).

:func:`build_request` turns a URI and the caller's options into the upgrade
request; :func:`check_response` decides whether the server's answer completes the
handshake, and with which extensions and subprotocol. Both are pure functions of
their arguments (apart from :func:`generate_key`), which keeps the protocol state
machine free of header handling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import sys
from collections.abc import Sequence
from typing import Final

from .exceptions import (
    InvalidHeader,
    InvalidHeaderValue,
    InvalidStatus,
    InvalidUpgrade,
    NegotiationError,
)
from .extensions.base import ClientExtensionFactory, Extension
from .headers import (
    Headers,
    HeadersLike,
    MultipleValuesError,
    build_authorization_basic,
    build_extension,
    build_subprotocol,
    parse_connection,
    parse_extension,
    parse_subprotocol,
    parse_upgrade,
    validate_outgoing_all,
)
from .http11 import Request, Response
from .uri import WebSocketURI
from .version import __version__

__all__ = [
    "GUID",
    "USER_AGENT",
    "accept_key",
    "build_request",
    "check_response",
    "generate_key",
]

GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""The GUID that RFC 6455 section 1.3 appends to the key before hashing."""

USER_AGENT: Final = (
    f"Python/{sys.version_info.major}.{sys.version_info.minor} wskit/{__version__}"
)
"""The default ``User-Agent`` header, e.g. ``Python/3.12 wskit/0.1.0``."""

# Headers that only the handshake may set: a second copy would make the request
# ambiguous, or make check_response() judge the answer against the wrong offer.
_RESERVED = {
    "upgrade": "it is always 'websocket'",
    "connection": "it is always 'Upgrade'",
    "sec-websocket-key": "pass key= instead",
    "sec-websocket-version": "it is always 13",
    "sec-websocket-extensions": "pass extensions= instead",
    "sec-websocket-protocol": "pass subprotocols= instead",
}

# Read only: stands for additional_headers=None.
_NO_HEADERS = Headers()

# Headers that additional_headers may override rather than duplicate.
_OVERRIDABLE = ("Host", "Origin", "Authorization", "User-Agent")


# Keys are cut from one larger block of os.urandom output, as frames.py does for
# mask keys: the same CSPRNG stream as one call per connection, without a system
# call each time. They wait in a list because list.pop() is atomic: threads
# connecting at once never get the same key, without a lock.
_KEYS_PER_BLOCK = 64
_keys: list[str] = []


def generate_key() -> str:
    """Return a fresh ``Sec-WebSocket-Key``.

    RFC 6455 section 4.1: "a randomly selected 16-byte value that has been
    base64-encoded"; it must be chosen anew for each connection, from a source
    that servers and intermediaries cannot predict.
    """
    try:
        return _keys.pop()
    except IndexError:
        block = secrets.token_bytes(16 * _KEYS_PER_BLOCK)
        # binascii rather than base64.b64encode(): the same text, one call less.
        _keys.extend(
            [
                binascii.b2a_base64(block[i : i + 16], newline=False).decode("ascii")
                for i in range(0, len(block), 16)
            ]
        )
        return _keys.pop()


def _drop_keys() -> None:
    # A forked child must not reuse the keys its parent will also use.
    _keys.clear()


if hasattr(os, "register_at_fork"):  # pragma: no branch
    os.register_at_fork(after_in_child=_drop_keys)


def accept_key(key: str) -> str:
    """Return the ``Sec-WebSocket-Accept`` value that proves the server read ``key``.

    Args:
        key: The ``Sec-WebSocket-Key`` sent in the request.

    Returns:
        base64(SHA-1(key + GUID)), as RFC 6455 section 4.2.2 step 5.4 specifies.
    """
    sha1 = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False)
    return binascii.b2a_base64(sha1.digest(), newline=False).decode("ascii")


# 16 bytes in base64: 22 characters that carry 128 bits, then two padding signs.
_KEY_RE = re.compile(r"[A-Za-z0-9+/]{22}==")


def _check_key(key: str) -> None:
    # RFC 6455 section 4.1: the key is 16 bytes, base64-encoded.
    key_obj: object = key
    if type(key_obj) is str and _KEY_RE.fullmatch(key) is not None:
        return  # what generate_key() returns; decoding would say the same
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raw = b""
    if len(raw) != 16:
        raise ValueError(
            f"key {key!r} isn't 16 bytes encoded in base64; use generate_key()"
        )


def build_request(
    wsuri: WebSocketURI,
    *,
    key: str,
    origin: str | None = None,
    subprotocols: Sequence[str] | None = None,
    extensions: Sequence[ClientExtensionFactory] = (),
    additional_headers: HeadersLike | None = None,
    user_agent_header: str | None = USER_AGENT,
) -> Request:
    """Build the handshake request (RFC 6455 section 4.1).

    Headers come in a fixed order: ``Host``, ``Upgrade``, ``Connection``,
    ``Sec-WebSocket-Key``, ``Sec-WebSocket-Version``, then ``Origin``,
    ``Sec-WebSocket-Extensions``, ``Sec-WebSocket-Protocol``, ``Authorization``
    (Basic, from the URI's user information) and ``User-Agent`` when they apply,
    then ``additional_headers``. ``Host``, ``Origin``, ``Authorization`` and
    ``User-Agent`` in ``additional_headers`` replace the generated ones instead
    of duplicating them.

    Args:
        wsuri: The parsed URI.
        key: The ``Sec-WebSocket-Key``, from :func:`generate_key`.
        origin: The ``Origin`` header, if any (RFC 6454).
        subprotocols: The subprotocols to offer, in order of preference.
        extensions: The extensions to offer, in order of preference.
        additional_headers: More headers to send.
        user_agent_header: The ``User-Agent`` header; ``None`` omits it.

    Returns:
        The request, ready to serialize.

    Raises:
        ValueError: ``key`` is not 16 base64-encoded bytes, a subprotocol or an
            extension parameter is not a token, the user name contains ``:``, or
            ``additional_headers`` sets a header that only the handshake may set.
        TypeError: ``subprotocols`` is a ``str`` rather than a list.
        UnsafeHeader: A header name or value could inject or corrupt headers.
    """
    _check_key(key)
    extra = Headers(additional_headers) if additional_headers is not None else None
    if extra is not None:
        for name in extra:
            reason = _RESERVED.get(name.lower())
            if reason is not None:
                raise ValueError(
                    f"additional_headers can't set {name}: the handshake sets it; "
                    f"{reason}"
                )
    else:
        extra = _NO_HEADERS

    headers = Headers()
    # Values known to be str go in without the type checks of __setitem__.
    append = headers._append
    if "Host" not in extra:
        append("Host", wsuri.host_header)
    # RFC 6455 section 4.1, items 5 to 9 of the client's requirements.
    append("Upgrade", "websocket")
    append("Connection", "Upgrade")
    append("Sec-WebSocket-Key", key)
    append("Sec-WebSocket-Version", "13")
    if origin is not None and "Origin" not in extra:
        headers["Origin"] = origin
    if extensions:
        headers["Sec-WebSocket-Extensions"] = build_extension(
            [(factory.name, factory.get_request_params()) for factory in extensions]
        )
    if subprotocols is not None:
        value = build_subprotocol(subprotocols)  # validates even an empty list
        if value:
            headers["Sec-WebSocket-Protocol"] = value
    if wsuri.user_info is not None and "Authorization" not in extra:
        headers["Authorization"] = build_authorization_basic(*wsuri.user_info)
    if user_agent_header is not None and "User-Agent" not in extra:
        headers["User-Agent"] = user_agent_header
    if extra:
        headers.update(extra)

    validate_outgoing_all(headers)
    return Request(wsuri.resource_name, headers)


def check_response(
    response: Response,
    *,
    key: str,
    subprotocols: Sequence[str] | None = None,
    extensions: Sequence[ClientExtensionFactory] = (),
) -> tuple[list[Extension], str | None]:
    """Check that the server's response completes the handshake.

    The checks run in the order of RFC 6455 section 4.1 (the client's
    validation of the server's handshake, items 1 to 6).

    Args:
        response: The parsed response.
        key: The ``Sec-WebSocket-Key`` that was sent.
        subprotocols: The subprotocols offered, or ``None``.
        extensions: The extension factories offered, in order.

    Returns:
        The accepted extensions in the order the server listed them, and the
        subprotocol the server selected, or ``None``.

    Raises:
        InvalidStatus: The status code is not 101.
        InvalidUpgrade: ``Upgrade`` is not ``websocket`` or ``Connection`` does
            not contain ``upgrade``.
        InvalidHeader: ``Sec-WebSocket-Accept`` is missing or repeated.
        InvalidHeaderValue: ``Sec-WebSocket-Accept`` does not match ``key``.
        InvalidHeaderFormat: A header value does not follow its grammar.
        NegotiationError: The server accepted an extension or subprotocol that
            was not offered, or several subprotocols.
    """
    headers = response.headers

    # Item 1: "If the status code received from the server is not 101, the
    # client handles the response per HTTP procedures."
    if response.status_code != 101:
        raise InvalidStatus(response)

    # Item 2: the Upgrade header field must be an ASCII case-insensitive match for
    # "websocket"; any other value fails the connection.
    # (headers._dict maps lower-case names to their values: no copies, as
    # get_all() makes.)
    values = headers._dict.get("upgrade", ())
    if len(values) == 1:
        upgrade = parse_upgrade(values[0])
    else:
        upgrade = [protocol for value in values for protocol in parse_upgrade(value)]
    if not (len(upgrade) == 1 and upgrade[0].lower() == "websocket"):
        raise InvalidUpgrade("Upgrade", ", ".join(upgrade) if upgrade else None)

    # Item 3: the Connection header field must contain the token "Upgrade",
    # ASCII case-insensitively.
    values = headers._dict.get("connection", ())
    if len(values) == 1:
        connection = parse_connection(values[0])
    else:
        connection = [option for value in values for option in parse_connection(value)]
    for option in connection:
        if option.lower() == "upgrade":
            break
    else:
        raise InvalidUpgrade(
            "Connection", ", ".join(connection) if connection else None
        )

    # Item 4: Sec-WebSocket-Accept must be base64(SHA-1(key + GUID)).
    try:
        accept = headers["Sec-WebSocket-Accept"]
    except KeyError:
        raise InvalidHeader("Sec-WebSocket-Accept") from None
    except MultipleValuesError:
        raise InvalidHeader("Sec-WebSocket-Accept", "multiple values") from None
    if accept != accept_key(key):
        raise InvalidHeaderValue("Sec-WebSocket-Accept", accept)

    # Item 5: every extension in the response must have been offered.
    accepted = _negotiate_extensions(headers, extensions)

    # Item 6: the subprotocol, if any, must be one that was offered.
    subprotocol = _negotiate_subprotocol(headers, subprotocols)

    return accepted, subprotocol


def _negotiate_extensions(
    headers: Headers, extensions: Sequence[ClientExtensionFactory]
) -> list[Extension]:
    values = headers._dict.get("sec-websocket-extensions")
    if not values:
        return []
    answer = [item for value in values for item in parse_extension(value)]
    if not extensions:
        raise NegotiationError(
            f"server accepted extensions that weren't offered: {', '.join(values)}"
        )
    accepted: list[Extension] = []
    for name, params in answer:
        # Try each factory that offered this extension, in the order offered;
        # the first one that accepts the parameters wins.
        for factory in extensions:
            if factory.name != name:
                continue
            try:
                extension = factory.process_response_params(params, accepted)
            except NegotiationError:
                continue
            accepted.append(extension)
            break
        else:
            raise NegotiationError(
                f"Unsupported extension: name={name}, params={params}"
            )
    return accepted


def _negotiate_subprotocol(
    headers: Headers, subprotocols: Sequence[str] | None
) -> str | None:
    values = headers._dict.get("sec-websocket-protocol")
    if not values:
        return None
    answer = [item for value in values for item in parse_subprotocol(value)]
    if not subprotocols:
        raise NegotiationError(
            f"server selected subprotocol {', '.join(answer)} but none was offered"
        )
    if len(answer) > 1:
        raise NegotiationError(
            f"server selected several subprotocols: {', '.join(answer)}; "
            "RFC 6455 section 4.2.2 allows only one"
        )
    if answer[0] not in subprotocols:
        raise NegotiationError(
            f"server selected subprotocol {answer[0]}, which wasn't offered; "
            f"offered: {', '.join(subprotocols)}"
        )
    return answer[0]
