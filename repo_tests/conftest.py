"""Tests of the repository itself (README, .ci/run, lint, packaging, benchmarks): they read the
source tree, so they live apart from the package tests in ``tests/`` (which CI also runs
against the installed wheel)."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import yaml  # noqa: F401

# In-process pytester runs restore sys.modules afterwards: whatever an inner run imported
# first is dropped and re-imported later, and PyYAML's C loader then no longer recognises the
# re-imported node classes ("could not determine a constructor for the tag None"). Importing
# the modules the inner runs would import here keeps them loaded once for the whole session.
import pytest_relaytokens.cassettes.loading
import pytest_relaytokens.plugin  # noqa: F401

pytest_plugins = ["pytester"]


def _installed() -> bool:
    return any(ep.value == "pytest_relaytokens.plugin" for ep in entry_points(group="pytest11"))


#: How inner pytest runs load the plugin: by its entry point when installed, else by ``-p``.
LOAD_PLUGIN = "" if _installed() else "-p pytest_relaytokens.plugin"


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose runs load the plugin, without pytest-randomly/xdist interference."""
    pytester.makeini(
        "[pytest]\n"
        f"addopts = {LOAD_PLUGIN} -p no:randomly -p no:cacheprovider -p no:faker\n"
        "filterwarnings = ignore::pytest.PytestAssertRewriteWarning\n"
    )
    return pytester
