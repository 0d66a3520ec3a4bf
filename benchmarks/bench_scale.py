"""7. Scale: per-test cost of suites of 200, 2,000 (and with ``--full`` 20,000) tests taking
``ucwa_token``, whether it grows linearly, and ``pytest -n 2`` against the same suite serially.

Linearity is the marginal cost per test over the largest step against the smallest, starting
from a one-test run: (T(2,000) - T(200)) / 1,800 against (T(200) - T(1)) / 199, in ms per test.
1.0 is perfectly linear; above it, each test costs more the more tests there are.

The xdist suite does real work in each test (GETs of the token through ``ucwa_api``): with
empty tests ``-n 2`` is slower than serial on two cores even without any plugin, because the
controller's per-report overhead and the workers' start-up are all there is to measure.
"""

from __future__ import annotations

import statistics

from _common import (
    SUITE_TIMES,
    Benchmark,
    Row,
    Settings,
    guarded,
    interleave,
    missing,
    plugin_has_fixture,
    run_pytest,
    throwaway_suite,
)

TOKEN_BODY = "assert ucwa_token is not None"
BARE_BODY = "assert True"

XDIST_CONFTEST = """
import pytest
import requests


@pytest.fixture(scope="session")
def session():
    with requests.Session() as s:
        yield s
"""

XDIST_BODY = """
headers = {{"Authorization": "Bearer " + ucwa_api.credentials.bearer}}
url = ucwa_api.token_url()
for _ in range({calls}):
    assert session.get(url, headers=headers).status_code == 200
"""


def sizes(settings: Settings) -> tuple[int, ...]:
    if settings.quick:
        return (20, 200)
    if settings.full:
        return (200, 2_000, 20_000)
    return (200, 2_000)


def measure_size(size: int, settings: Settings) -> tuple[float, float]:
    """Median wall seconds of ``size`` ucwa_token tests (plugin) and bare tests (no plugin),
    reusing the per-test benchmark's figures when it ran this size already."""
    iso = settings.isolated
    if ("ucwa_token", size, iso) in SUITE_TIMES:
        return SUITE_TIMES["ucwa_token", size, iso]
    repeats = 1 if settings.quick or size >= 20_000 else settings.suite_repeats
    with (
        throwaway_suite(size, TOKEN_BODY, args="ucwa_token") as ours_suite,
        throwaway_suite(size, BARE_BODY) as bare_suite,
    ):
        run_pytest(ours_suite, True, "--co", isolated=iso)
        run_pytest(bare_suite, False, "--co", isolated=iso)
        return interleave(
            lambda: run_pytest(ours_suite, True, isolated=iso),
            lambda: run_pytest(bare_suite, False, isolated=iso),
            repeats,
            warmup=False,
        )


def scale_rows(settings: Settings) -> list[Row]:
    measured = {size: measure_size(size, settings) for size in sizes(settings)}
    with throwaway_suite(1, TOKEN_BODY, args="ucwa_token") as one:
        run_pytest(one, True, "--co", isolated=settings.isolated)
        fixed = statistics.median(
            run_pytest(one, True, isolated=settings.isolated)
            for _ in range(1 if settings.quick else settings.suite_repeats)
        )
    rows = [
        Row(
            f"scale: {size:,} tests with ucwa_token, per test vs bare",
            "ms CPU/test",
            ours * 1000 / size,
            base * 1000 / size,
        )
        for size, (ours, base) in measured.items()
    ]
    points = [(1, fixed)] + [(size, ours) for size, (ours, _) in sorted(measured.items())]
    (n0, t0), (n1, t1) = points[0], points[1]
    (m0, u0), (m1, u1) = points[-2], points[-1]
    rows.append(
        Row(
            f"scale: marginal cost {m0:,}->{m1:,} vs {n0:,}->{n1:,} tests",
            "ms CPU/test",
            (u1 - u0) * 1000 / (m1 - m0),
            (t1 - t0) * 1000 / (n1 - n0),
            "<= 1.25",
        )
    )
    return rows


def xdist_rows(settings: Settings) -> list[Row]:
    missing("xdist", "requests")
    plugin_has_fixture("ucwa_api")
    iso = settings.isolated
    tests, calls = (40, 5) if settings.quick else (900, 10)
    body = XDIST_BODY.format(calls=calls)
    extra = ("-p", "xdist.plugin") if iso else ()
    with throwaway_suite(tests, body, args="ucwa_api, session", conftest=XDIST_CONFTEST) as suite:
        run_pytest(suite, True, "--co", *extra, isolated=iso)
        parallel, serial = interleave(
            lambda: run_pytest(suite, True, *extra, "-n", "2", isolated=iso, wall=True),
            lambda: run_pytest(suite, True, *extra, isolated=iso, wall=True),
            1 if settings.quick else 2,
            warmup=False,
        )
    return [
        Row(
            f"xdist: -n 2 vs serial, {tests:,} tests x {calls} GETs via ucwa_api",
            "s",
            parallel,
            serial,
            "<= 0.65",
        )
    ]


def run(settings: Settings) -> list[Row]:
    plugin_has_fixture("ucwa_token")
    return scale_rows(settings) + guarded("xdist: -n 2 vs serial", lambda: xdist_rows(settings))


BENCHMARK = Benchmark("scale", "scale", run)
