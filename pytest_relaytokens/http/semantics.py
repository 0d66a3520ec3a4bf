"""HTTP semantics shared by every fake, below every transport: HEAD, OPTIONS, CORS, gzip, 405.

A service declares ``allowed_methods(path)`` (a frozenset, or None for a path it does not
serve); ``FakeService.handle`` calls :func:`prepare`, :func:`finish` and :func:`encode` around the
service's own answer:

- ``HEAD`` is answered as ``GET`` wherever GET is served (same status and headers; the
  transports drop the body). Every answer to a ``HEAD`` carries the ``Content-Length`` of the
  body a GET would get (gzipped or not), here, so the log and every transport agree.
- ``OPTIONS`` is answered here (no authentication, no fault): 200 with ``Allow``; a CORS
  preflight to a service with ``cors_origins`` gets the ``Access-Control-*`` answer.
- A 405 always carries ``Allow``.
- With ``cors_origins`` set, responses to requests carrying ``Origin`` or ``X-Ms-Origin`` from
  an allowed origin carry ``Access-Control-Allow-Origin`` and friends.
- A body is gzipped when the request's ``Accept-Encoding`` accepts gzip (as IIS does).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable
from typing import Protocol

from .headers import weighted
from .messages import FakeRequest, FakeResponse

__all__ = [
    "CORS_EXPOSED_HEADERS",
    "CORS_MAX_AGE",
    "accepts_gzip",
    "allow_header",
    "compress",
    "cors_headers",
    "encode",
    "finish",
    "gzip_bytes",
    "is_preflight",
    "prepare",
]

#: How long a browser may cache a preflight answer (seconds). Inferred: IIS CORS default.
CORS_MAX_AGE = 600
#: Response headers a browser script may read on a CORS response (inferred: what the
#: clients read: the challenge, the diagnostics, the created resource).
CORS_EXPOSED_HEADERS = "WWW-Authenticate, X-Ms-diagnostics, Location, Retry-After, ETag"
_NO_BODY = frozenset({204, 304})


class SemanticService(Protocol):
    """What :func:`prepare`, :func:`finish` and :func:`encode` need from a service."""

    cors_origins: tuple[str, ...] | None
    compress_responses: bool

    def allowed_methods(self, path: str) -> frozenset[str] | None: ...

    def preflight_refused(self, request: FakeRequest, allow: str) -> FakeResponse: ...

    def carried_token(self, request: FakeRequest) -> str | None: ...


def allow_header(methods: Iterable[str]) -> str:
    """The ``Allow`` value for ``methods``: HEAD wherever GET is, OPTIONS always, sorted."""
    found = {m.upper() for m in methods}
    if "GET" in found:
        found.add("HEAD")
    found.add("OPTIONS")
    return ", ".join(sorted(found))


def is_preflight(request: FakeRequest) -> bool:
    """A CORS preflight: OPTIONS with ``Origin`` and ``Access-Control-Request-Method``."""
    return (
        request.method == "OPTIONS"
        and request.header("Origin") is not None
        and request.header("Access-Control-Request-Method") is not None
    )


def accepts_gzip(request: FakeRequest) -> bool:
    """Whether ``Accept-Encoding`` accepts gzip: ``gzip`` or ``x-gzip`` with q > 0, else ``*``
    with q > 0 (RFC 9110 §12.5.3; x-gzip is gzip, §8.4.1.3)."""
    values = request.header_all("Accept-Encoding")
    if not values:
        return False
    # Repeated headers are one comma-separated list (§5.3): joined, the same items.
    value = values[0] if len(values) == 1 else ",".join(values)
    return _gzip_cached(value) if len(value) <= _CACHED_MAX else _gzip_accepted(value)


#: ``Accept-Encoding`` values this long or shorter are decided once and remembered (clients
#: send the same one or two on every request).
_CACHED_MAX = 256


def _gzip_accepted(value: str) -> bool:
    accepted = dict(weighted(value))
    for coding in ("gzip", "x-gzip"):
        if coding in accepted:
            return accepted[coding] > 0
    return accepted.get("*", 0.0) > 0


_gzip_cached = functools.lru_cache(maxsize=64)(_gzip_accepted)


def gzip_bytes(body: bytes) -> bytes:
    """``body`` as a gzip member (mtime 0). The window and memory level are sized to the
    body: zlib's defaults allocate and clear ~256 KiB per call, most of the cost of a small
    body, for the same output."""
    bits = min(15, max(10, len(body).bit_length() + 1))
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + bits, min(8, bits - 7))
    return packer.compress(body) + packer.flush()


def compress(response: FakeResponse) -> FakeResponse:
    """A copy of ``response`` with a gzip body (``Content-Encoding: gzip``, ``Vary``); a
    ``Content-Length`` it had gives the gzipped body's length."""
    out = _compressed(response, unless_encoded=False)
    assert out is not None  # only an encoded answer kept as it is gives None
    return out


