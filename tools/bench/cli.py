"""``python -m tools.bench``: run the rounds, print and write the reports.

Every round runs every scenario once per client, clients interleaved (the order
rotates from round to round), so that a slow period of the machine spreads over
all clients instead of landing on one. The RSS scenario runs once per round per
client, in a fresh worker each time. A client that fails (an exception, a wrong
echo, a hang) is reported with its traceback and makes the exit status 1; its
cell shows FAILED, never a number.

Usage::

    python -m tools.bench                    # full run, 12 to 15 minutes
    python -m tools.bench --quick            # every scenario, briefly (CI)
    python -m tools.bench --clients wskit-asyncio,websockets-asyncio \\
        --scenarios 'rr-16-*,stream-16-*' --rounds 3 --duration 1
    python -m tools.bench --docs             # also docs/_generated/benchmark.rst
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.bench import ROOT
from tools.bench.chart import write_chart
from tools.bench.clients import CLIENTS, ClientSpec, by_name
from tools.bench.report import (
    BUSY_LOAD,
    Results,
    Sample,
    format_value,
    markdown,
    rst,
    to_json,
)
from tools.bench.scenarios import Scenario, select
from tools.bench.server import ServerProcess, raise_fd_limit
from tools.bench.worker import Worker, WorkerError

__all__ = ["Settings", "main", "run"]

DOCS_TABLE = ROOT / "docs" / "_generated" / "benchmark.rst"
# Hang guard of one request to a worker, on top of the time it should take.
REQUEST_GRACE = 120.0


@dataclass(frozen=True)
class Settings:
    """How long each measurement runs and how many there are."""

    rounds: int
    duration: float  # seconds of one measurement
    warmup: float  # seconds on the same connection before it
    rss_connections: int
    rss_idle: float  # seconds the connections idle before the RSS is read
    # Memory varies far less from round to round than speed: fewer RSS rounds.
    rss_rounds: int
    quick: bool = False


FULL = Settings(
    rounds=5,
    duration=0.4,
    warmup=0.1,
    rss_connections=1000,
    rss_idle=1.0,
    rss_rounds=3,
)
QUICK = Settings(
    rounds=3,
    duration=0.05,
    warmup=0.02,
    rss_connections=100,
    rss_idle=0.3,
    rss_rounds=1,
    quick=True,
)


def _progress(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _select_clients(names: str | None) -> list[ClientSpec]:
    if not names:
        return list(CLIENTS)
    try:
        chosen = {by_name(name.strip()).name for name in names.split(",") if name}
    except KeyError as exc:
        raise SystemExit(f"--clients: {exc.args[0]}") from None
    return [spec for spec in CLIENTS if spec.name in chosen]


def run(
    scenarios: Sequence[Scenario],
    clients: Sequence[ClientSpec],
    settings: Settings,
) -> Results:
    """Start the servers and the workers, run every round, return the results."""
    results = Results(scenarios, clients, asdict(settings))
    raise_fd_limit()
    with contextlib.ExitStack() as stack:
        servers: dict[str, ServerProcess] = {}
        for kind in sorted({scenario.server for scenario in scenarios}):
            servers[kind] = stack.enter_context(ServerProcess(kind))
        workers = {client.name: Worker(client.name) for client in clients}
        for worker in workers.values():
            stack.callback(worker.close)
        for round_ in range(settings.rounds):
            shift = round_ % len(clients)
            order = [*clients[shift:], *clients[:shift]]
            for scenario in scenarios:
                parts: list[str] = []
                scenario_started = time.perf_counter()
                for client in order:
                    if not results.applicable(scenario, client):
                        continue
                    if scenario.kind == "rss" and round_ >= settings.rss_rounds:
                        continue
                    if results.cell(scenario, client).error is not None:
                        continue  # failed in an earlier round: reported once
                    server = servers[scenario.server]
                    if scenario.kind == "rss":
                        sample = _rss(
                            client, server, settings, round_, results, scenario
                        )
                    else:
                        sample = _measure(
                            workers[client.name],
                            server,
                            settings,
                            round_,
                            results,
                            scenario,
                            client,
                        )
                    if sample is None:
                        parts.append(f"{client.label} FAILED")
                        server.check()
                    else:
                        results.add(scenario, client, sample)
                        value = format_value(sample.value(scenario))
                        parts.append(f"{client.label} {value}")
                if not parts:
                    continue
                _progress(
                    f"[round {round_ + 1}/{settings.rounds}, "
                    f"{time.perf_counter() - scenario_started:.1f} s] {scenario.id} "
                    f"({scenario.unit}): " + ", ".join(parts)
                )
    return results


def _measure(
    worker: Worker,
    server: ServerProcess,
    settings: Settings,
    round_: int,
    results: Results,
    scenario: Scenario,
    client: ClientSpec,
) -> Sample | None:
    request = {
        "op": "measure",
        "scenario": scenario.id,
        "url": server.url,
        "duration": settings.duration,
        "warmup": settings.warmup,
    }
    try:
        reply = worker.request(request, REQUEST_GRACE + 10 * settings.duration)
    except WorkerError as exc:
        results.fail(scenario, client, str(exc))
        return None
    if not reply.get("ok"):
        results.fail(scenario, client, str(reply.get("error")))
        return None
    if reply["count"] < 1 or reply["wall"] <= 0:
        results.fail(scenario, client, f"measured nothing: {reply}")
        return None
    return Sample(round_ + 1, reply["count"], reply["wall"], reply["cpu"])


def _rss(
    client: ClientSpec,
    server: ServerProcess,
    settings: Settings,
    round_: int,
    results: Results,
    scenario: Scenario,
) -> Sample | None:
    # A fresh process: the memory of earlier measurements must not count.
    worker = Worker(client.name)
    try:
        reply = worker.request(
            {
                "op": "rss",
                "url": server.url,
                "connections": settings.rss_connections,
                "idle": settings.rss_idle,
            },
            REQUEST_GRACE + settings.rss_connections * 0.05,
        )
    except WorkerError as exc:
        results.fail(scenario, client, str(exc))
        return None
    finally:
        worker.close()
    if not reply.get("ok"):
        results.fail(scenario, client, str(reply.get("error")))
        return None
    if reply["connections"] != settings.rss_connections:
        results.fail(
            scenario, client, f"opened the wrong number of connections: {reply}"
        )
        return None
    return Sample(
        round_ + 1,
        reply["connections"],
        rss_before=reply["before"],
        rss_after=reply["after"],
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=(
            "End-to-end benchmark of the wskit clients next to the other Python "
            "WebSocket clients, against an echo server in another process."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every scenario, briefly, and RSS with 100 connections (CI)",
    )
    parser.add_argument(
        "--clients",
        metavar="A,B",
        help="comma-separated client names: "
        + ", ".join(spec.name for spec in CLIENTS),
    )
    parser.add_argument(
        "--scenarios",
        metavar="ID,...",
        help="comma-separated scenario ids or shell patterns ('rr-*', 'rss')",
    )
    parser.add_argument("--rounds", type=int, help="rounds (default 5, quick 3)")
    parser.add_argument(
        "--duration", type=float, help="seconds per measurement (default 0.4)"
    )
    parser.add_argument(
        "--rss-connections",
        type=int,
        help="idle connections of the RSS scenario (default 1000, quick 100)",
    )
    parser.add_argument(
        "--output",
        metavar="DIR",
        type=Path,
        default=ROOT / "bench-results",
        help="where benchmark.md, benchmark.json and benchmark.png go",
    )
    parser.add_argument(
        "--json", metavar="PATH", type=Path, help="the JSON file (default in --output)"
    )
    parser.add_argument(
        "--docs",
        action="store_true",
        help=f"also write {DOCS_TABLE.relative_to(ROOT)} for the documentation",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else FULL
    changes = {
        "rounds": args.rounds,
        "duration": args.duration,
        "rss_connections": args.rss_connections,
    }
    values = asdict(base) | {k: v for k, v in changes.items() if v is not None}
    settings = Settings(**values)
    if settings.rounds < 1 or settings.duration <= 0 or settings.rss_connections < 1:
        raise SystemExit("--rounds, --duration and --rss-connections must be positive")
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _settings(args)
    clients = _select_clients(args.clients)
    try:
        scenarios = select(args.scenarios.split(",") if args.scenarios else ["*"])
    except ValueError as exc:
        raise SystemExit(str(exc)) from None

    load = os.getloadavg()[0]
    if load >= BUSY_LOAD:
        _progress(
            f"warning: load average {load:.2f}: other processes are running and "
            "will lower and scatter the results"
        )
    started = time.perf_counter()
    results = run(scenarios, clients, settings)
    elapsed = time.perf_counter() - started
    results.settings["elapsed"] = round(elapsed, 1)
    results.settings["load_average_end"] = round(os.getloadavg()[0], 2)

    table = markdown(results)
    print(table)
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    (output / "benchmark.md").write_text(table, encoding="utf-8")
    json_path: Path = args.json or output / "benchmark.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(
        json.dumps(to_json(results), indent=2) + "\n", encoding="utf-8"
    )
    written = [output / "benchmark.md", json_path]
    chart = write_chart(results, output / "benchmark.png")
    if chart is None:
        _progress("matplotlib is not installed: no chart (install the bench group)")
    else:
        written.append(chart)
    if args.docs:
        DOCS_TABLE.parent.mkdir(parents=True, exist_ok=True)
        DOCS_TABLE.write_text(rst(results), encoding="utf-8")
        written.append(DOCS_TABLE)
    _progress(f"wrote {', '.join(str(path) for path in written)} in {elapsed:.0f} s")

    failures = results.failures()
    if failures:
        _progress(f"\n{len(failures)} FAILED measurement(s):")
        for scenario_id, client, error in failures:
            _progress(f"\n=== {client} in {scenario_id} ===\n{error.rstrip()}")
        return 1
    return 0
