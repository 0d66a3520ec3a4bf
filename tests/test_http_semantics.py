"""HTTP semantics shared by the fakes (HEAD, OPTIONS/Allow, CORS, gzip, 405 Allow), driven
through ``FakeService.handle`` and checked on every transport."""

from __future__ import annotations

import gzip
import json
import re
import socket
from collections.abc import Iterator

import httpx
import pytest
import requests

from pytest_relaytokens.http import FakeRequest, FakeResponse, FakeRouter, FakeService, semantics
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports import (
    FakeTransport,
    PathRouter,
    activate_responses,
    responses_transport,
    serve_requests,
)
from pytest_relaytokens.transports.server import FakeServers, LoopbackServer
from pytest_relaytokens.ucwa.service import UcwaService

HOST = "docs.example.test"
BASE = f"https://{HOST}"
APP_ORIGIN = "https://app.contoso.com"


class DocService(FakeService):
    """``/doc`` serves GET and PUT (a JSON document); everything else is a 404."""

    name = "doc"

    def __init__(self, cors_origins: tuple[str, ...] | None = None) -> None:
        super().__init__(base_url=BASE)
        self.cors_origins = cors_origins
        self.dispatched: list[str] = []

    def allowed_methods(self, path: str) -> frozenset[str] | None:
        return frozenset({"GET", "PUT"}) if path == "/doc" else None

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        self.dispatched.append(request.method)
        if request.path != "/doc":
            return FakeResponse(404, [("Content-Type", "text/plain")], b"no"), None, False
        if request.method not in ("GET", "PUT"):
            return FakeResponse(405, [("Content-Type", "text/plain")], b"no"), None, False
        body = json.dumps({"doc": "x" * 200, "method": request.method}).encode()
        return FakeResponse(200, [("Content-Type", "application/json")], body), None, True


def req(method: str, path: str = "/doc", **headers: str) -> FakeRequest:
    return FakeRequest.build(
        method, BASE + path, {k.replace("_", "-"): v for k, v in headers.items()}
    )


def test_head_is_answered_as_get_with_the_same_headers_and_logged_as_head() -> None:
    service = DocService()
    get = service.handle(req("GET"))
    head = service.handle(req("HEAD"))
    assert service.dispatched == ["GET", "GET"]
    # the GET's headers, its Content-Length included (the transports drop the body)
    length = ("Content-Length", str(len(get.body)))
    assert head.status == 200 and head.headers == [*get.headers, length]
    assert head.body == get.body
    assert [e.request.method for e in service.log] == ["GET", "HEAD"]
    assert service.log[1].response.header("Content-Length") == str(len(get.body))


def test_options_answers_allow_without_dispatch_or_auth() -> None:
    service = DocService()
    answer = service.handle(req("OPTIONS"))
    assert answer.status == 200 and answer.body == b""
    assert answer.header("Allow") == "GET, HEAD, OPTIONS, PUT"
    assert answer.header("Access-Control-Allow-Origin") is None
    assert service.dispatched == []
    assert service.log[0].request.method == "OPTIONS"
    unknown = service.handle(req("OPTIONS", "/elsewhere"))
    assert unknown.status == 404  # an unknown path is the service's own 404


def test_405_always_carries_allow() -> None:
    service = DocService()
    answer = service.handle(req("DELETE"))
    assert answer.status == 405 and answer.header("Allow") == "GET, HEAD, OPTIONS, PUT"


def test_cors_is_off_by_default_like_a_stock_server() -> None:
    service = DocService()
    preflight = service.handle(
        req("OPTIONS", Origin=APP_ORIGIN, Access_Control_Request_Method="PUT")
    )
    assert not [k for k, _ in preflight.headers if k.lower().startswith("access-control-")]
    answer = service.handle(req("GET", Origin=APP_ORIGIN))
    assert answer.header("Access-Control-Allow-Origin") is None


def test_cors_preflight_and_request_for_an_allowed_origin() -> None:
    service = DocService(cors_origins=(APP_ORIGIN,))
    preflight = service.handle(
        req(
            "OPTIONS",
            Origin=APP_ORIGIN,
            Access_Control_Request_Method="PUT",
            Access_Control_Request_Headers="content-type, x-ms-origin",
        )
    )
    assert preflight.status == 200 and preflight.body == b""
    assert preflight.header("Access-Control-Allow-Origin") == APP_ORIGIN
    assert preflight.header("Access-Control-Allow-Credentials") == "true"
    assert "PUT" in (preflight.header("Access-Control-Allow-Methods") or "")
    assert preflight.header("Access-Control-Allow-Headers") == "content-type, x-ms-origin"
    assert int(preflight.header("Access-Control-Max-Age") or 0) > 0
    assert service.dispatched == []
    for header in ("Origin", "X-Ms-Origin"):
        answer = service.handle(FakeRequest.build("PUT", BASE + "/doc", {header: APP_ORIGIN}))
        assert answer.header("Access-Control-Allow-Origin") == APP_ORIGIN
        assert "WWW-Authenticate" in (answer.header("Access-Control-Expose-Headers") or "")
        assert "Origin" in (answer.header("Vary") or "")


