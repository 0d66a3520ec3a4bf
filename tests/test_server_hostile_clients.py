"""Hardening: the loopback server survives hostile and broken clients, holds a mixed load
without losing a request or a token, stops within a second and leaves nothing behind."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.relay.wire import parse_token
from pytest_relaytokens.transports import PathRouter
from pytest_relaytokens.transports.server import LoopbackServer
from pytest_relaytokens.ucwa.service import UcwaService
from pytest_relaytokens.ucwa.wire import parse_json

LINUX = sys.platform.startswith("linux")


@dataclass
class Stack:
    ucwa: UcwaService
    relay: RelayService
    server: LoopbackServer
    threads_before: set[threading.Thread] = field(default_factory=set)
    fds_before: int = 0

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.server.port

    def requests_logged(self) -> int:
        return len(self.ucwa.log) + len(self.relay.log)


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd")) if LINUX else 0


def _settle(check: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


@pytest.fixture
def stack() -> Iterator[Stack]:
    ucwa, relay = UcwaService(seed=1), RelayService(seed=2)
    threads, fds = set(threading.enumerate()), _fd_count()
    server = LoopbackServer(PathRouter([("/api/", relay)], default=ucwa), timeout=2.0)
    built = Stack(ucwa, relay, server.start(), threads, fds)
    try:
        yield built
    finally:
        server.stop()
    assert server.errors == []
    _assert_nothing_left(built)


def _ours(threads: list[threading.Thread]) -> set[threading.Thread]:
    """Threads started through ``threading``: a foreign thread (execnet's I/O threads under
    xdist) shows up as a never-removed ``Dummy-N`` once it touches ``threading``."""
    dummy = getattr(threading, "_DummyThread", ())
    return {t for t in threads if not isinstance(t, dummy)}


def _assert_nothing_left(stack: Stack) -> None:
    assert stack.server.threads == []
    assert _settle(lambda: _ours(threading.enumerate()) <= stack.threads_before), [
        t.name for t in _ours(threading.enumerate()) - stack.threads_before
    ]
    if LINUX:
        assert _settle(lambda: _fd_count() <= stack.fds_before), (
            f"{_fd_count()} fds open after stop, {stack.fds_before} before"
        )


def _basic(relay: RelayService) -> dict[str, str]:
    return {"Authorization": relay.credentials.basic_authorization}


def _request(
    stack: Stack,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    own = conn is None
    connection = conn or http.client.HTTPConnection(*stack.address, timeout=5)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        if own:
            connection.close()


def _still_serves(stack: Stack) -> None:
    """A normal request on a fresh connection is answered (a stuck server fails on the
    client's 5 s socket timeout, a hang guard rather than a speed bound)."""
    status, body = _request(
        stack,
        "GET",
        stack.ucwa.token_path(),
        {"Authorization": f"Bearer {stack.ucwa.credentials.bearer}"},
    )
    assert status == 200, body[:200]
    assert parse_json(body).password
    status, body = _request(stack, "POST", "/api/auth/accesstokens", _basic(stack.relay))
    assert status == 200, body[:200]


def _raw(stack: Stack, payload: bytes, *, half_close: bool = True) -> bytes:
    """Send ``payload`` on a raw socket and read whatever comes back until close."""
    with socket.create_connection(stack.address, timeout=5) as sock:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


FAULTS: dict[str, tuple[bytes, bytes | None]] = {
    # name: (bytes sent, expected status line prefix or None for a silent close)
    "garbage": (bytes(range(256)) * 16, b"HTTP/1.1 400"),
    "binary request line": (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"HTTP/1.1 400",
    ),
    "truncated headers": (
        b"GET /ucwa/oauth/v1/applications HTTP/1.1\r\nHost: x\r\nAcc",
        b"HTTP/1.1 400",
    ),
    "truncated body": (
        b"POST /api/auth/accesstokens HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
        b"HTTP/1.1 400",
    ),
    "truncated chunked body": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        b"HTTP/1.1 400",
    ),
    "bad chunk size": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 400",
    ),
    "request line only, then close": (b"GET / HTTP/1.1\r\n", b"HTTP/1.1 400"),
    "empty connection": (b"", None),
    "oversized request line": (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n", b"HTTP/1.1 414"),
    "oversized header line": (
        b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n",
        b"HTTP/1.1 431",
    ),
    "too many headers": (
        b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(500)) + b"\r\n",
        b"HTTP/1.1 431",
    ),
    "headers over 64 KiB": (
        b"GET / HTTP/1.1\r\n"
        + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 9000) for i in range(90))
        + b"\r\n",
        b"HTTP/1.1 431",
    ),
    "huge Content-Length": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
        b"HTTP/1.1 413",
    ),
    "negative Content-Length": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 400",
    ),
    "conflicting Content-Length": (
        b"POST /api/endpoints HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 400",
    ),
    "smuggling CL+TE": (  # with Host: without one, the 400 would be for the missing Host
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 400",
    ),
    "smuggling TE+CL": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 0\r\n\r\n5\r\nabcde\r\n0\r\n\r\n",
        b"HTTP/1.1 400",
    ),
    "bad version": (b"GET / HTTP/9.9\r\n\r\n", b"HTTP/1.1 505"),
    "header without colon": (b"GET / HTTP/1.1\r\nnocolon\r\n\r\n", b"HTTP/1.1 400"),
    "NUL in target": (b"GET /\x00/x HTTP/1.1\r\n\r\n", None),
    "bad percent-encoding and unicode": (
        "GET /ucwa/oauth/v1/applications/%ZZ/\u00e9 HTTP/1.1\r\n\r\n".encode(),
        None,
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_does_not_stop_the_server(stack: Stack, name: str) -> None:
    payload, expected = FAULTS[name]
    answer = _raw(stack, payload)
    if expected is not None:
        assert answer.startswith(expected), answer[:120]
    else:  # any well-formed answer or a silent close
        assert answer == b"" or answer.startswith(b"HTTP/1.1 "), answer[:120]
    _still_serves(stack)


def test_pipelined_garbage_after_a_good_request_is_isolated(stack: Stack) -> None:
    bearer = stack.ucwa.credentials.bearer
    good = (
        f"GET {stack.ucwa.token_path()} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {bearer}\r\n\r\n"
    ).encode()
    answer = _raw(stack, good + b"\x00\x01garbage\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"HTTP/1.1 400" in answer
    _still_serves(stack)


def test_slow_and_idle_clients_do_not_block_others(stack: Stack) -> None:
    request = b"GET /autodiscover/autodiscoverservice.svc/root HTTP/1.1\r\nHost: x\r\n\r\n"
    slow = [socket.create_connection(stack.address, timeout=5) for _ in range(12)]
    idle = [socket.create_connection(stack.address, timeout=5) for _ in range(12)]
    try:
        for index in range(len(request) // 2):  # every slow client sends half, a byte at a time
            for sock in slow:
                sock.sendall(request[index : index + 1])
            if index % 8 == 0:
                _still_serves(stack)
        for sock in slow:
            sock.sendall(request[len(request) // 2 :])
        for sock in slow:
            sock.settimeout(5)
            assert sock.recv(64).startswith(b"HTTP/1.1 200")
        _still_serves(stack)
        # The idle ones are timed out (server timeout 2 s) and closed without an answer.
        for sock in idle:
            assert sock.recv(64) == b""
    finally:
        for sock in slow + idle:
            sock.close()
    _still_serves(stack)


def _arm_big(stack: Stack, size: int = 32 << 20) -> None:
    body = b"x" * size
    stack.ucwa.arm(
        lambda request: FakeResponse(200, [("Content-Type", "application/octet-stream")], body),
        times=None,
        path=r"^/big$",
    )


def test_client_that_stops_reading_a_large_response(stack: Stack) -> None:
    _arm_big(stack)
    stuck = []
    for _ in range(3):
        sock = socket.create_connection(stack.address, timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        stuck.append(sock)
    try:
        assert sock.recv(16).startswith(b"HTTP/1.1 200")
        for _ in range(5):
            _still_serves(stack)
        # The server's write timeout (2 s) frees the stuck connections; others never waited.
        assert _settle(lambda: len(stack.server.threads) <= 1, timeout=5.0)
    finally:
        for sock in stuck:
            sock.close()
    _still_serves(stack)


def test_stop_cuts_the_requests_in_flight() -> None:
    threads, fds = set(threading.enumerate()), _fd_count()
    ucwa, relay = UcwaService(seed=3), RelayService(seed=4)
    server = LoopbackServer(PathRouter([("/api/", relay)], default=ucwa), timeout=10.0).start()
    stack = Stack(ucwa, relay, server, threads, fds)
    relay.arm_delay(30.0, times=None, path="^/api/enterprises/self$")
    _arm_big(stack)
    outcomes: list[str] = []

    def slow_request() -> None:
        # the client waits longer than the armed delay: only a stop() that cuts the request
        # (rather than waiting for it or for the server's timeout) can end it "closed"
        conn = http.client.HTTPConnection(*stack.address, timeout=60)
        try:
            _request(stack, "GET", "/api/enterprises/self", _basic(relay), conn=conn)
            outcomes.append("answered")
        except TimeoutError:
            outcomes.append("timed out")
        except (http.client.HTTPException, OSError):
            outcomes.append("closed")
        finally:
            conn.close()

    clients = [threading.Thread(target=slow_request) for _ in range(8)]
    for client in clients:
        client.start()
    stuck = socket.create_connection(stack.address, timeout=5)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    dribble = socket.create_connection(stack.address, timeout=5)
    dribble.sendall(b"GET / HTTP/1.1\r\nHo")
    try:
        assert _settle(lambda: len(relay.log) == 8 and len(ucwa.log) == 1, timeout=5.0)
        server.stop()
        for client in clients:
            client.join(60)
        assert outcomes == ["closed"] * 8
        assert server.threads == []
        assert server.errors == []
    finally:
        stuck.close()
        dribble.close()
        server.stop()
    _assert_nothing_left(stack)


def test_restart_cycles_leave_nothing_behind() -> None:
    threads, fds = set(threading.enumerate()), _fd_count()
    ucwa, relay = UcwaService(seed=5), RelayService(seed=6)
    for _ in range(20):
        with LoopbackServer(PathRouter([("/api/", relay)], default=ucwa)) as server:
            stack = Stack(ucwa, relay, server)
            _still_serves(stack)
    _assert_nothing_left(Stack(ucwa, relay, server, threads, fds))


# Load ---------------------------------------------------------------------------------------

THREADS = 16
PER_THREAD = 250


@dataclass
class _Received:
    relay_tokens: list[str] = field(default_factory=list)
    ucwa_tokens: list[tuple[str, str]] = field(default_factory=list)
    enterprise_ok: int = 0
    responses: int = 0
    failures: list[str] = field(default_factory=list)


def _client(stack: Stack, index: int) -> _Received:
    got = _Received()
    ucwa_headers = {"Authorization": f"Bearer {stack.ucwa.credentials.bearer}"}
    if index % 2:
        ucwa_headers["Accept"] = "application/xml"
    basic = _basic(stack.relay)
    conn = http.client.HTTPConnection(*stack.address, timeout=10)
    try:
        for i in range(PER_THREAD):
            kind = (i + index) % 3
            if kind == 0:
                status, body = _request(stack, "POST", "/api/auth/accesstokens", basic, conn)
                if status == 200:
                    got.relay_tokens.append(parse_token(body).access_token)
            elif kind == 1:
                status, body = _request(stack, "GET", stack.ucwa.token_path(), ucwa_headers, conn)
                if status == 200:
                    from pytest_relaytokens.ucwa.wire import parse

                    token = parse(body, "xml" if index % 2 else "json")
                    got.ucwa_tokens.append((token.user_name, token.password))
            else:
                mine = (
                    got.relay_tokens[-1]
                    if got.relay_tokens
                    else stack.relay.credentials.access_token
                )
                status, body = _request(
                    stack, "GET", "/api/enterprises/self", {"X-Access-Token": mine}, conn
                )
                if status == 200:
                    got.enterprise_ok += 1
                    assert json.loads(body)["name"] == stack.relay.enterprise.name
            got.responses += 1
            if status != 200:
                got.failures.append(f"{kind}: {status} {body[:100]!r}")
    finally:
        conn.close()
    return got


@pytest.mark.heavy
def test_mixed_load_loses_no_request_and_no_token(stack: Stack) -> None:
    relay_before = len(stack.relay.issued_tokens)
    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda i: _client(stack, i), range(THREADS)))
    elapsed = time.monotonic() - started
    sent = THREADS * PER_THREAD
    assert [f for r in results for f in r.failures] == []
    assert sum(r.responses for r in results) == sent
    assert stack.requests_logged() == sent
    assert all(e.response.status == 200 for e in [*stack.ucwa.log, *stack.relay.log])
    # Relay: every token a client received is in the store, and nothing else was issued.
    received = [t for r in results for t in r.relay_tokens]
    issued = [t.access_token for t in stack.relay.issued_tokens[relay_before:]]
    assert len(received) == len(set(received)) == len(issued)
    assert set(received) == set(issued)
    assert all(stack.relay.lookup_token(t) is not None for t in received)
    # UCWA: one issued token per token response, the same credentials the clients saw.
    got_ucwa = [t for r in results for t in r.ucwa_tokens]
    assert sorted(got_ucwa) == sorted((t.user_name, t.password) for t in stack.ucwa.issued_tokens)
    assert sum(r.enterprise_ok for r in results) == len(
        stack.relay.log.matching("GET", "/api/enterprises/self")
    )
    print(
        f"\nloopback load: {sent} requests from {THREADS} threads in {elapsed:.2f}s "
        f"({sent / elapsed:.0f} req/s), {len(received)} Relay + {len(got_ucwa)} UCWA tokens"
    )


# h11 framing: what the hand-written parser used to accept ----------------------------------

H11_REJECTS: dict[str, tuple[bytes, bytes]] = {
    "chunk size 0x5": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 400",
    ),
    "chunk size +5": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"+5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 400",
    ),
    "chunk size 0_5": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0_5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 400",
    ),
    "space in a header name": (
        b"GET / HTTP/1.1\r\nHost: x\r\nX Forwarded: 1\r\n\r\n",
        b"HTTP/1.1 400",
    ),
    "bare CR in a value": (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", b"HTTP/1.1 400"),
    "NUL in a value": (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", b"HTTP/1.1 400"),
    "obsolete line folding": (
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n",
        b"HTTP/1.1 400",
    ),
    "non-ASCII Content-Length": (
        "POST /api/endpoints HTTP/1.1\r\nHost: x\r\nContent-Length: \u0665\r\n\r\nx".encode(),
        b"HTTP/1.1 400",
    ),
    "HTTP/1.1 without Host": (b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 400"),
    "unsupported Transfer-Encoding": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 501",
    ),
    "20,000 trailer lines": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n" + b"X-T: v\r\n" * 20_000 + b"\r\n",
        b"HTTP/1.1 431",
    ),
    "200 trailer lines": (
        b"POST /api/endpoints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\n" + b"X-T: v\r\n" * 200 + b"\r\n",
        b"HTTP/1.1 431",
    ),
}


@pytest.mark.parametrize("name", list(H11_REJECTS))
def test_h11_rejects_what_a_lenient_parser_accepted(stack: Stack, name: str) -> None:
    payload, expected = H11_REJECTS[name]
    answer = _raw(stack, payload, half_close=False)
    assert answer.startswith(expected), answer[:160]  # answered, not a timeout's 408
    assert b"Connection: close" in answer
    _still_serves(stack)


def _read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body from a keep-alive socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest


def test_http10_keep_alive_is_honoured_and_announced(stack: Stack) -> None:
    ask = b"GET /api/enterprises/self HTTP/1.0\r\nConnection: keep-alive\r\nX-Access-Token: %s\r\n\r\n"
    token = stack.relay.credentials.access_token.encode()
    with socket.create_connection(stack.address, timeout=2) as sock:
        for _ in range(2):  # the same connection serves both
            sock.sendall(ask % token)
            answer = _read_response(sock)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:120]
            assert b"\r\nConnection: keep-alive\r\n" in answer
    plain = _raw(stack, b"GET /api/enterprises/self HTTP/1.0\r\nX-Access-Token: %s\r\n\r\n" % token)
    assert plain.startswith(b"HTTP/1.1 200") and b"\r\nConnection: close\r\n" in plain


def test_crlf_in_a_header_the_fake_returns_is_never_written() -> None:
    relay = RelayService(seed=21)
    relay.route(  # route() refuses such a header: a handler's own response can still carry one
        "GET",
        "/api/split",
        handler=lambda request: FakeResponse(200, [("X-Note", "ok\r\nSet-Cookie: evil=1")], b"{}"),
    )
    with LoopbackServer(relay, timeout=2.0) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(
                b"GET /api/split HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"X-Access-Token: " + relay.credentials.access_token.encode() + b"\r\n\r\n"
            )
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 500")
        assert b"\r\nSet-Cookie" not in answer and b"X-Note: ok" not in answer
        assert b"X-Note" in answer  # the 500 names the header
        assert len(server.errors) == 1


class _HeaderTarget:
    """Answers with the headers queued in ``answers``, one list per request."""

    def __init__(self, answers: list[list[tuple[object, object]]]) -> None:
        self.answers = answers

    def handle(self, request: FakeRequest) -> FakeResponse:
        headers: Any = self.answers.pop(0)
        return FakeResponse(200, headers, b"fine")


class _Text(str):
    """A str subclass: validated like any text, never taken on trust."""


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (("X-Note", "ok\r\nSet-Cookie: evil=1"), b"X-Note"),
        (("X-Note", "ok\nSet-Cookie: evil=1"), b"X-Note"),
        (("X-Note", "a\x00b"), b"X-Note"),
        (("X-Note", "a\x7fb"), b"X-Note"),
        (("X-Note", "euro \u20ac"), b"X-Note"),
        (("X-Note", b"bytes"), b"X-Note"),
        (("X-Note", _Text("ok\r\nSet-Cookie: evil=1")), b"X-Note"),
        ((_Text("X-Note"), "ok\r\nSet-Cookie: evil=1"), b"X-Note"),
        (("X Note", "ok"), b"X Note"),
        (("", "ok"), b"''"),
    ],
)
def test_a_bad_header_is_refused_even_after_its_name_was_served(
    bad: tuple[object, object], named: bytes
) -> None:
    """Valid names are remembered between answers; a bad value or name under a remembered
    name, in any position, still becomes a 500 and is never written."""
    good: list[tuple[object, object]] = [
        ("Content-Type", "text/plain"),
        ("X-Note", "ok\tfine \xe9"),
        ("X-Other", "1"),
    ]
    target = _HeaderTarget([good, [*good[:1], bad, *good[2:]], good])
    ask = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n"
    with LoopbackServer(target, timeout=2.0) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(ask)
            first = _read_response(sock)
            assert first.startswith(b"HTTP/1.1 200"), first[:120]
            assert b"\r\nX-Note: ok\tfine \xe9\r\n" in first
            sock.sendall(ask)
            second = _read_response(sock)
            sock.sendall(ask)  # the connection still serves the next (good) answer
            third = _read_response(sock)
        assert second.startswith(b"HTTP/1.1 500"), second[:120]
        assert b"Set-Cookie" not in second and b"evil" not in second
        assert named in second
        assert third.startswith(b"HTTP/1.1 200") and b"X-Other: 1" in third
        assert len(server.errors) == 1


