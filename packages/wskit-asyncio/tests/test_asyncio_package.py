from __future__ import annotations

from importlib.metadata import version

import wskit.asyncio


def test_version_matches_distribution() -> None:
    assert wskit.asyncio.__version__ == version("wskit-asyncio")
