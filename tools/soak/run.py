"""The soak run: server process, client phase, flood phase, checks and report.

``python -m tools.soak --clients 30 --minutes 5 --seed 1`` runs ``--clients``
clients for ``--minutes`` against :mod:`tools.soak.server`, backends taken in turn
from :data:`~tools.soak.clients.BACKENDS` and compression offered by every other
client, then floods one slow reader per backend for ``--flood-seconds``. It prints
a summary, writes the full report as JSON (``--json``) and exits with status 1 if
any message was lost, duplicated, reordered or corrupted, a client crashed or
hung, RSS kept growing or went past the flood bound, or a thread or file
descriptor outlived the clients.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .clients import (
    BACKENDS,
    HANG_GUARD,
    ClientConfig,
    FloodResult,
    flood_asyncio,
    flood_threading,
    run_asyncio_client,
    run_threading_client,
)
from .ledger import ClientLedger, Totals
from .monitor import MIB, Resources, RssMonitor, leaks, rss_growth_problem
from .server import Settings

__all__ = ["FLOOD_LIMIT", "Options", "main", "parse_args", "run"]

ROOT = Path(__file__).resolve().parents[2]

FLOOD_LIMIT = 96 * MIB
"""How much RSS may grow while three slow readers are flooded.

Each connection buffers at most its ``max_queue`` frames (16, or 32 messages in
wskit.legacy) of 256 KiB: about 16 MiB for the three, plus the allocator's
slack. A client without flow control would take in gigabytes in that time.
"""


@dataclass
class Options:
    """The run's settings; see ``python -m tools.soak --help``."""

    clients: int = 30
    minutes: float = 5.0
    seed: int = 0
    backends: tuple[str, ...] = BACKENDS
    flood_seconds: float = 10.0
    window: int = 8
    json_path: Path | None = None
    server: Settings = field(default_factory=Settings)


def parse_args(argv: list[str] | None = None) -> Options:
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m tools.soak",
        description="Soak test of the wskit clients against a faulty echo server.",
    )
    parser.add_argument("--clients", type=int, default=30, help="default: 30")
    parser.add_argument("--minutes", type=float, default=5.0, help="default: 5")
    parser.add_argument("--seed", type=int, help="default: a random seed, printed")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated, taken in turn by the clients (default: all three)",
    )
    parser.add_argument("--flood-seconds", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=8, help="messages in flight")
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "build" / "soak-report.json",
        help="where to write the report (default: build/soak-report.json)",
    )
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate)
    parser.add_argument("--pause-rate", type=float, default=defaults.pause_rate)
    parser.add_argument("--burst-rate", type=float, default=defaults.burst_rate)
    parser.add_argument("--reject-rate", type=float, default=defaults.reject_rate)
    parser.add_argument("--refuse-every", type=float, default=defaults.refuse_every)
    args = parser.parse_args(argv)
    backends = tuple(name.strip() for name in args.backends.split(",") if name)
    unknown = set(backends) - set(BACKENDS)
    if unknown or not backends:
        parser.error(f"unknown backends {sorted(unknown)}; choose among {BACKENDS}")
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    return Options(
        clients=args.clients,
        minutes=args.minutes,
        seed=seed,
        backends=backends,
        flood_seconds=args.flood_seconds,
        window=args.window,
        json_path=args.json,
        server=Settings(
            seed=seed,
            fault_rate=args.fault_rate,
            pause_rate=args.pause_rate,
            burst_rate=args.burst_rate,
            reject_rate=args.reject_rate,
            refuse_every=args.refuse_every,
        ),
    )


class ServerProcess:
    """The echo server in a child process; see :mod:`tools.soak.server`."""

    def __init__(self, settings: Settings) -> None:
        # The server's own log (websockets, asyncio) goes to a file, so that it
        # is not mistaken for the clients'; the report quotes its end.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), env.get("PYTHONPATH")])
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.soak.server",
                f"--seed={settings.seed}",
                f"--fault-rate={settings.fault_rate}",
                f"--pause-rate={settings.pause_rate}",
                f"--burst-rate={settings.burst_rate}",
                f"--reject-rate={settings.reject_rate}",
                f"--refuse-every={settings.refuse_every}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=ROOT,
            env=env,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(10)
            raise RuntimeError(
                f"the soak server exited with status {self.process.returncode} "
                "before listening; run python -m tools.soak.server to see why"
            )
        self.port = int(json.loads(line)["port"])

    def stop(self) -> dict[str, Any]:
        """Stop the server and return its statistics."""
        try:
            out, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return {"error": "the server did not stop within 60 s"}
        self.log.seek(0)
        log = self.log.read().decode(errors="replace").splitlines()
        self.log.close()
        lines = out.decode().strip().splitlines()
        if self.process.returncode or not lines:
            return {
                "error": f"the server exited with {self.process.returncode}",
                "log": log[-50:],
            }
        stats: dict[str, Any] = json.loads(lines[-1])
        stats["log_lines"] = len(log)
        stats["log_tail"] = log[-20:]
        return stats


