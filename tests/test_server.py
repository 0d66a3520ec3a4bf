"""The loopback server: real sockets, hostile clients, clean shutdown."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from pytest_relaytokens.http import FakeRequest, FakeResponse, FakeService
from pytest_relaytokens.transports import PathRouter
from pytest_relaytokens.transports.server import LoopbackServer


class CounterService(FakeService):
    """``/echo`` echoes; ``/count`` increments a counter under the service lock; ``/boom``
    raises."""

    name = "counter"

    def __init__(self) -> None:
        super().__init__(base_url="http://127.0.0.1")
        self.count = 0

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        if request.path.endswith("/count"):
            value = self.count
            time.sleep(0)  # invite a thread switch between read and write
            self.count = value + 1
            return (
                FakeResponse(200, [("Content-Type", "text/plain")], b"%d" % self.count),
                None,
                True,
            )
        if request.path == "/boom":
            raise RuntimeError("broken fake")
        if request.path == "/nocontent":
            return FakeResponse(204, [("X-Thing", "1")], b"ignored"), None, True
        doc = {
            "method": request.method,
            "url": request.url,
            "body": request.body.decode(),
            "headers": [list(h) for h in request.headers],
        }
        headers = [
            ("Content-Type", "application/json"),
            ("WWW-Authenticate", "Bearer a"),
            ("WWW-Authenticate", "MsRtcOAuth b"),
        ]
        return FakeResponse(200, headers, json.dumps(doc).encode()), None, True


@pytest.fixture
def service() -> CounterService:
    return CounterService()


@pytest.fixture
def server(service: CounterService) -> Iterator[LoopbackServer]:
    with LoopbackServer(service, timeout=2.0) as srv:
        yield srv


def raw_exchange(
    server: LoopbackServer, data: bytes, *, shut_write: bool = False, timeout: float = 5.0
) -> bytes:
    """Send ``data`` on a fresh socket and read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_start_is_fast_and_url_is_loopback(
    service: CounterService, count_calls: Callable[[Callable[[], object]], int]
) -> None:
    srv = LoopbackServer(service)
    calls = count_calls(srv.start)  # about 90: bind, one thread, no polling (work, not time)
    try:
        assert calls <= 500, calls
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", srv.url)
        assert srv.port != 0
    finally:
        srv.stop()


def test_http_client_keep_alive_absolute_url_and_repeated_headers(server: LoopbackServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/echo?a=1&b=%20")
    first = conn.getresponse()
    doc = json.loads(first.read())
    sock = conn.sock
    conn.request(
        "POST",
        "/echo",
        body=b"grant_type=password",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    second = conn.getresponse()
    body = json.loads(second.read())
    assert conn.sock is sock  # the same connection served both
    conn.close()
    assert first.status == 200
    assert doc["url"] == f"{server.url}/echo?a=1&b=%20"
    assert first.msg.get_all("WWW-Authenticate") == ["Bearer a", "MsRtcOAuth b"]
    assert first.getheader("Date")
    assert body["method"] == "POST" and body["body"] == "grant_type=password"


def test_requests_session_many_requests(server: LoopbackServer, service: CounterService) -> None:
    with requests.Session() as session:
        for _ in range(50):
            assert session.get(server.url + "/count").status_code == 200
    assert service.count == 50


def test_head_and_no_content(server: LoopbackServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("HEAD", "/echo")
    head = conn.getresponse()
    assert head.read() == b"" and int(head.getheader("Content-Length") or 0) > 0
    conn.request("GET", "/nocontent")
    empty = conn.getresponse()
    assert empty.status == 204 and empty.read() == b"" and empty.getheader("X-Thing") == "1"
    conn.request("GET", "/echo")  # the connection is still in sync
    assert conn.getresponse().status == 200
    conn.close()


def test_chunked_body_and_expect_continue(server: LoopbackServer) -> None:
    reply = raw_exchange(
        server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert b'"body": "abcde"' in reply
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"hello")
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    assert b"HTTP/1.1 200 " in rest and b'"body": "hello"' in rest


def test_http10_closes(server: LoopbackServer) -> None:
    reply = raw_exchange(server, b"GET /echo HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nConnection: close\r\n" in reply


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /echo HTTP/1.1\r\n folded: header\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_requests_get_400_and_close(server: LoopbackServer, garbage: bytes) -> None:
    reply = raw_exchange(server, garbage)
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:80]
    assert b"Connection: close" in reply
    # the server still serves others
    assert requests.get(server.url + "/echo", timeout=5).status_code == 200


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 40\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n",
    ],
)
def test_content_length_and_transfer_encoding_are_refused_and_the_connection_closed(
    server: LoopbackServer, service: CounterService, framing: bytes
) -> None:
    """RFC 9112 section 6.1: a request with both may be smuggled past a proxy that frames it
    by the other one. Found by a stranger's probe: the request was served by its chunks, the
    connection kept open, and the bytes after the chunked body served as a second request."""
    smuggled = b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = raw_exchange(
        server,
        b"POST /count HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n0\r\n\r\n" + smuggled,
        timeout=3.0,
    )  # reads until the server closes: a kept-open connection would time out here
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:80]
    assert reply.count(b"HTTP/1.1 ") == 1 and b"Connection: close" in reply
    assert b"Content-Length and Transfer-Encoding" in reply
    assert service.count == 0 and len(service.log) == 0  # neither request reached the fake
    assert server.errors == []
    # a chunked body alone is still served
    assert (
        requests.post(server.url + "/echo", data=iter([b"a", b"b"]), timeout=5).json()["body"]
        == "ab"
    )


