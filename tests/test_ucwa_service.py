"""The stateful UCWA fake, driven with FakeRequest directly (no transport)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from urllib.parse import urlencode

import pytest

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeRequest, FakeResponse, TokenPolicy
from pytest_relaytokens.ucwa import wire
from pytest_relaytokens.ucwa.service import UcwaService

UTC = dt.timezone.utc
START = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ORIGIN = "https://fe1.contoso.com"


def service(policy: TokenPolicy | None = None, seed: int = 0) -> UcwaService:
    return UcwaService(clock=Clock(START, frozen=True), seed=seed, policy=policy)


def get(
    svc: UcwaService, url: str, bearer: str | None = None, accept: str | None = None
) -> FakeResponse:
    headers = {}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if accept is not None:
        headers["Accept"] = accept
    return svc.handle(FakeRequest.build("GET", url if "://" in url else ORIGIN + url, headers))


def webticket(svc: UcwaService, href: str, **form: str) -> FakeResponse:
    return svc.handle(
        FakeRequest.build(
            "POST",
            href,
            {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
            urlencode(form),
        )
    )


def test_full_flow_autodiscover_to_token_and_bearer_renewal() -> None:
    svc = service()
    creds = svc.credentials
    root = get(svc, "/autodiscover/autodiscoverservice.svc/root")
    assert root.status == 200
    user_url = root.json()["_links"]["user"]["href"]
    assert root.json()["_links"]["self"]["href"].startswith(ORIGIN)

    challenge = get(svc, user_url)
    assert challenge.status == 401 and len(challenge.header_all("WWW-Authenticate")) == 2
    msrtc = challenge.header_all("WWW-Authenticate")[1]
    href = msrtc.split('href="')[1].split('"')[0]
    assert href == ORIGIN + "/WebTicket/oauthtoken"

    granted = webticket(
        svc, href, grant_type="password", username=creds.username, password=creds.password
    )
    assert granted.status == 200 and granted.header("Cache-Control") == "no-store"
    grant = granted.json()
    assert grant["token_type"] == "Bearer" and grant["expires_in"] == 28800
    assert grant["ms_rtc_identityscope"] == "local" and grant["access_token"].startswith("cwt=")
    bearer = grant["access_token"]

    user = get(svc, user_url, bearer)
    apps_url = user.json()["_links"]["applications"]["href"]
    assert apps_url == ORIGIN + "/ucwa/oauth/v1/applications"
    created = svc.handle(
        FakeRequest.build(
            "POST",
            apps_url,
            {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
            json.dumps(
                {
                    "UserAgent": "tests/1.0",
                    "EndpointId": "a917c6f4-976c-4cf3-847d-cdfffa28ccdf",
                    "Culture": "en-US",
                }
            ),
        )
    )
    assert created.status == 201
    app = created.json()
    assert app["rel"] == "application" and app["userAgent"] == "tests/1.0"
    assert set(app["_embedded"]) == {"me", "people", "onlineMeetings", "communication"}
    assert app["id"] == apps_url_id(app)
    links = app["_embedded"]["communication"]["_links"]
    token_href = links["mediaRelayAccessToken"]["href"]
    assert "mediaRelay" not in links  # embedded in the token, not a communication link

    as_json = get(svc, token_href, bearer, "application/json")
    assert as_json.status == 200 and as_json.content_type == "application/json"
    token = wire.parse(as_json.body, as_json.header("Content-Type"))
    assert token.duration == 480 and token.uri == creds.sip_uri
    assert token.valid_until == START + dt.timedelta(minutes=480)
    assert b"\\/Date(" in as_json.body
    as_xml = get(svc, token_href, bearer, "application/xml")
    assert as_xml.status == 200 and as_xml.body.startswith(b'<?xml version="1.0"')
    assert wire.parse(as_xml.body).href == token_href
    assert len(svc.issued_tokens) == 2

    svc.clock.advance(dt.timedelta(hours=8, seconds=1))
    assert get(svc, token_href, bearer).status == 401  # bearer expired
    bearer2 = webticket(
        svc, href, grant_type="password", username=creds.username, password=creds.password
    ).json()["access_token"]
    gone = get(svc, token_href, bearer2)  # the app idled out meanwhile: 410 as documented
    assert gone.status == 410
    assert gone.json() == {
        "code": "Gone",
        "subcode": "InactiveApplicationExpired",
        "message": gone.json()["message"],
    }
    svc.application_idle_lifetime = None
    app_id = svc.create_application()
    fresh = get(svc, svc.token_path(app_id), bearer2)
    assert fresh.status == 200
    assert wire.parse(fresh.body).valid_until == svc.clock.now() + dt.timedelta(minutes=480)
    assert [e.credential for e in svc.log][:4] == [None, None, "password-grant", "bearer"]
    assert svc.log.unexpected == []


def apps_url_id(app: dict[str, object]) -> str:
    """The last segment of the application's self href."""
    links = app["_links"]
    assert isinstance(links, dict)
    return str(links["self"]["href"]).rsplit("/", 1)[1]


