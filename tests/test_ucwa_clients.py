"""The UCWA surface driven the way real clients drive it: follow links from the lyncdiscover
root, regex the ``WWW-Authenticate`` headers, register (and re-register) an application,
POST makeMeAvailable, long-poll events, fetch the token, survive bearer expiry.

Each client runs unchanged over requests (``responses``), httpx (transport) and the
loopback server (real sockets), and against ``handle(FakeRequest)`` directly.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import pytest
import requests

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.transports.httpx_transport import FakeTransport
from pytest_relaytokens.transports.responses_transport import activate_responses
from pytest_relaytokens.transports.server import LoopbackServer
from pytest_relaytokens.ucwa import wire
from pytest_relaytokens.ucwa.service import UcwaService

START = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
TRANSPORTS = ["direct", "requests", "httpx", "loopback"]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # repeated headers joined with ", " as HTTP libraries do
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Send = Callable[..., Reply]


def _requests(session: requests.Session) -> Send:
    def send(method: str, url: str, **kwargs: Any) -> Reply:
        r = session.request(method, url, timeout=10, allow_redirects=False, **kwargs)
        return Reply(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)

    return send


def _httpx(client: httpx.Client) -> Send:
    def send(method: str, url: str, **kwargs: Any) -> Reply:
        if isinstance(kwargs.get("data"), (bytes, str)):  # raw bodies go in content= for httpx
            kwargs["content"] = kwargs.pop("data")
        r = client.request(method, url, **kwargs)
        joined = {k: ", ".join(r.headers.get_list(k)) for k in r.headers}
        return Reply(r.status_code, joined, r.content)

    return send


def _direct(service: UcwaService) -> Send:
    def send(method: str, url: str, **kwargs: Any) -> Reply:
        headers = dict(kwargs.get("headers") or {})
        body: bytes | str | None = None
        if "json" in kwargs:
            body = json.dumps(kwargs["json"])
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(kwargs.get("data"), dict):
            body = urlencode(kwargs["data"])
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif "data" in kwargs:
            body = kwargs["data"]
        response = service.handle(FakeRequest.build(method, url, headers, body))
        joined: dict[str, str] = {}
        for key, value in response.headers:
            k = key.lower()
            joined[k] = f"{joined[k]}, {value}" if k in joined else value
        return Reply(response.status, joined, response.body)

    return send


@pytest.fixture
def connect() -> Iterator[Callable[[str, UcwaService], tuple[Send, str]]]:
    """``connect(kind, service)`` -> (send, base URL the client starts from)."""
    with ExitStack() as stack:

        def connect(kind: str, service: UcwaService) -> tuple[Send, str]:
            if kind == "direct":
                return _direct(service), service.base_url
            if kind == "requests":
                stack.enter_context(activate_responses(service))
                return _requests(stack.enter_context(requests.Session())), service.base_url
            if kind == "httpx":
                client = httpx.Client(transport=FakeTransport(service), timeout=10)
                return _httpx(stack.enter_context(client)), service.base_url
            server = stack.enter_context(LoopbackServer(service))
            return _requests(stack.enter_context(requests.Session())), server.url

        yield connect


def new_service(**kwargs: Any) -> UcwaService:
    service = UcwaService(clock=Clock(START, frozen=True), seed=3, **kwargs)
    service.event_hold_seconds = 0.05
    return service


# --- a client written like the public ones (C1, C2, C5) -------------------------------------
class Client:
    def __init__(self, send: Send, root: str) -> None:
        self.send = send
        self.root = root
        self.bearer = ""
        self.applications_url = ""

    def auth(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer}", "Accept": "application/json", **extra}

    def discover(self) -> str:
        """GET the lyncdiscover root, follow ``redirect`` if there is no ``user``."""
        root = self.send("GET", self.root, headers={"Accept": "application/json"})
        assert root.status == 200, root
        links = root.json()["_links"]
        if "user" not in links:
            links = self.send("GET", links["redirect"]["href"]).json()["_links"]
        return str(links["user"]["href"])

    def challenge(self, user_url: str) -> dict[str, str]:
        """GET ``user`` without a token; pull href/grant_type out of the joined challenges."""
        reply = self.send("GET", user_url)
        assert reply.status == 401
        joined = reply.headers["www-authenticate"]
        found = {}
        for key in ("href", "grant_type", "trusted_issuers", "client_id", "authorization_uri"):
            match = re.search(key + r'="?([^",]*(?:,[^",=]*(?=[",]))*)"?', joined)
            if match is not None:
                found[key] = match.group(1)
        return found

    def sign_in(self, username: str, password: str) -> None:
        user_url = self.discover()
        challenge = self.challenge(user_url)
        assert "password" in challenge["grant_type"].split(",")
        grant = self.send(
            "POST",
            challenge["href"],
            data={
                "grant_type": "password",
                "username": username,
                "password": password,
                "charset": "UTF-8",
            },
        )
        assert grant.status == 200, grant
        self.bearer = grant.json()["access_token"]
        user = self.send("GET", user_url, headers=self.auth())
        assert user.status == 200
        self.applications_url = user.json()["_links"]["applications"]["href"]

    def register(self, endpoint_id: str, **extra: Any) -> Reply:
        body = {"UserAgent": "ucwa-client/1.0", "EndpointId": endpoint_id, "Culture": "en-US"}
        return self.send("POST", self.applications_url, headers=self.auth(), json={**body, **extra})

    def url(self, href: str) -> str:
        return urljoin(self.applications_url, href)


def _jwt_payload(token: str) -> dict[str, Any]:
    header, payload, signature = token.split(".")
    assert signature and json.loads(base64.urlsafe_b64decode(header + "=="))["typ"] == "JWT"
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_client_walks_from_the_lyncdiscover_root_to_the_token(
    kind: str, connect: Callable[[str, UcwaService], tuple[Send, str]]
) -> None:
    service = new_service()
    send, base = connect(kind, service)
    client = Client(send, base)  # "https://lyncdiscover.<domain>" without a slash
    client.sign_in(service.credentials.username, service.credentials.password)
    assert re.match(r"https?://(.*)/ucwa/", client.applications_url)  # C5's regex

    endpoint = str(uuid.uuid4())
    created = client.register(endpoint)
    assert created.status == 201
    app = created.json()
    assert client.url(app["_links"]["self"]["href"]).endswith(f"/applications/{app['id']}")
    assert set(app["_embedded"]) == {"me", "people", "onlineMeetings", "communication"}
    assert {"rel", "id", "culture", "userAgent", "type", "endpointId", "etag", "expires"} <= set(
        app
    )
    assert app["expires"].startswith("/Date(")
    me = app["_embedded"]["me"]
    assert "makeMeAvailable" in me["_links"] and "presence" not in me["_links"]
    # C2 builds the makeMeAvailable URL from app["id"] instead of following the link
    built = f"{client.applications_url}/{app['id']}/me/makeMeAvailable"
    assert client.url(me["_links"]["makeMeAvailable"]["href"]) == built
    available = send(
        "POST", built, headers=client.auth(), json={"SupportedModalities": ["Messaging"]}
    )
    assert available.status == 204 and available.body == b""

    # C1: re-register with the same EndpointId after makeMeAvailable: 200, same app, no loop
    again = client.register(endpoint)
    assert again.status == 200 and again.json()["id"] == app["id"]
    links = again.json()["_embedded"]["me"]["_links"]
    assert "makeMeAvailable" not in links and "reportMyActivity" in links
    activity = send("POST", client.url(links["reportMyActivity"]["href"]), headers=client.auth())
    assert activity.status == 204

    token_href = again.json()["_embedded"]["communication"]["_links"]["mediaRelayAccessToken"]
    token = send("GET", client.url(token_href["href"]), headers=client.auth())
    assert token.status == 200
    assert wire.parse(token.body, token.headers["content-type"]).uri == service.credentials.sip_uri
    carried = [e.token for e in service.log if e.request.header("Authorization")]
    assert set(carried) == {client.bearer}


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_every_advertised_link_is_served(
    kind: str, connect: Callable[[str, UcwaService], tuple[Send, str]]
) -> None:
    service = new_service()
    send, base = connect(kind, service)
    client = Client(send, base)
    client.sign_in(service.credentials.username, service.credentials.password)
    app = client.register(str(uuid.uuid4())).json()
    me_links = app["_embedded"]["me"]["_links"]
    send("POST", client.url(me_links["makeMeAvailable"]["href"]), headers=client.auth(), json={})
    app = send("GET", client.url(app["_links"]["self"]["href"]), headers=client.auth()).json()
    actions = {"makeMeAvailable", "reportMyActivity", "batch", "startMessaging"}
    actions |= {"startAudioVideo", "startOnlineMeeting", "joinOnlineMeeting"}  # POST only
    hrefs: list[tuple[str, str]] = []

    def collect(doc: dict[str, Any]) -> None:
        hrefs.extend((rel, link["href"]) for rel, link in doc.get("_links", {}).items())
        for embedded in doc.get("_embedded", {}).values():
            for item in embedded if isinstance(embedded, list) else [embedded]:
                collect(item)

    collect(app)
    assert len(hrefs) >= 12
    for rel, href in hrefs:
        if rel in actions:
            continue
        reply = send("GET", client.url(href), headers=client.auth())
        assert reply.status == 200, (rel, href, reply.status)
        if rel == "photo":  # an image, not a resource
            assert reply.body.startswith(b"\x89PNG"), reply.body[:8]
            continue
        assert reply.json()["_links"] or reply.json()["rel"], rel
    assert service.log.unexpected == []


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_events_long_poll_follows_next(
    kind: str, connect: Callable[[str, UcwaService], tuple[Send, str]]
) -> None:
    service = new_service()
    send, base = connect(kind, service)
    client = Client(send, base)
    client.sign_in(service.credentials.username, service.credentials.password)
    app = client.register(str(uuid.uuid4())).json()
    events_url = client.url(app["_links"]["events"]["href"])
    assert urlsplit(events_url).query == "ack=1"
    send(
        "POST",
        client.url(app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]),
        headers=client.auth(),
        json={"signInAs": "Online", "phoneNumber": None},
    )
    first = send("GET", events_url + "&timeout=180", headers=client.auth())
    assert first.status == 200
    senders = {s["rel"]: s for s in first.json()["sender"]}
    assert [e["type"] for e in senders["communication"]["events"]] == ["updated"]
    # pyucwa: an updated communication event embeds it; its conversations link is served
    updated = senders["communication"]["events"][0]["_embedded"]["communication"]
    assert updated["supportedModalities"] == ["Messaging"]
    conversations = client.url(updated["_links"]["conversations"]["href"])
    assert send("GET", conversations, headers=client.auth()).status == 200
    added = {e["link"]["rel"] for e in senders["me"]["events"] if e["type"] == "added"}
    assert added == {"presence", "note", "location"}
    next_url = client.url(first.json()["_links"]["next"]["href"])
    assert next_url.endswith("ack=2")

    # released on the 0.05 s hold cap: the frozen clock never ends the client's 180 s, so a
    # poll that ignored the cap would still be held when the 60 s guard gives up
    held: list[Reply] = []
    poll = threading.Thread(
        target=lambda: held.append(send("GET", next_url + "&timeout=180", headers=client.auth()))
    )
    poll.start()
    poll.join(60)
    assert held, "the P-GET was held past the hold cap"
    quiet = held[0]
    assert quiet.status == 200 and quiet.json()["sender"] == []
    assert quiet.json()["_links"]["next"]["href"].endswith("ack=3")
    # the same ack again (the client lost the answer): the same batch is sent again
    assert send("GET", next_url, headers=client.auth()).json() == quiet.json()
    stale = send("GET", client.url(app["_links"]["events"]["href"]), headers=client.auth())
    assert list(stale.json()["_links"]) == ["resync"]
    resync = client.url(stale.json()["_links"]["resync"]["href"])
    assert (
        send("GET", resync, headers=client.auth())
        .json()["_links"]["self"]["href"]
        .endswith("ack=3")
    )


def _poll_in_thread(
    service: UcwaService, url: str, bearer: str
) -> tuple[threading.Thread, list[FakeResponse]]:
    out: list[FakeResponse] = []

    def run() -> None:
        out.append(
            service.handle(FakeRequest.build("GET", url, {"Authorization": f"Bearer {bearer}"}))
        )

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_pending_get_wakes_on_an_event_and_a_second_pget_replaces_the_first() -> None:
    service = new_service()
    service.event_hold_seconds = 600.0  # only the event can release it within the 60 s guard
    app_id, bearer = service.credentials.application_id, service.credentials.bearer
    url = f"{service.base_url}/ucwa/oauth/v1/applications/{app_id}/events?ack=1&timeout=180"
    thread, out = _poll_in_thread(service, url, bearer)
    time.sleep(0.1)
    sender = {"rel": "conversation", "href": "/c/1", "events": [{"type": "added"}]}
    service.push_events(app_id, sender)
    thread.join(60)
    assert out and out[0].status == 200, "the event did not wake the pending GET"
    assert out[0].json()["sender"] == [sender]

    url2 = url.replace("ack=1", "ack=2")
    first, first_out = _poll_in_thread(service, url2, bearer)
    time.sleep(0.1)
    second, second_out = _poll_in_thread(service, url2, bearer)
    time.sleep(0.1)
    service.push_events(app_id, sender)
    first.join(60)
    second.join(60)
    statuses = sorted([first_out[0].status, second_out[0].status])
    assert statuses == [200, 409]
    replaced = next(r for r in first_out + second_out if r.status == 409)
    assert replaced.json()["subcode"] == "PGetReplaced" and replaced.token == bearer


def test_pending_get_is_released_by_the_fake_clock() -> None:
    service = new_service()
    service.event_hold_seconds = 600.0  # only the fake clock can release it within the guard
    app_id, bearer = service.credentials.application_id, service.credentials.bearer
    url = f"{service.base_url}/ucwa/oauth/v1/applications/{app_id}/events?ack=1&timeout=180"
    thread, out = _poll_in_thread(service, url, bearer)
    for _ in range(1200):  # a 60 s guard, counted in joins rather than read off a clock
        service.clock.advance(dt.timedelta(seconds=200))
        thread.join(0.05)
        if not thread.is_alive():
            break
    assert out and out[0].status == 200 and out[0].json()["sender"] == []


def test_application_dies_after_its_last_event_poll_and_is_recreated() -> None:
    service = new_service()
    send = _direct(service)
    client = Client(send, service.base_url)
    client.sign_in(service.credentials.username, service.credentials.password)
    endpoint = str(uuid.uuid4())
    app = client.register(endpoint).json()
    events = client.url(app["_links"]["events"]["href"])
    assert send("GET", events, headers=client.auth()).status == 200
    service.clock.advance(dt.timedelta(minutes=14))
    assert (
        send("GET", client.url(app["_links"]["self"]["href"]), headers=client.auth()).status == 200
    )
    service.clock.advance(dt.timedelta(minutes=2))  # 16 minutes after the poll's release
    gone = send("GET", client.url(app["_links"]["self"]["href"]), headers=client.auth())
    assert gone.status == 410
    assert gone.json()["code"] == "Gone" and gone.json()["subcode"] == "InactiveApplicationExpired"
    fresh = client.register(endpoint)  # the same EndpointId: a new application now
    assert fresh.status == 201 and fresh.json()["id"] != app["id"]


def test_too_many_applications_and_user_agent_not_allowed_end_with_410() -> None:
    service = new_service()
    service.max_applications = 2
    send = _direct(service)
    client = Client(send, service.base_url)
    client.sign_in(service.credentials.username, service.credentials.password)
    first = client.register(str(uuid.uuid4())).json()  # with the pre-created one: 2
    service.clock.advance(dt.timedelta(seconds=1))
    second = client.register(str(uuid.uuid4())).json()  # evicts the least recently used
    assert (
        send("GET", client.url(first["_links"]["self"]["href"]), headers=client.auth()).status
        == 200
    )
    old = service.token_path()
    evicted = send("GET", service.base_url + old, headers=client.auth())
    assert evicted.status == 410 and evicted.json()["subcode"] == "TooManyApplications"
    service.end_application(second["id"], "UserAgentNotAllowed")
    blocked = send("GET", client.url(second["_links"]["self"]["href"]), headers=client.auth())
    assert blocked.status == 410 and blocked.json()["subcode"] == "UserAgentNotAllowed"
    with pytest.raises(ValueError, match="reason must be one of"):
        service.end_application(first["id"], "Bored")


def test_registration_variants_real_clients_send() -> None:
    service = new_service()
    send = _direct(service)
    client = Client(send, service.base_url)
    client.sign_in(service.credentials.username, service.credentials.password)
    docs_sample = (
        b'{"UserAgent":"UCWA Samples","EndpointId":"a917c6f4-976c-4cf3-847d-cdfffa28ccdf",'
        b'"Culture":"en-US",}'
    )
    created = send(
        "POST",
        client.applications_url,
        headers=client.auth(**{"Content-Type": "application/json"}),
        data=docs_sample,
    )
    assert created.status == 201 and created.json()["userAgent"] == "UCWA Samples"
    camel = send(
        "POST",
        client.applications_url,
        headers=client.auth(),
        json={
            "culture": "en-US",
            "endpointId": "a917c6f4-976c-4cf3-847d-cdfffa28ccdf",
            "userAgent": "UCWA Samples",
        },
    )
    assert camel.status == 200 and camel.json()["id"] == created.json()["id"]
    xml = (
        '<input xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">'
        '<property name="culture">en-US</property><property name="endpointId">123</property>'
        '<property name="userAgent">WinStore</property></input>'
    )
    as_xml = send(
        "POST",
        client.applications_url,
        headers=client.auth(**{"Content-Type": "application/xml", "Accept": "application/xml"}),
        data=xml,
    )
    assert as_xml.status == 201 and as_xml.body.startswith(b"<?xml")
    tab = client.register("tabbed", type="Browser", instanceId="tab-1")
    assert tab.status == 201 and "instanceId=tab-1" in tab.json()["_links"]["events"]["href"]
    assert client.register("tabbed", type="Browser", instanceId="tab-1").status == 200
    assert client.register("tabbed", type="Browser", instanceId="tab-2").status == 201
    too_long = client.register("x", UserAgent="u" * 101)
    assert too_long.status == 400 and too_long.json()["debugInfo"] == {"diagnosticsCode": "2"}


def test_me_resources_errors_and_versioning() -> None:
    service = new_service()
    send = _direct(service)
    client = Client(send, service.base_url)
    client.sign_in(service.credentials.username, service.credentials.password)
    app = client.register(str(uuid.uuid4())).json()
    me = client.url(app["_embedded"]["me"]["_links"]["self"]["href"])
    early = send("POST", me + "/reportMyActivity", headers=client.auth())
    assert early.status == 409 and early.json()["subcode"] == "MakeMeAvailableRequired"
    video = send(
        "POST",
        me + "/makeMeAvailable",
        headers=client.auth(),
        json={"supportedModalities": ["Video"]},
    )
    assert video.status == 403 and video.json()["code"] == "Forbidden"
    mixed = {
        "SupportedModalities": ["messaging"],
        "SupportedMessageFormats": ["Plain"],
        "SignInAs": "Busy",
        "phoneNumber": None,
    }
    assert send("POST", me + "/makeMeAvailable", headers=client.auth(), json=mixed).status == 204
    twice = send("POST", me + "/makeMeAvailable", headers=client.auth(), json=mixed)
    assert twice.status == 409 and twice.json()["subcode"] == "AlreadyExists"
    presence = send("GET", me + "/presence", headers=client.auth()).json()
    assert presence["availability"] == "Busy"
    comm = send(
        "GET",
        client.url(app["_embedded"]["communication"]["_links"]["self"]["href"]),
        headers=client.auth(),
    )
    assert comm.json()["supportedModalities"] == ["Messaging"]
    wrong_verb = send("GET", me + "/makeMeAvailable", headers=client.auth())
    assert wrong_verb.status == 405 and wrong_verb.headers["allow"] == "POST"
    too_new = send("GET", me, headers=client.auth(**{"X-MS-RequiresMinResourceVersion": "3"}))
    assert too_new.status == 404 and too_new.json()["subcode"] == "APIVersionNotSupported"
    assert (
        send("GET", me, headers=client.auth(**{"X-MS-RequiresMinResourceVersion": "2.0"})).status
        == 200
    )
    deleted = send("DELETE", client.url(app["_links"]["self"]["href"]), headers=client.auth())
    assert deleted.status == 204
    assert send("GET", me, headers=client.auth()).json()["subcode"] == "ApplicationNotFound"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/Autodiscover/AutodiscoverService.svc/root",
        "/autodiscover/autodiscoverservice.svc/root/",
        "/AutoDiscover/AutoDiscoverservice.svc/root?originalDomain=contoso.com",
    ],
)
def test_discovery_forms_and_case(path: str) -> None:
    service = new_service()
    reply = _direct(service)("GET", service.base_url + path)
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    links = reply.json()["_links"]
    assert set(links) == {"self", "user", "xframe"}
    assert re.match(r"https://(.*)/Autodiscover/", links["user"]["href"])  # C5's regex
    assert "originalDomain=" in links["self"]["href"]
    for href in (links["user"]["href"], links["xframe"]["href"]):
        assert _direct(service)("GET", href).status in (200, 401)
    other_user = _direct(service)("GET", service.base_url + AUTODISCOVER_ROOT_LOWER + "/user")
    assert other_user.status == 401


AUTODISCOVER_ROOT_LOWER = "/autodiscover/autodiscoverservice.svc/root"


def test_paths_with_double_slashes_and_any_case_reach_the_same_resources() -> None:
    service = new_service()
    send = _direct(service)
    form = {
        "grant_type": "password",
        "username": service.credentials.username,
        "password": service.credentials.password,
    }
    grant = send("POST", service.base_url + "/WEBTICKET/OAUTHTOKEN", data=form)
    assert grant.status == 200
    assert list(grant.json()) == [
        "access_token",
        "expires_in",
        "ms_rtc_identityscope",
        "token_type",
    ]
    bearer = {"Authorization": f"Bearer {grant.json()['access_token']}"}
    app = service.credentials.application_id
    url = f"{service.base_url}//UCWA//oauth/V1/Applications/{app}//Communication/MediaRelayAccessToken"
    assert send("GET", url, headers=bearer).status == 200
    assert send("GET", service.base_url + "//ucwa/oauth/v1/applications", headers={}).status == 401


def test_anonymous_meeting_join() -> None:
    service = new_service()
    send = _direct(service)
    client = Client(send, service.base_url)
    user_url = client.discover()
    challenge = client.challenge(user_url)
    assert "urn:microsoft.rtc:anonmeeting" in challenge["grant_type"].split(",")
    assert "urn:microsoft.rtc:windows" not in challenge["grant_type"]
    creds = service.credentials
    wrong = send(
        "POST",
        challenge["href"],
        data={
            "grant_type": "urn:microsoft.rtc:anonmeeting",
            "password": "0",
            "ms_rtc_conferenceuri": creds.conference_uri,
        },
    )
    assert wrong.status == 400 and wrong.json() == {"error": "invalid_grant"}
    for field in ("ms_rtc_conferenceuri", "msrtc_conferenceuri"):  # docs and WinStore spelling
        grant = send(
            "POST",
            challenge["href"],
            data={
                "grant_type": "urn:microsoft.rtc:anonmeeting",
                "password": creds.conference_key,
                field: creds.conference_uri,
            },
        )
        assert grant.status == 200 and grant.json()["ms_rtc_identityscope"] == "anonymous"
        assert grant.json()["expires_in"] == 3600
    client.bearer = grant.json()["access_token"]
    client.applications_url = send("GET", user_url, headers=client.auth()).json()["_links"][
        "applications"
    ]["href"]
    app = client.register(str(uuid.uuid4()), AnonymousDisplayName="WLB1").json()
    me = app["_embedded"]["me"]
    assert set(me["_links"]) == {"self"} and me["uri"].endswith("@anonymous.invalid")
    refused = send(
        "POST",
        client.url(me["_links"]["self"]["href"] + "/makeMeAvailable"),
        headers=client.auth(),
        json={},
    )
    assert refused.status == 403 and refused.json()["subcode"] == "AnonymousNotAllowed"
    service.clock.advance(dt.timedelta(hours=1))
    assert (
        send("GET", client.url(app["_links"]["self"]["href"]), headers=client.auth()).status == 401
    )


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_online_deployment_signs_in_with_azure_ad_jwt(
    kind: str, connect: Callable[[str, UcwaService], tuple[Send, str]]
) -> None:
    service = new_service(online=True)
    send, base = connect(kind, service)
    client = Client(send, base)
    user_url = client.discover()
    challenge = client.challenge(user_url)
    assert challenge["trusted_issuers"] == "00000001-0000-0000-c000-000000000000@*"
    assert challenge["grant_type"] == "urn:microsoft.rtc:anonmeeting"  # no password online
    token_url = challenge["authorization_uri"].replace("/authorize", "/token")
    resource = "{0.scheme}://{0.netloc}".format(urlsplit(user_url))
    form = {
        "grant_type": "password",
        "username": service.credentials.username,
        "password": service.credentials.password,
        "resource": resource,
        "client_id": "5b4a3f7e-0000-4000-8000-000000000001",
    }
    aad = send("POST", token_url, data=form)
    assert aad.status == 200
    body = aad.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == "3599"  # a string, as captured
    assert body["resource"] == resource
    claims = _jwt_payload(body["access_token"])
    assert claims["aud"] == resource and claims["exp"] - claims["iat"] == 3599
    assert claims["iat"] == int(START.timestamp())
    client.bearer = body["access_token"]
    user = send("GET", user_url, headers=client.auth())
    assert user.status == 200
    client.applications_url = user.json()["_links"]["applications"]["href"]
    assert client.register(str(uuid.uuid4())).status == 201

    bad = send("POST", token_url, data={**form, "password": "nope"})
    assert bad.status == 400 and bad.json()["error"] == "invalid_grant"
    assert "AADSTS50126" in bad.json()["error_description"]
    other = send("POST", token_url, data={**form, "resource": "https://webdir1a.online.lync.com"})
    client.bearer = other.json()["access_token"]  # a token for another audience
    rejected = send("GET", user_url, headers=client.auth())
    assert rejected.status == 403 and rejected.headers["x-ms-diagnostics"].startswith("28055;")
    assert "InvalidToken" in rejected.headers["warning"]

    client.bearer = body["access_token"]
    service.clock.advance(dt.timedelta(seconds=3600))
    assert send("GET", user_url, headers=client.auth()).status == 401
    password_at_webticket = send("POST", challenge["href"], data=form)
    assert password_at_webticket.json() == {"error": "unsupported_grant_type"}


def test_online_authorization_code_and_implicit_flows() -> None:
    service = new_service(online=True)
    send = _direct(service)
    base = service.base_url
    query = urlencode(
        {
            "response_type": "code",
            "client_id": "c",
            "state": "s1",
            "redirect_uri": "http://localhost:5000/cb",
            "resource": base,
        }
    )
    redirect = send("GET", f"{base}/common/oauth2/authorize?{query}")
    assert redirect.status == 302
    location = urlsplit(redirect.headers["location"])
    params = dict(p.split("=", 1) for p in location.query.split("&"))
    assert location.netloc == "localhost:5000" and params["state"] == "s1"
    token = send(
        "POST",
        f"{base}/common/oauth2/token",
        data={"grant_type": "authorization_code", "code": params["code"], "client_id": "c"},
    )
    assert token.status == 200 and _jwt_payload(token.json()["access_token"])["aud"] == base
    replay = send(
        "POST",
        f"{base}/common/oauth2/token",
        data={"grant_type": "authorization_code", "code": params["code"]},
    )
    assert replay.status == 400 and replay.json()["error"] == "invalid_grant"
    implicit = send(
        "GET",
        f"{base}/common/oauth2/authorize?"
        + query.replace("response_type=code", "response_type=token"),
    )
    fragment = dict(
        p.split("=", 1) for p in urlsplit(implicit.headers["location"]).fragment.split("&")
    )
    assert fragment["token_type"] == "Bearer" and fragment["access_token"].count(".") == 2
    evil = send(
        "GET", f"{base}/common/oauth2/authorize?response_type=code&redirect_uri=javascript:alert(1)"
    )
    assert evil.status == 400


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_user_route_behind_the_bearer_check_across_expiry_and_revocation(
    kind: str, connect: Callable[[str, UcwaService], tuple[Send, str]]
) -> None:
    service = new_service()
    send, base = connect(kind, service)
    search = service.route("GET", "people/search", json={"_embedded": {"contact": []}})
    echo = service.route(
        "POST",
        "/communication/messagingInvitations",
        handler=lambda r: {"seen": json.loads(r.body)},
        status=201,
    )
    client = Client(send, base)
    client.sign_in(service.credentials.username, service.credentials.password)
    app = client.register(str(uuid.uuid4())).json()
    app_url = client.url(app["_links"]["self"]["href"])
    assert send("GET", app_url + "/people/search?query=bob", headers=client.auth()).json() == {
        "_embedded": {"contact": []}
    }
    posted = send(
        "POST",
        app_url + "/Communication/MessagingInvitations",
        headers=client.auth(),
        json={"a": 1},
    )
    assert posted.status == 201 and posted.json() == {"seen": {"a": 1}}
    assert send("GET", app_url + "/people/search").status == 401
    assert search.calls == 1 and echo.calls == 1  # the unauthenticated call never reached it
    wrong = send("DELETE", app_url + "/people/search", headers=client.auth())
    assert wrong.status == 405 and wrong.headers["allow"] == "GET"

    first_bearer = client.bearer
    service.revoke(first_bearer)
    revoked = send("GET", app_url + "/people/search", headers=client.auth())
    assert revoked.status == 401
    assert [
        c.split()[0]
        for c in revoked.headers["www-authenticate"].split(", ")
        if c.startswith(("Bearer", "MsRtcOAuth"))
    ] == ["Bearer", "MsRtcOAuth"]
    client.sign_in(service.credentials.username, service.credentials.password)
    assert send("GET", app_url + "/people/search", headers=client.auth()).status == 200
    service.clock.advance(dt.timedelta(hours=8))
    assert send("GET", app_url + "/people/search", headers=client.auth()).status == 401
    route_calls = [e for e in service.log if "/people/search" in e.request.path]
    assert [(e.response.status, e.token) for e in route_calls] == [
        (200, first_bearer),
        (401, None),
        (405, first_bearer),
        (401, first_bearer),
        (200, client.bearer),
        (401, client.bearer),
    ]
    assert search.calls == 2


def test_user_route_faults_and_validation() -> None:
    service = new_service()
    route = service.route(
        "GET", "photos/me", body=b"\x89PNG", headers={"Content-Type": "image/png"}
    )
    bearer = service.credentials.bearer
    url = f"{service.base_url}/ucwa/oauth/v1/applications/{service.credentials.application_id}/photos/me"
    send = _direct(service)
    ok = send("GET", url, headers={"Authorization": f"Bearer {bearer}"})
    assert ok.status == 200 and ok.body == b"\x89PNG" and ok.headers["content-type"] == "image/png"
    service.arm_error("ServiceFailure", path="/photos/")
    assert send("GET", url, headers={"Authorization": f"Bearer {bearer}"}).status == 500
    assert route.calls == 1 and service.log[-1].injected and service.log[-1].token == bearer
    assert service.allowed_methods("/ucwa/oauth/v1/applications/1/photos/me") == frozenset({"GET"})
    with pytest.raises(ValueError, match="no roles"):
        service.route("GET", "x", roles=["admin"])
    with pytest.raises(ValueError, match="give one of json=, body=, handler="):
        service.route("GET", "x", json={}, body=b"")
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        service.route("GET", "x", headers={"X-Evil": "a\r\nSet-Cookie: b"})
    with pytest.raises(ValueError, match="already serves"):
        service.route("GET", "/communication/mediaRelayAccessToken")
    with pytest.raises(ValueError, match="HTTP method"):
        service.route("GE T", "x")


def test_a_second_route_for_the_same_method_and_path_replaces_the_first() -> None:
    service = new_service()
    first = service.route("GET", "photos/me", json={"n": 1})
    second = service.route("GET", "/Photos/Me/", json={"n": 2})
    other = service.route("POST", "photos/me", status=201, json={})
    url = f"{service.base_url}/ucwa/oauth/v1/applications/{service.credentials.application_id}/photos/me"
    reply = _direct(service)(
        "GET", url, headers={"Authorization": f"Bearer {service.credentials.bearer}"}
    )
    assert json.loads(reply.body) == {"n": 2}
    assert (first.calls, second.calls, other.calls) == (0, 1, 0)
    assert service.user_routes == [second, other]
    path = f"/ucwa/oauth/v1/applications/{service.credentials.application_id}/photos/me"
    assert service.allowed_methods(path) == frozenset({"GET", "POST"})


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/", "GET"),
        ("DELETE", "/Autodiscover/AutodiscoverService.svc/root/oauth/user", "GET"),
        ("GET", "/WebTicket/oauthtoken", "POST"),
        ("PUT", "/xframe", "GET"),
    ],
)
def test_fixed_paths_answer_405_with_the_url_tables_methods(
    method: str, path: str, allow: str
) -> None:
    service = new_service()
    reply = _direct(service)(method, service.base_url + path)
    assert reply.status == 405 and reply.headers["allow"] == allow
    assert service.log[-1].token is None


def test_revoke_unknown_bearer_is_a_clear_error() -> None:
    service = new_service()
    with pytest.raises(KeyError, match="never issued"):
        service.revoke("cwt=nope")


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/", {"GET"}),
        ("/AUTODISCOVER/autodiscoverservice.svc/root/oauth/user", {"GET"}),
        ("/WebTicket/oauthtoken", {"POST"}),
        ("/ucwa/oauth/v1/applications", {"GET", "POST"}),
        ("/ucwa/oauth/v1/applications/123", {"GET", "DELETE"}),
        ("/ucwa/oauth/v1/applications/123/me/makeMeAvailable", {"POST"}),
        ("/ucwa/oauth/v1/applications/123/events", {"GET"}),
        ("/ucwa/oauth/v1/applications/123/batch", {"POST"}),
        ("/ucwa/oauth/v1/applications/123/communication/mediaRelayAccessToken", {"GET"}),
    ],
)
def test_allowed_methods(path: str, methods: set[str]) -> None:
    assert new_service().allowed_methods(path) == frozenset(methods)


def test_allowed_methods_unknown_paths_and_online_only_routes() -> None:
    onprem, online = new_service(), new_service(online=True)
    assert onprem.allowed_methods("/nowhere") is None
    assert onprem.allowed_methods("/ucwa/oauth/v1/applications/1/nothing") is None
    assert onprem.allowed_methods("/common/oauth2/token") is None
    assert online.allowed_methods("/common/oauth2/token") == frozenset({"POST"})


def test_loopback_challenge_keeps_the_ip_host_whole() -> None:
    service = new_service()
    with LoopbackServer(service) as server:
        service.base_url = server.url  # as ``relaytokens serve`` does
        reply = requests.get(server.url + "/ucwa/oauth/v1/applications", timeout=10)
    bearer = reply.raw.headers.getlist("WWW-Authenticate")[0]
    match = re.search(r'trusted_issuers="[^"@]*@([^"]*)"', bearer)
    assert match is not None and match.group(1) == "127.0.0.1"


@pytest.mark.parametrize(
    "query",
    [
        "ack=1&timeout=" + "9" * 30,
        "ack=1&timeout=-5",
        "ack=1&timeout=abc",
        "ack=" + "9" * 5000,
        "ack=&timeout=180",
        "ack=%00",
    ],
)
def test_hostile_event_queries_get_an_answer_not_a_traceback(query: str) -> None:
    service = new_service()
    app = service.credentials.application_id
    url = f"{service.base_url}/ucwa/oauth/v1/applications/{app}/events?{query}"
    thread, out = _poll_in_thread(service, url, service.credentials.bearer)
    thread.join(60)  # held at most the 0.05 s cap: a hang guard, not a speed bound
    assert out, f"{query!r} held the request past the hold cap"
    reply = out[0]
    assert reply.status == 200
    assert set(reply.json()["_links"]) <= {"self", "next", "resync"}


@pytest.mark.parametrize("header", ["nan", "inf", "1e999", "2.0; drop", "\u0662", "9" * 400])
def test_hostile_resource_version_header(header: str) -> None:
    service = new_service()
    auth = {
        "Authorization": f"Bearer {service.credentials.bearer}",
        "X-MS-RequiresMinResourceVersion": header,
    }
    reply = _direct(service)("GET", service.token_url(), headers=auth)
    assert reply.status in (200, 400, 404)
    if reply.status != 200:
        assert reply.json()["code"] in ("BadRequest", "NotFound")


def test_authorize_refuses_redirects_with_control_characters() -> None:
    service = new_service(online=True)
    for redirect in ("http://x/\r\nSet-Cookie: a=b", "http://x/\x01", "http://x/\x7f"):
        query = urlencode({"response_type": "code", "redirect_uri": redirect})
        reply = _direct(service)("GET", f"{service.base_url}/common/oauth2/authorize?{query}")
        assert reply.status == 400 and "location" not in reply.headers


def test_jwt_round_trip_and_tampering() -> None:
    from pytest_relaytokens.ucwa.online import JwtClaims, decode_jwt, encode_jwt

    claims = JwtClaims(
        "https://fe1.contoso.com", START, START + dt.timedelta(hours=1), "t", "u", "c", "o"
    )
    token = encode_jwt(claims, b"k" * 32)
    assert decode_jwt(token, b"k" * 32) == claims.payload()
    assert decode_jwt(token, b"x" * 32) is None
    header, payload, signature = token.split(".")
    assert decode_jwt(f"{header}.{payload}x.{signature}", b"k" * 32) is None
    assert decode_jwt("a.b", b"k" * 32) is None and decode_jwt("a." * 5000, b"k") is None
    assert "=" not in token and "+" not in token and "/" not in token


def _batch_body(boundary: str, requests_: list[str]) -> bytes:
    parts = [
        f"--{boundary}\r\nContent-Type: application/http; msgtype=request\r\n\r\n{raw}\r\n"
        for raw in requests_
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_batch_answers_each_part_in_order(
    kind: str, connect: Callable[[str, UcwaService], tuple[Send, str]]
) -> None:
    import email
    import email.policy

    service = new_service()
    send, base = connect(kind, service)
    client = Client(send, base)
    client.sign_in(service.credentials.username, service.credentials.password)
    app = client.register(str(uuid.uuid4())).json()
    base_path = app["_links"]["self"]["href"]
    host = urlsplit(client.applications_url).netloc
    body = _batch_body(
        "77f2569d-c005-442b-b856-782305305e5b",
        [
            f"GET {base_path}/people/myContacts HTTP/1.1\r\nHost: {host}\r\n"
            "Accept: application/json\r\n",
            f"GET {base_path}/nowhere HTTP/1.1\r\nHost: {host}\r\n",
            f"GET {base_path}/events?ack=1 HTTP/1.1\r\nHost: {host}\r\n",
            f"POST {base_path}/me/makeMeAvailable HTTP/1.1\r\nHost: {host}\r\n"
            'Content-Type: application/json\r\n\r\n{"SupportedModalities":["Messaging"]}',
        ],
    )
    reply = send(
        "POST",
        client.url(app["_links"]["batch"]["href"]),
        headers=client.auth(
            **{
                "Content-Type": "multipart/batching;boundary=77f2569d-c005-442b-b856-782305305e5b",
                "Accept": "multipart/batching",
            }
        ),
        data=body,
    )
    assert reply.status == 200 and reply.headers["content-type"].startswith("multipart/batching")
    message = email.message_from_bytes(
        b"Content-Type: " + reply.headers["content-type"].encode() + b"\r\n\r\n" + reply.body,
        policy=email.policy.HTTP,
    )
    parts = [p.get_payload(decode=True) for p in message.iter_parts()]
    statuses = [int(p.split(b" ", 2)[1]) for p in parts]
    assert statuses == [200, 404, 400, 204]
    contacts = json.loads(parts[0].split(b"\r\n\r\n", 1)[1])
    assert contacts["rel"] == "myContacts"
    me = send("GET", client.url(base_path + "/me"), headers=client.auth()).json()
    assert "reportMyActivity" in me["_links"]  # the batched makeMeAvailable took effect


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("multipart/batching", b"", 400),
        ("multipart/batching;boundary=b", b"no parts here", 400),
        (
            "multipart/batching;boundary=b",
            b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
            400,
        ),
        (
            "multipart/batching;boundary=b",
            b"--b\r\nContent-Type: application/http\r\n\r\nGARBAGE\r\n--b--",
            400,
        ),
        ("multipart/batching;boundary=" + "x" * 200, b"", 400),
        ("application/json", b"{}", 400),
        (
            "multipart/batching;boundary=b",
            b"".join(
                b"--b\r\nContent-Type: application/http\r\n\r\nGET /ucwa/oauth/v1/applications HTTP/1.1\r\n\r\n\r\n"
                for _ in range(101)
            )
            + b"--b--",
            429,
        ),
    ],
)
def test_batch_refuses_bad_bodies(content_type: str, body: bytes, status: int) -> None:
    service = new_service()
    url = (
        f"{service.base_url}/ucwa/oauth/v1/applications/{service.credentials.application_id}/batch"
    )
    headers = {
        "Authorization": f"Bearer {service.credentials.bearer}",
        "Content-Type": content_type,
    }
    reply = _direct(service)("POST", url, headers=headers, data=body)
    assert reply.status == status and reply.json()["code"] in ("BadRequest", "TooManyRequests")


# --- content negotiation and the version header, as clients send them -----------------------
NO_ACCEPT = "(none)"


def _accept(value: str, kind: str) -> dict[str, Any]:
    """The ``Accept`` to send: ``NO_ACCEPT`` removes the client's own default (``*/*``)."""
    if value != NO_ACCEPT:
        return {"Accept": value}
    return {"Accept": None} if kind in ("requests", "loopback") else {}


