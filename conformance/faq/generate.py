"""Write the rule-translated FAQ programs that the docs include, or check them.

``python -m conformance.faq generate`` writes ``docs/faq/generated/<example>-
<variant>.py`` for every translation made by rule; ``--check`` exits 1 when a
file on disk differs from what the rules produce now (or is left over), so CI
catches a FAQ edited without regenerating. Both refuse to work when a question of
the FAQ has no scenario in the matrix, or a scenario does not exercise every
program of its question: an answer that nothing proves must not be published.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from .extract import FAQ_PATH, GENERATED_DIR, ROOT, VARIANTS, FaqSource, extract
from .translate import translate

__all__ = [
    "GenerationError",
    "check_scenarios",
    "expected_files",
    "generate",
    "program",
]

HEADER = (
    "# Generated from {source} by: python -m conformance.faq generate\n"
    "# (rule translation of {name}): do not edit.\n"
    "\n"
)
"""Three lines, skipped in the docs by ``:lines: 4-``."""


class GenerationError(Exception):
    """The FAQ and the matrix disagree; the message says what to add."""


def program(source: FaqSource, example: str, variant: str) -> str:
    """The program that the docs show for ``example`` in ``variant``.

    Args:
        source: The parsed FAQ.
        example: Example id, e.g. ``force-ip``.
        variant: ``asyncio``, ``threading`` or ``legacy``.

    Raises:
        KeyError: No such example.
        TranslationError: No rule applies and there is no hand-written variant.

    Returns:
        The hand-written variant if the FAQ has one, else the rule's output.
    """
    question = source.question_of(example)
    if (example, variant) in question.examples:
        return question.examples[(example, variant)].code
    return translate(question.examples[(example, "asyncio")].code, variant)


def expected_files(
    source: FaqSource, directory: Path = GENERATED_DIR
) -> dict[Path, str]:
    """Every generated file's path and expected text."""
    path = source.path.resolve()
    relative = (
        path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    )
    files: dict[Path, str] = {}
    for question in source.questions.values():
        for example in question.example_ids:
            for variant in VARIANTS[1:]:
                if (example, variant) in question.examples:
                    continue  # hand-translated: shown inline
                header = HEADER.format(source=relative, name=f"faq-{example}-asyncio")
                text = translate(question.examples[(example, "asyncio")].code, variant)
                files[directory / f"{example}-{variant}.py"] = header + text
    return files


def check_scenarios(source: FaqSource, scenarios: Mapping[str, Iterable[str]]) -> None:
    """Check that the matrix covers the FAQ exactly.

    Args:
        source: The parsed FAQ.
        scenarios: Question slug -> example ids that its scenario runs.

    Raises:
        GenerationError: A question without a scenario, a scenario without a
            question, or a program that its question's scenario does not run.
    """
    problems: list[str] = []
    for slug, question in source.questions.items():
        if slug not in scenarios:
            problems.append(
                f"question faq-{slug} ({question.title!r}, "
                f"{source.path}:{question.line}) has no scenario: add one to "
                "conformance/faq/scenarios.py with "
                f"@scenario({slug!r}, examples=...)"
            )
            continue
        covered = set(scenarios[slug])
        for example in question.example_ids:
            if example not in covered:
                problems.append(
                    f"program faq-{example}-asyncio is not run by the scenario of "
                    f"faq-{slug}: list it in its examples and run it"
                )
        for example in sorted(covered - set(question.example_ids)):
            problems.append(
                f"the scenario of faq-{slug} runs {example!r}, which question "
                f"faq-{slug} does not have"
            )
    for slug in scenarios:
        if slug not in source.questions:
            problems.append(f"scenario {slug!r} has no question faq-{slug} in the FAQ")
    if problems:
        raise GenerationError("\n".join(problems))


def _diff(path: Path, current: str, expected: str) -> str:
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{path} (on disk)",
            tofile=f"{path} (generated)",
        )
    )


def generate(
    *,
    check: bool = False,
    faq_path: Path = FAQ_PATH,
    directory: Path = GENERATED_DIR,
    scenarios: Mapping[str, Iterable[str]] | None = None,
    out: TextIO | None = None,
) -> int:
    """Write (or check) the generated programs.

    Args:
        check: Only compare; write nothing.
        faq_path: The FAQ source.
        directory: Where the generated programs live.
        scenarios: Question slug -> example ids; defaults to the matrix's
            registered scenarios.
        out: Where messages go (standard error by default).

    Returns:
        The exit status: 0 when current (or written), 1 when stale in check mode
        or when the FAQ and the matrix disagree.
    """
    stream = sys.stderr if out is None else out
    if scenarios is None:
        from .scenarios import SCENARIOS

        scenarios = {slug: s.examples for slug, s in SCENARIOS.items()}
    source = extract(faq_path)
    try:
        check_scenarios(source, scenarios)
    except GenerationError as exc:
        print(f"faq: {exc}", file=stream)
        return 1
    expected = expected_files(source, directory)
    leftovers = (
        sorted(path for path in directory.glob("*.py") if path not in expected)
        if directory.is_dir()
        else []
    )
    stale = [
        path
        for path, text in expected.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    if check:
        for path in stale:
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            print(f"faq: {path} is stale", file=stream)
            print(_diff(path, current, expected[path]), file=stream)
        for path in leftovers:
            print(f"faq: {path} is not generated from any FAQ program", file=stream)
        if stale or leftovers:
            print("faq: run `python -m conformance.faq generate`", file=stream)
            return 1
        print(f"faq: {len(expected)} generated programs are current", file=stream)
        return 0
    directory.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(expected[path], encoding="utf-8")
        print(f"faq: wrote {path}", file=stream)
    for path in leftovers:
        path.unlink()
        print(f"faq: removed {path}", file=stream)
    return 0
