"""Clients written the way real ones are, pointed at the fakes on every transport: a Relay
client that refreshes its token on 401, a urllib client, a raw HTTP/1.0 socket client, a
browser's CORS preflight and request, and a client that asks for gzip and gunzips itself."""

from __future__ import annotations

import base64
import datetime as _dt
import gzip
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest
import requests

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports import FakeTransport, activate_responses
from pytest_relaytokens.transports.server import LoopbackServer
from pytest_relaytokens.ucwa.service import UcwaService

UTC = _dt.timezone.utc
APP_ORIGIN = "https://relay-dashboard.example.com"
FAILURES = [
    {
        "id": "595d0d1de4b0fe8b9bdd0aeb",
        "subjectClass": "ListenerService",
        "subjectId": "527ca9e2776a7e02dd2e15fe",
        "errorDate": 1499270429669,
        "errorCode": 208581637,
        "errorName": "ListenerOffline",
        "errorMessage": "The Listener Service is offline.",
        "errorDetails": {"listenerServiceId": "527ca9e2776a7e02dd2e15fe"},
    }
]


class Session(Protocol):
    """What requests.Session and httpx.Client have in common, as a client uses it."""

    def request(self, method: str, url: str, *, headers: dict[str, str]) -> Any: ...


@dataclass
class Wire:
    """A client library session pointed at a fake, and the base URL it should call."""

    name: str
    session: Any
    base: str


@pytest.fixture
def clock() -> Clock:
    return Clock(_dt.datetime(2019, 7, 5, 16, 0, tzinfo=UTC), frozen=True)


@pytest.fixture
def relay(clock: Clock) -> RelayService:
    service = RelayService(clock=clock, seed=31, cors_origins=(APP_ORIGIN,))
    service.route("GET", "/api/failures/", json=FAILURES)
    return service


@pytest.fixture(params=["requests+responses", "httpx", "requests+loopback", "httpx+loopback"])
def wire(request: pytest.FixtureRequest, relay: RelayService) -> Iterator[Wire]:
    kind = str(request.param)
    if kind == "requests+responses":
        with activate_responses(relay), requests.Session() as session:
            yield Wire(kind, session, relay.base_url)
    elif kind == "httpx":
        with httpx.Client(transport=FakeTransport(relay)) as client:
            yield Wire(kind, client, relay.base_url)
    else:
        with LoopbackServer(relay, timeout=2.0) as server:
            if kind == "requests+loopback":
                with requests.Session() as session:
                    yield Wire(kind, session, server.url)
            else:
                with httpx.Client(timeout=5) as client:
                    yield Wire(kind, client, server.url)


class RelayClient:
    """Like the reference app: Basic once for a token, then ``X-Access-Token`` only; on a 401
    it asks for a new token once and repeats the call."""

    def __init__(self, session: Session, base: str, username: str, password: str) -> None:
        self.session = session
        self.base = base.rstrip("/")
        raw = f"{username}:{password}".encode()
        self.basic = "Basic " + base64.b64encode(raw).decode()
        self.token: str | None = None
        self.refreshes = 0

    def _new_token(self) -> str:
        response = self.session.request(
            "POST",
            self.base + "/api/auth/accesstokens?clientname=failures-report",
            headers={"Authorization": self.basic, "Content-Type": "application/json"},
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(f"token request failed: {response.status_code} {response.text}")
        self.refreshes += 1
        return str(response.json()["accessToken"])

    def get(self, path: str) -> Any:
        if self.token is None:
            self.token = self._new_token()
        for attempt in range(2):
            response = self.session.request(
                "GET", self.base + path, headers={"X-Access-Token": self.token}
            )
            if response.status_code == 401 and attempt == 0:
                envelope = response.json()
                assert envelope["errorName"] == "BadCredentialsException"
                self.token = self._new_token()
                continue
            if response.status_code not in (200, 201):
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text}")
            return response.json()
        raise AssertionError("unreachable")