@pytest.mark.parametrize(
    ("origin", "method"),
    [("https://evil.example", "PUT"), (APP_ORIGIN, "DELETE")],
)
def test_cors_refuses_other_origins_and_methods(origin: str, method: str) -> None:
    service = DocService(cors_origins=(APP_ORIGIN,))
    preflight = service.handle(req("OPTIONS", Origin=origin, Access_Control_Request_Method=method))
    assert preflight.header("Access-Control-Allow-Origin") is None
    if origin != APP_ORIGIN:
        answer = service.handle(req("GET", Origin=origin))
        assert answer.header("Access-Control-Allow-Origin") is None


def test_cors_wildcard_echoes_the_origin() -> None:
    service = DocService(cors_origins=("*",))
    answer = service.handle(req("GET", Origin="http://localhost:8080"))
    assert answer.header("Access-Control-Allow-Origin") == "http://localhost:8080"


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("deflate, gzip;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("*;q=0", False),
        ("gzip;q=nonsense", False),
        ("", False),
    ],
)
def test_gzip_follows_accept_encoding(accept: str, gzipped: bool) -> None:
    service = DocService()
    plain = service.handle(req("GET")).body
    answer = service.handle(req("GET", Accept_Encoding=accept))
    assert (answer.header("Content-Encoding") == "gzip") is gzipped
    assert (gzip.decompress(answer.body) if gzipped else answer.body) == plain
    if gzipped:
        assert "Accept-Encoding" in (answer.header("Vary") or "")
    # the request log keeps the body as the service wrote it
    assert service.log[-1].response.body == plain


def test_no_gzip_for_empty_bodies_and_when_switched_off() -> None:
    service = DocService()
    assert service.handle(req("OPTIONS", Accept_Encoding="gzip")).header("Content-Encoding") is None
    service.compress_responses = False
    assert service.handle(req("GET", Accept_Encoding="gzip")).header("Content-Encoding") is None


def test_accept_encoding_parsing_is_linear_on_hostile_input() -> None:
    hostile = ";" * 50_000 + "gzip" + ",;q=" * 20_000
    assert semantics.accepts_gzip(FakeRequest.build("GET", BASE, {"Accept-Encoding": hostile})) in (
        True,
        False,
    )


def test_relay_routing_is_case_insensitive_and_relay_answers_its_own_404() -> None:
    ucwa, relay = UcwaService(seed=1), RelayService(seed=2)
    for router in (PathRouter([("/api/", relay)], default=ucwa), FakeRouter([ucwa, relay])):
        if isinstance(router, FakeRouter):  # both on one host
            relay.base_url = ucwa.base_url
        answer = router.handle(FakeRequest.build("GET", ucwa.base_url + "/API/Nothing"))
        assert answer.status == 404
        assert json.loads(answer.body)["errorName"] == "ResourceNotFound"
    assert len(ucwa.log) == 0 and len(relay.log) == 2


def test_relay_methods_head_options_and_405_allow() -> None:
    relay = RelayService(seed=3)
    token = {"X-Access-Token": relay.credentials.access_token}
    base = relay.base_url
    assert relay.allowed_methods("/api/endpoints") == frozenset({"GET", "POST"})
    assert relay.allowed_methods("/api/endpoints/") == frozenset({"GET", "POST"})
    assert relay.allowed_methods("/api/nothing") is None
    head = relay.handle(FakeRequest.build("HEAD", base + "/api/enterprises/self", token))
    assert head.status == 200 and json.loads(head.body)["name"] == relay.enterprise.name
    options = relay.handle(FakeRequest.build("OPTIONS", base + "/api/auth/accesstokens"))
    assert options.status == 200 and options.header("Allow") == "OPTIONS, POST"
    put = relay.handle(FakeRequest.build("PUT", base + "/api/enterprises/self", token))
    assert put.status == 405 and put.header("Allow") == "GET, HEAD, OPTIONS"
    assert json.loads(put.body)["errorName"] == "MethodNotAllowed"
    # Relay ran on Spring Boot, which does not compress unless configured
    gz = relay.handle(
        FakeRequest.build(
            "GET", base + "/api/enterprises/self", {**token, "Accept-Encoding": "gzip"}
        )
    )
    assert gz.header("Content-Encoding") is None


# The same answers on every transport ---------------------------------------------------


@pytest.fixture(params=["requests", "responses", "httpx", "loopback"])
def doc_url(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, DocService]]:
    """(transport, base URL, service) with CORS on for APP_ORIGIN."""
    service = DocService(cors_origins=(APP_ORIGIN,))
    if request.param == "loopback":
        with LoopbackServer(service, timeout=2.0) as server:
            yield request.param, server.url, service
    elif request.param == "responses":
        with activate_responses(service):
            yield request.param, BASE, service
    elif request.param == "requests":
        with serve_requests(service):
            yield request.param, BASE, service
    else:
        yield request.param, BASE, service


