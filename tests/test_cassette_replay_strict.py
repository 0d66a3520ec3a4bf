"""Replay as strict as vcrpy's default, stricter where it matters (issue 19, item 4)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pytest_relaytokens.cassettes.replay import ReplayService
from pytest_relaytokens.http import FakeRequest
from pytest_relaytokens.library import scenario_path

RELAY = "https://relay.bluejeans.com"
UCWA = "https://fe1.contoso.com"
TOKEN_JSON = (
    '{"accessToken": "redacted000000000000000000000003", "clientName": null, '
    '"creationDate": 1767605400000, "enterpriseName": "humongouscorp", '
    '"expirationDate": 1768815000000, "roles": ["ROLE_READONLY", "ROLE_READWRITE"]}'
)


def _interaction(
    method: str,
    uri: str,
    body: str,
    *,
    request_body: str | None = None,
    content_type: str | None = None,
    accept: str = "application/json",
) -> dict[str, object]:
    headers: dict[str, list[str]] = {"Accept": [accept]}
    if content_type:
        headers["Content-Type"] = [content_type]
    return {
        "request": {"method": method, "uri": uri, "body": request_body, "headers": headers},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["application/json"]},
            "body": {"string": body},
        },
    }


def write_cassette(path: Path, *interactions: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "version": 1,
        "relaytokens": {"version": 1, "recorded_at": "2026-01-05T09:30:00+00:00"},
        "interactions": list(interactions),
    }
    path.write_text(yaml.safe_dump(data))
    return path


TOKEN_POST = _interaction("POST", f"{RELAY}/api/auth/accesstokens", TOKEN_JSON)
SIGN_IN = _interaction(
    "POST",
    f"{UCWA}/WebTicket/oauthtoken",
    '{"access_token": "redacted000000000004", "token_type": "Bearer"}',
    request_body="grant_type=password&username=alice%40contoso.com&password=redacted06",
    content_type="application/x-www-form-urlencoded",
)
JSON_POST = _interaction(
    "POST",
    f"{UCWA}/ucwa/oauth/v1/applications",
    '{"id": "1"}',
    request_body='{"UserAgent": "demo", "EndpointId": "e1", "Culture": "en-US"}',
    content_type="application/json",
)

TWICE = """
import pytest, requests

def test_twice(relay_api):
    for _ in range(2):
        answer = requests.post("https://relay.bluejeans.com/api/auth/accesstokens",
                               auth=("someone", "anything"))
    assert answer.status_code == 200
"""


# --- each interaction plays once ------------------------------------------------------------
def test_an_interaction_plays_once_by_default(pytester: pytest.Pytester) -> None:
    write_cassette(pytester.path / "cassettes" / "test_twice" / "test_twice.yaml", TOKEN_POST)
    pytester.makepyfile(test_twice=TWICE)
    result = pytester.runpytest("--relaytokens-backend=replay")
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*POST /api/auth/accesstokens (https://relay.bluejeans.com*: its recorded "
            "interaction was already played (1 recorded, each plays once; allow repeats with "
            "allow_playback_repeats=True)*",
        ]
    )


def test_repeats_are_an_opt_in_by_marker_or_ini(pytester: pytest.Pytester) -> None:
    write_cassette(pytester.path / "cassettes" / "test_twice" / "test_twice.yaml", TOKEN_POST)
    pytester.makepyfile(
        test_twice="import pytest\npytestmark = pytest.mark.relaytokens_replay("
        "allow_playback_repeats=True)\n" + TWICE
    )
    pytester.runpytest("--relaytokens-backend=replay").assert_outcomes(passed=1)
    pytester.makepyfile(test_twice=TWICE)
    pytester.makeini("[pytest]\nrelaytokens_allow_playback_repeats = true\n")
    pytester.runpytest("--relaytokens-backend=replay").assert_outcomes(passed=1)
    result = pytester.runpytest(
        "--relaytokens-backend=replay", "--relaytokens-allow-playback-repeats=false"
    )
    result.assert_outcomes(failed=1, errors=1)


# --- the body is part of the match, secrets masked ------------------------------------------
SIGN_IN_TEST = """
import os
import pytest, requests

@pytest.mark.parametrize("grant, password", [("password", os.environ["REAL_PASSWORD"]),
                                             ("BOGUS", "redacted06")], ids=["real", "bogus"])
