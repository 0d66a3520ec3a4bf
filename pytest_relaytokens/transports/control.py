"""The control plane of ``relaytokens serve``: JSON in and out under ``/__relaytokens/``,
behind an admin token, acting on the same service objects the in-process fakes are.

Like moto's ``/moto-api/reset`` and WireMock's ``/__admin``: one reserved prefix, never a
path either real API uses. Every operation is a row of :data:`OPERATIONS`; a body field that
is wrong is a 400 naming the field. Without the token (header ``X-Relaytokens-Admin-Token``,
compared in constant time) nothing is controlled: 401.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..cassettes.structure import safe_url
from ..clock import Clock
from ..http import FakeRequest, FakeResponse, FakeService, Fault, TokenPolicy
from ..http.service import UserRoute
from ..relay.catalogue import RELAY_ERRORS
from ..ucwa.catalogue import UCWA_ERRORS, lookup_ucwa_error
from . import PathRouter

__all__ = [
    "CONTROL_PREFIX",
    "TOKEN_HEADER",
    "BadInput",
    "ControlPlane",
    "OpenRoutes",
    "ServeState",
    "new_admin_token",
    "route_fields",
]

CONTROL_PREFIX = "/__relaytokens/"
TOKEN_HEADER = "X-Relaytokens-Admin-Token"
#: The longest lifetime, skew or clock move accepted (ten years, as the markers).
MAX_SECONDS = 10 * 365 * 24 * 3600
_JSON = [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store")]
_ROUTE_FIELDS = ("service", "method", "path", "status", "headers", "json", "body", "auth", "roles")


class BadInput(ValueError):
    """A request body (or routes file entry) the control plane refuses; names the field."""


def new_admin_token() -> str:
    """A random admin token for one server start."""
    return secrets.token_urlsafe(24)


# --- field readers: one error message shape for the API and the routes file -------------
def _get(body: Mapping[str, Any], name: str, where: str, kinds: tuple[type, ...]) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in kinds)
        raise BadInput(f"{where}{name}: must be {wanted}, got {json.dumps(value)[:60]}")
    return value


def _seconds(body: Mapping[str, Any], name: str, where: str, *, positive: bool = False) -> Any:
    value = _get(body, name, where, (int, float))
    if value is None:
        return None
    low = 0 if positive else -MAX_SECONDS
    if not low <= value <= MAX_SECONDS or (positive and value <= 0):  # NaN fails too
        rule = "> 0" if positive else f">= {-MAX_SECONDS}"
        raise BadInput(f"{where}{name}: must be a number of seconds {rule} and <= {MAX_SECONDS}")
    return value


def _times(body: Mapping[str, Any], where: str) -> int | None:
    if "times" in body and body["times"] is None:
        return None  # always
    value = _get(body, "times", where, (int,))
    if value is None:
        return 1
    if value < 1:
        raise BadInput(f"{where}times: must be a positive number of requests or null (always)")
    return int(value)


def _unknown(body: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    extra = sorted(set(body) - set(known))
    if extra:
        raise BadInput(f"{where}{extra[0]}: unknown field (known: {', '.join(known)})")


def route_fields(entry: object, where: str = "") -> dict[str, Any]:
    """Check one route's fields (API body or routes-file entry) and return ``route()``'s
    keyword arguments plus ``service`` and ``auth``. ``where`` prefixes every error."""
    if not isinstance(entry, Mapping):
        raise BadInput(f"{where.rstrip('.') or 'route'}: must be an object of route fields")
    _unknown(entry, _ROUTE_FIELDS, where)
    method = _get(entry, "method", where, (str,))
    path = _get(entry, "path", where, (str,))
    if not method:
        raise BadInput(f"{where}method: required (GET, POST, ...)")
    if not path or not path.startswith("/"):
        raise BadInput(f"{where}path: required, a path starting with '/'")
    if path.lower().startswith(CONTROL_PREFIX):
        raise BadInput(f"{where}path: {CONTROL_PREFIX} is reserved for the control plane")
    service = _get(entry, "service", where, (str,)) or (
        "relay" if path.lower().startswith("/api/") else "ucwa"
    )
    if service not in ("ucwa", "relay"):
        raise BadInput(f"{where}service: must be 'ucwa' or 'relay', got {service!r}")
    status = _get(entry, "status", where, (int,))
    headers = _get(entry, "headers", where, (dict,))
    if headers is not None and not all(isinstance(v, str) for v in headers.values()):
        raise BadInput(f"{where}headers: must map header names to strings")
    body = _get(entry, "body", where, (str,))
    auth = _get(entry, "auth", where, (bool,))
    roles = _get(entry, "roles", where, (list,))
    if roles is not None and not all(isinstance(r, str) for r in roles):
        raise BadInput(f"{where}roles: must be a list of role names")
    if auth is False and roles:
        raise BadInput(f"{where}roles: an open route (auth: false) checks no roles")
    if "json" in entry and body is not None:
        raise BadInput(f"{where}json: give json or body, not both")
    return {
        "where": where,
        "service": service,
        "auth": auth is not False,
        "method": method,
        "path": path,
        "status": 200 if status is None else status,
        "headers": headers,
        "json": entry.get("json"),
        "body": body,
        "roles": roles,
    }


class OpenRoutes(FakeService):
    """Routes added with ``auth: false``: answered to anyone, logged, subject to faults."""

    name = "open"

    def route_key(self, path: str) -> str:
        return "/" + path.split("?", 1)[0].strip("/").lower()

    def serves(self, request: FakeRequest) -> bool:
        if not self.user_routes:
            return False
        return bool(self.user_route(request.method, self.route_key(request.path))[1])

    def allowed_methods(self, path: str) -> frozenset[str] | None:
        return self.user_route("GET", self.route_key(path))[1] or None

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        route, methods = self.user_route(request.method, self.route_key(request.path))
        if route is None:
            allow = ", ".join(sorted(methods))
            return FakeResponse(405, [("Allow", allow), ("Content-Length", "0")]), None, True
        answer = route.answer(
            request,
            lambda content_type: [("Content-Type", content_type)],
            lambda doc: json.dumps(doc).encode("utf-8"),
        )
        return answer, None, True


class ServeState:
    """What one serve process runs: the clock, the fakes (``build(clock)`` makes them, again
    on :meth:`reset`), the open routes, and the router serving them. ``start_routes`` are
    added after every build (a ``--routes`` file)."""

    def __init__(
        self,
        build: Callable[[Clock], dict[str, FakeService]],
        router: PathRouter,
        base_url: str,
        start_routes: list[dict[str, Any]] | None = None,
    ) -> None:
        self._build = build
        self.router = router
        self.base_url = base_url
        self.start_routes = list(start_routes or [])
        self.lock = threading.RLock()
        self.clock = Clock()
        self.services: dict[str, FakeService] = {}
        self.open = OpenRoutes(base_url=base_url)
        self.reset()

    def reset(self) -> None:
        """Fresh fakes (same seed: the printed credentials keep working), a flowing clock,
        the default token policy, no faults, the start routes only, empty logs."""
        with self.lock:
            self.clock = Clock()
            self.services = self._build(self.clock)
            self.open = OpenRoutes(base_url=self.base_url, clock=self.clock)
            relay = self.services.get("relay")
            self.router.routes = [("/api/", relay)] if relay is not None else []
            self.router.default = self.services.get("ucwa") or next(iter(self.services.values()))
            for fields in self.start_routes:
                self.add_route(fields)

    def service(self, name: object) -> FakeService:
        if name is None and len(self.services) == 1:
            return next(iter(self.services.values()))
        found = self.services.get(str(name))
        if found is None:
            raise BadInput(f"service: must be one of {', '.join(self.services)}, got {name!r}")
        return found

    def set_policy(self, policy: TokenPolicy) -> None:
        """The expiry policy of tokens issued from now on, on every fake (as the markers)."""
        for service in self.services.values():
            if hasattr(service, "policy"):
                setattr(service, "policy", policy)  # noqa: B010 - the fakes' own field
                factory = getattr(service, "factory", None)
                if factory is not None:
                    factory.policy = policy

    def policy(self) -> TokenPolicy:
        for service in self.services.values():
            found = getattr(service, "policy", None)
            if isinstance(found, TokenPolicy):
                return found
        return TokenPolicy()

    def add_route(self, fields: dict[str, Any]) -> UserRoute:
        """Add a route from :func:`route_fields`' output (``ValueError`` naming the field)."""
        args = {k: v for k, v in fields.items() if k not in ("where", "service", "auth")}
        where = fields.get("where", "")
        try:
            if not fields["auth"]:
                return self.open.route(**{k: v for k, v in args.items() if k != "roles"})
            return self.service(fields["service"]).route(**args)
        except (TypeError, ValueError) as error:
            raise BadInput(where + str(error).replace("route(): ", "")) from None

    def every_service(self) -> list[tuple[str, FakeService]]:
        """Each fake by name, the open routes last (``"open"``)."""
        return [*self.services.items(), ("open", self.open)]

    def unconsumed(self) -> list[tuple[str, Fault]]:
        """The armed faults no request consumed as promised (strict: the stop fails on
        them), by service; ``optional`` ones are not among them."""
        with self.lock:
            return [(n, f) for n, s in self.every_service() for f in s.faults.unconsumed]

    def handle(self, request: FakeRequest) -> FakeResponse:
        """Serve a request of the fakes (open routes first)."""
        if self.open.serves(request):
            return self.open.handle(request)
        return self.router.handle(request)


