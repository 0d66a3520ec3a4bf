"""The lifecycle markers, fixture, opt-outs, report rows and seeds, through pytester."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

RELAY_HELPERS = """
import requests

def token(relay_api):
    creds = relay_api.credentials
    response = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                             auth=(creds.username, creds.password))
    return response.json()["accessToken"]

def endpoints(relay_api, token):
    return requests.get(relay_api.base_url + "/api/endpoints",
                        headers={"X-Access-Token": token})
"""


def test_the_same_seed_reproduces_the_same_chaos(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        RELAY_HELPERS
        + """
import json, os, pytest

@pytest.mark.relaytokens_chaos(truncate=0.2, reset=0.2, dribble=0.2, slow_headers=0.1,
                               path="^/api/endpoints$")
def test_chaos(relay_api, relaytokens_lifecycle):
    t = token(relay_api)
    for _ in range(25):
        try:
            endpoints(relay_api, t).content
        except requests.RequestException:
            pass
    with open(os.environ["CHAOS_OUT"], "w") as out:
        json.dump(relaytokens_lifecycle.to_dict()["relay"]["chaos"], out)
"""
    )

    def chaos(seed: int, name: str) -> list[dict[str, object]]:
        target = pytester.path / name
        pytester.syspathinsert()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CHAOS_OUT", str(target))
            pytester.runpytest("-p", "no:randomly", f"--relaytokens-seed={seed}").assert_outcomes(
                passed=1
            )
        found: list[dict[str, object]] = json.loads(target.read_text())
        return found

    first, again, other = chaos(5, "a.json"), chaos(5, "b.json"), chaos(6, "c.json")
    assert first == again
    assert first != other
    assert len({c["kind"] for c in first}) >= 3


def test_opt_outs_silence_the_dead_token_and_retry_after_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        RELAY_HELPERS
        + """
import pytest

@pytest.mark.relaytokens_lifecycle(dead_tokens=False)
def test_reuse_allowed(relay_api):
    old = token(relay_api)
    relay_api.revoke(old)
    token(relay_api)
    assert endpoints(relay_api, old).status_code == 401

def test_reuse_refused(relay_api):
    old = token(relay_api)
    relay_api.revoke(old)
    token(relay_api)
    assert endpoints(relay_api, old).status_code == 401

@pytest.mark.relaytokens_lifecycle(retry_after=False)
def test_early_retry_allowed(relay_api):
    relay_api.arm_error("TooManyRequests", path="^/api/endpoints$")
    t = token(relay_api)
    assert endpoints(relay_api, t).status_code == 429
    assert endpoints(relay_api, t).status_code == 200

def test_retry_after_waited(relay_api, relaytokens_clock):
    relay_api.arm_error("TooManyRequests", path="^/api/endpoints$")
    t = token(relay_api)
    assert endpoints(relay_api, t).status_code == 429
    relaytokens_clock.advance(1)
    assert endpoints(relay_api, t).status_code == 200
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_reuse_refused*"])


def test_the_relay_rate_limit_records_when_to_retry(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        RELAY_HELPERS
        + """
def test_hammer(relay_api):
    relay_api.rate_limit = True
    t = token(relay_api)
    statuses = [endpoints(relay_api, t).status_code for _ in range(3)]
    assert statuses == [200, 429, 429]
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*relay: 1 retry(ies) came before Retry-After allowed them:",
            "*GET /api/endpoints -> 429 at * said Retry-After 1 s (retry allowed from *), but "
            "GET /api/endpoints -> 429 came at *",
        ]
    )


def test_ucwa_sign_ins_are_counted(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(EXAMPLES)
    pytester.makepyfile(
        """
import pytest
from tokenclient import UcwaClient

def client(ucwa_api, clock):
    return UcwaClient(ucwa_api.base_url + "/autodiscover/autodiscoverservice.svc/root",
                      ucwa_api.credentials.username, ucwa_api.credentials.password,
                      now=clock.now)

@pytest.mark.relaytokens_refresh(token_requests=1, kind="sign-in")
def test_one_sign_in(ucwa_api, relaytokens_clock, relaytokens_lifecycle):
    ucwa = client(ucwa_api, relaytokens_clock)
    ucwa.media_relay_credentials()
    ucwa.media_relay_credentials()
    assert [o.kind for o in relaytokens_lifecycle.token_requests()].count("token") >= 1

def test_two_clients_two_sign_ins(ucwa_api, relaytokens_clock, relaytokens_lifecycle):
    client(ucwa_api, relaytokens_clock).media_relay_credentials()
    client(ucwa_api, relaytokens_clock).media_relay_credentials()
    relaytokens_lifecycle.assert_token_requests(1, kind="sign-in")
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*relaytokens_lifecycle: expected exactly 1 sign-in request(s), the fakes got 2; "
            "more than promised*",
            "*sign-in: POST /WebTicket/oauthtoken -> 200 at *",
        ]
    )


