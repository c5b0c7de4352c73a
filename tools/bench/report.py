"""Results: the samples of a run, their medians and ratios, and the reports.

A *cell* is one client in one scenario: the samples of every round, or the error
that failed it. Its value is the median over the rounds (msg/s, conn/s, or KiB
per idle connection), its ratio the value over the baseline client's value in
the same scenario. The reports are a Markdown table, a reStructuredText table for
the documentation and a JSON file with every raw sample.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tools.bench.clients import BASELINE, ClientSpec, version
from tools.bench.scenarios import Scenario

__all__ = [
    "SCHEMA",
    "Cell",
    "Results",
    "Sample",
    "environment",
    "format_ratio",
    "format_value",
    "markdown",
    "median",
    "rst",
    "to_json",
]

SCHEMA = "wskit-bench/1"
# A one-minute load average above this when the run starts is reported: some
# other process competes with the benchmark for the CPUs.
BUSY_LOAD = 1.0
NOT_APPLICABLE = "n/a"
FAILED = "FAILED"


@dataclass(frozen=True)
class Sample:
    """One round of one cell.

    Throughput scenarios: ``count`` messages or connections in ``wall`` seconds
    of wall time and ``cpu`` seconds of the client process's CPU time. RSS:
    ``count`` connections, ``rss_before`` and ``rss_after`` in bytes.
    """

    round: int
    count: int
    wall: float = 0.0
    cpu: float = 0.0
    rss_before: int = 0
    rss_after: int = 0

    def value(self, scenario: Scenario) -> float:
        """msg/s or conn/s; for RSS, KiB per connection."""
        if scenario.kind == "rss":
            return (self.rss_after - self.rss_before) / self.count / 1024
        return self.count / self.wall

    def cpu_us(self) -> float:
        """Microseconds of CPU time per message (or connection)."""
        return self.cpu / self.count * 1e6


@dataclass
class Cell:
    """One client in one scenario; ``error`` set means it failed."""

    samples: list[Sample] = field(default_factory=list)
    error: str | None = None


def median(values: Sequence[float]) -> float:
    """The median; the benchmark reports it rather than the mean or the best,
    because one disturbed round must move the figure as little as possible.

    Raises:
        ValueError: No values.
    """
    if not values:
        raise ValueError("median of no values")
    return statistics.median(values)


class Results:
    """Every cell of a run, keyed by scenario id and client name."""

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        clients: Sequence[ClientSpec],
        settings: dict[str, Any],
        env: dict[str, Any] | None = None,
    ) -> None:
        self.scenarios = list(scenarios)
        self.clients = list(clients)
        self.settings = settings
        self.environment = env if env is not None else environment()
        self.cells: dict[tuple[str, str], Cell] = {}
        self.started = datetime.datetime.now(datetime.timezone.utc)

    def applicable(self, scenario: Scenario, client: ClientSpec) -> bool:
        return client.deflate or not scenario.deflate

    def cell(self, scenario: Scenario, client: ClientSpec) -> Cell:
        return self.cells.setdefault((scenario.id, client.name), Cell())

    def add(self, scenario: Scenario, client: ClientSpec, sample: Sample) -> None:
        self.cell(scenario, client).samples.append(sample)

    def fail(self, scenario: Scenario, client: ClientSpec, error: str) -> None:
        cell = self.cell(scenario, client)
        cell.error = error if cell.error is None else cell.error

    def failures(self) -> list[tuple[str, str, str]]:
        """(scenario id, client name, error) of every failed cell."""
        return [
            (scenario, client, cell.error)
            for (scenario, client), cell in self.cells.items()
            if cell.error is not None
        ]

    def value(self, scenario: Scenario, client: ClientSpec) -> float | None:
        """The median over the rounds, or None (failed, not run, not applicable)."""
        cell = self.cells.get((scenario.id, client.name))
        if cell is None or cell.error is not None or not cell.samples:
            return None
        return median([sample.value(scenario) for sample in cell.samples])

    def cpu_us(self, scenario: Scenario, client: ClientSpec) -> float | None:
        """Median CPU microseconds per message, or None."""
        cell = self.cells.get((scenario.id, client.name))
        if (
            scenario.kind == "rss"
            or cell is None
            or cell.error is not None
            or not cell.samples
        ):
            return None
        return median([sample.cpu_us() for sample in cell.samples])

    def ratio(self, scenario: Scenario, client: ClientSpec) -> float | None:
        """Value over the baseline's value in the same scenario, or None."""
        value = self.value(scenario, client)
        baseline = next((c for c in self.clients if c.name == BASELINE), None)
        if value is None or baseline is None:
            return None
        reference = self.value(scenario, baseline)
        if not reference:
            return None
        return value / reference


# Formatting.


def format_value(value: float) -> str:
    """Three significant figures with a k or M suffix: ``33.6k``, ``1.54k``."""
    if value >= 999_500:
        return f"{value / 1e6:.3g}M"
    if value >= 999.5:
        return f"{value / 1e3:.3g}k"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def format_ratio(ratio: float | None) -> str:
    return "" if ratio is None else f"({ratio:.2f})"


def _cpu(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3g} µs" if value < 1000 else f"{value / 1000:.3g} ms"


def _cell_text(
    results: Results, scenario: Scenario, client: ClientSpec, *, cpu: bool
) -> str:
    if not results.applicable(scenario, client):
        return NOT_APPLICABLE
    cell = results.cells.get((scenario.id, client.name))
    if cell is not None and cell.error is not None:
        return FAILED
    value = results.value(scenario, client)
    if value is None:
        return ""
    text = format_value(value)
    if scenario.kind == "rss":
        text += " KiB"
    ratio = format_ratio(results.ratio(scenario, client))
    if ratio:
        text += f" {ratio}"
    if cpu:
        cpu_text = _cpu(results.cpu_us(scenario, client))
        if cpu_text:
            text += f", {cpu_text}"
    return text


