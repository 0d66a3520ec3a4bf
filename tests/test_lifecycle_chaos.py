"""Seeded chaos: the plan's draws, and what each transport makes of each kind."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import requests

from pytest_relaytokens.http.chaos import CHAOS_KINDS, ChaosPlan, cut_short
from pytest_relaytokens.http.messages import FakeResponse
from pytest_relaytokens.pytest_plugin.lifecycle import CHAOS_NAMES
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports.httpx_transport import FakeTransport
from pytest_relaytokens.transports.requests_adapter import serve_requests
from pytest_relaytokens.transports.responses_transport import activate_responses
from pytest_relaytokens.transports.server import LoopbackServer

PATH = "/api/enterprises/self"


def test_the_marker_spells_the_same_kinds_as_the_plan() -> None:
    assert tuple(CHAOS_KINDS) == CHAOS_NAMES


def test_same_seed_same_chaos_and_another_seed_other_chaos() -> None:
    odds = {"truncate": 0.2, "reset": 0.2, "dribble": 0.2, "slow_headers": 0.1}

    def draws(seed: int) -> list[str | None]:
        plan = ChaosPlan(seed, odds)
        return [plan.pick("GET", "/x") for _ in range(40)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert {kind for kind in draws(7) if kind} == set(odds)  # every kind drawn in 40


def test_the_path_limits_the_requests_concerned() -> None:
    plan = ChaosPlan(1, {"reset": 1.0}, path="^/api/endpoints$")
    assert plan.pick("POST", "/api/auth/accesstokens") is None
    assert plan.pick("GET", "/api/endpoints") == "reset"
    assert plan.chosen == [(0, "GET", "/api/endpoints", "reset")]


def test_an_answer_without_a_body_keeps_its_draw_but_no_body_chaos() -> None:
    plan = ChaosPlan(3, {"truncate": 1.0})
    assert plan.pick("HEAD", "/x", has_body=False) is None
    assert plan.pick("GET", "/x") == "truncate"
    assert plan.chosen == [(1, "GET", "/x", "truncate")]  # the second request, numbered 1
    slow = ChaosPlan(3, {"slow_headers": 1.0})
    assert slow.pick("HEAD", "/x", has_body=False) == "slow_headers"


@pytest.mark.parametrize(
    ("odds", "message"),
    [
        ({"explode": 0.5}, "unknown chaos kind(s) ['explode']"),
        ({"reset": 1.5}, "reset= must be a probability from 0 to 1, got 1.5"),
        ({"reset": True}, "reset= must be a probability from 0 to 1, got True"),
        ({"reset": 0.6, "truncate": 0.6}, "add up to more than 1"),
    ],
)
def test_bad_odds_are_named(odds: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ChaosPlan(0, odds)


def test_cut_short_keeps_the_promised_length() -> None:
    short = cut_short(FakeResponse(200, [("Content-Length", "10")], b"0123456789"))
    assert short.body == b"01234"
    assert short.header_all("Content-Length") == ["10"]


def _service(kind: str) -> RelayService:
    service = RelayService()
    service.lifecycle.chaos = ChaosPlan(1, {kind: 1.0}, path=f"^{PATH}$")
    return service


@contextmanager
def _served(transport: str, service: RelayService) -> Iterator[Callable[[], Any]]:
    """A call of ``GET PATH`` over ``transport``."""
    headers = {"X-Access-Token": service.credentials.access_token}
    if transport == "requests-adapter":
        with serve_requests(service):
            yield lambda: requests.get(service.base_url + PATH, headers=headers)
    elif transport == "responses":
        with activate_responses(service):
            yield lambda: requests.get(service.base_url + PATH, headers=headers)
    elif transport == "httpx":
        with httpx.Client(transport=FakeTransport(service)) as client:
            yield lambda: client.get(service.base_url + PATH, headers=headers)
    else:
        with LoopbackServer(service) as server:
            url = server.url.rstrip("/") + PATH
            if transport == "loopback-requests":
                yield lambda: requests.get(url, headers=headers, timeout=5)
            else:
                yield lambda: httpx.get(url, headers=headers, timeout=5)


_REQUESTS_BROKEN = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
#: What each transport raises for each kind (None: the answer arrives whole).
EXPECTED: dict[str, dict[str, Any]] = {
    "requests-adapter": {
        "truncate": requests.exceptions.ChunkedEncodingError,
        "reset": requests.exceptions.ConnectionError,
        "bad_chunked": requests.exceptions.ChunkedEncodingError,
    },
    "responses": {
        "truncate": requests.exceptions.ChunkedEncodingError,
        "reset": requests.exceptions.ConnectionError,
        "bad_chunked": requests.exceptions.ChunkedEncodingError,
    },
    "httpx": {
        "truncate": httpx.RemoteProtocolError,
        "reset": httpx.ReadError,
        "bad_chunked": httpx.RemoteProtocolError,
    },
    "loopback-requests": {
        "truncate": requests.exceptions.ChunkedEncodingError,
        "reset": _REQUESTS_BROKEN,  # an RST mid-body: which one depends on when it lands
        "bad_chunked": requests.exceptions.ChunkedEncodingError,
    },
    "loopback-httpx": {
        "truncate": httpx.RemoteProtocolError,
        "reset": httpx.ReadError,
        "bad_chunked": httpx.RemoteProtocolError,
    },
}


@pytest.mark.parametrize("kind", list(CHAOS_KINDS))
@pytest.mark.parametrize("transport", list(EXPECTED))
def test_each_transport_shows_each_kind(transport: str, kind: str) -> None:
    service = _service(kind)
    expected = EXPECTED[transport].get(kind)
    with _served(transport, service) as call:
        if expected is None:  # dribbled or slow: the whole answer, late
            response = call()
            assert response.status_code == 200
            assert response.json()["name"] == service.enterprise.name
        else:
            with pytest.raises(expected):
                call().json()
    assert [c[3] for c in service.lifecycle.chaos.chosen] == [kind]  # type: ignore[union-attr]


def test_the_loopback_server_dribbles_in_small_pieces() -> None:
    import socket

    service = _service("dribble")
    with LoopbackServer(service) as server:
        host, port = server.url.split("//")[1].rstrip("/").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            request = (
                f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nX-Access-Token: "
                f"{service.credentials.access_token}\r\n\r\n"
            )
            sock.sendall(request.encode())
            pieces = []
            while chunk := sock.recv(65536):
                pieces.append(chunk)
    answer = b"".join(pieces)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert len(pieces) > 3  # not one write: several small ones
    assert answer.endswith(b"}") or answer.endswith(b"]")  # and whole
