"""Read the client FAQ's questions and example programs from its reStructuredText.

The FAQ is the single source: what the docs show is what the matrix runs. This
module reads it with a small line parser instead of docutils, because the FAQ uses
Sphinx-only directives (``tab``, ``code-block``, ``literalinclude``) and the matrix
must run where Sphinx is not installed. The parser is strict: anything it does not
understand in a question is an error naming the line, so a typo cannot silently
drop an example from the matrix.

How examples are identified (the documented convention):

- A question is a section whose label is ``.. _faq-<slug>:`` at the start of a
  line; its title is the next non-blank line.
- An example is a ``.. code-block:: python`` with a ``:name:`` option of the form
  ``faq-<example>-<variant>``, where ``<example>`` starts with the question's slug
  and ``<variant>`` is ``asyncio``, ``threading`` or ``legacy``. It must sit inside
  the ``.. tab::`` of its variant.
- The asyncio program is the source. For each of threading and legacy, the FAQ
  either includes the rule's output, ``.. literalinclude:: generated/<example>-
  <variant>.py`` with ``:lines: 4-`` (skipping the generated header), or gives a
  hand-written program: a code block with ``:class: hand-translated`` whose first
  line is ``# hand-translated: <why>``, which the docs show.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FAQ_PATH",
    "GENERATED_DIR",
    "GENERATED_LINES",
    "ROOT",
    "HAND_MARKER",
    "VARIANTS",
    "Example",
    "ExtractionError",
    "FaqSource",
    "Question",
    "extract",
    "parse",
]

ROOT = Path(__file__).resolve().parents[2]
FAQ_PATH = ROOT / "docs/faq/client.rst"
GENERATED_DIR = FAQ_PATH.parent / "generated"

VARIANTS = ("asyncio", "threading", "legacy")
"""The three spellings of every answer, in the order of the tabs."""

HAND_MARKER = "# hand-translated: "
"""First line of a hand-written variant: says why no rule applies."""

GENERATED_LINES = "4-"
"""``:lines:`` option of a generated include: skips the generated header."""

_LABEL = re.compile(r"^\.\. _faq-([a-z0-9]+(?:-[a-z0-9]+)*):\s*$")
_TAB = re.compile(r"^(\s*)\.\. tab::\s*(.*?)\s*$")
_DIRECTIVE = re.compile(
    r"^(\s*)\.\. (code-block|literalinclude|code|sourcecode)::(.*)$"
)
_OPTION = re.compile(r"^\s*:([a-z-]+):\s*(.*?)\s*$")
_NAME = re.compile(r"^faq-([a-z0-9]+(?:-[a-z0-9]+)*)-(asyncio|threading|legacy)$")


class ExtractionError(Exception):
    """The FAQ source breaks the convention that the matrix relies on."""


_Fail = Callable[[int, str], ExtractionError]


@dataclass(frozen=True)
class Example:
    """One program of the FAQ, in one variant.

    Attributes:
        example: The example's id, e.g. ``set-headers-remove``.
        variant: ``asyncio``, ``threading`` or ``legacy``.
        code: The program, dedented, ending with a newline.
        line: Line of the directive in the FAQ source (1-based).
        hand_translated: Written by hand rather than produced by rule.
    """

    example: str
    variant: str
    code: str
    line: int
    hand_translated: bool = False

    @property
    def name(self) -> str:
        """The ``:name:`` of the code block."""
        return f"faq-{self.example}-{self.variant}"


@dataclass(frozen=True)
class Include:
    """A ``literalinclude`` of a generated file, as found in the FAQ."""

    path: str
    variant: str | None
    lines: str | None
    line: int


@dataclass
class Question:
    """One section of the FAQ.

    Attributes:
        slug: The label without its ``faq-`` prefix, e.g. ``force-ip``.
        title: The section title.
        line: Line of the label (1-based).
        examples: Inline programs, keyed by (example id, variant).
        includes: Generated files that the section includes.
    """

    slug: str
    title: str
    line: int
    examples: dict[tuple[str, str], Example] = field(default_factory=dict)
    includes: list[Include] = field(default_factory=list)

    @property
    def example_ids(self) -> list[str]:
        """Ids of the section's asyncio programs, in order of appearance."""
        return [ex for (ex, variant) in self.examples if variant == "asyncio"]


