from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from types import FrameType

# pytester's in-process runs drop every module first imported inside them; importing the
# heavy ones here keeps each inner run fast instead of re-importing them every time.
import faker  # noqa: F401
import hypothesis  # noqa: F401
import pytest
import requests  # noqa: F401
import responses  # noqa: F401

import pytest_relaytokens.plugin
import pytest_relaytokens.relay.service
import pytest_relaytokens.transports.server
import pytest_relaytokens.ucwa.service  # noqa: F401

pytest_plugins = ["pytester"]


def _installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == "pytest_relaytokens.plugin" for ep in entry_points(group="pytest11"))


#: How inner pytest runs load the plugin: by its entry point when installed, else by ``-p``.
LOAD_PLUGIN = "" if _installed() else "-p pytest_relaytokens.plugin"


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose runs load the plugin even when it is not installed, without
    pytest-randomly/xdist interference unless a test asks for them."""
    pytester.makeini(
        "[pytest]\n"
        f"addopts = {LOAD_PLUGIN} -p no:randomly -p no:cacheprovider -p no:faker\n"
        "filterwarnings = ignore::pytest.PytestAssertRewriteWarning\n"
    )
    return pytester


#: Counts the function calls (Python and C) an action makes; see ``count_calls``.
CallCounter = Callable[[Callable[[], object]], int]


@pytest.fixture
def count_calls() -> CallCounter:
    """Count the function calls (Python and C) an action makes: work a busy machine cannot
    stretch, unlike time. Tests bound work with it instead of asserting wall-clock time."""

    def count(action: Callable[[], object]) -> int:
        calls = 0

        def profile(frame: FrameType, event: str, arg: object) -> None:
            nonlocal calls
            if event in ("call", "c_call"):
                calls += 1

        previous = sys.getprofile()
        sys.setprofile(profile)
        try:
            action()
        finally:
            sys.setprofile(previous)
        return calls

    return count


_REAL_HTTP_CONNECTION = __import__("http.client").client.HTTPConnection


@pytest.fixture(autouse=True)
def _no_leaked_vcr_patch() -> Iterator[None]:
    """Fail the test that leaves vcrpy's (or anyone's) patch of http.client behind."""
    import http.client

    yield
    if http.client.HTTPConnection is not _REAL_HTTP_CONNECTION:
        http.client.HTTPConnection = _REAL_HTTP_CONNECTION  # type: ignore[misc]
        pytest.fail("this test left http.client.HTTPConnection patched", pytrace=False)
