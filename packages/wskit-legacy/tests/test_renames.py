"""The table of renames: one row per spelling, messages, both directions, docs."""

from __future__ import annotations

import pytest

from wskit.legacy.renames import (
    DEPRECATED_SINCE,
    RENAMES,
    Kind,
    Rename,
    legacy_to_new,
    lookup,
    new_to_legacy,
    render_table,
)


def test_one_row_per_kind_and_name() -> None:
    keys = [(row.kind, row.legacy) for row in RENAMES]
    assert len(keys) == len(set(keys))
    for row in RENAMES:
        assert lookup(row.kind, row.legacy) is row


def test_lookup_of_an_unknown_spelling_fails() -> None:
    with pytest.raises(KeyError):
        lookup(Kind.KEYWORD, "no_such_argument")


@pytest.mark.parametrize("row", RENAMES, ids=lambda row: row.legacy)
def test_message_names_the_new_spelling_and_the_version(row: Rename) -> None:
    message = row.message
    assert f"deprecated since wskit {DEPRECATED_SINCE}" in message
    assert row.legacy in message
    assert (row.new in message) if row.new is not None else ("remove it" in message)


def test_import_rows_do_not_warn() -> None:
    assert {row.legacy for row in RENAMES if not row.warns} == {
        "websockets",
        "websockets.client",
        "websockets.exceptions",
    }


def test_legacy_to_new() -> None:
    renames = legacy_to_new()
    assert renames["extra_headers"] == "additional_headers"
    assert renames["request_headers"] == "request.headers"
    assert renames["response_headers"] == "response.headers"
    assert renames["InvalidStatusCode"] == "InvalidStatus"
    assert "loop" not in renames  # removed without replacement
    assert legacy_to_new([Kind.KEYWORD]) == {
        "extra_headers": "additional_headers",
        "timeout": "close_timeout",
        "create_protocol": "create_connection",
        "klass": "create_connection",
    }


def test_new_to_legacy_prefers_the_newer_legacy_name() -> None:
    reverse = new_to_legacy()
    assert reverse["additional_headers"] == "extra_headers"
    assert reverse["request.headers"] == "request_headers"
    assert reverse["create_connection"] == "create_protocol"
    assert reverse["close_timeout"] == "timeout"
    # Every forward entry round-trips where the new spelling is unique.
    forward = legacy_to_new()
    for new, legacy in reverse.items():
        assert forward[legacy] == new or legacy in ("headers",)


def test_render_rst() -> None:
    table = render_table("rst")
    assert table.startswith(".. list-table::")
    assert "   * - ``extra_headers=``\n     - ``additional_headers=``" in table
    assert "*(removed)*" in table
    assert table.count("   * - ") == len(RENAMES) + 1


def test_render_markdown() -> None:
    table = render_table("markdown")
    lines = table.splitlines()
    assert lines[0].startswith("| Legacy spelling | New spelling |")
    assert len(lines) == len(RENAMES) + 2
    assert "| `extra_headers=` | `additional_headers=` | keyword argument | yes |" in (
        table
    )


def test_render_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown table format"):
        render_table("html")
