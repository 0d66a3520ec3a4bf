"""Strict by default: a declared error that no client received fails the test at teardown;
declarations that cannot all happen are usage errors at collection (issue 19)."""

from __future__ import annotations

import pytest

UNREACHED = """
import pytest, requests

@pytest.mark.ucwa_error("ServiceUnavailable")
def test_marker_never_reached(ucwa_api):
    # the client calls another endpoint: the armed error never reaches it
    ucwa_api.route("GET", "/custom/thing", json={"people": []})
    url = ucwa_api.base_url + f"/ucwa/oauth/v1/applications/{ucwa_api.credentials.application_id}"
    headers = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
    assert requests.get(url + "/custom/thing", headers=headers).status_code == 200

@pytest.mark.relay_error("BadCredentialsException")
def test_relay_marker_unused(relay_api):
    pass

def test_arm_error_times_none(relay_api):
    relay_api.arm_error("ListenerOffline", times=None)
"""


def test_marker_no_client_received_fails_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unreached=UNREACHED)
    result = pytester.runpytest()
    result.assert_outcomes(passed=3, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ucwa_api: 1 armed error(s)/fault(s) were never consumed by a request:",
            "*ucwa 503-ServiceUnavailable from @pytest.mark.ucwa_error('ServiceUnavailable')"
            " on paths matching *mediaRelayAccessToken* (never served; times=None means every"
            " matching request, at least one)",
            "What the client called instead:",
            "*GET *://*/custom/thing -> 200",
            "*optional=True on that marker or arm call*relaytokens_allow(unused_faults=True)*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*relay error 401-BadCredentialsException from "
            "@pytest.mark.relay_error('BadCredentialsException') on every path*",
            "*(no request reached the fake)*",
        ]
    )
    result.stdout.fnmatch_lines(["*relay error 503-ListenerOffline on every path (never served*"])


def test_optional_and_allow_opt_out(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ucwa_error("ServiceUnavailable", optional=True)
        def test_optional_marker(ucwa_api):
            pass

        def test_optional_arm(relay_api):
            relay_api.arm_error("ListenerOffline", times=None, optional=True)
            relay_api.arm_delay(0.1, optional=True)
            relay_api.arm_sequence(["BadCommand", None], optional=True)

        @pytest.mark.relaytokens_allow(unused_faults=True)
        @pytest.mark.relay_error("BadCredentialsException")
        def test_allowed(relay_api):
            pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_bad_optional_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relay_error("BadCredentialsException", optional="yes")
        def test_a(relay_api):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*@pytest.mark.relay_error: optional must be True or False*"])


FANOUT = """
import pytest, requests

@pytest.mark.relaytokens_errors("503")
def test_never_triggers(ucwa_api, ucwa_error):
    pass

@pytest.mark.relaytokens_errors("401")
def test_other_endpoint(relay_api, relay_error):
    requests.get(relay_api.base_url + "/api/enterprises/self",
                 headers={"X-Access-Token": relay_api.credentials.access_token})

@pytest.mark.relaytokens_errors("503")
def test_read_through_response_fixture(ucwa_error, ucwa_token_response):
    assert ucwa_token_response.status == ucwa_error.status
"""


def test_fanout_id_no_client_received_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fanout=FANOUT)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ucwa 503-ServiceUnavailable from the ucwa_error fan-out (id 503-ServiceUnavailable)"
            "*(never served*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*relay error 401-BadCredentialsException from the relay_error fan-out "
            "(id 401-BadCredentialsException) on paths matching '^/api/auth/accesstokens$'*",
            "What the client called instead:",
            "*GET *://*/api/enterprises/self -> 200",
        ]
    )


def test_response_fixture_shows_the_fanout_error_in_any_order(pytester: pytest.Pytester) -> None:
    """``ucwa_token_response`` is the armed error whether it is set up before or after the
    fan-out fixture, as JSON or XML."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_errors("mediaRelayAccessToken")
        def test_response_first(ucwa_token_response, ucwa_error):
            assert ucwa_token_response.status == ucwa_error.status
            assert ucwa_token_response.error_id == ucwa_error.id

        @pytest.mark.ucwa_format("xml")
        @pytest.mark.relaytokens_errors("409")
        def test_xml(ucwa_error, ucwa_token_response):
            assert ucwa_token_response.status == 409
            assert b"<reason" in ucwa_token_response.body
        """
    )
    from pytest_relaytokens.selection import select_errors

    count = len(select_errors("ucwa", ["mediaRelayAccessToken"])) + len(
        select_errors("ucwa", ["409"])
    )
    pytester.runpytest().assert_outcomes(passed=count)


