"""Full token flows of the real UCWA and Relay fakes over every transport: get a token, use it,
let it expire (401), refresh, use again."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeService
from pytest_relaytokens.relay import factories as relay_factories
from pytest_relaytokens.relay import service as relay_service
from pytest_relaytokens.transports.httpx_transport import FakeTransport, patch_httpx
from pytest_relaytokens.transports.responses_transport import activate_responses
from pytest_relaytokens.transports.server import LoopbackServer
from pytest_relaytokens.ucwa import service as ucwa_service


@dataclass
class Reply:
    status: int
    challenges: list[str]
    body: Any


Send = Callable[..., Reply]


def _requests_send(base: str) -> Send:
    session = requests.Session()

    def send(method: str, path: str, **kwargs: Any) -> Reply:
        r = session.request(method, base + path, timeout=10, **kwargs)
        body = r.json() if "json" in r.headers.get("Content-Type", "") else r.text
        return Reply(r.status_code, r.raw.headers.getlist("WWW-Authenticate"), body)

    return send


def _reply(r: httpx.Response) -> Reply:
    body = r.json() if "json" in r.headers.get("Content-Type", "") else r.text
    return Reply(r.status_code, r.headers.get_list("WWW-Authenticate"), body)


def _httpx_send(base: str, client: httpx.Client) -> Send:
    def send(method: str, path: str, **kwargs: Any) -> Reply:
        return _reply(client.request(method, base + path, **kwargs))

    return send


def _httpx_async_send(base: str, service: FakeService) -> Send:
    def send(method: str, path: str, **kwargs: Any) -> Reply:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=FakeTransport(service)) as client:
                return await client.request(method, base + path, **kwargs)

        return _reply(asyncio.run(go()))

    return send


TRANSPORTS = ["responses", "httpx-transport", "httpx-async", "httpx-patch", "loopback-server"]


@pytest.fixture
def connect() -> Iterator[Callable[[str, FakeService], Send]]:
    with ExitStack() as stack:

        def connect(kind: str, service: FakeService) -> Send:
            if kind == "responses":
                stack.enter_context(activate_responses(service))
                return _requests_send(service.base_url)
            if kind == "httpx-transport":
                client = stack.enter_context(httpx.Client(transport=FakeTransport(service)))
                return _httpx_send(service.base_url, client)
            if kind == "httpx-async":
                return _httpx_async_send(service.base_url, service)
            if kind == "httpx-patch":
                stack.enter_context(patch_httpx(service))
                return _httpx_send(service.base_url, stack.enter_context(httpx.Client()))
            server = stack.enter_context(LoopbackServer(service))
            return _requests_send(server.url)

        yield connect


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_ucwa_flow(kind: str, connect: Callable[[str, FakeService], Send]) -> None:
    clock = Clock()
    service = ucwa_service.UcwaService(clock=clock, seed=5)
    service.application_idle_lifetime = None  # the 8 h jump must expire the bearer only
    send = connect(kind, service)
    creds = service.credentials
    form = {"grant_type": "password", "username": creds.username, "password": creds.password}
    path = service.token_path()

    grant = send("POST", "/WebTicket/oauthtoken", data=form)
    assert grant.status == 200 and grant.body["access_token"].startswith("cwt=")
    bearer = {"Authorization": f"Bearer {grant.body['access_token']}"}
    token = send("GET", path, headers=bearer)
    assert token.status == 200 and token.body["_embedded"]["mediaRelay"]

    clock.advance(ucwa_service.BEARER_LIFETIME + dt.timedelta(minutes=1))
    expired = send("GET", path, headers=bearer)
    assert expired.status == 401
    assert [c.split()[0] for c in expired.challenges] == ["Bearer", "MsRtcOAuth"]

    regrant = send("POST", "/WebTicket/oauthtoken", data=form)
    assert regrant.status == 200 and regrant.body["access_token"] != grant.body["access_token"]
    again = send("GET", path, headers={"Authorization": f"Bearer {regrant.body['access_token']}"})
    assert again.status == 200
    assert len(service.issued_tokens) == 2
    assert [e.response.status for e in service.log] == [200, 200, 401, 200, 200]


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_relay_flow(kind: str, connect: Callable[[str, FakeService], Send]) -> None:
    clock = Clock()
    service = relay_service.RelayService(clock=clock, seed=5)
    send = connect(kind, service)
    creds = service.credentials
    basic = (creds.username, creds.password)

    created = send("POST", "/api/auth/accesstokens", auth=basic)
    assert created.status == 200
    header = {"X-Access-Token": created.body["accessToken"]}
    enterprise = send("GET", "/api/enterprises/self", headers=header)
    assert enterprise.status == 200 and enterprise.body["name"] == creds.enterprise_name

    clock.advance(relay_factories.DEFAULT_LIFETIME + dt.timedelta(minutes=1))
    assert send("GET", "/api/enterprises/self", headers=header).status == 401

    renewed = send("POST", "/api/auth/accesstokens", auth=basic)
    assert renewed.status == 200
    assert renewed.body["accessToken"] != created.body["accessToken"]
    header = {"X-Access-Token": renewed.body["accessToken"]}
    assert send("GET", "/api/enterprises/self", headers=header).status == 200
    assert [e.response.status for e in service.log] == [200, 200, 401, 200, 200]


def test_same_seed_gives_identical_answers_on_every_transport(
    connect: Callable[[str, FakeService], Send],
) -> None:
    start = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)
    answers: dict[str, list[tuple[int, Any]]] = {}
    for kind in TRANSPORTS:
        relay = relay_service.RelayService(clock=Clock(start, frozen=True), seed=9)
        ucwa = ucwa_service.UcwaService(clock=Clock(start, frozen=True), seed=9)
        send_relay, send_ucwa = connect(kind, relay), connect(kind, ucwa)
        created = send_relay(
            "POST",
            "/api/auth/accesstokens",
            auth=(relay.credentials.username, relay.credentials.password),
        )
        me = send_relay(
            "GET", "/api/enterprises/self", headers={"X-Access-Token": created.body["accessToken"]}
        )
        token = send_ucwa(
            "GET", ucwa.token_path(), headers={"Authorization": f"Bearer {ucwa.credentials.bearer}"}
        )
        xml = send_ucwa(
            "GET",
            ucwa.token_path(),
            headers={
                "Authorization": f"Bearer {ucwa.credentials.bearer}",
                "Accept": "application/xml",
            },
        )
        answers[kind] = [(r.status, r.body) for r in (created, me, token, xml)]
    first = answers[TRANSPORTS[0]]
    assert [status for status, _ in first] == [200, 200, 200, 200]
    for kind, seen in answers.items():
        assert seen == first, kind
