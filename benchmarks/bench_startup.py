"""1. Start-up: a one-test suite with the plugin loaded vs without it.

Two rows: with every plugin installed in the environment autoloading (the issue's figure:
``-p no:relaytokens`` for the baseline), and with autoloading off so that only our plugin is
loaded (the stricter view: the baseline is bare pytest, so the ratio is not diluted by other
plugins' import time).
"""

from __future__ import annotations

from functools import partial

from _common import (
    Benchmark,
    Row,
    Settings,
    interleave,
    plugin_has_fixture,
    run_pytest,
    throwaway_suite,
)


def run(settings: Settings) -> list[Row]:
    plugin_has_fixture("")
    rows = []
    with throwaway_suite(1, "assert True") as suite:
        run_pytest(suite, True, "--co")  # bytecode of the suite and the plugin, for both sides
        # Rounds: a run with every installed plugin takes ~3 s here, one with only ours ~0.4 s.
        for isolated, label, rounds in ((False, "installed plugins", 3), (True, "only ours", 11)):
            ours, base = interleave(
                partial(run_pytest, suite, True, isolated=isolated),
                partial(run_pytest, suite, False, isolated=isolated),
                1 if settings.quick else rounds,
                warmup=False,
            )
            rows.append(Row(f"start-up, 1 test ({label})", "s CPU", ours, base, "<= 1.03"))
    return rows


BENCHMARK = Benchmark("startup", "start-up", run)
