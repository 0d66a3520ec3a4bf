"""Serve a fake to ``httpx`` clients: a transport, or a patch of httpx's own transports."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from unittest import mock

import anyio
import httpx

from ..http import FakeRequest, FakeResponse
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
    return httpx.Response(
        response.status,
        headers=headers,
        stream=httpx.ByteStream(body),
        request=request,
        extensions={
            "http_version": b"HTTP/1.1",
            "reason_phrase": response.reason.encode("ascii", "replace"),
        },
    )


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


def _dropped(request: httpx.Request) -> httpx.ConnectError:
    return httpx.ConnectError(
        f"connection to {request.url} closed without a response (fake drop_connection)",
        request=request,
    )


def serve_sync(target: Target, request: httpx.Request) -> httpx.Response:
    """``target``'s answer to one sync httpx request (delay, drop and read timeout applied)."""
    response = target.handle(to_fake_request(request, request.read()))
    if response.delay > 0:
        seconds, timed_out = _wait(request, response.delay)
        time.sleep(seconds)
        if timed_out is not None:
            raise timed_out
    if response.drop_connection:
        raise _dropped(request)
    return to_httpx_response(response, request)


async def serve_async(target: Target, request: httpx.Request) -> httpx.Response:
    """``target``'s answer to one async httpx request; the delay does not block the loop."""
    response = target.handle(to_fake_request(request, await request.aread()))
    if response.delay > 0:
        seconds, timed_out = _wait(request, response.delay)
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
