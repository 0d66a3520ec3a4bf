"""Shared pieces of the benchmark harness: settings, rows, interleaved rounds, pytest runs."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import _cg

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent

__all__ = [
    "COUNTED_UNITS",
    "HERE",
    "MIN_ROUNDS",
    "PLUGINS",
    "REPO_ROOT",
    "SUITE_RUNS",
    "Benchmark",
    "Rounds",
    "Row",
    "Run",
    "Settings",
    "Skip",
    "compare",
    "guarded",
    "in_suite_rounds",
    "instructions",
    "interleave",
    "many_tests",
    "missing",
    "run_process",
    "run_pytest",
    "suite",
]

T = TypeVar("T")

#: The pytest plugins the suites load by name, with autoloading off: each one alone is what a
#: venv holding only that plugin would load.
PLUGINS = {
    "ours": "pytest_relaytokens.plugin",
    "faker": "faker.contrib.pytest.plugin",
    "httpx_mock": "pytest_httpx",
    "recording": "pytest_recording.plugin",
    "httpserver": "pytest_httpserver.pytest_plugin",
    "xdist": "xdist.plugin",
    "probe": "_suite_probe",
}

#: A timed verdict needs this many interleaved rounds: 2-3 CPU rounds on a busy machine
#: called rows met that their own instruction counts did not meet (issue 18).
MIN_ROUNDS = 5
#: Units that are counted, not timed (peak RSS, live objects): one run decides.
COUNTED_UNITS = ("MiB", "objects")

#: Suite runs shared between benchmarks of one run: key -> list of runs.
SUITE_RUNS: dict[str, list[Run]] = {}


class Skip(Exception):
    """Raised by a benchmark whose dependency is missing; the row says why."""


@dataclass(frozen=True)
class Settings:
    """``quick``: tiny sizes, one round (the smoke test); ``full``: more rounds;
    ``instructions``: also count instructions with callgrind where it is available;
    ``venvs``: the start-up rows may make (once, cached) a virtualenv per side."""

    quick: bool = False
    full: bool = False
    instructions: bool = True
    venvs: bool = True

    @property
    def rounds(self) -> int:
        """Interleaved rounds of every in-suite measurement."""
        return 1 if self.quick else 5

    @property
    def suite_rounds(self) -> int:
        """Interleaved rounds of whole-suite runs (each side one pytest process per round)."""
        return 1 if self.quick else MIN_ROUNDS

    @property
    def calls(self) -> int:
        return 20 if self.quick else 2_000

    @property
    def suite_size(self) -> int:
        return 10 if self.quick else 2_000

    @property
    def counting(self) -> bool:
        return self.instructions and not self.quick and _cg.available()


@dataclass
class Row:
    """One line of the table; ``ratio`` is ours / baseline in ``unit`` (median of the rounds'
    ratios), ``instr_ratio`` the same for instructions per operation."""

    name: str
    unit: str = ""
    ours: float | None = None
    baseline: float | None = None
    goal: str = ""
    note: str = ""
    ours_rounds: list[float] = field(default_factory=list)
    baseline_rounds: list[float] = field(default_factory=list)
    ours_instr: float | None = None
    baseline_instr: float | None = None
    skipped: str | None = None
    error: str | None = None
    #: ``ours`` itself is a figure users feel (not only the ratio): ``--compare`` checks it too
    absolute: bool = False

    @property
    def round_ratios(self) -> list[float]:
        pairs = zip(self.ours_rounds, self.baseline_rounds, strict=False)
        return [o / b for o, b in pairs if b]

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or self.baseline == 0:
            return None
        return self.ours / self.baseline

    @property
    def spread(self) -> tuple[float, float] | None:
        """Lowest and highest ratio of a single round."""
        ratios = self.round_ratios
        return (min(ratios), max(ratios)) if len(ratios) > 1 else None

    @property
    def instr_ratio(self) -> float | None:
        """Instructions per operation compared in the row's direction: for a rate (``/s``)
        the peer's count over ours (higher is better, like the ratio), else ours over the peer's."""
        if not self.ours_instr or not self.baseline_instr:
            return None
        if self.unit.endswith("/s"):
            return self.baseline_instr / self.ours_instr
        return self.ours_instr / self.baseline_instr

    def meets(self, value: float) -> bool:
        """Whether ``value`` (a ratio in the row's direction) meets the goal."""
        op, _, target = self.goal.partition(" ")
        return value <= float(target) if op == "<=" else value >= float(target)

    @property
    def verdict(self) -> str:
        """``yes`` or ``NO`` when the timed ratio (at least :data:`MIN_ROUNDS` interleaved
        rounds, or a counted unit) and the instruction ratio agree; otherwise it names the one
        measure it rests on, or says why there is none."""
        ratio = self.ratio
        if ratio is None or not self.goal:
            return ""
        rounds = len(self.ours_rounds)
        timed = self.meets(ratio) if rounds >= MIN_ROUNDS or self.unit in COUNTED_UNITS else None
        counted = None if self.instr_ratio is None else self.meets(self.instr_ratio)
        word = {True: "yes", False: "NO"}
        if timed is not None and counted is not None:
            if timed == counted:
                return word[timed]
            return f"NO (split: {'timed' if timed else 'instructions'} only meets it)"
        if counted is not None:
            return f"{word[counted]} (instructions only: {rounds} timed round(s))"
        if timed is not None:
            basis = "counted" if self.unit in COUNTED_UNITS else "timed"
            return f"{word[timed]} ({basis} only)"
        return f"none ({rounds} round(s), {MIN_ROUNDS} needed)"

    @property
    def met(self) -> bool | None:
        verdict = self.verdict
        return True if verdict.startswith("yes") else False if verdict.startswith("NO") else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "ours": self.ours,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "spread": self.spread,
            "goal": self.goal,
            "met": self.met,
            "verdict": self.verdict,
            "absolute": self.absolute,
            "note": self.note,
            "ours_rounds": self.ours_rounds,
            "baseline_rounds": self.baseline_rounds,
            "ours_instr": self.ours_instr,
            "baseline_instr": self.baseline_instr,
            "instr_ratio": self.instr_ratio,
            "skipped": self.skipped,
            "error": self.error,
        }


