"""Goal 1. Per-test cost: 2,000 tests taking one fixture, against 2,000 bare tests.

Every suite runs in its own pytest process with only its plugin loaded (autoloading off), one
round of each side after the other (interleaved), timed by the process's CPU time. Peers and
references in the same run: pytest-httpx's ``httpx_mock`` fixture, the project's own factory
called from a plain conftest fixture (no plugin loaded: what the token itself costs), a
fixture returning a small pydantic model, and one returning a constant (what pytest itself
charges for any function-scoped fixture: the floor under every fixture row). Instructions:
the test loop only (after collection), per test after the first 10, from a 60-test run of
each suite under callgrind.
"""

from __future__ import annotations

import statistics
from functools import partial

from _common import (
    SUITE_RUNS,
    Benchmark,
    Row,
    Run,
    Settings,
    compare,
    instructions,
    interleave,
    many_tests,
    missing,
    run_pytest,
    suite,
)

FACTORY_CONFTEST = """
import pytest

from pytest_relaytokens import Clock, UcwaTokenFactory


@pytest.fixture
def token():
    return UcwaTokenFactory(0, Clock()).build()
"""

CONSTANT_CONFTEST = """
import pytest


@pytest.fixture
def token():
    return 1
"""

PYDANTIC_CONFTEST = """
import pytest
from pydantic import BaseModel


class Token(BaseModel):
    access_token: str
    expires_in: int


@pytest.fixture
def token():
    return Token(access_token="0123456789abcdefghijklmnopqrstuv", expires_in=3600)
"""

#: name -> (fixture argument, plugins, conftest)
SUITES: dict[str, tuple[str, list[str], str]] = {
    "bare": ("", ["probe"], ""),
    "ucwa_token": ("ucwa_token", ["ours", "probe"], ""),
    "relay_access_token": ("relay_access_token", ["ours", "probe"], ""),
    "httpx_mock": ("httpx_mock", ["httpx_mock", "probe"], ""),
    "factory": ("token", ["probe"], FACTORY_CONFTEST),
    "pydantic": ("token", ["probe"], PYDANTIC_CONFTEST),
    "constant": ("token", ["probe"], CONSTANT_CONFTEST),
}


def files(name: str, count: int) -> dict[str, str]:
    arg, _, conftest = SUITES[name]
    body = f"assert {arg} is not None" if arg else "assert True"
    found = many_tests(count, body, arg)
    if conftest:
        found["conftest.py"] = conftest
    return found


def loop_instructions(settings: Settings) -> dict[str, float | None]:
    """Instructions per test of each suite's test loop (None when not counted)."""
    if not settings.counting:
        return dict.fromkeys(SUITES)
    counted: dict[str, float | None] = {}
    tests, skipped = 60, 10  # the first tests pay one-off imports: not counted
    for name, (_, plugins, _) in SUITES.items():
        if name in ("factory", "pydantic"):  # references: timed only (callgrind costs ~10 s each)
            counted[name] = None
            continue
        with suite(files(name, tests)) as folder:
            run_pytest(folder, plugins)
            found = instructions(folder, plugins, env={"RELAYTOKENS_BENCH_LOOP": str(skipped)})
        counted[name] = found["loop"] / (tests - skipped) if "loop" in found else None
    return counted


def run(settings: Settings) -> list[Row]:
    missing("pytest_relaytokens.plugin", "pytest_httpx")
    size = settings.suite_size
    with (
        suite(files("bare", size)) as bare,
        suite(files("ucwa_token", size)) as ucwa,
        suite(files("relay_access_token", size)) as relay,
        suite(files("httpx_mock", size)) as httpx_mock,
        suite(files("factory", size)) as factory,
        suite(files("pydantic", size)) as pydantic,
        suite(files("constant", size)) as constant,
    ):
        folders = {
            "bare": bare,
            "ucwa_token": ucwa,
            "relay_access_token": relay,
            "httpx_mock": httpx_mock,
            "factory": factory,
            "pydantic": pydantic,
            "constant": constant,
        }
        runs: dict[str, list[Run]] = {name: [] for name in folders}

        def side(name: str) -> float:
            done = run_pytest(folders[name], SUITES[name][1])
            runs[name].append(done)
            return done.cpu

        interleave([partial(side, name) for name in folders], settings.suite_rounds)
    SUITE_RUNS[f"ucwa_token:{size}"] = runs["ucwa_token"]
    SUITE_RUNS[f"bare:{size}"] = runs["bare"]
    instr = loop_instructions(settings)
    cpu = {name: [r.cpu for r in found] for name, found in runs.items()}

    def loop_ms(name: str) -> float:
        return float(statistics.median(r.record("loop")["cpu"] for r in runs[name])) * 1000 / size

    def row(ours: str, base: str, goal: str = "", label: str = "") -> Row:
        note = f"test loop {loop_ms(ours):.3f} vs {loop_ms(base):.3f} ms CPU/test"
        return compare(
            label or f"per-test: {size:,} tests with {ours} vs {base}",
            "s CPU",
            cpu[ours],
            cpu[base],
            goal,
            note,
            (instr[ours], instr[base]),
        )

    return [
        row("ucwa_token", "bare", "<= 1.2"),
        row("relay_access_token", "bare", "<= 1.2"),
        row(
            "ucwa_token", "httpx_mock", "<= 1.0", "per-test: ucwa_token vs pytest-httpx httpx_mock"
        ),
        row(
            "relay_access_token",
            "httpx_mock",
            "<= 1.0",
            "per-test: relay_access_token vs pytest-httpx httpx_mock",
        ),
        row(
            "httpx_mock", "bare", label=f"peer: {size:,} tests with pytest-httpx httpx_mock vs bare"
        ),
        row(
            "factory",
            "bare",
            label="reference: UcwaTokenFactory from a plain conftest fixture vs bare",
        ),
        row("pydantic", "bare", label="reference: a small pydantic model fixture vs bare"),
        row(
            "constant",
            "bare",
            label="reference: a fixture returning a constant vs bare (pytest's own fixture cost)",
        ),
    ]


BENCHMARK = Benchmark("per_test", "per-test cost", run)
