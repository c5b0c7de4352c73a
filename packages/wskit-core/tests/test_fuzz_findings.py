"""Inputs that the fuzz targets once failed on, replayed through the same targets.

Each finding is minimized and kept here with the target that found it, so that the
properties the fuzzers check (no exception escapes, split invariance) are checked on
it in every test run, with or without atheris.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from types import ModuleType

import pytest

from wskit.core.protocol import ClientProtocol, State

HERE = Path(__file__).parent


def load_target(name: str) -> ModuleType:
    # The targets are scripts beside this file, not an importable package.
    spec = importlib.util.spec_from_file_location(f"wskit_{name}", HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FINDINGS = [
    # A text frame with RSV3 set and an invalid UTF-8 payload: validating the
    # partial frame reported 1007 when it arrived in pieces, while the whole frame
    # reported 1002 (reserved bits). Fixed in ClientProtocol._check_partial_text.
    pytest.param("fuzz_frames", b"\x91\x02\xff\xff", id="rsv3-partial-text"),
    pytest.param("fuzz_frames", b"\xa1\x02\xff\xff", id="rsv2-partial-text"),
    pytest.param("fuzz_frames", b"\x01\x01a\xb0\x02\xff\xff", id="rsv-continuation"),
    # With permessage-deflate (odd first byte): a compressed message, then the
    # start of an uncompressed text frame with invalid UTF-8. Its partial payload
    # went unvalidated (1006 at EOF) when the compressed message had gone through
    # the general parser, which left _in_compressed set, and was refused with 1007
    # when it had gone through the whole-message fast path.
    pytest.param(
        "fuzz_frames", b"\xc1\x01\x01\x01\x02\xc1", id="stale-compressed-flag"
    ),
]


@pytest.mark.parametrize(("target", "data"), FINDINGS)
def test_finding(target: str, data: bytes) -> None:
    load_target(target).fuzz_one_input(data)


@pytest.mark.parametrize("chunk", [1, 2, 3, 4])
def test_reserved_bits_win_over_utf8_in_any_split(chunk: int) -> None:
    # The reserved-bit error is the one the whole frame gets; the pieces must agree.
    data = b"\x91\x02\xff\xff"
    protocol = ClientProtocol("ws://fuzz/", state=State.OPEN)
    for start in range(0, len(data), chunk):
        protocol.receive_data(data[start : start + chunk])
    # The client's close frame is masked: unmask it to read the code.
    (sent,) = protocol.data_to_send()
    key, payload = sent[2:6], sent[6:]
    unmasked = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
    assert struct.unpack_from("!H", unmasked) == (1002,)
    assert unmasked[2:] == b"reserved bits must be 0"
    assert protocol.failure is not None
    assert str(protocol.failure) == "reserved bits must be 0"
