"""Shared pieces of the benchmark harness: settings, rows, interleaved timing, pytest runs."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
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
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "REPO_ROOT",
    "SUITE_TIMES",
    "Benchmark",
    "Row",
    "Settings",
    "Skip",
    "children_cpu",
    "guarded",
    "interleave",
    "interleave_many",
    "interleave_rates",
    "missing",
    "plugin_has_fixture",
    "plugin_installed",
    "pytest_command",
    "pytest_env",
    "rate",
    "run_pytest",
    "throwaway_suite",
    "timed",
]


#: Suite timings shared between benchmarks of one run: (fixture, size, isolated) -> (ours, bare).
SUITE_TIMES: dict[tuple[str, int, bool], tuple[float, float]] = {}


class Skip(Exception):
    """Raised by a benchmark whose dependency is not there yet; the row says why."""


@dataclass(frozen=True)
class Settings:
    """How hard to push: ``quick`` for the smoke test, ``full`` adds the 20,000-test scale run."""

    quick: bool = False
    full: bool = False
    ambient: bool = False

    @property
    def isolated(self) -> bool:
        """Suite benchmarks load only the plugins they need unless ``--ambient`` is given."""
        return not self.ambient

    @property
    def calls(self) -> int:
        """Requests (or tokens, for generation: times 5) per in-process measurement."""
        return 200 if self.quick else 2_000

    @property
    def repeats(self) -> int:
        """Interleaved rounds for in-process benchmarks."""
        return 1 if self.quick else 3

    @property
    def suite_repeats(self) -> int:
        """Interleaved pairs for benchmarks that run a pytest suite in a subprocess."""
        return 1 if self.quick else 3

    @property
    def suite_size(self) -> int:
        return 100 if self.quick else 2_000


@dataclass
class Row:
    """One line of the table. ``ratio`` is always ours / baseline, in ``unit``."""

    name: str
    unit: str = ""
    ours: float | None = None
    baseline: float | None = None
    goal: str = ""
    note: str = ""
    skipped: str | None = None
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or self.baseline == 0:
            return None
        return self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        if ratio is None or not self.goal:
            return None
        op, _, target = self.goal.partition(" ")
        limit = float(target)
        return ratio <= limit if op == "<=" else ratio >= limit

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["met"] = self.met
        return data


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
            raise Skip(f"{module} not available yet")


def interleave(
    ours: Callable[[], float],
    baseline: Callable[[], float],
    repeats: int,
    *,
    warmup: bool = True,
) -> tuple[float, float]:
    """Run ours, baseline, ours, baseline... and return the two medians.

    Each callable returns one measurement (a duration or a rate). One unmeasured warm-up
    round fills import caches, bytecode caches and connection pools for both sides alike.
    """
    first, second = interleave_many([ours, baseline], repeats, warmup=warmup)
    return first, second


def interleave_many(
    actions: list[Callable[[], float]], repeats: int, *, warmup: bool = True
) -> list[float]:
    """Like :func:`interleave` for any number of sides, run round-robin."""
    if warmup:
        for action in actions:
            action()
    values: list[list[float]] = [[] for _ in actions]
    for _ in range(max(1, repeats)):
        for action, measured in zip(actions, values, strict=True):
            measured.append(action())
    return [statistics.median(measured) for measured in values]


def interleave_rates(
    sides: list[Callable[[int], float]], count: int, repeats: int, *, warm: int = 50
) -> list[float]:
    """Medians of ``side(count)`` for each side, run round-robin ``repeats`` times, after one
    unmeasured ``side(warm)`` each (imports, caches, connection pools)."""
    for side in sides:
        side(warm)
    return interleave_many([partial(side, count) for side in sides], repeats, warmup=False)


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


def rate(count: int, action: Callable[[], object]) -> float:
    """``count`` divided by the seconds ``action()`` took: operations per second."""
    return count / timed(action)


def timed(action: Callable[[], object]) -> float:
    """Seconds that ``action()`` took."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


# --- pytest in a subprocess -----------------------------------------------------------------


