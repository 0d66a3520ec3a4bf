"""Downstream suites use the UCWA surface through the ``ucwa_api`` fixture: a client that
discovers, registers and long-polls; a user route across revocation; the request log."""

from __future__ import annotations

import pytest

DOWNSTREAM = """
import re
import uuid

import requests


def sign_in(ucwa_api):
    session = requests.Session()
    root = session.get(ucwa_api.base_url, timeout=5).json()
    user_url = root["_links"]["user"]["href"]
    challenge = session.get(user_url, timeout=5)
    assert challenge.status_code == 401
    href = re.search(r'MsRtcOAuth href="([^"]+)"', challenge.headers["WWW-Authenticate"]).group(1)
    creds = ucwa_api.credentials
    grant = session.post(href, data={"grant_type": "password", "username": creds.username,
                                     "password": creds.password}, timeout=5).json()
    session.headers["Authorization"] = "Bearer " + grant["access_token"]
    apps = session.get(user_url, timeout=5).json()["_links"]["applications"]["href"]
    return session, apps


def test_register_make_available_and_poll(ucwa_api):
    ucwa_api.event_hold_seconds = 0.05
    session, apps = sign_in(ucwa_api)
    endpoint = str(uuid.uuid4())
    body = {"UserAgent": "downstream/1", "EndpointId": endpoint, "Culture": "en-US"}
    app = session.post(apps, json=body, timeout=5)
    assert app.status_code == 201
    again = session.post(apps, json=body, timeout=5)
    assert again.status_code == 200 and again.json()["id"] == app.json()["id"]
    base = apps.rsplit("/ucwa/", 1)[0]
    mma = base + app.json()["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]
    assert session.post(mma, json={"SupportedModalities": ["Messaging"]}, timeout=5).status_code == 204
    events = session.get(base + app.json()["_links"]["events"]["href"], timeout=5).json()
    assert {s["rel"] for s in events["sender"]} == {"communication", "me"}


def test_user_route_and_revoke(ucwa_api):
    route = ucwa_api.route("GET", "people/search", json={"_embedded": {"contact": []}})
    session, apps = sign_in(ucwa_api)
    app_id = ucwa_api.credentials.application_id
    url = f"{apps}/{app_id}/people/search"
    assert session.get(url, timeout=5).status_code == 200
    bearer = session.headers["Authorization"].split()[1]
    ucwa_api.revoke(bearer)
    assert session.get(url, timeout=5).status_code == 401
    assert route.calls == 1
    carried = [e.token for e in ucwa_api.log if "/people/search" in e.request.path]
    assert carried == [bearer, bearer]


def test_unserved_path_under_an_application_fails_at_teardown(ucwa_api):
    session, apps = sign_in(ucwa_api)
    url = f"{apps}/{ucwa_api.credentials.application_id}/people/nothing-here"
    assert session.get(url, timeout=5).status_code == 404
"""


def test_downstream_suite_walks_the_surface(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_downstream=DOWNSTREAM)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*people/nothing-here*"])
    assert "Bearer cwt=" not in result.stdout.str()  # no bearer leaks into the report


