"""The version of the wskit distributions, which all share it.

It lives in its own module so that the ``User-Agent`` header and the packaging
tools can read it without importing the rest of the library.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
