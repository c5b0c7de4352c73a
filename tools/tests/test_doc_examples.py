from __future__ import annotations

from pathlib import Path

import pytest

from tools import doc_examples
from tools.doc_examples import (
    Example,
    ExampleError,
    Mode,
    Outcome,
    Status,
    classify,
    extract_examples,
    substitute,
)

DOC = """\
Title
=====

.. code-block:: python

   print("one")

   print("two")

Some text.

.. code-block:: console

   $ python -m wskit.asyncio ws://localhost:8765/

.. tab:: asyncio

   .. skip-example: needs a proxy

   .. code-block:: python
      :name: tabbed

      import asyncio

.. example-runs-forever: reconnects

.. code-block:: python

   while True:
       pass

.. literalinclude:: /examples/program.py
   :lines: 2-

.. literalinclude:: /examples/data.json
"""


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "program.py").write_text("# header\nprint('included')\n")
    (tmp_path / "examples" / "data.json").write_text("{}\n")
    return tmp_path


def test_extracts_python_blocks_in_order(docs: Path) -> None:
    examples = extract_examples(DOC, "docs/page.rst", docs)
    assert [e.line for e in examples] == [4, 20, 27, 32]
    assert examples[0].code == 'print("one")\n\nprint("two")\n'
    assert examples[0].mode is Mode.RUN


def test_block_inside_a_tab_is_dedented_and_keeps_its_marker(docs: Path) -> None:
    tabbed = extract_examples(DOC, "docs/page.rst", docs)[1]
    assert tabbed.code == "import asyncio\n"
    assert tabbed.mode is Mode.SKIP
    assert tabbed.reason == "needs a proxy"


def test_forever_marker(docs: Path) -> None:
    forever = extract_examples(DOC, "docs/page.rst", docs)[2]
    assert forever.mode is Mode.FOREVER
    assert forever.reason == "reconnects"


def test_literalinclude_python_only_with_lines(docs: Path) -> None:
    included = extract_examples(DOC, "docs/page.rst", docs)[3]
    assert included.code == "print('included')\n"


def test_marker_without_example_is_an_error(docs: Path) -> None:
    text = ".. skip-example: why\n\nA paragraph.\n"
    with pytest.raises(ExampleError, match=r"page\.rst:1: marker not followed"):
        extract_examples(text, "docs/page.rst", docs)


def test_marker_before_a_console_block_is_an_error(docs: Path) -> None:
    text = ".. skip-example: why\n\n.. code-block:: console\n\n   $ ls\n"
    with pytest.raises(ExampleError, match="marker not followed"):
        extract_examples(text, "docs/page.rst", docs)


def test_marker_needs_a_reason(docs: Path) -> None:
    with pytest.raises(ExampleError, match="needs a reason"):
        extract_examples(".. skip-example:\n", "docs/page.rst", docs)


def test_missing_include_is_an_error(docs: Path) -> None:
    with pytest.raises(ExampleError, match="no such file"):
        extract_examples(".. literalinclude:: /nope.py\n", "docs/page.rst", docs)


def test_directive_body_is_not_scanned_for_directives(docs: Path) -> None:
    text = (
        ".. code-block:: rst\n\n"
        "   .. code-block:: python\n\n"
        "      print('inside an rst sample')\n"
    )
    assert extract_examples(text, "docs/page.rst", docs) == []


def test_substitute() -> None:
    code = (
        'connect("ws://localhost:8765/")\n'
        'connect("wss://localhost:8765/path")\n'
        'connect("ws://alice:s3cr3t@localhost:8765/")\n'
        'connect("ws://example.com/")\n'
    )
    assert substitute(code, 1111, 2222) == (
        'connect("ws://127.0.0.1:1111/")\n'
        'connect("wss://127.0.0.1:2222/path")\n'
        'connect("ws://alice:s3cr3t@127.0.0.1:1111/")\n'
        'connect("ws://example.com/")\n'
    )


EXAMPLE = Example("docs/page.rst", 1, "pass\n")
FOREVER = Example("docs/page.rst", 1, "pass\n", Mode.FOREVER, "reconnects")


@pytest.mark.parametrize(
    ("example", "outcome", "status"),
    [
        (EXAMPLE, Outcome(0, "ok", ""), Status.PASSED),
        (EXAMPLE, Outcome(1, "", "boom"), Status.FAILED),
        (EXAMPLE, Outcome(-9, "", "", timed_out=True), Status.FAILED),
        (
            EXAMPLE,
            Outcome(0, "", "Traceback (most recent call last):\n  ..."),
            Status.FAILED,
        ),
        (EXAMPLE, Outcome(0, "", "--- Logging error ---"), Status.FAILED),
        (
            EXAMPLE,
            Outcome(
                1,
                "",
                "ImportError: cannot import name 'connect' from 'wskit.threading' "
                "(/x/__init__.py)\n",
            ),
            Status.UNAVAILABLE,
        ),
        (
            EXAMPLE,
            Outcome(1, "", "ModuleNotFoundError: No module named 'wskit.legacy.x'\n"),
            Status.UNAVAILABLE,
        ),
        (
            EXAMPLE,
            Outcome(
                1, "", "AttributeError: module 'wskit.legacy' has no attribute 'x'\n"
            ),
            Status.UNAVAILABLE,
        ),
        (
            EXAMPLE,
            Outcome(1, "", "ModuleNotFoundError: No module named 'requests'\n"),
            Status.FAILED,
        ),
        (FOREVER, Outcome(None, "", ""), Status.PASSED),
        (FOREVER, Outcome(0, "", ""), Status.PASSED),
        (FOREVER, Outcome(1, "", "error"), Status.FAILED),
        (
            FOREVER,
            Outcome(None, "", "Traceback (most recent call last):"),
            Status.FAILED,
        ),
    ],
)
def test_classify(example: Example, outcome: Outcome, status: Status) -> None:
    assert classify(example, outcome).status is status


def test_docs_examples_are_well_formed() -> None:
    # Every marker of the real docs is followed by an example.
    examples = doc_examples.find_examples()
    assert examples
    assert not any(e.source.startswith("docs/faq/") for e in examples)


def test_runs_examples_against_the_echo_servers(tmp_path: Path) -> None:
    page = tmp_path / "page.rst"
    page.write_text(
        ".. code-block:: python\n\n"
        "   import asyncio\n"
        "   from websockets.asyncio.client import connect\n\n"
        "   async def main():\n"
        '       async with connect("wss://localhost:8765/") as websocket:\n'
        '           await websocket.send("ping")\n'
        '           assert await websocket.recv() == "ping"\n\n'
        "   asyncio.run(main())\n\n"
        ".. code-block:: python\n\n"
        "   raise SystemExit(3)\n\n"
        ".. skip-example: not here\n\n"
        ".. code-block:: python\n\n"
        "   raise SystemExit(3)\n"
    )
    assert doc_examples.main([str(page), "--timeout", "20"]) == 1
    examples = doc_examples.find_examples([page])
    with doc_examples.Servers() as servers:
        statuses = [
            doc_examples.run_example(example, servers, timeout=20).status
            for example in examples
        ]
    assert statuses == [Status.PASSED, Status.FAILED, Status.SKIPPED]
