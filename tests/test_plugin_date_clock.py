"""One clock on the wire: every ``Date`` header of both fakes follows the test's clock (skew
included), in process, over the loopback server and over the shared server (issue 19)."""

from __future__ import annotations

import pytest

DATES = """
import datetime as dt
from email.utils import parsedate_to_datetime

import pytest
import requests


def dates(ucwa, relay):
    bearer = {"Authorization": "Bearer " + ucwa.credentials.bearer}
    token = {"X-Access-Token": relay.credentials.access_token}
    answers = [
        requests.get(ucwa.token_url(), headers=bearer),  # a 200
        requests.get(ucwa.base_url + "/ucwa/oauth/v1/applications/nope", headers=bearer),
        requests.get(ucwa.base_url + "/ucwa/oauth/v1/applications"),  # the 401
        requests.get(relay.base_url + "/api/enterprises/self", headers=token),
        requests.get(relay.base_url + "/api/nothing", headers=token),  # a 404
    ]
    return [parsedate_to_datetime(a.headers["Date"]) for a in answers]


def check(ucwa, relay, clock, skew):
    clock.advance(86400 * 3 + 17)
    expected = (clock.now() + dt.timedelta(seconds=skew)).replace(microsecond=0)
    assert dates(ucwa, relay) == [expected] * 5


@pytest.mark.relaytokens_allow(unexpected=True)
@pytest.mark.parametrize("where", ["in_process", "server", "shared"])
def test_date_follows_the_clock(request, relaytokens_clock, where):
    if where == "in_process":
        ucwa, relay = request.getfixturevalue("ucwa_api"), request.getfixturevalue("relay_api")
    else:
        fixture = "relaytokens_server" if where == "server" else "relaytokens_shared_server"
        server = request.getfixturevalue(fixture)
        ucwa, relay = server.ucwa, server.relay
    check(ucwa, relay, relaytokens_clock, 0)


@pytest.mark.relaytokens_allow(unexpected=True)
@pytest.mark.token_clock_skew(-7200)
@pytest.mark.parametrize("fixture", ["relaytokens_server", "relaytokens_shared_server"])
def test_date_carries_the_skew(request, relaytokens_clock, fixture):
    server = request.getfixturevalue(fixture)
    check(server.ucwa, server.relay, relaytokens_clock, -7200)


@pytest.mark.relaytokens_allow(unexpected=True)
@pytest.mark.token_clock_skew(600)
def test_date_carries_the_skew_in_process(ucwa_api, relay_api, relaytokens_clock):
    check(ucwa_api, relay_api, relaytokens_clock, 600)
"""


def test_every_date_header_follows_the_test_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_dates=DATES)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3 + 2 + 1)