# --- operations -----------------------------------------------------------------------------
Body = dict[str, Any]
Op = Callable[[ServeState, Body, FakeRequest], Any]


def _clock_doc(state: ServeState) -> Body:
    now = state.clock.now()
    return {"now": now.isoformat(), "now_ms": state.clock.now_ms(), "frozen": state.clock.frozen}


def _clock_set(state: ServeState, body: Body, _: FakeRequest) -> Body:
    _unknown(body, ("to",), "")
    raw = _get(body, "to", "", (str,))
    if raw is None:
        raise BadInput("to: required, an ISO 8601 instant (2026-01-01T00:00:00Z)")
    try:
        when = _dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"to: not an ISO 8601 instant: {raw[:40]!r}") from None
    if when.year < 1971 or when.year > 9000:
        raise BadInput("to: must be between 1971 and 9000")
    state.clock.set(when)
    return _clock_doc(state)


def _clock_advance(state: ServeState, body: Body, _: FakeRequest) -> Body:
    _unknown(body, ("seconds",), "")
    seconds = _seconds(body, "seconds", "")
    if seconds is None:
        raise BadInput("seconds: required, a number (negative moves back)")
    state.clock.advance(seconds)
    return _clock_doc(state)


def _clock_freeze(state: ServeState, body: Body, _: FakeRequest) -> Body:
    _unknown(body, (), "")
    state.clock.freeze()
    return _clock_doc(state)


