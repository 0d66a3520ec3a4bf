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
