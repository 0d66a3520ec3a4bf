"""Collection-time checks: which tests carry our markers, marker problems reported per test
under xdist, and tests that would share a cassette file by accident."""

from __future__ import annotations

import pytest

from .context import SETTINGS_KEY, STATE_KEY, cassette_path
from .lifecycle import LIFECYCLE_MARKERS
from .markers import MARKERS
from .options import get_option
from .strict import fanout_conflicts

__all__ = ["ProblemReporter", "carries_our_markers", "cassette_collisions", "fanout_problems"]

_OUR_MARKERS = frozenset(MARKERS).union(LIFECYCLE_MARKERS)
#: Fixtures that make a test use a cassette (for the same-file check at collection).
CASSETTE_FIXTURES = frozenset(
    {
        "ucwa_api",
        "relay_api",
        "relaytokens_server",
        "relaytokens_shared_server",
        "ucwa_token",
        "ucwa_token_response",
        "relay_access_token",
        "relaytokens_cassette",
    }
)


def carries_our_markers(item: pytest.Item, parents: dict[int, bool]) -> bool:
    """Whether ``item`` or a node above it carries a relaytokens marker: the same answer as
    scanning ``item.iter_markers()``, with each parent's chain scanned once per collection
    (``parents``, by node id) instead of once per test."""
    for mark in item.own_markers:
        if mark.name in _OUR_MARKERS:
            return True
    parent = item.parent
    if parent is None:
        return False
    found = parents.get(id(parent))
    if found is None:
        found = parents[id(parent)] = any(m.name in _OUR_MARKERS for m in parent.iter_markers())
    return found


class ProblemReporter:
    """Fails each test with a wrong marker (or a clashing cassette) at setup, under xdist."""

    def __init__(self, problems: list[tuple[pytest.Item, str]]) -> None:
        self.problems: dict[str, list[str]] = {}
        for item, problem in problems:
            self.problems.setdefault(item.nodeid, []).append(problem)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        found = self.problems.get(item.nodeid)
        if found:
            pytest.fail("relaytokens: usage error:\n" + "\n".join(found), pytrace=False)


def cassette_collisions(items: list[pytest.Item]) -> list[tuple[pytest.Item, str]]:
    """Two tests whose default cassette files are the same (case-folded): one would replay or
    overwrite the other's recording. A cassette named by the marker is shared on purpose."""
    owners: dict[str, list[pytest.Item]] = {}
    run_backend = items[0].config.stash[STATE_KEY].backend if items else "fake"
    for item in items:
        names = getattr(item, "fixturenames", ())
        if not CASSETTE_FIXTURES.intersection(names):
            continue
        settings = item.stash.get(SETTINGS_KEY, None)
        if settings is not None and settings.cassette is not None:
            continue
        backend = (settings.backend if settings is not None else None) or run_backend
        if backend == "fake" and "relaytokens_cassette" not in names:
            continue  # the fake backend reads and writes no cassette
        path = cassette_path(item)
        owners.setdefault(str(path).casefold(), []).append(item)
    problems: list[tuple[pytest.Item, str]] = []
    for tests in owners.values():
        if len({t.nodeid for t in tests}) > 1:
            problem = (
                f"tests {', '.join(t.nodeid for t in tests)} resolve to the same cassette file "
                f"{cassette_path(tests[0])}; rename one, or share the file on purpose with "
                "@pytest.mark.relaytokens_cassette(path) on each"
            )
            problems.extend((test, problem) for test in tests)
    return problems


def fanout_problems(items: list[pytest.Item]) -> list[tuple[pytest.Item, str]]:
    """Tests whose error fan-out cannot run as declared: a marker of the same API beside it,
    or selectors (marker, option or ini) that keep no row of its catalogue."""
    problems: list[tuple[pytest.Item, str]] = []
    option: str | None = None
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "ucwa_error" not in names and "relay_error" not in names:
            continue
        if option is None:
            option = get_option(item.config, "errors") or ""
        settings = item.stash.get(SETTINGS_KEY, None)
        problems.extend((item, p) for p in fanout_conflicts(item, settings, option))
    return problems