@pytest.mark.parametrize("kind", ["direct", "requests", "loopback"])
@pytest.mark.parametrize("default_format", ["json", "xml"])
@pytest.mark.parametrize(
    ("accept", "status"),
    [
        (NO_ACCEPT, 200),
        ("*/*", 200),
        ("application/*", 200),
        ("application/xml;q=0.9, application/json;q=0.5", 200),
        ("text/html, application/vnd.microsoft.com.ucwa+json;q=0.1", 200),
        ("application/xml", 406),
        ("application/json;q=0, */*", 406),
        ("application/json;q=0, application/xml", 406),
    ],
)
def test_events_answer_json_whenever_the_accept_allows_json(
    kind: str,
    default_format: str,
    accept: str,
    status: int,
    connect: Callable[[str, UcwaService], tuple[Send, str]],
) -> None:
    """Events are JSON only: whatever the default format (the ``ucwa_format`` marker), a
    client whose Accept takes JSON at all gets JSON; 406 only when it refuses JSON."""
    service = new_service()
    service.default_format = default_format  # type: ignore[assignment]
    send, base = connect(kind, service)
    app = service.credentials.application_id
    url = f"{base}/ucwa/oauth/v1/applications/{app}/events?ack=1"
    headers = {"Authorization": f"Bearer {service.credentials.bearer}", **_accept(accept, kind)}
    reply = send("GET", url, headers=headers)
    assert reply.status == status, reply
    if status == 200:
        assert reply.headers["content-type"].startswith("application/json")
        assert "next" in reply.json()["_links"]
    else:
        assert re.search(rb"NotAcceptable", reply.body)


