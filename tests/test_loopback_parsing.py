"""What the loopback server reads is what h11 reads: real clients' requests and generated,
hostile heads reach the fake exactly as h11 reads them, or get a clean 4xx/5xx (never a 500 or
a traceback); and the headers the server writes are the ones it checked."""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator

import h11
import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.transports.server import LoopbackServer

H11_ERRORS = (h11.RemoteProtocolError, h11.LocalProtocolError)
#: Every status the server may answer a request head with on its own (never 500).
CLEAN_STATUSES = {b"200", b"204", b"400", b"413", b"414", b"417", b"431", b"501", b"505"}


def _whole_head(data: bytes) -> bytes | None:
    """``data`` up to its first empty line, or None without one."""
    pairs = ((data.find(b"\n\n"), 2), (data.find(b"\n\r\n"), 3))
    ends = [found + size for found, size in pairs if found >= 0]
    return data[: min(ends)] if ends else None


def h11_reading(head: bytes) -> tuple[str, str, list[tuple[str, str]]] | None:
    """``head`` as h11 alone reads it (method, target, headers), or None if it refuses it."""
    parser = h11.Connection(h11.SERVER, max_incomplete_event_size=1 << 20)
    # the server skips CR and LF bytes before a request line (RFC 9112 section 2.2, leniently:
    # a lone CR too), then hands the rest to h11
    parser.receive_data(head.lstrip(b"\r\n"))
    try:
        event = parser.next_event()
    except H11_ERRORS:
        return None
    if not isinstance(event, h11.Request):
        return None
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in event.headers.raw_items()]
    return event.method.decode("ascii").upper(), event.target.decode("latin-1"), headers


# What real clients send ---------------------------------------------------------------------


