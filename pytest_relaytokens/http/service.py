"""The base of every stateful fake: locking, faults (delays, drops, sequences), the request
log, the routes a test adds, and the token-lifetime policy the expiry markers set."""

from __future__ import annotations

import datetime as _dt
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from ..clock import Clock
from . import semantics
from .lifecycle import Lifecycle
from .messages import (
    Dispatched,
    Exchange,
    FakeRequest,
    FakeResponse,
    RequestLog,
    answer_problem,
    first_bad_header,
    unsendable_answer,
)
from .urls import check_origins

__all__ = [
    "FakeService",
    "Fault",
    "FaultPlan",
    "Responder",
    "RouteHandler",
    "TokenPolicy",
    "UserRoute",
    "new_user_route",
]

Responder = Callable[[FakeRequest], FakeResponse]
#: A user route's handler: a full response, or a document sent as JSON.
RouteHandler = Callable[[FakeRequest], "FakeResponse | dict[str, Any] | list[Any]"]
_NO_METHODS: frozenset[str] = frozenset()
_METHOD_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_JSON_TYPE = "application/json; charset=utf-8"
_RAW_TYPE = "application/octet-stream"


@dataclass
class UserRoute:
    """A route a test added to a fake with ``route()``, answered behind the fake's own
    authentication; ``requests`` are the requests that reached it, ``calls`` their number."""

    method: str
    path: str
    status: int = 200
    body: bytes | None = None
    json: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    handler: RouteHandler | None = None
    roles: frozenset[str] | None = None
    requests: list[FakeRequest] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def matches(self, method: str, path: str) -> bool:
        return self.method == method and self.path == path

    def answer(
        self,
        request: FakeRequest,
        base_headers: Callable[[str], list[tuple[str, str]]],
        render: Callable[[Any], bytes],
    ) -> FakeResponse:
        """Record ``request`` and answer it: the handler's response, or the route's document
        rendered by the service (``render``) under its headers (``base_headers(content
        type)``), the route's own headers replacing any of the same name."""
        self.requests.append(request)
        document = self.json
        if self.handler is not None:
            produced = self.handler(request)
            if isinstance(produced, FakeResponse):  # what no transport may write: a 500
                problem = answer_problem(produced)
                return produced if problem is None else unsendable_answer(problem)
            if not isinstance(produced, (dict, list)):
                raise TypeError(
                    f"route {self.method} {self.path}: handler must return a FakeResponse, a "
                    f"dict or a list, got {type(produced).__name__}"
                )
            document = produced
        elif self.body is not None:
            return self._response(base_headers(_RAW_TYPE), self.body)
        return self._response(
            base_headers(_JSON_TYPE), b"" if document is None else render(document)
        )

    def _response(self, base: list[tuple[str, str]], body: bytes) -> FakeResponse:
        own = {name.lower() for name, _ in self.headers}
        headers = [(k, v) for k, v in base if k.lower() not in own] + list(self.headers)
        return FakeResponse(self.status, headers, b"" if self.status in (204, 304) else body)