def test_sign_in(ucwa_api, grant, password):
    answer = requests.post("https://fe1.contoso.com/WebTicket/oauthtoken",
                           data={"grant_type": grant, "username": "alice@contoso.com",
                                 "password": password})
    assert answer.status_code == 200, answer.text
"""


def test_form_fields_are_matched_with_secrets_masked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REAL_PASSWORD", "my-real-password")
    write_cassette(pytester.path / "signin.yaml", SIGN_IN)
    pytester.makepyfile(
        test_sign_in="import pytest\npytestmark = pytest.mark.relaytokens_cassette("
        "'signin.yaml')\n" + SIGN_IN_TEST
    )
    result = pytester.runpytest("--relaytokens-backend=replay", "-p", "no:randomly")
    # a real password matches the recorded placeholder; grant_type=BOGUS is not the recording
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*POST /WebTicket/oauthtoken (https://fe1.contoso.com): no recorded interaction "
            "matches*",
            "*nearest recorded: POST /WebTicket/oauthtoken (https://fe1.contoso.com*",
            "*differs in: body fields different value: grant_type*",
        ]
    )
    assert "my-real-password" not in result.stdout.str()


def test_json_fields_and_types_are_matched() -> None:
    service = ReplayService(write_cassette_tmp(JSON_POST))
    url = f"{UCWA}/ucwa/oauth/v1/applications"
    sent = '{"Culture": "en-US", "EndpointId": "e1", "UserAgent": "demo"}'
    ok = service.handle(FakeRequest.build("POST", url, {"Content-Type": "application/json"}, sent))
    assert ok.status == 200  # key order is not a difference
    typed = '{"Culture": "en-US", "EndpointId": 1, "UserAgent": "demo"}'
    service.plays = [0]
    miss = service.handle(
        FakeRequest.build("POST", url, {"Content-Type": "application/json"}, typed)
    )
    assert miss.status == 404
    assert "body fields different value: EndpointId" in miss.text()


def write_cassette_tmp(*interactions: dict[str, object]) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="replay-strict-"))
    return write_cassette(folder / "c.yaml", *interactions)


def test_scheme_host_and_port_are_matched() -> None:
    service = ReplayService(write_cassette_tmp(TOKEN_POST), allow_playback_repeats=True)
    for url, differs in (
        ("http://relay.bluejeans.com/api/auth/accesstokens", "scheme 'http' (recorded 'https')"),
        ("https://relay.bluejeans.com:8443/api/auth/accesstokens", "port 8443 (recorded 443)"),
        ("https://other.example.com/api/auth/accesstokens", "host 'other.example.com'"),
    ):
        response = service.handle(FakeRequest.build("POST", url))
        assert response.status == 404 and differs in response.text(), url
    ok = service.handle(FakeRequest.build("POST", f"{RELAY}:443/api/auth/accesstokens"))
    assert ok.status == 200


def test_a_custom_matcher_is_asked_too(pytester: pytest.Pytester) -> None:
    write_cassette(pytester.path / "cassettes" / "test_twice" / "test_twice.yaml", TOKEN_POST)
    pytester.makepyfile(
        test_twice="""
        import pytest, requests

        def same_user_agent(request, recorded):
            return request.header("User-Agent") == "client/2"

        @pytest.mark.relaytokens_replay(matcher=same_user_agent)
        def test_twice(relay_api):
            answer = requests.post("https://relay.bluejeans.com/api/auth/accesstokens",
                                   headers={"User-Agent": "client/1"})
            assert answer.status_code == 404
        """
    )
    result = pytester.runpytest("--relaytokens-backend=replay")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the custom matcher refused every candidate*"])


def test_bad_replay_marker_arguments_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_replay(match_on=["path", "colour"], allow_playback_repeats=1)
        def test_x():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*relaytokens_replay*must be True or False*"])


# --- a named cassette never falls back to the shipped library --------------------------------
def test_a_missing_named_cassette_is_an_error_naming_path_and_record_command(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_cassette("recorded/relay.yaml")
        def test_token(relay_access_token):
            assert relay_access_token.access_token
        """
    )
    result = pytester.runpytest("--relaytokens-backend=replay")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*no cassette at *recorded/relay.yaml*--relaytokens-record-mode=once*"]
    )


