"""The stateful Relay fake, driven with FakeRequest directly."""

from __future__ import annotations

import base64
import datetime as _dt
import threading
from typing import Any

import pytest

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeRequest, FakeResponse, TokenPolicy
from pytest_relaytokens.relay import wire
from pytest_relaytokens.relay.service import RelayService

UTC = _dt.timezone.utc
BASE = "https://relay.bluejeans.com"
CREATE = f"{BASE}/api/auth/accesstokens"
SELF = f"{BASE}/api/enterprises/self"
ENDPOINTS = f"{BASE}/api/endpoints"
TWO_WEEKS_MS = 1_209_600_000
ONE_DAY_MS = 86_400_000


@pytest.fixture
def clock() -> Clock:
    return Clock(_dt.datetime(2014, 12, 12, 9, 9, 8, 52000, tzinfo=UTC), frozen=True)


@pytest.fixture
def relay(clock: Clock) -> RelayService:
    return RelayService(clock=clock, seed=5)


def call(
    service: RelayService,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> FakeResponse:
    return service.handle(FakeRequest.build(method, url, headers or {}, body))


def basic(service: RelayService) -> dict[str, str]:
    return {"Authorization": service.credentials.basic_authorization}


def create(service: RelayService, query: str = "", **kw: Any) -> FakeResponse:
    headers = kw.pop("headers", basic(service))
    return call(service, "POST", f"{CREATE}{'?' + query if query else ''}", headers)


def assert_error(response: FakeResponse, status: int, name: str) -> dict[str, Any]:
    assert response.status == status, response.text()
    assert response.header("Content-Type") == "application/json"
    body: dict[str, Any] = response.json()
    assert body["errorName"] == name
    assert list(body) == ["errorCode", "errorDetails", "errorMessage", "errorName"]
    return body


def test_full_flow_basic_token_enterprise_expiry_and_renewal(
    relay: RelayService, clock: Clock
) -> None:
    first = create(relay)
    assert first.status == 200
    assert first.header("Content-Type") == "application/json"
    token = wire.parse_token(first.body)
    assert list(first.json()) == [
        "accessToken",
        "clientName",
        "creationDate",
        "enterpriseName",
        "expirationDate",
        "roles",
    ]
    assert token.creation_ms == clock.now_ms()
    assert token.expiration_ms == clock.now_ms() + TWO_WEEKS_MS
    assert token.roles == ["ROLE_READONLY", "ROLE_READWRITE"]
    assert token.client_name is None
    assert token.enterprise_name == relay.credentials.enterprise_name

    by_query = call(relay, "GET", f"{SELF}?accesstoken={token.access_token}")
    by_header = call(relay, "GET", SELF, {"X-Access-Token": token.access_token})
    assert by_query.status == by_header.status == 200
    assert by_query.body == by_header.body
    enterprise = wire.parse_enterprise(by_query.body)
    assert enterprise.name == token.enterprise_name
    assert list(by_query.json()) == [
        "id",
        "name",
        "label",
        "password",
        "tags",
        "publicKey",
        "pointOfContact",
    ]

    clock.advance(_dt.timedelta(milliseconds=TWO_WEEKS_MS - 1))
    assert call(relay, "GET", SELF, {"X-Access-Token": token.access_token}).status == 200
    clock.advance(_dt.timedelta(milliseconds=1))
    expired = call(relay, "GET", SELF, {"X-Access-Token": token.access_token})
    body = assert_error(expired, 401, "BadCredentialsException")
    assert body["errorMessage"] == "Not Authorized." and body["errorCode"] == 1285563821

    renewed = wire.parse_token(create(relay).body)
    assert renewed.access_token != token.access_token
    assert call(relay, "GET", f"{SELF}?accesstoken={renewed.access_token}").status == 200
    kinds = [e.credential for e in relay.log]
    assert kinds == [
        "basic",
        "accesstoken-query",
        "x-access-token",
        "x-access-token",
        "x-access-token",
        "basic",
        "accesstoken-query",
    ]
    assert all(e.expected for e in relay.log)


@pytest.mark.parametrize(
    ("duration", "expected_ms"),
    [
        (None, TWO_WEEKS_MS),
        ("0", TWO_WEEKS_MS),
        ("", TWO_WEEKS_MS),
        ("60000", 60_000),
        ("-1", None),
        ("1", 1),
    ],
)
def test_duration_cases(relay: RelayService, duration: str | None, expected_ms: int | None) -> None:
    query = "" if duration is None else f"duration={duration}"
    response = create(relay, query)
    assert response.status == 200
    token = wire.parse_token(response.body)
    if expected_ms is None:
        assert response.json()["expirationDate"] is None
        assert token.remaining() is None
    else:
        assert token.expiration_ms == token.creation_ms + expected_ms


@pytest.mark.parametrize(
    "duration", ["-2", "-1000", "abc", "1.5", "1e3", "99999999999999999999", "9223372036854775807"]
)
def test_bad_durations_are_clear_400s(relay: RelayService, duration: str) -> None:
    body = assert_error(create(relay, f"duration={duration}"), 400, "InvalidParameter")
    assert body["errorDetails"]["parameter"] == "duration"
    assert body["errorDetails"]["value"] == duration
    assert "duration" in body["errorMessage"] and repr(duration) in body["errorMessage"]
    assert len(relay.issued_tokens) == 2


def test_seed_never_expiring_example(relay: RelayService) -> None:
    response = create(relay, "roles=ROLE_READONLY&duration=-1&clientname=my_relay_client_app")
    document = response.json()
    assert document["clientName"] == "my_relay_client_app"
    assert document["expirationDate"] is None
    assert document["roles"] == ["ROLE_READONLY"]


def test_seamaccesstoken_creates_a_token(relay: RelayService) -> None:
    response = create(relay, f"seamaccesstoken={relay.credentials.seam_token}", headers={})
    assert response.status == 200
    assert relay.log[-1].credential == "seamaccesstoken"
    bad = create(relay, "seamaccesstoken=f754583448814a31960a1052df53384f", headers={})
    assert_error(bad, 401, "BadCredentialsException")
    assert relay.log[-1].credential == "seamaccesstoken"


def test_seamaccesstoken_only_works_on_create(relay: RelayService) -> None:
    response = call(relay, "GET", f"{SELF}?seamaccesstoken={relay.credentials.seam_token}")
    assert_error(response, 401, "BadCredentialsException")


def test_access_token_cannot_create_tokens(relay: RelayService) -> None:
    headers = {"X-Access-Token": relay.credentials.access_token}
    assert_error(create(relay, headers=headers), 401, "BadCredentialsException")


def test_bad_basic_and_missing_credentials(relay: RelayService) -> None:
    wrong = "Basic " + base64.b64encode(b"myusername:mypassword").decode()
    assert_error(create(relay, headers={"Authorization": wrong}), 401, "BadCredentialsException")
    assert_error(
        create(relay, headers={"Authorization": "Basic !!!"}), 401, "BadCredentialsException"
    )
    assert_error(create(relay, headers={}), 401, "BadCredentialsException")
    assert relay.log[-1].credential is None
    assert_error(
        call(relay, "GET", SELF, {"X-Access-Token": "nope"}), 401, "BadCredentialsException"
    )


def test_basic_works_on_ordinary_calls(relay: RelayService) -> None:
    assert call(relay, "GET", ENDPOINTS, basic(relay)).status == 200
    assert relay.log[-1].credential == "basic"


def test_pairing_code_token(relay: RelayService) -> None:
    creds = relay.credentials
    response = create(
        relay, f"seamaccesstoken={creds.seam_token}&code={creds.pairing_code}", headers={}
    )
    assert response.status == 200
    token = wire.parse_token(response.body)
    assert token.roles == ["ROLE_PAIRINGCODE"]
    assert token.expiration_ms == token.creation_ms + ONE_DAY_MS
    assert token.pairing_code_id and token.pairing_code_endpoint_id
    assert "pairingCodeId" in response.json()
    # A pairing token can read its enterprise but not the endpoint list.
    assert call(relay, "GET", SELF, {"X-Access-Token": token.access_token}).status == 200
    assert_error(
        call(relay, "GET", ENDPOINTS, {"X-Access-Token": token.access_token}),
        403,
        "AccessDeniedException",
    )


def test_pairing_code_needs_seamaccesstoken_and_a_known_code(relay: RelayService) -> None:
    body = assert_error(
        create(relay, f"code={relay.credentials.pairing_code}"), 400, "InvalidParameter"
    )
    assert body["errorDetails"]["parameter"] == "code"
    unknown = create(
        relay, f"seamaccesstoken={relay.credentials.seam_token}&code=000000x", headers={}
    )
    assert_error(unknown, 401, "BadCredentialsException")


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ("ROLE_READONLY", ["ROLE_READONLY"]),
        ("ROLE_READWRITE", ["ROLE_READWRITE"]),
        ("ROLE_READWRITE,ROLE_READONLY", ["ROLE_READONLY", "ROLE_READWRITE"]),
        (" ROLE_READONLY , ", ["ROLE_READONLY"]),
        ("", ["ROLE_READONLY", "ROLE_READWRITE"]),
    ],
)
def test_roles(relay: RelayService, roles: str, expected: list[str]) -> None:
    response = create(relay, f"roles={roles}")
    assert response.json()["roles"] == expected