def test_preissued_credentials_work_on_every_path_form() -> None:
    svc = service()
    bearer, app = svc.credentials.bearer, svc.credentials.application_id
    for prefix in ("/ucwa/v1", "/ucwa/oauth/v1"):
        for middle in ("", "/communication"):
            url = f"{prefix}/applications/{app}{middle}/mediaRelayAccessToken"
            response = get(svc, url, bearer)
            assert response.status == 200, url
            assert wire.parse_json(response.body).href == url
    relay = get(svc, f"/ucwa/oauth/v1/applications/{app}/communication/mediaRelay", bearer)
    assert relay.status == 200 and relay.json()["rel"] == "mediaRelay"
    assert relay.json()["tcpPort"] == 443 and relay.json()["udpPort"] == 3478
    assert svc.token_url() == ORIGIN + svc.token_path()


@pytest.mark.parametrize(
    ("accept", "status", "ctype"),
    [
        (None, 200, "application/json"),
        ("*/*", 200, "application/json"),
        ("application/vnd.microsoft.com.ucwa+json", 200, "application/vnd.microsoft.com.ucwa+json"),
        ("application/vnd.microsoft.com.ucwa+xml", 200, "application/vnd.microsoft.com.ucwa+xml"),
        ("text/html;q=0.9, application/xml;q=0.8", 200, "application/xml"),
        ("text/html", 406, "application/json"),
    ],
)
def test_content_negotiation(accept: str | None, status: int, ctype: str) -> None:
    svc = service()
    response = get(svc, svc.token_path(), svc.credentials.bearer, accept)
    assert response.status == status and response.content_type == ctype
    if status == 406:
        assert response.json()["code"] == "NotAcceptable"


def test_auth_failures_and_unknown_things() -> None:
    svc = service()
    token_path = svc.token_path()
    assert get(svc, token_path).status == 401
    assert get(svc, token_path, "cwt=unknown").status == 401
    missing = get(
        svc,
        "/ucwa/oauth/v1/applications/999999999999/communication/mediaRelayAccessToken",
        svc.credentials.bearer,
        "application/xml",
    )
    assert missing.status == 404
    assert wire.parse_error(missing.body).subcode == "ApplicationNotFound"
    unknown = get(svc, "/nowhere", svc.credentials.bearer)
    assert unknown.status == 404 and unknown.json()["code"] == "NotFound"
    assert [e.expected for e in svc.log] == [True, True, True, False]
    assert [e.credential for e in svc.log][:2] == [None, "bearer"]


def test_webticket_errors() -> None:
    svc = service()
    href = ORIGIN + "/WebTicket/oauthtoken"
    bad = webticket(
        svc, href, grant_type="password", username=svc.credentials.username, password="wrong"
    )
    assert bad.status == 400 and bad.json() == {"error": "invalid_grant"}
    unsupported = webticket(svc, href, grant_type="urn:microsoft.rtc:windows")
    assert unsupported.status == 400 and unsupported.json() == {"error": "unsupported_grant_type"}
    assert unsupported.header("X-Ms-diagnostics", "").startswith("28029;")
    assert webticket(svc, href).json() == {"error": "invalid_request"}


def test_policy_applies_to_bearer_and_relay_tokens() -> None:
    expired = service(TokenPolicy(already_expired=True))
    assert get(expired, expired.token_path(), expired.credentials.bearer).status == 401
    short = service(
        TokenPolicy(lifetime=dt.timedelta(minutes=5), server_skew=dt.timedelta(seconds=90))
    )
    response = get(short, short.token_path(), short.credentials.bearer)
    assert response.status == 200
    assert wire.parse(response.body).valid_until == START + dt.timedelta(minutes=5, seconds=90)
    short.clock.advance(dt.timedelta(minutes=4, seconds=59))
    assert get(short, short.token_path(), short.credentials.bearer).status == 200
    short.clock.advance(dt.timedelta(seconds=1))  # five minutes after issue
    assert get(short, short.token_path(), short.credentials.bearer).status == 401


