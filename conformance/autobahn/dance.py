"""The Autobahn|Testsuite client dance, shared by the echo agents.

An agent provides two callables over its own WebSocket client:

* ``read_text(url)``: connect, return the first text message, then close;
* ``echo(url)``: connect and send every received message back, text as text and
  binary as binary, until the connection closes.

``run_dance`` asks the fuzzing server for its case count, runs every case (or
the 1-based case numbers given) with ``echo``, then asks the server to update
its reports. ``main`` parses the agents' common command line:
``--url ws://127.0.0.1:9001 --agent NAME [--cases 1-10,15]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import quote

__all__ = [
    "EchoFn",
    "ReadTextFn",
    "case_count",
    "main",
    "parse_case_numbers",
    "parse_args",
    "run_case",
    "run_dance",
    "update_reports",
]

#: Print progress every this many cases.
PROGRESS_EVERY = 50

ReadTextFn = Callable[[str], str]
EchoFn = Callable[[str], None]


def case_count(url: str, read_text: ReadTextFn) -> int:
    """The number of cases the server at ``url`` runs."""
    return int(read_text(f"{url}/getCaseCount"))


def run_case(url: str, agent: str, number: int, echo: EchoFn) -> None:
    """Run case ``number`` (1-based) for ``agent``."""
    echo(f"{url}/runCase?case={number}&agent={quote(agent)}")


def update_reports(url: str, agent: str, read_until_closed: EchoFn) -> None:
    """Ask the server to write its reports for ``agent``."""
    read_until_closed(f"{url}/updateReports?agent={quote(agent)}")


def parse_case_numbers(text: str, count: int) -> list[int]:
    """Case numbers from ``"1-10,15"`` (1-based, inclusive), within ``count``."""
    numbers: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        numbers.update(range(max(first, 1), min(last, count) + 1))
    return sorted(numbers)


def run_dance(
    url: str,
    agent: str,
    read_text: ReadTextFn,
    echo: EchoFn,
    cases: Iterable[int] | None = None,
) -> int:
    """Run the cases for ``agent`` and update the reports; return the cases run."""
    count = case_count(url, read_text)
    numbers = list(range(1, count + 1)) if cases is None else list(cases)
    for index, number in enumerate(numbers, 1):
        run_case(url, agent, number, echo)
        if index % PROGRESS_EVERY == 0 or index == len(numbers):
            print(f"{agent}: {index}/{len(numbers)} cases", file=sys.stderr, flush=True)
    update_reports(url, agent, echo)
    return len(numbers)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The agents' common command line."""
    parser = argparse.ArgumentParser(description="Autobahn|Testsuite echo agent")
    parser.add_argument(
        "--url", default="ws://127.0.0.1:9001", help="fuzzing server URL"
    )
    parser.add_argument("--agent", required=True, help="agent name in the reports")
    parser.add_argument("--cases", default=None, help='case numbers, e.g. "1-10,15"')
    return parser.parse_args(argv)


def main(read_text: ReadTextFn, echo: EchoFn, argv: Sequence[str] | None = None) -> int:
    """Command-line entry point for an agent made of ``read_text`` and ``echo``."""
    args = parse_args(argv)
    url = args.url.rstrip("/")
    cases = None
    if args.cases:
        cases = parse_case_numbers(args.cases, case_count(url, read_text))
    ran = run_dance(url, args.agent, read_text, echo, cases)
    print(f"{args.agent}: ran {ran} cases against {url}", file=sys.stderr)
    return 0
