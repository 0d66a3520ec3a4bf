"""Relay user routes behind the fake's own authentication, revocation, and the carried token
in the request log."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import requests

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.relay.models import ROLE_READONLY, ROLE_READWRITE
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports import FakeTransport, activate_responses, serve_requests
from pytest_relaytokens.transports.server import LoopbackServer
from pytest_relaytokens.ucwa.service import UcwaService

UTC = _dt.timezone.utc
BASE = "https://relay.bluejeans.com"
FAILURES = [{"id": "595d0d1de4b0fe8b9bdd0aeb", "errorName": "ListenerOffline"}]


@pytest.fixture
def clock() -> Clock:
    return Clock(_dt.datetime(2019, 7, 5, 16, 0, tzinfo=UTC), frozen=True)


@pytest.fixture
def relay(clock: Clock) -> RelayService:
    return RelayService(clock=clock, seed=11)


def call(
    relay: RelayService, method: str, path: str, token: str | None = None, **headers: str
) -> FakeResponse:
    sent = dict(headers)
    if token is not None:
        sent["X-Access-Token"] = token
    return relay.handle(FakeRequest.build(method, BASE + path, sent))


def error_name(response: FakeResponse) -> str:
    return str(json.loads(response.body)["errorName"])


def test_static_route_with_trailing_slash_either_way(relay: RelayService) -> None:
    route = relay.route("GET", "/api/failures/", json=FAILURES)
    token = relay.credentials.access_token
    for path in ("/api/failures/", "/api/failures"):
        answer = call(relay, "GET", path, token)
        assert answer.status == 200 and json.loads(answer.body) == FAILURES
        assert answer.content_type == "application/json"
        assert answer.token == token
    assert route.calls == 2 and [r.path for r in route.requests] == [
        "/api/failures/",
        "/api/failures",
    ]
    assert relay.allowed_methods("/api/failures") == frozenset({"GET"})


def test_query_token_and_basic_are_accepted(relay: RelayService) -> None:
    relay.route("GET", "/api/failures/", json=FAILURES)
    token = relay.credentials.access_token
    by_query = call(relay, "GET", f"/api/failures/?accesstoken={token}")
    assert by_query.status == 200 and by_query.token == token
    basic = call(
        relay, "GET", "/api/failures/", Authorization=relay.credentials.basic_authorization
    )
    assert basic.status == 200 and basic.token is None


def test_unknown_expired_and_revoked_tokens_get_the_same_401(
    relay: RelayService, clock: Clock
) -> None:
    relay.route("GET", "/api/failures/", json=FAILURES)
    short = relay.issue_token(duration_ms=60_000)
    doomed = relay.issue_token()
    assert call(relay, "GET", "/api/failures/", short.access_token).status == 200
    assert call(relay, "GET", "/api/failures/", doomed.access_token).status == 200
    relay.revoke(doomed.access_token)
    clock.advance(61)
    answers = {
        "unknown": call(relay, "GET", "/api/failures/", "0" * 32),
        "expired": call(relay, "GET", "/api/failures/", short.access_token),
        "revoked": call(relay, "GET", "/api/failures/", doomed.access_token),
        "none": call(relay, "GET", "/api/failures/"),
    }
    bodies = {name: json.loads(a.body) for name, a in answers.items()}
    assert {a.status for a in answers.values()} == {401}
    assert {b["errorName"] for b in bodies.values()} == {"BadCredentialsException"}
    assert {b["errorCode"] for b in bodies.values()} == {1285563821}
    assert answers["revoked"].headers == answers["unknown"].headers
    # the log says which issued token each request carried (None for an unknown one)
    carried = [e.token for e in relay.log.matching("GET", "/api/failures")]
    assert carried[-4:] == [None, short.access_token, doomed.access_token, None]


def test_roles_guard_the_route(relay: RelayService) -> None:
    relay.route("POST", "/api/failures/clear", status=204, roles=[ROLE_READWRITE])
    readonly = call(relay, "POST", "/api/failures/clear", relay.credentials.readonly_access_token)
    assert readonly.status == 403 and error_name(readonly) == "AccessDeniedException"
    full = call(relay, "POST", "/api/failures/clear", relay.credentials.access_token)
    assert full.status == 204 and full.body == b""
    pairing = relay.issue_token(roles=["ROLE_PAIRINGCODE"])
    assert call(relay, "POST", "/api/failures/clear", pairing.access_token).status == 403


def test_handler_gets_the_request_and_may_return_json_or_a_response(relay: RelayService) -> None:
    seen: list[FakeRequest] = []

    def listing(request: FakeRequest) -> list[Any]:
        seen.append(request)
        return [{"page": request.query_value("page")}]

    relay.route("GET", "/api/listenerservices", handler=listing, roles=[ROLE_READONLY])
    relay.route(
        "DELETE",
        "/api/listenerservices",
        handler=lambda r: FakeResponse(202, [("X-Done", "yes")], b"queued"),
    )
    token = relay.credentials.access_token
    answer = call(relay, "GET", "/api/listenerservices?page=2", token)
    assert json.loads(answer.body) == [{"page": "2"}] and seen[0].header("X-Access-Token") == token
    deleted = call(relay, "DELETE", "/api/listenerservices", token)
    assert (deleted.status, deleted.header("X-Done"), deleted.body) == (202, "yes", b"queued")
    assert deleted.token == token
    assert relay.allowed_methods("/api/listenerservices") == frozenset({"GET", "DELETE"})
    put = call(relay, "PUT", "/api/listenerservices", token)
    assert put.status == 405 and put.header("Allow") == "DELETE, GET, HEAD, OPTIONS"


def test_a_bad_handler_result_is_reported_clearly(relay: RelayService) -> None:
    relay.route("GET", "/api/odd", handler=lambda r: "text")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match=r"route GET /api/odd: handler must return"):
        call(relay, "GET", "/api/odd", relay.credentials.access_token)


def test_faults_apply_to_user_routes(relay: RelayService) -> None:
    relay.route("GET", "/api/failures/", json=FAILURES)
    relay.arm_error("TooManyRequests", path=r"^/api/failures")
    token = relay.credentials.access_token
    first = call(relay, "GET", "/api/failures/", token)
    assert first.status == 429 and first.token == token and relay.log[-1].injected
    assert call(relay, "GET", "/api/failures/", token).status == 200


def test_user_route_overrides_a_built_in_one_and_route_replaces_route(relay: RelayService) -> None:
    relay.route("GET", "/api/enterprises/self", json={"name": "mine"})
    relay.route("GET", "/api/enterprises/self", json={"name": "again"})
    answer = call(relay, "GET", "/api/enterprises/self", relay.credentials.access_token)
    assert json.loads(answer.body) == {"name": "again"}


def test_revoke_hides_the_token_and_rejects_unknown_ones(relay: RelayService) -> None:
    token = relay.issue_token()
    path = f"/api/auth/accesstokens/{token.access_token}"
    assert call(relay, "GET", path, relay.credentials.access_token).status == 200
    assert relay.revoke(token) is token and relay.is_revoked(token.access_token)
    gone = call(relay, "GET", path, relay.credentials.access_token)
    assert gone.status == 404
    assert call(relay, "GET", "/api/enterprises/self", token.access_token).status == 401
    with pytest.raises(LookupError, match="not a token this fake issued"):
        relay.revoke("nope")


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("GET", "failures"), {}, "must start with '/api/'"),
        (("GET", "/api/x?a=1"), {}, "query or fragment"),
        (("G T", "/api/x"), {}, "HTTP method token"),
        (("GET", "/api/x"), {"json": [], "body": b""}, "give one of"),
        (("GET", "/api/x"), {"status": 99}, "HTTP status"),
        (("GET", "/api/x"), {"roles": ["ROLE_ADMIN"]}, "unknown roles"),
        (("GET", "/api/x"), {"roles": "ROLE_READONLY"}, "list of role names"),
        (("GET", "/api/x"), {"handler": 3}, "callable"),
        (("GET", "/api/x"), {"headers": {"X": 1}}, "must be str"),
    ],
)
def test_route_arguments_are_checked(
    relay: RelayService, args: tuple[str, str], kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        relay.route(*args, **kwargs)


def test_downstream_suite_uses_routes_and_revoke_through_the_fixtures(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_downstream="""
import httpx
import requests


