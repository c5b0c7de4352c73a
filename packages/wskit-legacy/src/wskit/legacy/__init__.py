"""wskit.legacy: see the package README; the client lands in its own change."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