@pytest.mark.parametrize(
    "truncated",
    [
        b"GET /echo HT",
        b"GET /echo HTTP/1.1\r\nHost: x\r\nAcc",
        b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
    ],
)
def test_truncated_requests(server: LoopbackServer, truncated: bytes) -> None:
    reply = raw_exchange(server, truncated, shut_write=True)
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert requests.get(server.url + "/echo", timeout=5).status_code == 200


def test_client_closing_mid_request_is_harmless(
    server: LoopbackServer, service: CounterService
) -> None:
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /count HTTP/1.1\r\nHost")
    assert requests.get(server.url + "/count", timeout=5).text == "1"
    assert server.errors == []


def test_oversized_header_line_and_request_line(server: LoopbackServer) -> None:
    big = b"GET /echo HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    assert raw_exchange(server, big).startswith(b"HTTP/1.1 431 ")
    many = (
        b"GET /echo HTTP/1.1\r\n"
        + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(80))
        + b"\r\n"
    )
    assert raw_exchange(server, many).startswith(b"HTTP/1.1 431 ")
    long_line = b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n"
    assert raw_exchange(server, long_line).startswith(b"HTTP/1.1 414 ")


def test_oversized_body_gets_413(server: LoopbackServer) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 * 1024 * 1024)
    assert raw_exchange(server, head + b"x" * 4096).startswith(b"HTTP/1.1 413 ")
    r = requests.post(server.url + "/echo", data=b"x" * (1024 * 1024 + 1), timeout=10)
    assert r.status_code == 413
    assert requests.post(server.url + "/echo", data=b"x" * 1024, timeout=5).status_code == 200


def test_slow_client_does_not_block_others_and_times_out(
    server: LoopbackServer, service: CounterService
) -> None:
    # a server that waited on the slow client (its timeout 60 s) fails the others' 5 s ones
    with (
        LoopbackServer(service, timeout=60.0) as patient,
        socket.create_connection(("127.0.0.1", patient.port), timeout=10) as slow,
        requests.Session() as session,
    ):
        slow.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        for _ in range(20):
            assert session.get(patient.url + "/echo", timeout=5).status_code == 200
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        slow.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        reply = b""
        while chunk := slow.recv(65536):  # the 2 s timeout answers 408 and closes
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 408 ")
    finally:
        slow.close()


def test_fifty_concurrent_clients_keep_state(
    server: LoopbackServer, service: CounterService
) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(50)

    def client() -> None:
        try:
            with requests.Session() as session:
                barrier.wait(timeout=10)
                for _ in range(10):
                    assert session.get(server.url + "/count", timeout=10).status_code == 200
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert service.count == 500
    assert len(service.log) == 500


def test_delay_and_drop(server: LoopbackServer, service: CounterService) -> None:
    service.arm_delay(0.2)
    begin = time.perf_counter()
    assert requests.get(server.url + "/echo", timeout=5).status_code == 200
    assert time.perf_counter() - begin >= 0.2
    service.arm_drop()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.url + "/echo", timeout=5)
    assert requests.get(server.url + "/echo", timeout=5).status_code == 200


def test_target_exception_is_a_500(server: LoopbackServer) -> None:
    with requests.Session() as session:
        r = session.get(server.url + "/boom", timeout=5)
        assert r.status_code == 500 and "broken fake" in r.text
        assert session.get(server.url + "/echo", timeout=5).status_code == 200
    assert [type(e) for e in server.errors] == [RuntimeError]


