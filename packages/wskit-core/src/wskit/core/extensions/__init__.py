"""WebSocket extensions: the interfaces (RFC 6455 section 9) and permessage-deflate.

Everything public in :mod:`.base` and :mod:`.permessage_deflate` is importable from
here, so ``from wskit.core.extensions import ClientPerMessageDeflateFactory`` works.
"""

from __future__ import annotations

from .base import ClientExtensionFactory, Extension, ExtensionName, ExtensionParameter
from .permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    enable_client_permessage_deflate,
)

__all__ = [
    "ClientExtensionFactory",
    "ClientPerMessageDeflateFactory",
    "Extension",
    "ExtensionName",
    "ExtensionParameter",
    "PerMessageDeflate",
    "enable_client_permessage_deflate",
]
