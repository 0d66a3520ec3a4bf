"""One test body, three backends: fake, live (recorded, against a loopback stand-in), replay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports.server import LoopbackServer, PathRouter
from pytest_relaytokens.ucwa.service import UcwaService

BODY = """
import requests

def test_flow(relay_api, relay_access_token, relaytokens_clock):
    creds = relay_api.credentials
    created = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                            auth=(creds.username, creds.password))
    assert created.status_code == 200
    token = created.json()["accessToken"]
    me = requests.get(relay_api.base_url + "/api/enterprises/self",
                      headers={"X-Access-Token": token})
    assert me.status_code == 200 and me.json()["name"]
    assert not relay_access_token.is_expired(relaytokens_clock.now())
"""


@pytest.fixture
def live_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A loopback server standing in for live UCWA and Relay servers."""
    clock = Clock()
    ucwa = UcwaService(clock=clock, seed=11)
    relay = RelayService(clock=clock, seed=12)
    with LoopbackServer(PathRouter([("/api/", relay)], default=ucwa)) as server:
        server.ucwa, server.relay = ucwa, relay  # type: ignore[attr-defined]
        monkeypatch.setenv("RELAYTOKENS_RELAY_URL", server.url)
        monkeypatch.setenv("RELAYTOKENS_RELAY_USERNAME", relay.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_RELAY_PASSWORD", relay.credentials.password)
        monkeypatch.setenv("RELAYTOKENS_UCWA_URL", server.url)
        monkeypatch.setenv("RELAYTOKENS_UCWA_USERNAME", ucwa.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_UCWA_PASSWORD", ucwa.credentials.password)
        yield server


def test_same_body_on_fake_live_and_replay(
    pytester: pytest.Pytester, live_server: LoopbackServer
) -> None:
    pytester.makepyfile(test_backends=BODY)
    pytester.runpytest().assert_outcomes(passed=1)  # fake
    pytester.runpytest("--relaytokens-backend=live").assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_backends" / "test_flow.yaml"
    assert not cassette.exists()  # live without a record mode records nothing

    result = pytester.runpytest("--relaytokens-backend=live", "--relaytokens-record-mode=once")
    result.assert_outcomes(passed=1)
    text = cassette.read_text()
    relay = live_server.relay  # type: ignore[attr-defined]
    assert "relaytokens:" in text and "recorded_at" in text
    issued = [t.access_token for t in relay.issued_tokens]
    for secret in [relay.credentials.password, *issued]:
        assert secret not in text
    assert relay.credentials.basic_authorization.split()[1] not in text

    live_server.stop()  # offline from here on
    replay = pytester.runpytest("--relaytokens-backend=replay")
    replay.assert_outcomes(passed=1)


def test_replay_weeks_later_keeps_tokens_valid(
    pytester: pytest.Pytester, live_server: LoopbackServer
) -> None:
    import time_machine

    pytester.makepyfile(test_backends=BODY)
    three_weeks_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(weeks=3)
    with time_machine.travel(three_weeks_ago):  # recorded then: its tokens expired a week ago
        pytester.runpytest(
            "--relaytokens-backend=live", "--relaytokens-record-mode=once"
        ).assert_outcomes(passed=1)
    live_server.stop()
    cassette = pytester.path / "cassettes" / "test_backends" / "test_flow.yaml"
    assert str(three_weeks_ago.date()) in cassette.read_text()
    pytester.makepyfile(
        test_later="""
        import datetime as dt
        import pytest, requests

        @pytest.mark.relaytokens_cassette("cassettes/test_backends/test_flow.yaml")
        @pytest.mark.relaytokens_allow(unplayed=True)  # it replays part of another test's flow
        def test_later(relay_api, relay_access_token, relaytokens_clock):
            now = relaytokens_clock.now()
            print("NOW", now)
            assert not relay_access_token.is_expired(now)
            token = requests.post(relay_api.base_url + "/api/auth/accesstokens").json()
            assert token["creationDate"] <= relaytokens_clock.now_ms() < token["expirationDate"]
        """
    )
    pytester.runpytest("--relaytokens-backend=replay", "test_later.py").assert_outcomes(passed=1)
    pytester.runpytest(
        "--relaytokens-backend=replay", "test_later.py", "--relaytokens-rebase-expiry=true"
    ).assert_outcomes(passed=1)


def test_replay_without_cassette_says_which_file_and_how_to_record(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_backends=BODY)
    result = pytester.runpytest("--relaytokens-backend=replay")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*replay backend: no cassette at *cassettes/test_backends/test_flow.yaml. Record it "
            "*--relaytokens-backend=live --relaytokens-record-mode=once*"
        ]
    )