def _row_label(scenario: Scenario) -> str:
    if scenario.kind == "rss":
        return f"{scenario.label} (KiB)"
    return f"{scenario.label} ({scenario.unit})"


def _header_line(results: Results) -> str:
    env = results.environment
    return (
        f"{results.started:%Y-%m-%d %H:%M} UTC, {env['cpu_model']} "
        f"({env['cpu_count']} CPUs), Python {env['python']}, {env['platform']}"
    )


def _rss_note(results: Results) -> str:
    if not any(scenario.kind == "rss" for scenario in results.scenarios):
        return ""
    settings = results.settings
    rounds = min(settings.get("rss_rounds", 1), settings.get("rounds", 1))
    return (
        f" RSS: {settings.get('rss_connections')} idle connections opened by a "
        f"fresh process, median of {rounds} round{'s' if rounds != 1 else ''}."
    )


def _load_note(results: Results) -> str:
    load = results.environment.get("load_average")
    if not load or load[0] < BUSY_LOAD:
        return ""
    return (
        f"\n\n**The machine was busy** (load average {load[0]:.2f} at the start, "
        f"{results.settings.get('load_average_end', '?')} at the end): other "
        "processes took CPU time from the clients and the server, so the rates are "
        "low and noisy; the CPU time per message suffers less."
    )


def markdown(results: Results) -> str:
    """The report: one row per scenario, one column per client.

    A cell reads ``33.6k (1.00), 28.1 µs``: the median over the rounds, its
    ratio to the baseline client, and the client's CPU time per message.
    """
    baseline = next((c.label for c in results.clients if c.name == BASELINE), None)
    lines = [
        "# wskit end-to-end benchmark",
        "",
        _header_line(results),
        "",
        f"Median of {results.settings.get('rounds')} rounds of "
        f"{results.settings.get('duration')} s per client and scenario; "
        + (
            f"(ratio) to {baseline}, higher is better except for RSS; "
            if baseline
            else ""
        )
        + "then CPU time of the client process per message."
        + _rss_note(results)
        + _load_note(results),
        "",
    ]
    header = ["scenario", *(client.label for client in results.clients)]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for scenario in results.scenarios:
        row = [
            _row_label(scenario),
            *(_cell_text(results, scenario, c, cpu=True) for c in results.clients),
        ]
        lines.append("| " + " | ".join(row) + " |")
    failures = results.failures()
    if failures:
        lines += ["", "## Failures", ""]
        for scenario_id, client, error in failures:
            last = error.strip().splitlines()[-1] if error.strip() else error
            lines.append(f"- {client}, {scenario_id}: {last}")
    return "\n".join(lines) + "\n"


def rst(results: Results) -> str:
    """The documentation's table: the same rows, value and ratio per client."""
    baseline = next((c.label for c in results.clients if c.name == BASELINE), None)
    header = ["Scenario", *(client.label for client in results.clients)]
    rows = [
        [
            _row_label(scenario),
            *(_cell_text(results, scenario, c, cpu=False) for c in results.clients),
        ]
        for scenario in results.scenarios
    ]
    out = [
        ".. This file is written by ``python -m tools.bench --docs``; do not edit.",
        "",
        f"Measured on {_header_line(results)}: median of "
        f"{results.settings.get('rounds')} rounds of "
        f"{results.settings.get('duration')} s, every client against the same "
        "echo server in another process"
        + (f"; in parentheses, the ratio to {baseline}" if baseline else "")
        + " (higher is better, except for RSS)."
        + _rss_note(results)
        + _load_note(results),
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        "",
    ]
    for row in [header, *rows]:
        out.append(f"   * - {row[0]}")
        out += [f"     - {text}" if text else "     -" for text in row[1:]]
    return "\n".join(out) + "\n"


def environment() -> dict[str, Any]:
    """What the numbers depend on: machine, Python, library versions."""
    cpu_model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    distributions = ["wskit", "websockets", "aiohttp", "websocket-client", "picows"]
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "versions": {name: version(name) for name in [*distributions, "uvloop"]},
        # Anything else running on the machine shows here, and in the numbers.
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def to_json(results: Results) -> dict[str, Any]:
    """Everything: settings, environment, every sample, medians and ratios."""
    cells = []
    for scenario in results.scenarios:
        for client in results.clients:
            cell = results.cells.get((scenario.id, client.name))
            if cell is None:
                continue
            cells.append(
                {
                    "scenario": scenario.id,
                    "client": client.name,
                    "median": results.value(scenario, client),
                    "unit": scenario.unit,
                    "ratio": results.ratio(scenario, client),
                    "cpu_us_median": results.cpu_us(scenario, client),
                    "error": cell.error,
                    "samples": [asdict(sample) for sample in cell.samples],
                }
            )
    return {
        "schema": SCHEMA,
        "started": results.started.isoformat(),
        "environment": results.environment,
        "settings": results.settings,
        "baseline": BASELINE,
        "clients": [
            {"name": c.name, "label": c.label, "version": version(c.distribution)}
            for c in results.clients
        ],
        "scenarios": [
            {
                "id": s.id,
                "label": s.label,
                "kind": s.kind,
                "size": s.size,
                "text": s.text,
                "deflate": s.deflate,
                "unit": s.unit,
            }
            for s in results.scenarios
        ],
        "results": cells,
    }
