from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_repo", ROOT / "tools/check_repo.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_repo = _load()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for pkg in ("core", "asyncio", "threading", "legacy"):
        src = ROOT / "packages" / f"wskit-{pkg}"
        dst = tmp_path / "packages" / f"wskit-{pkg}"
        dst.mkdir(parents=True)
        shutil.copy(src / "pyproject.toml", dst / "pyproject.toml")
        shutil.copytree(src / "src", dst / "src")
    return tmp_path


def test_this_repository_passes() -> None:
    assert check_repo.check(ROOT) == []


def test_copy_passes(repo: Path) -> None:
    assert check_repo.check(repo) == []


def test_stray_namespace_init_fails(repo: Path) -> None:
    (repo / "packages/wskit-threading/src/wskit/__init__.py").write_text("")
    problems = check_repo.check(repo)
    assert len(problems) == 1
    assert "wskit-threading" in problems[0]
    assert "namespace" in problems[0]


def test_missing_py_typed_fails(repo: Path) -> None:
    (repo / "packages/wskit-legacy/src/wskit/legacy/py.typed").unlink()
    assert any("py.typed" in p for p in check_repo.check(repo))


def test_pin_mismatch_fails(repo: Path) -> None:
    path = repo / "packages/wskit-asyncio/pyproject.toml"
    path.write_text(path.read_text().replace("wskit-core==0.1.0", "wskit-core>=0.1"))
    assert any("must pin wskit-core==0.1.0" in p for p in check_repo.check(repo))


def test_version_mismatch_fails(repo: Path) -> None:
    path = repo / "packages/wskit-core/pyproject.toml"
    path.write_text(path.read_text().replace('version = "0.1.0"', 'version = "0.2.0"'))
    problems = check_repo.check(repo)
    assert any("disagree on the version" in p for p in problems)
    assert any("__version__" in p for p in problems)


def test_main_exit_status(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_repo.main([str(repo)]) == 0
    (repo / "packages/wskit-core/src/wskit/__init__.py").write_text("")
    assert check_repo.main([str(repo)]) == 1
    assert "must not exist" in capsys.readouterr().err