def _send(
    transport: str, service: DocService, method: str, url: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-cased names) and the decoded body, as the client library sees."""
    if transport == "httpx":
        with httpx.Client(transport=FakeTransport(service)) as client:
            r = client.request(method, url, headers=headers)
            return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content
    with requests.Session() as session:
        resp = session.request(method, url, headers=headers, timeout=5)
        return resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content


def test_every_transport_serves_the_semantics(doc_url: tuple[str, str, DocService]) -> None:
    transport, base, service = doc_url
    status, headers, body = _send(
        transport, service, "GET", base + "/doc", {"Accept-Encoding": "gzip"}
    )
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert json.loads(body)["method"] == "GET"  # the client library gunzipped it
    status, headers, body = _send(transport, service, "HEAD", base + "/doc", {})
    assert status == 200 and body == b"" and headers["content-type"] == "application/json"
    status, headers, body = _send(
        transport,
        service,
        "OPTIONS",
        base + "/doc",
        {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "PUT"},
    )
    assert status == 200 and headers["access-control-allow-origin"] == APP_ORIGIN
    status, headers, _ = _send(transport, service, "PATCH", base + "/doc", {})
    assert status == 405 and headers["allow"] == "GET, HEAD, OPTIONS, PUT"


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_head_has_the_gets_headers_content_length_included_on_every_transport(
    doc_url: tuple[str, str, DocService], encoding: str
) -> None:
    """Found by a stranger's probe: only the loopback server sent a HEAD's Content-Length."""
    transport, base, service = doc_url
    sent = {"Accept-Encoding": encoding}
    _, get, body = _send(transport, service, "GET", base + "/doc", sent)
    status, head, nothing = _send(transport, service, "HEAD", base + "/doc", sent)
    assert status == 200 and nothing == b""
    head.pop("date", None), get.pop("date", None)  # only the server sends one
    if transport == "responses" and not responses_transport._HEAD_LENGTH:
        # responses before request_method: urllib3 would read the length as a cut body
        assert "content-length" not in head
        head["content-length"] = get["content-length"]
    assert head == get  # Content-Length included: the length of the body GET sent
    assert (head.get("content-encoding") == "gzip") == (encoding == "gzip")
    if encoding == "identity":
        assert head["content-length"] == str(len(body))
    logged = service.log[-1].response  # the log agrees with the wire (before gzip)
    assert logged.header("Content-Length") == str(len(service.log[-2].response.body))


def test_an_empty_body_is_framed_with_content_length_0_on_every_transport(
    doc_url: tuple[str, str, DocService],
) -> None:
    transport, base, service = doc_url
    service.arm(lambda r: FakeResponse(200, [("X-Empty", "1")], b""), times=2, path="^/doc$")
    for method in ("GET", "HEAD"):
        status, headers, body = _send(transport, service, method, base + "/doc", {})
        if method == "HEAD" and transport == "responses" and not responses_transport._HEAD_LENGTH:
            assert (status, body, "content-length" in headers) == (200, b"", False)
            continue
        assert (status, body, headers["content-length"]) == (200, b"", "0"), method


def test_head_content_length_is_not_doubled_by_the_server() -> None:
    service = DocService()
    with (
        LoopbackServer(service, timeout=2.0) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
    ):
        sock.sendall(b"HEAD /doc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and rest == b""
    lengths = re.findall(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
    assert lengths == [str(len(service.log[0].response.body)).encode()]


def test_fake_servers_route_api_case_insensitively() -> None:
    ucwa, relay = UcwaService(seed=4), RelayService(seed=5)
    with FakeServers(ucwa, relay) as server:
        answer = requests.get(server.url + "/Api/endpoints", timeout=5)
    assert answer.status_code == 404 and answer.json()["errorName"] == "ResourceNotFound"
    assert len(relay.log) == 1 and len(ucwa.log) == 0


def test_head_is_subject_to_head_and_get_faults() -> None:
    service = DocService()
    service.arm(lambda r: FakeResponse(503), method="GET", path="^/doc$")
    assert service.handle(req("HEAD")).status == 503
    service.arm(lambda r: FakeResponse(502), method="HEAD", path="^/doc$")
    assert service.handle(req("GET")).status == 200  # a HEAD fault leaves GET alone
    assert service.handle(req("HEAD")).status == 502
    assert [e.injected for e in service.log] == [True, False, True]


@pytest.mark.parametrize(
    ("origins", "error"),
    [("https://a.example", ValueError), (["a.example"], ValueError), ([3], ValueError)],
)
def test_cors_origins_are_checked(origins: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="cors_origins"):
        RelayService(cors_origins=origins)  # type: ignore[arg-type]


def test_cors_origins_as_a_constructor_option() -> None:
    relay = RelayService(cors_origins=["https://a.example"])
    assert relay.cors_origins == ("https://a.example",)
    assert RelayService().cors_origins is None
