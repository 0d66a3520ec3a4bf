"""Token fixtures answer the same tokens whichever way a test reaches them: directly, through
a marker, dynamically, in a class, through another fixture, under a hook wrapper or xdist."""

from __future__ import annotations

import pytest

EQUAL_PATHS = """
import pytest
from pytest_relaytokens.clock import Clock
from pytest_relaytokens.relay.factories import RelayTokenFactory
from pytest_relaytokens.ucwa.factories import UcwaTokenFactory
from pytest_relaytokens.ucwa import wire

SEEN = {}

def expected(seed, clock):
    return UcwaTokenFactory(seed, clock).build(), RelayTokenFactory(seed, clock).build()

def test_fast(ucwa_token, relay_access_token, relaytokens_seed, relaytokens_clock):
    # no marker: a factory alone, no backend
    assert (ucwa_token, relay_access_token) == expected(relaytokens_seed, relaytokens_clock)
    assert not ucwa_token.is_expired() and relay_access_token.remaining().days == 14
    relaytokens_clock.advance(8 * 3600)
    assert ucwa_token.is_expired()  # bound to the test's clock

@pytest.mark.relaytokens_backend("fake")
def test_general(ucwa_token, relay_access_token, relaytokens_seed, relaytokens_clock):
    # a marker: the fake backend makes them
    assert (ucwa_token, relay_access_token) == expected(relaytokens_seed, relaytokens_clock)

def test_fast_then_backend(request, ucwa_token, ucwa_token_response):
    # the response fixture's backend answers with the token the fast path made
    assert wire.parse(ucwa_token_response.body) == wire.at_wire_precision(ucwa_token)
    api = request.getfixturevalue("ucwa_api")
    assert api.credentials.bearer

def test_dynamic(request):
    token = request.getfixturevalue("ucwa_token")
    assert token is request.getfixturevalue("ucwa_token")
    assert token == UcwaTokenFactory(
        request.getfixturevalue("relaytokens_seed"), request.getfixturevalue("relaytokens_clock")
    ).build()

class TestInAClass:
    def test_method(self, relay_access_token, relaytokens_seed, relaytokens_clock):
        assert relay_access_token == expected(relaytokens_seed, relaytokens_clock)[1]

@pytest.fixture
def wrapped(ucwa_token):
    yield ucwa_token

@pytest.mark.parametrize("n", [1, 2])
def test_through_a_fixture(wrapped, ucwa_token, n):
    assert wrapped is ucwa_token
"""

WRAPPING_PLUGIN = """
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    return (yield)
"""


@pytest.mark.parametrize(
    "args",
    [(), ("--setup-show",), ("-p", "wrapping"), pytest.param(("-n", "2"), marks=pytest.mark.heavy)],
    ids=["plain", "setup-show", "hook-wrapper", "xdist"],
)
def test_fast_path_and_general_path_give_the_same_tokens(
    pytester: pytest.Pytester, args: tuple[str, ...]
) -> None:
    pytester.makepyfile(test_paths=EQUAL_PATHS, wrapping=WRAPPING_PLUGIN)
    pytester.syspathinsert()
    if "-n" in args:
        pytest.importorskip("xdist")
        result = pytester.runpytest_subprocess(*args)
    else:
        result = pytester.runpytest(*args)
    result.assert_outcomes(passed=7)


def test_setting_fixtures_keep_their_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_relaytokens.pytest_plugin.options import derive_seed

        @pytest.mark.ucwa_format("xml")
        def test_settings(request, relaytokens_seed, relaytokens_ucwa_format,
                          relaytokens_backend, relaytokens_token_policy,
                          relaytokens_ucwa_quirks, relaytokens_clock):
            state_seed = request.config.getoption("relaytokens_seed")
            assert relaytokens_seed == derive_seed(int(state_seed), request.node.nodeid)
            assert (relaytokens_ucwa_format, relaytokens_backend) == ("xml", "fake")
            assert not relaytokens_token_policy.already_expired
            assert relaytokens_ucwa_quirks.uri_key == "Uri"
            assert relaytokens_clock.now() == relaytokens_clock.now()
        """
    )
    pytester.runpytest("--relaytokens-seed=5").assert_outcomes(passed=1)
