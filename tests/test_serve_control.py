"""The serve control plane (``/__relaytokens/``) in process: a real loopback server, the
stdlib :class:`AdminClient`, and plain urllib clients of the fakes."""

from __future__ import annotations

import datetime as _dt
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_relaytokens.admin import AdminClient, AdminError
from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeService
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports import PathRouter
from pytest_relaytokens.transports.control import (
    CONTROL_PREFIX,
    TOKEN_HEADER,
    ControlPlane,
    ServeState,
    new_admin_token,
)
from pytest_relaytokens.transports.server import LoopbackServer
from pytest_relaytokens.ucwa.service import UcwaService


class Served:
    """A serve-like server in process: ``url``, ``admin`` (client), ``state``."""

    def __init__(self, start_routes: list[dict[str, Any]] | None = None) -> None:
        self.token = new_admin_token()
        self._late: ControlPlane | None = None
        self.server = LoopbackServer(self).start()
        self.url = self.server.url

        def build(clock: Clock) -> dict[str, FakeService]:
            ucwa = UcwaService(base_url=self.url, clock=clock, seed=3)
            ucwa.application_idle_lifetime = None
            return {"ucwa": ucwa, "relay": RelayService(base_url=self.url, clock=clock, seed=3)}

        self.state = ServeState(build, PathRouter(), self.url, start_routes)
        self._late = ControlPlane(self.state, self.token)
        self.admin = AdminClient(self.url, self.token)

    def handle(self, request: Any) -> Any:
        assert self._late is not None
        return self._late.handle(request)

    @property
    def relay(self) -> Any:
        return self.state.services["relay"]

    @property
    def ucwa(self) -> Any:
        return self.state.services["ucwa"]

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.url + path, data=body or None, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def new_relay_token(self) -> dict[str, Any]:
        auth = {"Authorization": self.relay.credentials.basic_authorization}
        status, body = self.call("POST", "/api/auth/accesstokens", auth)
        assert status == 200, body
        return dict(json.loads(body))

    def relay_get(self, path: str, token: str) -> int:
        return self.call("GET", path, {"X-Access-Token": token})[0]


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served()
    try:
        yield s
    finally:
        s.server.stop()


def _raw(url: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Any:
    request = urllib.request.Request(url + path, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- the token guard ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, {TOKEN_HEADER: ""}, {TOKEN_HEADER: "wrong-token-of-32-characters-xxxx"}],
    ids=["none", "empty", "wrong"],
)
def test_no_token_no_control(served: Served, headers: dict[str, str]) -> None:
    before = served.state.clock.now()
    status, doc = _raw(
        served.url, "POST", CONTROL_PREFIX + "clock/advance", headers, b'{"seconds": 86400}'
    )
    assert status == 401
    assert TOKEN_HEADER in doc["error"]
    # a token given but wrong is called wrong, not missing
    given = bool(headers.get(TOKEN_HEADER))
    assert ("is wrong" in doc["error"]) is given, doc["error"]
    assert ("needs the admin token" in doc["error"]) is not given, doc["error"]
    assert served.state.clock.now() - before < _dt.timedelta(hours=1)  # nothing moved


def test_the_token_in_the_query_or_as_a_bearer_is_not_enough(served: Served) -> None:
    for path, headers in (
        (f"{CONTROL_PREFIX}clock?token={served.token}", {}),
        (f"{CONTROL_PREFIX}clock", {"Authorization": f"Bearer {served.token}"}),
    ):
        assert _raw(served.url, "GET", path, headers)[0] == 401


def test_unknown_operation_lists_the_operations_and_wrong_method_says_allow(
    served: Served,
) -> None:
    status, doc = _raw(served.url, "GET", CONTROL_PREFIX + "nope", {TOKEN_HEADER: served.token})
    assert status == 404
    assert CONTROL_PREFIX + "clock/advance" in doc["operations"]
    with pytest.raises(AdminError) as caught:
        served.admin.call("GET", "reset")
    assert caught.value.status == 405
    assert "POST" in caught.value.message


def test_the_index_lists_every_operation(served: Served) -> None:
    index = served.admin.call("GET", "")
    paths = {(op["method"], op["path"]) for op in index["operations"]}
    assert ("POST", CONTROL_PREFIX + "errors") in paths
    assert index["services"] == ["relay", "ucwa"]


# --- clock -------------------------------------------------------------------------------------
def test_clock_advance_moves_what_the_fakes_issue(served: Served) -> None:
    first = served.new_relay_token()
    moved = served.admin.advance_clock(7 * 86400)
    later = served.new_relay_token()
    assert later["creationDate"] - first["creationDate"] >= 7 * 86400 * 1000
    assert moved["now_ms"] >= first["creationDate"] + 7 * 86400 * 1000