def _policy_doc(state: ServeState) -> Body:
    policy = state.policy()
    return {
        "expired": policy.already_expired,
        "expires_in": None if policy.lifetime is None else policy.lifetime.total_seconds(),
        "never_expires": policy.never_expires,
        "skew": policy.server_skew.total_seconds(),
    }


def _policy_set(state: ServeState, body: Body, _: FakeRequest) -> Body:
    _unknown(body, ("expired", "expires_in", "never_expires", "skew"), "")
    expired = bool(_get(body, "expired", "", (bool,)))
    never = bool(_get(body, "never_expires", "", (bool,)))
    lifetime = _seconds(body, "expires_in", "", positive=True)
    skew = _seconds(body, "skew", "") or 0
    chosen = [
        n
        for n, on in (("expired", expired), ("expires_in", lifetime), ("never_expires", never))
        if on
    ]
    if len(chosen) > 1:
        raise BadInput(f"{chosen[1]}: give one of expired, expires_in, never_expires")
    state.set_policy(
        TokenPolicy(
            already_expired=expired,
            lifetime=None if lifetime is None else _dt.timedelta(seconds=lifetime),
            never_expires=never,
            server_skew=_dt.timedelta(seconds=skew),
        )
    )
    return _policy_doc(state)


def _fault_doc(service: str, fault: Fault) -> Body:
    return {
        "service": service,
        "label": fault.label,
        "times": fault.times,
        "path": fault.path,
        "method": fault.method,
        "delay": fault.delay,
        "drop": fault.drop_connection,
        "optional": fault.optional,
        "used": fault.used,
    }


_WHERE = ("service", "times", "path", "method", "optional")


