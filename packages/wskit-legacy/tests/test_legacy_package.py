from __future__ import annotations

from importlib.metadata import version

import wskit.legacy


def test_version_matches_distribution() -> None:
    assert wskit.legacy.__version__ == version("wskit-legacy")
