from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from conformance.faq.extract import parse
from conformance.faq.generate import (
    GenerationError,
    check_scenarios,
    expected_files,
    generate,
)
from conformance.faq.scenarios import SCENARIOS

from .faq_samples import minimal_faq

COVERED: Mapping[str, Iterable[str]] = {"access-headers": ("access-headers",)}


@pytest.fixture
def faq(tmp_path: Path) -> Path:
    path = tmp_path / "client.rst"
    path.write_text(minimal_faq(), encoding="utf-8")
    return path


def run(
    faq: Path, *, check: bool, scenarios: Mapping[str, Iterable[str]] = COVERED
) -> tuple[int, str]:
    out = io.StringIO()
    status = generate(
        check=check,
        faq_path=faq,
        directory=faq.parent / "generated",
        scenarios=scenarios,
        out=out,
    )
    return status, out.getvalue()


def test_generate_writes_rule_outputs_then_check_passes(faq: Path) -> None:
    assert run(faq, check=True)[0] == 1
    assert run(faq, check=False)[0] == 0
    written = sorted(p.name for p in (faq.parent / "generated").iterdir())
    assert written == ["access-headers-legacy.py", "access-headers-threading.py"]
    threading = (faq.parent / "generated/access-headers-threading.py").read_text()
    # The docs include it from line 4: the header is exactly three lines.
    assert threading.splitlines()[3] == "from wskit.threading import connect"
    assert run(faq, check=True) == (0, "faq: 2 generated programs are current\n")


def test_check_reports_a_stale_file_with_its_diff(faq: Path) -> None:
    run(faq, check=False)
    faq.write_text(minimal_faq().replace('"Server"', '"Date"'), encoding="utf-8")
    status, output = run(faq, check=True)
    assert status == 1
    assert "access-headers-threading.py is stale" in output
    assert '+        print(websocket.response.headers["Date"])' in output


def test_check_reports_a_leftover_file(faq: Path) -> None:
    run(faq, check=False)
    (faq.parent / "generated/gone-threading.py").write_text("", encoding="utf-8")
    status, output = run(faq, check=True)
    assert status == 1
    assert "gone-threading.py is not generated from any FAQ program" in output
    assert run(faq, check=False)[0] == 0
    assert not (faq.parent / "generated/gone-threading.py").exists()


def test_hand_translated_variant_is_not_generated(faq: Path) -> None:
    from .faq_samples import HAND_THREADING

    source = parse(minimal_faq(hand_threading=HAND_THREADING), faq)
    assert [p.name for p in expected_files(source, faq.parent)] == [
        "access-headers-legacy.py"
    ]


def test_question_without_scenario_fails_generation(faq: Path) -> None:
    status, output = run(faq, check=False, scenarios={})
    assert status == 1
    assert "question faq-access-headers" in output
    assert "has no scenario" in output
    assert not (faq.parent / "generated").exists()


def test_program_not_run_by_its_scenario_fails_generation(faq: Path) -> None:
    source = parse(minimal_faq(), faq)
    with pytest.raises(GenerationError, match="is not run by the scenario"):
        check_scenarios(source, {"access-headers": ()})


def test_scenario_without_question_fails_generation(faq: Path) -> None:
    source = parse(minimal_faq(), faq)
    with pytest.raises(GenerationError, match="scenario 'extra' has no question"):
        check_scenarios(source, {**COVERED, "extra": ()})


def test_repository_generated_programs_are_current() -> None:
    out = io.StringIO()
    assert generate(check=True, out=out) == 0, out.getvalue()


def test_every_question_of_the_repository_faq_has_a_scenario() -> None:
    from conformance.faq.extract import extract

    check_scenarios(extract(), {slug: s.examples for slug, s in SCENARIOS.items()})
