"""Serve a fake to ``httpx`` clients: a transport, or a patch of httpx's own transports."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from unittest import mock

import anyio
import httpx

from ..http import FakeRequest, FakeResponse
from ..http.chaos import (
    DRIBBLE_PAUSE_SECONDS,
    DRIBBLE_PIECE,
    SLOW_HEADERS_SECONDS,
    truncated_length,
)
from . import Target, bodiless_status, host_pattern, target_hosts

__all__ = [
    "FakeTransport",
    "patch_httpx",
    "route_httpx",
    "serve_async",
    "serve_sync",
    "to_fake_request",
    "to_httpx_response",
]


def to_fake_request(request: httpx.Request, body: bytes) -> FakeRequest:
    """An ``httpx.Request`` (whose body was read) as a :class:`FakeRequest`."""
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw)
    return FakeRequest(request.method.upper(), str(request.url), headers, body)


def to_httpx_response(response: FakeResponse, request: httpx.Request) -> httpx.Response:
    """A :class:`FakeResponse` as an ``httpx.Response`` (repeated headers kept).

    The body goes in as a stream, as from a connection: the client decodes it (gzip) when it
    reads it, and ``iter_raw()`` on a streamed response yields the bytes as sent.
    ``Content-Length`` is added when the fake did not set one and the status may carry a body
    (a HEAD's too), as a server frames it.
    """
    bodiless = bodiless_status(response.status)
    body = b"" if request.method == "HEAD" or bodiless else response.body
    headers = response.headers
    if not bodiless and not any(k.lower() == "content-length" for k, _ in headers):
        headers = [*headers, ("Content-Length", str(len(response.body)))]
    stream: httpx.SyncByteStream | httpx.AsyncByteStream = httpx.ByteStream(body)
    if response.chaos in _BODY_CHAOS:
        stream = _ChaosStream(response.chaos, body, request)
        if response.chaos == "bad_chunked":
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Transfer-Encoding", "chunked"))
    return httpx.Response(
        response.status,
        headers=headers,
        stream=stream,
        request=request,
        extensions={
            "http_version": b"HTTP/1.1",
            "reason_phrase": response.reason.encode("ascii", "replace"),
        },
    )


_BODY_CHAOS = frozenset({"truncate", "reset", "dribble", "bad_chunked"})


class _ChaosStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body broken as the seeded chaos ``kind`` says (http/chaos.py), raising
    the error httpcore raises for the same thing on a socket."""

    def __init__(self, kind: str, body: bytes, request: httpx.Request) -> None:
        self.kind, self.body, self.request = kind, body, request

    def _pieces(self) -> list[bytes]:
        if self.kind == "dribble":
            step = DRIBBLE_PIECE
            return [self.body[i : i + step] for i in range(0, len(self.body), step)]
        if self.kind == "bad_chunked":
            return []
        return [self.body[: truncated_length(len(self.body))]]

    def _error(self) -> httpx.TransportError | None:
        if self.kind == "truncate":
            return httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body "
                f"(seeded chaos: {truncated_length(len(self.body))} of {len(self.body)} bytes)",
                request=self.request,
            )
        if self.kind == "reset":
            return httpx.ReadError(
                "[Errno 104] Connection reset by peer (seeded chaos)", request=self.request
            )
        if self.kind == "bad_chunked":
            return httpx.RemoteProtocolError(
                "malformed chunked encoding: invalid chunk size line (seeded chaos)",
                request=self.request,
            )
        return None

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._pieces():
            if self.kind == "dribble":
                time.sleep(DRIBBLE_PAUSE_SECONDS)
            yield piece
        error = self._error()
        if error is not None:
            raise error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            if self.kind == "dribble":
                await anyio.sleep(DRIBBLE_PAUSE_SECONDS)
            yield piece
        error = self._error()
        if error is not None:
            raise error


def _read_timeout(request: httpx.Request) -> float | None:
    """The read timeout the client set for ``request`` (``None``: wait for ever)."""
    timeout = request.extensions.get("timeout")
    read = timeout.get("read") if isinstance(timeout, dict) else None
    return float(read) if isinstance(read, (int, float)) else None


