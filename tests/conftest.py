from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose runs load the plugin even when it is not installed, without
    pytest-randomly/xdist interference unless a test asks for them."""
    pytester.makeini(
        "[pytest]\n"
        "addopts = -p pytest_relaytokens.plugin -p no:randomly -p no:cacheprovider\n"
    )
    return pytester
