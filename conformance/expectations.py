"""Compare Autobahn|Testsuite results with ``conformance/expectations.toml``.

The expectations file is the project's statement of what is not yet a strict OK,
and why; a run fails when a result is worse than stated, so that conformance can
only move forward.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "EXPECTATIONS",
    "RANK",
    "Comparison",
    "Expectations",
    "compare",
    "load",
]

EXPECTATIONS = Path(__file__).resolve().parent / "expectations.toml"

#: Results from best to worst; INFORMATIONAL ranks with OK because the suite
#: gives no verdict, and is only accepted for the cases listed as such.
RANK: Mapping[str, int] = {
    "OK": 0,
    "INFORMATIONAL": 0,
    "NON-STRICT": 1,
    "UNIMPLEMENTED": 2,
    "WRONG CODE": 3,
    "UNCLEAN": 3,
    "FAILED BY CLIENT": 3,
    "FAILED": 3,
    "missing": 4,
}


@dataclass(frozen=True)
class Expectations:
    """What each backend is expected to score where it is not a strict OK."""

    informational: Mapping[str, str]
    per_backend: Mapping[str, Mapping[str, tuple[str, str]]]

    def expected(self, backend: str, case: str) -> tuple[str, str]:
        """The expected result of ``case`` and the reason."""
        listed = self.per_backend.get(backend, {}).get(case)
        if listed is not None:
            return listed
        if case in self.informational:
            return "INFORMATIONAL", self.informational[case]
        return "OK", ""


def load(path: Path = EXPECTATIONS) -> Expectations:
    """Read the expectations file.

    Each backend table maps a case to ``"RESULT: reason"``.

    Raises:
        ValueError: An entry does not name a known result or gives no reason.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    informational = {str(k): str(v) for k, v in data.pop("informational", {}).items()}
    per_backend: dict[str, dict[str, tuple[str, str]]] = {}
    for backend, cases in data.items():
        entries: dict[str, tuple[str, str]] = {}
        for case, text in cases.items():
            result, _, reason = str(text).partition(":")
            result, reason = result.strip(), reason.strip()
            if result not in RANK or not reason:
                raise ValueError(
                    f'{path}: [{backend}] {case} must read "RESULT: reason" with '
                    f"RESULT one of {', '.join(RANK)}; got {text!r}"
                )
            entries[str(case)] = (result, reason)
        per_backend[backend] = entries
    return Expectations(informational, per_backend)


@dataclass
class Comparison:
    """Cases worse or better than expected for one backend."""

    backend: str
    regressions: list[tuple[str, str, str]] = field(default_factory=list)
    improvements: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.regressions


def compare(
    backend: str,
    results: Mapping[str, str],
    expectations: Expectations,
    *,
    all_cases: list[str] | None = None,
) -> Comparison:
    """Compare one backend's results with the expectations.

    Args:
        backend: The agent name.
        results: Case -> result, as the suite reported them.
        expectations: From :func:`load`.
        all_cases: Every case that should have a result (a full run); ``None``
            checks only the cases present.

    Returns:
        Each regression and improvement as ``(case, expected, actual)``.
    """
    comparison = Comparison(backend)
    cases = list(results) if all_cases is None else all_cases
    for case in cases:
        actual = results.get(case, "missing")
        expected, _ = expectations.expected(backend, case)
        if actual == "INFORMATIONAL" and expected != "INFORMATIONAL":
            # No verdict where one was expected: treat as not passing.
            worse = RANK["NON-STRICT"] > RANK[expected]
        else:
            worse = RANK.get(actual, RANK["FAILED"]) > RANK[expected]
        if worse:
            comparison.regressions.append((case, expected, actual))
        elif RANK.get(actual, RANK["FAILED"]) < RANK[expected]:
            comparison.improvements.append((case, expected, actual))
    return comparison
