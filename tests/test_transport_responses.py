"""The ``responses`` transport: requests reach a fake, other hosts stay real."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
import responses
from echo_fake import HOST, EchoService

from pytest_relaytokens.http import FakeRouter
from pytest_relaytokens.transports import PathRouter
from pytest_relaytokens.transports.responses_transport import activate_responses
from pytest_relaytokens.transports.server import LoopbackServer


@pytest.fixture
def echo() -> EchoService:
    return EchoService()


@pytest.fixture
def other_server() -> Iterator[tuple[LoopbackServer, EchoService]]:
    service = EchoService("http://127.0.0.1")
    with LoopbackServer(service) as server:
        yield server, service


def test_get_status_body_query_and_headers(echo: EchoService) -> None:
    with activate_responses(echo):
        r = requests.get(
            f"https://{HOST}/echo", params={"a": "1", "b": ["x", "y"]}, headers={"X-Test": "yes"}
        )
    assert r.status_code == 200
    doc = r.json()
    assert doc["method"] == "GET"
    assert doc["url"] == f"https://{HOST}/echo?a=1&b=x&b=y"
    assert doc["query"] == {"a": ["1"], "b": ["x", "y"]}
    assert ["X-Test", "yes"] in doc["headers"]
    assert len(echo.log) == 1 and echo.log[0].request.query_value("a") == "1"


def test_repeated_response_headers_survive(echo: EchoService) -> None:
    with activate_responses(echo):
        r = requests.get(f"https://{HOST}/echo")
    assert r.raw.headers.getlist("WWW-Authenticate") == [
        'Bearer trusted_issuers="x"',
        'MsRtcOAuth href="https://h/WebTicket/oauthtoken"',
    ]
    # requests joins repeated headers the way it does for a real server
    assert r.headers["www-authenticate"].count(", ") == 1
    assert r.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_methods_and_body(echo: EchoService, method: str) -> None:
    with activate_responses(echo):
        r = requests.request(method, f"https://{HOST}/echo", data={"grant_type": "password"})
    doc = r.json()
    assert doc["method"] == method
    assert doc["body"] == "grant_type=password"


def test_head_and_status(echo: EchoService) -> None:
    with activate_responses(echo):
        assert requests.head(f"https://{HOST}/echo").status_code == 200
        assert requests.get(f"https://{HOST}/status/503").status_code == 503
        assert requests.get(f"https://{HOST}/missing").status_code == 404
    assert [e.expected for e in echo.log] == [True, True, False]


def test_generator_and_bytes_bodies(echo: EchoService) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"ab"
        yield b"cd"

    with activate_responses(echo):
        assert requests.post(f"https://{HOST}/echo", data=chunks()).json()["body"] == "abcd"
        assert requests.post(f"https://{HOST}/echo", data=b"\x00\xff").json()["body"] == "\x00\xff"


def test_delay(echo: EchoService, monkeypatch: pytest.MonkeyPatch) -> None:
    echo.arm_delay(0.2)
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # what was waited, not how long it took
    with activate_responses(echo):
        r = requests.get(f"https://{HOST}/echo")
    assert r.status_code == 200
    assert slept == [0.2]


def test_drop_connection_raises_connection_error(echo: EchoService) -> None:
    echo.arm_drop()
    with activate_responses(echo):
        with pytest.raises(requests.exceptions.ConnectionError, match="drop_connection"):
            requests.get(f"https://{HOST}/echo")
        assert requests.get(f"https://{HOST}/echo").status_code == 200  # only once


def test_other_hosts_reach_the_real_loopback_server(
    echo: EchoService, other_server: tuple[LoopbackServer, EchoService]
) -> None:
    server, real = other_server
    with activate_responses(echo):
        r = requests.get(server.url + "/echo?via=socket")
        assert requests.get(f"https://{HOST}/echo").status_code == 200
    assert r.status_code == 200
    assert r.json()["url"] == server.url + "/echo?via=socket"
    assert len(real.log) == 1 and len(echo.log) == 1


def test_no_passthrough_refuses_other_hosts(
    echo: EchoService, other_server: tuple[LoopbackServer, EchoService]
) -> None:
    server, real = other_server
    with (
        activate_responses(echo, passthrough_unmatched=False),
        pytest.raises(requests.exceptions.ConnectionError),
    ):
        requests.get(server.url + "/echo")
    assert len(real.log) == 0


def test_hosts_from_router_and_explicit_port() -> None:
    a, b = EchoService("https://a.example.test"), EchoService("https://b.example.test:8443")
    with activate_responses(FakeRouter([a, b])):
        assert requests.get("https://a.example.test/echo").status_code == 200
        assert requests.get("https://b.example.test:8443/echo").status_code == 200
        # a port the fake does not declare: not served, and never sent to the network
        with pytest.raises(requests.exceptions.ConnectionError, match="refused by Responses"):
            requests.get("https://b.example.test:9999/echo", timeout=2)
    assert len(a.log) == 1 and len(b.log) == 1


def test_path_router_with_explicit_hosts(echo: EchoService) -> None:
    other = EchoService()
    router = PathRouter([("/api/", other)], default=echo)
    with activate_responses(router, ["svc.example.test"]):
        requests.get("https://svc.example.test/api/echo")
        requests.get("https://SVC.example.test/echo")
    assert len(other.log) == 1 and len(echo.log) == 1


def test_existing_mock_keeps_its_own_registrations(echo: EchoService) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get("https://elsewhere.test/x", body="mine")
        with activate_responses(echo, mock=rsps) as yielded:
            assert yielded is rsps
            assert requests.get("https://elsewhere.test/x").text == "mine"
            assert requests.get(f"https://{HOST}/echo").status_code == 200
        assert len(rsps.registered()) == 1  # ours removed again
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"https://{HOST}/echo")


def test_patch_is_removed_on_exit(
    echo: EchoService, other_server: tuple[LoopbackServer, EchoService]
) -> None:
    server, real = other_server
    with activate_responses(echo):
        pass
    assert requests.get(server.url + "/echo").status_code == 200
    assert len(real.log) == 1