@dataclass
class FaqSource:
    """The parsed FAQ: questions in order of appearance."""

    path: Path
    questions: dict[str, Question]

    def example(self, example: str, variant: str) -> Example:
        """The inline program ``example`` in ``variant``.

        Raises:
            KeyError: No such inline program (rule outputs are not inline).
        """
        for question in self.questions.values():
            if (example, variant) in question.examples:
                return question.examples[(example, variant)]
        raise KeyError(f"no inline program faq-{example}-{variant} in {self.path}")

    def question_of(self, example: str) -> Question:
        """The question that holds the asyncio program ``example``."""
        for question in self.questions.values():
            if (example, "asyncio") in question.examples:
                return question
        raise KeyError(f"no asyncio program faq-{example}-asyncio in {self.path}")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _read_directive(
    lines: list[str], start: int, indent: int
) -> tuple[dict[str, str], list[str], int]:
    """Options and body of the directive at ``start``; returns the next index."""
    options: dict[str, str] = {}
    index = start + 1
    while index < len(lines):
        line = lines[index]
        match = _OPTION.match(line)
        if line.strip() and _indent(line) > indent and match:
            options[match.group(1)] = match.group(2)
            index += 1
        else:
            break
    body: list[str] = []
    while index < len(lines):
        line = lines[index]
        if line.strip() and _indent(line) <= indent:
            break
        body.append(line)
        index += 1
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    return options, body, index


def parse(text: str, path: Path = FAQ_PATH) -> FaqSource:
    """Parse FAQ source text.

    Args:
        text: The reStructuredText of the FAQ.
        path: Where it comes from, for messages.

    Raises:
        ExtractionError: The text breaks the convention described in the module
            docstring; the message names the line and what to write instead.

    Returns:
        The questions and their programs.
    """
    lines = text.splitlines()
    questions: dict[str, Question] = {}
    current: Question | None = None
    tab: str | None = None
    tab_indent = -1

    def fail(lineno: int, message: str) -> ExtractionError:
        return ExtractionError(f"{path}:{lineno}: {message}")

    index = 0
    while index < len(lines):
        line = lines[index]
        lineno = index + 1
        if line.strip() and tab is not None and _indent(line) <= tab_indent:
            tab = None
        label = _LABEL.match(line)
        if label:
            slug = label.group(1)
            if slug in questions:
                raise fail(lineno, f"label faq-{slug} is defined twice")
            title_index = index + 1
            while title_index < len(lines) and not lines[title_index].strip():
                title_index += 1
            if title_index >= len(lines):
                raise fail(lineno, f"label faq-{slug} is not followed by a title")
            current = Question(slug, lines[title_index].strip(), lineno)
            questions[slug] = current
            tab = None
            index = title_index + 1
            continue
        tab_match = _TAB.match(line)
        if tab_match:
            tab, tab_indent = tab_match.group(2), len(tab_match.group(1))
            if tab not in VARIANTS:
                raise fail(lineno, f"unknown tab {tab!r}; use one of {VARIANTS}")
            index += 1
            continue
        directive = _DIRECTIVE.match(line)
        if not directive:
            index += 1
            continue
        indent, kind, argument = (
            len(directive.group(1)),
            directive.group(2),
            directive.group(3),
        )
        options, body, index = _read_directive(lines, index, indent)
        if kind == "literalinclude":
            include = Include(argument.strip(), tab, options.get("lines"), lineno)
            if current is None:
                raise fail(lineno, "literalinclude before the first faq- label")
            current.includes.append(include)
            continue
        language = argument.strip()
        if language != "python" or kind != "code-block":
            if current is not None:
                raise fail(
                    lineno,
                    f"'.. {kind}:: {language}' in a question: every program is a "
                    "'.. code-block:: python' with a ':name: faq-<example>-<variant>'",
                )
            continue
        if current is None:
            raise fail(lineno, "python code block before the first faq- label")
        name = options.get("name")
        if name is None:
            raise fail(
                lineno, "python code block without ':name: faq-<example>-<variant>'"
            )
        name_match = _NAME.match(name)
        if not name_match:
            raise fail(lineno, f"name {name!r} is not faq-<example>-<variant>")
        example, variant = name_match.group(1), name_match.group(2)
        if not (example == current.slug or example.startswith(current.slug + "-")):
            raise fail(
                lineno,
                f"example {name} is in question faq-{current.slug}: its name must "
                f"start with faq-{current.slug}",
            )
        if tab != variant:
            raise fail(lineno, f"example {name} must sit in '.. tab:: {variant}'")
        code = textwrap.dedent("\n".join(body)) + "\n"
        hand = "hand-translated" in options.get("class", "").split()
        if variant == "asyncio" and hand:
            raise fail(
                lineno, f"{name}: the asyncio program is the source, not a translation"
            )
        if variant != "asyncio":
            if not hand:
                raise fail(
                    lineno,
                    f"{name}: a {variant} program written in the FAQ replaces the "
                    "rule's output; mark it ':class: hand-translated' or include "
                    f"generated/{example}-{variant}.py instead",
                )
            if (
                not code.startswith(HAND_MARKER)
                or not code.splitlines()[0][len(HAND_MARKER) :].strip()
            ):
                raise fail(lineno, f"{name}: first line must be '{HAND_MARKER}<why>'")
        if (example, variant) in current.examples:
            raise fail(lineno, f"example {name} is defined twice")
        for other in questions.values():
            if other is not current and (example, variant) in other.examples:
                raise fail(lineno, f"example {name} is defined twice")
        current.examples[(example, variant)] = Example(
            example, variant, code, lineno, hand
        )
    source = FaqSource(path, questions)
    _check_variants(source, fail)
    return source


