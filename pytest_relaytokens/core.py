"""The transport-free core shared by every fake and every transport.

A fake service is anything with ``handle(FakeRequest) -> FakeResponse``. Transports
(responses, httpx, the loopback server, recording) only convert to and from these two types.
"""

from __future__ import annotations

import datetime as _dt
import http
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from .clock import Clock

__all__ = [
    "Exchange",
    "FakeRequest",
    "FakeResponse",
    "FakeRouter",
    "FakeService",
    "Fault",
    "FaultPlan",
    "RequestLog",
    "Responder",
    "RouteHandler",
    "UserRoute",
    "answer_problem",
    "first_bad_header",
    "new_user_route",
    "unsendable_answer",
]


def _lower_pairs(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(k), str(v)) for k, v in items)


def _first_header(headers: Iterable[tuple[str, str]], name: str, default: str | None) -> str | None:
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return default


def _all_headers(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


@dataclass(frozen=True)
class FakeRequest:
    """One HTTP request as a fake sees it. ``url`` is absolute (scheme, host, path, query)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    # Built on first use (the request is immutable): headers by lower-cased name, URL parts.
    _by_name: dict[str, list[str]] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )
    _parts: SplitResult | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes | str | None = None,
    ) -> FakeRequest:
        if isinstance(body, str):
            body = body.encode("utf-8")
        return cls(method.upper(), url, _lower_pairs(headers), body or b"")

    def _headers_by_name(self) -> dict[str, list[str]]:
        found = self._by_name
        if found is None:
            found = {}
            for key, value in self.headers:
                lname = key.lower()
                if lname in found:
                    found[lname].append(value)
                else:
                    found[lname] = [value]
            object.__setattr__(self, "_by_name", found)
        return found

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header of that name (case-insensitive)."""
        values = self._headers_by_name().get(name.lower())
        return values[0] if values else default

    def header_all(self, name: str) -> list[str]:
        """Every header of that name, in order."""
        return list(self._headers_by_name().get(name.lower(), ()))

    @property
    def parts(self) -> SplitResult:
        """The URL split (:func:`urllib.parse.urlsplit`), computed once."""
        parts = self._parts
        if parts is None:
            parts = urlsplit(self.url)
            object.__setattr__(self, "_parts", parts)
        return parts

    @property
    def path(self) -> str:
        return self.parts.path or "/"

    @property
    def host(self) -> str:
        return self.parts.netloc

    @property
    def query(self) -> dict[str, list[str]]:
        query = self.parts.query
        return parse_qs(query, keep_blank_values=True) if query else {}

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)


_PHRASES = {status.value: status.phrase for status in http.HTTPStatus}


@dataclass
class FakeResponse:
    """One HTTP response. ``headers`` is a list so a header may repeat (``WWW-Authenticate``).

    ``delay`` (seconds) and ``drop_connection`` are instructions to the transport: wait before
    answering, or close the connection without answering (transports raise their library's
    connection error).

    ``error_id`` (the catalogue id this response answers with) and ``token`` (the issued token
    or bearer the request carried) never go on the wire: the request log and the
    error-coverage report read them. Neither does ``problem``: set on the 500 sent in place of
    an answer that could not be written (:func:`unsendable_answer`), it says why; the
    loopback server keeps it in its ``errors``.
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0
    drop_connection: bool = False
    error_id: str | None = None
    token: str | None = None
    problem: str | None = None

    @property
    def reason(self) -> str:
        return _PHRASES.get(self.status, "Unknown")

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header of that name (case-insensitive)."""
        return _first_header(self.headers, name, default)

    def header_all(self, name: str) -> list[str]:
        """Every header of that name, in order."""
        return _all_headers(self.headers, name)

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    def copy(self) -> FakeResponse:
        return FakeResponse(
            self.status,
            list(self.headers),
            self.body,
            self.delay,
            self.drop_connection,
            self.error_id,
            self.token,
            self.problem,
        )