def test_relay_client_across_expiry_and_revocation(
    wire: Wire, relay: RelayService, clock: Clock
) -> None:
    creds = relay.credentials
    client = RelayClient(wire.session, wire.base, creds.username, creds.password)
    assert client.get("/api/failures/") == FAILURES
    first = client.token
    assert client.get("/api/failures") == FAILURES and client.refreshes == 1
    clock.advance(_dt.timedelta(days=14, seconds=1))  # the default two-week token expired
    assert client.get("/api/failures/") == FAILURES
    second = client.token
    assert client.refreshes == 2 and second != first
    relay.revoke(second or "")
    assert client.get("/api/failures/") == FAILURES
    assert client.refreshes == 3 and client.token not in (first, second)
    # The log shows each dead token was used exactly once (its 401), never again after.
    calls = relay.log.matching("GET", "/api/failures")
    for dead in (first, second):
        used = [e.response.status for e in calls if e.token == dead]
        assert used[-1] == 401 and used.count(401) == 1, (dead, used)
    assert [e.response.status for e in calls] == [200, 200, 401, 200, 401, 200]
    assert sum(1 for e in relay.log if e.request.method == "POST") == 3


def _browser_fetch(wire: Wire, path: str, token: str) -> tuple[int, Any]:
    """What a browser does for ``fetch(url, {headers: {"X-Access-Token": ...}})`` from
    another origin: a preflight first, checked the way the browser checks it, then the
    request, whose answer a script may read only if ``Access-Control-Allow-Origin`` allows."""
    preflight = wire.session.request(
        "OPTIONS",
        wire.base + path,
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-access-token",
        },
    )
    allowed_methods = [
        m.strip() for m in preflight.headers.get("Access-Control-Allow-Methods", "").split(",")
    ]
    allowed_headers = [
        h.strip().lower()
        for h in preflight.headers.get("Access-Control-Allow-Headers", "").split(",")
    ]
    if not (
        200 <= preflight.status_code < 300
        and preflight.headers.get("Access-Control-Allow-Origin") in (APP_ORIGIN, "*")
        and "GET" in allowed_methods
        and "x-access-token" in allowed_headers
    ):
        raise PermissionError("CORS preflight refused")
    response = wire.session.request(
        "GET", wire.base + path, headers={"Origin": APP_ORIGIN, "X-Access-Token": token}
    )
    if response.headers.get("Access-Control-Allow-Origin") != APP_ORIGIN:
        raise PermissionError("CORS response not readable")
    return response.status_code, response.json()


def test_browser_preflight_and_request_to_a_cors_enabled_fake(
    wire: Wire, relay: RelayService
) -> None:
    status, body = _browser_fetch(wire, "/api/failures/", relay.credentials.access_token)
    assert status == 200 and body == FAILURES
    preflights = [e for e in relay.log if e.request.method == "OPTIONS"]
    assert len(preflights) == 1 and preflights[0].response.status == 200
    relay.cors_origins = None  # a stock server: the browser refuses
    with pytest.raises(PermissionError, match="preflight refused"):
        _browser_fetch(wire, "/api/failures/", relay.credentials.access_token)


def test_browser_reads_the_401_envelope_cross_origin(wire: Wire, relay: RelayService) -> None:
    status, body = _browser_fetch(wire, "/api/failures/", "0" * 32)
    assert status == 401 and body["errorName"] == "BadCredentialsException"


# gzip on the UCWA fake (IIS compresses), gunzipped by the client itself ---------------------


@pytest.fixture
def ucwa() -> UcwaService:
    return UcwaService(seed=32)


def _gunzip_json(raw: bytes, encoding: str | None) -> Any:
    assert encoding == "gzip", encoding
    return json.loads(gzip.decompress(raw))


