"""Run Autobahn|Testsuite client cases against echo agents.

Starts the wstest fuzzing server (in Docker, or natively in a Python 2.7
virtualenv), runs each agent command against it, has the server write its
reports, stops the server, and summarises ``reports/clients/index.json``.

Usage::

    python conformance/autobahn/run.py                      # websockets agent, Docker
    python conformance/autobahn/run.py --cases '1.*,2.*'
    python conformance/autobahn/run.py --server local
    python conformance/autobahn/run.py \\
        --agent 'wskit.asyncio=python -m wskit_agent --url {url} --agent {agent}'

An agent command is a shell-like string; ``{url}`` and ``{agent}`` in it are
replaced by the server URL and the agent name. Exit status: 0 when every agent
has a result for every case, 1 otherwise, 2 on a harness error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "AUTOBAHNTESTSUITE",
    "Agent",
    "AgentResult",
    "HarnessError",
    "RunResult",
    "Server",
    "build_image",
    "check_loopback_only",
    "choose_interpreter",
    "ensure_base_image",
    "ensure_docker",
    "ensure_local_venv",
    "image_tag",
    "main",
    "read_results",
    "requirements_for",
    "run",
    "run_agents",
    "server_case_count",
    "update_reports",
    "wait_for_port",
    "write_spec",
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BASE_SCRIPT = REPO / "tools" / "autobahn_base.sh"
DEFAULT_REPORTS = REPO / "conformance" / "reports" / "autobahn"
DEFAULT_WORK = HERE / ".work"
IMAGE_REPO = "wskit/autobahn"
AUTOBAHNTESTSUITE = "autobahntestsuite==0.8.2"
HOST = "127.0.0.1"
DEFAULT_PORT = 9001
CONTAINER_REPORTS = "/reports"
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
INTERPRETERS = {"cpython": "python2.7", "pypy": "pypy"}
PYTHON_PACKAGES = {
    "cpython": "python2.7 python2.7-dev",
    "pypy": "pypy pypy-dev libssl-dev libffi-dev",
}
# Both install offline from dist/; Debian's PyPy also needs --no-compile.
PIP_OPTIONS = {"cpython": "--no-index", "pypy": "--no-index --no-compile"}
# pip download tags of the interpreter in the image (Debian bullseye, x86_64).
DOWNLOAD_TAGS = {
    "cpython": ["--implementation", "cp", "--abi", "cp27mu"],
    "pypy": ["--implementation", "pp", "--abi", "pypy_73"],
}
PLATFORMS = ["manylinux2010_x86_64", "manylinux1_x86_64"]
VIRTUALENV_PIN = "virtualenv<20.22"
DOCKER_TIMEOUT = 60.0
BUILD_TIMEOUT = 1800.0
DOWNLOAD_TIMEOUT = 900.0
START_TIMEOUT = 60.0
AGENT_TIMEOUT = 3600.0
REPORT_TIMEOUT = 300.0
STOP_TIMEOUT = 30.0


class HarnessError(RuntimeError):
    """The harness itself could not do its work."""


@dataclass(frozen=True)
class Agent:
    """An agent: its report name and its command (``{url}``/``{agent}`` filled in)."""

    name: str
    command: tuple[str, ...]

    def argv(self, url: str) -> list[str]:
        return [arg.format(url=url, agent=self.name) for arg in self.command]

    @classmethod
    def parse(cls, text: str) -> Agent:
        """``NAME=COMMAND`` as given on the command line."""
        name, sep, command = text.partition("=")
        if not sep or not name or not command:
            raise HarnessError(f"agent must be NAME=COMMAND, got {text!r}")
        return cls(name, tuple(shlex.split(command)))


@dataclass
class AgentResult:
    """One agent's results: counts by behavior and each case's behavior."""

    name: str
    exit_code: int | None
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    close_counts: dict[str, int] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)
    close: dict[str, str] = field(default_factory=dict)


@dataclass
class RunResult:
    """What ran and what came out of it."""

    mode: str
    interpreter: str
    server: str
    url: str
    cases: list[str]
    case_count: int
    seconds: float
    agents: list[AgentResult]

    @property
    def complete(self) -> bool:
        return all(
            len(agent.cases) == self.case_count and agent.exit_code == 0
            for agent in self.agents
        )


# -- processes -------------------------------------------------------------


def _run(
    argv: Sequence[str],
    timeout: float,
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``, output captured; fail on timeout, and on non-zero if ``check``."""
    try:
        result = subprocess.run(
            list(argv),
            timeout=timeout,
            text=True,
            capture_output=True,
            check=False,
            env=None if env is None else dict(env),
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(
            f"timed out after {timeout:.0f}s: {shlex.join(argv)}"
        ) from exc
    except FileNotFoundError as exc:
        raise HarnessError(f"not found: {argv[0]}") from exc
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip()[-2000:]
        raise HarnessError(f"exit {result.returncode}: {shlex.join(argv)}\n{detail}")
    return result


def _log(message: str) -> None:
    print(f"autobahn: {message}", file=sys.stderr, flush=True)


# -- docker image ----------------------------------------------------------


def ensure_docker() -> None:
    """Fail unless the docker client can talk to a daemon."""
    if shutil.which("docker") is None:
        raise HarnessError("docker is not installed")
    _run(["docker", "info", "--format", "{{.ServerVersion}}"], DOCKER_TIMEOUT)


def ensure_base_image() -> str:
    """The base image to build on (pulled, or made by tools/autobahn_base.sh)."""
    result = _run(["bash", str(BASE_SCRIPT)], BUILD_TIMEOUT)
    lines = result.stdout.split()
    if not lines:
        raise HarnessError(f"{BASE_SCRIPT} printed no image name")
    return lines[-1]


def requirements_for(interpreter: str) -> list[str]:
    """The pinned requirements of requirements-py27.txt for ``interpreter``."""
    skip = "# pypy-only" if interpreter == "cpython" else "# cpython-only"
    pins = []
    for line in (HERE / "requirements-py27.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#") or skip in line:
            continue
        pins.append(line.split("#", 1)[0].strip())
    return pins


def image_tag(interpreter: str, base: str) -> str:
    """Image tag derived from everything that goes into the image."""
    digest = hashlib.sha256()
    for name in ("Dockerfile", "wstest_local.py"):
        digest.update((HERE / name).read_bytes())
    inputs = [interpreter, base, AUTOBAHNTESTSUITE, PIP_OPTIONS[interpreter]]
    inputs += [PYTHON_PACKAGES[interpreter], *requirements_for(interpreter)]
    for item in inputs:
        digest.update(item.encode() + b"\0")
    return f"{IMAGE_REPO}:{interpreter}-{digest.hexdigest()[:12]}"


def _have_image(tag: str) -> bool:
    result = _run(["docker", "image", "inspect", tag], DOCKER_TIMEOUT, check=False)
    return result.returncode == 0


def _download_dist(
    interpreter: str, pins: Sequence[str], dest: Path, work: Path
) -> None:
    """Download the pinned distributions for the image's interpreter.

    CPython's sdists can be prepared by this Python 3's pip. PyPy's include
    sdists (MarkupSafe 1.1.1, Twisted) whose metadata only a Python 2.7 with
    setuptools 44 and incremental can prepare: the local virtualenv's pip.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if interpreter == "cpython":
        pip = [sys.executable, "-m", "pip", "download"]
    else:
        python = str(ensure_local_venv(work))
        pip = [python, "-m", "pip", "download", "--no-build-isolation"]
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    argv = [
        *pip, "--no-deps", "--prefer-binary",
        "--python-version", "2.7", *DOWNLOAD_TAGS[interpreter], *platforms,
        "--dest", str(dest), *pins, AUTOBAHNTESTSUITE,
    ]  # fmt: skip
    _run(argv, DOWNLOAD_TIMEOUT)


def _stage_context(interpreter: str, work: Path, ca_dir: Path | None) -> Path:
    """Build context: Dockerfile, wrapper, requirements, dist/ and certs/."""
    context = work / f"build-{interpreter}"
    shutil.rmtree(context, ignore_errors=True)
    (context / "certs").mkdir(parents=True)
    for name in ("Dockerfile", "wstest_local.py"):
        shutil.copy2(HERE / name, context / name)
    pins = requirements_for(interpreter)
    (context / "requirements.txt").write_text("\n".join(pins) + "\n")
    if ca_dir is not None and ca_dir.is_dir():
        for cert in sorted(ca_dir.glob("*.crt")):
            shutil.copy2(cert, context / "certs" / cert.name)
    dist = work / f"dist-{interpreter}"
    _download_dist(interpreter, pins, dist, work)
    shutil.copytree(dist, context / "dist")
    return context


def build_image(
    interpreter: str = "cpython",
    work: Path = DEFAULT_WORK,
    ca_dir: Path | None = HOST_CA_DIR,
) -> str:
    """Build the server image unless an image of the same inputs exists."""
    base = ensure_base_image()
    tag = image_tag(interpreter, base)
    if _have_image(tag):
        _log(f"reusing image {tag}")
        return tag
    context = _stage_context(interpreter, work, ca_dir)
    _log(f"building image {tag} on {base}")
    argv = [
        "docker", "build", "--network", "host", "--tag", tag,
        "--build-arg", f"BASE={base}",
        "--build-arg", f"PYTHON={INTERPRETERS[interpreter]}",
        "--build-arg", f"PYTHON_PACKAGES={PYTHON_PACKAGES[interpreter]}",
        "--build-arg", f"PIP_OPTIONS={PIP_OPTIONS[interpreter]}",
        "--build-arg", f"AUTOBAHNTESTSUITE={AUTOBAHNTESTSUITE}",
        str(context),
    ]  # fmt: skip
    _run(argv, BUILD_TIMEOUT)
    return tag


# -- local virtualenv ------------------------------------------------------


def _find_python27() -> str:
    candidates = [os.environ.get("AUTOBAHN_PYTHON27", ""), "python2.7", "python2"]
    candidates += sorted(
        str(p) for p in Path.home().glob(".pyenv/versions/2.7*/bin/python2.7")
    )
    for candidate in filter(None, candidates):
        path = shutil.which(candidate) or candidate
        probe = [path, "-c", "import sys; assert sys.version_info[:2] == (2, 7)"]
        try:
            ok = subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return path
    raise HarnessError("no Python 2.7 found (set AUTOBAHN_PYTHON27)")


def choose_interpreter(name: str, mode: str = "docker") -> str:
    """The interpreter ``name`` stands for: ``auto`` picks PyPy when it can.

    PyPy runs the compression cases (12.x, 13.x) about a quarter faster with the
    same results, but preparing its downloads needs a host Python 2.7.
    """
    if mode == "local":
        return "cpython"
    if name != "auto":
        return name
    try:
        _find_python27()
    except HarnessError:
        return "cpython"
    return "pypy"


def ensure_local_venv(work: Path = DEFAULT_WORK) -> Path:
    """A Python 2.7 virtualenv with the pins; returns its python."""
    venv = work / "venv-py27"
    python = venv / "bin" / "python"
    pins = requirements_for("cpython")
    stamp_text = "\n".join([AUTOBAHNTESTSUITE, *pins])
    stamp = venv / "wskit-pins.txt"
    if stamp.is_file() and stamp.read_text() == stamp_text and python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    tool = work / "virtualenv-tool"
    if not (tool / "virtualenv").is_dir():
        pip = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--target",
            str(tool),
            VIRTUALENV_PIN,
        ]
        _run(pip, DOWNLOAD_TIMEOUT)
    env_argv = [
        sys.executable,
        "-m",
        "virtualenv",
        "--python",
        _find_python27(),
        str(venv),
    ]
    env = {**os.environ, "PYTHONPATH": str(tool)}
    _run(env_argv, DOWNLOAD_TIMEOUT, env=env)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    requirements = work / "requirements-cpython.txt"
    requirements.write_text("\n".join(pins) + "\n")
    _run([*pip, "incremental==16.10.1"], DOWNLOAD_TIMEOUT)
    _run([*pip, "--no-build-isolation", "-r", str(requirements)], DOWNLOAD_TIMEOUT)
    _run([*pip, "--no-deps", AUTOBAHNTESTSUITE], DOWNLOAD_TIMEOUT)
    stamp.write_text(stamp_text)
    return python


# -- spec and server -------------------------------------------------------


def write_spec(path: Path, port: int, outdir: str, cases: Sequence[str]) -> None:
    """A fuzzingserver spec from fuzzingserver.json with these settings."""
    spec = json.loads((HERE / "fuzzingserver.json").read_text())
    spec["url"] = f"ws://{HOST}:{port}"
    spec["outdir"] = outdir
    spec["cases"] = list(cases)
    path.write_text(json.dumps(spec, indent=2) + "\n")


@dataclass
class Server:
    """A running fuzzing server: a container name or a local process."""

    mode: str
    log: Path
    container: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        argv = [
            "docker",
            "inspect",
            "--format",
            "{{.State.Running}}",
            str(self.container),
        ]
        result = _run(argv, DOCKER_TIMEOUT, check=False)
        return result.stdout.strip() == "true"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
            return
        if self.container is not None:
            logs = _run(["docker", "logs", self.container], DOCKER_TIMEOUT, check=False)
            self.log.write_text(logs.stdout + logs.stderr)
            _run(
                ["docker", "rm", "--force", self.container], DOCKER_TIMEOUT, check=False
            )


def _start_docker(tag: str, reports: Path, spec_name: str) -> Server:
    # Unique per server: the conformance runner starts several at once.
    name = f"wskit-autobahn-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    argv = [
        "docker", "run", "--detach", "--name", name, "--network", "host",
        "--user", f"{os.getuid()}:{os.getgid()}", "--env", "PYTHONUNBUFFERED=1",
        "--volume", f"{reports}:{CONTAINER_REPORTS}", tag,
        "-m", "fuzzingserver", "-s", f"{CONTAINER_REPORTS}/{spec_name}",
        "--webport", "0",
    ]  # fmt: skip
    try:
        _run(argv, DOCKER_TIMEOUT)
    except HarnessError:
        _run(["docker", "rm", "--force", name], DOCKER_TIMEOUT, check=False)
        raise
    return Server("docker", reports / "server.log", container=name)


def _start_local(python: Path, reports: Path, spec: Path) -> Server:
    log = reports / "server.log"
    argv = [
        str(python), str(HERE / "wstest_local.py"),
        "-m", "fuzzingserver", "-s", str(spec), "--webport", "0",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=reports,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return Server("local", log, process=process)


def _port_in_use(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_for_port(server: Server, port: int, timeout: float = START_TIMEOUT) -> None:
    """Wait until ``HOST:port`` accepts connections, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            if not server.alive():
                message = f"the fuzzing server exited; see {server.log}"
                raise HarnessError(message) from None
            time.sleep(0.2)
    raise HarnessError(f"{HOST}:{port} not accepting connections after {timeout:.0f}s")


def _listening_addresses(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


def check_loopback_only(port: int) -> None:
    """Fail unless ``port`` is listened on by 127.0.0.1 and nothing wider."""
    addresses = _listening_addresses(port)
    loopback = "0100007F"  # 127.0.0.1, little-endian hex
    if not addresses:
        raise HarnessError(f"nothing listens on port {port} in /proc/net/tcp")
    wider = [a for a in addresses if a != loopback]
    if wider:
        raise HarnessError(f"port {port} is bound beyond 127.0.0.1: {wider}")


# -- agents and reports ----------------------------------------------------


def _ws_session(url: str, path: str, timeout: float) -> list[tuple[int, bytes]]:
    """Open ``url + path`` as a WebSocket and return the frames until it closes."""
    host_port = url.split("://", 1)[1].rstrip("/")
    host, _, port = host_port.partition(":")
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((host, int(port or 80)), timeout=timeout) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise HarnessError(f"{path}: connection closed during the handshake")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise HarnessError(f"{path}: refused: {head[:200]!r}")
        return _read_frames(sock, rest)


def _read_frames(sock: socket.socket, data: bytes) -> list[tuple[int, bytes]]:
    """Unmasked server frames until a close frame, which is answered."""
    frames: list[tuple[int, bytes]] = []
    while True:
        frame, data = _split_frame(data)
        if frame is not None:
            frames.append(frame)
            if frame[0] == 8:
                sock.sendall(b"\x88\x80" + os.urandom(4))  # masked empty close
                return frames
            continue
        chunk = sock.recv(65536)
        if not chunk:
            return frames
        data += chunk


def _split_frame(data: bytes) -> tuple[tuple[int, bytes] | None, bytes]:
    """The first complete frame of ``data`` (opcode, payload) and the rest."""
    if len(data) < 2:
        return None, data
    length, offset = data[1] & 0x7F, 2
    if length >= 126:
        size = 2 if length == 126 else 8
        if len(data) < 2 + size:
            return None, data
        length, offset = int.from_bytes(data[2 : 2 + size], "big"), 2 + size
    if len(data) < offset + length:
        return None, data
    return (data[0] & 0x0F, data[offset : offset + length]), data[offset + length :]


def update_reports(url: str, agent: str, timeout: float = REPORT_TIMEOUT) -> None:
    """Have the server at ``url`` write its reports for ``agent``."""
    _ws_session(url, f"/updateReports?agent={quote(agent)}", timeout)


def server_case_count(url: str, timeout: float = START_TIMEOUT) -> int:
    """How many cases the server at ``url`` runs (its ``/getCaseCount``)."""
    frames = _ws_session(url, "/getCaseCount", timeout)
    texts = [payload for opcode, payload in frames if opcode == 1]
    if not texts:
        raise HarnessError("getCaseCount sent no count")
    return int(texts[0].decode())


def run_agents(
    agents: Sequence[Agent], url: str, server: Server, timeout: float = AGENT_TIMEOUT
) -> list[tuple[Agent, int | None, float]]:
    """Run each agent's command; its exit code (None on timeout) and seconds."""
    outcomes: list[tuple[Agent, int | None, float]] = []
    for agent in agents:
        argv = agent.argv(url)
        _log(f"agent {agent.name}: {shlex.join(argv)}")
        started = time.monotonic()
        try:
            code: int | None = subprocess.run(
                argv, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.monotonic() - started
        _log(f"agent {agent.name}: exit {code} after {seconds:.1f}s")
        outcomes.append((agent, code, seconds))
        if not server.alive():
            raise HarnessError(f"the fuzzing server died; see {server.log}")
        update_reports(url, agent.name)
    return outcomes


def read_results(index: Path, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """Each case's behavior and close behavior for agent ``name``."""
    if not index.is_file():
        return {}, {}
    entries = json.loads(index.read_text()).get(name, {})
    cases = {case: str(entry.get("behavior")) for case, entry in entries.items()}
    close = {case: str(entry.get("behaviorClose")) for case, entry in entries.items()}
    return _sorted_cases(cases), _sorted_cases(close)


def _case_key(case: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in case.split("."))


def _sorted_cases(cases: Mapping[str, str]) -> dict[str, str]:
    return {case: cases[case] for case in sorted(cases, key=_case_key)}


# -- the run ---------------------------------------------------------------


@contextmanager
def _server(
    mode: str,
    interpreter: str,
    reports: Path,
    port: int,
    cases: Sequence[str],
    work: Path,
) -> Iterator[tuple[Server, str]]:
    clients = reports / "clients"
    shutil.rmtree(clients, ignore_errors=True)
    clients.mkdir(parents=True)
    spec = reports / "fuzzingserver.json"
    if _port_in_use(port):
        raise HarnessError(f"{HOST}:{port} is already in use (a stale server?)")
    if mode == "docker":
        ensure_docker()
        tag = build_image(interpreter, work)
        write_spec(spec, port, f"{CONTAINER_REPORTS}/clients", cases)
        server = _start_docker(tag, reports, spec.name)
        label = tag
    else:
        python = ensure_local_venv(work)
        write_spec(spec, port, str(clients), cases)
        server = _start_local(python, reports, spec)
        label = str(python)
    try:
        wait_for_port(server, port)
        check_loopback_only(port)
        yield server, label
    finally:
        server.stop()


def run(
    agents: Sequence[Agent],
    mode: str = "docker",
    interpreter: str = "auto",
    cases: Sequence[str] = ("*",),
    reports: Path = DEFAULT_REPORTS,
    port: int = DEFAULT_PORT,
    work: Path = DEFAULT_WORK,
) -> RunResult:
    """Start the server, run the agents, collect the results, stop the server."""
    interpreter = choose_interpreter(interpreter, mode)
    reports = reports.resolve()
    reports.mkdir(parents=True, exist_ok=True)
    url = f"ws://{HOST}:{port}"
    started = time.monotonic()
    with _server(mode, interpreter, reports, port, cases, work) as (server, label):
        case_count = server_case_count(url)
        _log(f"server {label} ({mode}) runs {case_count} cases at {url}")
        outcomes = run_agents(agents, url, server)
    results = []
    for agent, code, seconds in outcomes:
        per_case, close = read_results(reports / "clients" / "index.json", agent.name)
        counts = dict(Counter(per_case.values()).most_common())
        close_counts = dict(Counter(close.values()).most_common())
        results.append(
            AgentResult(
                agent.name,
                code,
                round(seconds, 1),
                counts,
                close_counts,
                per_case,
                close,
            )
        )
    seconds = round(time.monotonic() - started, 1)
    return RunResult(
        mode, interpreter, label, url, list(cases), case_count, seconds, results
    )


# -- command line ----------------------------------------------------------


def _default_agent() -> Agent:
    script = str(HERE / "agent_websockets.py")
    return Agent(
        "websockets", (sys.executable, script, "--url", "{url}", "--agent", "{agent}")
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=("docker", "local"), default="docker")
    parser.add_argument(
        "--interpreter",
        choices=["auto", *sorted(INTERPRETERS)],
        default="auto",
        help="Python 2.7 in the image (docker mode); auto: pypy (faster) when a"
        " host Python 2.7 can prepare its downloads, else cpython",
    )
    parser.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="agent command with {url} and {agent}; repeatable",
    )
    parser.add_argument("--cases", default="*", help='case patterns, e.g. "1.*,2.*"')
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    parser.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        help="cache: build contexts, downloads, virtualenv",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build (or reuse) the image or virtualenv and exit",
    )
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument("--verbose", action="store_true", help="print every case")
    return parser.parse_args(argv)


def _print_result(result: RunResult, verbose: bool) -> None:
    print(f"mode={result.mode} interpreter={result.interpreter} server={result.server}")
    patterns = ",".join(result.cases)
    print(f"cases={result.case_count} patterns={patterns} seconds={result.seconds}")
    for agent in result.agents:
        counts = " ".join(f"{k}={v}" for k, v in agent.counts.items())
        print(
            f"{agent.name}: exit={agent.exit_code} seconds={agent.seconds} "
            f"results={len(agent.cases)} {counts}"
        )
        for case, behavior in agent.cases.items():
            if verbose or behavior not in ("OK", "INFORMATIONAL"):
                print(f"  {case}: {behavior} (close {agent.close[case]})")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    try:
        interpreter = choose_interpreter(args.interpreter, args.server)
        if args.build_only:
            if args.server == "docker":
                ensure_docker()
                print(build_image(interpreter, args.work))
            else:
                print(ensure_local_venv(args.work))
            return 0
        agents = [Agent.parse(a) for a in args.agent] or [_default_agent()]
        result = run(
            agents,
            args.server,
            interpreter,
            cases,
            args.reports,
            args.port,
            args.work,
        )
    except HarnessError as exc:
        print(f"autobahn: error: {exc}", file=sys.stderr)
        return 2
    _print_result(result, args.verbose)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0 if result.complete else 1


if __name__ == "__main__":
    sys.exit(main())
