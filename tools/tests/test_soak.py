"""The soak test's bookkeeping, checked piece by piece, and one short real run."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tools.soak.ledger import (
    ClientLedger,
    Closure,
    ConnectionLedger,
    Totals,
    format_report,
    parse_report,
)
from tools.soak.messages import (
    KIND_BURST,
    KIND_ECHO,
    MAX_BODY,
    Corrupted,
    MessageFactory,
    encode,
    parse,
)
from tools.soak.monitor import MIB, Resources, leaks, read_rss, rss_growth_problem
from tools.soak.server import TERMINAL_FAULTS, Settings, plan_faults

ROOT = Path(__file__).resolve().parents[2]


# Messages.


@pytest.mark.parametrize("body", ["", "h\xe9llo \U0001f600", b"", b"\x00\xff" * 300])
def test_message_round_trip(body: str | bytes) -> None:
    message = parse(encode(KIND_ECHO, 7, 42, body))
    assert (message.kind, message.origin, message.seq) == (KIND_ECHO, 7, 42)
    assert message.text is isinstance(body, str)
    raw = body.encode() if isinstance(body, str) else body
    assert message.length == len(raw)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # a flipped bit in the body
        lambda data: data[:-1],  # a byte missing
        lambda data: data + b"x",  # a byte too many
        lambda data: data.replace(b"E:", b"Q:", 1),  # an unknown kind
        lambda data: data.replace(b"|", b"!", 1),  # no header
        lambda data: data.replace(b":1:", b":x:", 1),  # a malformed number
    ],
)
def test_corruption_detected(damage: Callable[[bytes], bytes]) -> None:
    data = encode(KIND_ECHO, 1, 1, b"payload")
    assert isinstance(data, bytes)
    with pytest.raises(Corrupted):
        parse(damage(data))


def test_factory_numbers_and_sizes() -> None:
    factory = MessageFactory(3, random.Random(1))
    outs = [factory.next() for _ in range(300)]
    assert [out.record.seq for out in outs] == list(range(300))
    assert {out.record.origin for out in outs} == {3}
    assert {out.record.text for out in outs} == {True, False}
    assert all(out.record.length <= MAX_BODY for out in outs)
    assert any(out.record.length > 65536 for out in outs)
    assert any(out.record.length < 126 for out in outs)
    fragmented = [out for out in outs if out.fragments is not None]
    assert fragmented
    for out in fragmented:
        assert out.fragments is not None
        joined = "" if isinstance(out.payload, str) else b""
        assert joined.join(out.fragments) == out.payload  # type: ignore[arg-type]
        assert parse(out.payload) == out.record


def test_factory_is_deterministic() -> None:
    first = [MessageFactory(0, random.Random(5)).next().payload for _ in range(3)]
    again = [MessageFactory(0, random.Random(5)).next().payload for _ in range(3)]
    assert first == again


# Accounting.


def sent(conn: ConnectionLedger, factory: MessageFactory) -> str | bytes:
    out = factory.next()
    conn.sending(out.record)
    return out.payload


def connection() -> tuple[ClientLedger, ConnectionLedger, MessageFactory]:
    client = ClientLedger(0)
    return client, client.connection(), MessageFactory(0, random.Random(0))


def test_in_order_echoes_are_confirmed() -> None:
    client, conn, factory = connection()
    payloads = [sent(conn, factory) for _ in range(5)]
    for payload in payloads:
        conn.received(payload)
    conn.finish(Closure(handshake=True, code=1000))
    totals = client.totals
    assert (totals.sent, totals.confirmed, totals.lost) == (5, 5, 0)
    assert totals.failures == 0
    assert totals.closed_cleanly == 1


def test_duplicate_echo() -> None:
    client, conn, factory = connection()
    payload = sent(conn, factory)
    conn.received(payload)
    conn.received(payload)
    assert client.totals.duplicated == 1
    assert client.totals.failures == 1


def test_duplicate_across_connections() -> None:
    client, conn, factory = connection()
    payload = sent(conn, factory)
    conn.received(payload)
    conn.finish(Closure(handshake=True, code=1000))
    client.connection().received(payload)
    assert client.totals.duplicated == 1


def test_reordered_echo() -> None:
    client, conn, factory = connection()
    first, second = sent(conn, factory), sent(conn, factory)
    conn.received(second)
    conn.received(first)
    assert client.totals.reordered == 1
    assert client.totals.duplicated == 0


def test_echo_never_sent() -> None:
    client, conn, _ = connection()
    other = MessageFactory(0, random.Random(9))
    other.seq = 100
    conn.received(other.next().payload)
    assert client.totals.unexpected == 1


def test_echo_of_another_client() -> None:
    client, conn, _ = connection()
    conn.received(encode(KIND_ECHO, 99, 0, b""))
    assert client.totals.unexpected == 1


def test_echo_with_other_type_is_corrupted() -> None:
    client, conn, factory = connection()
    payload = sent(conn, factory)
    swapped = payload.decode() if isinstance(payload, bytes) else payload.encode()
    conn.received(swapped)
    assert client.totals.corrupted == 1


def test_corrupted_echo() -> None:
    client, conn, _ = connection()
    conn.received(b"garbage")
    assert client.totals.corrupted == 1
    assert client.totals.errors


def test_client_close_with_echoes_missing_loses_them() -> None:
    client, conn, factory = connection()
    conn.received(sent(conn, factory))
    sent(conn, factory)
    sent(conn, factory)
    conn.finish(Closure(handshake=True, code=1000))
    assert client.totals.lost == 2
    assert client.totals.unconfirmed == 0


def test_fault_leaves_messages_unconfirmed() -> None:
    client, conn, factory = connection()
    conn.received(sent(conn, factory))
    sent(conn, factory)
    conn.finish(Closure(handshake=False))
    totals = client.totals
    assert (totals.confirmed, totals.unconfirmed, totals.lost) == (1, 1, 0)
    assert totals.faulted == 1
    assert totals.close_codes == {"none, no handshake": 1}


def test_server_close_report_checks_what_arrived() -> None:
    client, conn, factory = connection()
    payloads = [sent(conn, factory) for _ in range(4)]
    conn.received(payloads[0])
    conn.received(payloads[1])
    # The server says it echoed three: the third one went missing.
    conn.finish(Closure(handshake=True, code=1011, reason=format_report(3, 0)))
    totals = client.totals
    assert totals.lost == 1
    assert totals.unconfirmed == 1
    assert totals.close_codes == {"1011": 1}


def test_server_close_report_all_arrived() -> None:
    client, conn, factory = connection()
    payloads = [sent(conn, factory) for _ in range(3)]
    conn.received(payloads[0])
    conn.finish(Closure(handshake=True, code=1001, reason=format_report(1, 0)))
    assert client.totals.lost == 0
    assert client.totals.unconfirmed == 2


def test_burst_messages() -> None:
    client, conn, _ = connection()
    server = MessageFactory(12, random.Random(3))
    bursts = [server.next(KIND_BURST).payload for _ in range(4)]
    conn.received(bursts[0])
    conn.received(bursts[1])
    conn.received(bursts[3])  # the third is missing
    conn.finish(Closure(handshake=True, code=1000, reason=format_report(0, 4)))
    totals = client.totals
    assert totals.burst_received == 3
    assert totals.burst_lost == 1


def test_finish_twice() -> None:
    _, conn, _ = connection()
    conn.finish(Closure(handshake=False))
    with pytest.raises(RuntimeError, match="twice"):
        conn.finish(Closure(handshake=False))


def test_totals_add() -> None:
    one, two = Totals(sent=3, lost=1), Totals(sent=4, duplicated=2)
    one.close_codes["1000"] += 1
    two.close_codes["1000"] += 2
    two.error("boom")
    one.add(two)
    assert (one.sent, one.lost, one.duplicated) == (7, 1, 2)
    assert one.close_codes == {"1000": 3}
    assert one.errors == ["boom"]
    assert one.failures == 3


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (format_report(12, 3), (12, 3)),
        ("", None),
        ("echoed=1", None),
        ("echoed=1 burst=2 extra", None),
    ],
)
def test_parse_report(reason: str, expected: tuple[int, int] | None) -> None:
    assert parse_report(reason) == expected


# Faults.


def test_fault_plans_follow_the_seed() -> None:
    settings = Settings(seed=4, fault_rate=0.5)
    plans = [plan_faults(settings, random.Random(f"4:{n}")) for n in range(200)]
    again = [plan_faults(settings, random.Random(f"4:{n}")) for n in range(200)]
    assert plans == again
    kinds = {plan.terminal for plan in plans}
    assert kinds == {None, *TERMINAL_FAULTS}


def test_no_faults_at_rate_zero() -> None:
    settings = Settings(fault_rate=0.0)
    rng = random.Random(0)
    assert all(plan_faults(settings, rng).terminal is None for _ in range(100))


# Memory and resources.


def test_rss_growth() -> None:
    flat = [100 * MIB, 120 * MIB, 110 * MIB] * 10
    assert rss_growth_problem(flat) is None
    growing = [(100 + 20 * i) * MIB for i in range(30)]
    problem = rss_growth_problem(growing)
    assert problem is not None
    assert "grew" in problem
    assert rss_growth_problem([1, 10**12]) is None  # too few samples to judge


def test_read_rss() -> None:
    assert read_rss() > MIB


def test_leaked_thread_reported() -> None:
    before = Resources.now()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="soak-test-leak")
    thread.start()
    try:
        problems = leaks(before, settle=0)
        assert any("soak-test-leak" in problem for problem in problems)
    finally:
        stop.set()
        thread.join()
    assert leaks(before, settle=10) == []


# A real run: every backend, faults at a high rate, a short flood.


def test_short_soak(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.soak",
            "--clients=3",
            "--minutes=0.1",
            "--seed=11",
            "--fault-rate=0.6",
            "--refuse-every=2",
            "--flood-seconds=1",
            f"--json={report_path}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # hang guard
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    assert report["ok"] is True
    totals = report["totals"]
    assert totals["sent"] > 0
    assert totals["confirmed"] > 0
    assert totals["lost"] == totals["duplicated"] == totals["corrupted"] == 0
    assert set(report["by_backend"]) == {
        "wskit.asyncio",
        "wskit.threading",
        "wskit.legacy",
    }
    assert all(backend["connections"] > 0 for backend in report["by_backend"].values())
    assert {flood["backend"] for flood in report["flood"]} == set(report["by_backend"])
    assert all(flood["received"] > 0 for flood in report["flood"])
    assert "result: OK" in result.stdout
