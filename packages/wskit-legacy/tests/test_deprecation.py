"""Warnings: once per call site, at the caller's line, resettable."""

from __future__ import annotations

import warnings

import pytest

from wskit.legacy.deprecation import (
    LegacyDeprecationWarning,
    reset_warnings,
    warn_legacy,
)
from wskit.legacy.renames import Kind, lookup


@pytest.fixture(autouse=True)
def fresh_registry() -> None:
    reset_warnings()


def legacy_api() -> None:
    warn_legacy(Kind.KEYWORD, "extra_headers")


def test_points_at_the_caller() -> None:
    with pytest.warns(LegacyDeprecationWarning) as record:
        legacy_api()
    assert record[0].filename == __file__
    assert str(record[0].message) == lookup(Kind.KEYWORD, "extra_headers").message


def test_once_per_call_site() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            legacy_api()  # one site
        legacy_api()  # another site
    assert len(caught) == 2
    assert caught[0].lineno != caught[1].lineno


def test_reset_makes_sites_warn_again() -> None:
    with pytest.warns(LegacyDeprecationWarning):
        legacy_api()
    reset_warnings()
    with pytest.warns(LegacyDeprecationWarning):
        legacy_api()


def test_is_a_deprecation_warning() -> None:
    assert issubclass(LegacyDeprecationWarning, DeprecationWarning)


def test_unknown_spelling_is_a_bug() -> None:
    with pytest.raises(KeyError):
        warn_legacy(Kind.ATTRIBUTE, "no_such_attribute")