def test_arm_error_uses_negotiated_format_and_counts_down() -> None:
    svc = service()
    svc.arm_error("Conflict", "TooManyGroups", times=2)
    bearer = svc.credentials.bearer
    first = get(svc, svc.token_path(), bearer, "application/xml")
    assert first.status == 409 and first.content_type == "application/xml"
    assert wire.parse_error(first.body).subcode == "TooManyGroups"
    second = get(svc, svc.token_path(), bearer)
    assert second.json()["subcode"] == "TooManyGroups"
    assert get(svc, svc.token_path(), bearer).status == 200
    assert [e.injected for e in svc.log] == [True, True, False]
    svc.arm_unauthorized()
    assert get(svc, svc.token_path(), bearer).status == 401
    svc.arm_error("ServiceFailure", path="")
    assert get(svc, "/autodiscover/autodiscoverservice.svc/root").status == 500


def test_application_lifecycle_and_validation() -> None:
    svc = service()
    bearer = svc.credentials.bearer
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
    url = ORIGIN + "/ucwa/oauth/v1/applications"
    bad = svc.handle(FakeRequest.build("POST", url, headers, "{not json"))
    assert bad.status == 400 and bad.json()["subcode"] == "DeserializationFailure"
    incomplete = svc.handle(FakeRequest.build("POST", url, headers, '{"Culture": "en-US"}'))
    assert incomplete.json()["subcode"] == "ParameterValidationFailure"
    app_url = ORIGIN + "/ucwa/oauth/v1/applications/" + svc.credentials.application_id
    assert get(svc, app_url, bearer).json()["rel"] == "application"
    assert get(svc, app_url, bearer, "application/xml").body.startswith(b"<?xml")
    assert svc.handle(FakeRequest.build("DELETE", app_url, headers)).status == 204
    assert get(svc, app_url, bearer).status == 404
    svc.clock.advance(dt.timedelta(minutes=16))
    assert get(svc, svc.token_path(svc.create_application()), bearer).status == 200


def test_same_seed_same_credentials_and_threads_are_safe() -> None:
    assert service(seed=9).credentials == service(seed=9).credentials
    assert service(seed=9).credentials != service(seed=10).credentials
    svc = service()
    results: list[int] = []

    def worker() -> None:
        for _ in range(20):
            results.append(get(svc, svc.token_path(), svc.credentials.bearer).status)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 80 and len(svc.issued_tokens) == 80


def test_each_token_gets_its_own_relay_objects_and_follows_the_application() -> None:
    svc = service()
    bearer = svc.credentials.bearer
    first = get(svc, svc.token_url(), bearer, "application/json")
    token = svc.issued_tokens[-1]
    token.media_relays[0].host = "mutated.example.com"
    app = svc.applications.apps[svc.credentials.application_id]
    assert app.relays[0].host != "mutated.example.com"
    app.relays[0] = app.relays[0].model_copy(update={"host": "moved.contoso.com"})
    second = get(svc, svc.token_url(), bearer, "application/json")
    relays = [json.loads(r.body)["_embedded"]["mediaRelay"][0] for r in (first, second)]
    assert relays[0]["host"] != "mutated.example.com"
    assert relays[1]["host"] == "moved.contoso.com"
    assert relays[1]["_links"]["self"]["href"].endswith("/communication/mediaRelay")
    assert svc.issued_tokens[-1].media_relays[0] is not svc.issued_tokens[-2].media_relays[0]


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/xml;q=0.5, application/json", "application/json"),
        ("application/json;q=0.1, application/xml", "application/xml"),
        ("application/json;q=0, */*", "application/xml"),  # q=0: JSON refused (RFC 9110)
        ("text/html;q=1, application/xml;q=0.2", "application/xml"),
    ],
)
def test_accept_ranges_pick_the_same_format_on_every_request(
    accept: str, content_type: str
) -> None:
    svc = service()
    for _ in range(3):  # the parsed ranges are remembered: the answer must not drift
        answer = get(svc, svc.token_url(), svc.credentials.bearer, accept)
        assert answer.status == 200 and answer.content_type == content_type
    assert get(svc, svc.token_url(), svc.credentials.bearer, "text/html").status == 406
    long_accept = ", ".join(["text/plain;q=0.9"] * 60) + ", application/xml"
    assert get(svc, svc.token_url(), svc.credentials.bearer, long_accept).content_type == (
        "application/xml"
    )


def test_a_server_base_url_change_shows_in_the_fqdn_header() -> None:
    svc = service()
    before = get(svc, svc.token_url(), svc.credentials.bearer).header("X-MS-Server-Fqdn")
    svc.base_url = "http://127.0.0.1:5999"
    after = get(svc, svc.token_url(), svc.credentials.bearer).header("X-MS-Server-Fqdn")
    assert (before, after) == ("fe1.contoso.com", "127.0.0.1")
