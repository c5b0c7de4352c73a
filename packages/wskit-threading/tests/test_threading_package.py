from __future__ import annotations

from importlib.metadata import version

import wskit.threading


def test_version_matches_distribution() -> None:
    assert wskit.threading.__version__ == version("wskit-threading")
