"""Reference backends: the websockets library under wskit's names.

Each module exposes what a FAQ program imports from ``wskit.asyncio``,
``wskit.threading`` or ``wskit.legacy``, taken from the websockets library. Where
websockets spells the same feature differently, the module adapts it, and says
so: the matrix's reference columns then test the FAQ's programs, not the
adapters.
"""

from __future__ import annotations

__all__: list[str] = []