def plugin_installed() -> bool:
    """True when the ``pytest11`` entry point ``relaytokens`` is installed for this interpreter."""
    return any(ep.name == "relaytokens" for ep in importlib.metadata.entry_points(group="pytest11"))


def pytest_env(*, isolated: bool = False) -> dict[str, str]:
    """The environment for a pytest subprocess: the repo importable, no stray pytest options.

    ``isolated`` turns plugin autoloading off, so only plugins named with ``-p`` load.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    paths = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONHASHSEED"] = "0"
    # Cached bytecode, as a pip install leaves it: without it our (uninstalled) modules would be
    # compiled on every run while pytest's own come precompiled from site-packages.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if isolated:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def pytest_command(ours: bool, *extra: str, isolated: bool = False) -> list[str]:
    """``python -m pytest`` with the plugin loaded (``ours``) or not (the baseline).

    Installed: the entry point loads it, the baseline adds ``-p no:relaytokens``.
    Not installed (or ``isolated``, where nothing autoloads): ours adds
    ``-p pytest_relaytokens.plugin``, the baseline adds nothing.
    """
    command = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-q"]
    if plugin_installed() and not isolated:
        if not ours:
            command += ["-p", "no:relaytokens"]
    elif ours:
        command += ["-p", "pytest_relaytokens.plugin"]
    return [*command, *extra]


def children_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's waited-for children."""
    try:
        import resource
    except ImportError:  # not on Unix: fall back to the wall clock
        return time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pytest(
    suite: Path,
    ours: bool,
    *extra: str,
    isolated: bool = False,
    wall: bool = False,
    timeout: float = 900,
) -> float:
    """Run the suite and return the seconds it took; fail loudly if pytest failed.

    By default the figure is the subprocess's CPU time (user + system), which other load on a
    shared machine barely moves; ``wall=True`` returns wall time (for ``-n 2``, where using
    two cores at once is the point).
    """
    command = pytest_command(ours, *extra, isolated=isolated)
    clock = time.perf_counter if wall else children_cpu
    start = clock()
    done = subprocess.run(
        command,
        cwd=suite,
        env=pytest_env(isolated=isolated),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = clock() - start
    if done.returncode != 0:
        absent = re.search(
            r"No module named '(pytest_relaytokens[\w.]*)'", done.stdout + done.stderr
        )
        if absent:
            raise Skip(f"{absent.group(1)} not available yet")
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise RuntimeError(
            f"pytest exited {done.returncode} in {suite.name} ({' '.join(command[3:])}):\n"
            + "\n".join(tail)
        )
    return elapsed


def plugin_has_fixture(name: str) -> None:
    """Raise :class:`Skip` unless ``pytest_relaytokens.plugin`` exists and defines ``name``."""
    path = REPO_ROOT / "pytest_relaytokens" / "plugin.py"
    if not path.exists():
        raise Skip("pytest_relaytokens/plugin.py not available yet")
    if name and not re.search(rf"\b{name}\b", path.read_text(encoding="utf-8")):
        raise Skip(f"plugin fixture {name} not available yet")


@contextmanager
def throwaway_suite(
    tests: int,
    body: str,
    *,
    args: str = "",
    per_file: int = 500,
    conftest: str = "",
) -> Iterator[Path]:
    """A temporary directory holding ``tests`` test functions, ``per_file`` to a module.

    Each test is ``def test_N(<args>):`` followed by ``body`` (indented for you).
    """
    root = Path(tempfile.mkdtemp(prefix="relaytokens-bench-"))
    try:
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        if conftest:
            (root / "conftest.py").write_text(textwrap.dedent(conftest), encoding="utf-8")
        indented = textwrap.indent(textwrap.dedent(body).strip() or "pass", "    ")
        for start in range(0, tests, per_file):
            lines = [
                f"def test_{n}({args}):\n{indented}\n\n"
                for n in range(start, min(tests, start + per_file))
            ]
            (root / f"test_bench_{start // per_file:03d}.py").write_text(
                "".join(lines), encoding="utf-8"
            )
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