DISCOVERY = """
import datetime as dt
import re

import httpx
import pytest
import requests


def discover(get, url):
    root = get(url)
    assert root.status_code == 200, url
    return root.json()["_links"]


@pytest.mark.parametrize("client", ["requests", "httpx"])
@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("name", ["lyncdiscoverinternal", "lyncdiscover"])
def test_discovery_from_the_sip_domain_reaches_the_pool(ucwa_api, client, scheme, name):
    domain = ucwa_api.credentials.sip_uri.rpartition("@")[2]
    session = requests.Session() if client == "requests" else httpx.Client()
    get = lambda url, **kw: session.get(url, timeout=5, **kw)
    links = discover(get, f"{scheme}://{name}.{domain}")  # no slash, as C1, C4, C5 send it
    assert set(links) == {"self", "user", "xframe"}
    assert all(link["href"].startswith(ucwa_api.base_url + "/") for link in links.values())
    user = links["user"]["href"]
    challenge = get(user)
    assert challenge.status_code == 401
    href = re.search(r'MsRtcOAuth href="([^"]+)"', challenge.headers["WWW-Authenticate"]).group(1)
    creds = ucwa_api.credentials
    grant = session.post(href, data={"grant_type": "password", "username": creds.username,
                                     "password": creds.password}, timeout=5).json()
    bearer = {"Authorization": "Bearer " + grant["access_token"]}
    apps = get(user, headers=bearer).json()["_links"]["applications"]["href"]
    assert apps.startswith(ucwa_api.base_url + "/ucwa/")
    assert get(f"{scheme}://{name}.{domain}/xframe").headers["Content-Type"].startswith("text/html")


def test_other_hosts_of_the_domain_stay_blocked(ucwa_api):
    from pytest_relaytokens import NetworkBlockedError

    domain = ucwa_api.credentials.sip_uri.rpartition("@")[2]
    with pytest.raises(NetworkBlockedError):
        requests.get(f"https://lyncdiscover.{domain}.example/", timeout=5)
    with pytest.raises(NetworkBlockedError):
        requests.get(f"https://sip.{domain}/", timeout=5)


@pytest.mark.ucwa_format("xml")
@pytest.mark.parametrize("accept", [None, "*/*", "application/*"])
def test_events_are_json_for_a_default_client_under_xml(ucwa_api, accept):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + ucwa_api.credentials.bearer
    session.headers["Accept"] = accept  # None: requests sends no Accept at all
    app_url = f"{ucwa_api.base_url}/ucwa/oauth/v1/applications/{ucwa_api.credentials.application_id}"
    app = session.get(app_url, timeout=5)
    assert app.headers["Content-Type"].startswith("application/xml")
    events_href = re.search(r'<link rel="events" href="([^"]+)"', app.text).group(1)
    events = session.get(ucwa_api.base_url + events_href, timeout=5)
    assert events.status_code == 200
    assert events.headers["Content-Type"].startswith("application/json")
    assert "next" in events.json()["_links"]


def token(ucwa_api):
    creds = ucwa_api.credentials
    answer = httpx.get(ucwa_api.token_url(), headers={"Authorization": f"Bearer {creds.bearer}"})
    return answer.json()


def valid_until(doc):
    ms = int(re.search(r"Date\\((\\d+)\\)", doc["validUntil"]).group(1))
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


@pytest.mark.token_never_expires
def test_never_expires_duration_matches_valid_until(ucwa_api, relaytokens_clock, ucwa_token):
    doc = token(ucwa_api)
    assert doc["duration"] == 180 * 24 * 60 == ucwa_token.duration
    left = valid_until(doc) - relaytokens_clock.now()
    assert dt.timedelta(minutes=doc["duration"]) <= left < dt.timedelta(minutes=doc["duration"] + 1)


@pytest.mark.token_expires_in(150)
def test_short_lifetime_duration_is_rounded_down(ucwa_api, relaytokens_clock, ucwa_token):
    doc = token(ucwa_api)
    assert doc["duration"] == 2 == ucwa_token.duration
    assert valid_until(doc) - relaytokens_clock.now() <= dt.timedelta(seconds=150)


@pytest.mark.token_expired
def test_an_expired_token_has_no_minutes_left(ucwa_token):
    assert ucwa_token.is_expired() and ucwa_token.duration == 0


@pytest.mark.relaytokens_backend("replay")
@pytest.mark.relaytokens_cassette("library:ucwa/token-xml")
@pytest.mark.token_expires_in(150)
def test_a_replayed_token_moved_by_a_marker_keeps_them_agreeing(ucwa_token, ucwa_token_response):
    assert ucwa_token.duration == 2 and ucwa_token.remaining() == dt.timedelta(seconds=150)
    assert b'<property name="duration">2</property>' in ucwa_token_response.body


@pytest.mark.relaytokens_backend("replay")
@pytest.mark.relaytokens_cassette("library:ucwa/token-json")
def test_a_replayed_token_is_served_as_recorded(ucwa_token):
    assert ucwa_token.duration == 480
"""


def test_discovery_hosts_markers_and_duration(pytester: pytest.Pytester) -> None:
    """lyncdiscover[internal].<sip domain> answer discovery (http and https, requests and
    httpx) with links to the pool; events stay JSON for default clients under
    ``ucwa_format("xml")``; duration agrees with validUntil under the expiry markers."""
    pytester.makepyfile(test_discovery=DISCOVERY)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=17, errors=1)  # the blocked requests, reported at teardown
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_other_hosts_of_the_domain_stay_blocked*",
            "*blocked a request to 'lyncdiscover.*.example'*only the fakes (fe1.contoso.com,"
            " lyncdiscover.*, lyncdiscoverinternal.*)*",
            "*blocked a request to 'sip.*'*",
        ]
    )