def new_user_route(
    method: object,
    path: str,
    *,
    json: Any = None,
    body: bytes | str | None = None,
    status: object = 200,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    handler: RouteHandler | None = None,
    roles: frozenset[str] | None = None,
) -> UserRoute:
    """A :class:`UserRoute` from ``route()``'s arguments, each checked (``ValueError`` or
    ``TypeError`` naming the argument); ``path`` is the service's own normal form."""
    method_name = str(method).strip().upper() if isinstance(method, str) else ""
    if not method_name or not set(method_name) <= _METHOD_CHARS:
        raise ValueError(f"route(): method must be an HTTP method token, got {method!r}")
    given = [n for n, v in (("json", json), ("body", body), ("handler", handler)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"route(): give one of json=, body=, handler=, got {given}")
    if handler is not None and not callable(handler):
        raise TypeError(f"route(): handler must be callable, got {type(handler).__name__}")
    if body is not None and not isinstance(body, (bytes, str)):
        raise TypeError(f"route(): body must be bytes or str, got {type(body).__name__}")
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise ValueError(f"route(): status must be an HTTP status from 200 to 599, got {status!r}")
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    checked: list[tuple[str, str]] = []
    for pair in pairs:
        name, value = pair
        for text, what in ((name, "name"), (value, "value")):
            if not isinstance(text, str) or any(ch in text for ch in "\r\n\0"):
                raise ValueError(
                    f"route(): header {what}s must be strings without CR, LF or NUL, got {text!r}"
                )
        problem = first_bad_header([(name, value)])
        if problem is not None:  # what every transport would refuse to write at request time
            raise ValueError(
                f"route(): headers must be writable on the wire (a name is an RFC 9110 token, a "
                f"value Latin-1 text without control characters), got {problem}"
            )
        checked.append((name, value))
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return UserRoute(method_name, path, status, raw, json, tuple(checked), handler, roles)


@dataclass
class Fault:
    """An armed fault: answer with ``respond(request)`` (or pass through when it is None),
    after ``delay`` seconds, or drop the connection.

    ``times`` is how many matching requests it applies to (None: every one, at least one);
    ``path`` a regular expression searched in the request path; ``method`` an HTTP method.
    Strict by default: a fault no request consumed (``used == 0``, or uses left) fails the
    test at teardown unless ``optional``. ``origin`` says who armed it (a marker, a fan-out).
    """

    respond: Responder | None = None
    times: int | None = 1
    path: str | None = None
    method: str | None = None
    delay: float = 0.0
    drop_connection: bool = False
    label: str = "fault"
    optional: bool = False
    origin: str = ""
    #: how many requests (or response fixtures) this fault answered
    used: int = 0

    @property
    def unconsumed(self) -> bool:
        """Whether the fault breaks its promise: never used, or uses left."""
        if self.optional:
            return False
        return self.used == 0 or (self.times is not None and self.times > 0)

    def describe(self) -> str:
        """One line: who armed it, where it waits, what is left of it (for the failures)."""
        who = f"{self.label} from {self.origin}" if self.origin else self.label
        where = f" on paths matching {self.path!r}" if self.path else " on every path"
        if self.method:
            where = f" on {self.method.upper()}{where.removeprefix(' on')}"
        if self.times is None:
            uses = "never served; times=None means every matching request, at least one"
        else:
            uses = f"{self.times} use(s) left"
        return f"{who}{where} ({uses})"

    def matches(self, request: FakeRequest) -> bool:
        if self.method is not None and request.method != self.method.upper():
            return False
        return self.path is None or re.search(self.path, request.path) is not None


class FaultPlan:
    """Armed faults, consulted in arming order before a fake answers normally."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        #: every fault armed, consumed or not, in arming order (for the teardown check)
        self.history: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> Fault:
        if fault.times is not None and fault.times < 1:
            raise ValueError(
                f"times must be a positive number of requests or None, got {fault.times!r}"
            )
        with self._lock:
            self._faults.append(fault)
            self.history.append(fault)
        return fault

    def take(self, request: FakeRequest) -> Fault | None:
        """The first fault that matches ``request``, consuming one of its uses."""
        if not self._faults:  # nothing armed: no lock needed to know it
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(request):
                    fault.used += 1
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    @property
    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    @property
    def unconsumed(self) -> list[Fault]:
        """The armed faults no request consumed as promised (see :attr:`Fault.unconsumed`)."""
        with self._lock:
            return [fault for fault in self.history if fault.unconsumed]

    def clear(self) -> None:
        """Disarm every fault: a test that clears them promises nothing any more."""
        with self._lock:
            self._faults.clear()
            self.history.clear()


class FakeService:
    """Base of the stateful fakes: locking, fault injection and the request log.

    Subclasses set ``name`` and ``base_url`` and implement :meth:`dispatch`, returning the
    response, the credential kind used (or None) and whether a route matched.
    """

    name = "fake"
    #: Whether the plugin fails the test at teardown on requests no route matched.
    fail_on_unexpected: bool = True

    def __init__(
        self,
        *,
        base_url: str,
        clock: Clock | None = None,
        cors_origins: Iterable[str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if cors_origins is not None:
            try:
                self.cors_origins = check_origins(cors_origins)
            except ValueError as error:
                raise ValueError(f"cors_origins: {error}") from None
        self.clock = clock or Clock()
        self.log = RequestLog()
        #: token requests, dead tokens, Retry-After and chaos (see http/lifecycle.py)
        self.lifecycle = Lifecycle(self.name)
        self.faults = FaultPlan()
        self._lock = threading.RLock()
        #: The routes a test added with :meth:`route`, in the order added.
        self.user_routes: list[UserRoute] = []

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def dispatch(self, request: FakeRequest) -> Dispatched:
        raise NotImplementedError

    # HTTP semantics (HEAD, OPTIONS, CORS, gzip, 405 Allow: see semantics) ------------
    #: Origins a CORS-enabled server allows (``"*"``: any); None (default): CORS off, as on a
    #: stock server.
    cors_origins: tuple[str, ...] | None = None
    #: Gzip bodies for clients sending ``Accept-Encoding: gzip`` (as IIS does).
    compress_responses: bool = True

    def allowed_methods(self, path: str) -> frozenset[str] | None:
        """The methods served at ``path``; None for a path the service does not serve."""
        return None

    def preflight_refused(self, request: FakeRequest, allow: str) -> FakeResponse:
        """The answer to a CORS preflight when CORS is off or the origin is not allowed:
        a plain OPTIONS answer without ``Access-Control-*`` (the browser then refuses)."""
        return FakeResponse(200, [("Allow", allow), ("Content-Length", "0")], b"")

    def carried_token(self, request: FakeRequest) -> str | None:
        """The issued token or bearer ``request`` carries, if any (for the request log)."""
        return None

    def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one request: an armed fault first, else the service's own behaviour; HTTP
        semantics around both (the log keeps the body before gzip)."""
        early, effective = semantics.prepare(self, request)
        fault = None
        if early is None:  # a HEAD answered as GET: HEAD faults first, then GET ones
            fault = self.faults.take(request)
            if fault is None and effective is not request:
                fault = self.faults.take(effective)
        injected = False
        credential: str | None = None
        expected = True
        if early is not None:
            response = early
        elif fault is not None and (fault.respond is not None or fault.drop_connection):
            injected = True
            with self._lock:  # responders may read or change the service's state
                response = (
                    fault.respond(effective) if fault.respond is not None else FakeResponse(0)
                )
            if not response.drop_connection:  # what no transport may write: a 500
                problem = answer_problem(response)
                if problem is not None:
                    response = unsendable_answer(problem)
        else:
            with self._lock:
                response, credential, expected = self.dispatch(effective)
        if fault is not None:
            response = response.copy()
            response.delay = max(response.delay, fault.delay)
            response.drop_connection = response.drop_connection or fault.drop_connection
        response = semantics.finish(self, request, response)
        if not response.drop_connection and response.header("Date") is None:
            response = self._dated(response)
        exchange = Exchange(
            request, response, self.clock.now(), self.name, credential, expected, injected
        )
        self.log.append(exchange)
        return self.lifecycle.observe(exchange, semantics.encode(self, request, response))

    #: the last ``Date`` value and the second of the clock it shows
    _date: tuple[int, str] = (-(2**62), "")

    def server_now(self) -> _dt.datetime:
        """The server's clock (services add their policy's skew)."""
        return self.clock.now()

    def _dated(self, response: FakeResponse) -> FakeResponse:
        """``response`` with a ``Date`` (RFC 9110 §6.6.1) from :meth:`server_now`: one clock
        on every transport, so a client estimating skew from ``Date`` sees the test's."""
        dated = response.copy()
        when = self.server_now()
        second = int(when.timestamp())
        cached = self._date
        if cached[0] != second:  # formatted once per second of the clock, as servers do
            utc = when.astimezone(_dt.timezone.utc)
            cached = self._date = (second, format_datetime(utc, usegmt=True))
        dated.headers = [("Date", cached[1]), *response.headers]
        return dated

    # The routes a test adds ------------------------------------------------------------
    def route(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        handler: RouteHandler | None = None,
        roles: Iterable[str] | None = None,
    ) -> UserRoute:
        """Serve ``method path`` behind the fake's own authentication, logged and subject to
        armed faults. The answer is ``json`` (serialised), ``body``, or ``handler(request)``
        returning a ``FakeResponse``, or a dict or list sent as JSON with ``status``. A later
        route for the same method and path replaces the earlier one. Which paths and roles a
        service takes is its own: :meth:`route_key`, :meth:`route_roles`."""
        added = new_user_route(
            method,
            self.route_key(path),
            json=json,
            body=body,
            status=status,
            headers=headers,
            handler=handler,
            roles=self.route_roles(roles),
        )
        with self._lock:
            self.user_routes = [
                r for r in self.user_routes if not r.matches(added.method, added.path)
            ]
            self.user_routes.append(added)
        return added

    def route_key(self, path: str) -> str:
        """The key a route's ``path`` is stored and looked up under (``ValueError`` for a
        path the service cannot serve a route at)."""
        return path

    def route_roles(self, roles: Iterable[str] | None) -> frozenset[str] | None:
        """The roles a route demands; by default the service's credentials carry none."""
        if roles is not None:
            raise ValueError(f"{self.name} credentials carry no roles: route(roles=...) is unused")
        return None

    def user_route(self, method: str, key: str) -> tuple[UserRoute | None, frozenset[str]]:
        """The route for ``method`` at ``key`` (None if none) and every method routed there."""
        if not self.user_routes:  # most services never get one (a route replaces the list)
            return None, _NO_METHODS
        with self._lock:
            at_key = [r for r in self.user_routes if r.path == key]
        chosen = next((r for r in at_key if r.method == method), None)
        return chosen, frozenset(r.method for r in at_key)

    # Fault helpers shared by both fakes -------------------------------------------------
    def arm(
        self,
        respond: Responder | None = None,
        *,
        times: int | None = 1,
        path: str | None = None,
        method: str | None = None,
        delay: float = 0.0,
        drop_connection: bool = False,
        label: str = "fault",
        optional: bool = False,
    ) -> Fault:
        """Arm a raw fault (see :class:`Fault`); ``optional=True``: no request need use it."""
        return self.faults.arm(
            Fault(respond, times, path, method, delay, drop_connection, label, optional)
        )

    def arm_delay(
        self,
        seconds: float,
        *,
        times: int | None = 1,
        path: str | None = None,
        optional: bool = False,
    ) -> Fault:
        """Answer normally, but only after ``seconds``."""
        return self.arm(
            None,
            times=times,
            path=path,
            delay=seconds,
            label=f"delay {seconds}s",
            optional=optional,
        )

    def arm_drop(
        self, *, times: int | None = 1, path: str | None = None, optional: bool = False
    ) -> Fault:
        """Close the connection without answering."""
        return self.arm(
            None, times=times, path=path, drop_connection=True, label="drop", optional=optional
        )

    def error_responder(self, name: str) -> Responder:
        """A responder answering with the catalogue error ``name`` (an id or a name)."""
        raise LookupError(f"{type(self).__name__} has no error catalogue (asked for {name!r})")

    def arm_sequence(
        self,
        steps: Iterable[Responder | str | None],
        *,
        path: str | None = None,
        optional: bool = False,
    ) -> list[Fault]:
        """One fault per request, in order. A step is a responder, a catalogue error id or name
        (``"401-BadCredentialsException"``), or ``None`` to answer normally; e.g. an expired
        token's 401 and then success, for a client's refresh flow."""
        steps = list(steps)
        armed = []
        for number, step in enumerate(steps, 1):
            if step is None:
                respond: Responder = lambda r: self.dispatch(r)[0]  # noqa: E731
                label = "pass"
            elif isinstance(step, str):
                respond, label = self.error_responder(step), step
            else:
                respond, label = step, "fault"
            label = f"arm_sequence step {number} of {len(steps)}: {label}"
            armed.append(self.arm(respond, times=1, path=path, label=label, optional=optional))
        return armed


@dataclass(frozen=True)
class TokenPolicy:
    """How fakes and factories set token lifetimes (driven by the expiry markers).

    - ``already_expired``: every token handed out or issued expired one minute before issue.
    - ``lifetime``: tokens expire this long after issue (overrides the service default).
    - ``never_expires``: Relay tokens get ``expirationDate: null`` (duration -1).
    - ``server_skew``: the fake server's clock runs this far ahead of (negative: behind)
      the shared clock the client reads.
    """

    already_expired: bool = False
    lifetime: _dt.timedelta | None = None
    never_expires: bool = False
    server_skew: _dt.timedelta = _dt.timedelta(0)

    def expiry(self, issued_at: _dt.datetime, default: _dt.timedelta | None) -> _dt.datetime | None:
        """When a token issued at ``issued_at`` expires (None: never)."""
        if self.already_expired:
            return issued_at - _dt.timedelta(minutes=1)
        if self.lifetime is not None:
            return issued_at + self.lifetime
        if self.never_expires or default is None:
            return None
        return issued_at + default
