"""The benchmark harness: every row runs (tiny sizes, one round) and is reported; the pieces
that turn measurements into rows are right. No timing is asserted: timings are noisy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH = REPO_ROOT / "benchmarks"
RUN = BENCH / "run.py"
HEADER = [
    "benchmark",
    "ours",
    "peer or reference",
    "ratio",
    "spread",
    "instructions",
    "goal",
    "met",
]
NAMES = [
    "per_test",
    "mocked_calls",
    "replay",
    "loopback",
    "cassette_safety",
    "startup",
    "scale",
]
#: Rows every benchmark must produce (by the start of their names), so none silently vanishes.
EXPECTED = {
    "per_test": ["per-test:"] * 4 + ["peer:"] + ["reference:"] * 3,
    "mocked_calls": ["requests:", "limit:", "httpx:", "limit:"],
    "replay": ["replay:", "replay:", "limit:", "replay:", "replay:"],
    "loopback": ["loopback:"] * 4 + ["loopback, raw-socket"] * 2,
    "cassette_safety": [f"cassette safety, {kind}" for kind in ("realistic", "token-dense")]
    + ["cassette safety, adversarial", "cassette safety, multipart"]
    + ["cassette safety, realistic"] * 2
    + ["verify, "],
    "startup": ["start-up: the plugin module via -p"] + ["start-up, one venv, -p:"] * 4,
    "scale": ["scale:"] * 3
    + ["memory: peak RSS", "memory reference:", "scale: test-loop", "memory: pytest_relaytokens"]
    + ["xdist:", "xdist:"],
}


def harness(
    *args: str, timeout: float = 300, cache: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    if cache is not None:
        env["RELAYTOKENS_BENCH_CACHE"] = str(cache)
    return subprocess.run(
        [sys.executable, str(RUN), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("name", NAMES)
def test_every_row_runs_and_is_reported(name: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    cache = tmp_path / "venvs"
    done = harness("--quick", "--only", name, "--json", str(out), cache=cache)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert not cache.exists(), "--quick must not make the start-up venvs"
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert data["mode"] == "quick" and data["command"].endswith(f"--json {out}")
    rows = data["rows"]
    assert len(rows) == len(EXPECTED[name]), [row["name"] for row in rows]
    for row, start in zip(rows, EXPECTED[name], strict=True):
        assert row["name"].startswith(start), (row["name"], start)
    lines = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert [cell.strip() for cell in lines[0].strip("|").split("|")] == HEADER
    assert len(lines) == 2 + len(rows)
    for row in rows:
        assert row["error"] is None and row["skipped"] is None, row
        assert row["name"] in done.stdout
        if row["ours"] is None:  # only a cassette-safety case over its time limit
            assert "did not finish" in row["note"], row
            continue
        assert isinstance(row["ours"], float) and isinstance(row["baseline"], float), row
        if "marginal" not in row["name"] and "per extra test" not in row["name"]:
            assert row["ours"] > 0 and row["baseline"] > 0, row
        assert row["ratio"] == pytest.approx(row["ours"] / row["baseline"])


def test_list_names_every_benchmark() -> None:
    done = harness("--list", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == NAMES


def test_help_lists_every_option() -> None:
    done = harness("--help", timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--full", "--only", "--list", "--compare", "--against"):
        assert option in done.stdout
    assert "flag >10% worse" in " ".join(done.stdout.split())  # argparse wraps to the terminal


def test_unknown_benchmark_is_refused() -> None:
    done = harness("--only", "no_such_benchmark", timeout=60)
    assert done.returncode == 2
    assert "no_such_benchmark" in done.stderr and "cassette_safety" in done.stderr


@pytest.fixture
def common(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCH))
    import _common

    return _common


def test_rows_take_medians_spread_and_direction(common: Any) -> None:
    rate = common.compare("r", "calls/s", [10.0, 30.0, 20.0], [10.0, 10.0, 10.0], ">= 1.5")
    assert rate.ours == 20.0 and rate.ratio == 2.0
    assert rate.spread == (1.0, 3.0)
    rate.ours_instr, rate.baseline_instr = 2_000.0, 3_000.0
    assert rate.instr_ratio == pytest.approx(1.5)  # fewer instructions per call: better, > 1
    cost = common.compare("c", "s CPU", [1.2, 1.4], [1.0, 1.0], "<= 1.2", instr=(300.0, 200.0))
    assert cost.ratio == pytest.approx(1.3)
    assert cost.instr_ratio == pytest.approx(1.5)  # more instructions: worse, > 1


def test_a_verdict_needs_five_rounds_and_both_measures_to_agree(common: Any) -> None:
    """Three timed rounds are no verdict; with instructions it rests on them and says so; five
    rounds and instructions must agree, or the row is not met and says which one met it."""
    three = common.compare("r", "calls/s", [2.0] * 3, [1.0] * 3, ">= 1.5")
    assert three.met is None and three.verdict == "none (3 round(s), 5 needed)"
    three.ours_instr, three.baseline_instr = 100.0, 200.0
    assert three.met is True and three.verdict.startswith("yes (instructions only")
    five = common.compare("r", "calls/s", [2.05] * 5, [1.0] * 5, ">= 2.0", instr=(100.0, 187.0))
    assert five.met is False and five.verdict == "NO (split: timed only meets it)"
    five.baseline_instr = 210.0
    assert five.met is True and five.verdict == "yes"
    timed = common.compare("c", "s CPU", [1.3] * 5, [1.0] * 5, "<= 1.2")
    assert timed.met is False and timed.verdict == "NO (timed only)"
    memory = common.compare("m", "MiB", [105.0], [100.0], "<= 1.1")  # counted: one run decides
    assert memory.met is True and memory.verdict == "yes (counted only)"
    assert common.compare("x", "s", [1.0], [1.0]).verdict == ""  # no goal, no verdict


def test_compare_flags_rows_more_than_ten_percent_worse(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--compare``: worse is in each row's direction (a rate falling, a cost rising), for the
    ratio, the instruction ratio and, where the row says so, its own figure."""
    monkeypatch.syspath_prepend(str(BENCH))
    import run

    def row(name: str, unit: str, ratio: float, instr: float, ours: float, absolute: bool = False):
        return {
            "name": name,
            "unit": unit,
            "ratio": ratio,
            "instr_ratio": instr,
            "ours": ours,
            "absolute": absolute,
            "error": None,
            "skipped": None,
            "ours_rounds": [ours] * 5,
        }

    before = {
        "rows": [
            row("rate", "calls/s", 1.0, 0.0, 100.0),
            row("cost", "s CPU", 1.0, 1.0, 1.0),
            row("size", "s CPU", 2.0, 0.0, 1.0, absolute=True),
            row("gone", "s CPU", 1.0, 1.0, 1.0),
        ]
    }
    after = [
        row("rate", "calls/s", 0.89, 0.0, 50.0),  # ratio 11% worse; ours not compared
        row("cost", "s CPU", 1.05, 1.2, 1.0),  # instructions 20% worse
        row("size", "s CPU", 2.0, 0.0, 1.15, absolute=True),  # its own figure 15% worse
        row("new", "s CPU", 1.0, 1.0, 1.0),
    ]
    text, worse = run.compare_table(before, after)
    assert worse == ["rate: ratio", "cost: instructions", "size: ours"]
    assert "not compared: no row of this name before" in text
    assert "not compared: no row of this name now" in text
    assert "-11%" in text and "-5%" in text
    after[1]["ratio"], after[1]["instr_ratio"] = 1.3, 1.05  # instructions decide: not flagged
    text, worse = run.compare_table(before, after)
    assert worse == ["rate: ratio", "size: ours"] and "instructions decide" in text
    after[1]["instr_ratio"] = 1.2
    before["rows"][0]["ours_rounds"] = [100.0] * 3  # a timed ratio of 3 rounds is not flagged
    assert run.compare_table(before, after)[1] == ["cost: instructions", "size: ours"]


