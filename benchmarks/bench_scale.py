"""Goal 7. Scale and memory: per-test cost as suites grow, peak memory, objects left behind,
and ``pytest -n 2`` against the same suite on static ``responses`` bodies.

- Per-test CPU of ``ucwa_token`` suites at 200, 2,000 and 20,000 tests against bare tests, and
  the test loop's cost per extra test over the second step against the first (1.0: flat). The
  20,000-test suites run in ``SCALE_ROUNDS`` interleaved rounds (``--full``: more), after one
  unmeasured ``--co`` run of each that writes their rewritten bytecode.
- Peak RSS (``wait4``) of the 2,000- and 20,000-test suites against bare tests, and as the
  limit, 20,000 tests taking a conftest fixture that returns a small pydantic model.
- Objects of ``pytest_relaytokens`` types still alive after test 200 against after test 20
  of a suite mixing ``ucwa_token``, ``relay_access_token``, ``ucwa_api`` and ``relaytokens_server``
  (``gc.get_objects()`` after each teardown, by the suite probe): more means something outlives
  its test.
- ``-n 2`` / serial for 400 tests x 10 GETs through ``ucwa_api``, against the same ratio for the
  same suite served by a static ``responses`` body without the plugin (wall clock: using both
  cores is the point).
"""

from __future__ import annotations

import statistics

from _common import (
    MIN_ROUNDS,
    SUITE_RUNS,
    Benchmark,
    Row,
    Run,
    Settings,
    compare,
    guarded,
    interleave,
    many_tests,
    missing,
    run_pytest,
    suite,
)

TOKEN = ("assert ucwa_token is not None", "ucwa_token")
BARE = ("assert True", "")

GC_TESTS = """
import requests


def test_ucwa_token_{n}(ucwa_token):
    assert ucwa_token.password


def test_relay_token_{n}(relay_access_token):
    assert relay_access_token.access_token


def test_ucwa_api_{n}(ucwa_api):
    headers = {{"Authorization": "Bearer " + ucwa_api.credentials.bearer}}
    assert requests.get(ucwa_api.token_url(), headers=headers).status_code == 200


def test_server_{n}(relaytokens_server):
    assert relaytokens_server.url.startswith("http://127.0.0.1:")
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

XDIST_CONFTEST = """
import pytest
import requests
import responses

from pytest_relaytokens import FakeRequest, UcwaService


@pytest.fixture(scope="session")
def session():
    with requests.Session() as s:
        yield s


@pytest.fixture(scope="session")
def recorded():
    # one answer of the fake to the token GET, through the public API only (so it reads the
    # same before and after a refactor of the package's internals)
    service = UcwaService(seed=1)
    headers = {
        "Authorization": "Bearer " + service.credentials.bearer,
        "Accept": "application/json",
    }
    answer = service.handle(FakeRequest.build("GET", service.token_url(), headers))
    assert answer.status == 200, answer.body[:200]
    return service.token_url(), answer.body, dict(answer.headers)["Content-Type"]


@pytest.fixture
def static_api(recorded):
    url, body, content_type = recorded
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, url, body=body, content_type=content_type)
        yield url
"""

XDIST_OURS = """
headers = {{"Authorization": "Bearer " + ucwa_api.credentials.bearer}}
url = ucwa_api.token_url()
for _ in range({calls}):
    assert session.get(url, headers=headers).status_code == 200
"""

XDIST_STATIC = """
headers = {{"Authorization": "Bearer cwt=AAEB"}}
for _ in range({calls}):
    assert session.get(static_api, headers=headers).status_code == 200
