"""The replay fake never repeats a request's real token: its 404 body and the teardown
message show the same safe URL (query values and secret path segments hidden)."""

from __future__ import annotations

import pytest

from pytest_relaytokens.cassettes import ReplayService
from pytest_relaytokens.http import FakeRequest
from pytest_relaytokens.library import scenario_path

SECRET = "SECRETtok3n0123456789abcdef"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"https://relay.bluejeans.com/api/nothere?accesstoken={SECRET}&x=1",
            "GET https://relay.bluejeans.com/api/nothere?accesstoken=<hidden>&x=<hidden>",
        ),
        (
            f"https://user:{SECRET}@relay.bluejeans.com/api/auth/accesstokens/{SECRET}",
            "GET https://relay.bluejeans.com/api/auth/accesstokens/<hidden>",
        ),
    ],
)
def test_the_404_body_shows_the_safe_url(url: str, shown: str) -> None:
    service = ReplayService(scenario_path("relay/token-basic"))
    answer = service.handle(FakeRequest.build("GET", url, {"X-Access-Token": SECRET}))
    assert answer.status == 404
    body = answer.body.decode()
    assert SECRET not in body
    assert f"no recorded interaction for {shown};" in body


TEST = f"""
import pytest, requests

@pytest.mark.relaytokens_cassette("library:relay/token-basic")
@pytest.mark.relaytokens_allow(unplayed=True)
def test_missing(relay_api):
    answer = requests.get(relay_api.base_url + "/api/nothere", params={{"accesstoken": "{SECRET}"}})
    print("BODY", answer.text)
    assert answer.status_code == 404
"""


def test_replay_backend_output_never_holds_the_token(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_missing=TEST)
    result = pytester.runpytest("--relaytokens-backend=replay", "-s")
    result.assert_outcomes(passed=1, errors=1)  # the unexpected request: a teardown error
    out = result.stdout.str()
    assert SECRET not in out
    result.stdout.fnmatch_lines(
        [
            "*BODY no recorded interaction for GET https://*/api/nothere?accesstoken=<hidden>;*",
            "*GET https://*/api/nothere?accesstoken=<hidden> -> 404*",
        ]
    )
