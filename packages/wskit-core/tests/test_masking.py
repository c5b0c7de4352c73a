"""Tests for wskit.core.masking: the C speed-up and its pure-Python twin.

Every behavioural test runs on both implementations in the same run, so the two
cannot drift apart. The C one is skipped only when it was not built; CI builds
with ``WSKIT_REQUIRE_EXTENSIONS=1``, and then a missing extension is a failure.
"""

from __future__ import annotations

import array
import importlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wskit.core import masking
from wskit.core.masking import IMPLEMENTATION, apply_mask, apply_mask_python

__all__: list[str] = []

MaskFunction = Callable[[bytes | bytearray | memoryview, bytes], bytes]

try:
    _speedups = importlib.import_module("wskit.core._speedups")
except ImportError as exc:
    _c_apply_mask: MaskFunction | None = None
    _c_import_error = f"{type(exc).__name__}: {exc}"
else:
    _c_apply_mask = _speedups.apply_mask
    _c_import_error = ""

_C_MISSING = pytest.mark.skipif(
    _c_apply_mask is None,
    reason=(
        "the C extension wskit.core._speedups is not built (no compiler, or "
        f"WSKIT_NO_EXTENSIONS=1 at build time): {_c_import_error}"
    ),
)

IMPLEMENTATIONS = [
    pytest.param(_c_apply_mask, id="c", marks=_C_MISSING),
    pytest.param(apply_mask_python, id="python"),
]

both = pytest.mark.parametrize("mask_fn", IMPLEMENTATIONS)


def naive(data: bytes, mask: bytes) -> bytes:
    """RFC 6455 section 5.3, word for word: j = i MOD 4, octet i XOR key octet j."""
    return bytes(octet ^ mask[i % 4] for i, octet in enumerate(data))


def reference_large(data: bytes, mask: bytes) -> bytes:
    """A reference for large inputs, by big-integer XOR rather than per byte."""
    n = len(data)
    repeated = (mask * (n // 4 + 1))[:n]
    xored = int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")
    return xored.to_bytes(n, "big")


def pattern(n: int) -> bytes:
    """Deterministic, non-periodic-by-4 test data of length n."""
    return bytes((i * 7 + (i >> 8) * 13 + 1) & 0xFF for i in range(n))


MASK = bytes.fromhex("37fa213d")


# Known vectors


@both
def test_rfc_6455_section_5_7_example(mask_fn: MaskFunction) -> None:
    # RFC 6455 section 5.7: a single-frame masked text message containing "Hello".
    assert mask_fn(b"Hello", MASK) == bytes.fromhex("7f9f4d5158")
    assert mask_fn(bytes.fromhex("7f9f4d5158"), MASK) == b"Hello"


@both
def test_empty_input(mask_fn: MaskFunction) -> None:
    assert mask_fn(b"", MASK) == b""
    assert type(mask_fn(b"", MASK)) is bytes


@both
def test_zero_mask_is_identity(mask_fn: MaskFunction) -> None:
    data = pattern(1000)
    assert mask_fn(data, b"\x00\x00\x00\x00") == data


@both
def test_all_ones_mask_inverts(mask_fn: MaskFunction) -> None:
    data = pattern(2000)
    assert mask_fn(data, b"\xff\xff\xff\xff") == bytes(b ^ 0xFF for b in data)


@both
def test_mask_phase_restarts_at_offset_zero(mask_fn: MaskFunction) -> None:
    assert mask_fn(bytes(9), b"\x01\x02\x03\x04") == bytes([1, 2, 3, 4] * 2 + [1])


# Every length near the block sizes of both implementations: the 4/8/16/32-byte
# blocks and tails of the C loop, and the switch-over of the Python twin.
LENGTHS = sorted(
    {*range(80), *range(1000, 1050), 4095, 4096, 4097, 65535, 65536, 65537}
)


@both
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 15, 17, 31, 33, 1023, 1024, 1025])
def test_lengths_against_naive(mask_fn: MaskFunction, n: int) -> None:
    data = pattern(n)
    assert mask_fn(data, MASK) == naive(data, MASK)


@both
def test_every_length_near_block_sizes(mask_fn: MaskFunction) -> None:
    data = pattern(max(LENGTHS))
    for n in LENGTHS:
        chunk = data[:n]
        assert mask_fn(chunk, MASK) == reference_large(chunk, MASK), n


# Input types


@both
@pytest.mark.parametrize("n", [0, 7, 100, 1024, 5000])
def test_bytearray_and_memoryview_inputs(mask_fn: MaskFunction, n: int) -> None:
    data = pattern(n)
    expected = naive(data, MASK)
    assert mask_fn(bytearray(data), MASK) == expected
    assert mask_fn(memoryview(data), MASK) == expected
    assert mask_fn(memoryview(bytearray(data)), MASK) == expected


@both
@pytest.mark.parametrize("n", [3, 100, 5000])
def test_memoryview_slice_at_odd_offset(mask_fn: MaskFunction, n: int) -> None:
    # A view starting at an unaligned address: the C loads must not assume
    # alignment, and the mask phase follows the view, not the underlying buffer.
    backing = pattern(n + 3)
    view = memoryview(backing)[3:]
    assert mask_fn(view, MASK) == naive(backing[3:], MASK)


@both
def test_memoryview_of_wider_items_masks_raw_bytes(mask_fn: MaskFunction) -> None:
    items = array.array("I", range(300))
    raw = items.tobytes()
    assert mask_fn(memoryview(items), MASK) == naive(raw, MASK)


@both
def test_non_contiguous_memoryview_is_rejected(mask_fn: MaskFunction) -> None:
    with pytest.raises(BufferError):
        mask_fn(memoryview(pattern(16))[::2], MASK)


