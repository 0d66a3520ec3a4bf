"""The UCWA application as real servers send it (client-surface §3.2): every link listed,
every advertised href answering with a documented resource or a documented error, never a
404; ``reportMyActivity`` at both hrefs; the ``DOMAIN\\user`` password grant."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_relaytokens.transports import PathRouter
from pytest_relaytokens.transports.server import LoopbackServer
from pytest_relaytokens.ucwa.service import UcwaService
from pytest_relaytokens.ucwa.surface import down_level_logon

COMMUNICATION = {
    "self",
    "mediaRelayAccessToken",
    "mediaPolicies",
    "conversations",
    "startMessaging",
    "startAudioVideo",
    "startOnlineMeeting",
    "joinOnlineMeeting",
    "missedItems",
}
PEOPLE = {
    "self",
    "presenceSubscriptions",
    "subscribedContacts",
    "presenceSubscriptionMemberships",
    "myGroups",
    "myGroupMemberships",
    "myContacts",
    "myPrivacyRelationships",
    "myContactsAndGroupsSubscription",
    "search",
}
MEETINGS = {
    "self",
    "myOnlineMeetings",
    "onlineMeetingDefaultValues",
    "onlineMeetingEligibleValues",
    "onlineMeetingInvitationCustomization",
    "onlineMeetingPolicies",
    "phoneDialInInformation",
}
ME_BEFORE = {"self", "makeMeAvailable", "callForwardingSettings", "phones", "photo"}
#: Links a client POSTs to (a GET is a documented 405 with ``Allow: POST``).
POST_LINKS = {"makeMeAvailable", "reportMyActivity", "batch", "startMessaging"}
POST_LINKS |= {"startAudioVideo", "startOnlineMeeting", "joinOnlineMeeting"}


class Client:
    """A UCWA client as the public ones are written: urllib, absolute URLs from hrefs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.bearer = ""

    def send(
        self, method: str, href: str, body: Any = None, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Accept": "application/json"}
        data = None
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.bearer}"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded;charset=UTF-8"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""
        target = href if href.startswith("http") else self.url + href
        request = urllib.request.Request(target, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def sign_in(self, username: str, password: str) -> int:
        status, _, body = self.send(
            "POST",
            "/WebTicket/oauthtoken",
            form={"grant_type": "password", "username": username, "password": password},
        )
        if status == 200:
            self.bearer = json.loads(body)["access_token"]
        return status

    def application(self) -> dict[str, Any]:
        status, _, body = self.send(
            "POST",
            "/ucwa/oauth/v1/applications",
            body={"UserAgent": "walker", "EndpointId": str(uuid.uuid4()), "Culture": "en-US"},
        )
        assert status == 201, body
        return dict(json.loads(body))


@pytest.fixture
def served() -> Iterator[tuple[UcwaService, Client]]:
    service = UcwaService(seed=11)
    service.application_idle_lifetime = None
    with LoopbackServer(PathRouter(default=service)) as server:
        service.base_url = server.url
        client = Client(server.url)
        assert client.sign_in(service.credentials.username, service.credentials.password) == 200
        yield service, client


def _links(doc: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(rel, link["href"]) for rel, link in doc.get("_links", {}).items()]
    for embedded in doc.get("_embedded", {}).values():
        for item in embedded if isinstance(embedded, list) else [embedded]:
            if isinstance(item, dict):
                found.extend(_links(item))
    return found


def test_the_application_lists_every_link_of_section_3_2(
    served: tuple[UcwaService, Client],
) -> None:
    _, client = served
    embedded = client.application()["_embedded"]
    assert set(embedded["communication"]["_links"]) == COMMUNICATION
    assert set(embedded["people"]["_links"]) == PEOPLE
    assert set(embedded["onlineMeetings"]["_links"]) == MEETINGS
    assert set(embedded["me"]["_links"]) == ME_BEFORE
    comm = embedded["communication"]["_links"]
    assert comm["startMessaging"]["href"].endswith("/communication/messagingInvitations")
    assert comm["startMessaging"]["revision"] == "2"
    assert comm["startOnlineMeeting"]["href"].endswith("?onlineMeetingUri=adhoc")
    assert embedded["people"]["_links"]["search"]["revision"] == "2"
    assert "/photos/" in embedded["me"]["_links"]["photo"]["href"]


def _walk(client: Client, app: dict[str, Any]) -> list[tuple[str, int]]:
    """GET every advertised href; ``(rel, status)`` for each."""
    seen: list[tuple[str, int]] = []
    for rel, href in _links(app):
        status, headers, body = client.send("GET", href)
        seen.append((rel, status))
        assert status != 404, (rel, href, body[:200])
        if rel in POST_LINKS:
            assert status == 405, (rel, href, status)
            assert "POST" in headers["Allow"]
            assert json.loads(body)["code"] == "MethodNotAllowed"
        elif rel == "photo":
            assert (status, headers["Content-Type"]) == (200, "image/png")
            assert body.startswith(b"\x89PNG\r\n\x1a\n")
        elif rel not in ("presence", "note", "location"):
            assert status == 200, (rel, href, status, body[:200])
            assert json.loads(body)["_links"]["self"]["href"], rel
    return seen


def test_every_advertised_href_answers_before_and_after_make_me_available(
    served: tuple[UcwaService, Client],
) -> None:
    service, client = served
    app = client.application()
    before = _walk(client, app)
    me = app["_embedded"]["me"]["_links"]
    assert client.send("POST", me["makeMeAvailable"]["href"], body={})[0] == 204
    _, _, body = client.send("GET", app["_links"]["self"]["href"])
    after = _walk(client, json.loads(body))
    assert {"presence", "note", "location", "reportMyActivity"} <= {rel for rel, _ in after}
    assert len(before) >= 35  # self of each resource, and every link of section 3.2
    assert service.log.unexpected == []


def test_start_links_answer_documented_errors(served: tuple[UcwaService, Client]) -> None:
    _, client = served
    app = client.application()
    comm = app["_embedded"]["communication"]["_links"]
    for rel in ("startMessaging", "startAudioVideo", "startOnlineMeeting", "joinOnlineMeeting"):
        status, _, body = client.send("POST", comm[rel]["href"], body={"to": "sip:x@y"})
        assert (status, json.loads(body)["subcode"]) == (409, "MakeMeAvailableRequired"), rel
    me = app["_embedded"]["me"]["_links"]
    client.send("POST", me["makeMeAvailable"]["href"], body={})
    for rel in ("startMessaging", "startAudioVideo", "startOnlineMeeting", "joinOnlineMeeting"):
        status, _, body = client.send("POST", comm[rel]["href"], body={"to": "sip:x@y"})
        assert (status, json.loads(body)["subcode"]) == (403, "OperationNotSupported"), rel


def test_report_my_activity_at_both_documented_hrefs(served: tuple[UcwaService, Client]) -> None:
    _, client = served
    app = client.application()
    base = app["_links"]["self"]["href"]
    for href in (f"{base}/reportMyActivity", f"{base}/me/reportMyActivity"):
        status, _, body = client.send("POST", href)
        assert (status, json.loads(body)["subcode"]) == (409, "MakeMeAvailableRequired")
    client.send("POST", app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"], body={})
    for href in (f"{base}/reportMyActivity", f"{base}/me/reportMyActivity"):
        assert client.send("POST", href)[0] == 204, href


def test_domain_backslash_user_signs_in(served: tuple[UcwaService, Client]) -> None:
    service, _ = served
    client = Client(served[1].url)
    username = service.credentials.username
    logon = down_level_logon(username)
    local, _, domain = username.partition("@")
    assert logon == f"{domain.split('.')[0].upper()}\\{local}"
    assert client.sign_in(logon, service.credentials.password) == 200
    assert client.sign_in(logon.lower(), service.credentials.password) == 200
    assert client.application()["_embedded"]["me"]["uri"] == service.credentials.sip_uri
    for wrong in (f"OTHER\\{local}", f"{logon}x", f"\\{local}"):
        assert Client(client.url).sign_in(wrong, service.credentials.password) == 400, wrong
    assert Client(client.url).sign_in(logon, "wrong") == 400


def test_a_route_may_replace_a_placeholder_but_not_the_token(
    served: tuple[UcwaService, Client],
) -> None:
    service, client = served
    service.route("GET", "people/search", json={"_embedded": {"contact": [{"name": "Ann"}]}})
    app = client.application()
    _, _, body = client.send("GET", app["_embedded"]["people"]["_links"]["search"]["href"])
    assert json.loads(body)["_embedded"]["contact"] == [{"name": "Ann"}]
    with pytest.raises(ValueError, match="already serves"):
        service.route("GET", "communication/mediaRelayAccessToken", json={})
    with pytest.raises(ValueError, match="already serves"):
        service.route("POST", "me/reportMyActivity", json={})