@pytest.mark.parametrize("roles", ["ROLE_ADMIN", "ROLE_READONLY,ROLE_GOD", "ROLE_PAIRINGCODE"])
def test_unknown_or_unavailable_roles_are_400(relay: RelayService, roles: str) -> None:
    body = assert_error(create(relay, f"roles={roles}"), 400, "InvalidParameter")
    assert body["errorDetails"]["parameter"] == "roles"
    assert body["errorDetails"]["value"] == roles


def test_role_checks_on_endpoints(relay: RelayService) -> None:
    creds = relay.credentials
    readonly = {"X-Access-Token": creds.readonly_access_token}
    full = {"X-Access-Token": creds.access_token}
    listed = call(relay, "GET", ENDPOINTS, readonly)
    assert listed.status == 200 and isinstance(listed.json(), list) and len(listed.json()) == 2
    denied = call(relay, "POST", ENDPOINTS, readonly, b'{"name": "Huddle"}')
    body = assert_error(denied, 403, "AccessDeniedException")
    assert body["errorDetails"]["roles"] == ["ROLE_READONLY"]
    created = call(relay, "POST", ENDPOINTS, full, b'{"name": "Huddle"}')
    assert created.status == 201
    assert created.json()["name"] == "Huddle" and created.json()["password"] is None
    assert len(call(relay, "GET", ENDPOINTS, full).json()) == 3
    assert_error(call(relay, "POST", ENDPOINTS, full, b"{nope"), 400, "InvalidParameter")


