"""Serve a fake to ``requests`` at its transport adapter, with no mock library in between.

``patch_requests(answer)`` replaces ``requests.adapters.HTTPAdapter.send`` for its block:
``answer(request)`` returns a :class:`FakeResponse` for a request it serves, or ``None`` to let
the request go on to whatever ``send`` was there before (the real network, a loopback server,
or a ``responses`` mock the user started first). A served answer becomes a ``requests.Response``
the way ``responses`` builds one (a urllib3 ``HTTPResponse`` through the adapter's own
``build_response``: gzip decoding, cookies, encoding, ``raw`` and ``stream=True`` all as from a
connection), the adapter's ``max_retries`` are honoured for status retries as ``responses``
does (without sleeping), and a ``delay`` longer than the client's read timeout raises
``ReadTimeout`` after that timeout, as a slow server would.
"""

from __future__ import annotations

import inspect
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict, HTTPResponse
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from ..http import FakeRequest, FakeResponse
from ..http.chaos import SLOW_HEADERS_SECONDS, cut_short
from . import Target, bodiless_status, strip_port, target_hosts

__all__ = [
    "Answer",
    "build_response",
    "patch_requests",
    "request_netloc",
    "serve_requests",
    "to_fake_request",
]

#: ``answer(prepared_request)``: the fake's response, or ``None`` to pass the request on.
Answer = Callable[[requests.PreparedRequest], FakeResponse | None]

_Send = Callable[..., requests.Response]
_BUILD_RESPONSE = HTTPAdapter.build_response


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        return _body_bytes(body.read())
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, Iterable):  # a generator: requests would send it chunked
        return b"".join(_body_bytes(chunk) for chunk in body)
    raise TypeError(f"cannot read a request body of type {type(body).__name__}")


def to_fake_request(request: requests.PreparedRequest) -> FakeRequest:
    """A ``requests.PreparedRequest`` as a :class:`FakeRequest` (absolute URL, headers in
    order, body bytes)."""
    headers = tuple(request.headers.items())
    if not all(type(k) is str and type(v) is str for k, v in headers):
        headers = tuple((_text(k), _text(v)) for k, v in headers)
    return FakeRequest(
        str(request.method or "GET").upper(), str(request.url), headers, _body_bytes(request.body)
    )


