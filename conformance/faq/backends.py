"""The backends that the FAQ matrix runs every answer on.

A backend is a variant of the FAQ (which tab's program it runs) and the modules
that program imports. The wskit backends run the programs as the docs show them.
The reference backends run the same programs on the websockets library, through
the small adapters in :mod:`conformance.faq.standins`: they proved the examples
and the harness before wskit existed, and they keep telling an example that is
wrong (fails everywhere) from a backend that is wrong (fails only on wskit).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from .extract import ROOT

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKENDS",
    "Backend",
    "Unavailable",
    "availability",
    "python_path",
]

_DEFLATE = "wskit.core.extensions.permessage_deflate"


@dataclass(frozen=True)
class Backend:
    """One column of the matrix.

    Attributes:
        name: Column name, e.g. ``wskit.asyncio``.
        variant: Which program of each answer it runs: ``asyncio``, ``threading``
            or ``legacy``.
        module_renames: Module paths replaced in the program before it runs
            (whole dotted names); empty for wskit, which runs the docs verbatim.
        description: One line for the report.
    """

    name: str
    variant: str
    module_renames: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def module(self) -> str:
        """The module that provides ``connect`` to this backend's programs."""
        module = f"wskit.{self.variant}"
        return self.module_renames.get(module, module)

    def adapt(self, program: str) -> str:
        """The program with this backend's module renames applied."""
        for old, new in self.module_renames.items():
            program = re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, program)
        return program


_STANDINS = "conformance.faq.standins"

BACKENDS: Mapping[str, Backend] = MappingProxyType(
    {
        backend.name: backend
        for backend in (
            Backend("wskit.asyncio", "asyncio", description="wskit.asyncio"),
            Backend("wskit.threading", "threading", description="wskit.threading"),
            Backend("wskit.legacy", "legacy", description="wskit.legacy"),
            Backend(
                "websockets.asyncio",
                "asyncio",
                {
                    "wskit.asyncio": f"{_STANDINS}.websockets_asyncio",
                    _DEFLATE: "websockets.extensions.permessage_deflate",
                },
                "reference: websockets.asyncio.client",
            ),
            Backend(
                "websockets.sync",
                "threading",
                {
                    "wskit.threading": f"{_STANDINS}.websockets_sync",
                    _DEFLATE: "websockets.extensions.permessage_deflate",
                },
                "reference: websockets.sync.client",
            ),
            Backend(
                "websockets.legacy",
                "legacy",
                {
                    "wskit.legacy": f"{_STANDINS}.websockets_legacy",
                    _DEFLATE: "websockets.extensions.permessage_deflate",
                },
                "reference: websockets.legacy.client",
            ),
        )
    }
)
"""Every known backend, by name."""

DEFAULT_BACKENDS: Sequence[str] = tuple(BACKENDS)
"""The columns of the report, in order."""


def python_path() -> str:
    """``PYTHONPATH`` for example programs: the repository and every package source.

    The sources come first so that the matrix tests this checkout even when an
    older wskit is installed.
    """
    entries = [str(ROOT)]
    entries += [str(path) for path in sorted((ROOT / "packages").glob("wskit-*/src"))]
    inherited = os.environ.get("PYTHONPATH")
    if inherited:
        entries.append(inherited)
    return os.pathsep.join(entries)


class Unavailable(NamedTuple):
    """Why a backend's cells are not run: skipped, or failed for all questions."""

    failed: bool
    reason: str


def availability(backend: Backend, *, timeout: float = 30) -> Unavailable | None:
    """Why ``backend`` cannot run here, or ``None`` when it can.

    Imports the backend's module in a fresh interpreter, as the programs will.
    A module that is not installed, or that does not provide ``connect`` yet (a
    package still being written), skips the backend's cells; a module that
    fails to import fails them: that is a broken backend, not a missing one.
    """
    probe = (
        "import importlib, importlib.util, sys\n"
        f"name = {backend.module!r}\n"
        "try:\n"
        "    spec = importlib.util.find_spec(name)\n"
        "except ModuleNotFoundError:\n"
        "    spec = None\n"
        "if spec is None:\n"
        "    sys.exit(4)\n"
        "module = importlib.import_module(name)\n"
        "sys.exit(0 if hasattr(module, 'connect') else 3)\n"
    )
    env = {**os.environ, "PYTHONPATH": python_path()}
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Unavailable(
            True, f"importing {backend.module} took more than {timeout} s"
        )
    if done.returncode == 4:
        return Unavailable(False, f"{backend.module} is not installed")
    if done.returncode == 3:
        return Unavailable(False, f"{backend.module} has no connect() yet")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Unavailable(True, f"{backend.module} fails to import: {last}")
    return None
