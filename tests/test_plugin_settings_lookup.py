"""Settings are resolved on first use through pytest's own fixture lookup
(``context.plugin_defines``): an override the test never names still wins, the plugin's own
default is one object shared by the fixture and the fakes, and the answer is per module/class."""

from __future__ import annotations

import pytest

CONFTEST = """
import datetime as dt

import pytest
from pytest_relaytokens.clock import Clock

CLOCKS = []


@pytest.fixture(name="relaytokens_clock")
def _clock():
    clock = Clock(dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc), frozen=True)
    CLOCKS.append(clock)
    return clock
"""


def test_clock_override_the_test_never_names_is_what_the_fakes_read(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        from conftest import CLOCKS

        def test_token_alone(ucwa_token):
            assert CLOCKS and ucwa_token.is_expired() is False

        def test_fake(ucwa_api, relay_api):
            assert ucwa_api.clock is CLOCKS[-1] and relay_api.clock is CLOCKS[-1]
            assert ucwa_api.clock.now().year == 2001
        """
    )
    pytester.syspathinsert()
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_default_clock_is_one_object_for_the_fixture_and_the_fakes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_it(ucwa_api, relaytokens_clock, relay_api):
            assert ucwa_api.clock is relaytokens_clock is relay_api.clock
            before = ucwa_api.clock.now()
            relaytokens_clock.advance(60)
            assert (ucwa_api.clock.now() - before).total_seconds() == 60
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_class_override_does_not_leak_to_the_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_relaytokens.relay.factories import RelayTokenFactory

        def built(clock):
            return RelayTokenFactory(1234, clock).build()

        def test_before(relay_access_token, relaytokens_clock):
            assert relay_access_token != built(relaytokens_clock)

        class TestOverridden:
            @pytest.fixture(name="relaytokens_seed")
            def _seed(self):
                return 1234

            def test_in_class(self, relay_access_token, relaytokens_clock):
                assert relay_access_token == built(relaytokens_clock)

        def test_after(relay_access_token, relaytokens_clock):
            assert relay_access_token != built(relaytokens_clock)
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)