class _Capture:
    """A socket server that keeps the first request head of each connection and answers 204."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.heads: list[bytes] = []
        self.port = self.listener.getsockname()[1]

    def serve(self, count: int) -> threading.Thread:
        def run() -> None:
            for _ in range(count):
                conn, _ = self.listener.accept()
                with conn:
                    conn.settimeout(5)
                    data = b""
                    while _whole_head(data) is None:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    self.heads.append(_whole_head(data) or data)
                    conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def _client_calls(url: str) -> list[Callable[[], object]]:
    headers = {"Authorization": "Bearer cwt=AAEBHAEFAAAAAAAFFQAAAN", "Accept": "application/json"}

    def with_http_client() -> None:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port.split("/")[0]), timeout=5)
        conn.request("GET", "/ucwa/oauth/v1/applications/1/x?a=1&b=%20", headers=headers)
        conn.getresponse().read()
        conn.close()

    calls: list[Callable[[], object]] = [
        lambda: requests.get(url + "/ucwa/x?q=1", headers=headers, timeout=5),
        lambda: requests.head(url + "/", timeout=5),
        lambda: requests.delete(url + "/api/x", headers={"X-Access-Token": "a" * 32}, timeout=5),
        lambda: urllib.request.urlopen(url + "/path", timeout=5).read(),
        with_http_client,
    ]
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is an optional extra
        return calls
    calls.append(lambda: httpx.get(url + "/ucwa/y", headers=headers, timeout=5))
    return calls


def test_transport_real_clients_requests_reach_the_fake_as_h11_reads_them(
    recorder: tuple[_Recorder, LoopbackServer],
) -> None:
    capture = _Capture()
    with capture.listener:
        url = f"http://127.0.0.1:{capture.port}"
        calls = _client_calls(url)
        thread = capture.serve(len(calls))
        for call in calls:
            call()
        thread.join(5)
    assert len(capture.heads) == len(calls)
    target, server = recorder
    for head in capture.heads:
        expected = h11_reading(head)
        assert expected is not None, head
        target.seen.clear()
        assert _exchange(server, head).startswith(b"HTTP/1.1 200 "), head
        (seen,) = target.seen
        assert (seen.method, seen.url, list(seen.headers)) == (
            expected[0],
            server.url + expected[1],
            expected[2],
        )


# Generated heads ------------------------------------------------------------------------------

_ODD = ["\t", "\r", "\x00", "\x01", "\x0b", "\x7f", "\x80", "é", " ", ":"]
_TEXT = st.text(alphabet=st.sampled_from([*"aZ09-_.~!:/?%=&;,\"'() ", *_ODD]), max_size=12)
_TOKENS = st.text(alphabet=st.sampled_from([*"aZz09-_.~!#$%&'*+^`|"]), min_size=1, max_size=10)
_VCHARS = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)
_PRINTABLE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16)

# Each part of a head: (plain choices, odd choices); one part at most is odd in a head.
_PARTS = {
    "method": (
        st.one_of(st.sampled_from(["GET", "get", "HEAD", "POST", "DELETE", "OPTIONS"]), _TOKENS),
        st.one_of(st.sampled_from(["CONNECT", "G(T", "", "G T"]), _TEXT),
    ),
    "space": (st.just(" "), st.sampled_from(["  ", "\t", "", " \t"])),
    "target": (
        st.one_of(st.sampled_from(["/", "/a?b=c", "*", "http://h/x", "h:443"]), _VCHARS),
        st.one_of(st.sampled_from(["/a b", "/a\tb", "/\x80", "", "/\r"]), _TEXT),
    ),
    "version": (
        st.sampled_from(["HTTP/1.1", "HTTP/1.0"]),
        st.sampled_from(["HTTP/2.0", "HTTP/1.1 ", "http/1.1", "HTTP/1.10", "HTTP/0.9", ""]),
    ),
    "name": (
        st.one_of(st.sampled_from(["Host", "Connection", "Content-Length", "X-A"]), _TOKENS),
        st.one_of(
            st.sampled_from(["Transfer-Encoding", "Expect", "Upgrade", "X A", " X", "\tX", ""]),
            _TEXT,
        ),
    ),
    "sep": (st.sampled_from([":", ": ", ":\t", ":  "]), st.sampled_from([" :", "", "::"])),
    "value": (
        st.one_of(
            st.sampled_from(["", " x ", "\tx\t", "a  b", "0", "5", "007", "close"]), _PRINTABLE
        ),
        st.one_of(st.sampled_from(["1, 1", "+5", "chunked", "\x80", "a\rb", "é"]), _TEXT),
    ),
    "newline": (st.sampled_from(["\r\n", "\n"]), st.sampled_from(["\r\r\n", "\n\r"])),
}


@st.composite
def request_heads(draw: st.DrawFn) -> bytes:
    odd = draw(st.sampled_from([None, None, None, *_PARTS]))

    def part(name: str) -> str:
        plain, weird = _PARTS[name]
        return draw(weird if name == odd and draw(st.booleans()) else plain)

    newline = draw(_PARTS["newline"][0])
    line = f"{part('method')}{part('space')}{part('target')} {part('version')}"
    fields = [(part("name"), part("sep"), part("value")) for _ in range(draw(st.integers(0, 5)))]
    if draw(st.integers(0, 4)):  # a Host header, somewhere, most of the time
        fields.insert(draw(st.integers(0, len(fields))), ("Host", ": ", draw(_PRINTABLE)))
    lines = [line] + [name + sep + value for name, sep, value in fields]
    ending = part("newline") + draw(_PARTS["newline"][0])
    return (newline.join(lines) + ending).encode("utf-8")


def _check_against_h11(server: LoopbackServer, target: _Recorder, data: bytes) -> None:
    """The server's answer to ``data``: a clean status; a 200 only for a head h11 reads,
    and then the fake saw what h11 reads; nothing kept in ``errors``."""
    target.seen.clear()
    answer = _exchange(server, data)
    status = answer[9:12]
    assert answer.startswith(b"HTTP/1.1 ") and status in CLEAN_STATUSES, (data, answer[:80])
    assert server.errors == []
    head = _whole_head(data)
    if status != b"200" or head is None:
        return
    expected = h11_reading(head)
    assert expected is not None, (data, answer[:80])  # the server read what h11 refuses
    seen = target.seen[0]
    assert (seen.method, list(seen.headers)) == (expected[0], expected[2]), data


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request_heads())
@example(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
@example(b"GET / HTTP/1.1\nHost: x\n\n")
@example(b"GET / HTTP/1.0\r\n\r\n")
@example(b"get /a?b HTTP/1.1\r\nHost: x\r\nX-A:  a \t b\t \r\nX-B:\r\n\r\n")
def test_generated_heads_are_read_as_h11_reads_them_or_refused_cleanly(
    recorder: tuple[_Recorder, LoopbackServer], data: bytes
) -> None:
    target, server = recorder
    _check_against_h11(server, target, data)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_in_a_head_get_a_clean_answer(
    recorder: tuple[_Recorder, LoopbackServer], junk: bytes
) -> None:
    target, server = recorder
    _check_against_h11(server, target, b"GET / HTTP/1.1\r\nHost: x\r\n" + junk + b"\r\n\r\n")


# The server: the same request in, the same bytes out ------------------------------------------


class _Recorder:
    """Answers every request with what it received; keeps each :class:`FakeRequest`."""

    def __init__(self) -> None:
        self.seen: list[FakeRequest] = []

    def handle(self, request: FakeRequest) -> FakeResponse:
        self.seen.append(request)
        body = repr((request.method, request.url, request.headers, request.body)).encode()
        headers = [("Content-Type", "text/plain"), ("Date", "Tue, 01 Dec 2026 00:00:00 GMT")]
        return FakeResponse(200 if request.path != "/none" else 204, headers, body)


SAME_BYTES_OUT = [
    b"GET /a?b=c HTTP/1.1\r\nHost: h:1\r\nAccept: */*\r\nX-Pad: \t v \r\n\r\n",
    b"get /lower HTTP/1.1\nHost: x\nConnection: close\n\n",
    b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /none HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://other/abs?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /second HTTP/1.0\r\n\r\n",
    b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"\r\n\r\nGET /after-blank-lines HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcDELETE /d HTTP/1.1\r\n"
    b"Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nConnection: close\r\n\r\nabcde",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nshort",
    b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nExpect: nothing\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\nConnection: close\r\n\r\n",
    b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
]


@pytest.fixture
def recorder() -> Iterator[tuple[_Recorder, LoopbackServer]]:
    target = _Recorder()
    with LoopbackServer(target, timeout=2.0) as server:
        yield target, server


def _exchange(server: LoopbackServer, payload: bytes) -> bytes:
    """What the server answers to ``payload``; the server's own ``Date`` (on its error
    answers) reads ``<date>``, so answers a second apart compare equal."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    lines = b"".join(chunks).split(b"\r\n")
    fixed = b"Date: Tue, 01 Dec 2026 00:00:00 GMT"
    return b"\r\n".join(
        b"Date: <date>" if line.startswith(b"Date: ") and line != fixed else line for line in lines
    )