def test_response_fixture_under_token_expired_is_the_401(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.token_expired
        def test_expired(ucwa_token_response):
            assert ucwa_token_response.status == 401
            assert "Bearer" in ucwa_token_response.header("WWW-Authenticate")

        @pytest.mark.token_revoked(api="ucwa")
        def test_revoked(ucwa_token_response):
            assert ucwa_token_response.status == 401

        def test_plain(ucwa_token_response, ucwa_token):
            assert ucwa_token_response.status == 200
            assert ucwa_token.user_name.encode() in ucwa_token_response.body
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_conflicts_are_usage_errors_listed_at_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.relay_error("ListenerOffline")

        @pytest.mark.relay_error("BadCredentialsException")
        def test_two_relay_markers(relay_api):
            pass

        @pytest.mark.ucwa_error("Conflict", times=1)
        @pytest.mark.ucwa_error("ServiceUnavailable", times=1)
        def test_two_ucwa_markers(ucwa_api):
            pass
        """
    )
    pytester.makepyfile(
        test_fanout="""
        import pytest

        @pytest.mark.ucwa_error("ServiceUnavailable")
        def test_marker_and_fanout(ucwa_error):
            pass

        @pytest.mark.relaytokens_errors("mediaRelayAccessToken")
        def test_selector_keeps_no_relay_row(relay_error):
            pass
        """,
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*relaytokens: 4 problem(s) with markers or cassettes:",
            "*::test_two_relay_markers: @pytest.mark.relay_error: 2 relay_error markers apply "
            "to this test*relay_api.arm_sequence*",
            "*::test_two_ucwa_markers: @pytest.mark.ucwa_error: 2 ucwa_error markers apply*",
        ]
    )
    result.stderr.fnmatch_lines(
        [
            "*::test_marker_and_fanout: @pytest.mark.ucwa_error and the ucwa_error fan-out "
            "both arm the ucwa fake*",
        ]
    )
    result.stderr.fnmatch_lines(
        [
            "*::test_selector_keeps_no_relay_row: @pytest.mark.relaytokens_errors"
            "('mediaRelayAccessToken',) keeps no relay error (it keeps * ucwa row(s)), so the "
            "relay_error fan-out would run nothing*",
        ]
    )


def test_option_selecting_nothing_for_a_fanout_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_relay(relay_error):
            pass
        """
    )
    result = pytester.runpytest("--relaytokens-errors=mediaRelayAccessToken")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--relaytokens-errors / ini relaytokens_errors *keeps no relay error*"]
    )


