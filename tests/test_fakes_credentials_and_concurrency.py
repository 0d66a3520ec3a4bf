"""Hardening of the fakes themselves: consistent state under threads and asyncio, and no
endpoint of either fake ever accepts a missing, expired, unknown, wrong-role or wrong-scheme
credential (with a positive control per endpoint, so the table can fail)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.relay.models import ROLE_READONLY
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.relay.wire import parse_token
from pytest_relaytokens.transports import PathRouter
from pytest_relaytokens.transports.httpx_transport import FakeTransport
from pytest_relaytokens.ucwa.service import UcwaService
from pytest_relaytokens.ucwa.wire import parse_json

UCWA = "https://fe1.contoso.com"
RELAY = "https://relay.bluejeans.com"


def _relay_create(relay: RelayService) -> FakeRequest:
    return FakeRequest.build(
        "POST",
        f"{RELAY}/api/auth/accesstokens?clientname=load",
        {"Authorization": relay.credentials.basic_authorization},
    )


def _ucwa_token(ucwa: UcwaService, bearer: str) -> FakeRequest:
    return FakeRequest.build("GET", UCWA + ucwa.token_path(), {"Authorization": f"Bearer {bearer}"})


# Concurrency ----------------------------------------------------------------------------------


def test_many_threads_keep_the_fakes_consistent() -> None:
    ucwa, relay = UcwaService(seed=21), RelayService(seed=22)
    relay_before, threads, per_thread = len(relay.issued_tokens), 8, 120
    barrier = threading.Barrier(threads)

    def worker(index: int) -> tuple[list[str], list[str], int]:
        relay_tokens: list[str] = []
        ucwa_passwords: list[str] = []
        bearers = 0
        barrier.wait()
        for i in range(per_thread):
            step = (i + index) % 4
            if step == 0:
                response = relay.handle(_relay_create(relay))
                assert response.status == 200, response.body
                relay_tokens.append(parse_token(response.body).access_token)
            elif step == 1:
                relay_tokens.append(relay.issue_token(roles=[ROLE_READONLY]).access_token)
            elif step == 2:
                response = ucwa.handle(_ucwa_token(ucwa, ucwa.credentials.bearer))
                assert response.status == 200, response.body
                ucwa_passwords.append(parse_json(response.body).password)
            else:
                bearer = ucwa.issue_bearer()
                bearers += 1
                response = ucwa.handle(_ucwa_token(ucwa, bearer))
                assert response.status == 200, response.body
                ucwa_passwords.append(parse_json(response.body).password)
        return relay_tokens, ucwa_passwords, bearers

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    relay_tokens = [t for r in results for t in r[0]]
    passwords = [p for r in results for p in r[1]]
    issued = [t.access_token for t in relay.issued_tokens[relay_before:]]
    assert len(relay_tokens) == len(set(relay_tokens)) == len(issued) == threads * per_thread // 2
    assert set(relay_tokens) == set(issued)
    assert len(relay.log) == threads * per_thread // 4
    assert len(ucwa.log) == len(passwords) == len(ucwa.issued_tokens) == threads * per_thread // 2
    assert sorted(passwords) == sorted(t.password for t in ucwa.issued_tokens)
    assert len({t.password for t in ucwa.issued_tokens}) == len(passwords)
    assert all(e.response.status == 200 for e in [*relay.log, *ucwa.log])


def test_asyncio_gather_through_httpx_keeps_the_fakes_consistent() -> None:
    ucwa, relay = UcwaService(seed=23), RelayService(seed=24)
    relay_before = len(relay.issued_tokens)
    transport = FakeTransport(PathRouter([("/api/", relay)], default=ucwa))
    count = 150

    async def one(client: httpx.AsyncClient, i: int) -> tuple[str, str]:
        if i % 2:
            response = await client.post(
                "/api/auth/accesstokens",
                headers={"Authorization": relay.credentials.basic_authorization},
            )
            assert response.status_code == 200
            token = parse_token(response.content).access_token
            check = await client.get("/api/enterprises/self", headers={"X-Access-Token": token})
            assert check.status_code == 200
            return "relay", token
        response = await client.get(
            ucwa.token_path(), headers={"Authorization": f"Bearer {ucwa.credentials.bearer}"}
        )
        assert response.status_code == 200
        return "ucwa", parse_json(response.content).password

    async def main() -> list[tuple[str, str]]:
        async with httpx.AsyncClient(transport=transport, base_url=UCWA) as client:
            return await asyncio.gather(*(one(client, i) for i in range(count)))

    # Threads hammer the same fakes while the event loop runs.
    stop = threading.Event()

    def background() -> None:
        while not stop.is_set():
            relay.issue_token()
            ucwa.handle(_ucwa_token(ucwa, ucwa.credentials.bearer))

    helpers = [threading.Thread(target=background) for _ in range(2)]
    for helper in helpers:
        helper.start()
    try:
        results = asyncio.run(main())
    finally:
        stop.set()
        for helper in helpers:
            helper.join()
    relay_tokens = [v for k, v in results if k == "relay"]
    ucwa_passwords = [v for k, v in results if k == "ucwa"]
    issued = {t.access_token for t in relay.issued_tokens[relay_before:]}
    assert len(relay_tokens) == len(set(relay_tokens)) == count // 2
    assert set(relay_tokens) <= issued
    assert len(issued) == len(relay.issued_tokens) - relay_before  # unique strings
    all_passwords = [t.password for t in ucwa.issued_tokens]
    assert len(all_passwords) == len(set(all_passwords)) == len(ucwa.log)
    assert set(ucwa_passwords) <= set(all_passwords)
    assert len(relay.log) == count  # a create and a check per relay coroutine


# Security table ---------------------------------------------------------------------------------


@dataclass
class World:
    clock: Clock
    ucwa: UcwaService
    relay: RelayService

    @classmethod
    def build(cls) -> World:
        clock = Clock()
        return cls(clock, UcwaService(clock=clock, seed=31), RelayService(clock=clock, seed=32))

    def pairing_token(self) -> str:
        creds = self.relay.credentials
        response = self.relay.handle(
            FakeRequest.build(
                "POST",
                f"{RELAY}/api/auth/accesstokens?seamaccesstoken={creds.seam_token}"
                f"&code={creds.pairing_code}",
            )
        )
        assert response.status == 200, response.body
        return parse_token(response.body).access_token

    def expired_relay_token(self) -> str:
        token = self.relay.issue_token(duration_ms=1000).access_token
        self.clock.advance(5)
        return token

    def expired_bearer(self) -> str:
        bearer = self.ucwa.issue_bearer()
        self.clock.advance(9 * 3600)
        return bearer


Auth = Callable[[World], tuple[dict[str, str], str]]  # -> (headers, extra query)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


UCWA_CREDENTIALS: dict[str, Auth] = {
    "none": lambda w: ({}, ""),
    "expired bearer": lambda w: ({"Authorization": f"Bearer {w.expired_bearer()}"}, ""),
    "unknown bearer": lambda w: ({"Authorization": "Bearer cwt=AAEBHAEFAAAAAAAFFQAAAA"}, ""),
    "bearer without cwt= prefix": lambda w: (
        {"Authorization": "Bearer " + w.ucwa.credentials.bearer.removeprefix("cwt=")},
        "",
    ),
    "empty bearer": lambda w: ({"Authorization": "Bearer "}, ""),
    "wrong scheme: Basic with the UCWA user": lambda w: (
        _basic(w.ucwa.credentials.username, w.ucwa.credentials.password),
        "",
    ),
    "wrong scheme: the bearer as Basic": lambda w: (
        {"Authorization": f"Basic {w.ucwa.credentials.bearer}"},
        "",
    ),
    "wrong scheme: the bearer in X-Access-Token": lambda w: (
        {"X-Access-Token": w.ucwa.credentials.bearer},
        "",
    ),
    "wrong scheme: the bearer in the query": lambda w: (
        {},
        f"access_token={w.ucwa.credentials.bearer}",
    ),
    "a Relay token as UCWA bearer": lambda w: (
        {"Authorization": f"Bearer {w.relay.credentials.access_token}"},
        "",
    ),
    "Relay Basic on UCWA": lambda w: (
        {"Authorization": w.relay.credentials.basic_authorization},
        "",
    ),
}
UCWA_VALID: Auth = lambda w: ({"Authorization": f"Bearer {w.ucwa.credentials.bearer}"}, "")  # noqa: E731

APP_BODY = json.dumps({"userAgent": "sec", "endpointId": "a917c6f4-976c-4cf3-847d-cdfffa28ccdf"})
UCWA_ENDPOINTS: dict[str, tuple[str, Callable[[World], str], int]] = {
    # name: (method, path, status of the positive control)
    "GET autodiscover user": (
        "GET",
        lambda w: "/autodiscover/autodiscoverservice.svc/root/oauth/user",
        200,
    ),
    "POST applications": ("POST", lambda w: "/ucwa/oauth/v1/applications", 201),
    "GET application": (
        "GET",
        lambda w: f"/ucwa/oauth/v1/applications/{w.ucwa.credentials.application_id}",
        200,
    ),
    "DELETE application": (
        "DELETE",
        lambda w: f"/ucwa/oauth/v1/applications/{w.ucwa.credentials.application_id}",
        204,
    ),
    "GET communication": (
        "GET",
        lambda w: f"/ucwa/oauth/v1/applications/{w.ucwa.credentials.application_id}/communication",
        200,
    ),
    "GET mediaRelayAccessToken": ("GET", lambda w: w.ucwa.token_path(), 200),
    "GET mediaRelayAccessToken (/ucwa/v1)": (
        "GET",
        lambda w: w.ucwa.token_path().replace("/oauth/v1/", "/v1/"),
        200,
    ),
    "GET mediaRelay": (
        "GET",
        lambda w: w.ucwa.token_path().replace("mediaRelayAccessToken", "mediaRelay"),
        200,
    ),
}


def _ucwa_request(world: World, endpoint: str, auth: Auth) -> FakeResponse:
    method, path, _ = UCWA_ENDPOINTS[endpoint]
    headers, query = auth(world)
    url = UCWA + path(world) + (f"?{query}" if query else "")
    body = APP_BODY if method == "POST" else None
    headers = {**headers, "Content-Type": "application/json"} if body else headers
    return world.ucwa.handle(FakeRequest.build(method, url, headers, body))


@pytest.mark.parametrize("credential", ["valid", *UCWA_CREDENTIALS])
@pytest.mark.parametrize("endpoint", list(UCWA_ENDPOINTS))
def test_ucwa_security_table(endpoint: str, credential: str) -> None:
    world = World.build()
    if credential == "valid":  # positive control: the table can fail
        response = _ucwa_request(world, endpoint, UCWA_VALID)
        assert response.status == UCWA_ENDPOINTS[endpoint][2], response.body[:200]
        return
    response = _ucwa_request(world, endpoint, UCWA_CREDENTIALS[credential])
    assert response.status == 401, (response.status, response.body[:200])
    assert any("Bearer" in v for v in response.header_all("WWW-Authenticate"))
    assert world.ucwa.issued_tokens == []
    assert world.ucwa.log[-1].expected


def test_ucwa_webticket_refuses_bad_grants() -> None:
    world = World.build()
    creds = world.ucwa.credentials
    url = UCWA + "/WebTicket/oauthtoken"
    form = "application/x-www-form-urlencoded"
    bad = [
        ({}, ""),
        (_basic(creds.username, creds.password), ""),
        ({"Authorization": f"Bearer {creds.bearer}"}, "grant_type=password"),
        ({}, f"grant_type=password&username={creds.username}&password=wrong"),
        ({}, f"grant_type=password&username=someone@else&password={creds.password}"),
        ({}, f"grant_type=client_credentials&username={creds.username}&password={creds.password}"),
    ]
    for headers, body in bad:
        response = world.ucwa.handle(
            FakeRequest.build("POST", url, {**headers, "Content-Type": form}, body)
        )
        assert response.status == 400, (headers, body, response.body)
        assert "access_token" not in response.text()
    good = f"grant_type=password&username={creds.username}&password={creds.password}"
    response = world.ucwa.handle(FakeRequest.build("POST", url, {"Content-Type": form}, good))
    assert response.status == 200 and response.json()["access_token"].startswith("cwt=")


RELAY_CREDENTIALS: dict[str, Auth] = {
    "none": lambda w: ({}, ""),
    "expired token (X-Access-Token)": lambda w: ({"X-Access-Token": w.expired_relay_token()}, ""),
    "expired token (query)": lambda w: ({}, f"accesstoken={w.expired_relay_token()}"),
    "unknown token": lambda w: ({"X-Access-Token": "0123456789abcdefghijklmnopqrstuv"}, ""),
    "unknown seamaccesstoken": lambda w: ({}, "seamaccesstoken=" + "0" * 32),
    "wrong password (Basic)": lambda w: (_basic(w.relay.credentials.username, "nope"), ""),
    "wrong scheme: Bearer with a valid token": lambda w: (
        {"Authorization": f"Bearer {w.relay.credentials.access_token}"},
        "",
    ),
    "wrong scheme: a valid token as Basic": lambda w: (
        {"Authorization": f"Basic {w.relay.credentials.access_token}"},
        "",
    ),
    "a UCWA bearer": lambda w: ({"Authorization": f"Bearer {w.ucwa.credentials.bearer}"}, ""),
    "UCWA Basic user": lambda w: (
        _basic(w.ucwa.credentials.username, w.ucwa.credentials.password),
        "",
    ),
}
# Credentials valid somewhere, but not on these endpoints:
RELAY_NOT_FOR_CREATE: dict[str, Auth] = {
    "valid token (X-Access-Token) on create": lambda w: (
        {"X-Access-Token": w.relay.credentials.access_token},
        "",
    ),
    "valid token (query) on create": lambda w: (
        {},
        f"accesstoken={w.relay.credentials.access_token}",
    ),
}
RELAY_NOT_FOR_USE: dict[str, Auth] = {
    "seamaccesstoken on a non-create endpoint": lambda w: (
        {},
        f"seamaccesstoken={w.relay.credentials.seam_token}",
    ),
}
RELAY_WRONG_ROLE: dict[str, dict[str, Auth]] = {
    "GET /api/endpoints": {
        "pairing-code token": lambda w: ({"X-Access-Token": w.pairing_token()}, ""),
    },
    "POST /api/endpoints": {
        "read-only token": lambda w: (
            {"X-Access-Token": w.relay.credentials.readonly_access_token},
            "",
        ),
        "pairing-code token": lambda w: ({"X-Access-Token": w.pairing_token()}, ""),
    },
}
RELAY_ENDPOINTS: dict[str, tuple[str, Callable[[World], str], list[Auth]]] = {
    "POST /api/auth/accesstokens": (
        "POST",
        lambda w: "/api/auth/accesstokens",
        [
            lambda w: ({"Authorization": w.relay.credentials.basic_authorization}, ""),
            lambda w: ({}, f"seamaccesstoken={w.relay.credentials.seam_token}"),
        ],
    ),
    "GET /api/auth/accesstokens/{token}": (
        "GET",
        lambda w: f"/api/auth/accesstokens/{w.relay.credentials.readonly_access_token}",
        [],
    ),
    "GET /api/enterprises/self": ("GET", lambda w: "/api/enterprises/self", []),
    "GET /api/endpoints": ("GET", lambda w: "/api/endpoints", []),
    "POST /api/endpoints": ("POST", lambda w: "/api/endpoints", []),
}
TOKEN_AUTHS: list[Auth] = [
    lambda w: ({"X-Access-Token": w.relay.credentials.access_token}, ""),
    lambda w: ({}, f"accesstoken={w.relay.credentials.access_token}"),
    lambda w: ({"Authorization": w.relay.credentials.basic_authorization}, ""),
]


def _relay_rows() -> list[tuple[str, str, int]]:
    rows = []
    for endpoint in RELAY_ENDPOINTS:
        creating = endpoint == "POST /api/auth/accesstokens"
        rows += [(endpoint, name, 401) for name in RELAY_CREDENTIALS]
        extra = RELAY_NOT_FOR_CREATE if creating else RELAY_NOT_FOR_USE
        rows += [(endpoint, name, 401) for name in extra]
        rows += [(endpoint, name, 403) for name in RELAY_WRONG_ROLE.get(endpoint, {})]
    return rows


def _relay_request(world: World, endpoint: str, auth: Auth) -> FakeResponse:
    method, path, _ = RELAY_ENDPOINTS[endpoint]
    headers, query = auth(world)
    issued = len(world.relay.issued_tokens)
    url = RELAY + path(world) + (f"?{query}" if query else "")
    body = json.dumps({"name": "Sec Room"}) if method == "POST" else None
    response = world.relay.handle(FakeRequest.build(method, url, headers, body))
    if response.status >= 400:  # a refused request issues nothing
        assert len(world.relay.issued_tokens) == issued
    return response


@pytest.mark.parametrize(("endpoint", "credential", "status"), _relay_rows())
def test_relay_security_table(endpoint: str, credential: str, status: int) -> None:
    world = World.build()
    auth = {
        **RELAY_CREDENTIALS,
        **RELAY_NOT_FOR_CREATE,
        **RELAY_NOT_FOR_USE,
        **RELAY_WRONG_ROLE.get(endpoint, {}),
    }[credential]
    endpoints = len(world.relay.endpoints)
    response = _relay_request(world, endpoint, auth)
    assert response.status == status, (response.status, response.body[:200])
    assert response.json()["errorName"] == (
        "BadCredentialsException" if status == 401 else "AccessDeniedException"
    )
    assert len(world.relay.endpoints) == endpoints


@pytest.mark.parametrize("endpoint", list(RELAY_ENDPOINTS))
def test_relay_security_positive_controls(endpoint: str) -> None:
    """Every accepted credential kind of each endpoint really is accepted."""
    _, _, create_auths = RELAY_ENDPOINTS[endpoint]
    for auth in create_auths or TOKEN_AUTHS:
        world = World.build()
        response = _relay_request(world, endpoint, auth)
        assert response.status == (201 if endpoint == "POST /api/endpoints" else 200), (
            response.body[:200]
        )