def test_slow_loris_is_cut_by_the_whole_request_deadline() -> None:
    relay = RelayService(seed=22)
    with LoopbackServer(relay, timeout=1.0, request_deadline=1.5) as server:
        request = b"GET /api/enterprises/self HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: y\r\n" * 50
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            answer, sent = b"", 0
            for byte in request:  # one byte every 0.1 s: never silent for a whole timeout
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
                sent += 1
                time.sleep(0.1)
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        # the server cut the client mid-request (about 15 of its bytes in): without the
        # deadline this client, never silent for a whole timeout, would send all of them
        assert sent < len(request), "the deadline let the slow client send its whole request"
        assert requests.get(server.url + "/api/nothing", timeout=5).status_code == 404


def test_connection_cap_closes_idle_keep_alive_before_refusing() -> None:
    relay = RelayService(seed=23)
    token = relay.credentials.access_token.encode()
    ask = b"GET /api/enterprises/self HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\n\r\n" % token
    # the server's idle timeout (60 s) outlasts the clients' (5 s): a newcomer served only
    # once an idle connection timed out would fail on its own socket timeout
    with LoopbackServer(relay, timeout=60.0, max_connections=3) as server:
        address = ("127.0.0.1", server.port)
        idle = [socket.create_connection(address, timeout=5) for _ in range(3)]
        try:
            for sock in idle:  # each served once, then left idle (keep-alive)
                sock.sendall(ask)
                assert _read_response(sock).startswith(b"HTTP/1.1 200")
            for _ in range(5):  # newcomers are served: idle connections make room
                with socket.create_connection(address, timeout=5) as fresh:
                    fresh.sendall(ask)
                    assert _read_response(fresh).startswith(b"HTTP/1.1 200")
            closed = 0
            for sock in idle:
                sock.settimeout(2)
                with contextlib.suppress(OSError):
                    closed += sock.recv(16) == b""
            assert closed >= 1
        finally:
            for sock in idle:
                sock.close()
        # every client above is gone: only the accept loop is left
        assert _settle(lambda: len(server.threads) == 1, timeout=10.0), server.threads
        # busy connections (mid-request) are not evicted: a newcomer is refused with 503
        busy: list[socket.socket] = []
        try:
            for _ in range(3):  # each mid-request before the next one connects
                sock = socket.create_connection(address, timeout=5)
                busy.append(sock)
                sock.sendall(b"GET /api/enterprises/self HTTP/1.1\r\nHo")
            # only the accept loop and the three busy connections are left
            assert _settle(lambda: len(server.threads) == 4, timeout=10.0), server.threads
            with socket.create_connection(address, timeout=5) as refused:
                assert refused.recv(64).startswith(b"HTTP/1.1 503")
        finally:
            for sock in busy:
                sock.close()


