"""End-to-end benchmark of the wskit clients next to the other Python clients.

Run ``python -m tools.bench`` from the repository root (``--help`` lists the
options; ``nox -s bench`` runs it after the core micro-benchmark). Every client
runs in a process of its own against an echo server in another process, round
after round, clients interleaved, and the report gives the median of the rounds
and its ratio to the websockets library's asyncio client.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT"]

ROOT = Path(__file__).resolve().parents[2]