def compare(
    name: str,
    unit: str,
    ours: list[float],
    baseline: list[float],
    goal: str = "",
    note: str = "",
    instr: tuple[float | None, float | None] = (None, None),
    *,
    absolute: bool = False,
) -> Row:
    """A row from the two sides' rounds (same length, same order): medians and the spread."""
    return Row(
        name,
        unit,
        statistics.median(ours),
        statistics.median(baseline),
        goal,
        note,
        list(ours),
        list(baseline),
        instr[0],
        instr[1],
        absolute=absolute,
    )


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark: ``run(settings)`` returns its rows or raises :class:`Skip`."""

    name: str
    title: str
    run: Callable[[Settings], list[Row]]


def missing(*modules: str) -> None:
    """Raise :class:`Skip` naming the first module that cannot be imported."""
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise Skip(f"{module} is not installed")


def interleave(actions: list[Callable[[], T]], rounds: int) -> list[list[T]]:
    """Run the actions round-robin ``rounds`` times (a, b, c, a, b, c...): each one's values."""
    values: list[list[T]] = [[] for _ in actions]
    for _ in range(max(1, rounds)):
        for action, measured in zip(actions, values, strict=True):
            measured.append(action())
    return values


def guarded(name: str, make_rows: Callable[[], list[Row]]) -> list[Row]:
    """``make_rows()``, or one row saying why it was skipped or failed, so siblings still run."""
    try:
        return make_rows()
    except Skip as exc:
        return [Row(name, skipped=str(exc))]
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        first = (str(exc).strip().splitlines() or [""])[0]
        return [Row(name, error=f"{type(exc).__name__}: {first}"[:200])]


# --- pytest in a subprocess -----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One pytest process: CPU (user + system) and wall seconds, peak RSS, the probe's output."""

    cpu: float
    wall: float
    max_rss_mib: float
    probe: dict[str, Any]

    def record(self, name: str) -> dict[str, Any]:
        """The probe's measurement called ``name`` (summed over the calls of that name)."""
        found = [r for r in self.probe.get("records", []) if r["name"] == name]
        if not found:
            raise RuntimeError(f"the suite recorded no measurement named {name!r}")
        return {
            "count": sum(r["count"] for r in found),
            "cpu": sum(r["cpu"] for r in found),
            "wall": sum(r["wall"] for r in found),
        }


def pytest_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """No autoloading (each suite names its plugins), the repo and the harness importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    paths = [str(REPO_ROOT), str(HERE), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONHASHSEED"] = "0"
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode, as an install leaves it
    env.update(extra or {})
    return env


def pytest_command(plugins: list[str], *extra: str) -> list[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    for plugin in plugins:
        command += ["-p", PLUGINS.get(plugin, plugin)]
    return [*command, *extra]


def run_pytest(
    folder: Path,
    plugins: list[str],
    *extra: str,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
    timeout: float = 900,
) -> Run:
    """Run pytest in ``folder`` with exactly ``plugins`` loaded; fail loudly if a test failed."""
    command = [*(prefix or []), *pytest_command(plugins, *extra)]
    return run_process(command, folder, pytest_env(env), timeout)


def run_process(
    command: list[str], folder: Path, environ: dict[str, str], timeout: float = 900
) -> Run:
    """Run ``command`` (a pytest run) in ``folder``: its CPU, wall, peak RSS and probe output.

    ``RELAYTOKENS_BENCH_OUT`` is set for the suite probe; a non-zero exit raises with the
    output's tail."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    environ = {**environ, "RELAYTOKENS_BENCH_OUT": str(out)}
    try:
        wall0 = time.perf_counter()
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(command, cwd=folder, env=environ, stdout=log, stderr=log)
            try:
                _, status, usage = _wait(process, timeout)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            wall = time.perf_counter() - wall0
            log.seek(0)
            output = log.read().decode("utf-8", "replace")
        if os.waitstatus_to_exitcode(status) != 0:
            tail = "\n".join(output.strip().splitlines()[-12:])
            raise RuntimeError(
                f"pytest failed in {folder.name} ({' '.join(command[-6:])}):\n{tail}"
            )
        text = out.read_text(encoding="utf-8") if out.stat().st_size else "{}"
        return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, json.loads(text))
    finally:
        out.unlink(missing_ok=True)


