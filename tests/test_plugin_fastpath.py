"""The per-test fast path: token fixtures built by a factory alone (no backend) and fixtures
that get pytest's request from the public ``pytest_fixture_setup`` hook instead of asking
for ``request``. Each must answer exactly what the
general path answers."""

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
    assert wire.parse(ucwa_token_response.body) == ucwa_token
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
    [(), ("--setup-show",), ("-p", "wrapping"), ("-n", "2")],
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


def test_clock_alone_is_dropped_at_teardown(pytester: pytest.Pytester) -> None:
    """``relaytokens_clock`` without a token fixture keeps nothing in the item."""
    pytester.makeconftest(
        """
        import pytest
        from pytest_relaytokens.pytest_plugin.context import _CLOCK_KEY

        ITEMS = []

        def pytest_runtest_teardown(item):
            ITEMS.append(item)

        def pytest_sessionfinish(session):
            left = [i.nodeid for i in ITEMS if _CLOCK_KEY in i.stash]
            assert not left, left
            print("clocks left: 0 of", len(ITEMS))
        """
    )
    pytester.makepyfile(
        """
        def test_a(relaytokens_clock):
            relaytokens_clock.advance(5)

        def test_b(relaytokens_clock, ucwa_token):
            assert not ucwa_token.is_expired()
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*clocks left: 0 of 2*"])


def test_request_lookup_fails_clearly_outside_fixture_setup() -> None:
    from pytest_relaytokens.pytest_plugin.hooks import _requesting

    def not_a_fixture() -> object:
        return _requesting("ucwa_token")

    with pytest.raises(pytest.fail.Exception, match="set up without its pytest_fixture_setup"):
        not_a_fixture()


def test_a_plugin_answering_fixture_setup_first_gets_a_clear_failure(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(tryfirst=True)
        def pytest_fixture_setup(fixturedef, request):
            if fixturedef.argname == "ucwa_token":  # set up without pytest's own hook
                fixturedef.cached_result = None
                return fixturedef.func()
        """
    )
    pytester.makepyfile("def test_it(ucwa_token):\n    pass\n")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*'ucwa_token' was set up without its pytest_fixture_setup hook*"])
    assert "Traceback" not in result.stdout.str()
