"""Run legacy client programs in-process, before and after migration.

A corpus program is a complete script written for the legacy websockets API. It
defines ``async def main(base_uri)`` returning what it saw, and runs it under
``if __name__ == "__main__":``. The tests run it three ways, in the same event
loop as a recording server: as written with its import swapped to
``wskit.legacy`` (:func:`swap_import`), and after the codemod on
``wskit.asyncio``.

Programs are compiled with their real file name, so that a warning's
``filename`` says whether it points at the program's line.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path
from typing import Any

__all__ = ["ProgramRun", "run_program", "swap_import"]

_IMPORT = re.compile(r"^import websockets$", re.MULTILINE)
_FROM = re.compile(r"^from websockets((?:\.\w+)*) import ", re.MULTILINE)


def swap_import(source: str) -> str:
    """Point a legacy program at the shim: ``import wskit.legacy as websockets``.

    Args:
        source: The program, importing ``websockets``.

    Returns:
        The same program importing ``wskit.legacy``; nothing else changes, so
        line numbers are kept.
    """
    source = _IMPORT.sub("import wskit.legacy as websockets", source)
    return _FROM.sub(r"from wskit.legacy\1 import ", source)


@dataclasses.dataclass
class ProgramRun:
    """What one run of a program returned and warned.

    Attributes:
        result: The value ``main()`` returned.
        warnings: Every warning raised while loading and running it.
    """

    result: Any
    warnings: list[warnings.WarningMessage]


async def run_program(source: str, path: Path, base_uri: str) -> ProgramRun:
    """Load a program from ``source`` as if it were ``path``, then await its main.

    Every warning is recorded (``simplefilter("always")``), none is raised.

    Args:
        source: The program's source, possibly rewritten.
        path: The file name to compile it under.
        base_uri: Passed to ``main()``, e.g. ``ws://127.0.0.1:1234``.

    Returns:
        The run.
    """
    # dont_inherit: this module's own future imports must not leak into the program.
    code = compile(source, str(path), "exec", dont_inherit=True)
    namespace: dict[str, Any] = {"__name__": f"corpus_{path.stem}"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(code, namespace)
        result = await namespace["main"](base_uri)
    return ProgramRun(result, list(caught))