@pytest.mark.parametrize("kind", ["direct", "httpx"])
@pytest.mark.parametrize(
    ("default_format", "accept", "content_type"),
    [
        ("xml", NO_ACCEPT, "application/xml"),
        ("xml", "*/*", "application/xml"),
        ("xml", "application/*", "application/xml"),
        ("json", "application/*", "application/json"),
        ("xml", "application/json;q=0.5, application/*;q=0.9", "application/xml"),
        ("json", "application/xml;q=0.5, application/*;q=0.9", "application/json"),
        ("json", "*/*;q=0.1, application/xml;q=0.2", "application/xml"),
        ("json", "text/xml;q=0.3, application/*;q=0.2", "text/xml"),
        (
            "json",
            "application/vnd.microsoft.com.ucwa+xml",
            "application/vnd.microsoft.com.ucwa+xml",
        ),
        ("json", "application/xml, application/json", "application/xml"),  # client's order
        ("json", "*/*;q=0", None),
        ("json", "application/xml;q=0, application/json;q=0, */*", None),
        ("json", "application/json;q=nan, application/xml;q=2", None),
    ],
)
def test_resources_in_both_formats_take_the_best_accepted_one(
    kind: str,
    default_format: str,
    accept: str,
    content_type: str | None,
    connect: Callable[[str, UcwaService], tuple[Send, str]],
) -> None:
    """RFC 9110 12.5.1: a type takes the q of the most specific range naming it, the highest
    q > 0 wins (ties: the client's order, then the default format); nothing acceptable: 406."""
    service = new_service()
    service.default_format = default_format  # type: ignore[assignment]
    send, base = connect(kind, service)
    headers = {"Authorization": f"Bearer {service.credentials.bearer}", **_accept(accept, kind)}
    app = service.credentials.application_id
    for url in (service.token_url(), f"{base}/ucwa/oauth/v1/applications/{app}/me"):
        reply = send("GET", url.replace(service.base_url, base), headers=headers)
        if content_type is None:
            assert reply.status == 406
        else:
            assert reply.status == 200
            assert reply.headers["content-type"].split(";")[0] == content_type


