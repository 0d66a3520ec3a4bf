"""The httpx transport and the httpx patch: sync and async clients reach a fake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
from echo_fake import CHALLENGES, URL, EchoService

from pytest_relaytokens.http import FakeRouter
from pytest_relaytokens.transports.httpx_transport import FakeTransport, patch_httpx
from pytest_relaytokens.transports.server import LoopbackServer


@pytest.fixture
def echo() -> EchoService:
    return EchoService()


@pytest.fixture
def other_server() -> Iterator[tuple[LoopbackServer, EchoService]]:
    service = EchoService("http://127.0.0.1")
    with LoopbackServer(service) as server:
        yield server, service


def test_sync_client(echo: EchoService) -> None:
    with httpx.Client(transport=FakeTransport(echo), base_url=URL) as client:
        r = client.post(
            "/echo", params={"a": "1"}, data={"grant_type": "password"}, headers={"X-Test": "yes"}
        )
        assert client.get("/status/418").status_code == 418
        head = client.head("/echo")
    assert r.status_code == 200
    assert r.reason_phrase == "OK"
    doc = r.json()
    assert doc["method"] == "POST"
    assert doc["url"] == f"{URL}/echo?a=1"
    assert doc["body"] == "grant_type=password"
    assert ["x-test", "yes"] in [[k.lower(), v] for k, v in doc["headers"]]
    assert r.headers.get_list("www-authenticate") == CHALLENGES
    assert head.status_code == 200 and head.content == b""


def test_async_client(echo: EchoService) -> None:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=FakeTransport(echo), base_url=URL) as client:
            return await client.put("/echo?x=2", content=b"raw")

    r = asyncio.run(go())
    assert r.json()["body"] == "raw" and r.json()["query"] == {"x": ["2"]}
    assert r.headers.get_list("WWW-Authenticate") == CHALLENGES


def test_delay_sync_and_async(echo: EchoService) -> None:
    echo.arm_delay(0.15, times=2)
    start = time.perf_counter()
    httpx.Client(transport=FakeTransport(echo)).get(f"{URL}/echo")
    assert time.perf_counter() - start >= 0.15

    async def go() -> float:
        async with httpx.AsyncClient(transport=FakeTransport(echo)) as client:
            begin = time.perf_counter()
            # the delay must not block the event loop: a concurrent sleep finishes first
            order: list[str] = []

            async def slow() -> None:
                await client.get(f"{URL}/echo")
                order.append("request")

            async def fast() -> None:
                await asyncio.sleep(0.01)
                order.append("sleep")

            await asyncio.gather(slow(), fast())
            assert order == ["sleep", "request"]
            return time.perf_counter() - begin

    assert asyncio.run(go()) >= 0.15


def test_drop_raises_connect_error(echo: EchoService) -> None:
    echo.arm_drop(times=2)
    with pytest.raises(httpx.ConnectError, match="drop_connection"):
        httpx.Client(transport=FakeTransport(echo)).get(f"{URL}/echo")

    async def go() -> None:
        async with httpx.AsyncClient(transport=FakeTransport(echo)) as client:
            await client.get(f"{URL}/echo")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(go())


def test_patch_serves_fake_hosts_and_passes_others(
    echo: EchoService, other_server: tuple[LoopbackServer, EchoService]
) -> None:
    server, real = other_server
    with patch_httpx(echo):
        fake = httpx.get(f"{URL}/echo?a=b")
        live = httpx.get(f"{server.url}/echo?via=socket")

        async def go() -> tuple[httpx.Response, httpx.Response]:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{URL}/echo"), await client.get(f"{server.url}/echo"))

        afake, alive = asyncio.run(go())
    assert fake.json()["query"] == {"a": ["b"]}
    assert fake.headers.get_list("WWW-Authenticate") == CHALLENGES
    assert live.json()["url"] == f"{server.url}/echo?via=socket"
    assert afake.status_code == alive.status_code == 200
    assert len(echo.log) == 2 and len(real.log) == 2


def test_patch_delay_and_drop(echo: EchoService, monkeypatch: pytest.MonkeyPatch) -> None:
    echo.arm_drop()
    with patch_httpx(echo), pytest.raises(httpx.ConnectError):
        httpx.get(f"{URL}/echo")
    echo.arm_delay(0.1)
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # what was waited, not how long it took
    with patch_httpx(echo):
        assert httpx.get(f"{URL}/echo").status_code == 200
    assert slept == [0.1]


def test_patch_is_restored_and_hosts_respected(echo: EchoService) -> None:
    original_sync = httpx.HTTPTransport.handle_request
    original_async = httpx.AsyncHTTPTransport.handle_async_request
    a, b = EchoService("https://a.example.test"), EchoService("https://b.example.test:8443")
    with patch_httpx(FakeRouter([a, b])):
        assert httpx.HTTPTransport.handle_request is not original_sync
        assert httpx.get("https://A.example.test/echo").status_code == 200
        assert httpx.get("https://b.example.test:8443/echo").status_code == 200
    assert httpx.HTTPTransport.handle_request is original_sync
    assert httpx.AsyncHTTPTransport.handle_async_request is original_async
    assert len(a.log) == 1 and len(b.log) == 1


def test_gzip_body_streams_raw_and_decodes_like_a_connection() -> None:
    """A client reading raw bytes gets the gzip member as sent; a plain read decodes it."""
    import gzip
    import json

    from pytest_relaytokens.ucwa.service import UcwaService

    service = UcwaService(seed=3)
    headers = {
        "Authorization": f"Bearer {service.credentials.bearer}",
        "Accept": "application/json",
        "Accept-Encoding": "gzip",
    }
    url = service.token_url()
    with httpx.Client(transport=FakeTransport(service)) as client:
        with client.stream("GET", url, headers=headers) as streamed:
            raw = b"".join(streamed.iter_raw())
            assert streamed.headers["content-encoding"] == "gzip"
            assert int(streamed.headers["content-length"]) == len(raw)
        assert raw[:2] == b"\x1f\x8b"
        assert json.loads(gzip.decompress(raw))["rel"] == "mediaRelayAccessToken"
        decoded = client.get(url, headers=headers)
        assert decoded.json()["rel"] == "mediaRelayAccessToken"
        assert decoded.json()["password"] != json.loads(gzip.decompress(raw))["password"]

    async def go() -> bytes:
        async with (
            httpx.AsyncClient(transport=FakeTransport(service)) as client,
            client.stream("GET", url, headers=headers) as streamed,
        ):
            return b"".join([chunk async for chunk in streamed.aiter_raw()])

    assert json.loads(gzip.decompress(asyncio.run(go())))["rel"] == "mediaRelayAccessToken"


def test_head_keeps_no_body_and_a_streamed_body_reads_once(echo: EchoService) -> None:
    with httpx.Client(transport=FakeTransport(echo), base_url=URL) as client:
        head = client.head("/echo")
        assert head.content == b"" and head.status_code == 200
        with client.stream("GET", "/echo") as streamed:
            chunks = list(streamed.iter_bytes())
            with pytest.raises(httpx.StreamConsumed):
                list(streamed.iter_bytes())
    assert json_body(b"".join(chunks))["method"] == "GET"


def json_body(data: bytes) -> dict[str, object]:
    import json

    loaded: dict[str, object] = json.loads(data)
    return loaded


def test_a_delay_beyond_the_read_timeout_times_out_sync_and_async(
    echo: EchoService, monkeypatch: pytest.MonkeyPatch
) -> None:
    echo.arm_delay(30, times=2)
    slept: list[float] = []  # what was waited, not how long it took

    async def async_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(time, "sleep", slept.append)
    monkeypatch.setattr(anyio, "sleep", async_sleep)
    client = httpx.Client(transport=FakeTransport(echo), timeout=httpx.Timeout(5, read=0.05))
    with client, pytest.raises(httpx.ReadTimeout, match="read timeout"):
        client.get(f"{URL}/echo")

    async def go() -> None:
        async with httpx.AsyncClient(transport=FakeTransport(echo), timeout=0.05) as client:
            await client.get(f"{URL}/echo")

    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(go())
    assert slept == [0.05, 0.05]  # the client's read timeouts, not the fake's 30 s delay
    assert [e.response.status for e in echo.log] == [200, 200]  # the fake did answer, late


def test_a_delay_without_a_read_timeout_is_waited_for(echo: EchoService) -> None:
    echo.arm_delay(0.1)
    with httpx.Client(transport=FakeTransport(echo), timeout=httpx.Timeout(None)) as client:
        assert client.get(f"{URL}/echo").status_code == 200