def test_the_cap_never_evicts_a_connection_whose_request_arrived(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request that has arrived is never lost to the connection cap, however slowly its
    thread claims the connection: the claim is made to wait 0.5 s while a newcomer hits the
    cap, which must refuse the newcomer (503), not evict the connection and drop the request."""
    relay = RelayService(seed=29)
    token = relay.credentials.access_token.encode()
    ask = b"GET /api/enterprises/self HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\n\r\n" % token
    claims: list[float] = []
    real_busy = LoopbackServer._busy

    def slow_busy(self: LoopbackServer, peer: Any) -> None:
        claims.append(time.monotonic())
        if len(claims) == 2:  # the second request: a thread slow to claim its connection
            time.sleep(0.5)
        real_busy(self, peer)

    monkeypatch.setattr(LoopbackServer, "_busy", slow_busy)
    with LoopbackServer(relay, timeout=30.0, max_connections=1) as server:
        address = ("127.0.0.1", server.port)
        with socket.create_connection(address, timeout=5) as kept:
            kept.sendall(ask)
            assert _read_response(kept).startswith(b"HTTP/1.1 200")
            kept.sendall(ask)  # its thread now takes 0.5 s to claim the connection
            assert _settle(lambda: len(claims) == 2, timeout=5.0)
            with socket.create_connection(address, timeout=5) as newcomer:
                assert newcomer.recv(64).startswith(b"HTTP/1.1 503")
            assert _read_response(kept).startswith(b"HTTP/1.1 200")


def test_a_flood_of_blank_lines_before_a_request_is_skipped_quickly(stack: Stack) -> None:
    token = stack.relay.credentials.access_token.encode()
    payload = b"\r\n" * 500_000 + (
        b"GET /api/enterprises/self HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"X-Access-Token: %s\r\n\r\n" % token
    )
    answer = _raw(stack, payload)  # quadratic skipping would outlast the 5 s socket timeout
    assert answer.startswith(b"HTTP/1.1 200"), answer[:120]
    _still_serves(stack)


@pytest.mark.parametrize("status", [99, 101, 1000])
def test_an_impossible_status_from_the_fake_becomes_a_500(status: int) -> None:
    relay = RelayService(seed=24)
    relay.arm(lambda request: FakeResponse(status, [], b"x"), path="^/api/odd$")
    with LoopbackServer(relay, timeout=2.0) as server:
        answer = requests.get(server.url + "/api/odd", timeout=5)
        assert answer.status_code == 500 and str(status) in answer.text
        assert len(server.errors) == 1
        assert requests.get(server.url + "/api/odd", timeout=5).status_code == 404


def test_a_connection_whose_client_closed_is_not_busy_for_eviction() -> None:
    """A keep-alive client that closed leaves only the end of the stream: evicting it loses
    nothing. It was counted as busy until its thread noticed, so under load a newcomer could
    be refused with 503 while the cap was full of closed connections (found by CI)."""
    from pytest_relaytokens.transports.server import _request_waiting

    ours, theirs = socket.socketpair()
    with ours:
        assert not _request_waiting(ours)  # nothing sent: idle
        theirs.sendall(b"GET / HTTP/1.1\r\n")
        assert _request_waiting(ours)  # a request waits: busy
        assert ours.recv(64)  # the peek left it there
        theirs.close()
        assert not _request_waiting(ours)  # the end of the stream: closed, not busy