def test_interleave_runs_sides_round_robin(common: Any) -> None:
    order: list[str] = []

    def side(name: str) -> Any:
        return lambda: order.append(name) or float(len(order))

    values = common.interleave([side("a"), side("b")], 3)
    assert order == ["a", "b"] * 3
    assert values == [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]


def test_callgrind_dumps_are_read_by_section(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import _cg

    for n, (name, total) in enumerate([("a", 100), ("b", 250), ("a", 50)], start=1):
        (tmp_path / f"cg.123.{n}").write_text(
            f"version: 1\ndesc: Trigger: Client Request: {name}\nevents: Ir\ntotals: {total}\n",
            encoding="utf-8",
        )
    (tmp_path / "cg.123").write_text("desc: Trigger: Program termination\ntotals: 9\n")
    assert _cg.read_dumps(tmp_path) == {"a": 150, "b": 250}


@pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("cc") is None,
    reason="instruction counts need valgrind and a C compiler",
)
def test_instruction_counts_come_from_the_measured_section_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Under callgrind, only what runs between start() and stop() is counted: ten times the
    work counts about ten times the instructions, and the interpreter's start-up is not in."""
    monkeypatch.syspath_prepend(str(BENCH))
    import _cg

    lib = _cg.library()
    assert isinstance(lib, Path), lib
    script = (
        f"import sys; sys.path.insert(0, {str(BENCH)!r})\n"
        "from _cg import Probe\n"
        "probe = Probe()\n"
        "assert probe.active\n"
        "for name, n in (('small', 1000), ('large', 10000)):\n"
        "    probe.start(); sum(i * i for i in range(n)); probe.stop(name)\n"
    )
    done = subprocess.run(
        [*_cg.callgrind_command(tmp_path), sys.executable, "-c", script],
        env={**os.environ, _cg.LIB_ENV: str(lib)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    counts = _cg.read_dumps(tmp_path)
    assert 8 < counts["large"] / counts["small"] < 12, counts
    assert counts["small"] < 5_000_000, counts  # start-up alone is hundreds of millions


@pytest.fixture
def startup(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_startup

    return bench_startup


def test_startup_without_a_package_index_gives_skipped_rows(
    startup: Any, common: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A venv pip cannot fill (no index) is a skipped row naming the side and the cause; the
    goal's own row, which needs no venv, is still measured."""
    monkeypatch.setenv("RELAYTOKENS_BENCH_CACHE", str(tmp_path / "venvs"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels-here"))
    monkeypatch.setenv("PIP_CONSTRAINT", "")
    monkeypatch.setattr(startup, "rounds", lambda settings: 1)
    rows = startup.run(common.Settings(instructions=False))
    assert rows[0].name.startswith("start-up: the plugin module") and rows[0].ratio is not None
    assert len(rows) == 5
    assert [row.goal for row in rows] == ["", "", "<= 1.03", "", ""]  # the wheel carries it
    for row in rows[1:]:
        assert row.skipped is not None and row.error is None, row
        assert "pip install failed" in row.skipped and row.skipped.startswith("bare:"), row
    assert not list((tmp_path / "venvs").glob("bare-*")), "a half-made venv must not stay cached"


def test_venvs_are_keyed_by_python_and_requirements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import _venvs

    pins = ["pytest==9.0.0"]
    assert _venvs.venv_key("bare", pins) == _venvs.venv_key("bare", list(pins))
    assert _venvs.venv_key("bare", pins) != _venvs.venv_key("bare", ["pytest==9.0.1"])
    assert _venvs.venv_key("bare", pins) != _venvs.venv_key("recording", pins)
    assert _venvs.venv_key("bare", pins).startswith(f"bare-py{sys.version_info[0]}")
    monkeypatch.setenv("RELAYTOKENS_BENCH_CACHE", "/somewhere/else")
    assert _venvs.cache_root() == Path("/somewhere/else")
    monkeypatch.delenv("RELAYTOKENS_BENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert _venvs.cache_root() == Path("/xdg/pytest-relaytokens-bench")
    environ = _venvs.venv_env()
    assert "PYTHONPATH" not in environ and not any(k.startswith("PYTEST_") for k in environ)