def test_odd_requests_get_their_answers(recorder: tuple[_Recorder, LoopbackServer]) -> None:
    target, server = recorder
    answers = [_exchange(server, payload) for payload in SAME_BYTES_OUT]
    assert len(target.seen) >= 12  # the refused ones never reach the fake
    statuses = [answer[:12] for answer in answers]
    assert statuses.count(b"HTTP/1.1 400") == 4 and b"HTTP/1.1 505" in statuses
    assert b"HTTP/1.1 417" in statuses
    assert b"/after-blank-lines" in answers[8]  # blank lines before a request are skipped
    assert answers[7].count(b"HTTP/1.1 200") == 2  # pipelined requests answered in turn


# Writing: the response headers' fast path writes what the checked path writes ---------------

_HEADER_NAMES = st.one_of(
    st.sampled_from(["Content-Type", "Date", "date", "Content-Length", "Connection", "X-A"]),
    _TOKENS,
    st.sampled_from(["X A", "", "X:A", "X\r\nA"]),
)
_HEADER_VALUES = st.one_of(
    _PRINTABLE,
    st.text(alphabet=st.sampled_from([*"ab ", "\t", "\xe9", "\xff"]), max_size=8),
    st.text(alphabet=st.sampled_from([*"ab", *_ODD, "\n", "\u20ac", "\x1f"]), max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=8))
@example([("Content-Type", "text/plain"), ("Date", "x"), ("Content-Length", "3")])
@example([("X-A", "ok\r\nSet-Cookie: evil=1")])
@example([("X-A", "a"), ("Content-Length", "1\r\n")])
# found by hypothesis: a framing header's non-Latin-1 value was let through by the fast path
@example([("Content-Length", "\u20ac")])
def test_header_lines_fast_path_writes_what_the_checked_path_writes(
    headers: list[tuple[str, str]],
) -> None:
    from pytest_relaytokens.transports import server as module

    known = dict(module._VALID_NAMES)
    try:  # remember this example's names only: the cache of valid names stays small
        problem = module._first_bad_header(headers)  # also remembers the valid names
        fast = module._header_lines(headers)
    finally:
        module._VALID_NAMES.clear()
        module._VALID_NAMES.update(known)
    if problem is not None:
        assert fast is None, (problem, headers)  # a bad header is never written
        return
    checked = module._checked_header_lines(headers)
    assert fast == checked
    written = checked[0]
    assert written.count(b"\r\n") == len(
        [n for n, _ in headers if n.lower() not in ("content-length", "connection")]
    )
    assert checked[1] == any(n.lower() == "date" for n, _ in headers)
