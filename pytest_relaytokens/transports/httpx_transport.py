"""Serve a fake to ``httpx`` clients: a transport, or a patch of httpx's own transports."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from unittest import mock

import anyio
import httpx

from ..core import FakeRequest, FakeResponse
from . import Target, bodiless_status, host_pattern, target_hosts

__all__ = ["FakeTransport", "patch_httpx", "to_fake_request", "to_httpx_response"]


def to_fake_request(request: httpx.Request, body: bytes) -> FakeRequest:
    """An ``httpx.Request`` (whose body was read) as a :class:`FakeRequest`."""
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw)
    return FakeRequest(request.method.upper(), str(request.url), headers, body)


def to_httpx_response(response: FakeResponse, request: httpx.Request) -> httpx.Response:
    """A :class:`FakeResponse` as an ``httpx.Response`` (repeated headers kept).

    The body goes in as a stream, as from a connection: the client decodes it (gzip) when it
    reads it, and ``iter_raw()`` on a streamed response yields the bytes as sent.
    ``Content-Length`` is added when the fake did not set one (as ``content=`` would).
    """
    body = b"" if request.method == "HEAD" or bodiless_status(response.status) else response.body
    headers = response.headers
    if body and not any(k.lower() == "content-length" for k, _ in headers):
        headers = [*headers, ("Content-Length", str(len(body)))]
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


class FakeTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport answering every request from ``target``; use it with
    ``httpx.Client(transport=...)`` or ``httpx.AsyncClient(transport=...)``."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.target.handle(to_fake_request(request, request.read()))
        if response.delay > 0:
            seconds, timed_out = _wait(request, response.delay)
            time.sleep(seconds)
            if timed_out is not None:
                raise timed_out
        if response.drop_connection:
            raise _dropped(request)
        return to_httpx_response(response, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self.target.handle(to_fake_request(request, await request.aread()))
        if response.delay > 0:
            seconds, timed_out = _wait(request, response.delay)
            await anyio.sleep(seconds)  # asyncio.sleep on asyncio, works on trio too
            if timed_out is not None:
                raise timed_out
        if response.drop_connection:
            raise _dropped(request)
        return to_httpx_response(response, request)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""


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
    fake = FakeTransport(target)
    real_sync = httpx.HTTPTransport.handle_request
    real_async = httpx.AsyncHTTPTransport.handle_async_request

    def ours(request: httpx.Request) -> bool:
        return matcher.match(request.url.netloc.decode("ascii", "replace")) is not None

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if ours(request):
            return fake.handle_request(request)
        return real_sync(self, request)

    async def handle_async_request(
        self: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        if ours(request):
            return await fake.handle_async_request(request)
        return await real_async(self, request)

    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(httpx.HTTPTransport, "handle_request", handle_request)
        )
        stack.enter_context(
            mock.patch.object(
                httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request
            )
        )
        yield fake
