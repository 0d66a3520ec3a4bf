"""Goal 2. Mocked calls: GETs of the UCWA token through ``ucwa_api`` against static mocks.

One pytest process runs interleaved rounds of every side, each through the fixture or mock a
user would write: ``requests`` through ``ucwa_api`` (the stateful fake, a fresh token per GET)
against the shipped cassette's token answer registered statically in ``responses``; httpx
through ``ucwa_api`` against pytest-httpx's ``httpx_mock`` with that body. The limits (a fake
costing nothing): a ``responses`` callback returning the constant body, and
``httpx.MockTransport`` doing the same. As users write them, each side makes one client (and
registers its mock) before the counted calls; rates are calls per CPU second of the calls
(client, mock and fake together).
"""

from __future__ import annotations

from _common import (
    REPO_ROOT,
    Benchmark,
    Row,
    Settings,
    compare,
    guarded,
    in_suite_rounds,
    missing,
)

SHIPPED = REPO_ROOT / "cassettes" / "ucwa" / "token-json-iso.yaml"

CONFTEST = f"""
import pytest
import yaml

SHIPPED = {str(SHIPPED)!r}


@pytest.fixture(scope="session")
def recorded():
    \"\"\"The shipped cassette's recorded token answer (url, body, content type): the static
    sides' constant body (no package internals, so it reads the same before and after a
    refactor).\"\"\"
    with open(SHIPPED, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    for item in data["interactions"]:
        request, response = item["request"], item["response"]
        if request["method"] == "GET" and request["uri"].endswith("/mediaRelayAccessToken"):
            body = response["body"]["string"]
            body = body.encode() if isinstance(body, str) else body
            return request["uri"], body, response["headers"]["Content-Type"][0]
    raise RuntimeError(f"{{SHIPPED}} holds no token GET")
"""

HEADERS = (
    'headers = {{"Authorization": "Bearer " + ucwa_api.credentials.bearer, '
    '"Accept": "application/json"}}'
)
STATIC_HEADERS = 'headers = {{"Authorization": "Bearer cwt=AAEB", "Accept": "application/json"}}'

#: Each side makes its client (and registers its mock) before ``measure``: what a user's test
#: does once, not per call; only the calls are counted.
LOOP = """
        def work():
            for _ in range({calls}):
                assert client.get(url, headers=headers).status_code == 200

        measure("{name}", {calls}, work)
"""

SIDES = {
    "requests_ours": f"""
def {{test}}(ucwa_api):
    import requests

    url = ucwa_api.token_url()
    {HEADERS}
    with requests.Session() as client:
{LOOP}""",
    "requests_static": f"""
def {{test}}(recorded):
    import requests
    import responses

    url, body, content_type = recorded
    {STATIC_HEADERS}
    with responses.RequestsMock() as mock, requests.Session() as client:
        mock.add(responses.GET, url, body=body, content_type=content_type)
{LOOP}""",
    "requests_limit": f"""
def {{test}}(recorded):
    import requests
    import responses

    url, body, content_type = recorded
    {STATIC_HEADERS}
    answer = (200, {{{{"Content-Type": content_type}}}}, body)
    with responses.RequestsMock() as mock, requests.Session() as client:
        mock.add_callback(responses.GET, url, callback=lambda request: answer)
{LOOP}""",
    "httpx_ours": f"""
def {{test}}(ucwa_api):
    import httpx

    url = ucwa_api.token_url()
    {HEADERS}
    with httpx.Client() as client:
{LOOP}""",
    "httpx_limit": f"""
def {{test}}(recorded):
    import httpx

    url, body, content_type = recorded
    {STATIC_HEADERS}

    def constant(request):
        return httpx.Response(200, headers={{{{"Content-Type": content_type}}}}, content=body)

    with httpx.Client(transport=httpx.MockTransport(constant)) as client:
{LOOP}""",
    "httpx_mock": f"""
def {{test}}(httpx_mock, recorded):
    import httpx
    from importlib.metadata import version

    url, body, content_type = recorded
    {STATIC_HEADERS}
    # pytest-httpx >= 0.32 asks for is_reusable; older releases reuse the last response
    release = tuple(int(p) for p in version("pytest-httpx").split(".")[:2])
    reuse = {{{{"is_reusable": True}}}} if release >= (0, 32) else {{{{}}}}
    httpx_mock.add_response(
        url=url, content=body, headers={{{{"Content-Type": content_type}}}}, **reuse
    )
    with httpx.Client() as client:
{LOOP}""",
}


def rows(settings: Settings) -> list[Row]:
    missing("requests", "responses", "httpx", "pytest_httpx", "yaml", "pytest_relaytokens.plugin")
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
            "limit: a responses callback returning the constant body vs static",
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
            "limit: httpx.MockTransport answering the constant body vs pytest-httpx static",
        ),
    ]


def run(settings: Settings) -> list[Row]:
    return guarded("mocked calls", lambda: rows(settings))


BENCHMARK = Benchmark("mocked_calls", "mocked calls", run)