def _compressed(response: FakeResponse, *, unless_encoded: bool) -> FakeResponse | None:
    """:func:`compress` in one pass over the headers; with ``unless_encoded``, None (and no
    gzip) when ``response`` already has a ``Content-Encoding``."""
    headers: list[tuple[str, str]] = []
    had_length = False
    vary = -1  # where the first Vary is among the headers kept
    for key, value in response.headers:
        name = key.lower()
        if name == "content-length":
            had_length = True
            continue
        if name == "vary":
            if vary < 0:
                vary = len(headers)
        elif name == "content-encoding" and unless_encoded:
            return None
        headers.append((key, value))
    out = response.copy()
    out.body = gzip_bytes(response.body)
    if had_length:
        headers.append(("Content-Length", str(len(out.body))))
    headers.append(("Content-Encoding", "gzip"))
    if vary < 0:
        headers.append(("Vary", "Accept-Encoding"))
    else:
        key, value = headers[vary]
        if "accept-encoding" not in {v.strip().lower() for v in value.split(",")}:
            headers[vary] = (key, f"{value}, Accept-Encoding")
    out.headers = headers
    return out


def _add_vary(response: FakeResponse, name: str) -> None:
    for index, (key, value) in enumerate(response.headers):
        if key.lower() == "vary":
            if name.lower() not in {v.strip().lower() for v in value.split(",")}:
                response.headers[index] = (key, f"{value}, {name}")
            return
    response.headers.append(("Vary", name))


def _allowed_origin(origins: tuple[str, ...] | None, origin: str | None) -> bool:
    if origins is None or not origin:
        return False
    return "*" in origins or origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in origins}


def cors_headers(origin: str) -> list[tuple[str, str]]:
    """The ``Access-Control-*`` headers added to an answer for an allowed ``origin``."""
    return [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS),
    ]


def _options_answer(allow: str) -> FakeResponse:
    return FakeResponse(200, [("Allow", allow), ("Content-Length", "0")], b"")


def _preflight(
    request: FakeRequest, service: SemanticService, methods: frozenset[str]
) -> FakeResponse:
    origin = request.header("Origin") or ""
    allow = allow_header(methods)
    wanted = (request.header("Access-Control-Request-Method") or "").strip().upper()
    if not _allowed_origin(service.cors_origins, origin) or wanted not in allow.split(", "):
        return service.preflight_refused(request, allow)
    response = _options_answer(allow)
    response.headers += [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Allow-Methods", allow),
        ("Access-Control-Max-Age", str(CORS_MAX_AGE)),
        ("Vary", "Origin"),
    ]
    requested = request.header("Access-Control-Request-Headers")
    if requested and requested.strip():
        response.headers.append(("Access-Control-Allow-Headers", requested.strip()))
    return response


def prepare(
    service: SemanticService, request: FakeRequest
) -> tuple[FakeResponse | None, FakeRequest]:
    """Before faults and dispatch: the answer to an ``OPTIONS`` (or None), and the request
    the service should answer (a ``HEAD`` becomes a ``GET`` where GET is served). Only
    these two methods need the methods served at the path: any other goes on as it came."""
    if request.method != "OPTIONS" and request.method != "HEAD":
        return None, request
    methods = service.allowed_methods(request.path)
    if methods is None:
        return None, request
    if request.method == "OPTIONS" and "OPTIONS" not in methods:
        if is_preflight(request):
            return _preflight(request, service, methods), request
        return _options_answer(allow_header(methods)), request
    if request.method == "HEAD" and "HEAD" not in methods and "GET" in methods:
        return None, FakeRequest("GET", request.url, request.headers, request.body)
    return None, request


def finish(service: SemanticService, request: FakeRequest, response: FakeResponse) -> FakeResponse:
    """After the service answered: ``Allow`` on a 405, ``Content-Length`` on an answer to a
    ``HEAD``, CORS headers for an allowed origin, and the token the request carried. The body
    stays as the service wrote it."""
    if response.drop_connection:
        return response
    extra: list[tuple[str, str]] = []
    if response.status == 405 and response.header("Allow") is None:
        methods = service.allowed_methods(request.path)
        if methods is not None:
            extra.append(("Allow", allow_header(methods)))
    if (
        request.method == "HEAD"  # the GET's headers, its length included (no body follows)
        and response.status >= 200
        and response.status not in _NO_BODY
        and response.header("Content-Length") is None
    ):
        extra.append(("Content-Length", str(len(response.body))))
    origin = request.header("Origin") or request.header("X-Ms-Origin")
    cors = (
        origin is not None
        and _allowed_origin(service.cors_origins, origin)
        and response.header("Access-Control-Allow-Origin") is None
        and not is_preflight(request)  # a preflight answer carries its own, or none
    )
    token = response.token or service.carried_token(request)
    if not extra and not cors and token == response.token:
        return response
    response = response.copy()
    response.headers = response.headers + extra
    response.token = token
    if cors and origin is not None:
        response.headers += cors_headers(origin)
        _add_vary(response, "Origin")
    return response


def encode(service: SemanticService, request: FakeRequest, response: FakeResponse) -> FakeResponse:
    """The response as it goes on the wire: gzipped when the client accepts gzip."""
    if (
        service.compress_responses
        and response.body
        and response.status >= 200
        and response.status not in _NO_BODY
        and not response.drop_connection
        and accepts_gzip(request)
    ):
        return _compressed(response, unless_encoded=True) or response
    return response