#: The characters of an RFC 9110 token: all a header name may hold.
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
#: What a header value must not hold: control characters but tab (a character class: no
#: backtracking).
_VALUE_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def first_bad_header(headers: Iterable[tuple[object, object]]) -> str | None:
    """What is wrong with the first header that cannot be written on the wire (RFC 9110: a
    name is a non-empty token; a value is Latin-1 text without CR, LF, NUL or another control
    character but tab), or None when every header can be. Every transport refuses the same
    headers: a fake's answer carrying one is sent as :func:`unsendable_answer`."""
    for name, value in headers:
        if not isinstance(name, str) or not name or not _TOKEN_CHARS.issuperset(name):
            return f"an invalid header name {name!r}"
        if not isinstance(value, str):
            return f"a non-text value for header {name!r}"
        if _VALUE_CONTROL.search(value) or (not value.isascii() and max(value) > "\xff"):
            return f"a control or non-Latin-1 character in the value of header {name!r}"
    return None


def answer_problem(response: FakeResponse) -> str | None:
    """What makes ``response`` impossible to send as a final answer (a status outside
    200-599, or a header :func:`first_bad_header` refuses), or None."""
    status = response.status
    if type(status) is not int or not 200 <= status <= 599:
        return f"status {status!r} as a final answer (expected 200-599)"
    return first_bad_header(response.headers)


def unsendable_answer(problem: str) -> FakeResponse:
    """The 500 sent in place of an answer that cannot be written (``problem``, e.g. from
    :func:`first_bad_header`): the same on every transport; ``problem`` is kept on it."""
    body = f"the fake returned {problem}\n".encode()
    return FakeResponse(500, [("Content-Type", "text/plain; charset=utf-8")], body, problem=problem)


@dataclass(frozen=True)
class Exchange:
    """One entry of a request log: what was asked, with which credential, what was answered.

    ``credential`` names the kind of credential the fake accepted or rejected
    (``"bearer"``, ``"basic"``, ``"accesstoken-query"``, ``"x-access-token"``,
    ``"seamaccesstoken"``) or is ``None``. ``expected`` is False for a request no route of
    the fake matched (an unknown path); ``injected`` is True when the answer came from an
    armed fault. ``error_id`` is the catalogue error the fake answered with (None for a
    success); ``token`` the issued token or bearer the request carried, when it carried one.
    """

    request: FakeRequest
    response: FakeResponse
    at: _dt.datetime
    service: str
    credential: str | None = None
    expected: bool = True
    injected: bool = False

    @property
    def error_id(self) -> str | None:
        return self.response.error_id

    @property
    def token(self) -> str | None:
        return self.response.token

    def __repr__(self) -> str:
        flag = "" if self.expected else " UNEXPECTED"
        return (
            f"<{self.service} {self.request.method} {self.request.path} -> "
            f"{self.response.status}{flag}>"
        )


class RequestLog:
    """A thread-safe, append-only list of :class:`Exchange` for assertions."""

    def __init__(self) -> None:
        self._items: list[Exchange] = []
        self._lock = threading.Lock()

    def append(self, exchange: Exchange) -> None:
        with self._lock:
            self._items.append(exchange)

    def __iter__(self) -> Iterator[Exchange]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Exchange:
        return self._items[index]

    @property
    def unexpected(self) -> list[Exchange]:
        return [e for e in self if not e.expected]

    def matching(self, method: str | None = None, path: str | None = None) -> list[Exchange]:
        """Exchanges whose method equals ``method`` and whose path contains ``path``."""
        return [
            e
            for e in self
            if (method is None or e.request.method == method.upper())
            and (path is None or path in e.request.path)
        ]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


Responder = Callable[[FakeRequest], FakeResponse]
#: A user route's handler: a full response, or a document sent as JSON.
RouteHandler = Callable[[FakeRequest], "FakeResponse | dict[str, Any] | list[Any]"]
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

    ``times`` is how many matching requests it applies to (None: always); ``path`` a
    regular expression searched in the request path; ``method`` an HTTP method.
    """

    respond: Responder | None = None
    times: int | None = 1
    path: str | None = None
    method: str | None = None
    delay: float = 0.0
    drop_connection: bool = False
    label: str = "fault"

    def matches(self, request: FakeRequest) -> bool:
        if self.method is not None and request.method != self.method.upper():
            return False
        return self.path is None or re.search(self.path, request.path) is not None


class FaultPlan:
    """Armed faults, consulted in arming order before a fake answers normally."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> Fault:
        if fault.times is not None and fault.times < 1:
            raise ValueError(
                f"times must be a positive number of requests or None, got {fault.times!r}"
            )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, request: FakeRequest) -> Fault | None:
        """The first fault that matches ``request``, consuming one of its uses."""
        if not self._faults:  # nothing armed: no lock needed to know it
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(request):
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

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def _origins(origins: Iterable[str]) -> tuple[str, ...]:
    """``cors_origins`` checked: a tuple of ``scheme://host[:port]`` strings or ``"*"``."""
    if isinstance(origins, str):
        raise TypeError(f"cors_origins must be a list of origins, not the string {origins!r}")
    found = tuple(origins)
    for origin in found:
        if not isinstance(origin, str) or not (origin == "*" or "://" in origin):
            raise ValueError(
                f"cors_origins: {origin!r} is not '*' or an origin such as 'https://app.example.com'"
            )
    return found


