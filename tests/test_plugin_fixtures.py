"""The fixtures, as a downstream suite uses them (pytester)."""

from __future__ import annotations

import pytest


def test_token_fixtures_give_realistic_values(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import datetime as dt

        def test_ucwa(ucwa_token, relaytokens_clock):
            assert ucwa_token.duration == 480
            assert ucwa_token.user_name.startswith("AgAAJ") and len(ucwa_token.user_name) == 76
            assert len(ucwa_token.password) == 28
            assert ucwa_token.remaining(relaytokens_clock.now()) == dt.timedelta(minutes=480)
            assert not ucwa_token.is_expired(relaytokens_clock.now())
            assert ucwa_token.media_relays[0].tcp_port == 443

        def test_relay(relay_access_token, relaytokens_clock):
            token = relay_access_token
            assert len(token.access_token) == 32
            assert set(token.access_token) <= set("0123456789abcdefghijklmnopqrstuv")
            assert token.expiration_date - token.creation_date == dt.timedelta(weeks=2)
            assert token.remaining(relaytokens_clock.now()) == dt.timedelta(weeks=2)
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_ucwa_token_response_in_both_formats(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_relaytokens.ucwa import wire

        def test_json(ucwa_token_response, ucwa_token):
            assert ucwa_token_response.status == 200
            assert ucwa_token_response.header("Content-Type").startswith("application/json")
            assert b'"validUntil" : "\\\\/Date(' in ucwa_token_response.body
            parsed = wire.parse(ucwa_token_response.body, "application/json")
            assert parsed == wire.at_wire_precision(ucwa_token)  # /Date(ms)/: whole ms

        @pytest.mark.ucwa_format("xml")
        def test_xml(ucwa_token_response, ucwa_token):
            assert ucwa_token_response.header("Content-Type").startswith("application/xml")
            assert ucwa_token_response.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
            assert wire.parse(ucwa_token_response.body, "application/xml") == ucwa_token

        @pytest.mark.ucwa_quirks(uri_key="uri", timestamps="iso")
        def test_quirks(ucwa_token_response):
            assert b'"uri"' in ucwa_token_response.body and b'"Uri"' not in ucwa_token_response.body
            assert b"/Date(" not in ucwa_token_response.body
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_same_seed_same_tokens_and_seed_printed_on_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os

        def test_show(ucwa_token, relay_access_token):
            with open(os.environ["TOKENS_OUT"], "w") as out:
                out.write(ucwa_token.user_name + " " + relay_access_token.access_token)
            assert False
        """
    )

    def tokens(*args: str) -> tuple[str, pytest.RunResult]:
        out = pytester.path / "tokens.txt"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("TOKENS_OUT", str(out))
            result = pytester.runpytest(*args)
        return out.read_text(), result

    start = "--relaytokens-start=2026-01-05T09:30:00Z"
    first, result = tokens("--relaytokens-seed=1234", start)
    assert tokens("--relaytokens-seed=1234", start)[0] == first
    assert tokens("--relaytokens-seed=99", start)[0] != first
    # without a fixed start, the time-independent parts still repeat
    assert tokens("--relaytokens-seed=1234")[0].split()[1] == first.split()[1]
    result.stdout.fnmatch_lines(
        [
            "*- relaytokens -*",
            "*test seed * from run seed 1234; reproduce with --relaytokens-seed=1234*",
        ]
    )
    result.stdout.fnmatch_lines(["relaytokens: run seed 1234 *"])


def test_seed_fixture_overridable_in_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def relaytokens_seed():
            return 7
        """
    )
    pytester.makepyfile(
        """
        from pytest_relaytokens import UcwaTokenFactory

        def test_a(ucwa_token, relaytokens_clock):
            expected = UcwaTokenFactory(7, relaytokens_clock).build()
            assert ucwa_token.user_name == expected.user_name
        """
    )
    pytester.runpytest("--relaytokens-seed=1").assert_outcomes(passed=1)


def test_faker_fixture_has_the_provider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_a(relaytokens_faker):
            token = relaytokens_faker.relay_access_token()
            assert len(token.access_token) == 32
            assert relaytokens_faker.cwt_bearer_token().startswith("cwt=")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_apis_serve_requests_and_httpx(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        import requests

        def test_relay_flow(relay_api):
            creds = relay_api.credentials
            r = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                              auth=(creds.username, creds.password))
            assert r.status_code == 200
            token = r.json()["accessToken"]
            e = httpx.get(relay_api.base_url + "/api/enterprises/self",
                          headers={"X-Access-Token": token})
            assert e.status_code == 200 and e.json()["name"] == creds.enterprise_name
            assert [x.credential for x in relay_api.log] == ["basic", "x-access-token"]

        def test_ucwa_flow(ucwa_api):
            headers = {"Authorization": "Bearer " + ucwa_api.credentials.bearer,
                       "Accept": "application/json"}
            r = requests.get(ucwa_api.token_url(), headers=headers)
            assert r.status_code == 200 and r.json()["rel"] == "mediaRelayAccessToken"
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_unexpected_requests_fail_at_teardown_with_opt_out(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_strict(relay_api):
            assert requests.get(relay_api.base_url + "/api/nowhere").status_code == 404

        def test_opted_out(relay_api):
            relay_api.fail_on_unexpected = False
            assert requests.get(relay_api.base_url + "/api/nowhere").status_code == 404
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*relay_api: the fake received 1 request(s) it did not expect:*",
            "*GET https://relay.bluejeans.com/api/nowhere -> 404*",
            "*fail_on_unexpected = False*",
        ]
    )
    pytester.runpytest("--relaytokens-allow-unexpected=true").assert_outcomes(passed=2)


