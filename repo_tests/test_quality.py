"""The package stays typed, linted and formatted; the README and CI agree."""

from __future__ import annotations

import ast
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


#: Clock readings a test could compare with a bound: wall-clock time that a busy machine stretches.
_CLOCKS = {"perf_counter", "monotonic", "time", "perf_counter_ns", "monotonic_ns", "time_ns"}


def _reads_clock(node: ast.AST, timed: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in timed:
            return True
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in _CLOCKS
            and isinstance(sub.func.value, ast.Name)
            and sub.func.value.id == "time"
        ):
            return True
    return False


def _upper_time_bounds(tree: ast.AST) -> list[int]:
    """Lines of asserts that bound a wall-clock duration from above (``elapsed < 2.0``). A
    lower bound (a delay waited at least its length) and a deadline compared with the clock
    (a hang guard in a wait loop: both sides read the clock) are allowed."""
    found: list[int] = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        timed: set[str] = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and _reads_clock(node.value, timed):
                timed |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(function):
            if not isinstance(node, ast.Assert):
                continue
            for compare in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
                sides = [compare.left, *compare.comparators]
                for op, low, high in zip(compare.ops, sides, sides[1:], strict=False):
                    small, large = (low, high) if isinstance(op, (ast.Lt, ast.LtE)) else (high, low)
                    if not isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
                        continue
                    if _reads_clock(small, timed) and not _reads_clock(large, timed):
                        found.append(node.lineno)
    return found


def test_no_test_asserts_a_wall_clock_duration() -> None:
    """Speed lives in benchmarks; tests count work (the ``count_calls`` fixture), compare CPU
    ratios with margins, or use hang guards, so a busy runner cannot turn them red."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in ("tests", "examples", "repo_tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in _upper_time_bounds(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


def test_the_wall_clock_check_sees_an_upper_bound_and_allows_the_rest() -> None:
    caught = """
def test_a():
    started = time.monotonic()
    work()
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
def test_b():
    begin = time.perf_counter()
    assert 0.8 < time.perf_counter() - begin < 3.0
def test_c():
    assert 5 > time.time() - T0
"""
    allowed = """
def test_d():
    begin = time.perf_counter()
    sleep_a_bit()
    assert time.perf_counter() - begin >= 0.2
def test_e():
    deadline = time.monotonic() + 20
    while not ready():
        assert time.monotonic() < deadline, "never ready"
def test_f():
    assert ratio <= 8.0
"""
    assert len(_upper_time_bounds(ast.parse(caught))) == 3
    assert _upper_time_bounds(ast.parse(allowed)) == []