def test_clock_set_and_freeze(served: Served) -> None:
    doc = served.admin.set_clock("2031-05-06T07:08:09Z")
    assert doc["now"].startswith("2031-05-06T07:08")
    frozen = served.admin.freeze_clock()
    assert frozen["frozen"] is True
    assert served.admin.clock()["now"] == frozen["now"]
    token = served.new_relay_token()
    assert token["creationDate"] == frozen["now_ms"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seconds": "soon"}, "seconds"),
        ({"seconds": True}, "seconds"),
        ({"seconds": 1e300}, "seconds"),
        ({"seconds": 10**400}, "seconds"),
        ({"seconds": float("nan")}, "seconds"),
        ({}, "seconds"),
        ({"seconds": 1, "extra": 1}, "extra"),
    ],
)
def test_clock_advance_bad_input_names_the_field(
    served: Served, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(AdminError) as caught:
        served.admin.call("POST", "clock/advance", body)
    assert caught.value.status == 400
    assert caught.value.message.startswith(field + ":")


def test_a_body_that_is_not_a_json_object_is_400(served: Served) -> None:
    for body in (b"{", b"[1]", b'"x"', b"[" * 100_000):
        status, doc = _raw(
            served.url, "POST", CONTROL_PREFIX + "clock/set", {TOKEN_HEADER: served.token}, body
        )
        assert status == 400, body[:10]
        assert doc["error"].startswith("body:")


# --- token policy ------------------------------------------------------------------------------
def test_policy_expired_makes_the_next_tokens_expired(served: Served) -> None:
    good = served.new_relay_token()
    assert served.admin.set_policy(expired=True)["expired"] is True
    bad = served.new_relay_token()
    assert bad["expirationDate"] < bad["creationDate"]
    assert served.relay_get("/api/enterprises/self", bad["accessToken"]) == 401
    assert served.relay_get("/api/enterprises/self", good["accessToken"]) == 200


def test_policy_expires_in_never_and_skew(served: Served) -> None:
    served.admin.set_policy(expires_in=90)
    token = served.new_relay_token()
    assert token["expirationDate"] - token["creationDate"] == 90_000
    served.admin.set_policy(never_expires=True)
    assert served.new_relay_token()["expirationDate"] is None
    before = served.state.clock.now_ms()
    served.admin.set_policy(skew=3600)
    assert served.new_relay_token()["creationDate"] >= before + 3600_000
    assert served.admin.call("GET", "policy")["skew"] == 3600


def test_policy_rejects_two_lifetimes(served: Served) -> None:
    with pytest.raises(AdminError, match="give one of"):
        served.admin.set_policy(expired=True, expires_in=10)
    with pytest.raises(AdminError, match="expires_in"):
        served.admin.call("POST", "policy", {"expires_in": -1})


# --- faults ------------------------------------------------------------------------------------
def test_arm_a_catalogue_error_by_id_with_times_and_method(served: Served) -> None:
    token = served.relay.credentials.access_token
    served.admin.arm_error("relay", "429-TooManyRequests", times=2, method="GET")
    assert served.relay_get("/api/enterprises/self", token) == 429
    assert served.new_relay_token()["accessToken"]  # a POST: not armed
    assert served.relay_get("/api/enterprises/self", token) == 429
    assert served.relay_get("/api/enterprises/self", token) == 200
    counts = served.admin.coverage()
    assert counts["relay"]["429-TooManyRequests"] == 2
    assert counts["ucwa"]["409-Conflict-AlreadyExists"] == 0


def test_ucwa_errors_hit_the_token_resource_by_default(served: Served) -> None:
    ucwa = served.ucwa
    auth = {"Authorization": f"Bearer {ucwa.credentials.bearer}"}
    served.admin.arm_error("ucwa", "503-ServiceUnavailable", times=None)
    app = ucwa.credentials.application_id
    assert served.call("GET", f"/ucwa/oauth/v1/applications/{app}", auth)[0] == 200
    assert served.call("GET", ucwa.token_path(), auth)[0] == 503
    assert served.call("GET", ucwa.token_path(), auth)[0] == 503  # times=None: always
    assert served.admin.clear_faults() == []
    assert served.call("GET", ucwa.token_path(), auth)[0] == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service": "relay", "id": "NoSuchError"}, "id"),
        ({"service": "teams", "id": "x"}, "service"),
        ({"service": "relay", "id": "429-TooManyRequests", "times": 0}, "times"),
        ({"service": "relay", "id": "429-TooManyRequests", "path": "("}, "path"),
        ({"service": "relay"}, "id"),
    ],
)
def test_arm_error_bad_input_names_the_field(
    served: Served, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(AdminError) as caught:
        served.admin.call("POST", "errors", body)
    assert caught.value.status == 400
    assert caught.value.message.startswith(field + ":"), caught.value.message
    assert served.admin.faults() == []


def test_drop_closes_the_connection_without_an_answer(served: Served) -> None:
    served.admin.arm_drop("relay", path="enterprises")
    token = served.relay.credentials.access_token
    with pytest.raises((http.client.RemoteDisconnected, urllib.error.URLError, ConnectionError)):
        served.relay_get("/api/enterprises/self", token)
    assert served.relay_get("/api/enterprises/self", token) == 200


def test_delay_is_armed_and_consumed(served: Served) -> None:
    armed = served.admin.arm_delay("relay", 0.01, times=1)
    assert armed["delay"] == 0.01
    assert served.admin.faults()[0]["label"] == "delay 0.01s"
    assert served.relay_get("/api/enterprises/self", served.relay.credentials.access_token) == 200
    assert served.admin.faults() == []


def test_sequence_answers_in_order(served: Served) -> None:
    token = served.relay.credentials.access_token
    served.admin.arm_sequence("relay", ["401-BadCredentialsException", None, "503-ListenerOffline"])
    statuses = [served.relay_get("/api/enterprises/self", token) for _ in range(4)]
    assert statuses == [401, 200, 503, 200]


def test_unconsumed_faults_are_listed_with_why_and_optional_ones_are_not(
    served: Served,
) -> None:
    token = served.relay.credentials.access_token
    served.admin.arm_error("relay", "401-BadCredentialsException", method="GET")
    served.admin.arm_delay("relay", 0.01, times=None, optional=True)
    served.admin.arm_sequence("relay", ["503-ListenerOffline", None], path="^/api/x$")
    armed = served.admin.faults()
    assert [(f["label"], f["used"], f["optional"]) for f in armed] == [
        ("401-BadCredentialsException", 0, False),
        ("delay 0.01s", 0, True),
        ("arm_sequence step 1 of 2: 503-ListenerOffline", 0, False),
        ("arm_sequence step 2 of 2: pass", 0, False),
    ]
    assert [f["why"] for f in served.admin.unconsumed_faults()] == [
        "401-BadCredentialsException on GET every path (1 use(s) left)",
        "arm_sequence step 1 of 2: 503-ListenerOffline on paths matching '^/api/x$' "
        "(1 use(s) left)",
        "arm_sequence step 2 of 2: pass on paths matching '^/api/x$' (1 use(s) left)",
    ]
    assert served.relay_get("/api/enterprises/self", token) == 401
    assert served.relay_get("/api/enterprises/self", token) == 200  # the delay, optional
    delay = served.admin.faults()[0]
    assert (delay["label"], delay["used"]) == ("delay 0.01s", 1)
    assert [f["label"][:17] for f in served.admin.unconsumed_faults()] == ["arm_sequence step"] * 2


def test_optional_must_be_true_or_false(served: Served) -> None:
    with pytest.raises(AdminError) as caught:
        served.admin.call("POST", "drops", {"service": "relay", "optional": "yes"})
    assert caught.value.message.startswith("optional: must be bool"), caught.value.message
    assert served.admin.faults() == []


def test_sequence_with_an_unknown_step_arms_nothing(served: Served) -> None:
    with pytest.raises(AdminError, match=r"steps\[1\]"):
        served.admin.arm_sequence("relay", [None, "Nope"])
    assert served.admin.faults() == []


# --- revoke ------------------------------------------------------------------------------------
def test_revoke_a_relay_token_and_a_ucwa_bearer(served: Served) -> None:
    token = served.new_relay_token()["accessToken"]
    assert served.admin.revoke(token) == {"revoked": True, "service": "relay"}
    assert served.relay_get("/api/enterprises/self", token) == 401
    bearer = served.ucwa.credentials.bearer
    assert served.admin.revoke(bearer, "ucwa")["service"] == "ucwa"
    status, _ = served.call("GET", served.ucwa.token_path(), {"Authorization": f"Bearer {bearer}"})
    assert status == 401
    with pytest.raises(AdminError, match="no fake issued"):
        served.admin.revoke("never-issued")


# --- routes ------------------------------------------------------------------------------------
def test_add_and_remove_a_relay_route(served: Served) -> None:
    token = served.relay.credentials.access_token
    assert served.relay_get("/api/failures/", token) == 404
    added = served.admin.add_route("GET", "/api/failures/", json=[{"id": 1}])
    assert added["service"] == "relay"
    for path in ("/api/failures/", "/api/failures"):
        status, body = served.call("GET", path, {"X-Access-Token": token})
        assert (status, json.loads(body)) == (200, [{"id": 1}])
    assert served.call("GET", "/api/failures/")[0] == 401  # behind the fake's own auth
    assert served.admin.routes()[0]["calls"] == 2
    served.admin.remove_route("GET", "/api/failures/")
    assert served.relay_get("/api/failures/", token) == 404
    with pytest.raises(AdminError, match="no route"):
        served.admin.remove_route("GET", "/api/failures/")


def test_route_roles_status_headers(served: Served) -> None:
    served.admin.add_route(
        "POST",
        "/api/audit",
        status=201,
        headers={"X-Audit": "yes"},
        json={"ok": True},
        roles=["ROLE_READWRITE"],
    )
    readonly = served.relay.credentials.readonly_access_token
    full = served.relay.credentials.access_token
    assert served.call("POST", "/api/audit", {"X-Access-Token": readonly}, b"{}")[0] == 403
    assert served.call("POST", "/api/audit", {"X-Access-Token": full}, b"{}")[0] == 201


def test_open_route_answers_without_credentials(served: Served) -> None:
    served.admin.add_route("GET", "/healthz", json={"up": True}, auth=False)
    assert served.call("GET", "/healthz") == (200, b'{"up": true}')
    assert served.admin.log("open")[0]["url"].endswith("/healthz")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "GET", "path": "/api/x", "status": "200"}, "status"),
        ({"method": "GET", "path": "/api/x", "status": 99}, "status"),
        ({"method": "GET", "path": "x"}, "path"),
        ({"method": "GET", "path": CONTROL_PREFIX + "x"}, "path"),
        ({"path": "/api/x"}, "method"),
        ({"method": "GET", "path": "/api/x", "headers": {"A": 1}}, "headers"),
        ({"method": "GET", "path": "/api/x", "roles": ["ROLE_GOD"]}, "unknown roles"),
        ({"method": "GET", "path": "/api/x", "auth": False, "roles": ["ROLE_READONLY"]}, "roles"),
        ({"method": "GET", "path": "/api/x", "colour": "red"}, "colour"),
        ({"method": "GET", "path": "/api/x", "json": {}, "body": "x"}, "json"),
    ],
)
def test_route_bad_input_names_the_field(served: Served, body: dict[str, Any], field: str) -> None:
    with pytest.raises(AdminError) as caught:
        served.admin.call("POST", "routes", body)
    assert caught.value.status == 400
    assert caught.value.message.startswith(field), caught.value.message
    assert served.admin.routes() == []