def request_netloc(url: str) -> str:
    """The lower-cased ``host[:port]`` of an absolute http(s) URL, without user info; ``""``
    for anything else. Plain string splitting: nothing to backtrack on."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return ""
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1 and found < end:
            end = found
    return rest[:end].rpartition("@")[2].lower()


#: What a connection's response says of its protocol (``version_string`` from urllib3 2.3).
_HTTP11: dict[str, Any] = (
    {"version": 11, "version_string": "HTTP/1.1"}
    if "version_string" in inspect.signature(HTTPResponse.__init__).parameters
    else {"version": 11}
)
_CLOSED = BytesIO()
_CLOSED.close()
_COOKIE_HEADERS = ("set-cookie", "set-cookie2")


#: The zlib codings the installed urllib3 decodes itself (``x-gzip`` only from urllib3 2.1).
_ZLIB_CODINGS = frozenset({"gzip", "x-gzip", "deflate"}) & frozenset(
    getattr(HTTPResponse, "CONTENT_DECODERS", ("gzip", "deflate"))
)


def _decoded(body: bytes, coding: str | None) -> bytes | None:
    """``body`` as the installed urllib3 would read it when that is cheap to do here: no
    coding or ``identity`` (the body itself), or one gzip/deflate layer urllib3 decodes;
    ``None`` for anything else (left to urllib3, which then decodes or not as it does)."""
    coding = (coding or "").strip().lower()
    if not coding or coding == "identity":
        return body
    if coding not in _ZLIB_CODINGS:
        return None
    try:
        if coding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:  # raw deflate, as urllib3 also accepts
                return zlib.decompress(body, -zlib.MAX_WBITS)
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    except zlib.error:
        return None  # urllib3 raises its own DecodeError, as from a connection


def _joined(pairs: list[tuple[str, str]]) -> CaseInsensitiveDict[str]:
    """Headers as requests shows them: repeated names joined with ``", "`` under the first
    spelling, as ``CaseInsensitiveDict(HTTPHeaderDict(pairs))`` gives."""
    spelling: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, value in pairs:
        lname = name.lower()
        if lname in values:
            values[lname] = f"{values[lname]}, {value}"
        else:
            spelling[lname] = name
            values[lname] = value
    return CaseInsensitiveDict({spelling[lname]: value for lname, value in values.items()})


def build_response(
    adapter: HTTPAdapter,
    request: requests.PreparedRequest,
    fake: FakeResponse,
    stream: bool = True,
) -> requests.Response:
    """``fake`` as the adapter would have built it from a connection (repeated headers kept,
    ``Content-Length`` added when the fake set none, the body as sent: decoded when read,
    ``Set-Cookie`` reaching the jar). With ``stream`` false the content is read at once, as
    ``Session.send`` would read it, and ``raw`` is left at its end."""
    body = b"" if request.method == "HEAD" or bodiless_status(fake.status) else fake.body
    pairs = fake.headers
    cookies = length = False
    coding: str | None = None
    for name, value in pairs:
        lname = name.lower()
        if lname == "content-length":
            length = True
        elif lname == "content-encoding":
            coding = value if coding is None else f"{coding}, {value}"
        elif lname in _COOKIE_HEADERS:
            cookies = True
    if not length and not bodiless_status(fake.status):  # as a server frames it (HEAD too)
        pairs = [*pairs, ("Content-Length", str(len(fake.body)))]
    headers = HTTPHeaderDict()
    for name, value in pairs:
        headers.add(name, value)
    # requests reads cookies from ``_original_response.msg``; build it only when there are any
    original = (
        HTTPResponse(body=_CLOSED, headers=headers, msg=headers, preload_content=False)  # type: ignore[arg-type]
        if cookies
        else None
    )
    content = None if stream else _decoded(body, coding)
    raw = HTTPResponse(
        body=BytesIO(body if content is None else b""),
        headers=headers,
        status=fake.status,
        reason=fake.reason,
        preload_content=False,
        decode_content=True,
        original_response=original,  # type: ignore[arg-type]
        **_HTTP11,
        request_method=request.method,
        request_url=request.url,
    )
    if type(adapter).build_response is not _BUILD_RESPONSE:  # a subclass's own: honour it
        response = adapter.build_response(request, raw)
    else:  # what HTTPAdapter.build_response does, without re-reading the headers
        response = requests.Response()
        response.status_code = fake.status
        response.headers = _joined(pairs)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.reason = fake.reason
        url = request.url
        response.url = url.decode("utf-8") if isinstance(url, bytes) else str(url)
        if cookies:
            extract_cookies_to_jar(response.cookies, request, raw)  # type: ignore[no-untyped-call]
        response.request = request
        response.connection = adapter
    if content is not None:
        response._content = content
        response._content_consumed = True  # type: ignore[attr-defined]
    return response


def _read_timeout(timeout: Any) -> float | None:
    """The read timeout of a ``requests`` ``timeout=`` argument (number, pair, urllib3
    ``Timeout``)."""
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        timeout = timeout[1] if len(timeout) == 2 else None
    read = getattr(timeout, "read_timeout", timeout)
    return float(read) if isinstance(read, (int, float)) else None


def _chaos(fake: FakeResponse, request: requests.PreparedRequest) -> FakeResponse:
    """Seeded chaos without a socket: slow headers wait, a reset is a ``ConnectionError``,
    a truncated body or broken chunked framing a body shorter than its ``Content-Length``
    (``ChunkedEncodingError`` when read); dribbling cannot show and answers whole."""
    if fake.chaos == "slow_headers":
        time.sleep(SLOW_HEADERS_SECONDS)
    elif fake.chaos == "reset":
        raise requests.exceptions.ConnectionError(
            f"connection to {request.url} was reset (seeded chaos)", request=request
        )
    elif fake.chaos in ("truncate", "bad_chunked") and fake.body:
        return cut_short(fake)
    return fake


def _serve(
    answer: Answer,
    fake: FakeResponse,
    adapter: HTTPAdapter,
    request: requests.PreparedRequest,
    stream: bool,
    timeout: Any,
    retries: Retry | None,
) -> requests.Response:
    if fake.delay > 0:
        limit = _read_timeout(timeout)
        if limit is not None and fake.delay > limit:
            time.sleep(limit)
            raise requests.exceptions.ReadTimeout(
                f"{request.url} did not answer within the read timeout of {limit} s "
                f"(fake delay of {fake.delay} s)",
                request=request,
            )
        time.sleep(fake.delay)
    if fake.drop_connection:
        raise requests.exceptions.ConnectionError(
            f"connection to {request.url} closed without a response (fake drop_connection)",
            request=request,
        )
    if fake.chaos is not None:  # seeded chaos, as far as requests can show it (http/chaos.py)
        fake, stream = _chaos(fake, request), True
    response = build_response(adapter, request, fake, stream)
    retry = retries if retries is not None else adapter.max_retries
    # status retries as urllib3 would do them inside the adapter (as ``responses`` does them)
    if retry.is_retry(
        method=str(request.method),
        status_code=response.status_code,
        has_retry_after="Retry-After" in response.headers,
    ):
        try:
            retry = retry.increment(
                method=str(request.method), url=response.url, response=response.raw
            )
        except MaxRetryError as exc:
            if retry.raise_on_status:
                raise requests.exceptions.RetryError(exc, request=request) from None
            return response
        again = answer(request)
        if again is not None:
            return _serve(answer, again, adapter, request, stream, timeout, retry)
    return response


@contextmanager
def patch_requests(answer: Answer) -> Iterator[_Send]:
    """Answer ``requests`` calls with ``answer`` for the block; yields the ``send`` that was
    there before (what unanswered requests go to). Blocks nest; each restores what it found."""
    before: _Send = HTTPAdapter.send

    def send(
        self: HTTPAdapter,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        fake = answer(request)
        if fake is None:
            return before(
                self,
                request,
                stream=stream,
                timeout=timeout,
                verify=verify,
                cert=cert,
                proxies=proxies,
            )
        return _serve(answer, fake, self, request, stream, timeout, None)

    HTTPAdapter.send = send  # type: ignore[method-assign]
    try:
        yield before
    finally:
        HTTPAdapter.send = before  # type: ignore[method-assign]


@contextmanager
def serve_requests(target: Target, hosts: Iterable[str] | None = None) -> Iterator[Target]:
    """Answer ``requests`` calls to ``hosts`` (default: the hosts the target's services
    declare; a host given without a port matches any port) with ``target``; every other
    request goes on as before (the real network, a loopback server). Yields ``target``."""
    host_list = [h.strip().lower() for h in (hosts if hosts is not None else target_hosts(target))]
    exact = {h for h in host_list if strip_port(h) != h}
    any_port = {h for h in host_list if strip_port(h) == h}

    def answer(request: requests.PreparedRequest) -> FakeResponse | None:
        netloc = request_netloc(str(request.url))
        if netloc and (netloc in exact or strip_port(netloc) in any_port):
            return target.handle(to_fake_request(request))
        return None

    with patch_requests(answer):
        yield target
