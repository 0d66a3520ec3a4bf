"""Goal 2. Mocked calls: GETs of the UCWA token through ``ucwa_api`` against static mocks.

One pytest process runs interleaved rounds of every side, each through the fixture or mock a
user would write: ``requests`` through ``ucwa_api`` (the stateful fake, a fresh token per GET)
against the same body registered statically in ``responses``; httpx through ``ucwa_api``
against pytest-httpx's ``httpx_mock`` with the same body (both patch httpx's transport). The
limits: the plugin's own requests adapter and httpx patch answering the constant body (a fake
costing nothing). Rates are
calls per CPU second of the test (client, mock and fake together).
"""

from __future__ import annotations

from _common import Benchmark, Row, Settings, compare, guarded, in_suite_rounds, missing

CONFTEST = """
import pytest
import requests

from pytest_relaytokens.transports.responses_transport import activate_responses
from pytest_relaytokens.ucwa.service import UcwaService


@pytest.fixture(scope="session")
def recorded():
    \"\"\"One real answer of the fake (url, body, content type) for the static sides.\"\"\"
    service = UcwaService(seed=1)
    headers = {
        "Authorization": "Bearer " + service.credentials.bearer,
        "Accept": "application/json",
    }
    with activate_responses(service, [service.host]), requests.Session() as session:
        answer = session.get(service.token_url(), headers=headers)
    assert answer.status_code == 200, answer.text
    return service.token_url(), answer.content, answer.headers["Content-Type"]
"""

HEADERS = (
    'headers = {{"Authorization": "Bearer " + ucwa_api.credentials.bearer, '
    '"Accept": "application/json"}}'
)

SIDES = {
    "requests_ours": f"""
def {{test}}(ucwa_api):
    import requests

    url = ucwa_api.token_url()
    {HEADERS}

    def work():
        with requests.Session() as session:
            for _ in range({{calls}}):
                assert session.get(url, headers=headers).status_code == 200

    measure("{{name}}", {{calls}}, work)
""",
    "requests_static": """
def {test}(recorded):
    import requests
    import responses

    url, body, content_type = recorded
    headers = {{"Authorization": "Bearer cwt=AAEB", "Accept": "application/json"}}

    def work():
        with responses.RequestsMock() as mock, requests.Session() as session:
            mock.add(responses.GET, url, body=body, content_type=content_type)
            for _ in range({calls}):
                assert session.get(url, headers=headers).status_code == 200

    measure("{name}", {calls}, work)
""",
    "requests_limit": """
def {test}(recorded):
    import requests

    from pytest_relaytokens.core import FakeResponse
    from pytest_relaytokens.transports.requests_adapter import patch_requests

    url, body, content_type = recorded
    headers = {{"Authorization": "Bearer cwt=AAEB", "Accept": "application/json"}}
    fixed = FakeResponse(200, [("Content-Type", content_type)], body)

    def work():
        with patch_requests(lambda request: fixed), requests.Session() as session:
            for _ in range({calls}):
                assert session.get(url, headers=headers).status_code == 200

    measure("{name}", {calls}, work)
""",
    "httpx_ours": f"""
def {{test}}(ucwa_api):
    import httpx

    url = ucwa_api.token_url()
    {HEADERS}

    def work():
        with httpx.Client() as client:
            for _ in range({{calls}}):
                assert client.get(url, headers=headers).status_code == 200

    measure("{{name}}", {{calls}}, work)
""",
    "httpx_limit": """
def {test}(recorded):
    import httpx

    from pytest_relaytokens.core import FakeResponse
    from pytest_relaytokens.transports.httpx_transport import patch_httpx

    url, body, content_type = recorded
    headers = {{"Authorization": "Bearer cwt=AAEB", "Accept": "application/json"}}

    class Constant:
        def handle(self, request):
            return FakeResponse(200, [("Content-Type", content_type)], body)

    def work():
        with patch_httpx(Constant(), [url.split("/")[2]]), httpx.Client() as client:
            for _ in range({calls}):
                assert client.get(url, headers=headers).status_code == 200

    measure("{name}", {calls}, work)
""",
    "httpx_mock": """
def {test}(httpx_mock, recorded):
    import httpx

    url, body, content_type = recorded
    headers = {{"Authorization": "Bearer cwt=AAEB", "Accept": "application/json"}}

    from importlib.metadata import version

    # pytest-httpx >= 0.32 asks for is_reusable; older releases reuse the last response
    release = tuple(int(p) for p in version("pytest-httpx").split(".")[:2])
    reuse = {{"is_reusable": True}} if release >= (0, 32) else {{}}

    def work():
        httpx_mock.add_response(
            url=url, content=body, headers={{"Content-Type": content_type}}, **reuse
        )
        with httpx.Client() as client:
            for _ in range({calls}):
                assert client.get(url, headers=headers).status_code == 200

    measure("{name}", {calls}, work)
""",
}


def rows(settings: Settings) -> list[Row]:
    missing("requests", "responses", "httpx", "pytest_httpx", "pytest_relaytokens.plugin")
    calls = settings.calls // 2
    measured = in_suite_rounds(
        SIDES, settings, ["ours", "httpx_mock"], conftest=CONFTEST, calls=calls, count_calls=100
    )

    def row(ours: str, base: str, label: str, goal: str = "") -> Row:
        return compare(
            label,
            "calls/s",
            measured.rates[ours],
            measured.rates[base],
            goal,
            instr=(measured.instr[ours], measured.instr[base]),
        )

    return [
        row(
            "requests_ours",
            "requests_static",
            f"requests: {calls:,} GETs through ucwa_api vs a static responses body",
            ">= 0.85",
        ),
        row(
            "requests_limit",
            "requests_static",
            "limit: the plugin's requests adapter answering the constant body vs static",
        ),
        row(
            "httpx_ours",
            "httpx_mock",
            f"httpx: {calls:,} GETs through ucwa_api vs pytest-httpx static",
            ">= 1.0",
        ),
        row(
            "httpx_limit",
            "httpx_mock",
            "limit: the plugin's httpx patch answering the constant body vs pytest-httpx static",
        ),
    ]


def run(settings: Settings) -> list[Row]:
    return guarded("mocked calls", lambda: rows(settings))


BENCHMARK = Benchmark("mocked_calls", "mocked calls", run)