def _where(body: Body) -> tuple[int | None, str | None, str | None, bool]:
    """``times``, ``path``, ``method`` and ``optional`` (no request need consume it)."""
    path = _get(body, "path", "", (str,))
    if path is not None:
        try:
            re.compile(path)
        except re.error as error:
            raise BadInput(f"path: not a regular expression: {error}") from None
    method = _get(body, "method", "", (str,))
    optional = bool(_get(body, "optional", "", (bool,)))
    return _times(body, ""), path, None if method is None else method.upper(), optional


def _arm_error(state: ServeState, body: Body, _: FakeRequest) -> Body:
    _unknown(body, (*_WHERE, "id"), "")
    service = state.service(body.get("service"))
    name = _get(body, "id", "", (str,))
    if not name:
        raise BadInput("id: required, a catalogue error id or name (GET coverage lists them)")
    times, path, method, optional = _where(body)
    try:
        respond = service.error_responder(name)
    except LookupError as error:
        raise BadInput(f"id: {error}") from None
    if path is None and service.name == "ucwa":  # as UcwaService.arm_error(): the row's endpoint
        endpoint = lookup_ucwa_error(name).endpoint
        path, method = endpoint.path, method or endpoint.method
    fault = service.arm(
        respond, times=times, path=path, method=method, label=name, optional=optional
    )
    return _fault_doc(service.name, fault)


def _arm_delay(state: ServeState, body: Body, _: FakeRequest) -> Body:
    _unknown(body, (*_WHERE, "seconds"), "")
    service = state.service(body.get("service"))
    seconds = _seconds(body, "seconds", "", positive=True)
    if seconds is None or seconds > 600:
        raise BadInput("seconds: required, a delay > 0 and <= 600")
    times, path, method, optional = _where(body)
    fault = service.arm(
        None,
        times=times,
        path=path,
        method=method,
        delay=seconds,
        label=f"delay {seconds:g}s",
        optional=optional,
    )
    return _fault_doc(service.name, fault)


def _arm_drop(state: ServeState, body: Body, _: FakeRequest) -> Body:
    _unknown(body, _WHERE, "")
    service = state.service(body.get("service"))
    times, path, method, optional = _where(body)
    fault = service.arm(
        None,
        times=times,
        path=path,
        method=method,
        drop_connection=True,
        label="drop",
        optional=optional,
    )
    return _fault_doc(service.name, fault)


def _arm_sequence(state: ServeState, body: Body, _: FakeRequest) -> list[Body]:
    _unknown(body, ("service", "path", "steps", "optional"), "")
    service = state.service(body.get("service"))
    steps = _get(body, "steps", "", (list,))
    if not steps:
        raise BadInput("steps: required, a list of catalogue error ids or null (answer normally)")
    for index, step in enumerate(steps):
        if step is not None and not isinstance(step, str):
            raise BadInput(f"steps[{index}]: must be an error id or null")
        if step is not None:
            try:
                service.error_responder(step)
            except LookupError as error:
                raise BadInput(f"steps[{index}]: {error}") from None
    where = _where(body)
    path, optional = where[1], where[3]
    armed = service.arm_sequence(steps, path=path, optional=optional)
    return [_fault_doc(service.name, f) for f in armed]


def _faults(state: ServeState, body: Body, request: FakeRequest) -> Any:
    if request.method == "DELETE":
        for service in state.services.values():
            service.faults.clear()
        state.open.faults.clear()
    return [_fault_doc(n, f) for n, s in state.every_service() for f in s.faults.armed]


def _unconsumed(state: ServeState, body: Body, _: FakeRequest) -> list[Body]:
    return [{**_fault_doc(n, f), "why": f.describe()} for n, f in state.unconsumed()]


def _revoke(state: ServeState, body: Body, _: FakeRequest) -> Body:
    _unknown(body, ("service", "token"), "")
    token = _get(body, "token", "", (str,))
    if not token:
        raise BadInput("token: required, a Relay access token or a UCWA bearer")
    names = [body["service"]] if body.get("service") is not None else list(state.services)
    for name in names:
        service = state.service(name)
        revoke = getattr(service, "revoke", None)
        if revoke is None:
            continue
        try:
            revoke(token)
        except LookupError:
            continue
        return {"revoked": True, "service": service.name}
    raise BadInput(f"token: no fake issued {token[:8]!r}... (nothing revoked)")


def _route_doc(service: str, route: UserRoute) -> Body:
    return {
        "service": service,
        "method": route.method,
        "path": route.path,
        "status": route.status,
        "calls": route.calls,
        "roles": None if route.roles is None else sorted(route.roles),
    }


