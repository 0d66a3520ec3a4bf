"""Goal 4. Loopback HTTP: the UCWA token over real sockets on 127.0.0.1.

One pytest process runs interleaved rounds of three servers, each through what a user writes:
ours via the ``relaytokens_server`` fixture (a fresh token per GET); pytest-httpserver's
``httpserver`` fixture as installed, answering with the same body (werkzeug; the harness counts
the connections it closes and says so); and a reference, the standard library's
``ThreadingHTTPServer`` speaking HTTP/1.1 keep-alive with a constant body. Clients: one
``requests.Session``; 8 threads with a session each; and a raw-socket keep-alive client, whose
own thread CPU is subtracted from the process's so what is left is each server's CPU per
request. Rates are requests per CPU second of the process (client and server together: the
machine's noise moves them much less than wall time; wall rates are in the JSON).
"""

from __future__ import annotations

from _common import Benchmark, Rounds, Row, Settings, compare, guarded, in_suite_rounds, missing

THREADS = 8

CONFTEST = '''
import http.server
import socket
import threading
import time

import pytest
import requests

from pytest_relaytokens.transports.responses_transport import activate_responses
from pytest_relaytokens.ucwa.service import UcwaService


@pytest.fixture(scope="session")
def recorded():
    """One real answer of the fake (path, body, content type) for the constant servers."""
    service = UcwaService(seed=1)
    headers = {
        "Authorization": "Bearer " + service.credentials.bearer,
        "Accept": "application/json",
    }
    with activate_responses(service, [service.host]), requests.Session() as session:
        answer = session.get(service.token_url(), headers=headers)
    assert answer.status_code == 200, answer.text
    return service.token_path(), answer.content, answer.headers["Content-Type"]


@pytest.fixture(scope="session")
def stdlib_url(recorded):
    """The reference: ThreadingHTTPServer, HTTP/1.1 keep-alive, a constant body."""
    path, body, content_type = recorded

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stalls

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def ours_target(relaytokens_server):
    bearer = relaytokens_server.ucwa.credentials.bearer
    url = relaytokens_server.url + relaytokens_server.ucwa.token_path()
    return url, {"Authorization": "Bearer " + bearer, "Accept": "application/json"}


@pytest.fixture
def httpserver_target(httpserver, recorded):
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    path, body, content_type = recorded
    httpserver.expect_request(path).respond_with_data(body, content_type=content_type)
    headers = {"Authorization": "Bearer cwt=AAEB", "Accept": "application/json"}
    return httpserver.url_for(path), headers


@pytest.fixture
def stdlib_target(stdlib_url):
    return stdlib_url, {"Authorization": "Bearer cwt=AAEB", "Accept": "application/json"}


def session_gets(url, headers, count, failures):
    with requests.Session() as session:
        session.trust_env = False  # loopback: no proxy lookups (the same client for all)
        for _ in range(count):
            status = session.get(url, headers=headers, timeout=10).status_code
            if status != 200:
                failures.append(status)


def threaded_gets(url, headers, count, threads):
    failures = []
    share = count // threads
    workers = [
        threading.Thread(target=session_gets, args=(url, headers, share, failures))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures, f"{len(failures)} failed, e.g. {failures[0]}"


def raw_gets(url, headers, count):
    """Keep-alive GETs over a raw socket; reconnects when the server closes.
    Returns (client thread CPU seconds, connections opened)."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    lines = [f"GET /{path} HTTP/1.1", f"Host: {host_port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\\r\\n".join(lines) + "\\r\\n\\r\\n").encode("latin-1")
    cpu0 = time.thread_time()
    sock, opened = None, 0
    for _ in range(count):
        if sock is None:
            sock = socket.create_connection((host, int(port)))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            opened += 1
        sock.sendall(request)
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection mid-response"
            data += chunk
        head, _, rest = data.partition(b"\\r\\n\\r\\n")
        assert head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")), head[:80]
        fields = {}
        for line in head.split(b"\\r\\n")[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        length = int(fields[b"content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection mid-body"
            rest += chunk
        closes = fields.get(b"connection") == b"close" or head.startswith(b"HTTP/1.0")
        if closes and fields.get(b"connection") != b"keep-alive":
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return time.thread_time() - cpu0, opened
'''

