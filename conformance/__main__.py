"""``python -m conformance``: the conformance report (``nox -s conformance``).

Runs every wskit client against the Autobahn|Testsuite fuzzing server (in Docker,
or with ``--server local`` in a Python 2.7 virtualenv), runs the client FAQ
matrix on every backend, compares the Autobahn results with
``conformance/expectations.toml`` and writes ``conformance/reports/``. Exits 1
when a result is worse than expected or a FAQ answer fails.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conformance.autobahn import run as autobahn
from conformance.expectations import compare, load
from conformance.faq import Status, render_html_rows, render_markdown, run_matrix
from conformance.faq import summary as faq_summary
from conformance.report import AutobahnBackend, Report, write_report

__all__ = ["AGENTS", "main"]

HERE = Path(__file__).resolve().parent
REPORTS = HERE / "reports"

#: Backend name -> echo agent script.
AGENTS = {
    "wskit.asyncio": HERE / "autobahn" / "agent_wskit_asyncio.py",
    "wskit.threading": HERE / "autobahn" / "agent_wskit_threading.py",
    "wskit.legacy": HERE / "autobahn" / "agent_wskit_legacy.py",
}


def _log(message: str) -> None:
    print(f"conformance: {message}", file=sys.stderr, flush=True)


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("wskit-core", "wskit-asyncio", "wskit-threading", "wskit-legacy"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        choices=("docker", "local"),
        default="docker",
        help="run the fuzzing server in Docker (default) or a Python 2.7 venv",
    )
    parser.add_argument(
        "--interpreter",
        choices=("auto", *autobahn.INTERPRETERS),
        default="auto",
        help="the Python 2.7 that runs wstest",
    )
    parser.add_argument(
        "--cases", default="*", help="Autobahn case patterns, e.g. '1.*,2.*'"
    )
    parser.add_argument(
        "--backend",
        action="append",
        choices=tuple(AGENTS),
        help="backends to test (default: all)",
    )
    parser.add_argument("--skip-autobahn", action="store_true")
    parser.add_argument("--skip-faq", action="store_true")
    parser.add_argument("--reports", type=Path, default=REPORTS)
    parser.add_argument(
        "--port",
        type=int,
        default=autobahn.DEFAULT_PORT,
        help="first port; each backend's server takes the next one",
    )
    parser.add_argument(
        "--jobs", type=int, default=3, help="fuzzing servers running at once"
    )
    return parser.parse_args(argv)


def _run_autobahn(
    args: argparse.Namespace,
    interpreter: str,
    patterns: list[str],
    backends: list[str],
) -> list[autobahn.RunResult]:
    """One fuzzing server per backend, ``args.jobs`` at a time.

    A run is bound by round trips more than by CPU: measured on a two-core
    machine, a backend took the same ~650 s whether its server ran alone or
    next to another one, so by default every backend gets its server at once.
    """
    if args.server == "docker":
        autobahn.ensure_docker()
        autobahn.build_image(interpreter, autobahn.DEFAULT_WORK)
    else:
        autobahn.ensure_local_venv(autobahn.DEFAULT_WORK)

    def one(index: int, name: str) -> autobahn.RunResult:
        command = (sys.executable, str(AGENTS[name]), "--url", "{url}")
        agent = autobahn.Agent(name, (*command, "--agent", "{agent}"))
        return autobahn.run(
            [agent],
            mode=args.server,
            interpreter=interpreter,
            cases=patterns,
            reports=args.reports / "autobahn" / name,
            port=args.port + index,
        )

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(one, i, name) for i, name in enumerate(backends)]
        return [future.result() for future in futures]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    started = time.monotonic()
    backends = args.backend or list(AGENTS)
    expectations = load()
    notes: list[str] = []
    autobahn_results: list[AutobahnBackend] = []
    comparisons = []
    all_cases: list[str] = []
    server: dict[str, str] = {"mode": "not run"}
    if not args.skip_autobahn:
        patterns = [p.strip() for p in args.cases.split(",") if p.strip()]
        interpreter = autobahn.choose_interpreter(args.interpreter, args.server)
        _log(
            f"Autobahn|Testsuite ({args.server}, {interpreter}) for "
            f"{', '.join(backends)}, {args.jobs} server(s) at once: {patterns}"
        )
        try:
            results = _run_autobahn(args, interpreter, patterns, backends)
        except autobahn.HarnessError as exc:
            _log(f"the Autobahn harness failed: {exc}")
            return 2
        first = results[0]
        server = {
            "mode": first.mode,
            "interpreter": first.interpreter,
            "server": first.server,
            "cases": str(first.case_count),
        }
        full = patterns == ["*"]
        union: set[str] = set()
        for result in results:
            for agent in result.agents:
                union.update(agent.cases)
        all_cases = sorted(union, key=autobahn._case_key)
        if full and len(all_cases) != first.case_count:
            notes.append(
                f"the server runs {first.case_count} cases but "
                f"{len(all_cases)} have results"
            )
        for agent in (agent for result in results for agent in result.agents):
            autobahn_results.append(
                AutobahnBackend(agent.name, agent.cases, agent.seconds, agent.exit_code)
            )
            comparison = compare(
                agent.name,
                agent.cases,
                expectations,
                all_cases=all_cases if full else None,
            )
            comparisons.append(comparison)
            _log(
                f"{agent.name}: {agent.counts} in {agent.seconds:.0f} s; "
                f"{len(comparison.regressions)} worse than expected"
            )
            if agent.exit_code != 0:
                notes.append(f"agent {agent.name} exited with {agent.exit_code}")
    faq_md, faq_rows, faq_text, faq_failed = "(not run)", "", "FAQ matrix not run", 0
    if not args.skip_faq:
        _log(f"client FAQ matrix on {', '.join(backends)}")
        cells = run_matrix(backends)
        faq_md = render_markdown(cells)
        faq_rows = render_html_rows(cells)
        faq_text = faq_summary(cells)
        faq_failed = sum(1 for cell in cells if cell.status is Status.FAILED)
        _log(faq_text)
    report = Report(
        versions=_versions(),
        server=server,
        all_cases=all_cases,
        autobahn=autobahn_results,
        comparisons=comparisons,
        faq_markdown=faq_md,
        faq_html_rows=faq_rows,
        faq_summary=faq_text,
        faq_failed=faq_failed,
        seconds=round(time.monotonic() - started, 1),
        notes=notes,
    )
    write_report(report, expectations, args.reports)
    _log(f"report written to {args.reports / 'index.html'} and summary.md")
    print((args.reports / "summary.md").read_text(encoding="utf-8"))
    if notes:
        return 1
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
