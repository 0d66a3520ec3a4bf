"""The loopback server's time limits hold whichever way reads and writes are timed: the
kernel's ``SO_RCVTIMEO``/``SO_SNDTIMEO`` on blocking sockets (Linux, the default there) or
Python socket timeouts (everywhere else)."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.transports.server import LoopbackServer

LINUX = sys.platform.startswith("linux")
BIG = b"x" * (32 << 20)

MODES = [
    pytest.param(
        True,
        id="kernel",
        marks=pytest.mark.skipif(
            not LINUX,
            reason="kernel-timed sockets (SO_RCVTIMEO/SO_SNDTIMEO) are the server's Linux mode; "
            "elsewhere it uses socket timeouts, tested by the socket-timeouts case",
        ),
    ),
    pytest.param(False, id="socket-timeouts"),
]


class _Target:
    def handle(self, request: FakeRequest) -> FakeResponse:
        body = BIG if request.path == "/big" else b"ok"
        return FakeResponse(200, [("Content-Type", "text/plain")], body)


@pytest.fixture(params=MODES)
def server(request: pytest.FixtureRequest) -> Iterator[LoopbackServer]:
    srv = LoopbackServer(_Target(), timeout=1.0, request_deadline=1.5)
    srv.kernel_timeouts = request.param
    with srv:
        assert srv.kernel_timeouts is request.param
        yield srv
    assert srv.threads == []


def _connect(server: LoopbackServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def _drain(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _settle(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(check())  # type: ignore[operator]


def test_kernel_timeouts_are_on_by_default_on_linux() -> None:
    with LoopbackServer(_Target()) as server:
        assert server.kernel_timeouts is LINUX
        assert requests.get(server.url + "/", timeout=5).text == "ok"


def test_keep_alive_then_an_idle_connection_closes_quietly(server: LoopbackServer) -> None:
    with _connect(server) as sock:
        for _ in range(3):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\nok")
        started = time.monotonic()
        assert _drain(sock) == b""  # no answer: closed after the idle timeout
        # not before the 1 s timeout; a server that never closes fails on the 5 s socket timeout
        assert time.monotonic() - started > 0.8


def test_silence_mid_request_is_a_408(server: LoopbackServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHo")
        started = time.monotonic()
        answer = _drain(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert time.monotonic() - started > 0.8  # not before the timeout (see above)


def test_a_dripping_client_is_cut_by_the_whole_request_deadline(server: LoopbackServer) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: y\r\n" * 40 + b"\r\n"
    with _connect(server) as sock:
        sent = 0
        for byte in request:  # never silent for a whole timeout
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sent += 1
            time.sleep(0.05)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            answer = _drain(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        # cut mid-request (about 30 bytes in at 1.5 s), not once the whole request arrived
        assert sent < len(request), "the deadline let the dripping client finish its request"


def test_a_client_that_stops_reading_is_dropped_in_time(server: LoopbackServer) -> None:
    with _connect(server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(16).startswith(b"HTTP/1.1 200")
        # one accept thread left once the writer gives up (timeout 1 s for the whole answer)
        assert _settle(lambda: len(server.threads) == 1, timeout=4.0), server.threads
        assert requests.get(server.url + "/", timeout=5).text == "ok"


def test_a_slow_reader_cannot_hold_a_thread_past_the_timeout(server: LoopbackServer) -> None:
    """The answer must be written within ``timeout`` in total, not per write: a client that
    keeps reading, far too slowly for 32 MiB, loses its connection's thread in time (what the
    kernel had already queued may still reach it)."""
    with _connect(server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        received = 0
        while len(server.threads) > 1:  # read slowly until the writer gives up
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += len(chunk)
            time.sleep(0.01)
        assert _settle(lambda: len(server.threads) == 1, timeout=5.0), server.threads
        # at this pace 32 MiB takes over a minute: a per-write limit would send it all
        assert received < len(BIG)


def test_stop_is_prompt_while_threads_wait_in_reads_and_writes(
    request: pytest.FixtureRequest,
) -> None:
    for kernel in (True, False) if LINUX else (False,):
        srv = LoopbackServer(_Target(), timeout=600.0)
        srv.kernel_timeouts = kernel
        srv.start()
        idle, stuck = _connect(srv), _connect(srv)
        try:
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert idle.recv(65536).startswith(b"HTTP/1.1 200")  # now waits in a read
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")  # its thread blocks writing
            assert stuck.recv(16).startswith(b"HTTP/1.1 200")
            assert _settle(lambda srv=srv: len(srv.threads) == 3, timeout=2.0)
            # a stop() that waited for its threads' 600 s timeouts could not end within 60 s
            stopper = threading.Thread(target=srv.stop)
            stopper.start()
            stopper.join(60)
            assert not stopper.is_alive(), "stop() waits for the threads' timeouts"
            assert srv.threads == []
            assert not [t for t in threading.enumerate() if t.name.endswith(f"-{srv.port}")]
        finally:
            idle.close()
            stuck.close()
            srv.stop()


@pytest.mark.parametrize("option", ["timeout", "request_deadline"])
@pytest.mark.parametrize("seconds", [float("inf"), 1e30, 2e8])
def test_a_timeout_no_socket_can_wait_is_refused_up_front(option: str, seconds: float) -> None:
    with pytest.raises(ValueError, match=f"{option} must be at most 1e\\+08 seconds"):
        LoopbackServer(_Target(), **{option: seconds})  # type: ignore[arg-type]


def test_the_longest_timeout_accepted_serves() -> None:
    with LoopbackServer(_Target(), timeout=1e8) as server:
        assert requests.get(server.url + "/", timeout=5).text == "ok"


@pytest.mark.parametrize("kernel", MODES)
def test_a_keep_alive_request_costs_one_read_and_one_write(
    kernel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timeout is set again per request: a peek for the next request, one read, one write
    (one system call each with kernel timeouts, whose SO_RCVTIMEO is set once per
    connection). The peek leaves the request's bytes in the kernel until the thread has
    claimed its connection, so the connection cap never evicts it mid-read."""
    from pytest_relaytokens.transports import server as module

    calls: list[str] = []
    for name in ("_receive", "_send"):
        real = getattr(module.LoopbackServer, name)

        def counted(
            self: object, *args: object, _real: object = real, _name: str = name, **kw: object
        ) -> object:
            calls.append(_name + ("-peek" if kw.get("peek") else ""))
            return _real(self, *args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(module.LoopbackServer, name, counted)
    real_timeout = module._Peer.set_read_timeout

    def set_read_timeout(peer: module._Peer, seconds: float) -> None:
        calls.append("set_read_timeout")
        real_timeout(peer, seconds)

    monkeypatch.setattr(module._Peer, "set_read_timeout", set_read_timeout)
    srv = LoopbackServer(_Target(), timeout=2.0)
    srv.kernel_timeouts = kernel
    with srv:
        with _connect(srv) as sock:
            for _ in range(5):
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(65536).endswith(b"\r\n\r\nok")
        assert _settle(lambda: len(srv.threads) == 1, timeout=2.0)
    assert calls.count("_send") == 5
    assert calls.count("_receive") == 5
    assert calls.count("_receive-peek") == 6  # the sixth peek finds the client gone
    assert calls.count("set_read_timeout") == (1 if kernel else 0)
