"""The interfaces between the protocol and its extensions (RFC 6455 section 9).

An extension factory makes the offer that goes into the request's
``Sec-WebSocket-Extensions`` header and, when the server accepts it, turns the
accepted parameters into an :class:`Extension` that transforms frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..frames import Frame

__all__ = ["ClientExtensionFactory", "Extension", "ExtensionName", "ExtensionParameter"]

ExtensionName = str
"""An extension token, e.g. ``"permessage-deflate"``."""

ExtensionParameter = tuple[str, "str | None"]
"""A parameter name and its value, ``None`` for a parameter without a value."""


class Extension(Protocol):
    """A negotiated extension: it transforms frames on their way in and out."""

    @property
    def name(self) -> ExtensionName:
        """The extension token."""
        ...

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        """Transform a received data frame.

        Args:
            frame: A data frame (TEXT, BINARY or CONT) as parsed.
            max_size: The most bytes the decoded payload may hold; ``None``: no limit.

        Raises:
            PayloadTooBig: The decoded payload would exceed ``max_size``.
            ProtocolError: The payload cannot be decoded.
        """
        ...

    def encode(self, frame: Frame) -> Frame:
        """Transform a data frame about to be sent."""
        ...


class ClientExtensionFactory(Protocol):
    """Offers an extension in the handshake and builds it from the server's answer."""

    @property
    def name(self) -> ExtensionName:
        """The extension token."""
        ...

    def get_request_params(self) -> Sequence[ExtensionParameter]:
        """The parameters to offer in ``Sec-WebSocket-Extensions``."""
        ...

    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> Extension:
        """Build the extension from the parameters that the server accepted.

        Args:
            params: The parameters in the server's response.
            accepted_extensions: The extensions already accepted, in order.

        Raises:
            NegotiationError: The parameters are not acceptable for this offer.
        """
        ...