def _client_phase(
    options: Options, uri: str, deadline: float
) -> list[tuple[ClientConfig, ClientLedger]]:
    configs = [
        ClientConfig(
            uri=uri,
            origin=index,
            backend=options.backends[index % len(options.backends)],
            compression=index % 2 == 0,
            seed=options.seed,
            deadline=deadline,
            window=options.window,
        )
        for index in range(options.clients)
    ]
    ledgers = {config.origin: ClientLedger(config.origin) for config in configs}
    threads = [
        threading.Thread(
            target=run_threading_client,
            args=(config, ledgers[config.origin]),
            name=f"soak-client-{config.origin}",
        )
        for config in configs
        if config.backend == "wskit.threading"
    ]
    for thread in threads:
        thread.start()

    async def asyncio_clients() -> None:
        await asyncio.gather(
            *(
                run_asyncio_client(config, ledgers[config.origin])
                for config in configs
                if config.backend != "wskit.threading"
            )
        )

    asyncio.run(asyncio_clients())
    for thread in threads:
        thread.join()
    return [(config, ledgers[config.origin]) for config in configs]


def _flood_phase(options: Options, uri: str) -> list[FloodResult]:
    delay = 0.01
    results: list[FloodResult] = []
    thread: threading.Thread | None = None
    if "wskit.threading" in options.backends:

        def flood() -> None:
            results.append(flood_threading(uri, options.flood_seconds, delay))

        thread = threading.Thread(target=flood, name="soak-flood", daemon=True)
        thread.start()

    async def guarded(backend: str) -> FloodResult:
        try:
            return await asyncio.wait_for(
                flood_asyncio(uri, backend, options.flood_seconds, delay),
                options.flood_seconds + HANG_GUARD,
            )
        except asyncio.TimeoutError:
            hung = FloodResult(backend)
            hung.errors.append(
                f"still reading or closing {HANG_GUARD:.0f} s after the flood ended"
            )
            return hung

    async def floods() -> list[FloodResult]:
        return await asyncio.gather(
            *(
                guarded(backend)
                for backend in options.backends
                if backend != "wskit.threading"
            )
        )

    results.extend(asyncio.run(floods()))
    if thread is not None:
        thread.join(options.flood_seconds + HANG_GUARD)
        if thread.is_alive():
            hung = FloodResult("wskit.threading")
            hung.errors.append(
                f"still reading or closing {HANG_GUARD:.0f} s after the flood ended"
            )
            results.append(hung)
    return results