# --- markers replay honours by re-rendering the recorded token ------------------------------
def test_format_quirks_and_skew_markers_re_render_the_recorded_token(
    pytester: pytest.Pytester,
) -> None:
    shutil.copy(scenario_path("ucwa/token-json"), pytester.path / "token.yaml")
    pytester.makepyfile(
        """
        import datetime as dt
        import pytest

        pytestmark = pytest.mark.relaytokens_cassette("token.yaml")

        def test_as_recorded(ucwa_token_response, ucwa_token):
            assert ucwa_token_response.content_type.startswith("application/json")
            assert b'"Uri":"sip:dan.harris@fabrikam.com"' in ucwa_token_response.body
            assert ucwa_token.valid_until == dt.datetime.fromtimestamp(
                1767634200, dt.timezone.utc)

        @pytest.mark.ucwa_format("xml")
        def test_xml(ucwa_token_response):
            assert ucwa_token_response.content_type.startswith("application/xml")
            assert ucwa_token_response.body.lstrip().startswith(b"<")

        @pytest.mark.ucwa_quirks(timestamps="iso", offset="+00:00")
        def test_quirks(ucwa_token_response):
            assert b'"validUntil":"2026-01-05T17:30:00' in ucwa_token_response.body.replace(
                b" ", b"")

        @pytest.mark.token_clock_skew(3600)
        def test_skew(ucwa_token_response, ucwa_token):
            assert ucwa_token.valid_until == dt.datetime.fromtimestamp(
                1767634200 + 3600, dt.timezone.utc)
            # only validUntil moved: every other recorded byte is as recorded
            assert ucwa_token_response.body.startswith(
                b'{"rel":"mediaRelayAccessToken","duration":480,"Uri":"sip:dan.harris@')
            assert b'"validUntil":"\\/Date(1767637800000)\\/"' in ucwa_token_response.body
        """
    )
    pytester.runpytest("--relaytokens-backend=replay", "-p", "no:randomly").assert_outcomes(
        passed=4
    )


# --- method and path always match; a loopback request's diff names no origin ----------------
@pytest.mark.parametrize("match_on", [[], ["query"], ["body", "accept"]])
def test_method_and_path_are_always_matched(match_on: list[str]) -> None:
    service = ReplayService(
        write_cassette_tmp(TOKEN_POST), match_on=match_on, allow_playback_repeats=True
    )
    wrong_method = service.handle(FakeRequest.build("GET", f"{RELAY}/api/auth/accesstokens"))
    assert wrong_method.status == 404
    assert "method 'GET' (recorded 'POST')" in wrong_method.text()
    wrong_path = service.handle(FakeRequest.build("POST", f"{RELAY}/api/enterprises/self"))
    assert wrong_path.status == 404
    assert "path '/api/enterprises/self' (recorded '/api/auth/accesstokens')" in (wrong_path.text())
    ok = service.handle(FakeRequest.build("POST", f"{RELAY}/api/auth/accesstokens"))
    assert ok.status == 200


def test_empty_match_on_marker_still_matches_method_and_path(pytester: pytest.Pytester) -> None:
    write_cassette(pytester.path / "cassettes" / "test_get" / "test_get.yaml", TOKEN_POST)
    pytester.makepyfile(
        test_get="""
        import pytest, requests

        @pytest.mark.relaytokens_replay(match_on=[])
        def test_get(relay_api):
            answer = requests.get("https://relay.bluejeans.com/api/enterprises/self")
            assert answer.status_code == 404
        """
    )
    result = pytester.runpytest("--relaytokens-backend=replay")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*differs in: method 'GET' (recorded 'POST'); path*"])


def test_a_loopback_miss_names_no_origin_and_shows_paths_plainly() -> None:
    service = ReplayService(write_cassette_tmp(TOKEN_POST), base_url="http://127.0.0.1:40209")
    miss = service.handle(FakeRequest.build("GET", "http://127.0.0.1:40209/api/enterprises/self"))
    assert miss.status == 404
    differs = next(line for line in miss.text().splitlines() if "differs in:" in line)
    assert differs.strip() == (
        "differs in: method 'GET' (recorded 'POST'); "
        "path '/api/enterprises/self' (recorded '/api/auth/accesstokens')"
    )
