"""Render the conformance report: Autobahn results per backend, the FAQ matrix.

Three files come out of one set of results, so that they cannot disagree:
``summary.md`` (for people and CI logs), ``summary.rst`` (embedded by the docs'
conformance page) and ``index.html`` (with a chart), plus ``results.json``.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.expectations import Comparison, Expectations

__all__ = ["AutobahnBackend", "Report", "write_report"]

BEHAVIORS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "missing")
_COLORS = {
    "OK": "#2e7d32",
    "NON-STRICT": "#f9a825",
    "INFORMATIONAL": "#90a4ae",
    "UNIMPLEMENTED": "#6d4c41",
    "FAILED": "#c62828",
    "missing": "#000000",
}


def _bucket(behavior: str) -> str:
    return behavior if behavior in _COLORS else "FAILED"


def _category(case: str) -> str:
    return case.split(".", 1)[0]


@dataclass
class AutobahnBackend:
    """One backend's Autobahn results."""

    name: str
    cases: Mapping[str, str]
    seconds: float
    exit_code: int | None

    def counts(self, all_cases: Sequence[str]) -> Counter[str]:
        return Counter(_bucket(self.cases.get(case, "missing")) for case in all_cases)

    def by_category(self, all_cases: Sequence[str]) -> dict[str, Counter[str]]:
        result: dict[str, Counter[str]] = {}
        for case in all_cases:
            counter = result.setdefault(_category(case), Counter())
            counter[_bucket(self.cases.get(case, "missing"))] += 1
        return result


@dataclass
class Report:
    """Everything the report shows."""

    versions: Mapping[str, str]
    server: Mapping[str, str]
    all_cases: list[str]
    autobahn: list[AutobahnBackend]
    comparisons: list[Comparison]
    faq_markdown: str
    faq_html_rows: str
    faq_summary: str
    faq_failed: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.faq_failed == 0 and all(c.ok for c in self.comparisons)


def _categories(all_cases: Sequence[str]) -> list[str]:
    return sorted({_category(c) for c in all_cases}, key=int)


def _autobahn_rows(report: Report) -> list[list[str]]:
    rows = []
    for backend in report.autobahn:
        counts = backend.counts(report.all_cases)
        rows.append(
            [backend.name]
            + [str(counts.get(b, 0)) for b in BEHAVIORS]
            + [f"{backend.seconds:.0f} s"]
        )
    return rows


def _not_ok(report: Report, expectations: Expectations) -> list[list[str]]:
    rows = []
    for backend in report.autobahn:
        for case in report.all_cases:
            actual = backend.cases.get(case, "missing")
            if actual == "OK" or (
                actual == "INFORMATIONAL" and case in expectations.informational
            ):
                continue
            expected, reason = expectations.expected(backend.name, case)
            rows.append([backend.name, case, actual, expected, reason or "not listed"])
    return rows


def render_markdown(report: Report, expectations: Expectations) -> str:
    """The Markdown summary."""
    out = ["# wskit conformance report", ""]
    verdict = "PASSED" if report.ok else "FAILED"
    out.append(f"**{verdict}** in {report.seconds:.0f} s.")
    out.append("")
    out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in report.versions.items()))
    out.append("")
    out.append(
        "Autobahn server: " + ", ".join(f"{k} {v}" for k, v in report.server.items())
    )
    out += ["", "## Autobahn|Testsuite, per backend", ""]
    header = ["backend", *BEHAVIORS, "time"]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for row in _autobahn_rows(report):
        out.append("| " + " | ".join(row) + " |")
    out += ["", "### Per category (OK / cases)", ""]
    categories = _categories(report.all_cases)
    out.append("| backend | " + " | ".join(categories) + " |")
    out.append("|" + "---|" * (len(categories) + 1))
    for backend in report.autobahn:
        by_cat = backend.by_category(report.all_cases)
        cells = []
        for cat in categories:
            counter = by_cat.get(cat, Counter())
            good = counter["OK"] + counter["INFORMATIONAL"]
            cells.append(f"{good}/{sum(counter.values())}")
        out.append(f"| {backend.name} | " + " | ".join(cells) + " |")
    rows = _not_ok(report, expectations)
    out += ["", "### Cases that are not a strict OK", ""]
    if rows:
        out.append("| backend | case | result | expected | reason |")
        out.append("|---|---|---|---|---|")
        out += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        out.append("None: every case is OK (or INFORMATIONAL by nature).")
    for comparison in report.comparisons:
        for case, expected, actual in comparison.regressions:
            out.append(
                f"- REGRESSION {comparison.backend} {case}: {actual}, "
                f"expected {expected}"
            )
        for case, expected, actual in comparison.improvements:
            out.append(
                f"- better than expected: {comparison.backend} {case}: {actual} "
                f"(listed as {expected}; update conformance/expectations.toml)"
            )
    out += ["", "## Client FAQ matrix", "", report.faq_summary, "", report.faq_markdown]
    if report.notes:
        out += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(out).rstrip() + "\n"


def _rst_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        out.append(f"   * - {row[0] or ' '}")
        out += [f"     - {cell or ' '}" for cell in row[1:]]
    return out


