"""The chart: one row per scenario, one column per client, colored by ratio.

A heat map reads at a glance where a client is ahead of the baseline (green) or
behind it (red), on a log scale so that 2x and 0.5x look equally far from 1;
each square also prints the median and the ratio. For RSS, lower is better, so
its colors are inverted.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

from tools.bench.clients import BASELINE
from tools.bench.report import Results, format_value

__all__ = ["write_chart"]


def _matplotlib() -> Any:
    # Imported by name: the type-check environment does not install the
    # benchmark's dependencies, and the rest of the report does not need them.
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return None
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def write_chart(results: Results, path: Path) -> Path | None:
    """Write the PNG; return its path, or None without matplotlib."""
    plt = _matplotlib()
    if plt is None:
        return None
    scenarios, clients = results.scenarios, results.clients
    grid: list[list[float]] = []
    labels: list[list[str]] = []
    for scenario in scenarios:
        row: list[float] = []
        texts: list[str] = []
        for client in clients:
            value = results.value(scenario, client)
            ratio = results.ratio(scenario, client)
            cell = results.cells.get((scenario.id, client.name))
            if not results.applicable(scenario, client):
                row.append(math.nan)
                texts.append("n/a")
            elif cell is not None and cell.error is not None:
                row.append(math.nan)
                texts.append("FAILED")
            elif value is None:
                row.append(math.nan)
                texts.append("")
            else:
                score = math.log2(ratio) if ratio else 0.0
                row.append(-score if not scenario.higher_is_better else score)
                texts.append(
                    format_value(value) + ("" if ratio is None else f"\n{ratio:.2f}")
                )
        grid.append(row)
        labels.append(texts)

    width = max(8.0, 3.5 + 1.05 * len(clients))
    height = 2.2 + 0.42 * len(scenarios)
    figure, axes = plt.subplots(figsize=(width, height), dpi=100)
    image = axes.imshow(grid, cmap="RdYlGn", vmin=-2.5, vmax=2.5, aspect="auto")
    axes.set_xticks(range(len(clients)))
    axes.set_xticklabels(
        [client.label for client in clients], rotation=30, ha="right", fontsize=8
    )
    axes.set_yticks(range(len(scenarios)))
    axes.set_yticklabels(
        [f"{scenario.label} ({scenario.unit})" for scenario in scenarios], fontsize=8
    )
    for y, texts in enumerate(labels):
        for x, text in enumerate(texts):
            dark = abs(grid[y][x]) > 1.6  # NaN compares false: n/a stays black
            color = "white" if dark else "black"
            axes.text(x, y, text, ha="center", va="center", fontsize=6.5, color=color)
    baseline = next((c.label for c in clients if c.name == BASELINE), "the baseline")
    env = results.environment
    axes.set_title(
        f"Median over {results.settings.get('rounds')} rounds; ratio to {baseline}\n"
        f"{env['cpu_model']} ({env['cpu_count']} CPUs), Python {env['python']}, "
        f"{results.started:%Y-%m-%d}",
        fontsize=9,
    )
    colorbar = figure.colorbar(image, ax=axes, fraction=0.03, pad=0.02)
    colorbar.set_label("log2 of the ratio; green is better", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
