"""Workflows: ``nox -s tests`` (the README's test command), lint, typecheck,
conformance, bench, docs. The version matrix lives in tox.ini.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["tests", "lint", "typecheck"]

PACKAGES = ("core", "asyncio", "threading", "legacy")
EDITABLE = [arg for pkg in PACKAGES for arg in ("-e", f"packages/wskit-{pkg}")]
# The packages' test folders hold modules of the same names (test_client.py in
# asyncio and threading), so mypy checks each folder in a run of its own.
MYPY_RUNS = [
    [f"packages/wskit-{pkg}/src" for pkg in PACKAGES]
    + ["packages/wskit-core/tests", "tools", "testing", "conformance", "noxfile.py"],
    *([f"packages/wskit-{pkg}/tests"] for pkg in PACKAGES[1:]),
]
# wskit-core's line coverage floor; the property tests count towards it.
CORE_COVERAGE = 95


def _install_group(session: nox.Session, group: str) -> None:
    groups = nox.project.load_toml("pyproject.toml")["dependency-groups"]
    session.install(*groups[group])


@nox.session
def tests(session: nox.Session) -> None:
    """Every package's tests against real peers, plus the core coverage floor."""
    _install_group(session, "test")
    session.install(*EDITABLE, env={"WSKIT_REQUIRE_EXTENSIONS": "1"})
    session.run("python", "tools/check_repo.py")
    session.run("python", "tools/unasync.py", "--check")
    session.run("python", "-m", "conformance.faq", "generate", "--check")
    session.run(
        "pytest",
        "--cov",
        "--cov-report=term",
        f"--cov-fail-under={CORE_COVERAGE}",
        *session.posargs,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    _install_group(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package, the tests, the tools and this file."""
    _install_group(session, "typecheck")
    for targets in MYPY_RUNS:
        session.run("mypy", *targets)


@nox.session
def bench(session: nox.Session) -> None:
    """The core micro-benchmark, then the end-to-end benchmark next to peer clients.

    Arguments after ``--`` go to ``python -m tools.bench`` (``--quick``,
    ``--clients``, ``--scenarios``, ``--rounds``, ``--duration``, ``--output``,
    ``--json``, ``--docs``); ``--quick`` makes the core benchmark quick too.
    """
    _install_group(session, "bench")
    session.install(*EDITABLE, env={"WSKIT_REQUIRE_EXTENSIONS": "1"})
    quick = ["--quick"] if "--quick" in session.posargs else []
    session.run("python", "tools/bench_core.py", *quick)
    session.run("python", "-m", "tools.bench", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs with warnings as errors, then run every example they show."""
    _install_group(session, "docs")
    _install_group(session, "conformance")
    session.install(*EDITABLE)
    session.run(
        "sphinx-build",
        "-W",
        "-n",
        "--keep-going",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
    )
    session.run("python", "tools/doc_examples.py", *session.posargs)


@nox.session
def conformance(session: nox.Session) -> None:
    """The conformance report: Autobahn|Testsuite and the FAQ matrix, every backend.

    Arguments after ``--`` go to ``python -m conformance`` (``--server local``,
    ``--cases '1.*'``, ``--backend wskit.asyncio``, ...).
    """
    _install_group(session, "conformance")
    session.install(*EDITABLE, env={"WSKIT_REQUIRE_EXTENSIONS": "1"})
    session.run("python", "-m", "conformance", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """Soak test: reconnecting clients of every backend against a faulty server.

    Not in the default run. Arguments after ``--`` go to ``python -m tools.soak``
    (``--clients 30 --minutes 5 --seed 1``); see docs/reliability.rst.
    """
    _install_group(session, "soak")
    session.install(*EDITABLE, env={"WSKIT_REQUIRE_EXTENSIONS": "1"})
    session.run("python", "-m", "tools.soak", *session.posargs)


# atheris has wheels for CPython 3.11 to 3.13 only.
@nox.session(python="3.11")
def fuzz(session: nox.Session) -> None:
    """Fuzz the frame and HTTP response parsers with atheris.

    Not in the default run. ``-- --runs N`` sets the inputs per target (default
    20000, under a minute); see docs/reliability.rst.
    """
    _install_group(session, "fuzz")
    session.install("-e", "packages/wskit-core")
    session.run("python", "packages/wskit-core/tests/fuzz_run.py", *session.posargs)
