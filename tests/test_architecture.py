"""The layering of DESIGN.md holds: import-linter's contracts in pyproject.toml all pass."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_shell_is_ever_spawned():
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        if any(part in (".venv", "scenarios", "tests") for part in path.parts):
            continue
        if "shell=True" in path.read_text(errors="replace"):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"shell=True in {offenders}"
