"""Goal 4. Loopback HTTP: the UCWA token over real sockets on 127.0.0.1.

One pytest process runs interleaved rounds of three servers, each through what a user writes:
ours via the ``relaytokens_server`` fixture (a fresh token per GET: build, render, gzip);
pytest-httpserver's ``httpserver`` fixture as installed (werkzeug; the harness counts the
connections it closes and says so); and a reference, the standard library's
``ThreadingHTTPServer`` speaking HTTP/1.1 keep-alive. Both peers answer with one recorded
answer of our fake to the same request (its headers but ``Server``, which each server sends
as its own, and its gzip-encoded body), so every client reads and decodes the same response;
every client sends the same request headers. Clients: one ``requests.Session``; 8 threads
with a session each (they start together at a barrier: 8 threads really run at once); and a
raw-socket keep-alive client sending what ``requests`` sends, whose own thread CPU is
subtracted from the process's so what is left is each server's CPU per request. Rates are
requests per CPU second of the process (client and server together: the machine's noise moves
them much less than wall time; wall rates are in the JSON).
"""

from __future__ import annotations

import statistics

from _common import Benchmark, Rounds, Row, Settings, compare, guarded, in_suite_rounds, missing

THREADS = 8

CONFTEST = '''
import http.server
import socket
import threading
import time

import pytest
import requests

from pytest_relaytokens import FakeRequest, FakeResponse, UcwaService
from pytest_relaytokens.transports.server import LoopbackServer


#: What ``requests`` sends besides these (User-Agent, Accept-Encoding, Connection) is sent by
#: every client to every server; ``raw_gets`` sends the same.
REQUESTS_HEADERS = {
    "User-Agent": "python-requests/" + requests.__version__,
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
}


def token_headers(service):
    return {"Authorization": "Bearer " + service.credentials.bearer, "Accept": "application/json"}


@pytest.fixture(scope="session")
def recorded():
    """One real answer of the fake to the clients' request: (path, status, headers, body as
    sent, gzip-encoded), and the request headers the peers' clients send."""
    service = UcwaService(seed=1)
    headers = token_headers(service)
    request = FakeRequest.build("GET", service.token_url(), {**REQUESTS_HEADERS, **headers})
    answer = service.handle(request)
    assert answer.status == 200, answer.body[:200]
    assert ("Content-Encoding", "gzip") in answer.headers, answer.headers
    kept = [(k, v) for k, v in answer.headers if k.lower() not in ("server", "date")]
    return service.token_path(), answer.status, kept, answer.body, headers


@pytest.fixture(scope="session")
def stdlib_url(recorded):
    """The reference: ThreadingHTTPServer, HTTP/1.1 keep-alive, the recorded answer."""
    path, status, fields, body, _ = recorded

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stalls

        def do_GET(self):
            self.send_response(status)
            for name, value in fields:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 128  # as werkzeug's: 8 threads connecting at once overflow 5

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def ours_target(relaytokens_server):
    url = relaytokens_server.url + relaytokens_server.ucwa.token_path()
    return url, token_headers(relaytokens_server.ucwa)


@pytest.fixture
def httpserver_target(httpserver, recorded):
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    path, status, fields, body, headers = recorded
    content_type = dict(fields)["Content-Type"]
    rest = [(k, v) for k, v in fields if k != "Content-Type"]
    httpserver.expect_request(path).respond_with_data(
        body, status=status, headers=rest, content_type=content_type
    )
    return httpserver.url_for(path), headers


@pytest.fixture
def stdlib_target(stdlib_url, recorded):
    return stdlib_url, recorded[4]


class Recorded:
    """A target answering every request with the recorded answer: no token work."""

    def __init__(self, status, fields, body):
        self.answer = FakeResponse(status, [("Server", "Microsoft-IIS/7.5"), *fields], body)

    def handle(self, request):
        return self.answer


@pytest.fixture
def recorded_target(recorded):
    """Our server's own cost: the loopback server answering with the recorded answer."""
    path, status, fields, body, headers = recorded
    with LoopbackServer(Recorded(status, fields, body)) as server:
        yield server.url + path, headers


def session_gets(url, headers, count, failures, barrier=None, idents=None):
    with requests.Session() as session:
        session.trust_env = False  # loopback: no proxy lookups (the same client for all)
        if barrier is not None:  # every worker is running before any sends
            barrier.wait(timeout=30)
            idents.add(threading.get_ident())
        for _ in range(count):
            answer = session.get(url, headers=headers, timeout=10)
            if answer.status_code != 200 or not answer.content.startswith(b"{"):
                failures.append(answer.status_code)


def threaded_gets(url, headers, count, threads):
    failures, idents = [], set()
    share = count // threads
    barrier = threading.Barrier(threads)
    workers = [
        threading.Thread(
            target=session_gets, args=(url, headers, share, failures, barrier, idents)
        )
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures, f"{len(failures)} failed, e.g. {failures[0]}"
    assert len(idents) == threads, f"only {len(idents)} threads ran"


def raw_gets(url, headers, count):
    """Keep-alive GETs over a raw socket; reconnects when the server closes.
    Returns (client thread CPU seconds, connections opened)."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    lines = [f"GET /{path} HTTP/1.1", f"Host: {host_port}"]
    lines += [f"{k}: {v}" for k, v in {**REQUESTS_HEADERS, **headers}.items()]
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

SERVERS = ("ours", "httpserver", "stdlib", "recorded")
#: What each server does per request, for the rows' notes.
DOES = {
    "ours": "ours: a fresh token per GET (build, render, gzip), keep-alive",
    "httpserver": "pytest-httpserver: the recorded answer, a new connection per GET",
    "stdlib": "stdlib: the recorded answer, keep-alive",
}


def sides() -> dict[str, str]:
    found = {}
    for server in SERVERS:
        if server != "recorded":  # our server's own cost: the raw-socket client only
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
    per_request, raw = raw_rows(measured)
    ours_server = statistics.median(per_request["ours"]) / 1e6  # CPU seconds per request
    out = []
    for client, label in (("session", "one Session"), ("threads", f"{THREADS} threads")):
        for peer, name, goal in (
            (
                "httpserver",
                "pytest-httpserver as installed",
                ">= 2.0" if client == "session" else ">= 1.8",
            ),
            ("stdlib", "stdlib keep-alive server, the recorded answer", ""),
        ):
            ours, theirs = f"ours_{client}", f"{peer}_{client}"
            wall = sorted(
                o / t for o, t in zip(measured.walls[ours], measured.walls[theirs], strict=True)
            )
            note = f"per wall second: {wall[len(wall) // 2]:.2f}; {DOES['ours']}; {DOES[peer]}"
            if peer == "httpserver":  # what our clients cost alone bounds the ratio
                clients = 1 / statistics.median(measured.rates[ours]) - ours_server
                if clients > 0:
                    limit = 1 / statistics.median(measured.rates[theirs]) / clients
                    note += f"; a server costing nothing: ~{limit:.2f} (estimate)"
            out.append(
                compare(
                    f"loopback: {calls:,} GETs, {label}, relaytokens_server vs {name}",
                    "calls/s",
                    measured.rates[ours],
                    measured.rates[theirs],
                    goal,
                    note,
                    (measured.instr[ours], measured.instr[theirs]),
                )
            )
    return out + raw


def raw_rows(measured: Rounds) -> tuple[dict[str, list[float]], list[Row]]:
    """Each server's CPU per request from the raw-socket client: the process's CPU during the
    client's run minus the client thread's own, in microseconds (lower is better); and the
    rows comparing ours with the peers'."""
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
    own = statistics.median(per_request["recorded"])
    notes = {
        "httpserver": f"pytest-httpserver as installed {label} (measured)",
        "stdlib": f"our server answering with the recorded answer (no token work): {own:.0f} us",
    }
    return per_request, [
        compare(
            f"loopback, raw-socket client: server CPU per request, ours vs {name}",
            "us CPU/request",
            per_request["ours"],
            per_request[peer],
            note=notes[peer],
        )
        for peer, name in (("httpserver", "pytest-httpserver"), ("stdlib", "stdlib keep-alive"))
    ]


def run(settings: Settings) -> list[Row]:
    return guarded("loopback", lambda: rows(settings))


BENCHMARK = Benchmark("loopback", "loopback server", run)


# The server alone: ``python benchmarks/bench_loopback.py [--constant] [--requests N]``
# prints the server process's CPU per request (and, with ``--instructions``, callgrind's
# instruction count per request), the client being a raw-socket keep-alive client in a child
# process that sends what ``requests`` sends. This is how the README's profile was taken.

CLIENT = r"""
import socket, sys, time
host, port, path, count, request = sys.argv[1:6]
port, count = int(port), int(count)
request = request.encode("latin-1").decode("unicode_escape").encode("latin-1")
def run(n):
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(n):
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "closed"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:80]
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(rest) < length:
            rest += sock.recv(65536)
    sock.close()
run(100)
print("ready", flush=True)
sys.stdin.readline()
run(count)
print("done", flush=True)
"""


def _serve_alone(constant: bool, count: int) -> None:
    import subprocess
    import sys
    import time

    import _cg
    import requests

    from pytest_relaytokens import FakeRequest, FakeResponse, RelayService, UcwaService
    from pytest_relaytokens.transports.server import FakeServers, LoopbackServer

    ucwa = UcwaService(seed=1)
    sent = {
        "User-Agent": "python-requests/" + requests.__version__,
        "Accept-Encoding": "gzip, deflate",
        "Accept": "application/json",
        "Connection": "keep-alive",
        "Authorization": "Bearer " + ucwa.credentials.bearer,
    }
    if constant:  # the server's own cost: the fake's recorded answer, no token work
        answer = ucwa.handle(FakeRequest.build("GET", ucwa.token_url(), sent))

        class Recorded:
            def handle(self, request: FakeRequest) -> FakeResponse:
                return answer

        server: LoopbackServer = LoopbackServer(Recorded())
    else:
        server = FakeServers(ucwa, RelayService(seed=1))
    with server:
        ucwa.base_url = server.url
        head = f"GET {ucwa.token_path()} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in sent.items()) + "\r\n"
        escaped = head.encode("unicode_escape").decode("latin-1")
        argv = ["127.0.0.1", str(server.port), ucwa.token_path(), str(count), escaped]
        child = subprocess.Popen(
            [sys.executable, "-c", CLIENT, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        probe = _cg.Probe()
        cpu = time.process_time()
        probe.start()
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"
        probe.stop("server")
        cpu = time.process_time() - cpu
        child.wait()
    if not probe.active:  # under valgrind the time means nothing
        what = "the recorded answer" if constant else "a fresh token per GET"
        print(f"server CPU per request ({what}): {cpu * 1e6 / count:.1f} us")


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import _cg

    parser = argparse.ArgumentParser(description="the loopback server alone, per request")
    parser.add_argument("--constant", action="store_true", help="serve a recorded answer")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    args = parser.parse_args(argv)
    if not args.instructions or os.environ.get(_cg.LIB_ENV):
        _serve_alone(args.constant, args.requests)
        return 0
    library = _cg.library()
    if not isinstance(library, Path):
        print(f"no instruction count: {library}")
        return 1
    out = Path(tempfile.mkdtemp(prefix="relaytokens-loop-"))
    try:
        command = [*_cg.callgrind_command(out), sys.executable, __file__, "--instructions"]
        command += ["--requests", str(args.requests)] + (["--constant"] if args.constant else [])
        env = {**os.environ, _cg.LIB_ENV: str(library)}
        subprocess.run(command, env=env, check=True, stderr=subprocess.DEVNULL)
        total = _cg.read_dumps(out).get("server", 0)
        print(f"server instructions per request: {total / args.requests:,.0f}")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