def test_get_access_token(relay: RelayService) -> None:
    token = wire.parse_token(create(relay, "clientname=My%20Client%20App").body)
    url = f"{CREATE}/{token.access_token}"
    found = call(relay, "GET", url, {"X-Access-Token": relay.credentials.readonly_access_token})
    assert found.status == 200
    assert wire.parse_token(found.body) == token
    missing = call(relay, "GET", f"{CREATE}/i0gni52qmhtdsht5pvpu68dv96gqvil6", basic(relay))
    body = assert_error(missing, 404, "AccessTokenNotFound")
    assert body["errorDetails"]["accessToken"] == "i0gni52qmhtdsht5pvpu68dv96gqvil6"
    assert_error(call(relay, "GET", url), 401, "BadCredentialsException")


def test_unknown_path_and_method(relay: RelayService) -> None:
    response = call(relay, "GET", f"{BASE}/api/meetings/1/joinflow", basic(relay))
    assert_error(response, 404, "ResourceNotFound")
    assert relay.log[-1].expected is False
    assert_error(call(relay, "DELETE", CREATE, basic(relay)), 405, "MethodNotAllowed")
    assert relay.log.unexpected[-1].request.method == "DELETE"


def test_rate_limit(clock: Clock) -> None:
    relay = RelayService(clock=clock, rate_limit=True)
    headers = {"X-Access-Token": relay.credentials.access_token}
    assert call(relay, "GET", SELF, headers).status == 200
    assert call(relay, "GET", SELF, headers).status == 200
    limited = call(relay, "GET", SELF, headers)
    assert_error(limited, 429, "TooManyRequests")
    assert limited.header("Retry-After") == "1"
    clock.advance(0.999)
    assert call(relay, "GET", SELF, headers).status == 429
    clock.advance(0.001)
    assert call(relay, "GET", SELF, headers).status == 200
    assert call(relay, "GET", SELF, headers).status == 200
    assert call(relay, "GET", SELF, headers).status == 429


