"""2. Per-test cost: 2,000 tests taking ``ucwa_token`` (or ``relay_access_token``) vs bare tests.

The baseline is the same number of bare tests without the plugin, so the ratio counts everything
the plugin adds: loading, its hooks and the token fixture itself.
"""

from __future__ import annotations

from _common import (
    SUITE_TIMES,
    Benchmark,
    Row,
    Settings,
    interleave_many,
    plugin_has_fixture,
    run_pytest,
    throwaway_suite,
)

UCWA_BODY = "assert ucwa_token is not None"
RELAY_BODY = "assert relay_access_token is not None"
BARE_BODY = "assert True"


def run(settings: Settings) -> list[Row]:
    plugin_has_fixture("ucwa_token")
    plugin_has_fixture("relay_access_token")
    size = settings.suite_size
    iso = settings.isolated
    with (
        throwaway_suite(size, UCWA_BODY, args="ucwa_token") as ucwa,
        throwaway_suite(size, RELAY_BODY, args="relay_access_token") as relay,
        throwaway_suite(size, BARE_BODY) as bare,
    ):
        for suite, ours in ((ucwa, True), (relay, True), (bare, False)):
            run_pytest(suite, ours, "--co", isolated=iso)  # writes the rewritten bytecode
        ucwa_s, bare_s, relay_s = interleave_many(
            [
                lambda: run_pytest(ucwa, True, isolated=iso),
                lambda: run_pytest(bare, False, isolated=iso),
                lambda: run_pytest(relay, True, isolated=iso),
            ],
            settings.suite_repeats,
            warmup=False,
        )
    SUITE_TIMES["ucwa_token", size, iso] = (ucwa_s, bare_s)
    return [
        Row(f"per-test: {size:,} tests with ucwa_token vs bare", "s CPU", ucwa_s, bare_s, "<= 1.3"),
        Row(
            f"per-test: {size:,} tests with relay_access_token vs bare",
            "s CPU",
            relay_s,
            bare_s,
            "<= 1.3",
        ),
    ]


BENCHMARK = Benchmark("per_test", "per-test cost", run)
