"""Repository invariants that no single package's tests can see.

- ``wskit`` is a PEP 420 namespace: one stray ``src/wskit/__init__.py`` in any
  distribution makes it own the whole namespace and hides every sibling.
- All distributions share one version and pin their wskit siblings exactly, so an
  install can never mix a front end with a core it was not tested against.
- Every sub-package ships ``py.typed``, or type checkers ignore its annotations.

Usage: ``python tools/check_repo.py [ROOT]``; exits 1 and lists every problem.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["check", "main"]

PACKAGES = ("core", "asyncio", "threading", "legacy")
_PIN = re.compile(r"^(wskit-[a-z]+)\s*(?:==\s*([^\s;,]+))?")
_VERSION_LINE = re.compile(r'^__version__\s*=\s*"([^"]+)"', re.MULTILINE)


def _declared_version(sub_dir: Path) -> str | None:
    for name in ("version.py", "__init__.py"):
        path = sub_dir / name
        if path.is_file():
            match = _VERSION_LINE.search(path.read_text(encoding="utf-8"))
            if match:
                return match.group(1)
    return None


def check(root: Path) -> list[str]:
    """Return one message per broken invariant under ``root``."""
    problems: list[str] = []
    versions: dict[str, str] = {}
    pins: list[tuple[str, str, str | None]] = []
    for pkg in PACKAGES:
        dist = f"wskit-{pkg}"
        base = root / "packages" / dist
        pyproject = base / "pyproject.toml"
        if not pyproject.is_file():
            problems.append(f"{dist}: missing {pyproject.relative_to(root)}")
            continue
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        versions[dist] = project["version"]
        for requirement in project.get("dependencies", []):
            match = _PIN.match(requirement)
            if match:
                pins.append((dist, match.group(1), match.group(2)))
        stray = base / "src" / "wskit" / "__init__.py"
        if stray.exists():
            problems.append(
                f"{dist}: {stray.relative_to(root)} must not exist: wskit is a "
                "namespace package shared by every distribution; delete the file"
            )
        sub_dir = base / "src" / "wskit" / pkg
        if not (sub_dir / "py.typed").is_file():
            problems.append(
                f"{dist}: missing {(sub_dir / 'py.typed').relative_to(root)}"
            )
        declared = _declared_version(sub_dir)
        if declared != project["version"]:
            problems.append(
                f"{dist}: __version__ is {declared!r} but pyproject.toml says "
                f"{project['version']!r}"
            )
    if len(set(versions.values())) > 1:
        listing = ", ".join(f"{dist} {version}" for dist, version in versions.items())
        problems.append(f"distributions disagree on the version: {listing}")
    for dist, sibling, pinned in pins:
        expected = versions.get(sibling)
        if expected is None:
            problems.append(f"{dist}: depends on unknown sibling {sibling}")
        elif pinned != expected:
            problems.append(
                f"{dist}: must pin {sibling}=={expected}, found "
                f"{'no pin' if pinned is None else '==' + pinned}"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    problems = check(root)
    for problem in problems:
        print(f"check_repo: {problem}", file=sys.stderr)
    if not problems:
        print("check_repo: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
