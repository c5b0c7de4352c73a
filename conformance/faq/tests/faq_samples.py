"""Small FAQ sources for the harness's tests."""

from __future__ import annotations

__all__ = ["ASYNCIO_PROGRAM", "HAND_THREADING", "minimal_faq"]

ASYNCIO_PROGRAM = """\
import asyncio

from wskit.asyncio import connect


async def main():
    async with connect("ws://example.com/") as websocket:
        print(websocket.request.headers["Host"])
        print(websocket.response.headers["Server"])


asyncio.run(main())
"""

HAND_THREADING = """\
# hand-translated: written by hand for the test.
from wskit.threading import connect


def main():
    with connect("ws://example.com/") as websocket:
        print(websocket.request.headers["Host"])
        print(websocket.response.headers["Server"])


main()
"""


def _indent(code: str) -> str:
    return "".join(
        ("      " + line) if line.strip() else line for line in code.splitlines(True)
    )


def minimal_faq(
    *,
    slug: str = "access-headers",
    program: str = ASYNCIO_PROGRAM,
    hand_threading: str | None = None,
    threading_options: str = "      :class: hand-translated\n",
) -> str:
    """One question with one program, its legacy variant included by rule and its
    threading variant included by rule or written by hand."""
    if hand_threading is None:
        threading = (
            f"   .. literalinclude:: generated/{slug}-threading.py\n"
            "      :language: python\n"
            "      :lines: 4-\n"
        )
    else:
        threading = (
            "   .. code-block:: python\n"
            f"      :name: faq-{slug}-threading\n"
            f"{threading_options}\n"
            f"{_indent(hand_threading)}"
        )
    return (
        "Client FAQ\n==========\n\n"
        f".. _faq-{slug}:\n\n"
        "How do I access HTTP headers?\n"
        "-----------------------------\n\n"
        "Some prose.\n\n"
        ".. tab:: asyncio\n\n"
        "   .. code-block:: python\n"
        f"      :name: faq-{slug}-asyncio\n\n"
        f"{_indent(program)}\n"
        ".. tab:: threading\n\n"
        f"{threading}\n"
        ".. tab:: legacy\n\n"
        f"   .. literalinclude:: generated/{slug}-legacy.py\n"
        "      :language: python\n"
        "      :lines: 4-\n"
    )
