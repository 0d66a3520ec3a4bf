"""Serve a fake to ``requests`` through the ``responses`` library."""

from __future__ import annotations

import contextlib
import inspect
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
import responses

from ..http import FakeResponse
from ..http.chaos import SLOW_HEADERS_SECONDS, cut_short
from . import Target, bodiless_status, host_pattern, strip_port, target_hosts
from .requests_adapter import to_fake_request

__all__ = ["activate_responses", "to_fake_request"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_Result = tuple[int, list[tuple[str, str]], bytes] | Exception


def _tells_urllib3_the_method() -> bool:
    """Whether this responses passes the request method to urllib3 (newer releases): older
    ones do not, and urllib3 then reads a HEAD answer's Content-Length as a truncated body."""
    form = getattr(responses, "_form_response", None)
    try:
        return form is not None and "request_method" in inspect.signature(form).parameters
    except (TypeError, ValueError):
        return False


_HEAD_LENGTH = _tells_urllib3_the_method()


def _callback(target: Target) -> Any:
    def respond(request: requests.PreparedRequest) -> _Result:
        response: FakeResponse = target.handle(to_fake_request(request))
        if response.delay > 0:
            time.sleep(response.delay)
        chaos = response.chaos
        if chaos == "slow_headers":
            time.sleep(SLOW_HEADERS_SECONDS)
        if response.drop_connection or chaos == "reset":  # responses cannot reset mid-body
            what = (
                "was reset (seeded chaos)"
                if chaos == "reset" and not response.drop_connection
                else "closed without a response (fake drop_connection)"
            )
            return requests.exceptions.ConnectionError(
                f"connection to {request.url} {what}", request=request
            )
        # A list of pairs keeps repeated headers (two WWW-Authenticate): responses extends
        # an HTTPHeaderDict with it, so ``resp.raw.headers.getlist(name)`` sees each one.
        bodiless = bodiless_status(response.status)
        body = b"" if request.method == "HEAD" or bodiless else response.body
        headers = list(response.headers)
        if request.method == "HEAD" and not _HEAD_LENGTH:  # it would fail as IncompleteRead
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        elif not bodiless and not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(response.body))))  # as a server frames it
        if chaos in ("truncate", "bad_chunked") and body:  # urllib3 reads a short body
            short = cut_short(FakeResponse(response.status, headers, body))
            headers, body = short.headers, short.body
        return response.status, headers, body

    return respond


#: Mocks started by :func:`activate_responses`, innermost last.
_ACTIVE: list[responses.RequestsMock] = []


@contextmanager
def activate_responses(
    target: Target,
    hosts: Iterable[str] | None = None,
    *,
    mock: responses.RequestsMock | None = None,
    passthrough_unmatched: bool = True,
) -> Iterator[responses.RequestsMock]:
    """Serve ``target`` to every ``requests`` call for ``hosts`` (default: the hosts the
    target's services declare), any method, any path.

    Requests to other hosts really go out when ``passthrough_unmatched`` is true (the loopback
    server keeps working); otherwise ``responses`` refuses them with ``ConnectionError``.
    With ``mock`` given, the callbacks are added to it (started if it is not active) and
    removed again on exit; inside another ``activate_responses`` block they join that block's
    mock (so several fakes compose); else a fresh ``RequestsMock`` is started and stopped.
    """
    host_list = list(hosts) if hosts is not None else target_hosts(target)
    url = re.compile(r"^https?://" + host_pattern(host_list) + r"(?:[/?#]|$)", re.IGNORECASE)
    if mock is None and _ACTIVE:  # nested activations share one mock, so fakes compose
        mock = _ACTIVE[-1]
    owned = mock is None
    rmock = responses.RequestsMock(assert_all_requests_are_fired=False) if mock is None else mock
    was_active = getattr(rmock, "_patcher", None) is not None
    if owned:
        _ACTIVE.append(rmock)
    saved_passthru = tuple(rmock.passthru_prefixes)
    callback = _callback(target)
    # our own objects: add()/add_callback() return None on older responses versions
    registered = [
        responses.CallbackResponse(method, url, callback=callback, content_type=None)
        for method in _METHODS
    ]
    for added in registered:
        rmock.add(added)
    if passthrough_unmatched:  # everything but the fake's hosts (on any port) really goes out
        any_port = host_pattern(strip_port(h) for h in host_list)
        rmock.add_passthru(re.compile(r"^(?!https?://" + any_port + r"(?:[/?#]|$))", re.IGNORECASE))
    if not was_active:
        rmock.start()
    try:
        yield rmock
    finally:
        if not was_active:
            rmock.stop(allow_assert=False)
        for added in registered:
            with contextlib.suppress(Exception):  # already reset by its owner
                rmock.remove(added)
        rmock.passthru_prefixes = saved_passthru
        if owned:
            _ACTIVE.remove(rmock)
            rmock.reset()
