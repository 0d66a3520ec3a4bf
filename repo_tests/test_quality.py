"""The package stays typed, linted and formatted; the README and CI agree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    exe = shutil.which(name, path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", name]


def test_py_typed_ships() -> None:
    assert (ROOT / "pytest_relaytokens" / "py.typed").exists()


def test_mypy_strict_clean() -> None:
    result = subprocess.run(
        [*_tool("mypy"), "--strict", "pytest_relaytokens"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_clean(args: list[str]) -> None:
    result = subprocess.run([*_tool("ruff"), *args, "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:bash|sh)\n(.*?)```", readme.split("## Quick start")[1], re.S)
    quick = [ln.strip() for block in commands[:1] for ln in block.splitlines() if ln.strip()]
    assert len(quick) == 2, quick
    ci = (ROOT / ".ci" / "run").read_text()
    assert quick[1] in ci.splitlines()