def test_failures_across_revoke(relay_api, relaytokens_clock):
    relay_api.route("GET", "/api/failures/", json=[{"errorName": "ListenerOffline"}])
    url = f"{relay_api.base_url}/api/failures/"
    token = relay_api.credentials.access_token
    assert requests.get(url, headers={"X-Access-Token": token}).json()[0]["errorName"]
    assert httpx.get(url, headers={"X-Access-Token": token}).status_code == 200
    relay_api.revoke(token)
    answer = requests.get(url, headers={"X-Access-Token": token})
    assert answer.status_code == 401
    assert answer.json()["errorName"] == "BadCredentialsException"
    assert [e.token == token for e in relay_api.log] == [True, True, True]


def test_role_guard_fails_the_client(relay_api):
    relay_api.route("POST", "/api/failures/clear", status=204, roles=["ROLE_READWRITE"])
    url = f"{relay_api.base_url}/api/failures/clear"
    token = relay_api.credentials.readonly_access_token
    assert requests.post(url, headers={"X-Access-Token": token}).status_code == 204
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_role_guard_fails_the_client*", "*403*"])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"headers": {"X-Evil": "a\r\nSet-Cookie: b"}}, ValueError, "CR, LF or NUL"),
        ({"headers": [("X-Nul", "a\0")]}, ValueError, "CR, LF or NUL"),
        # found by a stranger's probe: a bad name was accepted, then refused per transport
        ({"headers": {"X A": "b"}}, ValueError, "invalid header name 'X A'"),
        ({"headers": {"": "b"}}, ValueError, "invalid header name ''"),
        ({"headers": {"X:A": "b"}}, ValueError, "invalid header name 'X:A'"),
        ({"headers": {"X-Bell": "a\x07"}}, ValueError, "value of header 'X-Bell'"),
        ({"headers": {"X-Euro": "\u20ac"}}, ValueError, "value of header 'X-Euro'"),
        ({"status": 101}, ValueError, "200 to 599"),
        ({"status": True}, ValueError, "200 to 599"),
        ({"body": 5}, TypeError, "bytes or str"),
    ],
)
def test_route_arguments_are_checked_as_the_ucwa_fake_checks_them(
    relay: RelayService, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        relay.route("GET", "/api/failures/", **kwargs)
    with pytest.raises(error, match=message):
        UcwaService(seed=1).route("GET", "people/search", **kwargs)


def test_a_raw_body_without_content_type_is_octet_stream_on_both_fakes(relay: RelayService) -> None:
    relay.route("GET", "/api/blob/", body=b"\x00\x01")
    answer = call(relay, "GET", "/api/blob/", relay.credentials.access_token)
    assert answer.status == 200 and answer.body == b"\x00\x01"
    assert answer.content_type == "application/octet-stream"
    assert answer.header("Cache-Control") is not None  # the fake's own headers stay


# A handler's answer no transport may write: the same 500 everywhere ------------------------

#: What a GET of ``path`` with ``headers`` gives on a transport: (status, body text, headers
#: by lower-cased name).
Get = Callable[[str, dict[str, str]], tuple[int, str, dict[str, str]]]


@pytest.fixture(params=["requests", "responses", "httpx", "loopback"])
def get_on(request: pytest.FixtureRequest, relay: RelayService) -> Iterator[Get]:
    """A GET on ``relay`` through one transport, with a real client."""

    def with_requests(base: str) -> Get:
        def get(path: str, headers: dict[str, str]) -> tuple[int, str, dict[str, str]]:
            with requests.Session() as session:
                r = session.get(base + path, headers=headers, timeout=5)
                return r.status_code, r.text, {k.lower(): v for k, v in r.headers.items()}

        return get

    if request.param == "httpx":

        def get(path: str, headers: dict[str, str]) -> tuple[int, str, dict[str, str]]:
            with httpx.Client(transport=FakeTransport(relay)) as client:
                r = client.get(BASE + path, headers=headers)
                return r.status_code, r.text, {k.lower(): v for k, v in r.headers.items()}

        yield get
    elif request.param == "loopback":
        with LoopbackServer(relay, timeout=2.0) as server:
            yield with_requests(server.url)
            assert [str(e) for e in server.errors] == [
                e.response.problem for e in relay.log if e.response.problem
            ]
    else:
        with serve_requests(relay) if request.param == "requests" else activate_responses(relay):
            yield with_requests(BASE)


_IN_X_A = "a control or non-Latin-1 character in the value of header 'X-A'"


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (("X-A", "a\r\nSet-Cookie: evil=1"), _IN_X_A),
        (("X-A", "a\x00b"), _IN_X_A),
        (("X-A", "a\x1fb"), _IN_X_A),
        (("X-A", "euro \u20ac"), _IN_X_A),
        (("X A", "b"), "an invalid header name 'X A'"),
        (("", "b"), "an invalid header name ''"),
    ],
)
def test_a_handler_header_no_transport_may_write_is_the_same_500_everywhere(
    relay: RelayService, get_on: Get, header: tuple[str, str], problem: str
) -> None:
    """Found by a stranger's probe: the in-process transports delivered the header."""
    relay.route(
        "GET", "/api/bad/", handler=lambda r: FakeResponse(200, [header, ("X-B", "ok")], b"{}")
    )
    route = relay.route("GET", "/api/good/", handler=lambda r: FakeResponse(200, [], b"{}"))
    token = {"X-Access-Token": relay.credentials.access_token}
    status, text, headers = get_on("/api/bad/", token)
    assert (status, text) == (500, f"the fake returned {problem}\n")
    assert "x-b" not in headers and "set-cookie" not in headers
    assert headers["content-type"] == "text/plain; charset=utf-8"
    logged = relay.log[-1].response  # the log holds the 500 that was sent, and why
    assert (logged.status, logged.problem) == (500, problem)
    assert get_on("/api/good/", token)[0] == 200 and route.calls == 1