def test_skew_sweep_ids_and_policies(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import datetime as dt
import pytest

@pytest.mark.relaytokens_skews(-50, "0", "+50s", "+2h", dt.timedelta(days=15), "-90m")
def test_skew(relay_api, relaytokens_clock, relaytokens_token_policy):
    skew = relay_api.server_now() - relaytokens_clock.now()
    assert skew == relaytokens_token_policy.server_skew
"""
    )
    result = pytester.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=6)
    for test_id in ("skew=-50s", "skew=0s", "skew=+50s", "skew=+2h", "skew=+15d", "skew=-90m"):
        result.stdout.fnmatch_lines([f"*test_skew?{test_id}? PASSED*"])


def test_date_skew_moves_only_the_date_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        RELAY_HELPERS
        + """
import datetime as dt, email.utils
import pytest

@pytest.mark.relaytokens_date_skew("-1h")
def test_date(relay_api, relaytokens_clock):
    creds = relay_api.credentials
    response = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                             auth=(creds.username, creds.password))
    date = email.utils.parsedate_to_datetime(response.headers["Date"])
    created = dt.datetime.fromtimestamp(response.json()["creationDate"] / 1000, dt.timezone.utc)
    assert dt.timedelta(0) <= created - date - dt.timedelta(hours=1) < dt.timedelta(seconds=1)
"""
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            "relaytokens_chaos(explode=0.5)",
            "*@pytest.mark.relaytokens_chaos: got an unexpected keyword argument 'explode'; "
            "valid: relaytokens_chaos(*, truncate=0.0*",
        ),
        (
            "relaytokens_chaos(reset=2)",
            "*@pytest.mark.relaytokens_chaos: chaos reset= must be a probability from 0 to 1, got 2",
        ),
        (
            'relaytokens_refresh(token_requests="one")',
            "*@pytest.mark.relaytokens_refresh: token_requests must be an int, got 'one'",
        ),
        (
            'relaytokens_date_skew("soon")',
            "*@pytest.mark.relaytokens_date_skew: a skew is seconds, a timedelta or text like*",
        ),
        (
            "relaytokens_refresh(token_requests=-1)",
            "*@pytest.mark.relaytokens_refresh: token_requests must be >= 0, got -1",
        ),
        (
            'relaytokens_chaos(truncate=0.1, path="(")',
            "*@pytest.mark.relaytokens_chaos: path='(' is not a regular expression: missing )*",
        ),
    ],
)
def test_bad_marker_arguments_are_named(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
import pytest

@pytest.mark.{marker}
def test_marked(relay_api):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # at collection, not at setup
    result.stderr.fnmatch_lines([message])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_bad_skew_stops_collection_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.relaytokens_skews("-50s", "tomorrow")
def test_skew(relay_api):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*@pytest.mark.relaytokens_skews: a skew is seconds, a timedelta or text like*'tomorrow'*"]
    )


@pytest.mark.parametrize(
    ("markers", "fixture", "message"),
    [
        (
            "@pytest.mark.relaytokens_refresh(token_requests=1)",
            "relay_access_token",
            "*@pytest.mark.relaytokens_refresh acts on the test's fakes, but the test uses none: "
            "request relay_api, ucwa_api, relaytokens_server, relaytokens_shared_server",
        ),
        (
            '@pytest.mark.relaytokens_skews("0s", "+1h")\n@pytest.mark.token_clock_skew(60)',
            "relay_api",
            "*@pytest.mark.relaytokens_skews: it sets the server skew of each run: drop "
            "@pytest.mark.token_clock_skew",
        ),
    ],
)
def test_lifecycle_markers_that_cannot_act_are_usage_errors(
    pytester: pytest.Pytester, markers: str, fixture: str, message: str
) -> None:
    pytester.makepyfile(f"import pytest\n\n{markers}\ndef test_x({fixture}):\n    pass\n")
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_the_report_lists_the_scenarios_exercised(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        RELAY_HELPERS
        + """