def render_rst(report: Report, expectations: Expectations) -> str:
    """A reStructuredText fragment for the docs' conformance page."""
    verdict = "passed" if report.ok else "failed"
    out = [
        f"The last run {verdict} in {report.seconds:.0f} s with "
        + ", ".join(f"{k} {v}" for k, v in report.versions.items())
        + "; Autobahn server: "
        + ", ".join(f"{k} {v}" for k, v in report.server.items())
        + ".",
        "",
        "Autobahn|Testsuite, per backend",
        "-------------------------------",
        "",
    ]
    out += _rst_table(["backend", *BEHAVIORS, "time"], _autobahn_rows(report))
    rows = _not_ok(report, expectations)
    out += ["", "Cases that are not a strict OK", "------------------------------", ""]
    if rows:
        out += _rst_table(["backend", "case", "result", "expected", "reason"], rows)
    else:
        out.append("None: every case is OK, or INFORMATIONAL by nature.")
    out += ["", "Client FAQ matrix", "-----------------", "", report.faq_summary, ""]
    return "\n".join(out).rstrip() + "\n"


def _svg_chart(report: Report) -> str:
    """Stacked bars: one per backend and category, coloured by result."""
    categories = _categories(report.all_cases)
    bar, gap, group_gap, height = 14, 3, 18, 160
    backends = report.autobahn
    group = len(backends) * (bar + gap) + group_gap
    width = 50 + group * len(categories)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height + 60}" role="img" aria-label="Autobahn results">'
    ]
    for ci, cat in enumerate(categories):
        x0 = 40 + ci * group
        parts.append(
            f'<text x="{x0 + group / 2 - group_gap / 2:.0f}" y="{height + 20}" '
            f'font-size="11" text-anchor="middle">{cat}</text>'
        )
        for bi, backend in enumerate(backends):
            counter = backend.by_category(report.all_cases).get(cat, Counter())
            total = sum(counter.values()) or 1
            x = x0 + bi * (bar + gap)
            y = float(height)
            for behavior in BEHAVIORS:
                n = counter.get(behavior, 0)
                if not n:
                    continue
                h = height * n / total
                y -= h
                parts.append(
                    f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" '
                    f'fill="{_COLORS[behavior]}"><title>{html.escape(backend.name)} '
                    f"{cat}.x: {n} {behavior}</title></rect>"
                )
    legend_y = height + 45
    x = 40
    for behavior in BEHAVIORS:
        parts.append(
            f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" '
            f'fill="{_COLORS[behavior]}"/><text x="{x + 14}" y="{legend_y}" '
            f'font-size="11">{behavior}</text>'
        )
        x += 30 + 7 * len(behavior)
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: Report, expectations: Expectations) -> str:
    """The HTML page, self-contained."""
    esc = html.escape
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
        for row in _autobahn_rows(report)
    )
    not_ok = (
        "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
            for row in _not_ok(report, expectations)
        )
        or '<tr><td colspan="5">None: every case is OK.</td></tr>'
    )
    verdict = "PASSED" if report.ok else "FAILED"
    meta = "".join(
        f"<li>{esc(k)}: {esc(v)}</li>"
        for k, v in [*report.versions.items(), *report.server.items()]
    )
    backends = [b.name for b in report.autobahn]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>wskit conformance report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }}
.faq-passed {{ background: #c8e6c9; }} .faq-failed {{ background: #ffcdd2; }}
.faq-skipped {{ background: #eeeeee; }}
</style></head><body>
<h1>wskit conformance report: {verdict}</h1>
<p>Run time {report.seconds:.0f} s.</p>
<ul>{meta}</ul>
<h2>Autobahn|Testsuite, per backend</h2>
<table><tr><th>backend</th>{"".join(f"<th>{b}</th>" for b in BEHAVIORS)}<th>time</th>
</tr>{rows}</table>
<p>Per category, one bar per backend ({esc(", ".join(backends))}):</p>
{_svg_chart(report)}
<h2>Cases that are not a strict OK</h2>
<table><tr><th>backend</th><th>case</th><th>result</th><th>expected</th>
<th>reason</th></tr>{not_ok}</table>
<h2>Client FAQ matrix</h2>
<p>{esc(report.faq_summary)}</p>
<table>{report.faq_html_rows}</table>
</body></html>
"""


def write_report(report: Report, expectations: Expectations, directory: Path) -> None:
    """Write summary.md, summary.rst, index.html and results.json."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.md").write_text(
        render_markdown(report, expectations), encoding="utf-8"
    )
    (directory / "summary.rst").write_text(
        render_rst(report, expectations), encoding="utf-8"
    )
    (directory / "index.html").write_text(
        render_html(report, expectations), encoding="utf-8"
    )
    data: dict[str, Any] = {
        "ok": report.ok,
        "versions": dict(report.versions),
        "server": dict(report.server),
        "seconds": report.seconds,
        "autobahn": [asdict(b) for b in report.autobahn],
        "regressions": {
            c.backend: c.regressions for c in report.comparisons if c.regressions
        },
        "faq_failed": report.faq_failed,
    }
    (directory / "results.json").write_text(json.dumps(data, indent=2) + "\n")