def _wait(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, int, Any]:
    """``os.wait4`` of the child (its own CPU and peak RSS), polling so a hang times out."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return pid, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError(f"pytest did not finish within {timeout:.0f}s")
        time.sleep(0.005)


def instructions(
    folder: Path, plugins: list[str], *extra: str, env: dict[str, str] | None = None
) -> dict[str, int]:
    """Instructions of each measured section of one pytest run under callgrind (by name)."""
    lib = _cg.library()
    if not isinstance(lib, Path):
        raise Skip(lib)
    out_dir = Path(tempfile.mkdtemp(prefix="relaytokens-cgout-"))
    try:
        run_pytest(
            folder,
            plugins,
            *extra,
            env={_cg.LIB_ENV: str(lib), **(env or {})},
            prefix=_cg.callgrind_command(out_dir),
            timeout=1800,
        )
        return _cg.read_dumps(out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


@contextmanager
def suite(files: dict[str, str]) -> Iterator[Path]:
    """A temporary directory holding ``files`` (name -> dedented text) and a ``pytest.ini``."""
    root = Path(tempfile.mkdtemp(prefix="relaytokens-bench-"))
    try:
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def many_tests(count: int, body: str, args: str = "", per_file: int = 500) -> dict[str, str]:
    """``count`` test functions ``def test_N(<args>): <body>``, ``per_file`` to a module."""
    indented = textwrap.indent(textwrap.dedent(body).strip() or "pass", "    ")
    files = {}
    for start in range(0, count, per_file):
        tests = [
            f"def test_{n}({args}):\n{indented}\n\n"
            for n in range(start, min(count, start + per_file))
        ]
        files[f"test_bench_{start // per_file:03d}.py"] = "".join(tests)
    return files


@dataclass(frozen=True)
class Rounds:
    """What :func:`in_suite_rounds` measured: per side, rates per round (CPU and wall) and
    instructions per operation; ``run`` is the timed pytest process (its probe's records)."""

    rates: dict[str, list[float]]
    instr: dict[str, float | None]
    walls: dict[str, list[float]]
    run: Run


def in_suite_rounds(
    sides: dict[str, str],
    settings: Settings,
    plugins: list[str],
    *,
    conftest: str = "",
    header: str = "",
    extra_files: dict[str, str] | None = None,
    calls: int | None = None,
    count_calls: int = 200,
    clock: str = "cpu",
    rounds: int | None = None,
) -> Rounds:
    """Interleaved rounds of several sides inside ONE pytest process, through their fixtures.

    ``sides`` maps a side's name to the source of one test function, with ``{test}`` (its
    name), ``{name}`` (what it passes to ``measure``) and ``{calls}`` placeholders; ``header``
    is module-level source put before them. The suite
    holds a warm-up round (small, unmeasured) then ``rounds`` (default ``settings.rounds``)
    rounds of every side in turn. Gives each side's rate per round (operations per CPU second,
    or per wall second with ``clock="wall"``), its rate per wall second and, when counting (and
    ``count_calls`` is not 0), its instructions per operation from a one-round callgrind run.
    """
    calls = calls or settings.calls
    rounds = rounds or settings.rounds

    def source(rounds: int, count: int) -> dict[str, str]:
        parts = ["from _suite_probe import measure\n", header, "\n\n"]
        for label in ["warm", *map(str, range(rounds))]:
            for side, template in sides.items():
                name = f"warm-{side}" if label == "warm" else side
                size = max(1, count // 20) if label == "warm" else count
                parts.append(template.format(test=f"test_{label}_{side}", name=name, calls=size))
                parts.append("\n\n")
        found = {"test_rounds.py": "".join(parts), **(extra_files or {})}
        if conftest:
            found["conftest.py"] = conftest
        return found

    with suite(source(rounds, calls)) as folder:
        done = run_pytest(folder, [*plugins, "probe"])
    rates: dict[str, list[float]] = {side: [] for side in sides}
    walls: dict[str, list[float]] = {side: [] for side in sides}
    for record in done.probe.get("records", []):
        if record["name"] in rates:
            seconds = record["cpu"] if clock == "cpu" else record["wall"]
            rates[record["name"]].append(record["count"] / seconds if seconds else 0.0)
            walls[record["name"]].append(
                record["count"] / record["wall"] if record["wall"] else 0.0
            )
    for side, found in rates.items():
        if len(found) != rounds:
            raise RuntimeError(f"side {side!r} recorded {len(found)} rounds")
    counted: dict[str, float | None] = dict.fromkeys(sides)
    if settings.counting and count_calls:
        with suite(source(1, count_calls)) as folder:
            totals = instructions(folder, [*plugins, "probe"])
        counted = {side: totals[side] / count_calls if side in totals else None for side in sides}
    return Rounds(rates, counted, walls, done)
