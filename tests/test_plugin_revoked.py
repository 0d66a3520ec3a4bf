"""The ``token_revoked`` and ``relaytokens_service_options`` markers, driven through pytester
with real clients (requests, httpx, urllib against the loopback server)."""

from __future__ import annotations

import pytest

REVOKED_SUITE = """
import httpx, pytest, requests

def relay_status(api, token):
    return requests.get(api.base_url + "/api/enterprises/self",
                        headers={"X-Access-Token": token}).status_code

def ucwa_get(api, bearer):
    return requests.get(api.token_url(), headers={"Authorization": "Bearer " + bearer})

@pytest.mark.token_revoked
def test_both_apis_refuse_what_the_fixtures_handed_out(relay_api, ucwa_api, relay_access_token):
    for token in (relay_access_token.access_token, relay_api.credentials.access_token,
                  relay_api.credentials.readonly_access_token):
        r = requests.get(relay_api.base_url + "/api/enterprises/self",
                         headers={"X-Access-Token": token})
        assert r.status_code == 401, token
        assert r.json()["errorName"] == "BadCredentialsException"
    u = ucwa_get(ucwa_api, ucwa_api.credentials.bearer)
    assert u.status_code == 401
    assert len(u.raw.headers.getlist("WWW-Authenticate")) == 2
    assert not relay_access_token.is_expired()  # revoked, not expired

@pytest.mark.token_revoked(optional=True)  # it never presents a revoked credential
def test_a_client_that_signs_in_again_works(relay_api, ucwa_api):
    creds = relay_api.credentials
    fresh = requests.post(relay_api.token_url(), auth=(creds.username, creds.password))
    assert fresh.status_code == 200
    assert relay_status(relay_api, fresh.json()["accessToken"]) == 200
    ticket = requests.post(ucwa_api.base_url + "/WebTicket/oauthtoken", data={
        "grant_type": "password", "username": ucwa_api.credentials.username,
        "password": ucwa_api.credentials.password})
    assert ticket.status_code == 200
    assert ucwa_get(ucwa_api, ticket.json()["access_token"]).status_code == 200

@pytest.mark.token_revoked("relay")
def test_only_relay(relay_api, ucwa_api):
    assert relay_status(relay_api, relay_api.credentials.access_token) == 401
    assert ucwa_get(ucwa_api, ucwa_api.credentials.bearer).status_code == 200

@pytest.mark.token_revoked(api="ucwa")
def test_only_ucwa_over_httpx(relay_api, ucwa_api, relay_access_token):
    with httpx.Client() as client:
        u = client.get(ucwa_api.token_url(),
                       headers={"Authorization": "Bearer " + ucwa_api.credentials.bearer})
        r = client.get(relay_api.base_url + "/api/enterprises/self",
                       headers={"X-Access-Token": relay_access_token.access_token})
    assert (u.status_code, r.status_code) == (401, 200)

def test_unmarked_tokens_work(relay_api, ucwa_api, relay_access_token):
    assert relay_status(relay_api, relay_access_token.access_token) == 200
    assert ucwa_get(ucwa_api, ucwa_api.credentials.bearer).status_code == 200

@pytest.mark.token_revoked
class TestOnTheLoopbackServer:
    def test_urllib_client_gets_401(self, relaytokens_server, relay_access_token):
        import urllib.error, urllib.request
        request = urllib.request.Request(relaytokens_server.url.rstrip("/")
                                         + "/api/enterprises/self",
                                         headers={"X-Access-Token":
                                                  relay_access_token.access_token})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 401
        caught.value.close()
"""


def test_token_revoked_serially(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_revoked=REVOKED_SUITE)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=6)


@pytest.mark.heavy
def test_token_revoked_under_xdist_and_random_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_revoked=REVOKED_SUITE)
    result = pytester.runpytest("-n", "2", "-p", "randomly")
    result.assert_outcomes(passed=6)