_VERSION_HEADERS = [
    ("2", 200),
    ("2.0", 200),
    ("1", 200),
    ("1.5", 200),
    ("02.000", 200),
    (" 2", 200),  # whitespace around a field value is not part of it (RFC 9110 5.5)
    ("2\t", 200),
    ("2.01", 404),
    ("3", 404),
    ("9" * 400, 404),
    ("nan", 400),
    ("NaN", 400),
    ("inf", 400),
    ("-inf", 400),
    ("+inf", 400),
    ("Infinity", 400),
    ("1e400", 400),
    ("2e0", 400),
    ("0x2", 400),
    ("-1", 400),
    ("+2", 400),
    ("2.", 400),
    (".5", 400),
    ("2,0", 400),
    ("2 0", 400),
    ("2_0", 400),
    ("abc", 400),
    ("", 400),
]


@pytest.mark.parametrize(
    ("kind", "header", "status"),
    [
        (kind, header, status)
        for kind in ("direct", "httpx", "loopback")
        for header, status in _VERSION_HEADERS
        # requests (the loopback client) refuses a value with whitespace around it
        if kind != "loopback" or header == header.strip()
    ],
)
def test_resource_version_header_is_a_plain_decimal_number(
    kind: str, header: str, status: int, connect: Callable[[str, UcwaService], tuple[Send, str]]
) -> None:
    """At most 2 is served, above 2 is 404 ``APIVersionNotSupported``, anything that is not a
    plain decimal number (NaN, infinities, exponents, signs, hex) is 400."""
    service = new_service()
    send, base = connect(kind, service)
    reply = send(
        "GET",
        service.token_url().replace(service.base_url, base),
        headers={
            "Authorization": f"Bearer {service.credentials.bearer}",
            "X-MS-RequiresMinResourceVersion": header,
        },
    )
    assert reply.status == status, reply
    if status == 404:
        assert reply.json()["subcode"] == "APIVersionNotSupported"
    elif status == 400:
        assert reply.json()["subcode"] == "ParameterValidationFailure"
