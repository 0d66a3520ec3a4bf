"""Goal 6. Start-up: a one-test suite, each side against bare pytest, CPU of the whole process.

- **What users get** (the goal's row: the installed package with ``-p no:faker`` against bare
  pytest), each side in its own virtualenv with autoloading on (made once by :mod:`_venvs`,
  cached outside the repository): bare pytest; this checkout installed as a wheel with its
  dependencies (so Faker's pytest plugin loads too, and pytest assertion-rewrites every
  module of the package, as it does for any installed plugin), also with ``-p no:faker``;
  pytest-httpx alone (with the anyio plugin it brings); pytest-recording alone. Instruction
  counts of one whole start-up of the goal's two sides when callgrind is available. The
  venvs' set-up time is printed and kept in the rows' note; a venv that cannot be made (no
  package index) gives skipped rows saying why.
- **The plugin module alone**: this environment, autoloading off, ``-p
  pytest_relaytokens.plugin`` against ``-p _empty_plugin`` (an editable install, so only the
  plugin module itself is rewritten). It carries the goal only with ``--no-venvs`` or
  ``--quick``, where no venv is made; the user-facing sides are then measured in this
  environment with ``-p`` (the row names say so).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import _cg
import _venvs
from _common import (
    PLUGINS,
    Benchmark,
    Row,
    Settings,
    compare,
    interleave,
    missing,
    run_process,
    run_pytest,
    suite,
)

GOAL = "<= 1.03"
#: the user-facing side that carries the goal: the installed wheel without Faker's plugin
WHEEL_SIDE = "package_no_faker"
#: the goal row's control: an empty module loaded with ``-p`` exactly as the plugin is
CONTROL = "_empty_plugin"
ONE_TEST = {"test_one.py": "def test_one():\n    assert True\n"}
BASE = ["-q", "-p", "no:cacheprovider"]
#: user-facing sides: label, venv side, extra pytest arguments, plugins for the one-venv fallback
USER_SIDES: dict[str, tuple[str, str, list[str], list[str]]] = {
    "bare": ("bare pytest", "bare", [], []),
    "package": (
        "installed package (plugin + Faker's pytest plugin)",
        "package",
        [],
        ["ours", "faker"],
    ),
    "package_no_faker": (
        "installed package with -p no:faker",
        "package",
        ["-p", "no:faker"],
        ["ours"],
    ),
    "httpx_mock": ("pytest-httpx alone", "httpx_mock", [], ["httpx_mock"]),
    "recording": ("pytest-recording alone", "recording", [], ["recording"]),
}


def rounds(settings: Settings) -> int:
    return 1 if settings.quick else 21 if settings.full else 11


def venv_sides(
    folder: Path, settings: Settings
) -> tuple[dict[str, Callable[[], float]], dict[str, list[str]], str]:
    """Callables timing each user-facing side, each side's full command (for instruction
    counts; empty in the one-venv fallback), and how they were set up (for the note).

    Raises ``_venvs.VenvError`` when a venv cannot be made."""
    if settings.quick or not settings.venvs:
        why = "--quick" if settings.quick else "--no-venvs"
        found: dict[str, Callable[[], float]] = {
            name: partial(cpu_here, folder, plugins, extra)
            for name, (_, _, extra, plugins) in USER_SIDES.items()
        }
        return found, {}, f"one venv, -p ({why}: no venvs made)"
    print("  start-up: preparing the per-side venvs ...", file=sys.stderr, flush=True)
    venvs, seconds = _venvs.prepare()
    print(f"  start-up: venv set-up took {seconds:.1f}s", file=sys.stderr, flush=True)
    environ = _venvs.venv_env()
    commands = {
        name: [str(venvs[side].python), "-m", "pytest", *BASE, *extra]
        for name, (_, side, extra, _) in USER_SIDES.items()
    }

    def cpu_in(name: str) -> float:
        return run_process(commands[name], folder, environ).cpu

    found = {name: partial(cpu_in, name) for name in USER_SIDES}
    return found, commands, f"own venvs, autoloading on (venv set-up {seconds:.1f}s)"


def cpu_here(folder: Path, plugins: list[str], extra: list[str]) -> float:
    return run_pytest(folder, plugins, *extra).cpu


def instructions_here(folder: Path, plugins: list[str]) -> float:
    """Every instruction of one start-up under callgrind (the process is the measurement)."""
    out_dir = Path(tempfile.mkdtemp(prefix="relaytokens-cgout-"))
    try:
        run_pytest(folder, plugins, prefix=_cg.whole_process_command(out_dir), timeout=600)
        return float(_cg.read_total(out_dir))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def instructions_in_venv(folder: Path, command: list[str]) -> float:
    """Every instruction of one start-up of ``command`` (a venv's pytest) under callgrind."""
    out_dir = Path(tempfile.mkdtemp(prefix="relaytokens-cgout-"))
    try:
        prefix = _cg.whole_process_command(out_dir)
        run_process([*prefix, *command], folder, _venvs.venv_env(), timeout=600)
        return float(_cg.read_total(out_dir))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def run(settings: Settings) -> list[Row]:
    missing("pytest_relaytokens.plugin")
    if settings.quick or not settings.venvs:
        missing(*(PLUGINS[p].split(".")[0] for p in ("faker", "httpx_mock", "recording")))
    with suite(ONE_TEST) as folder:
        goal_sides: dict[str, Callable[[], float]] = {
            "bare_p": partial(cpu_here, folder, [CONTROL], []),
            "ours_p": partial(cpu_here, folder, ["ours"], []),
        }
        skipped = ""
        try:
            user_sides, commands, how = venv_sides(folder, settings)
        except _venvs.VenvError as exc:  # e.g. no package index: the user-facing rows say why
            user_sides, commands, how, skipped = {}, {}, "", str(exc)
        sides = {**goal_sides, **user_sides}
        for action in sides.values():
            action()  # bytecode caches (rewritten ones too), for every side alike
        values = interleave(list(sides.values()), rounds(settings))
        counted: tuple[float | None, float | None] = (None, None)
        wheel: tuple[float | None, float | None] = (None, None)
        if settings.counting:  # one start-up each, ~10 s under callgrind
            counted = (
                instructions_here(folder, ["ours"]),
                instructions_here(folder, [CONTROL]),
            )
            if commands:
                wheel = (
                    instructions_in_venv(folder, commands[WHEEL_SIDE]),
                    instructions_in_venv(folder, commands["bare"]),
                )
    found = dict(zip(sides, values, strict=True))
    # The goal is what users run: the wheel in its own venv, autoloading on, pytest rewriting
    # the asserts of every module of the package. Without venvs the -p row carries it, and
    # says what it is.
    in_venvs = bool(commands) or bool(skipped)
    rows = [
        compare(
            "start-up: the plugin module via -p, editable, this environment vs an empty -p module",
            "s CPU",
            found["ours_p"],
            found["bare_p"],
            "" if in_venvs else GOAL,
            "autoloading off: -p pytest_relaytokens.plugin vs -p of an empty module (-p makes "
            "pytest read every distribution's entry points, as autoloading does; both sides pay "
            "it)" + ("" if in_venvs else "; not the wheel users install: run without --no-venvs"),
            counted,
        )
    ]
    for name, (label, _, _, _) in USER_SIDES.items():
        if name == "bare":
            continue
        title = f"start-up, {how.split(' (')[0]}: {label} vs bare pytest"
        goal = name == WHEEL_SIDE and in_venvs
        if skipped:
            title = f"start-up, own venvs: {label} vs bare pytest"
            rows.append(Row(title, goal=GOAL if goal else "", skipped=skipped))
            continue
        note = how
        if name == "package":
            note += "; -p no:faker (or addopts) removes Faker's plugin: the next row"
        if goal:
            note += "; the wheel as installed, every package module assertion-rewritten"
        rows.append(
            compare(
                title,
                "s CPU",
                found[name],
                found["bare"],
                GOAL if goal else "",
                note,
                wheel if goal else (None, None),
            )
        )
    return rows


BENCHMARK = Benchmark("startup", "start-up", run)