def test_token_revoked_fails_a_test_that_reuses_the_dead_token(pytester: pytest.Pytester) -> None:
    """The 401 is real: a client that does not refresh fails its own test."""
    pytester.makepyfile(
        """
        import pytest, requests

        class NaiveClient:
            def __init__(self, api, token):
                self.api, self.token = api, token
            def enterprise(self):
                r = requests.get(self.api.base_url + "/api/enterprises/self",
                                 headers={"X-Access-Token": self.token})
                r.raise_for_status()
                return r.json()

        @pytest.mark.token_revoked
        def test_naive(relay_api, relay_access_token):
            NaiveClient(relay_api, relay_access_token.access_token).enterprise()
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*401 Client Error*"])


def test_token_revoked_bad_arguments_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.token_revoked("teams")
        def test_unknown_api(relay_api):
            pass

        @pytest.mark.token_revoked(api=1)
        def test_wrong_type(relay_api):
            pass

        @pytest.mark.token_revoked("ucwa", "relay")
        def test_too_many(relay_api):
            pass

        @pytest.mark.token_revoked(apis="relay")
        def test_unknown_keyword(relay_api):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*4 problem(s)*",
            "*test_unknown_api: @pytest.mark.token_revoked: unknown api 'teams'; "
            "valid values: 'ucwa', 'relay'",
            "*test_wrong_type: @pytest.mark.token_revoked: unknown api 1*",
            "*test_too_many: @pytest.mark.token_revoked: too many positional arguments*",
            "*test_unknown_keyword: @pytest.mark.token_revoked: got an unexpected keyword argument "
            "'apis'*",
        ]
    )


def test_token_revoked_needs_the_fake_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.token_revoked
        @pytest.mark.relaytokens_backend("replay")
        @pytest.mark.relaytokens_cassette("library:relay/token-basic")
        def test_replayed(relay_access_token):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=1)  # at setup, where the fixture meets the backend
    result.stdout.fnmatch_lines(
        ['*the token_revoked marker(s) act on the fakes*relaytokens_backend("fake")*']
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_new_markers_are_listed_with_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            '@pytest.mark.token_revoked(api="ucwa" | "relay", default both, *, optional=False):*401*',
            "@pytest.mark.relaytokens_service_options(cors_origins=*ucwa_online=False*):*",
        ]
    )


SERVICE_OPTIONS_SUITE = """
import re, httpx, pytest, requests

APP = "https://app.example.com"

@pytest.mark.relaytokens_service_options(cors_origins=[APP + "/"])
def test_browser_preflight_and_request(relay_api, ucwa_api):
    url = relay_api.base_url + "/api/enterprises/self"
    preflight = requests.options(url, headers={
        "Origin": APP, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-access-token"})
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == APP
    r = requests.get(url, headers={"Origin": APP,
                                   "X-Access-Token": relay_api.credentials.access_token})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == APP
    with httpx.Client() as client:
        u = client.get(ucwa_api.token_url(), headers={
            "Origin": APP, "Authorization": "Bearer " + ucwa_api.credentials.bearer})
    assert u.status_code == 200 and u.headers["Access-Control-Allow-Origin"] == APP

def test_cors_is_off_without_the_marker(relay_api):
    r = requests.get(relay_api.base_url + "/api/enterprises/self", headers={
        "Origin": APP, "X-Access-Token": relay_api.credentials.access_token})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers

@pytest.mark.relaytokens_service_options(ucwa_online=True)
def test_online_challenge_and_jwt(ucwa_api):
    r = requests.get(ucwa_api.token_url())
    assert r.status_code == 401
    challenges = r.raw.headers.getlist("WWW-Authenticate")
    assert any(re.search(r'authorization_uri="[^"]+"', c) for c in challenges)
    assert ucwa_api.credentials.bearer.count(".") == 2  # a JWT

@pytest.mark.relaytokens_service_options(cors_origins=["*"], ucwa_online=True)
def test_on_the_loopback_server(relaytokens_server):
    r = requests.options(relaytokens_server.url.rstrip("/") + "/api/enterprises/self",
                         headers={"Origin": "http://localhost:3000",
                                  "Access-Control-Request-Method": "GET"})
    assert r.headers.get("Access-Control-Allow-Origin") in ("*", "http://localhost:3000")
    assert relaytokens_server.ucwa.online
"""


def test_service_options_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_options=SERVICE_OPTIONS_SUITE)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


@pytest.mark.heavy
def test_service_options_marker_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_options=SERVICE_OPTIONS_SUITE)
    pytester.runpytest("-n", "2", "-p", "randomly").assert_outcomes(passed=4)


def test_service_options_bad_values_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_service_options(cors_origins="https://a.example")
        def test_a_string(relay_api):
            pass

        @pytest.mark.relaytokens_service_options(cors_origins=["ftp://a.example"])
        def test_bad_scheme(relay_api):
            pass

        @pytest.mark.relaytokens_service_options(cors_origins=["https://a.example/path"])
        def test_with_path(relay_api):
            pass

        @pytest.mark.relaytokens_service_options(ucwa_online="yes")
        def test_not_a_bool(ucwa_api):
            pass

        @pytest.mark.relaytokens_service_options(True)
        def test_positional(ucwa_api):
            pass

        @pytest.mark.relaytokens_service_options(cors=["*"])
        def test_unknown_keyword(ucwa_api):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*6 problem(s)*",
            "*test_a_string: @pytest.mark.relaytokens_service_options: cors_origins must be a "
            "list of origins*",
            "*test_bad_scheme:*bad CORS origin 'ftp://a.example'*",
            "*test_with_path:*bad CORS origin 'https://a.example/path'*",
            "*test_not_a_bool:*ucwa_online must be True or False, got 'yes'*",
            "*test_positional:*too many positional arguments*",
            "*test_unknown_keyword:*unexpected keyword argument 'cors'*",
        ]
    )


def test_token_revoked_on_the_shared_server(pytester: pytest.Pytester) -> None:
    """The token fixture is issued by the test's fake behind the session server too, so the
    revocation reaches it."""
    pytester.makepyfile(
        """
        import pytest, requests

        def status(shared, token):
            return requests.get(shared.url.rstrip("/") + "/api/enterprises/self",
                                headers={"X-Access-Token": token}).status_code

        @pytest.mark.token_revoked
        def test_revoked(relay_access_token, relaytokens_shared_server):
            assert relay_access_token in relaytokens_shared_server.relay.issued_tokens
            assert status(relaytokens_shared_server, relay_access_token.access_token) == 401

        def test_not_revoked(relay_access_token, relaytokens_shared_server):
            assert status(relaytokens_shared_server, relay_access_token.access_token) == 200
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)