_httpsemantics: Any = None


def _load_httpsemantics() -> Any:
    """The :mod:`httpsemantics` module (it imports this one, so it is loaded on first use)."""
    global _httpsemantics
    from . import httpsemantics

    _httpsemantics = httpsemantics
    return httpsemantics


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
            self.cors_origins = _origins(cors_origins)
        self.clock = clock or Clock()
        self.log = RequestLog()
        self.faults = FaultPlan()
        self._lock = threading.RLock()

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        raise NotImplementedError

    # HTTP semantics (HEAD, OPTIONS, CORS, gzip, 405 Allow: see httpsemantics) ------------
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
        httpsemantics = _httpsemantics or _load_httpsemantics()
        early, effective = httpsemantics.prepare(self, request)
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
        response = httpsemantics.finish(self, request, response)
        self.log.append(
            Exchange(request, response, self.clock.now(), self.name, credential, expected, injected)
        )
        encoded: FakeResponse = httpsemantics.encode(self, request, response)
        return encoded

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
    ) -> Fault:
        """Arm a raw fault (see :class:`Fault`)."""
        return self.faults.arm(Fault(respond, times, path, method, delay, drop_connection, label))

    def arm_delay(self, seconds: float, *, times: int | None = 1, path: str | None = None) -> Fault:
        """Answer normally, but only after ``seconds``."""
        return self.arm(None, times=times, path=path, delay=seconds, label=f"delay {seconds}s")

    def arm_drop(self, *, times: int | None = 1, path: str | None = None) -> Fault:
        """Close the connection without answering."""
        return self.arm(None, times=times, path=path, drop_connection=True, label="drop")

    def error_responder(self, name: str) -> Responder:
        """A responder answering with the catalogue error ``name`` (an id or a name)."""
        raise LookupError(f"{type(self).__name__} has no error catalogue (asked for {name!r})")

    def arm_sequence(
        self, steps: Iterable[Responder | str | None], *, path: str | None = None
    ) -> list[Fault]:
        """One fault per request, in order. A step is a responder, a catalogue error id or name
        (``"401-BadCredentialsException"``), or ``None`` to answer normally; e.g. an expired
        token's 401 and then success, for a client's refresh flow."""
        armed = []
        for step in steps:
            if step is None:
                armed.append(
                    self.arm(lambda r: self.dispatch(r)[0], times=1, path=path, label="pass")
                )
            elif isinstance(step, str):
                armed.append(self.arm(self.error_responder(step), times=1, path=path, label=step))
            else:
                armed.append(self.arm(step, times=1, path=path))
        return armed


class FakeRouter:
    """Routes each request to the fake whose base URL host matches; 502-free: an unknown
    host is a programming error of the test and raises :class:`LookupError`."""

    def __init__(self, services: Iterable[FakeService] = ()) -> None:
        self.services: list[FakeService] = list(services)

    def add(self, service: FakeService) -> None:
        self.services.append(service)

    def service_for(self, request: FakeRequest) -> FakeService | None:
        """The service for the request's host; among services sharing a host, the one whose
        ``path_prefix`` starts the path (case-insensitively), else one without a prefix."""
        host = request.host.lower()
        path = request.path.lower()
        fallback: FakeService | None = None
        for service in self.services:
            if service.host.lower() != host:
                continue
            prefix = getattr(service, "path_prefix", None)
            if prefix is None:
                fallback = fallback or service
            elif path.startswith(prefix.lower()):
                return service
        if fallback is None:  # a single service on that host answers everything (its 404)
            fallback = next((s for s in self.services if s.host.lower() == host), None)
        return fallback

    def handle(self, request: FakeRequest) -> FakeResponse:
        service = self.service_for(request)
        if service is None:
            raise LookupError(
                f"no fake serves host {request.host!r} "
                f"(known: {', '.join(s.host for s in self.services)})"
            )
        return service.handle(request)


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
