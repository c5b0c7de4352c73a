"""``InvalidStatusCode``: the legacy exception for a handshake refused by the server.

It lives in its own module so that :mod:`wskit.legacy.exceptions` can hand it out
through a module ``__getattr__`` that warns: naming ``InvalidStatusCode`` is the
legacy spelling, whereas the shim itself raises it without a warning.
"""

from __future__ import annotations

from wskit.core.exceptions import InvalidStatus
from wskit.core.headers import Headers, HeadersLike
from wskit.core.http11 import Response

from .deprecation import warn_legacy
from .renames import Kind

__all__ = ["InvalidStatusCode"]


class InvalidStatusCode(InvalidStatus):
    """The server answered the upgrade request with a status other than 101.

    A subclass of :exc:`~wskit.core.exceptions.InvalidStatus`, so that both
    ``except InvalidStatusCode`` (legacy) and ``except InvalidStatus`` (new) catch
    it, and ``exc.response`` holds the whole response.

    Args:
        status_code: The status code, as the legacy constructor took it.
        headers: The response headers.
        response: The whole response; when given, ``status_code`` and ``headers``
            must match it (the shim passes all three).
    """

    def __init__(
        self,
        status_code: int,
        headers: HeadersLike | None = None,
        *,
        response: Response | None = None,
    ) -> None:
        if response is None:
            response = Response(status_code, "", Headers(headers or ()), b"")
        super().__init__(response)

    @classmethod
    def from_response(cls, response: Response) -> InvalidStatusCode:
        """Build the legacy exception from the response that the new API kept.

        Args:
            response: The handshake response.

        Returns:
            The exception.
        """
        return cls(response.status_code, response.headers, response=response)

    @property
    def status_code(self) -> int:
        """The status code; deprecated: use ``exc.response.status_code``."""
        warn_legacy(Kind.EXCEPTION_ATTRIBUTE, "status_code")
        return self.response.status_code

    @property
    def headers(self) -> Headers:
        """The response headers; deprecated: use ``exc.response.headers``."""
        warn_legacy(Kind.EXCEPTION_ATTRIBUTE, "headers")
        return self.response.headers