def test_stop_cuts_a_request_in_flight_and_leaves_no_threads(
    service: CounterService,
) -> None:
    before = set(threading.enumerate())
    srv = LoopbackServer(service).start()
    idle = requests.Session()
    assert idle.get(srv.url + "/echo", timeout=5).status_code == 200  # a kept-alive socket
    service.arm_delay(600.0)  # a stop() that waited for it could not end within 60 s
    outcome: list[object] = []

    def in_flight() -> None:
        try:
            outcome.append(requests.get(srv.url + "/echo", timeout=120).status_code)
        except requests.exceptions.ConnectionError as error:
            outcome.append(error)

    client = threading.Thread(target=in_flight)
    client.start()
    deadline = time.monotonic() + 5
    while not service.log.matching(path="/echo")[1:] and time.monotonic() < deadline:
        time.sleep(0.01)
    stopper = threading.Thread(target=srv.stop)
    stopper.start()
    stopper.join(60)
    client.join(60)
    idle.close()
    assert not stopper.is_alive(), "stop() waits for the delayed request"
    assert len(outcome) == 1 and isinstance(outcome[0], requests.exceptions.ConnectionError)
    assert srv.threads == []
    leftover = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftover == []
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(srv.url + "/echo", timeout=2)
    srv.stop()  # idempotent


def test_restart_is_refused_while_running(service: CounterService) -> None:
    with LoopbackServer(service) as srv, pytest.raises(RuntimeError):
        srv.start()


def test_path_router_on_one_port() -> None:
    api, rest = CounterService(), CounterService()
    with LoopbackServer(PathRouter([("/api/", api)], default=rest)) as srv:
        assert requests.get(srv.url + "/api/count", timeout=5).text == "1"
        assert requests.get(srv.url + "/other", timeout=5).status_code == 200
    assert api.count == 1 and len(rest.log) == 1
    with LoopbackServer(PathRouter([("/api/", api)])) as srv:
        assert requests.get(srv.url + "/nothing", timeout=5).status_code == 404


def test_absolute_form_request_target(server: LoopbackServer) -> None:
    reply = raw_exchange(
        server,
        b"GET http://example.com/echo?q=1 HTTP/1.1\r\nHost: example.com\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert f'"url": "{server.url}/echo?q=1"'.encode() in reply
    # RFC 9112 3.2: an HTTP/1.1 request without Host is a 400, whatever its target form
    no_host = raw_exchange(server, b"GET http://example.com/echo HTTP/1.1\r\n\r\n")
    assert no_host.startswith(b"HTTP/1.1 400 ") and b"Host" in no_host


@pytest.mark.parametrize("option", ["timeout", "request_deadline", "max_body", "max_connections"])
def test_limits_must_be_positive(service: CounterService, option: str) -> None:
    with pytest.raises(ValueError, match=f"{option} must be positive"):
        LoopbackServer(service, **{option: 0})  # type: ignore[arg-type]


def _head(header_count: int, *, newline: bytes = b"\r\n", pad: int = 0) -> bytes:
    """A GET head with ``header_count`` header lines (Host and Connection among them)."""
    lines = [b"GET /echo HTTP/1.1", b"Host: x", b"Connection: close"]
    lines += [b"X-%d: v" % i for i in range(header_count - 2)]
    if pad:
        lines.append(b"X-Pad: " + b"p" * pad)
    return newline.join(lines) + newline + newline


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
def test_header_count_limit_at_its_edge(server: LoopbackServer, newline: bytes) -> None:
    from pytest_relaytokens.transports.server import MAX_HEADERS

    served = raw_exchange(server, _head(MAX_HEADERS, newline=newline))
    assert served.startswith(b"HTTP/1.1 200 "), served[:80]
    refused = raw_exchange(server, _head(MAX_HEADERS + 1, newline=newline))
    assert refused.startswith(b"HTTP/1.1 431 "), refused[:80]


def test_heads_either_side_of_the_small_head_size_are_served(server: LoopbackServer) -> None:
    from pytest_relaytokens.transports.server import MAX_REQUEST_LINE

    base = len(_head(3, pad=1)) - 1
    for size in (MAX_REQUEST_LINE - 1, MAX_REQUEST_LINE, MAX_REQUEST_LINE + 1, 16_000):
        head = _head(3, pad=size - base)
        assert len(head) == size
        reply = raw_exchange(server, head)
        assert reply.startswith(b"HTTP/1.1 200 "), (size, reply[:80])


@pytest.mark.parametrize(
    "head",
    [
        b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n",
        b"GET /echo HTTP/1.1\nHost: x\nX-A: a\n b\n\n",
        b"GET /echo HTTP/1.1\nHost: x\nX-A: a\n\tb\r\n\r\n",
    ],
)
def test_folded_lines_are_refused_whatever_the_line_ends(
    server: LoopbackServer, head: bytes
) -> None:
    reply = raw_exchange(server, head)
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:80]
    assert b"folding" in reply
