from __future__ import annotations

import pytest

from conformance.faq.extract import (
    FAQ_PATH,
    VARIANTS,
    ExtractionError,
    extract,
    parse,
)

from .faq_samples import ASYNCIO_PROGRAM, HAND_THREADING, minimal_faq


def test_minimal_faq_gives_its_program_verbatim() -> None:
    source = parse(minimal_faq())
    (question,) = source.questions.values()
    assert question.slug == "access-headers"
    assert question.title == "How do I access HTTP headers?"
    assert question.example_ids == ["access-headers"]
    example = source.example("access-headers", "asyncio")
    assert example.code == ASYNCIO_PROGRAM
    assert example.name == "faq-access-headers-asyncio"
    assert not example.hand_translated


def test_hand_translated_variant_is_extracted() -> None:
    source = parse(minimal_faq(hand_threading=HAND_THREADING))
    example = source.example("access-headers", "threading")
    assert example.hand_translated
    assert example.code == HAND_THREADING


def test_real_faq_every_question_has_every_variant() -> None:
    source = extract(FAQ_PATH)
    assert len(source.questions) >= 8
    for question in source.questions.values():
        assert question.example_ids, question.slug
        for example in question.example_ids:
            for variant in VARIANTS[1:]:
                hand = (example, variant) in question.examples
                included = f"generated/{example}-{variant}.py" in {
                    include.path for include in question.includes
                }
                assert hand != included, (example, variant)


def test_code_block_without_name_is_rejected() -> None:
    text = minimal_faq().replace("      :name: faq-access-headers-asyncio\n", "")
    with pytest.raises(ExtractionError, match="without ':name:"):
        parse(text)


def test_name_must_start_with_the_question_slug() -> None:
    text = minimal_faq().replace(
        ":name: faq-access-headers-asyncio", ":name: faq-x-asyncio"
    )
    with pytest.raises(ExtractionError, match="must start with faq-access-headers"):
        parse(text)


def test_example_must_sit_in_its_tab() -> None:
    text = minimal_faq(hand_threading=HAND_THREADING).replace(
        ":name: faq-access-headers-threading", ":name: faq-access-headers-legacy"
    )
    with pytest.raises(ExtractionError, match=r"must sit in '\.\. tab:: legacy'"):
        parse(text)


def test_hand_variant_needs_the_class() -> None:
    text = minimal_faq(hand_threading=HAND_THREADING, threading_options="")
    with pytest.raises(ExtractionError, match="hand-translated"):
        parse(text)


def test_hand_variant_needs_the_visible_marker() -> None:
    unmarked = HAND_THREADING.split("\n", 1)[1]
    with pytest.raises(ExtractionError, match="first line must be"):
        parse(minimal_faq(hand_threading=unmarked))


def test_missing_variant_is_rejected() -> None:
    text = minimal_faq().replace(
        "   .. literalinclude:: generated/access-headers-legacy.py\n", ""
    )
    with pytest.raises(ExtractionError, match="faq-access-headers-legacy is missing"):
        parse(text)


def test_generated_include_needs_lines_option() -> None:
    text = minimal_faq().replace("      :lines: 4-\n", "", 1)
    with pytest.raises(ExtractionError, match=":lines: 4-"):
        parse(text)


def test_question_without_program_is_rejected() -> None:
    text = minimal_faq() + "\n.. _faq-empty:\n\nWhat now?\n---------\n\nProse only.\n"
    with pytest.raises(ExtractionError, match="question faq-empty has no program"):
        parse(text)


def test_other_code_in_a_question_is_rejected() -> None:
    text = minimal_faq() + "\n.. code-block:: console\n\n   $ python app.py\n"
    with pytest.raises(ExtractionError, match="code-block:: console"):
        parse(text)
