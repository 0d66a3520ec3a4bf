"""Settings resolve through pytest itself: an override of a plugin fixture, however it is
declared, is what the token fixtures and the fakes use."""

from __future__ import annotations

import pytest

CHECK = """
from pytest_relaytokens.relay.factories import RelayTokenFactory


def check(ucwa_token_response, ucwa_api, relay_access_token, relaytokens_clock):
    assert ucwa_token_response.header("Content-Type").startswith("application/xml")
    assert ucwa_api.default_format == "xml"
    assert relay_access_token == RelayTokenFactory(1234, relaytokens_clock).build()
"""

USES = "ucwa_token_response, ucwa_api, relay_access_token, relaytokens_clock"

SPELLINGS = {
    "conftest-name": (
        """
        import pytest

        @pytest.fixture(name="relaytokens_ucwa_format")
        def _format():
            return "xml"

        @pytest.fixture(name="relaytokens_seed")
        def _seed():
            return 1234
        """,
        f"""
        from checks import check

        def test_it({USES}):
            check({USES})
        """,
    ),
    "module": (
        "",
        f"""
        import pytest
        from checks import check

        @pytest.fixture
        def relaytokens_ucwa_format():
            return "xml"

        @pytest.fixture
        def relaytokens_seed():
            return 1234

        def test_it({USES}):
            check({USES})
        """,
    ),
    "class": (
        "",
        f"""
        import pytest
        from checks import check

        class TestIt:
            @pytest.fixture(name="relaytokens_ucwa_format")
            def fmt(self):
                return "xml"

            @pytest.fixture
            def relaytokens_seed(self):
                return 1234

            def test_it(self, {USES}):
                check({USES})
        """,
    ),
    "indirect": (
        "",
        f"""
        import pytest
        from checks import check

        @pytest.mark.parametrize("relaytokens_ucwa_format", ["xml"], indirect=True)
        @pytest.mark.parametrize("relaytokens_seed", [1234], indirect=True)
        def test_it(relaytokens_ucwa_format, relaytokens_seed, {USES}):
            check({USES})
        """,
    ),
    "direct-parametrize": (
        "",
        f"""
        import pytest
        from checks import check

        @pytest.mark.parametrize("relaytokens_ucwa_format", ["xml"])
        @pytest.mark.parametrize("relaytokens_seed", [1234])
        def test_it(relaytokens_ucwa_format, relaytokens_seed, {USES}):
            check({USES})
        """,
    ),
}


# A parametrized fixture must be an argument of the test (pytest's rule for parametrize).
@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_override_spelling_is_what_the_fakes_use(pytester: pytest.Pytester, spelling: str) -> None:
    conftest, module = SPELLINGS[spelling]
    pytester.makepyfile(checks=CHECK)
    if conftest:
        pytester.makeconftest(conftest)
    pytester.makepyfile(test_spelling=module)
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_override_of_quirks_and_policy_by_name(pytester: pytest.Pytester) -> None:
    """The lazily read settings (quirks) go through pytest too."""
    pytester.makeconftest(
        """
        import pytest
        from pytest_relaytokens.ucwa.wire import UcwaQuirks

        @pytest.fixture(name="relaytokens_ucwa_quirks")
        def _quirks():
            return UcwaQuirks(uri_key="uri", timestamps="iso")
        """
    )
    pytester.makepyfile(
        """
        def test_it(ucwa_token_response):
            body = ucwa_token_response.body.decode()
            assert '"uri"' in body and '"Uri"' not in body
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_marker_still_wins_over_an_override(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(name="relaytokens_ucwa_format")
        def _format():
            return "xml"
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ucwa_format("json")
        def test_it(ucwa_token_response):
            assert ucwa_token_response.header("Content-Type").startswith("application/json")
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_expiry_markers_win_over_a_policy_override(pytester: pytest.Pytester) -> None:
    """A conftest ``relaytokens_token_policy`` keeps what no marker sets; the expiry markers
    replace the rest (a one-hour override never silences token_expires_in/token_expired)."""
    pytester.makeconftest(
        """
        import datetime as dt
        import pytest
        from pytest_relaytokens import TokenPolicy

        @pytest.fixture
        def relaytokens_token_policy():
            return TokenPolicy(lifetime=dt.timedelta(hours=1))
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_override(relay_access_token):
            life = relay_access_token.expiration_date - relay_access_token.creation_date
            assert life.total_seconds() == 3600

        @pytest.mark.token_expires_in(120)
        def test_expires_in(relay_access_token):
            life = relay_access_token.expiration_date - relay_access_token.creation_date
            assert life.total_seconds() == 120

        @pytest.mark.token_expired
        def test_expired(relay_access_token):
            assert relay_access_token.is_expired()
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)
