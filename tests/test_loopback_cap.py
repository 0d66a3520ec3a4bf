"""The connection cap under churn: many keep-alive clients over a small cap. Idle connections
are evicted to make room, never one mid-answer, and the bookkeeping (taken without a lock on
the request path) settles back to nothing once the clients leave."""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest
import requests

from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.transports.server import LoopbackServer

BODY = b"y" * 3000
ASK = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n"


class _Target:
    def handle(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse(200, [("Content-Type", "text/plain")], BODY)


def _answer(sock: socket.socket) -> str:
    """'ok' for a whole 200, 'refused' for the cap's 503, 'closed' when the connection ended
    before any byte of an answer, 'partial' for anything else (never acceptable)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return "closed" if not data else "partial"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 503"):
            return "refused"
        if not head.startswith(b"HTTP/1.1 200"):
            return "partial"
        while len(rest) < len(BODY):
            chunk = sock.recv(65536)
            if not chunk:
                return "partial"
            rest += chunk
    except ConnectionResetError:
        return "closed" if not data else "partial"
    return "ok" if rest == BODY else "partial"


def _client(port: int, seed: int, outcomes: list[str]) -> None:
    rng = random.Random(seed)
    sock: socket.socket | None = None
    for _ in range(25):
        if sock is None or rng.random() < 0.2:
            if sock is not None:
                sock.close()
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            sock.sendall(ASK)
        except OSError:
            outcomes.append("closed")
            sock.close()
            sock = None
            continue
        outcome = _answer(sock)
        outcomes.append(outcome)
        if outcome != "ok":
            sock.close()
            sock = None
        time.sleep(rng.random() * 0.01)  # idle a little: evictable
    if sock is not None:
        sock.close()


@pytest.mark.heavy
def test_keep_alive_churn_over_a_small_cap_settles_to_nothing() -> None:
    with LoopbackServer(_Target(), timeout=2.0, max_connections=4) as server:
        outcomes: list[str] = []
        clients = [
            threading.Thread(target=_client, args=(server.port, seed, outcomes))
            for seed in range(12)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join(60)
        assert "partial" not in outcomes  # an answer is whole, or the connection is closed
        assert outcomes.count("ok") >= len(outcomes) // 3, outcomes
        assert "closed" in outcomes  # the cap evicted idle connections to let others in
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(server.threads) > 1:
            time.sleep(0.02)
        assert len(server.threads) == 1  # only the accept loop
        assert server._evicted == 0 and not server._idle and not server._peers
        assert requests.get(server.url + "/x", timeout=5).content == BODY