def test_live_without_environment_names_the_variables(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("URL", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"RELAYTOKENS_RELAY_{name}", raising=False)
    pytester.makepyfile(test_backends=BODY)
    result = pytester.runpytest("--relaytokens-backend=live")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*RELAYTOKENS_RELAY_URL, RELAYTOKENS_RELAY_USERNAME*"])


def test_error_markers_need_the_fake_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_backend("replay")
        @pytest.mark.relay_error("BadCredentialsException")
        def test_a(relay_api):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*need the fake backend*"])


def test_unused_cassettes_are_reported(
    pytester: pytest.Pytester, live_server: LoopbackServer
) -> None:
    pytester.makepyfile(test_backends=BODY)
    pytester.runpytest(
        "--relaytokens-backend=live", "--relaytokens-record-mode=once"
    ).assert_outcomes(passed=1)
    stale = pytester.path / "cassettes" / "test_backends" / "test_removed.yaml"
    stale.write_text((stale.parent / "test_flow.yaml").read_text())
    result = pytester.runpytest(
        "--relaytokens-backend=replay", "--relaytokens-unused-cassettes=true"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*relaytokens unused cassettes*", "unused: *test_removed.yaml"])
    assert "test_flow.yaml" not in "\n".join(
        ln for ln in result.outlines if ln.startswith("unused:")
    )


@pytest.mark.parametrize("marker", ["token_expired", "token_expires_in(60)"])
def test_expiry_markers_apply_on_replay(
    pytester: pytest.Pytester, live_server: LoopbackServer, marker: str
) -> None:
    pytester.makepyfile(test_backends=BODY)
    pytester.runpytest(
        "--relaytokens-backend=live", "--relaytokens-record-mode=once"
    ).assert_outcomes(passed=1)
    pytester.makepyfile(
        test_marked=f"""
        import datetime as dt
        import pytest

        @pytest.mark.{marker}
        @pytest.mark.relaytokens_cassette("cassettes/test_backends/test_flow.yaml")
        def test_token(relay_access_token, relaytokens_clock):
            now = relaytokens_clock.now()
            if "{marker}" == "token_expired":
                assert relay_access_token.is_expired(now)
            else:
                assert relay_access_token.remaining(now) == dt.timedelta(seconds=60)
        """
    )
    live_server.stop()
    pytester.runpytest("--relaytokens-backend=replay", "test_marked.py").assert_outcomes(passed=1)


def test_user_secret_patterns_never_reach_the_cassette(
    pytester: pytest.Pytester, live_server: LoopbackServer
) -> None:
    pytester.makepyfile(test_backends=BODY)
    enterprise = live_server.relay.credentials.enterprise_name  # type: ignore[attr-defined]
    pytester.makeini(
        (pytester.path / "tox.ini").read_text()
        + f"\nrelaytokens_secret_patterns =\n    {enterprise}\n"
    )
    pytester.runpytest(
        "--relaytokens-backend=live", "--relaytokens-record-mode=once"
    ).assert_outcomes(passed=1)
    text = (pytester.path / "cassettes" / "test_backends" / "test_flow.yaml").read_text()
    assert enterprise not in text
    bad = pytester.runpytest(
        "--relaytokens-backend=live",
        "--relaytokens-record-mode=all",
        "--relaytokens-secret-pattern=(unclosed",
    )
    assert bad.ret != 0
    bad.stderr.fnmatch_lines(["*secret pattern '(unclosed' is not a valid regular expression*"])


def test_corrupt_cassette_fails_with_file_and_problem(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_backends=BODY)
    cassette = pytester.path / "cassettes" / "test_backends" / "test_flow.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions:\n- request: {method: GET\n  uri: [unclosed\n")
    result = pytester.runpytest("--relaytokens-backend=replay")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_flow.yaml:3:6: invalid YAML*"])
    assert "During handling" not in result.stdout.str()
    assert "yaml.scanner" not in result.stdout.str()


def test_ucwa_fixtures_replay_the_shipped_library(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_lib="""
        import datetime as dt
        import pytest
        from pytest_relaytokens.ucwa import wire

        pytestmark = pytest.mark.relaytokens_backend("replay")

        @pytest.mark.ucwa_format("xml")
        def test_xml(ucwa_token_response, ucwa_token, relaytokens_clock):
            assert ucwa_token_response.body.startswith(b"<?xml")
            assert relaytokens_clock.now() == dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)
            assert ucwa_token.remaining(relaytokens_clock.now()) > dt.timedelta(hours=7)

        @pytest.mark.ucwa_quirks(uri_key="uri", timestamps="iso")
        def test_quirks(ucwa_token_response):
            assert b'"uri"' in ucwa_token_response.body and b"/Date(" not in ucwa_token_response.body

        @pytest.mark.token_expired
        @pytest.mark.ucwa_format("xml")
        def test_expired(ucwa_token, ucwa_token_response, relaytokens_clock):
            assert ucwa_token.is_expired(relaytokens_clock.now())
            assert wire.parse(ucwa_token_response.body, "application/xml") == ucwa_token

        @pytest.mark.token_expires_in(90)
        def test_expires_in(ucwa_token, relaytokens_clock):
            assert ucwa_token.remaining(relaytokens_clock.now()) == dt.timedelta(seconds=90)
        """
    )
    pytester.runpytest().assert_outcomes(passed=4)


# ---------------------------------------------------------------- re-timing fast path
def _recorded_token(name: str, path_pattern: str, family: str) -> object:
    from pytest_relaytokens.cassettes.storage import load_interactions
    from pytest_relaytokens.library import scenario_path
    from pytest_relaytokens.pytest_plugin.backends import _recorded

    return _recorded(load_interactions(scenario_path(name)), path_pattern, family)[1]


@pytest.mark.parametrize("scenario", ["ucwa/token-json", "ucwa/token-json-iso", "ucwa/token-xml"])
def test_retime_moves_the_ucwa_expiry_and_reuses_the_rendering(scenario: str) -> None:
    from pytest_relaytokens.http import TokenPolicy
    from pytest_relaytokens.pytest_plugin.backends import retime
    from pytest_relaytokens.ucwa import wire

    fmt = "xml" if "xml" in scenario else "json"
    recorded = _recorded_token(scenario, r"mediaRelayAccessToken$", fmt)
    now = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    path = "/ucwa/oauth/v1/applications/1/communication/mediaRelayAccessToken"
    short = TokenPolicy(lifetime=dt.timedelta(minutes=7))
    first = retime(recorded, path, now, None, short, False)  # type: ignore[arg-type]
    again = retime(recorded, path, now, None, short, False)  # type: ignore[arg-type]
    assert first.body == again.body and first is not recorded
    token = wire.parse(first.body, first.content_type)
    assert token.valid_until == now + dt.timedelta(minutes=7)
    assert first.header("Content-Length") == str(len(first.body))
    expired = retime(recorded, path, now, None, TokenPolicy(already_expired=True), False)  # type: ignore[arg-type]
    assert wire.parse(expired.body, expired.content_type).valid_until < now
    assert wire.detect_quirks(first.body) == wire.detect_quirks(recorded.body)  # type: ignore[attr-defined]


def test_retime_serves_the_recorded_answer_untouched_without_a_marker() -> None:
    from pytest_relaytokens.http import FakeResponse, TokenPolicy
    from pytest_relaytokens.pytest_plugin.backends import retime

    # Not even a token: without an expiry marker or re-basing nothing is parsed.
    response = FakeResponse(200, [("Content-Type", "application/json")], b"not json")
    path = "/ucwa/oauth/v1/applications/1/communication/mediaRelayAccessToken"
    now = dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc)
    assert retime(response, path, now, None, TokenPolicy(), False) is response


def test_retime_relay_follows_the_clock_for_each_answer() -> None:
    from pytest_relaytokens.http import TokenPolicy
    from pytest_relaytokens.pytest_plugin.backends import retime
    from pytest_relaytokens.relay import wire

    recorded = _recorded_token("relay/token-basic", r"/api/auth/accesstokens$", "json")
    policy = TokenPolicy(lifetime=dt.timedelta(hours=2))
    start = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    for minutes in (0, 5, 0):
        now = start + dt.timedelta(minutes=minutes)
        answer = retime(recorded, "/api/auth/accesstokens", now, None, policy, True)  # type: ignore[arg-type]
        token = wire.parse_token(answer.body)
        assert token.creation_date == now
        assert token.expiration_date == now + dt.timedelta(hours=2)
