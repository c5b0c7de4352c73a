from __future__ import annotations

import pytest

from conformance.faq.translate import (
    LEGACY_RENAMES,
    TranslationError,
    to_legacy,
    to_threading,
    translate,
)

from .faq_samples import ASYNCIO_PROGRAM

EXTENSION = """\
import asyncio

from wskit.asyncio import ConnectionClosed, connect
from wskit.core.extensions.permessage_deflate import ClientPerMessageDeflateFactory


async def main():
    async for websocket in connect(
        "ws://example.com/",
        extensions=[ClientPerMessageDeflateFactory()],
        additional_headers={"Authorization": "Bearer x"},
    ):
        try:
            print(websocket.response.headers["Server"])
            print(await websocket.recv())
        except ConnectionClosed:
            continue


asyncio.run(main())
"""


def test_threading_rule_removes_the_event_loop() -> None:
    assert to_threading(ASYNCIO_PROGRAM) == (
        "from wskit.threading import connect\n"
        "\n\n"
        "def main():\n"
        '    with connect("ws://example.com/") as websocket:\n'
        '        print(websocket.request.headers["Host"])\n'
        '        print(websocket.response.headers["Server"])\n'
        "\n\n"
        "main()\n"
    )


def test_threading_rule_keeps_imports_sorted() -> None:
    result = to_threading(EXTENSION)
    assert result.startswith(
        "from wskit.core.extensions.permessage_deflate import "
        "ClientPerMessageDeflateFactory\n"
        "from wskit.threading import ConnectionClosed, connect\n"
    )
    assert "for websocket in connect(" in result
    assert "await" not in result


def test_threading_rule_refuses_leftover_asyncio_use() -> None:
    program = ASYNCIO_PROGRAM.replace(
        "asyncio.run(main())", "asyncio.run(main())\nprint(asyncio.__name__)"
    )
    with pytest.raises(TranslationError, match=r"asyncio\.__name__"):
        to_threading(program)


def test_threading_rule_refuses_event_loop_apis() -> None:
    program = ASYNCIO_PROGRAM.replace(
        '        print(websocket.request.headers["Host"])\n',
        "        loop = asyncio.get_running_loop()\n",
    )
    with pytest.raises(
        TranslationError, match="get_running_loop has no threading rule"
    ):
        to_threading(program)


def test_legacy_rule_imports_the_package_as_websockets() -> None:
    result = to_legacy(EXTENSION)
    assert "import wskit.legacy as websockets\n" in result
    assert "from wskit.asyncio" not in result
    assert "async for websocket in websockets.connect(" in result
    assert "except websockets.ConnectionClosed:" in result
    # Untouched: the core import, the loop, attribute names.
    assert "from wskit.core.extensions.permessage_deflate import" in result
    assert "asyncio.run(main())" in result


def test_legacy_rule_applies_the_rename_table_backwards() -> None:
    result = to_legacy(EXTENSION)
    assert "extra_headers={" in result
    assert "additional_headers" not in result
    assert 'websocket.response_headers["Server"]' in result
    assert to_legacy(ASYNCIO_PROGRAM).count("websocket.request_headers[") == 1


def test_legacy_rename_of_attribute_path_needs_an_object() -> None:
    program = ASYNCIO_PROGRAM.replace(
        '        print(websocket.request.headers["Host"])\n',
        '        request = websocket.request\n        print(request.headers["Host"])\n',
    )
    assert 'print(request.headers["Host"])' in to_legacy(program)


def test_legacy_rename_table_is_legacy_to_new() -> None:
    assert LEGACY_RENAMES["extra_headers"] == "additional_headers"
    assert LEGACY_RENAMES["request_headers"] == "request.headers"


def test_legacy_rule_refuses_import_as() -> None:
    program = ASYNCIO_PROGRAM.replace(
        "import connect", "import connect as open_connection"
    )
    with pytest.raises(TranslationError, match="has no legacy rule"):
        to_legacy(program)


def test_legacy_rule_refuses_plain_module_import() -> None:
    program = ASYNCIO_PROGRAM.replace(
        "from wskit.asyncio", "import wskit.asyncio\nfrom wskit.asyncio"
    )
    with pytest.raises(TranslationError, match=r"write 'from wskit\.asyncio import"):
        to_legacy(program)


def test_legacy_rule_refuses_a_program_using_the_alias() -> None:
    program = ASYNCIO_PROGRAM.replace(
        "import asyncio\n", "import asyncio\nwebsockets = 1\n"
    )
    with pytest.raises(TranslationError, match="already uses the name"):
        to_legacy(program)


def test_translate_dispatches_and_rejects_unknown_variants() -> None:
    assert translate(ASYNCIO_PROGRAM, "asyncio") == ASYNCIO_PROGRAM
    assert translate(ASYNCIO_PROGRAM, "threading") == to_threading(ASYNCIO_PROGRAM)
    with pytest.raises(ValueError, match="unknown variant"):
        translate(ASYNCIO_PROGRAM, "trio")
