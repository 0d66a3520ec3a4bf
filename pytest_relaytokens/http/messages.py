"""The two message types every fake and transport speaks, and the request log.

A fake service is anything with ``handle(FakeRequest) -> FakeResponse``. Transports
(responses, httpx, the loopback server, recording) only convert to and from these two types.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import http
import json as _json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from .headers import media_type

__all__ = [
    "Dispatched",
    "Exchange",
    "FakeRequest",
    "FakeResponse",
    "RequestLog",
    "answer_problem",
    "body_digest",
    "first_bad_header",
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
    # Built on first use (the request is immutable): the first value of each header by
    # lower-cased name, and whether a name repeats (strings only: a request the log keeps
    # gives the garbage collector nothing to look at), the URL parts.
    _first: dict[str, str] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )
    _repeats: bool = field(default=False, init=False, repr=False, compare=False, hash=False)
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

    def _first_values(self) -> dict[str, str]:
        found = self._first
        if found is None:
            found = {}
            for key, value in self.headers:
                found.setdefault(key.lower(), value)
            object.__setattr__(self, "_repeats", len(found) != len(self.headers))
            object.__setattr__(self, "_first", found)
        return found

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header of that name (case-insensitive)."""
        return self._first_values().get(name.lower(), default)

    def header_all(self, name: str) -> list[str]:
        """Every header of that name, in order."""
        found = self._first_values()
        if self._repeats:
            return _all_headers(self.headers, name)
        lname = name.lower()
        return [found[lname]] if lname in found else []

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
    #: the seeded chaos the transport applies to this answer (see http/chaos.py), or None
    chaos: str | None = None

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
        return media_type(self.header("Content-Type"))

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return _json.loads(self.body)

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
            self.chaos,
        )


#: The characters of an RFC 9110 token: all a header name may hold.
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
#: What a header value must not hold: control characters but tab (a character class: no
#: backtracking).
_VALUE_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def body_digest(body: bytes) -> str:
    """How an error message refers to a body: its length and a short sha256 prefix (never
    the body itself, which may carry a credential)."""
    return f"{len(body)} byte(s), sha256 {hashlib.sha256(body).hexdigest()[:12]}"


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


#: What a service's ``dispatch`` returns: the answer, the kind of credential the request
#: carried (None: none), and whether a route of the service matched.
Dispatched = tuple[FakeResponse, str | None, bool]