# --- reset, log ----------------------------------------------------------------------------------
def test_reset_restores_the_start_state_with_the_same_credentials() -> None:
    start = [
        {
            "where": "",
            "service": "relay",
            "auth": True,
            "method": "GET",
            "path": "/api/x",
            "status": 200,
            "headers": None,
            "json": {"start": 1},
            "body": None,
            "roles": None,
        }
    ]
    s = Served(start)
    try:
        creds = s.relay.credentials
        old_relay = s.relay
        s.admin.advance_clock(10 * 86400)
        s.admin.set_policy(expired=True)
        s.admin.arm_error("relay", "429-TooManyRequests", times=None)
        s.admin.add_route("GET", "/api/y", json={})
        assert s.admin.reset() == {"reset": True}
        assert s.relay is not old_relay  # fresh fakes, moto style
        assert s.relay.credentials.access_token == creds.access_token  # same seed
        assert s.relay_get("/api/enterprises/self", creds.access_token) == 200
        assert [r["path"] for r in s.admin.routes()] == ["/api/x"]
        assert s.admin.faults() == []
        assert s.admin.call("GET", "policy")["expired"] is False
        assert s.admin.log() == [{**s.admin.log()[0], "url": s.url + "/api/enterprises/self"}]
    finally:
        s.server.stop()


def test_log_is_redacted(served: Served) -> None:
    token = served.relay.credentials.access_token
    served.relay_get(f"/api/enterprises/self?accesstoken={token}", token)
    served.relay_get(f"/api/auth/accesstokens/{token}", token)
    text = json.dumps(served.admin.log())
    assert token not in text
    assert served.relay.credentials.password not in text
    entries = served.admin.log("relay")
    assert [e["status"] for e in entries] == [200, 200]
    assert entries[0]["credential"] in ("x-access-token", "accesstoken-query")


def test_the_same_state_objects_as_in_process_fakes(served: Served) -> None:
    """Faults armed in process and over the control plane sit in one plan."""
    served.relay.arm_error("TooManyRequests")
    assert served.admin.faults()[0]["service"] == "relay"
    served.admin.arm_drop("ucwa")
    assert served.ucwa.faults.armed[0].drop_connection
