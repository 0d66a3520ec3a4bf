"""Ownership: a UCWA application, its resources, its token and the user routes under it answer
only the bearer of the user (or anonymous guest) who created it (issue 19)."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.ucwa.service import UcwaService

ORIGIN = "https://fe1.contoso.com"
APPS = ORIGIN + "/ucwa/oauth/v1/applications"


def call(
    svc: UcwaService, method: str, url: str, bearer: str, body: dict[str, str] | None = None
) -> FakeResponse:
    headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
    data = b""
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    return svc.handle(FakeRequest.build(method, url, headers, data))


def guest_bearer(svc: UcwaService) -> str:
    """An anonymous meeting-join bearer, as a guest gets one from WebTicket."""
    form = {
        "grant_type": "urn:microsoft.rtc:anonmeeting",
        "ms_rtc_conferenceuri": svc.credentials.conference_uri,
        "password": svc.credentials.conference_key,
    }
    answer = svc.handle(
        FakeRequest.build(
            "POST",
            ORIGIN + "/WebTicket/oauthtoken",
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode(form),
        )
    )
    assert answer.status == 200, answer.body
    bearer: str = answer.json()["access_token"]
    return bearer


def create_app(svc: UcwaService, bearer: str, endpoint: str) -> str:
    answer = call(svc, "POST", APPS, bearer, {"UserAgent": "guest/1.0", "EndpointId": endpoint})
    assert answer.status == 201, answer.body
    href: str = answer.json()["_links"]["self"]["href"]
    return href.rstrip("/").rsplit("/", 1)[1]


@pytest.fixture
def svc() -> UcwaService:
    service = UcwaService(clock=Clock(dt.datetime(2024, 5, 6, tzinfo=dt.timezone.utc), frozen=True))
    service.route("GET", "/custom/secret", json={"secret": "yes"})
    return service


SUBPATHS = (
    "",
    "/communication/mediaRelayAccessToken",
    "/communication/mediaRelay",
    "/events?ack=1",
    "/me",
    "/custom/secret",
)


@pytest.mark.parametrize("subpath", SUBPATHS)
def test_a_guest_cannot_read_the_users_application(svc: UcwaService, subpath: str) -> None:
    app = svc.credentials.application_id
    guest = guest_bearer(svc)
    stolen = call(svc, "GET", f"{APPS}/{app}{subpath}", guest)
    assert stolen.status == 404
    assert stolen.json()["subcode"] == "ApplicationNotFound"
    # the user still reads it
    assert call(svc, "GET", f"{APPS}/{app}{subpath}", svc.credentials.bearer).status == 200


def test_a_guest_cannot_delete_the_users_application(svc: UcwaService) -> None:
    app = svc.credentials.application_id
    assert call(svc, "DELETE", f"{APPS}/{app}", guest_bearer(svc)).status == 404
    assert app in svc.applications.apps
    assert call(svc, "GET", f"{APPS}/{app}", svc.credentials.bearer).status == 200


def test_guests_do_not_see_each_other_nor_the_user_sees_theirs(svc: UcwaService) -> None:
    first, second = guest_bearer(svc), guest_bearer(svc)
    theirs = create_app(svc, first, "guest-one")
    assert call(svc, "GET", f"{APPS}/{theirs}", first).status == 200
    assert call(svc, "GET", f"{APPS}/{theirs}", second).status == 404
    assert call(svc, "GET", f"{APPS}/{theirs}", svc.credentials.bearer).status == 404
    token_url = f"{APPS}/{theirs}/communication/mediaRelayAccessToken"
    assert call(svc, "GET", token_url, second).status == 404
    assert call(svc, "GET", token_url, first).status == 200


def test_another_bearer_of_the_same_user_owns_the_users_applications(svc: UcwaService) -> None:
    """Applications belong to the user, not to one bearer: a renewed bearer keeps them."""
    renewed = svc.issue_bearer()
    app = svc.credentials.application_id
    assert call(svc, "GET", f"{APPS}/{app}", renewed).status == 200


def test_a_strangers_request_does_not_keep_the_application_alive(svc: UcwaService) -> None:
    app = svc.credentials.application_id
    seen = svc.applications.apps[app].last_seen
    svc.clock.advance(60)
    call(svc, "GET", f"{APPS}/{app}", guest_bearer(svc))
    assert svc.applications.apps[app].last_seen == seen


def test_batch_parts_answer_only_the_owner(svc: UcwaService) -> None:
    app = svc.credentials.application_id
    guest = guest_bearer(svc)
    mine = create_app(svc, guest, "guest-batch")
    boundary = "b1"
    parts = (
        f"--{boundary}\r\nContent-Type: application/http; msgtype=request\r\n\r\n"
        f"GET /ucwa/oauth/v1/applications/{app}/me HTTP/1.1\r\nHost: fe1.contoso.com\r\n"
        f"Accept: application/json\r\n\r\n\r\n--{boundary}--\r\n"
    )
    answer = svc.handle(
        FakeRequest.build(
            "POST",
            f"{APPS}/{mine}/batch",
            {
                "Authorization": f"Bearer {guest}",
                "Content-Type": f'multipart/batching; boundary="{boundary}"',
                "Accept": "multipart/batching",
            },
            parts,
        )
    )
    assert answer.status == 200
    assert b"404" in answer.body and b"ApplicationNotFound" in answer.body
