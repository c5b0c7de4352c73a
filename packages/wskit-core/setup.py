"""Build the optional C speed-up of wskit-core; the metadata is in pyproject.toml.

The extension is optional: where no compiler is available the build prints a
warning and installs the pure-Python package, which ``wskit.core.masking`` falls
back to. Two environment variables, read at build time, change that:

``WSKIT_NO_EXTENSIONS=1``
    Do not build the extension at all (a pure-Python install, e.g. to test the
    fallback path on a machine that has a compiler).
``WSKIT_REQUIRE_EXTENSIONS=1``
    Fail the build if the extension does not compile, so that CI cannot pass
    while silently testing only the pure-Python path.
"""

from __future__ import annotations

import os

from setuptools import Extension, setup

__all__: list[str] = []


def _flag(name: str) -> bool:
    return os.environ.get(name, "") == "1"


if _flag("WSKIT_NO_EXTENSIONS") and _flag("WSKIT_REQUIRE_EXTENSIONS"):
    raise SystemExit(
        "WSKIT_NO_EXTENSIONS=1 and WSKIT_REQUIRE_EXTENSIONS=1 contradict each "
        "other: unset one of them"
    )

ext_modules: list[Extension] = []
if not _flag("WSKIT_NO_EXTENSIONS"):
    ext_modules.append(
        Extension(
            "wskit.core._speedups",
            sources=["src/wskit/core/_speedups.c"],
            # No -march=native: wheels must run on any CPU of their architecture.
            # SSE2 is the x86-64 baseline, so the SSE2 path is always compiled
            # there; AVX2 only when the compiler's defaults already enable it.
            optional=not _flag("WSKIT_REQUIRE_EXTENSIONS"),
        )
    )

setup(ext_modules=ext_modules)
