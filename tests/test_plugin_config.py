"""Options, ini keys and their precedence; the error fan-out and its filters; the report."""

from __future__ import annotations

import json

import pytest

FORMAT_PROBE = """
def test_format(ucwa_token_response, pytestconfig):
    out = pytestconfig.rootpath / "format.txt"
    out.write_text("xml" if ucwa_token_response.body.startswith(b"<") else "json")
"""


def _format(pytester: pytest.Pytester, *args: str) -> str:
    pytester.runpytest(*args).assert_outcomes(passed=1)
    return (pytester.path / "format.txt").read_text()


def test_precedence_ini_cli_conftest_marker(pytester: pytest.Pytester) -> None:
    pytester.makeini((pytester.path / "tox.ini").read_text() + "\nrelaytokens_ucwa_format = xml\n")
    pytester.makepyfile(FORMAT_PROBE)
    assert _format(pytester) == "xml"  # ini
    assert _format(pytester, "--relaytokens-ucwa-format=json") == "json"  # cli beats ini
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef relaytokens_ucwa_format():\n    return 'xml'\n"
    )
    assert _format(pytester, "--relaytokens-ucwa-format=json") == "xml"  # conftest beats cli
    pytester.makepyfile(
        "import pytest\n\npytestmark = pytest.mark.ucwa_format('json')\n" + FORMAT_PROBE
    )
    assert _format(pytester, "--relaytokens-ucwa-format=xml") == "json"  # marker beats all


def test_error_fanout_runs_one_body_per_catalogued_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests
        from pytest_relaytokens import UCWA_ERRORS

        def test_ucwa(ucwa_api, ucwa_error):
            c = ucwa_api.credentials
            if ucwa_error.grant_error:  # a WebTicket (OAuth) error row: the sign-in answers it
                grant = {"grant_type": "password", "username": c.username, "password": c.password}
                r = requests.post(ucwa_api.base_url + "/WebTicket/oauthtoken", data=grant)
            else:
                r = requests.get(ucwa_api.token_url(), headers={"Authorization": "Bearer " + c.bearer})
            assert r.status_code == ucwa_error.status
            if ucwa_error.grant_error:
                assert r.json()["error"] == ucwa_error.code
            elif ucwa_error.status != 401:
                assert r.json()["code"] == ucwa_error.code

        def test_relay(relay_api, relay_error):
            r = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                              auth=(relay_api.credentials.username, relay_api.credentials.password))
            assert r.status_code == relay_error.status
            assert r.json()["errorName"] == relay_error.name
        """
    )
    from pytest_relaytokens import RELAY_ERRORS, UCWA_ERRORS

    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=len(UCWA_ERRORS) + len(RELAY_ERRORS))
    result.stdout.fnmatch_lines(
        [
            "*test_ucwa?409-Conflict-TooManyGroups? PASSED*",
            "*test_relay?401-BadCredentialsException? PASSED*",
        ]
    )


def test_fanout_filters_by_marker_and_option(pytester: pytest.Pytester) -> None:
    from pytest_relaytokens import UCWA_ERRORS

    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_errors("mediaRelayAccessToken")
        def test_specific(ucwa_error, ucwa_token_response):
            assert ucwa_error.group == "mediaRelayAccessToken"
            assert ucwa_token_response.status == ucwa_error.status  # strict: received

        def test_option(ucwa_error, ucwa_token_response):
            assert 500 <= ucwa_error.status < 600
            assert ucwa_token_response.status == ucwa_error.status
        """
    )
    result = pytester.runpytest("--relaytokens-errors=5xx")
    fives = sum(1 for e in UCWA_ERRORS if e.status >= 500)
    result.assert_outcomes(passed=5 + fives)
    bad = pytester.runpytest("--relaytokens-errors=NoSuchError")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*selector 'NoSuchError' matches no catalogued error*"])
    assert bad.ret != 0


COVERAGE_BODY = """
import pytest, requests

@pytest.mark.relaytokens_errors("mediaRelayAccessToken")
def test_fanout(ucwa_error, ucwa_api):
    answer = requests.get(ucwa_api.token_url(),
                          headers={"Authorization": "Bearer " + ucwa_api.credentials.bearer})
    assert answer.status_code == ucwa_error.status

@pytest.mark.relay_error("BadCredentialsException")
def test_marker(relay_api):
    creds = relay_api.credentials
    answer = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                           auth=(creds.username, creds.password))
    assert answer.status_code == 401

@pytest.mark.ucwa_error("BadRequest")
def test_marker_on_the_loopback_server(relaytokens_server):
    ucwa = relaytokens_server.ucwa
    answer = requests.get(ucwa.token_url(),
                          headers={"Authorization": "Bearer " + ucwa.credentials.bearer})
    assert answer.status_code == 400

def test_arm_sequence_counts_what_it_served(relay_api):
    relay_api.arm_sequence(["BadCommand", None], path="/api/auth/accesstokens")
    creds = relay_api.credentials
    url = relay_api.base_url + "/api/auth/accesstokens"
    assert requests.post(url, auth=(creds.username, creds.password)).status_code == 500
    assert requests.post(url, auth=(creds.username, creds.password)).status_code == 200

@pytest.mark.relaytokens_allow(unused_faults=True)
@pytest.mark.ucwa_error("ServiceUnavailable", times=1)
@pytest.mark.relay_error("ListenerOffline", times=1)
def test_armed_but_never_served(ucwa_api, relay_api):
    pass
"""


@pytest.mark.parametrize(
    "xdist", [False, pytest.param(True, marks=pytest.mark.heavy)], ids=["serial", "xdist"]
)
def test_error_coverage_counts_what_was_served(pytester: pytest.Pytester, xdist: bool) -> None:
    """An error counts once a fake answered with it, whatever armed it (fan-out, marker on
    any transport, arm_sequence); an error armed but never served does not count."""
    pytester.makepyfile(test_cov=COVERAGE_BODY)
    report = pytester.path / "out" / "coverage.json"
    args = ["-n", "2", "-p", "xdist"] if xdist else []
    result = pytester.runpytest(f"--relaytokens-report={report}", *args)
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(
        ["*relaytokens error coverage*", "ucwa *(all)*6 *", "relay *(all)*2 *"]
    )
    data = json.loads(report.read_text())
    served = {
        api: {i for g in data[api]["groups"].values() for i in g["exercised"]}
        for api in ("ucwa", "relay")
    }
    assert "400-BadRequest" in served["ucwa"]
    assert "503-ServiceUnavailable" not in served["ucwa"]
    assert served["relay"] == {"401-BadCredentialsException", "500-BadCommand"}
    assert data["ucwa"]["exercised"] == 6 and data["relay"]["exercised"] == 2


def test_coverage_table_can_be_silenced(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cov=COVERAGE_BODY)
    report = pytester.path / "coverage.json"
    result = pytester.runpytest("--relaytokens-coverage=off", f"--relaytokens-report={report}")
    result.assert_outcomes(passed=9)
    assert "relaytokens error coverage" not in result.stdout.str()
    assert json.loads(report.read_text())["relay"]["exercised"] == 2


def test_report_silent_when_plugin_unused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "relaytokens error coverage" not in result.stdout.str()