SERVERS = ("ours", "httpserver", "stdlib")


def sides() -> dict[str, str]:
    found = {}
    for server in SERVERS:
        found[f"{server}_session"] = f"""
def {{test}}({server}_target):
    url, headers = {server}_target
    failures = []
    measure("{{name}}", {{calls}}, lambda: session_gets(url, headers, {{calls}}, failures))
    assert not failures, failures[:3]
"""
        found[f"{server}_threads"] = f"""
def {{test}}({server}_target):
    url, headers = {server}_target
    measure("{{name}}", {{calls}}, lambda: threaded_gets(url, headers, {{calls}}, {THREADS}))
"""
        found[f"{server}_raw"] = f"""
def {{test}}({server}_target):
    url, headers = {server}_target
    client = []
    measure("{{name}}", {{calls}}, lambda: client.append(raw_gets(url, headers, {{calls}})))
    cpu, opened = client[0]
    note("{{name}}-client", {{calls}}, cpu, 0.0)
    note("{{name}}-connections", opened, 0.0, 0.0)
"""
    return found


def rows(settings: Settings) -> list[Row]:
    missing("requests", "pytest_httpserver", "pytest_relaytokens.plugin")
    calls = max(THREADS * 2, settings.calls // 4)
    found = sides()
    measured = in_suite_rounds(
        found,
        settings,
        ["ours", "httpserver"],
        conftest=CONFTEST,
        header="from _suite_probe import note\nfrom conftest import *  # noqa: F403\n",
        calls=calls,
        count_calls=80,
    )
    out = []
    for client, label in (("session", "one Session"), ("threads", f"{THREADS} threads")):
        for peer, name, goal in (
            (
                "httpserver",
                "pytest-httpserver as installed",
                ">= 2.0" if client == "session" else ">= 1.8",
            ),
            ("stdlib", "stdlib keep-alive server, constant body", ""),
        ):
            ours, theirs = f"ours_{client}", f"{peer}_{client}"
            wall = sorted(
                o / t for o, t in zip(measured.walls[ours], measured.walls[theirs], strict=True)
            )
            out.append(
                compare(
                    f"loopback: {calls:,} GETs, {label}, relaytokens_server vs {name}",
                    "calls/s",
                    measured.rates[ours],
                    measured.rates[theirs],
                    goal,
                    f"per wall second: {wall[len(wall) // 2]:.2f}",
                    (measured.instr[ours], measured.instr[theirs]),
                )
            )
    return out + raw_rows(measured)


def raw_rows(measured: Rounds) -> list[Row]:
    """Each server's CPU per request from the raw-socket client: the process's CPU during the
    client's run minus the client thread's own, in microseconds (lower is better)."""
    records = measured.run.probe["records"]
    per_request: dict[str, list[float]] = {}
    closes: dict[str, bool] = {}
    for server in SERVERS:
        side = f"{server}_raw"
        totals = [r for r in records if r["name"] == side]
        clients = [r for r in records if r["name"] == f"{side}-client"]
        opened = [r for r in records if r["name"] == f"{side}-connections"]
        per_request[server] = [
            (t["cpu"] - c["cpu"]) * 1e6 / t["count"] for t, c in zip(totals, clients, strict=True)
        ]
        closes[server] = bool(opened) and opened[-1]["count"] >= totals[-1]["count"]
    label = "closes every connection" if closes["httpserver"] else "keeps connections open"
    return [
        compare(
            f"loopback, raw-socket client: server CPU per request, ours vs {name}",
            "us CPU/request",
            per_request["ours"],
            per_request[peer],
            note=f"pytest-httpserver as installed {label} (measured)"
            if peer == "httpserver"
            else "",
        )
        for peer, name in (("httpserver", "pytest-httpserver"), ("stdlib", "stdlib keep-alive"))
    ]


def run(settings: Settings) -> list[Row]:
    return guarded("loopback", lambda: rows(settings))


BENCHMARK = Benchmark("loopback", "loopback server", run)