def run(options: Options) -> dict[str, Any]:
    """Run the soak test and return the report; ``report["ok"]`` tells the verdict."""
    server = ServerProcess(options.server)
    monitor = RssMonitor()
    monitor.start()
    before = Resources.now()
    uri = f"ws://127.0.0.1:{server.port}/"
    started = time.monotonic()
    rss_start = monitor.sample()
    clients = _client_phase(options, uri, started + options.minutes * 60)
    soak_end = time.monotonic()
    rss_before_flood = monitor.sample()
    floods = _flood_phase(options, f"ws://127.0.0.1:{server.port}/flood")
    flood_end = time.monotonic()
    monitor.sample()
    gc.collect()
    leaked = leaks(before)
    monitor.stop()
    server_stats = server.stop()

    totals = Totals()
    by_backend: dict[str, Totals] = {backend: Totals() for backend in options.backends}
    crashes: list[str] = []
    for config, ledger in clients:
        totals.add(ledger.totals)
        by_backend[config.backend].add(ledger.totals)
        crashes.extend(config.crashes)

    soak_samples = [rss for when, rss in monitor.samples if when <= soak_end]
    growth = rss_growth_problem(soak_samples)
    third = max(1, len(soak_samples) // 3)
    flood_peak = monitor.peak(soak_end, flood_end + 1)
    failures: list[str] = []
    if totals.failures:
        failures.append(
            f"{totals.lost} lost, {totals.duplicated} duplicated, {totals.reordered} "
            f"reordered, {totals.corrupted} corrupted, {totals.unexpected} unexpected "
            f"messages, {totals.burst_lost} burst messages lost"
        )
    failures.extend(f"crash: {crash}" for crash in crashes)
    if growth:
        failures.append(growth)
    if flood_peak - rss_before_flood > FLOOD_LIMIT:
        failures.append(
            f"RSS grew by {(flood_peak - rss_before_flood) / MIB:.1f} MiB under "
            f"flood, more than {FLOOD_LIMIT / MIB:.0f} MiB"
        )
    for flood in floods:
        failures.extend(f"flood {flood.backend}: {error}" for error in flood.errors)
        if flood.closure is not None and not flood.closure.handshake:
            # close() while the server still floods: the close frame waits behind
            # the flood, so a client must read on, past its queue's bound, or the
            # handshake ends in close_timeout and 1006.
            failures.append(
                f"flood {flood.backend}: close() ended without a closing handshake "
                f"after {flood.close_seconds:.1f} s"
            )
    failures.extend(leaked)
    if "error" in server_stats:
        failures.append(f"server: {server_stats['error']}")
    failures.extend(
        f"server: {error}" for error in server_stats.get("handler_errors", [])
    )
    if server_stats.get("corrupted"):
        failures.append(f"server: {server_stats['corrupted']} corrupted messages")

    faults = Counter(server_stats.get("faults", {}))
    return {
        "ok": not failures,
        "failures": failures,
        "settings": {
            "clients": options.clients,
            "minutes": options.minutes,
            "seed": options.seed,
            "backends": list(options.backends),
            "window": options.window,
            "flood_seconds": options.flood_seconds,
            "server": asdict(options.server),
        },
        "duration_s": round(soak_end - started, 1),
        "totals": _totals_json(totals),
        "by_backend": {name: _totals_json(t) for name, t in by_backend.items()},
        "faults": dict(sorted(faults.items())),
        "server": server_stats,
        "rss_mib": {
            "start": round(rss_start / MIB, 1),
            "peak_soak": round(max(soak_samples, default=0) / MIB, 1),
            "peak_first_third": round(max(soak_samples[:third], default=0) / MIB, 1),
            "peak_last_third": round(max(soak_samples[-third:], default=0) / MIB, 1),
            "before_flood": round(rss_before_flood / MIB, 1),
            "peak_flood": round(flood_peak / MIB, 1),
            "samples": len(monitor.samples),
            "samples_mib": [
                [round(when - started, 1), round(rss / MIB, 1)]
                for when, rss in monitor.samples
            ],
        },
        "flood": [
            {
                "backend": flood.backend,
                "received": flood.received,
                "mib_received": round(flood.bytes_received / MIB, 1),
                "closure": None if flood.closure is None else asdict(flood.closure),
                "close_seconds": round(flood.close_seconds, 2),
                "errors": flood.errors,
            }
            for flood in floods
        ],
        "leaks": leaked,
    }


def _totals_json(totals: Totals) -> dict[str, Any]:
    data = asdict(totals)
    data["close_codes"] = dict(sorted(totals.close_codes.items()))
    return data


def summary(report: dict[str, Any]) -> str:
    """The report in a few lines, for people."""
    settings = report["settings"]
    totals = report["totals"]
    rss = report["rss_mib"]
    faults = ", ".join(f"{kind} {count}" for kind, count in report["faults"].items())
    lines = [
        f"soak: {settings['clients']} clients ({', '.join(settings['backends'])}) "
        f"for {report['duration_s']} s, seed {settings['seed']}",
        f"connections: {totals['connections']} ({totals['closed_cleanly']} closed "
        f"with a handshake, {totals['faulted']} cut by a fault)",
        f"faults injected: {faults or 'none'}",
        f"messages: {totals['sent']} sent, {totals['confirmed']} confirmed, "
        f"{totals['unconfirmed']} unconfirmed (in flight at a fault), "
        f"{totals['lost']} lost, {totals['duplicated']} duplicated, "
        f"{totals['reordered']} reordered, {totals['corrupted']} corrupted",
        f"server messages: {totals['burst_received']} burst received, "
        f"{totals['burst_lost']} lost; {totals['bytes_sent'] / MIB:.0f} MiB sent",
    ]
    for name, backend in report["by_backend"].items():
        lines.append(
            f"  {name}: {backend['connections']} connections, {backend['sent']} "
            f"sent, {backend['confirmed']} confirmed, {backend['lost']} lost"
        )
    lines.append(
        f"RSS: {rss['start']} MiB at start, peak {rss['peak_soak']} MiB during the "
        f"soak (first third {rss['peak_first_third']}, last third "
        f"{rss['peak_last_third']}), {rss['before_flood']} MiB before the flood, "
        f"peak {rss['peak_flood']} MiB under flood"
    )
    for flood in report["flood"]:
        lines.append(
            f"  flood {flood['backend']}: {flood['received']} messages "
            f"({flood['mib_received']} MiB) read slowly"
        )
    if report["ok"]:
        lines.append("result: OK")
    else:
        lines.append("result: FAILED")
        lines.extend(f"  - {failure}" for failure in report["failures"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # A hang guard for the whole run: the phases have their own, this one is
    # the last resort, so that CI never waits forever.
    limit = options.minutes * 60 + options.flood_seconds + 300
    watchdog = threading.Timer(limit, _hung, args=(limit,))
    watchdog.daemon = True
    watchdog.start()
    report = run(options)
    watchdog.cancel()
    print(summary(report))
    if options.json_path is not None:
        options.json_path.parent.mkdir(parents=True, exist_ok=True)
        options.json_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"report: {options.json_path}")
    return 0 if report["ok"] else 1


def _hung(limit: float) -> None:
    print(f"soak: still running after {limit:.0f} s; giving up", file=sys.stderr)
    sys.stderr.flush()
    os._exit(3)