def _check_variants(source: FaqSource, fail: _Fail) -> None:
    """Every asyncio program has each other variant exactly once."""
    for question in source.questions.values():
        if not question.example_ids:
            raise fail(
                question.line,
                f"question faq-{question.slug} has no program "
                f"(':name: faq-{question.slug}-asyncio')",
            )
        included = {include.path: include for include in question.includes}
        for example in question.example_ids:
            for variant in VARIANTS[1:]:
                generated = f"generated/{example}-{variant}.py"
                hand = (example, variant) in question.examples
                include = included.pop(generated, None)
                if hand and include is not None:
                    raise fail(
                        include.line,
                        f"faq-{example}-{variant} is both hand-translated and "
                        f"included from {generated}: keep one",
                    )
                if not hand and include is None:
                    raise fail(
                        question.line,
                        f"faq-{example}-{variant} is missing: add '.. literalinclude:: "
                        f"{generated}' with ':lines: {GENERATED_LINES}' under "
                        f"'.. tab:: {variant}', or a hand-translated code block",
                    )
                if include is not None:
                    if include.variant != variant:
                        raise fail(
                            include.line,
                            f"{generated} must sit in '.. tab:: {variant}'",
                        )
                    if include.lines != GENERATED_LINES:
                        raise fail(
                            include.line,
                            f"{generated} needs ':lines: {GENERATED_LINES}' to skip "
                            "its generated header",
                        )
        for (example, variant), ex in question.examples.items():
            if variant != "asyncio" and example not in question.example_ids:
                raise fail(ex.line, f"{ex.name} has no faq-{example}-asyncio source")
        for path, include in included.items():
            raise fail(include.line, f"{path} is not the translation of any example")


def extract(path: Path = FAQ_PATH) -> FaqSource:
    """Parse the FAQ file at ``path`` (see :func:`parse`)."""
    return parse(path.read_text(encoding="utf-8"), path)