@pytest.mark.parametrize(
    "kind",
    ["requests+responses", "httpx", "urllib+loopback", "requests+loopback", "httpx+loopback"],
)
def test_client_asks_for_gzip_and_gunzips_every_body(kind: str, ucwa: UcwaService) -> None:
    headers = {
        "Authorization": f"Bearer {ucwa.credentials.bearer}",
        "Accept": "application/json",
        "Accept-Encoding": "gzip",
    }
    path = ucwa.token_path()
    if kind == "requests+responses":
        with activate_responses(ucwa):
            response = requests.get(ucwa.base_url + path, headers=headers, stream=True)
            raw = response.raw.read(decode_content=False)
            doc = _gunzip_json(raw, response.headers.get("Content-Encoding"))
    elif kind == "httpx":
        # FakeTransport hands httpx a response already read, so iter_raw() is not available
        # there (see the report); httpx gunzips it exactly as a real server's answer.
        with httpx.Client(transport=FakeTransport(ucwa)) as client:
            answer = client.get(ucwa.base_url + path, headers=headers)
            assert answer.headers["Content-Encoding"] == "gzip"
            raw = gzip.compress(answer.content)
            doc = answer.json()
    else:
        with LoopbackServer(ucwa, timeout=2.0) as server:
            if kind == "urllib+loopback":
                sent = urllib.request.Request(server.url + path, headers=headers)
                with urllib.request.urlopen(sent, timeout=5) as answer:
                    raw = answer.read()
                    assert int(answer.headers["Content-Length"]) == len(raw)
                    doc = _gunzip_json(raw, answer.headers.get("Content-Encoding"))
            elif kind == "requests+loopback":
                response = requests.get(server.url + path, headers=headers, stream=True, timeout=5)
                raw = response.raw.read(decode_content=False)
                doc = _gunzip_json(raw, response.headers.get("Content-Encoding"))
            else:
                client = httpx.Client(timeout=5)
                with client, client.stream("GET", server.url + path, headers=headers) as streamed:
                    raw = b"".join(streamed.iter_raw())
                    doc = _gunzip_json(raw, streamed.headers.get("Content-Encoding"))
    assert raw[:2] == b"\x1f\x8b"
    assert ucwa.issued_tokens[-1].password == doc["password"]


# A urllib client and a raw HTTP/1.0 client on the loopback server ---------------------------


def test_urllib_client_gets_a_token_calls_the_route_and_reads_the_401(relay: RelayService) -> None:
    with LoopbackServer(relay, timeout=2.0) as server:
        create = urllib.request.Request(
            server.url + "/api/auth/accesstokens?clientname=urllib",
            data=b"",
            method="POST",
            headers={"Authorization": relay.credentials.basic_authorization},
        )
        with urllib.request.urlopen(create, timeout=5) as answer:
            token = json.load(answer)["accessToken"]
        call = urllib.request.Request(
            server.url + "/api/failures/", headers={"X-Access-Token": token}
        )
        with urllib.request.urlopen(call, timeout=5) as answer:
            assert json.load(answer) == FAILURES
        relay.revoke(token)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(call, timeout=5)
        assert caught.value.code == 401
        assert json.load(caught.value)["errorName"] == "BadCredentialsException"
        caught.value.close()
        head = urllib.request.Request(
            server.url + "/api/enterprises/self",
            method="HEAD",
            headers={"X-Access-Token": relay.credentials.access_token},
        )
        with urllib.request.urlopen(head, timeout=5) as answer:
            assert answer.status == 200 and answer.read() == b""
            assert int(answer.headers["Content-Length"]) > 0


def test_raw_http10_client_reads_to_end_of_stream(relay: RelayService) -> None:
    # closed at once: the server's idle timeout (60 s) outlasts the client's socket timeout
    # (5 s), so a server that waited for it would fail the read below
    with (
        LoopbackServer(relay, timeout=60.0) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        sock.sendall(
            b"GET /api/failures/ HTTP/1.0\r\nX-Access-Token: "
            + relay.credentials.access_token.encode()
            + b"\r\nUser-Agent: raw/1.0\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(65536):  # an HTTP/1.0 client reads until close
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 200 ")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields["Connection"] == "close" and int(fields["Content-Length"]) == len(body)
    assert json.loads(body) == FAILURES