def _wait(request: httpx.Request, delay: float) -> tuple[float, httpx.ReadTimeout | None]:
    """How long to sleep for a fake ``delay``, and the error to raise after: a delay beyond
    the client's read timeout ends in ``ReadTimeout`` at that timeout, as a slow server's."""
    limit = _read_timeout(request)
    if limit is not None and delay > limit:
        return limit, httpx.ReadTimeout(
            f"{request.url} did not answer within the read timeout of {limit} s "
            f"(fake delay of {delay} s)",
            request=request,
        )
    return delay, None


def _delay(response: FakeResponse) -> float:
    """The wait before the answer's head: the fake's delay, plus seeded slow headers."""
    slow = SLOW_HEADERS_SECONDS if response.chaos == "slow_headers" else 0.0
    return response.delay + slow


def _dropped(request: httpx.Request) -> httpx.ConnectError:
    return httpx.ConnectError(
        f"connection to {request.url} closed without a response (fake drop_connection)",
        request=request,
    )


def serve_sync(target: Target, request: httpx.Request) -> httpx.Response:
    """``target``'s answer to one sync httpx request (delay, drop and read timeout applied)."""
    response = target.handle(to_fake_request(request, request.read()))
    if response.delay > 0 or response.chaos == "slow_headers":
        seconds, timed_out = _wait(request, _delay(response))
        time.sleep(seconds)
        if timed_out is not None:
            raise timed_out
    if response.drop_connection:
        raise _dropped(request)
    return to_httpx_response(response, request)


async def serve_async(target: Target, request: httpx.Request) -> httpx.Response:
    """``target``'s answer to one async httpx request; the delay does not block the loop."""
    response = target.handle(to_fake_request(request, await request.aread()))
    if response.delay > 0 or response.chaos == "slow_headers":
        seconds, timed_out = _wait(request, _delay(response))
        await anyio.sleep(seconds)  # asyncio.sleep on asyncio, works on trio too
        if timed_out is not None:
            raise timed_out
    if response.drop_connection:
        raise _dropped(request)
    return to_httpx_response(response, request)


class FakeTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport answering every request from ``target``; use it with
    ``httpx.Client(transport=...)`` or ``httpx.AsyncClient(transport=...)``."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return serve_sync(self.target, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await serve_async(self.target, request)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""


@contextmanager
def route_httpx(choose: Callable[[httpx.Request], Target | None]) -> Iterator[None]:
    """Patch ``httpx.HTTPTransport`` and ``httpx.AsyncHTTPTransport`` for the block: a request
    for which ``choose(request)`` names a target is answered by it; for ``None`` it goes
    through the original transport method (the real network, a loopback server). Clients
    built with their own ``transport=`` are not affected."""
    real_sync = httpx.HTTPTransport.handle_request
    real_async = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        target = choose(request)
        if target is None:
            return real_sync(self, request)
        return serve_sync(target, request)

    async def handle_async_request(
        self: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        target = choose(request)
        if target is None:
            return await real_async(self, request)
        return await serve_async(target, request)

    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(httpx.HTTPTransport, "handle_request", handle_request)
        )
        stack.enter_context(
            mock.patch.object(
                httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request
            )
        )
        yield


@contextmanager
def patch_httpx(target: Target, hosts: Iterable[str] | None = None) -> Iterator[FakeTransport]:
    """Patch ``httpx.HTTPTransport`` and ``httpx.AsyncHTTPTransport`` so requests to
    ``hosts`` (default: the target's services' hosts) are answered by ``target``; every other
    host goes through the original transport method (the real network, a loopback server).

    Clients built with their own ``transport=`` are not affected. Yields the
    :class:`FakeTransport` doing the answering.
    """
    host_list = list(hosts) if hosts is not None else target_hosts(target)
    matcher = re.compile(host_pattern(host_list) + r"\Z", re.IGNORECASE)

    def ours(request: httpx.Request) -> Target | None:
        netloc = request.url.netloc.decode("ascii", "replace")
        return target if matcher.match(netloc) is not None else None

    with route_httpx(ours):
        yield FakeTransport(target)
