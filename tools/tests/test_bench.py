"""tools.bench: the pure parts (statistics, formatting, JSON, frames), then real
clients in real worker processes against a real echo server process.

Nothing here asserts a speed: only counts, echoes and the shape of the reports.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tools.bench.clients import BASELINE, CLIENTS, by_name
from tools.bench.clients.raw import FrameCutter, mask_frame
from tools.bench.report import (
    SCHEMA,
    Results,
    Sample,
    format_ratio,
    format_value,
    markdown,
    median,
    rst,
    to_json,
)
from tools.bench.scenarios import (
    PAYLOAD_VARIANTS,
    SCENARIOS,
    SIZES,
    by_id,
    payloads,
    select,
    stream_batch,
)
from tools.bench.server import ServerProcess
from tools.bench.worker import Worker

# Hang guard for one request to a worker process (not a timing assertion).
REQUEST_TIMEOUT = 120.0

ENV = {
    "python": "3.11.7",
    "implementation": "CPython",
    "platform": "Linux",
    "cpu_model": "Test CPU",
    "cpu_count": 2,
    "versions": {},
}


# Statistics and formatting.


def test_median_of_odd_and_even_counts() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([7.0]) == 7.0


def test_median_of_nothing_raises() -> None:
    with pytest.raises(ValueError, match="no values"):
        median([])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (33_600, "33.6k"),
        (1_540, "1.54k"),
        (79_000, "79k"),
        (339_000, "339k"),
        (1_230_000, "1.23M"),
        (999_999, "1M"),
        (950, "950"),
        (11.6, "11.6"),
        (0.5, "0.5"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_format_ratio() -> None:
    assert format_ratio(1.0) == "(1.00)"
    assert format_ratio(1.5749) == "(1.57)"
    assert format_ratio(None) == ""


# Scenarios and payloads.


def test_scenario_ids_are_unique_and_cover_the_grid() -> None:
    ids = [scenario.id for scenario in SCENARIOS]
    assert len(ids) == len(set(ids))
    # request/response and stream, every size, text and binary, deflate off/on.
    assert len(ids) == 2 * len(SIZES) * 2 * 2 + 2
    assert by_id("rr-16-text").label == "request/response 16 B text"
    assert by_id("stream-1m-binary-deflate").label == "stream 1 MiB binary deflate"
    assert by_id("stream-64k-text").size == 64 * 1024


def test_select_by_pattern_keeps_table_order() -> None:
    chosen = select(["stream-16-*", "rr-16-text"])
    assert [s.id for s in chosen] == [
        "rr-16-text",
        "stream-16-text",
        "stream-16-binary",
        "stream-16-text-deflate",
        "stream-16-binary-deflate",
    ]


def test_select_refuses_a_pattern_that_matches_nothing() -> None:
    with pytest.raises(ValueError, match="matches no scenario"):
        select(["rr-17-text"])


def test_unknown_scenario_and_client_name_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="rr-16-text"):
        by_id("nope")
    with pytest.raises(KeyError, match="wskit-asyncio"):
        by_name("nope")


@pytest.mark.parametrize("size", SIZES)
def test_payloads_are_str_or_bytes_of_the_exact_size_and_distinct(size: int) -> None:
    for text in (True, False):
        variants = payloads(size, text)
        assert len(variants) == PAYLOAD_VARIANTS
        assert len(set(variants)) == PAYLOAD_VARIANTS
        for payload in variants:
            assert type(payload) is (str if text else bytes)
            assert len(payload) == size
            if isinstance(payload, str):
                assert payload.isascii()


def test_stream_batches_bound_the_bytes_in_flight() -> None:
    assert stream_batch(16) == 1000
    assert stream_batch(1024) == 1000
    assert stream_batch(64 * 1024) == 16
    assert stream_batch(1024 * 1024) == 2


# The raw clients' framing.


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70000])
def test_frame_cutter_cuts_server_frames_fed_byte_by_byte(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    # Server frames are unmasked: FIN + binary, then the length encoding.
    if size < 126:
        header = bytes([0x82, size])
    elif size < 65536:
        header = bytes([0x82, 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x82, 127]) + size.to_bytes(8, "big")
    stream = (header + payload) * 2 + b"\x88\x02\x03\xe8"
    cutter = FrameCutter()
    got: list[bytes] = []
    step = 1 if size < 1000 else 997
    for start in range(0, len(stream), step):
        got += cutter.feed(stream[start : start + step])
    assert got == [payload, payload]
    assert cutter.closed
    assert not cutter.buffer


def test_masked_frame_unmasks_to_the_payload() -> None:
    payload = b"hello, masked world" * 10
    frame = mask_frame(2, payload)
    assert frame[0] == 0x82
    assert frame[1] == 0x80 | 126
    key = frame[4:8]
    body = frame[8:]
    assert bytes(b ^ key[i % 4] for i, b in enumerate(body)) == payload


# Reports.


def _results() -> Results:
    clients = [by_name("wskit-asyncio"), by_name(BASELINE), by_name("picows")]
    scenarios = [by_id("rr-16-text"), by_id("rr-16-text-deflate"), by_id("rss")]
    results = Results(scenarios, clients, {"rounds": 3, "duration": 0.5}, ENV)
    rr, deflate, rss = scenarios
    wskit, baseline, picows = clients
    for round_, (mine, theirs) in enumerate([(500, 400), (600, 300), (700, 350)]):
        results.add(rr, wskit, Sample(round_ + 1, mine, wall=0.01, cpu=0.005))
        results.add(rr, baseline, Sample(round_ + 1, theirs, wall=0.01, cpu=0.008))
        results.add(deflate, baseline, Sample(round_ + 1, 100, wall=0.1, cpu=0.1))
        results.add(
            rss, wskit, Sample(round_ + 1, 100, rss_before=1 << 20, rss_after=2 << 20)
        )
        results.add(
            rss, baseline, Sample(round_ + 1, 100, rss_before=0, rss_after=4 << 20)
        )
    results.add(rr, picows, Sample(1, 900, wall=0.01, cpu=0.004))
    results.fail(deflate, wskit, "Traceback ...\nEchoError: echo 0 is wrong")
    return results


def test_medians_and_ratios_to_the_baseline() -> None:
    results = _results()
    rr, _, rss = results.scenarios
    wskit, baseline, picows = results.clients
    assert results.value(rr, wskit) == 60_000  # median of 50k, 60k, 70k msg/s
    assert results.value(rr, baseline) == 35_000
    assert results.ratio(rr, baseline) == 1.0
    assert results.ratio(rr, wskit) == pytest.approx(60 / 35)
    assert results.ratio(rr, picows) == pytest.approx(90 / 35)
    assert results.cpu_us(rr, wskit) == pytest.approx(5000 / 600)  # median µs
    assert results.value(rss, wskit) == pytest.approx(10.24)  # 1 MiB / 100
    assert results.ratio(rss, wskit) == pytest.approx(0.25)
    assert results.cpu_us(rss, wskit) is None


def test_markdown_table_shows_values_ratios_failures_and_gaps() -> None:
    table = markdown(_results())
    lines = table.splitlines()
    assert "| scenario | wskit.asyncio | websockets asyncio | picows |" in lines
    rr_row = next(
        line for line in lines if line.startswith("| request/response 16 B text (")
    )
    assert "60k (1.71), 8.33 µs" in rr_row
    assert "35k (1.00), 22.9 µs" in rr_row
    assert "90k (2.57), 4.44 µs" in rr_row
    deflate_row = next(line for line in lines if "text deflate" in line)
    assert deflate_row.split(" | ")[1:] == ["FAILED", "1k (1.00), 1 ms", "n/a |"]
    assert "- wskit-asyncio, rr-16-text-deflate: EchoError: echo 0 is wrong" in lines
    assert "Test CPU (2 CPUs)" in table


def test_a_busy_machine_is_said_in_both_tables() -> None:
    results = _results()
    assert "busy" not in markdown(results)
    results.environment = {**ENV, "load_average": [3.5, 2.0, 1.0]}
    results.settings["load_average_end"] = 3.1
    for text in (markdown(results), rst(results)):
        assert "**The machine was busy** (load average 3.50 at the start, 3.1" in text


def test_rst_table_lists_every_client_with_ratios() -> None:
    text = rst(_results())
    assert ".. list-table::" in text
    for label in ("wskit.asyncio", "websockets asyncio", "picows"):
        assert f"     - {label}" in text or f"   * - Scenario\n     - {label}" in text
    assert "     - 60k (1.71)" in text
    assert "     - 10.2 KiB (0.25)" in text
    assert "Test CPU (2 CPUs)" in text
    # No CPU time in the documentation's table: value and ratio only.
    assert "µs" not in text


def test_json_has_every_sample_median_and_the_environment() -> None:
    document = json.loads(json.dumps(to_json(_results())))
    assert document["schema"] == SCHEMA
    assert document["baseline"] == BASELINE
    assert document["environment"] == ENV
    assert document["settings"] == {"rounds": 3, "duration": 0.5}
    assert [c["name"] for c in document["clients"]] == [
        "wskit-asyncio",
        BASELINE,
        "picows",
    ]
    assert all(isinstance(c["version"], str) for c in document["clients"])
    scenario_keys = {"id", "label", "kind", "size", "text", "deflate", "unit"}
    assert all(set(s) == scenario_keys for s in document["scenarios"])
    result_keys = {
        "scenario",
        "client",
        "median",
        "unit",
        "ratio",
        "cpu_us_median",
        "error",
        "samples",
    }
    cells = {(r["scenario"], r["client"]): r for r in document["results"]}
    assert all(set(r) == result_keys for r in cells.values())
    rr = cells["rr-16-text", "wskit-asyncio"]
    assert rr["median"] == 60_000
    assert rr["unit"] == "msg/s"
    assert [s["count"] for s in rr["samples"]] == [500, 600, 700]
    assert set(rr["samples"][0]) == {
        "round",
        "count",
        "wall",
        "cpu",
        "rss_before",
        "rss_after",
    }
    failed = cells["rr-16-text-deflate", "wskit-asyncio"]
    assert failed["median"] is None
    assert "EchoError" in failed["error"]


# Real clients, real server, real worker processes.


def _measure(worker: Worker, scenario: str, url: str) -> dict[str, Any]:
    return worker.request(
        {
            "op": "measure",
            "scenario": scenario,
            "url": url,
            "duration": 0.02,
            "warmup": 0.01,
        },
        REQUEST_TIMEOUT,
    )


@pytest.mark.parametrize("client", ["wskit-asyncio", "websockets-sync"])
def test_clients_measure_against_the_deflate_echo_server(client: str) -> None:
    # The websockets server on plain asyncio: the tests do not install uvloop.
    with ServerProcess("websockets", loop="asyncio") as server:
        worker = Worker(client)
        try:
            for scenario in ("rr-1k-text-deflate", "stream-16-binary-deflate"):
                reply = _measure(worker, scenario, server.url)
                assert reply["ok"], reply.get("error")
                assert reply["count"] >= 1
                assert reply["wall"] > 0
                assert reply["cpu"] >= 0
                if scenario.startswith("stream"):
                    # Whole batches of the 16 B stream: 1000 messages each.
                    assert reply["count"] % stream_batch(16) == 0
        finally:
            worker.close()


def test_a_failing_client_answers_with_its_error_not_a_number() -> None:
    # Compression off against the deflate-only server: it closes with 1008.
    with ServerProcess("websockets", loop="asyncio") as server:
        worker = Worker("wskit-threading")
        try:
            reply = _measure(worker, "rr-16-text", server.url)
            assert not reply["ok"]
            assert "count" not in reply
            assert "1008" in reply["error"]
            # The worker survives a failed measurement and measures again.
            reply = _measure(worker, "rr-16-text-deflate", server.url)
            assert reply["ok"], reply.get("error")
        finally:
            worker.close()


def test_picows_server_echoes_for_wskit_and_a_peer() -> None:
    pytest.importorskip("picows")
    pytest.importorskip("uvloop")
    with ServerProcess("picows") as server:
        for client in ("wskit-threading", "raw-asyncio"):
            worker = Worker(client)
            try:
                for scenario in ("rr-64k-text", "stream-1k-binary", "connect-close"):
                    reply = _measure(worker, scenario, server.url)
                    assert reply["ok"], reply.get("error")
                    assert reply["count"] >= 1
                reply = worker.request(
                    {"op": "rss", "url": server.url, "connections": 5, "idle": 0.0},
                    REQUEST_TIMEOUT,
                )
                assert reply["ok"], reply.get("error")
                assert reply["connections"] == 5
                assert reply["before"] > 0
                assert reply["after"] > 0
            finally:
                worker.close()


def test_every_client_is_registered_once() -> None:
    names = [client.name for client in CLIENTS]
    assert len(names) == len(set(names))
    assert BASELINE in names
    assert {"wskit-asyncio", "wskit-threading", "wskit-legacy"} <= set(names)
