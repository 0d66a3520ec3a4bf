"""3. Mocked calls: GETs of the UCWA token through the stateful fake vs a static mock.

``requests``: ``UcwaService`` served by ``activate_responses`` vs the same body registered once
in a raw ``responses.RequestsMock``. ``httpx``: the fake through ``patch_httpx`` (what
``ucwa_api`` uses) and through ``FakeTransport`` vs a static ``respx`` route. Each side makes
its calls from one client (``requests.Session`` / ``httpx.Client``), created inside the timing
together with the fake and the mock, and checks every status.
"""

from __future__ import annotations

from typing import Any

from _common import Benchmark, Row, Settings, guarded, interleave_rates, missing, rate

GOAL = ">= 0.8"


def make_service() -> tuple[Any, str, dict[str, str]]:
    from pytest_relaytokens.ucwa.service import UcwaService

    service = UcwaService(seed=1)
    headers = {
        "Authorization": "Bearer " + service.credentials.bearer,
        "Accept": "application/json",
    }
    return service, service.token_url(), headers


def reference_body() -> tuple[bytes, str]:
    """One real answer of the fake, which the static baselines then serve."""
    import requests

    from pytest_relaytokens.transports.responses_transport import activate_responses

    service, url, headers = make_service()
    with activate_responses(service, [service.host]), requests.Session() as session:
        response = session.get(url, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"the UCWA fake answered {response.status_code}: {response.text[:200]}")
    return response.content, response.headers["Content-Type"]


def requests_rows(settings: Settings) -> list[Row]:
    missing("requests", "responses", "pytest_relaytokens.ucwa.service")
    missing("pytest_relaytokens.transports.responses_transport")
    import requests
    import responses

    from pytest_relaytokens.transports.responses_transport import activate_responses

    body, content_type = reference_body()
    _, url, headers = make_service()

    def ours(calls: int) -> float:
        def work() -> None:
            service, url, headers = make_service()
            with activate_responses(service, [service.host]), requests.Session() as session:
                for _ in range(calls):
                    assert session.get(url, headers=headers).status_code == 200

        return rate(calls, work)

    def baseline(calls: int) -> float:
        def work() -> None:
            with responses.RequestsMock() as mock, requests.Session() as session:
                mock.add(responses.GET, url, body=body, content_type=content_type)
                for _ in range(calls):
                    assert session.get(url, headers=headers).status_code == 200

        return rate(calls, work)

    calls = settings.calls
    mine, theirs = interleave_rates([ours, baseline], calls, settings.repeats)
    return [
        Row(
            f"requests: {calls:,} GETs, UcwaService vs static responses",
            "calls/s",
            mine,
            theirs,
            GOAL,
        )
    ]


def httpx_rows(settings: Settings) -> list[Row]:
    missing("httpx", "respx", "pytest_relaytokens.ucwa.service")
    missing("pytest_relaytokens.transports.httpx_transport")
    import httpx
    import respx

    from pytest_relaytokens.transports.httpx_transport import FakeTransport, patch_httpx

    body, content_type = reference_body()
    _, url, headers = make_service()

    def patched(calls: int) -> float:
        def work() -> None:
            service, url, headers = make_service()
            with patch_httpx(service, [service.host]), httpx.Client() as client:
                for _ in range(calls):
                    assert client.get(url, headers=headers).status_code == 200

        return rate(calls, work)

    def transport(calls: int) -> float:
        def work() -> None:
            service, url, headers = make_service()
            with httpx.Client(transport=FakeTransport(service)) as client:
                for _ in range(calls):
                    assert client.get(url, headers=headers).status_code == 200

        return rate(calls, work)

    def baseline(calls: int) -> float:
        def work() -> None:
            with respx.mock(assert_all_called=False) as router, httpx.Client() as client:
                router.get(url).respond(200, content=body, headers={"Content-Type": content_type})
                for _ in range(calls):
                    assert client.get(url, headers=headers).status_code == 200

        return rate(calls, work)

    calls = settings.calls
    via_patch, theirs, via_transport = interleave_rates(
        [patched, baseline, transport], calls, settings.repeats
    )
    return [
        Row(
            f"httpx: {calls:,} GETs, UcwaService via patch_httpx vs static respx",
            "calls/s",
            via_patch,
            theirs,
            GOAL,
        ),
        Row(
            f"httpx: {calls:,} GETs, UcwaService via FakeTransport vs static respx",
            "calls/s",
            via_transport,
            theirs,
            GOAL,
        ),
    ]


def run(settings: Settings) -> list[Row]:
    return guarded("requests: UcwaService vs static responses", lambda: requests_rows(settings)) + (
        guarded("httpx: UcwaService vs static respx", lambda: httpx_rows(settings))
    )


BENCHMARK = Benchmark("mocked_calls", "mocked calls", run)
