"""``requests`` served at ``HTTPAdapter.send`` (the plugin's path): what a client sees must be
what ``responses`` (and a connection) would give, for every body the fakes send."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.errors import NetworkBlockedError
from pytest_relaytokens.http import FakeRequest, FakeResponse, FakeService
from pytest_relaytokens.pytest_plugin.network import TestNetwork
from pytest_relaytokens.transports.requests_adapter import patch_requests, request_netloc
from pytest_relaytokens.transports.responses_transport import activate_responses

HOST = "fixed.example.test"
BODY = b'{"token": "value", "pad": "' + b"x" * 300 + b'"}'


def _bodies() -> dict[str, tuple[list[tuple[str, str]], bytes]]:
    plain = [("Content-Type", "application/json; charset=utf-8")]
    return {
        "identity": (plain, BODY),
        "gzip": ([*plain, ("Content-Encoding", "gzip")], gzip.compress(BODY, mtime=0)),
        "x-gzip": ([*plain, ("Content-Encoding", "X-GZIP")], gzip.compress(BODY, mtime=0)),
        "zlib deflate": ([*plain, ("Content-Encoding", "deflate")], zlib.compress(BODY)),
        "raw deflate": (
            [*plain, ("Content-Encoding", "deflate")],
            zlib.compressobj(6, zlib.DEFLATED, -15).compress(BODY)
            + zlib.compressobj(6, zlib.DEFLATED, -15).flush(),
        ),
        "stacked": (
            [*plain, ("Content-Encoding", "deflate"), ("Content-Encoding", "gzip")],
            gzip.compress(zlib.compress(BODY), mtime=0),
        ),
        "broken gzip": ([*plain, ("Content-Encoding", "gzip")], b"\x1f\x8b\x08garbage"),
        "cookies": (
            [
                *plain,
                ("Set-Cookie", "cwt_ucwa=abc; path=/photos; secure; HttpOnly"),
                ("Set-Cookie", "other=1; path=/"),
            ],
            BODY,
        ),
        "latin-1 text": (
            [("Content-Type", "text/plain; charset=ISO-8859-1")],
            "café".encode("latin-1"),
        ),
        "no content type": ([], b"\xff\xfe raw"),
        "repeated, two spellings": (
            [("Vary", "Accept-Encoding"), ("X-Thing", "1"), ("vary", "Origin")],
            BODY,
        ),
        "repeated challenge": (
            [
                ("WWW-Authenticate", 'Bearer trusted_issuers="x"'),
                ("WWW-Authenticate", 'MsRtcOAuth href="https://h/WebTicket/oauthtoken"'),
            ],
            b"",
        ),
    }


BODIES = _bodies()


class Fixed(FakeService):
    """Answers every request with one fixed response (status from ``/status/N``)."""

    name = "fixed"

    def __init__(self, headers: list[tuple[str, str]], body: bytes) -> None:
        # a frozen clock: both transports' answers carry the same Date
        super().__init__(base_url=f"https://{HOST}", clock=Clock(frozen=True))
        self.compress_responses = False
        self.headers = headers
        self.body = body

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        status = 200
        if request.path.startswith("/status/"):
            status = int(request.path.rsplit("/", 1)[1])
        return FakeResponse(status, list(self.headers), self.body), None, True


def _seen(response: requests.Response | BaseException) -> dict[str, Any]:
    """What a client can observe of an answer (or the error type it raised)."""
    if isinstance(response, BaseException):
        return {"error": type(response).__name__}
    return {
        "status": response.status_code,
        "reason": response.reason,
        "names": [k for k in response.headers if k.lower() != "content-length"],
        "headers": sorted(
            (k.lower(), v) for k, v in response.headers.items() if k.lower() != "content-length"
        ),
        "raw headers": response.raw.headers.getlist("WWW-Authenticate"),
        "content": response.content,
        "encoding": response.encoding,
        "text": response.text,
        "cookies": sorted(response.cookies.items()),
        "url": response.url,
        "ok": response.ok,
        "history": len(response.history),
    }


def _get(method: str, path: str, stream: bool) -> requests.Response | BaseException:
    try:
        with requests.Session() as session:
            response = session.request(method, f"https://{HOST}{path}", stream=stream)
            if stream:
                response.content  # noqa: B018 - what a streaming client reads at last
            return response
    except requests.RequestException as exc:
        return exc


@pytest.mark.parametrize("path", ["/x", "/status/404", "/status/204", "/status/304"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("kind", sorted(BODIES))
def test_the_adapter_answers_as_responses_does(
    kind: str, stream: bool, method: str, path: str
) -> None:
    headers, body = BODIES[kind]
    service = Fixed(headers, body)
    with activate_responses(service, [HOST]):
        expected = _seen(_get(method, path, stream))
    network = TestNetwork(block=True)
    network.add(service)
    try:
        got = _seen(_get(method, path, stream))
    finally:
        network.close()
    assert got == expected


def test_content_length_is_added_as_a_server_sends_it() -> None:
    network = TestNetwork(block=True)
    network.add(Fixed(*BODIES["gzip"]))
    try:
        answer = requests.get(f"https://{HOST}/x")
    finally:
        network.close()
    assert answer.headers["Content-Length"] == str(len(BODIES["gzip"][1]))
    assert answer.content == BODY


def test_streamed_raw_bytes_are_the_bytes_sent() -> None:
    network = TestNetwork(block=True)
    network.add(Fixed(*BODIES["gzip"]))
    try:
        answer = requests.get(f"https://{HOST}/x", stream=True)
        assert answer.raw.read(decode_content=False) == BODIES["gzip"][1]
    finally:
        network.close()


def test_preloaded_content_leaves_raw_at_its_end() -> None:
    network = TestNetwork(block=True)
    network.add(Fixed(*BODIES["gzip"]))
    try:
        answer = requests.get(f"https://{HOST}/x")
    finally:
        network.close()
    assert answer.content == BODY and answer.raw.read() == b""
    assert answer.raw.version == 11  # HTTP/1.1, as from a connection


@pytest.fixture
def flaky() -> Iterator[tuple[Fixed, requests.Session]]:
    service = Fixed(*BODIES["identity"])
    network = TestNetwork(block=True)
    network.add(service)
    session = requests.Session()
    retry = Retry(total=3, status_forcelist=[503], backoff_factor=0, allowed_methods=None)
    session.mount("https://", HTTPAdapter(max_retries=retry))
    try:
        yield service, session
    finally:
        session.close()
        network.close()


def _unavailable(request: FakeRequest) -> FakeResponse:
    return FakeResponse(503, [("Content-Type", "text/plain")], b"busy")


def test_status_retries_of_a_mounted_adapter_are_honoured(
    flaky: tuple[Fixed, requests.Session],
) -> None:
    service, session = flaky
    service.arm(_unavailable, times=2)
    answer = session.get(f"https://{HOST}/x")
    assert answer.status_code == 200
    assert [e.response.status for e in service.log] == [503, 503, 200]


def test_retries_running_out_raise_retry_error(flaky: tuple[Fixed, requests.Session]) -> None:
    service, session = flaky
    service.arm(_unavailable, times=None)
    with pytest.raises(requests.exceptions.RetryError):
        session.get(f"https://{HOST}/x")
    assert [e.response.status for e in service.log] == [503] * 4


@pytest.mark.parametrize("timeout", [0.05, (5, 0.05)])
def test_a_delay_beyond_the_read_timeout_times_out(
    timeout: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = Fixed(*BODIES["identity"])
    service.arm_delay(5)
    network = TestNetwork(block=True)
    network.add(service)
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # what was waited, not how long it took
    try:
        with pytest.raises(requests.exceptions.ReadTimeout, match="read timeout"):
            requests.get(f"https://{HOST}/x", timeout=timeout)
    finally:
        network.close()
    assert slept == [0.05]  # the client's read timeout, not the fake's 5 s delay


def test_a_delay_within_the_timeout_answers() -> None:
    service = Fixed(*BODIES["identity"])
    service.arm_delay(0.05)
    network = TestNetwork(block=True)
    network.add(service)
    try:
        assert requests.get(f"https://{HOST}/x", timeout=5).content == BODY
    finally:
        network.close()


def test_other_hosts_go_to_a_responses_mock_started_first() -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, "https://third-party.example.test/api", json={"ok": True})
        network = TestNetwork(block=True)
        network.add(Fixed(*BODIES["identity"]))
        try:
            assert requests.get("https://third-party.example.test/api").json() == {"ok": True}
            assert requests.get(f"https://{HOST}/x").content == BODY  # the fake still first
            with pytest.raises(requests.exceptions.ConnectionError):  # the mock refuses
                requests.get("https://unknown.example.test/")
        finally:
            network.close()


def test_blocked_without_a_mock_below() -> None:
    network = TestNetwork(block=True)
    network.add(Fixed(*BODIES["identity"]))
    try:
        with pytest.raises(NetworkBlockedError, match=r"unknown\.example\.test"):
            requests.get("https://unknown.example.test/")
    finally:
        network.close()


def test_blocks_nest_and_restore_what_they_found() -> None:
    original = HTTPAdapter.send
    with patch_requests(lambda request: None) as below:
        assert below is original
        with patch_requests(lambda request: None) as inner_below:
            assert inner_below is not original
        assert HTTPAdapter.send is not original
    assert HTTPAdapter.send is original


@pytest.mark.parametrize(
    ("url", "netloc"),
    [
        ("https://Host.Example:8443/a?b#c", "host.example:8443"),
        ("http://user:pw@host.example/", "host.example"),
        ("https://host.example?x=/", "host.example"),
        ("https://[::1]:80/x", "[::1]:80"),
        ("ftp://host.example/", ""),
        ("host.example/path", ""),
        ("https://" + "a" * 100_000, "a" * 100_000),
    ],
)
def test_request_netloc(url: str, netloc: str) -> None:
    assert request_netloc(url) == netloc


def test_an_adapter_subclass_building_its_own_response_is_honoured() -> None:
    class Marking(HTTPAdapter):
        def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
            response = super().build_response(req, resp)
            response.headers["X-Built-By"] = "subclass"
            return response

    network = TestNetwork(block=True)
    network.add(Fixed(*BODIES["gzip"]))
    try:
        with requests.Session() as session:
            session.mount("https://", Marking())
            answer = session.get(f"https://{HOST}/x")
    finally:
        network.close()
    assert answer.headers["X-Built-By"] == "subclass" and answer.content == BODY


def test_serve_requests_answers_its_hosts_and_passes_the_rest_on() -> None:
    from pytest_relaytokens.transports import serve_requests
    from pytest_relaytokens.transports.server import LoopbackServer

    fake = Fixed(*BODIES["gzip"])
    other = Fixed(*BODIES["identity"])
    other.base_url = "http://127.0.0.1"
    with LoopbackServer(other) as server, serve_requests(fake):
        assert requests.get(f"https://{HOST}/x").content == BODY
        assert requests.get(f"https://{HOST.upper()}:8443/x").content == BODY  # any port
        assert requests.get(f"{server.url}/y").content == BODY  # really over loopback
    assert [e.request.path for e in fake.log] == ["/x", "/x"]
    assert [e.request.path for e in other.log] == ["/y"]


def test_serve_requests_with_a_port_serves_that_port_only() -> None:
    from pytest_relaytokens.transports import serve_requests

    fake = Fixed(*BODIES["identity"])
    with (
        responses.RequestsMock() as below,
        serve_requests(fake, [f"{HOST}:8443"]),
    ):
        below.add(responses.GET, f"https://{HOST}/x", body=b"from below")
        assert requests.get(f"https://{HOST}:8443/x").content == BODY
        assert requests.get(f"https://{HOST}/x").content == b"from below"