def test_no_rate_limit_by_default(relay: RelayService) -> None:
    headers = {"X-Access-Token": relay.credentials.access_token}
    assert {call(relay, "GET", SELF, headers).status for _ in range(10)} == {200}


def test_arm_error(relay: RelayService) -> None:
    relay.arm_error("ListenerOffline", times=2, path=r"/api/endpoints")
    headers = {"X-Access-Token": relay.credentials.access_token}
    assert call(relay, "GET", SELF, headers).status == 200
    assert_error(call(relay, "GET", ENDPOINTS, headers), 503, "ListenerOffline")
    assert relay.log[-1].injected
    assert_error(call(relay, "GET", ENDPOINTS, headers), 503, "ListenerOffline")
    assert call(relay, "GET", ENDPOINTS, headers).status == 200
    with pytest.raises(LookupError, match="BadCredentialsException"):
        relay.arm_error("Nope")


def test_policy_applies_to_pre_issued_and_new_tokens(clock: Clock) -> None:
    relay = RelayService(clock=clock, policy=TokenPolicy(already_expired=True))
    assert_error(
        call(relay, "GET", SELF, {"X-Access-Token": relay.credentials.access_token}),
        401,
        "BadCredentialsException",
    )
    token = wire.parse_token(create(relay).body)
    assert token.is_expired(clock.now())
    never = RelayService(clock=clock, policy=TokenPolicy(never_expires=True))
    assert create(never).json()["expirationDate"] is None
    assert all(t.expiration_date is None for t in never.issued_tokens)
    short = RelayService(clock=clock, policy=TokenPolicy(lifetime=_dt.timedelta(seconds=30)))
    assert wire.parse_token(create(short, "duration=-1").body).remaining(clock.now()) == (
        _dt.timedelta(seconds=30)
    )


def test_server_skew(clock: Clock) -> None:
    skew = _dt.timedelta(minutes=10)
    relay = RelayService(clock=clock, policy=TokenPolicy(server_skew=skew))
    token = wire.parse_token(create(relay, "duration=300000").body)
    assert token.creation_date == clock.now() + skew
    # The client thinks 14 minutes are left; the server expires it after 5.
    clock.advance(_dt.timedelta(minutes=5))
    assert_error(
        call(relay, "GET", SELF, {"X-Access-Token": token.access_token}),
        401,
        "BadCredentialsException",
    )


def test_issue_token_and_issued_tokens(relay: RelayService) -> None:
    before = len(relay.issued_tokens)
    token = relay.issue_token(roles=["ROLE_READONLY"], duration_ms=-1, client_name="x")
    assert relay.issued_tokens[-1] == token and len(relay.issued_tokens) == before + 1
    assert token.expiration_date is None
    assert relay.lookup_token(token.access_token) == token
    with pytest.raises(ValueError, match="duration_ms"):
        relay.issue_token(duration_ms=-5)
    with pytest.raises(ValueError, match="ROLE_X"):
        relay.issue_token(roles=["ROLE_X"])


def test_same_seed_same_credentials(clock: Clock) -> None:
    assert (
        RelayService(clock=clock, seed=9).credentials
        == RelayService(clock=clock, seed=9).credentials
    )
    assert (
        RelayService(clock=clock, seed=9).credentials
        != RelayService(clock=clock, seed=10).credentials
    )


def test_links_are_not_needed_and_other_hosts_work(clock: Clock) -> None:
    relay = RelayService(clock=clock, base_url="http://127.0.0.1:8081")
    response = call(relay, "POST", "http://127.0.0.1:8081/api/auth/accesstokens", basic(relay))
    assert response.status == 200
    assert relay.host == "127.0.0.1:8081"


def test_thread_safety(relay: RelayService) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(20):
                assert create(relay).status == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    tokens = [t.access_token for t in relay.issued_tokens]
    assert len(tokens) == 82 == len(set(tokens))