def test_conflicts_under_xdist_error_each_test(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_errors("mediaRelayAccessToken")
        def test_selector_keeps_no_relay_row(relay_error):
            pass
        """
    )
    result = pytester.runpytest("-n", "1")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*keeps no relay error*"])


SERVERS = """
import pytest, requests

@pytest.mark.parametrize("fixture", ["relaytokens_server", "relaytokens_shared_server"])
@pytest.mark.ucwa_error("ServiceUnavailable")
def test_never_reached_over_a_server(request, fixture):
    server = request.getfixturevalue(fixture)
    ucwa = server.ucwa
    requests.get(ucwa.base_url + "/ucwa/oauth/v1/applications",
                 headers={"Authorization": "Bearer " + ucwa.credentials.bearer})

@pytest.mark.parametrize("fixture", ["relaytokens_server", "relaytokens_shared_server"])
def test_arm_error_reached_over_a_server(request, fixture):
    relay = request.getfixturevalue(fixture).relay
    relay.arm_drop(path="accesstokens", optional=True)  # armed first: answers first
    relay.arm_error("ListenerOffline", times=None)
    url = relay.base_url + "/api/auth/accesstokens"
    creds = relay.credentials
    with pytest.raises(requests.ConnectionError):
        requests.post(url, auth=(creds.username, creds.password))
    assert requests.post(url, auth=(creds.username, creds.password)).status_code == 503
"""


def test_strict_over_the_loopback_and_shared_servers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_servers=SERVERS)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_never_reached_over_a_server[[]relaytokens_server[]]*",
            "ucwa_api: 1 armed error(s)/fault(s) were never consumed by a request:",
            "*GET http://127.0.0.1:*/ucwa/oauth/v1/applications -> 200",
            "*ERROR at teardown of test_never_reached_over_a_server[[]relaytokens_shared_server[]]*",
            "*GET http://127.0.0.1:*/ucwa/oauth/v1/applications -> 200",
        ]
    )


def test_a_leftover_sequence_step_is_named_as_arm_sequence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_one_of_two(relay_api):
            relay_api.arm_sequence(["BadCommand", None])
            requests.get(relay_api.base_url + "/api/enterprises/self")
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*arm_sequence step 2 of 2: pass on every path (1 use(s) left)*"])


NEVER_PRESENTED = """
import pytest, requests

def relay_token(api):
    creds = api.credentials
    r = requests.post(api.base_url + "/api/auth/accesstokens", auth=(creds.username, creds.password))
    return r.json()["accessToken"]

def enterprise(api, token):
    return requests.get(api.base_url + "/api/enterprises/self", headers={"X-Access-Token": token})

@pytest.mark.token_expired
def test_expired_never_presented(relay_access_token, relay_api):
    assert relay_access_token.is_expired()  # the object says so; no client met it

@pytest.mark.token_revoked(api="relay")
def test_revoked_never_presented(relay_api):
    assert enterprise(relay_api, relay_token(relay_api)).status_code == 200  # its own token

@pytest.mark.ucwa_format("xml")
def test_xml_declared_json_served(ucwa_api):
    headers = {"Authorization": "Bearer " + ucwa_api.credentials.bearer,
               "Accept": "application/json"}
    assert requests.get(ucwa_api.token_url(), headers=headers).status_code == 200
"""

PRESENTED = """
import pytest, requests

def relay_token(api):
    creds = api.credentials
    r = requests.post(api.base_url + "/api/auth/accesstokens", auth=(creds.username, creds.password))
    return r.json()["accessToken"]

def enterprise(api, token):
    return requests.get(api.base_url + "/api/enterprises/self", headers={"X-Access-Token": token})

@pytest.mark.token_expired
def test_expired_presented(relay_api):
    assert enterprise(relay_api, relay_token(relay_api)).status_code == 401

@pytest.mark.token_expired
def test_expired_read_through_the_response_fixture(ucwa_api, ucwa_token_response):
    assert ucwa_token_response.status == 401

@pytest.mark.token_revoked(api="relay")
def test_revoked_presented(relay_api):
    assert enterprise(relay_api, relay_api.credentials.access_token).status_code == 401

@pytest.mark.ucwa_format("xml")
def test_xml_served(ucwa_api):
    headers = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
    assert "xml" in requests.get(ucwa_api.token_url(), headers=headers).headers["Content-Type"]

@pytest.mark.ucwa_format("xml")
def test_xml_read_through_the_response_fixture(ucwa_api, ucwa_token_response):
    assert "xml" in ucwa_token_response.header("Content-Type")

@pytest.mark.token_expired(optional=True)
@pytest.mark.token_revoked(api="relay", optional=True)
@pytest.mark.ucwa_format("xml", optional=True)
def test_opted_out(relay_api, ucwa_api):
    assert enterprise(relay_api, relay_token(relay_api)).status_code == 401
"""


def test_expiry_revocation_and_format_never_met_fail_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    """token_expired, token_revoked and ucwa_format are scenarios too: a client that never
    met them fails its test, naming what it did and the opt-out."""
    pytester.makepyfile(test_never=NEVER_PRESENTED)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*relay_api: declared @pytest.mark.token_expired but no request carried the expired "
            "token (none was answered 401); the client did:",
            "  (no request reached the fake)",
            "*opt out with @pytest.mark.token_expired(optional=True).",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*relay_api: declared @pytest.mark.token_revoked(api='relay') but no request carried "
            "a revoked relay credential*",
            "  POST https://*/api/auth/accesstokens -> 200",
            "  GET https://*/api/enterprises/self -> 200",
            "*opt out with @pytest.mark.token_revoked(api='relay', optional=True).",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ucwa_api: declared @pytest.mark.ucwa_format('xml') but no UCWA answer was served "
            "as xml; the client did:",
            "  GET https://*/mediaRelayAccessToken -> 200",
            "*opt out with @pytest.mark.ucwa_format('xml', optional=True).",
        ]
    )


def test_expiry_revocation_and_format_met_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_met=PRESENTED)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=6)


def test_bad_optional_on_strict_markers_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.token_expired(optional="yes")
        def test_it(relay_api):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*@pytest.mark.token_expired: optional must be True or False, got 'yes'*"]
    )


def test_failure_messages_hide_known_secrets_in_every_url_part(pytester: pytest.Pytester) -> None:
    """An issued or handed-out token in a path segment of an unexpected request (or of a
    call listed by a strict failure) is hidden, on the terminal and in the junit XML."""
    pytester.makepyfile(
        """
        import pathlib, pytest, requests

        def test_leak(relay_api):
            c = relay_api.credentials
            pathlib.Path("secrets.txt").write_text(c.access_token + "\\n" + c.password)
            requests.get(relay_api.base_url + f"/api/enterprises/{c.access_token}/x",
                         headers={"X-Access-Token": c.access_token})
            requests.get(relay_api.base_url + "/api/nope", params={"q": c.password})

        @pytest.mark.relay_error("BadCredentialsException", times=2)  # one use left
        def test_strict_listing(relay_api):
            c = relay_api.credentials
            pathlib.Path("secrets2.txt").write_text(c.readonly_access_token)
            requests.get(relay_api.base_url + f"/api/{c.readonly_access_token}")
        """
    )
    result = pytester.runpytest("-p", "no:randomly", "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*GET https://*/api/enterprises/<hidden>/x -> 404",
            "*GET https://*/api/nope?q=<hidden> -> 404",
            "*GET https://*/api/<hidden> -> 401",
        ]
    )
    secrets = [
        *(pytester.path / "secrets.txt").read_text().split("\n"),
        (pytester.path / "secrets2.txt").read_text(),
    ]
    junit = (pytester.path / "junit.xml").read_text()
    for secret in secrets:
        assert secret not in result.stdout.str()
        assert secret not in junit