@pytest.mark.parametrize("status", [101, 199, 600, 0])
def test_a_handler_status_no_transport_may_send_is_the_same_500_everywhere(
    relay: RelayService, get_on: Get, status: int
) -> None:
    """A 1xx or out-of-range status as a final answer: the server refused it, the in-process
    transports delivered it; now every transport sends the same 500."""
    relay.route("GET", "/api/odd/", handler=lambda r: FakeResponse(status, [], b"{}"))
    token = {"X-Access-Token": relay.credentials.access_token}
    problem = f"status {status} as a final answer (expected 200-599)"
    assert get_on("/api/odd/", token)[:2] == (500, f"the fake returned {problem}\n")
    assert relay.log[-1].response.problem == problem


def test_a_fault_responder_header_no_transport_may_write_is_the_same_500(
    relay: RelayService, get_on: Get
) -> None:
    relay.arm(lambda r: FakeResponse(503, [("Retry-After", "1\r\nX-Evil: 1")]), path="enterp")
    token = {"X-Access-Token": relay.credentials.access_token}
    status, text, headers = get_on("/api/enterprises/self", token)
    assert (status, text) == (
        500,
        "the fake returned a control or non-Latin-1 character in the value of header "
        "'Retry-After'\n",
    )
    assert "retry-after" not in headers and "x-evil" not in headers
    assert relay.log[-1].injected and relay.log[-1].response.status == 500
    assert get_on("/api/enterprises/self", token)[0] == 200


def test_routes_and_handler_headers_through_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_headers="""
import httpx
import pytest
import requests
from pytest_relaytokens.http import FakeResponse


def test_bad_names_are_refused_at_once(relay_api):
    with pytest.raises(ValueError, match="invalid header name 'X A'"):
        relay_api.route("GET", "/api/x/", json={}, headers={"X A": "b"})


def test_a_bad_handler_header_is_a_500_for_requests_and_httpx(relay_api):
    relay_api.route("GET", "/api/x/", handler=lambda r: FakeResponse(
        200, [("X-A", "a\\r\\nSet-Cookie: evil")], b"{}"))
    url = f"{relay_api.base_url}/api/x/"
    token = {"X-Access-Token": relay_api.credentials.access_token}
    for answer in (requests.get(url, headers=token), httpx.get(url, headers=token)):
        assert answer.status_code == 500, answer.status_code
        assert "header 'X-A'" in answer.text and "Set-Cookie" not in answer.headers
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)