def test_loopback_server_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import subprocess, sys, json

        def test_server(relaytokens_server):
            creds = relaytokens_server.relay.credentials
            code = (
                "import json, sys, urllib.request, base64\\n"
                "req = urllib.request.Request(sys.argv[1] + '/api/auth/accesstokens', method='POST',"
                " headers={'Authorization': 'Basic ' + base64.b64encode(sys.argv[2].encode()).decode()})\\n"
                "print(json.load(urllib.request.urlopen(req))['enterpriseName'])\\n"
            )
            out = subprocess.run([sys.executable, "-c", code, relaytokens_server.url,
                                  creds.username + ":" + creds.password],
                                 capture_output=True, text=True, check=True).stdout
            assert out.strip() == creds.enterprise_name
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    lines = result.outlines
    for name in (
        "relaytokens_clock",
        "relaytokens_seed",
        "relaytokens_faker",
        "ucwa_token",
        "ucwa_token_response",
        "relay_access_token",
        "ucwa_api",
        "relay_api",
        "relaytokens_server",
        "ucwa_error",
        "relay_error",
        "relaytokens_token_policy",
        "relaytokens_ucwa_format",
        "relaytokens_ucwa_quirks",
    ):
        index = next(i for i, ln in enumerate(lines) if ln.split(" ")[0] == name)
        assert "no docstring available" not in lines[index + 1], name
        assert lines[index + 1].startswith("    "), name


def test_error_sequence_for_refresh_flows(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_ucwa(ucwa_api):
            ucwa_api.arm_sequence(["401-Unauthorized", None, "503-ServiceUnavailable"])
            headers = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
            statuses = [requests.get(ucwa_api.token_url(), headers=headers).status_code
                        for _ in range(4)]
            assert statuses == [401, 200, 503, 200]
            assert [e.injected for e in ucwa_api.log] == [True, True, True, False]

        def test_relay(relay_api):
            relay_api.arm_sequence(["BadCredentialsException", None], path="^/api/enterprises")
            url = relay_api.base_url + "/api/enterprises/self"
            token = relay_api.credentials.access_token
            first = requests.get(url, headers={"X-Access-Token": token})
            assert first.status_code == 401 and first.json()["errorCode"] == 1285563821
            assert requests.get(url, headers={"X-Access-Token": token}).status_code == 200
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_relay_rate_limit_switched_on_in_a_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_limit(relay_api, relaytokens_clock):
            relay_api.rate_limit = True
            url = relay_api.base_url + "/api/enterprises/self"
            headers = {"X-Access-Token": relay_api.credentials.access_token}
            assert [requests.get(url, headers=headers).status_code for _ in range(3)] == [200, 200, 429]
            relaytokens_clock.advance(1.5)
            assert requests.get(url, headers=headers).status_code == 200
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
