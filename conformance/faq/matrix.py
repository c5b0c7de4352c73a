"""Run every FAQ scenario on every backend: the FAQ matrix.

:func:`run_matrix` is what the conformance report calls; it returns one
:class:`~conformance.faq.harness.Result` per (question, backend), in FAQ order.
Backends that cannot run here (a package not written yet) give skipped cells
with the reason, never failures.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .backends import BACKENDS, DEFAULT_BACKENDS, availability
from .extract import FAQ_PATH, extract
from .generate import check_scenarios
from .harness import DEFAULT_TIMEOUT, Result, Status, run_scenario
from .scenarios import SCENARIOS

__all__ = ["run_matrix"]


def run_matrix(
    backends: Sequence[str] | None = None,
    questions: Sequence[str] | None = None,
    *,
    faq_path: Path = FAQ_PATH,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int | None = None,
) -> list[Result]:
    """Run the FAQ matrix.

    Args:
        backends: Backend names (see :data:`~conformance.faq.backends.BACKENDS`);
            all of :data:`~conformance.faq.backends.DEFAULT_BACKENDS` by default.
        questions: Question slugs to run; all by default.
        faq_path: The FAQ source.
        timeout: Bound on each wait inside a scenario, in seconds.
        jobs: Scenarios run at once (each has its own server and port).

    Raises:
        KeyError: An unknown backend or question.
        GenerationError: A question has no scenario (or the reverse).

    Returns:
        One result per (question, backend), questions in FAQ order, backends in
        the order given.
    """
    source = extract(faq_path)
    check_scenarios(source, {slug: s.examples for slug, s in SCENARIOS.items()})
    names = list(DEFAULT_BACKENDS if backends is None else backends)
    for name in names:
        if name not in BACKENDS:
            raise KeyError(f"unknown backend {name!r}; choose from {sorted(BACKENDS)}")
    slugs = list(source.questions if questions is None else questions)
    for slug in slugs:
        if slug not in source.questions:
            known = list(source.questions)
            raise KeyError(f"unknown question {slug!r}; choose from {known}")
    workers = jobs if jobs is not None else min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = pool.map(lambda name: availability(BACKENDS[name]), names)
        missing = dict(zip(names, found, strict=True))
        with tempfile.TemporaryDirectory(prefix="wskit-faq-") as scratch:

            def cell(index: int, slug: str, name: str) -> Result:
                title = source.questions[slug].title
                unavailable = missing[name]
                if unavailable is not None:
                    status = Status.FAILED if unavailable.failed else Status.SKIPPED
                    return Result(slug, title, name, status, unavailable.reason)
                workdir = Path(scratch) / f"{index:03d}-{slug}-{name}"
                workdir.mkdir()
                return run_scenario(
                    source, SCENARIOS[slug], BACKENDS[name], workdir, timeout=timeout
                )

            pairs = [(slug, name) for slug in slugs for name in names]
            futures = [
                pool.submit(cell, index, slug, name)
                for index, (slug, name) in enumerate(pairs)
            ]
            return [future.result() for future in futures]