def _routes(state: ServeState, body: Body, request: FakeRequest) -> Any:
    if request.method == "POST":
        fields = route_fields(body)
        added = state.add_route(fields)
        return _route_doc(fields["service"] if fields["auth"] else "open", added)
    if request.method == "DELETE":
        _unknown(body, ("service", "method", "path"), "")
        method = str(_get(body, "method", "", (str,)) or "").upper()
        path = _get(body, "path", "", (str,))
        if not method or not path:
            raise BadInput("method and path: required, as the route was added")
        removed = 0
        for service in (*state.services.values(), state.open):
            try:
                key = service.route_key(path)
            except ValueError:
                continue
            with service._lock:
                kept = [r for r in service.user_routes if not r.matches(method, key)]
                removed += len(service.user_routes) - len(kept)
                service.user_routes = kept
        if not removed:
            raise BadInput(f"path: no route {method} {path} to remove")
        return {"removed": removed}
    every = [(n, s) for n, s in state.services.items()] + [("open", state.open)]
    return [_route_doc(n, r) for n, s in every for r in list(s.user_routes)]


def _reset(state: ServeState, body: Body, _: FakeRequest) -> Body:
    state.reset()
    return {"reset": True}


def _log(state: ServeState, body: Body, request: FakeRequest) -> list[Body]:
    wanted = request.query_value("service")
    entries = []
    for service in (*state.services.values(), state.open):
        if wanted and service.name != wanted:
            continue
        for exchange in service.log:
            entries.append(
                {
                    "at": exchange.at.isoformat(),
                    "service": exchange.service,
                    "method": exchange.request.method,
                    "url": safe_url(exchange.request.url),  # no query value, no token
                    "status": exchange.response.status,
                    "error_id": exchange.error_id,
                    "credential": exchange.credential,
                    "expected": exchange.expected,
                    "injected": exchange.injected,
                }
            )
    entries.sort(key=lambda e: str(e["at"]))
    return entries


#: The error catalogue of each fake, for the coverage counts (ids never served count 0).
CATALOGUES: dict[str, tuple[str, ...]] = {
    "ucwa": tuple(e.id for e in UCWA_ERRORS),
    "relay": tuple(e.id for e in RELAY_ERRORS),
}


def _coverage(state: ServeState, body: Body, _: FakeRequest) -> Body:
    counts: Body = {}
    for name, service in state.services.items():
        served: dict[str, int] = dict.fromkeys(CATALOGUES.get(name, ()), 0)
        for exchange in service.log:
            if exchange.error_id:
                served[exchange.error_id] = served.get(exchange.error_id, 0) + 1
        counts[name] = served
    return counts


def _index(state: ServeState, body: Body, _: FakeRequest) -> Body:
    return {
        "operations": [
            {"method": m, "path": CONTROL_PREFIX + p, "does": d}
            for (m, p), (_, d) in OPERATIONS.items()
        ],
        "services": sorted(state.services),
    }


OPERATIONS: dict[tuple[str, str], tuple[Op, str]] = {
    ("GET", ""): (_index, "this list"),
    ("GET", "clock"): (lambda s, b, r: _clock_doc(s), "read the clock"),
    ("POST", "clock/set"): (_clock_set, '{"to": ISO 8601}: jump the clock'),
    ("POST", "clock/advance"): (_clock_advance, '{"seconds": N}: move it (negative: back)'),
    ("POST", "clock/freeze"): (_clock_freeze, "stop the clock where it is"),
    ("GET", "policy"): (lambda s, b, r: _policy_doc(s), "the expiry policy of new tokens"),
    ("POST", "policy"): (
        _policy_set,
        '{"expired": true | "expires_in": N | "never_expires": true, "skew": N}',
    ),
    ("POST", "errors"): (_arm_error, '{"service", "id", "times", "path", "method", "optional"}'),
    ("POST", "delays"): (
        _arm_delay,
        '{"service", "seconds", "times", "path", "method", "optional"}',
    ),
    ("POST", "drops"): (_arm_drop, '{"service", "times", "path", "method", "optional"}'),
    ("POST", "sequences"): (
        _arm_sequence,
        '{"service", "steps": [id | null, ...], "path", "optional"}',
    ),
    ("GET", "faults"): (_faults, "the armed faults, with their uses so far"),
    ("GET", "faults/unconsumed"): (
        _unconsumed,
        "the faults no request consumed as promised (the stop fails on them), and why",
    ),
    ("DELETE", "faults"): (_faults, "disarm every fault"),
    ("POST", "revoke"): (_revoke, '{"token", "service"}: revoke a token or bearer'),
    ("GET", "routes"): (_routes, "the user routes"),
    ("POST", "routes"): (_routes, "add a route (the fields of a --routes file entry)"),
    ("DELETE", "routes"): (_routes, '{"method", "path"}: remove a route'),
    ("POST", "reset"): (_reset, "fresh fakes, clock, policy; start routes only"),
    ("GET", "log"): (_log, "the request log, redacted (?service=ucwa|relay|open)"),
    ("GET", "coverage"): (_coverage, "catalogue error id -> times served, per service"),
}