import pytest

@pytest.mark.relaytokens_refresh(max_token_requests=1)
def test_refresh(relay_api):
    endpoints(relay_api, token(relay_api))

@pytest.mark.relaytokens_chaos(dribble=1.0, path="^/api/endpoints$")
def test_dribble(relay_api):
    assert endpoints(relay_api, token(relay_api)).status_code == 200

@pytest.mark.token_revoked(api="relay")
def test_dead_token(relay_api):
    # a revoked token reaches the fake, then a fresh one: the reuse check had work to do
    assert endpoints(relay_api, relay_api.credentials.access_token).status_code == 401
    assert endpoints(relay_api, token(relay_api)).status_code == 200
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*relaytokens lifecycle coverage*",
            "scenario * tests  exercised by",
            "single-flight * 1  test_*.py::test_refresh",
            # only the test whose client presented a dead token, not every test with a token
            "dead-token reuse * 1  test_*.py::test_dead_token",
            "Retry-After * 0  never exercised",
            "chaos truncate * 0  never exercised",
            "chaos dribble * 1  test_*.py::test_dribble",
        ]
    )


def test_bad_lifecycle_markers_are_listed_with_every_other_usage_error(
    pytester: pytest.Pytester,
) -> None:
    """A bad skew or chaos argument is one line of the collection usage error, beside the
    other markers' problems: no traceback from pytest_generate_tests, no setup error."""
    pytester.makepyfile(
        """
import pytest

@pytest.mark.relaytokens_skews("abc")
def test_skews(relay_api):
    pass

@pytest.mark.relaytokens_chaos(truncate=2)
def test_chaos(relay_api):
    pass

@pytest.mark.ucwa_format("yaml")
def test_format(ucwa_api):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*relaytokens: 3 problem(s) with markers or cassettes:",
            "*test_skews: @pytest.mark.relaytokens_skews: a skew is seconds*got 'abc'",
            "*test_chaos: @pytest.mark.relaytokens_chaos: chaos truncate= must be a probability*",
            "*test_format: @pytest.mark.ucwa_format: unknown format 'yaml'*",
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "_hooks.py" not in result.stdout.str()


def test_a_skew_sweep_needs_only_a_fake(pytester: pytest.Pytester) -> None:
    """The docs' skew snippet requests relay_api (or ucwa_api) alone: no fixture name to add."""
    pytester.makepyfile(
        """
import pytest

@pytest.mark.relaytokens_skews("0s", "+15d")
def test_relay(relay_api, relaytokens_clock):
    assert relay_api.server_now() - relaytokens_clock.now() in {
        __import__("datetime").timedelta(0), __import__("datetime").timedelta(days=15)}

@pytest.mark.relaytokens_skews("-50s")
def test_relay_alone(relay_api):
    assert relay_api.base_url

@pytest.mark.relaytokens_skews("-50s", "+2h")
class TestUcwa:
    def test_ucwa_alone(self, ucwa_api):
        assert ucwa_api.base_url
"""
    )
    result = pytester.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*test_relay_alone?skew=-50s? PASSED*"])
    result.stdout.fnmatch_lines(["*test_ucwa_alone?skew=+2h? PASSED*"])
