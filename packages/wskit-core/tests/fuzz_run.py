"""Run the fuzz targets for a number of inputs each and report the figures.

From the repository root (``nox -s fuzz`` does this with atheris installed)::

    python packages/wskit-core/tests/fuzz_run.py --runs 20000
    python packages/wskit-core/tests/fuzz_run.py --runs 3000000 --target frames

Each target runs in a process of its own, one after the other (libFuzzer exits the
process when it is done). The script prints, per target, the inputs run, the time
and the rate, and exits with status 1 when a target fails; the failing input is
saved under ``--artifacts`` (libFuzzer's ``crash-*`` file), ready to be minimized
with ``-minimize_crash=1`` and added to ``test_fuzz_findings.py``.

The file name does not start with ``test_``, so pytest does not collect it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["TARGETS", "main", "run_target"]

HERE = Path(__file__).resolve().parent
TARGETS = ("frames", "http11")

# libFuzzer's last line, and the fallback loop's when atheris is missing.
_DONE = re.compile(r"^Done (\d+) runs in", re.MULTILINE)
_FALLBACK = re.compile(r"ran (\d+) random mutations")


def run_target(
    target: str, runs: int, max_len: int, artifacts: Path, corpus: Path | None
) -> tuple[int, float, str]:
    """Run one target; return the inputs run, the seconds taken and the output.

    Raises:
        RuntimeError: The target failed; the message holds the end of its output.
    """
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(HERE / f"fuzz_{target}.py"),
        f"-runs={runs}",
        f"-max_len={max_len}",
        f"-artifact_prefix={artifacts}/",
    ]
    if corpus is not None:
        folder = corpus / target
        folder.mkdir(parents=True, exist_ok=True)
        command.append(str(folder))
    started = time.monotonic()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    if result.returncode:
        raise RuntimeError(
            f"fuzz_{target}.py failed with status {result.returncode}; the failing "
            f"input is in {artifacts}:\n{output[-4000:]}"
        )
    match = _DONE.search(output) or _FALLBACK.search(output)
    if match is None:
        raise RuntimeError(f"fuzz_{target}.py did not say how many inputs it ran")
    return int(match[1]), elapsed, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the fuzz targets for a number of inputs each."
    )
    parser.add_argument("--runs", type=int, default=20_000, help="inputs per target")
    parser.add_argument(
        "--target", choices=TARGETS, action="append", help="default: every target"
    )
    parser.add_argument(
        "--max-len", type=int, default=1024, help="longest input, in bytes"
    )
    parser.add_argument(
        "--artifacts", type=Path, default=Path("build/fuzz"), help="crash files"
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        help="keep each target's corpus in a folder under this one, across runs",
    )
    args = parser.parse_args(argv)
    for target in args.target or TARGETS:
        try:
            inputs, seconds, _ = run_target(
                target, args.runs, args.max_len, args.artifacts, args.corpus
            )
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
        rate = inputs / seconds if seconds else 0.0
        print(
            f"fuzz_{target}: {inputs} inputs in {seconds:.1f} s "
            f"({rate:.0f} exec/s), no failure",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
