"""Goal 6. Start-up: a one-test suite with each plugin loaded alone, against bare pytest.

Autoloading is off and every side names its plugins with ``-p``: that is what a virtualenv
holding only that plugin would load (the harness measures in one venv; the plugin sets are
disjoint, so the figures match separate venvs except for ``sys.path`` length). "The installed
package" is our plugin plus the pytest plugin its Faker dependency registers; the row without
it is what ``-p no:faker`` gives users who do not use Faker's ``faker`` fixture.
"""

from __future__ import annotations

from functools import partial

from _common import Benchmark, Row, Settings, compare, interleave, missing, run_pytest, suite

SIDES = {
    "bare": [],
    "ours": ["ours"],
    "package": ["ours", "faker"],
    "httpx_mock": ["httpx_mock"],
    "recording": ["recording"],
}


def run(settings: Settings) -> list[Row]:
    missing("pytest_relaytokens.plugin", "faker", "pytest_httpx", "pytest_recording")
    rounds = 1 if settings.quick else 11
    with suite({"test_one.py": "def test_one():\n    assert True\n"}) as folder:
        for plugins in SIDES.values():
            run_pytest(folder, plugins)  # bytecode caches, for every side alike

        def cpu(plugins: list[str]) -> float:
            return run_pytest(folder, plugins).cpu

        values = interleave([partial(cpu, plugins) for plugins in SIDES.values()], rounds)
    found = dict(zip(SIDES, values, strict=True))
    bare = found["bare"]
    return [
        compare(
            "start-up: the plugin itself vs bare pytest", "s CPU", found["ours"], bare, "<= 1.03"
        ),
        compare(
            "start-up: installed package (plugin + Faker's pytest plugin) vs bare",
            "s CPU",
            found["package"],
            bare,
            note="-p no:faker removes Faker's plugin: the row above",
        ),
        compare("start-up: pytest-httpx alone vs bare", "s CPU", found["httpx_mock"], bare),
        compare("start-up: pytest-recording alone vs bare", "s CPU", found["recording"], bare),
    ]


BENCHMARK = Benchmark("startup", "start-up", run)