@both
@pytest.mark.parametrize(
    "mask", [bytearray(MASK), memoryview(MASK)], ids=["bytearray", "memoryview"]
)
def test_mask_may_be_any_bytes_like(mask_fn: MaskFunction, mask: bytes) -> None:
    assert mask_fn(b"Hello", mask) == bytes.fromhex("7f9f4d5158")


@both
@pytest.mark.parametrize("n", [0, 10, 4000])
def test_returns_new_bytes_and_leaves_input_alone(
    mask_fn: MaskFunction, n: int
) -> None:
    data = bytearray(pattern(n))
    before = bytes(data)
    result = mask_fn(data, MASK)
    assert type(result) is bytes
    assert data == before


# Errors


@both
@pytest.mark.parametrize("length", [0, 1, 3, 5, 8])
def test_bad_mask_length(mask_fn: MaskFunction, length: int) -> None:
    with pytest.raises(ValueError, match=f"exactly 4 bytes long, got {length} bytes"):
        mask_fn(b"Hello", bytes(length))


@both
def test_mask_not_bytes_like(mask_fn: MaskFunction) -> None:
    with pytest.raises(TypeError):
        mask_fn(b"Hello", "abcd")  # type: ignore[arg-type]


@both
@pytest.mark.parametrize("data", ["text", 1234, None])
def test_data_not_bytes_like(mask_fn: MaskFunction, data: object) -> None:
    with pytest.raises(TypeError):
        mask_fn(data, MASK)  # type: ignore[arg-type]


@both
def test_wrong_number_of_arguments(mask_fn: MaskFunction) -> None:
    with pytest.raises(TypeError):
        mask_fn(b"Hello")  # type: ignore[call-arg]


# Large inputs


@both
def test_one_mebibyte(mask_fn: MaskFunction) -> None:
    data = os.urandom(1 << 20) + b"xyz"
    masked = mask_fn(data, MASK)
    assert masked == reference_large(data, MASK)
    assert mask_fn(masked, MASK) == data


@both
def test_large_inputs_from_several_threads(mask_fn: MaskFunction) -> None:
    # The C version releases the GIL above 64 KiB: results must not mix.
    inputs = [os.urandom((1 << 18) + i) for i in range(4)]
    masks = [bytes([i, i + 1, i + 2, i + 3]) for i in range(4)]
    results: list[bytes] = [b""] * 4

    def work(i: int) -> None:
        for _ in range(3):
            results[i] = mask_fn(inputs[i], masks[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(4):
        assert results[i] == reference_large(inputs[i], masks[i])


# Properties

masks = st.binary(min_size=4, max_size=4)
payloads = st.binary(max_size=3000)


@pytest.mark.property
@both
@given(data=payloads, mask=masks)
def test_masking_twice_is_identity(
    mask_fn: MaskFunction, data: bytes, mask: bytes
) -> None:
    assert mask_fn(mask_fn(data, mask), mask) == data


@pytest.mark.property
@both
@given(data=payloads, mask=masks)
def test_equals_naive_reference(
    mask_fn: MaskFunction, data: bytes, mask: bytes
) -> None:
    assert mask_fn(data, mask) == naive(data, mask)


@pytest.mark.property
@_C_MISSING
@given(data=payloads, mask=masks, start=st.integers(0, 7))
def test_c_equals_python(data: bytes, mask: bytes, start: int) -> None:
    assert _c_apply_mask is not None
    view = memoryview(data)[start:]
    assert _c_apply_mask(view, mask) == apply_mask_python(view, mask)


# Selection of the implementation


def test_require_extensions() -> None:
    # CI builds with WSKIT_REQUIRE_EXTENSIONS=1 and runs the tests with it set:
    # then the C path must really be there and really be the one in use.
    if os.environ.get("WSKIT_REQUIRE_EXTENSIONS") != "1":
        pytest.skip("WSKIT_REQUIRE_EXTENSIONS=1 is not set")
    assert _c_apply_mask is not None, (
        "WSKIT_REQUIRE_EXTENSIONS=1 but wskit.core._speedups cannot be imported "
        f"({_c_import_error}); rebuild wskit-core with a C compiler"
    )
    if os.environ.get("WSKIT_NO_EXTENSIONS") != "1":
        assert IMPLEMENTATION == "c"


def test_implementation_matches_active_function() -> None:
    assert IMPLEMENTATION in ("c", "python")
    if IMPLEMENTATION == "c":
        assert apply_mask is _c_apply_mask
    else:
        assert apply_mask is apply_mask_python
    if os.environ.get("WSKIT_NO_EXTENSIONS") == "1":
        assert IMPLEMENTATION == "python"
    elif _c_apply_mask is not None:
        assert IMPLEMENTATION == "c"


def _implementation_in_subprocess(no_extensions: str | None) -> str:
    env = dict(os.environ)
    env.pop("WSKIT_NO_EXTENSIONS", None)
    if no_extensions is not None:
        env["WSKIT_NO_EXTENSIONS"] = no_extensions
    # Make the child import the same wskit.core as this process, installed or not.
    source_root = str(Path(masking.__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(
        [source_root, *filter(None, [env.get("PYTHONPATH")])]
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from wskit.core.masking import IMPLEMENTATION; print(IMPLEMENTATION)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def test_no_extensions_switch_selects_python() -> None:
    assert _implementation_in_subprocess("1") == "python"


@pytest.mark.parametrize("value", [None, "0", ""])
def test_c_is_used_without_the_switch(value: str | None) -> None:
    expected = "python" if _c_apply_mask is None else "c"
    assert _implementation_in_subprocess(value) == expected
