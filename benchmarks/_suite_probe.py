"""A pytest plugin the benchmark suites load (``-p _suite_probe``): it times what they ask.

- ``measure(name, count, action)``, imported by the generated tests, runs ``action()`` once and
  records its CPU and wall seconds for ``count`` operations (under valgrind: its instructions).
- The test loop (everything after collection, before the summary) is timed the same way, so a
  suite's per-test cost can be read without start-up (``RELAYTOKENS_BENCH_LOOP=N`` counts its
  instructions under valgrind from the end of test N on, leaving one-off imports out).
- ``RELAYTOKENS_BENCH_GC=10,300`` counts the live objects of ``pytest_relaytokens`` types after
  those test numbers' teardown: the gc-count helper for "no plugin object outlives its test".

Results go, as JSON, to the file named by ``RELAYTOKENS_BENCH_OUT``.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _cg import Probe

_PROBE = Probe()
_RECORDS: list[dict[str, Any]] = []
_LIVE: dict[str, int] = {}
_DONE = [0]
#: ``RELAYTOKENS_BENCH_LOOP=N``: count the loop's instructions after the first N tests (-1: no)
_LOOP_SKIP = [int(os.environ.get("RELAYTOKENS_BENCH_LOOP", "-1"))]


def measure(name: str, count: int, action: Callable[[], object]) -> None:
    """Time ``action()`` (``count`` operations) and record it under ``name``."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    _PROBE.start()
    action()
    _PROBE.stop(name)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    _RECORDS.append({"name": name, "count": count, "cpu": cpu, "wall": wall})


def note(name: str, count: int, cpu: float, wall: float) -> None:
    """Record a measurement taken by the test itself (e.g. one thread's CPU time)."""
    _RECORDS.append({"name": name, "count": count, "cpu": cpu, "wall": wall})


def live_plugin_objects(prefix: str = "pytest_relaytokens") -> int:
    """Objects the garbage collector tracks whose type is defined in ``prefix``'s modules."""
    gc.collect()
    return sum(
        1
        for obj in gc.get_objects()
        if str(getattr(type(obj), "__module__", "")).startswith(prefix)
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Iterator[None]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if _LOOP_SKIP[0] == 0:
        _PROBE.start()
    yield
    if _LOOP_SKIP[0] >= 0:
        _PROBE.stop("loop")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    _RECORDS.append({"name": "loop", "count": len(session.items), "cpu": cpu, "wall": wall})


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    _DONE[0] += 1
    if _LOOP_SKIP[0] > 0 and _DONE[0] == _LOOP_SKIP[0]:
        _PROBE.start()  # the first tests' one-off imports are not counted
    wanted = os.environ.get("RELAYTOKENS_BENCH_GC")
    if wanted and str(_DONE[0]) in wanted.split(","):
        _LIVE[str(_DONE[0])] = live_plugin_objects()


def pytest_unconfigure(config: pytest.Config) -> None:
    out = os.environ.get("RELAYTOKENS_BENCH_OUT")
    if out and not hasattr(config, "workerinput"):
        payload = {"records": _RECORDS, "live_objects": _LIVE}
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
