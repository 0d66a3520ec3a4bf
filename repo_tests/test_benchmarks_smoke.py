"""The benchmark harness runs and reports (no timing is asserted: timings are noisy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN = REPO_ROOT / "benchmarks" / "run.py"
HEADER = ["benchmark", "ours", "baseline", "ratio", "goal", "met"]
NAMES = ["startup", "per_test", "mocked_calls", "loopback", "replay", "generation", "scale"]


def harness(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = harness("--quick", "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads(out.read_text(encoding="utf-8"))


def test_quick_run_prints_a_table(
    quick_run: tuple[subprocess.CompletedProcess[str], dict[str, object]],
) -> None:
    done, _ = quick_run
    lines = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert [cell.strip() for cell in lines[0].strip("|").split("|")] == HEADER
    assert set(lines[1]) <= {"|", "-"}
    assert len(lines) >= 2 + len(NAMES)
    assert all(line.count("|") == len(HEADER) + 1 for line in lines)


def test_quick_run_writes_valid_json(
    quick_run: tuple[subprocess.CompletedProcess[str], dict[str, object]],
) -> None:
    done, data = quick_run
    assert data["mode"] == "quick"
    rows = data["rows"]
    assert isinstance(rows, list) and len(rows) >= len(NAMES)
    for row in rows:
        assert {*HEADER[1:], "name", "unit", "skipped", "error"} <= set(row)
        assert row["error"] is None, row
        if row["skipped"] is None:
            assert isinstance(row["ours"], float) and isinstance(row["baseline"], float), row
            if "marginal" not in row["name"]:  # a difference of two short timings may be < 0
                assert row["ours"] > 0 and row["baseline"] > 0, row
            assert row["ratio"] == pytest.approx(row["ours"] / row["baseline"])
            assert row["name"] in done.stdout
        else:
            assert f"skipped: {row['skipped']}" in done.stdout


def test_list_names_every_benchmark() -> None:
    done = harness("--list", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == NAMES


def test_unknown_benchmark_is_refused() -> None:
    done = harness("--only", "no_such_benchmark", timeout=60)
    assert done.returncode == 2
    assert "no_such_benchmark" in done.stderr and "generation" in done.stderr