def _answer(status: int, doc: Any) -> FakeResponse:
    body = json.dumps(doc, indent=1).encode("utf-8") + b"\n"
    return FakeResponse(status, list(_JSON), body)


class ControlPlane:
    """The serve target: ``/__relaytokens/...`` is the admin API (token required), every
    other path goes to ``state`` (the fakes)."""

    def __init__(self, state: ServeState, token: str) -> None:
        if len(token) < 16:
            raise ValueError("the admin token must be at least 16 characters")
        self.state = state
        self._token = token.encode("utf-8")

    def handle(self, request: FakeRequest) -> FakeResponse:
        path = request.path
        if not (path.lower() + "/").startswith(CONTROL_PREFIX):
            return self.state.handle(request)
        given = (request.header(TOKEN_HEADER) or "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self._token):
            problem = (
                f"the admin token in the {TOKEN_HEADER} header is wrong (each serve start "
                "prints a new one"
                if given
                else f"the control plane needs the admin token in the {TOKEN_HEADER} header "
                "(printed by relaytokens serve"
            )
            return _answer(401, {"error": f"{problem} as RELAYTOKENS_ADMIN_TOKEN)"})
        name = (
            path[len(CONTROL_PREFIX) :].strip("/").lower()
            if len(path) >= len(CONTROL_PREFIX)
            else ""
        )
        found = OPERATIONS.get((request.method, name))
        if found is None:
            allowed = sorted(m for (m, p) in OPERATIONS if p == name)
            if allowed:
                response = _answer(
                    405, {"error": f"{request.method} {path}: use {', '.join(allowed)}"}
                )
                response.headers.append(("Allow", ", ".join(allowed)))
                return response
            known = sorted({CONTROL_PREFIX + p for (_, p) in OPERATIONS})
            return _answer(404, {"error": f"no operation at {path}", "operations": known})
        try:
            body = self._body(request)
            with self.state.lock:
                return _answer(200, found[0](self.state, body, request))
        except BadInput as error:
            return _answer(400, {"error": str(error)})

    @staticmethod
    def _body(request: FakeRequest) -> Body:
        if not request.body.strip():
            return {}
        try:
            doc = json.loads(request.body)
        except (ValueError, RecursionError) as error:
            raise BadInput(f"body: not JSON ({error})") from None
        if not isinstance(doc, dict):
            raise BadInput("body: must be a JSON object")
        return doc


def load_routes(path: str) -> list[dict[str, Any]]:
    """The routes of a ``--routes`` file (YAML, or JSON for ``*.json``): a list of route
    entries, or ``{"routes": [...]}``. ``BadInput`` names the file and the field."""
    import yaml  # a vcrpy dependency: always installed

    try:
        text = open(path, encoding="utf-8").read()  # noqa: SIM115
    except OSError as error:
        raise BadInput(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    try:
        doc = json.loads(text) if path.lower().endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError, RecursionError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise BadInput(
            f"{path}: not valid {'JSON' if path.endswith('.json') else 'YAML'}: {first}"
        ) from None
    entries = doc.get("routes") if isinstance(doc, dict) else doc
    if isinstance(doc, dict):
        _unknown(doc, ("routes",), f"{path}: ")
    if not isinstance(entries, list):
        raise BadInput(f"{path}: must be a list of routes, or an object with a 'routes' list")
    return [route_fields(entry, f"{path}: routes[{i}].") for i, entry in enumerate(entries)]