"""


#: Interleaved rounds of the 20,000-test suites: one round of both costs ~30 s of CPU here,
#: and their peak RSS varies by well under 1% between rounds.
SCALE_ROUNDS = 2
FULL_SCALE_ROUNDS = 5


def sizes(settings: Settings) -> tuple[int, ...]:
    return (10, 20, 30) if settings.quick else (200, 2_000, 20_000)


def rounds_for(size: int, settings: Settings) -> int:
    if settings.quick:
        return 1
    if size >= 20_000:
        return FULL_SCALE_ROUNDS if settings.full else SCALE_ROUNDS
    return max(settings.suite_rounds, 5) if settings.full else settings.suite_rounds


def paired_runs(size: int, rounds: int) -> tuple[list[Run], list[Run]]:
    """Interleaved runs of ``size`` ``ucwa_token`` tests and ``size`` bare tests (reusing the
    per-test benchmark's runs of that size)."""
    ours_key, bare_key = f"ucwa_token:{size}", f"bare:{size}"
    if ours_key not in SUITE_RUNS or bare_key not in SUITE_RUNS:
        with (
            suite(many_tests(size, *TOKEN)) as ours_folder,
            suite(many_tests(size, *BARE)) as bare_folder,
        ):
            if rounds > 1:  # rewritten bytecode cached, for both alike
                run_pytest(ours_folder, ["ours", "probe"], "--co")
                run_pytest(bare_folder, ["probe"], "--co")
            ours, bare = interleave(
                [
                    lambda: run_pytest(ours_folder, ["ours", "probe"]),
                    lambda: run_pytest(bare_folder, ["probe"]),
                ],
                rounds,
            )
        SUITE_RUNS[ours_key], SUITE_RUNS[bare_key] = ours, bare
    return SUITE_RUNS[ours_key], SUITE_RUNS[bare_key]


def scale_rows(settings: Settings) -> list[Row]:
    steps = sizes(settings)
    rows: list[Row] = []
    loops: dict[int, list[float]] = {}
    for size in steps:
        ours, bare = paired_runs(size, rounds_for(size, settings))
        loops[size] = [r.record("loop")["cpu"] for r in ours]
        rows.append(
            compare(
                f"scale: {size:,} tests with ucwa_token, per test vs bare",
                "ms CPU/test",
                [r.cpu * 1000 / size for r in ours],
                [r.cpu * 1000 / size for r in bare],
            )
        )
        if size >= 2_000 or size == steps[-1]:
            ours_rss = [r.max_rss_mib for r in ours]
            bare_rss = [r.max_rss_mib for r in bare]
            excess = statistics.median(ours_rss) - statistics.median(bare_rss)
            rows.append(
                compare(
                    f"memory: peak RSS, {size:,} tests with ucwa_token vs bare",
                    "MiB",
                    ours_rss,
                    bare_rss,
                    "<= 1.1" if size == steps[-1] else "",
                    f"{len(ours)} runs of each; ours - bare: {excess:.1f} MiB",
                )
            )
    rows.append(memory_reference_row(steps[-1], SUITE_RUNS[f"bare:{steps[-1]}"]))
    rows.append(flatness_row(steps, loops))
    return rows


def memory_reference_row(size: int, bare: list[Run]) -> Row:
    """The limit for memory: ``size`` tests taking a conftest fixture that returns a small
    pydantic model (importing pydantic and giving every test a fixture), no plugin. One run:
    peak RSS moves by well under 1% between runs."""
    files = many_tests(size, "assert token is not None", "token")
    files["conftest.py"] = PYDANTIC_CONFTEST
    with suite(files) as folder:
        done = run_pytest(folder, ["probe"])
    baseline = statistics.median(r.max_rss_mib for r in bare)
    return compare(
        f"memory reference: peak RSS, {size:,} tests with a small pydantic model fixture vs bare",
        "MiB",
        [done.max_rss_mib],
        [baseline],
        note="no plugin: what pydantic and a fixture per test cost (one run, vs the bare median)",
    )


def flatness_row(steps: tuple[int, ...], loops: dict[int, list[float]]) -> Row:
    """Test-loop CPU per extra test over the second step against the first, per round."""
    first, middle, last = steps
    paired = min(len(loops[size]) for size in steps)
    early = [(loops[middle][i] - loops[first][i]) / (middle - first) * 1000 for i in range(paired)]
    late = [(loops[last][i] - loops[middle][i]) / (last - middle) * 1000 for i in range(paired)]
    return compare(
        f"scale: test-loop CPU per extra test, {middle:,}->{last:,} vs {first:,}->{middle:,}",
        "ms CPU/test",
        late,
        early,
        "<= 1.1",
        "1.0 is a flat per-test cost (the test loop, without start-up); "
        f"{paired} rounds paired by order",
    )


def gc_rows(settings: Settings) -> list[Row]:
    rounds = 6 if settings.quick else 60  # four tests a round
    early, late = (8 if settings.quick else 20), rounds * 4
    files = {"test_gc.py": "".join(GC_TESTS.format(n=n) for n in range(rounds))}
    with suite(files) as folder:
        done = run_pytest(
            folder, ["ours", "probe"], env={"RELAYTOKENS_BENCH_GC": f"{early},{late}"}
        )
    live = done.probe.get("live_objects", {})
    return [
        Row(
            f"memory: pytest_relaytokens objects alive after test {late} vs after test {early}",
            "objects",
            float(live[str(late)]),
            float(live[str(early)]),
            "<= 1.0",
            "ucwa_token, relay_access_token, ucwa_api and relaytokens_server tests in turn",
        )
    ]


def xdist_rows(settings: Settings) -> list[Row]:
    missing("xdist", "requests", "responses")
    tests, calls = (6, 2) if settings.quick else (400, 10)
    files = many_tests(tests, XDIST_OURS.format(calls=calls), "ucwa_api, session")
    static = many_tests(tests, XDIST_STATIC.format(calls=calls), "static_api, session")
    files.update({f"static_{name}": text for name, text in static.items()})
    files["conftest.py"] = XDIST_CONFTEST
    plugins = ["ours", "xdist"]
    with suite(files) as folder:
        if not settings.quick:
            run_pytest(folder, plugins, "--co")
        ours_files = [name for name in files if name.startswith("test_bench")]
        static_files = [name for name in files if name.startswith("static_")]

        def timed(names: list[str], *extra: str) -> float:
            return run_pytest(folder, plugins, *extra, *names).wall

        runs = interleave(
            [
                lambda: timed(ours_files, "-n", "2"),
                lambda: timed(ours_files),
                lambda: timed(static_files, "-n", "2"),
                lambda: timed(static_files),
            ],
            1 if settings.quick else MIN_ROUNDS,  # a verdict needs them (wall clock)
        )
    ours_n2, ours_serial, static_n2, static_serial = runs
    ours_ratio = [a / b for a, b in zip(ours_n2, ours_serial, strict=True)]
    static_ratio = [a / b for a, b in zip(static_n2, static_serial, strict=True)]
    label = f"{tests:,} tests x {calls} GETs"
    return [
        compare(f"xdist: -n 2 vs serial, {label} via ucwa_api", "s", ours_n2, ours_serial),
        compare(
            f"xdist: -n 2 / serial with ucwa_api vs with a static responses body, {label}",
            "x serial",
            ours_ratio,
            static_ratio,
            "<= 1.0",
        ),
    ]


def run(settings: Settings) -> list[Row]:
    missing("pytest_relaytokens.plugin")
    return (
        guarded("scale", lambda: scale_rows(settings))
        + guarded("memory: objects left behind", lambda: gc_rows(settings))
        + guarded("xdist", lambda: xdist_rows(settings))
    )


BENCHMARK = Benchmark("scale", "scale and memory", run)
