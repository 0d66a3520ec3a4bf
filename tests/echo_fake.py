"""A tiny fake shared by the transport tests: it echoes what it received."""

from __future__ import annotations

import json

from pytest_relaytokens.http import FakeRequest, FakeResponse, FakeService

HOST = "echo.example.test"
URL = f"https://{HOST}"
CHALLENGES = ['Bearer trusted_issuers="x"', 'MsRtcOAuth href="https://h/WebTicket/oauthtoken"']


class EchoService(FakeService):
    """Answers ``/echo`` with what it received, and two WWW-Authenticate headers."""

    name = "echo"

    def __init__(self, base_url: str = URL) -> None:
        super().__init__(base_url=base_url)

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        if request.path.startswith("/status/"):
            return FakeResponse(int(request.path.rsplit("/", 1)[1])), None, True
        if request.path != "/echo":
            return FakeResponse(404, [("Content-Type", "text/plain")], b"nope"), None, False
        doc = {
            "method": request.method,
            "url": request.url,
            "query": request.query,
            "headers": [list(h) for h in request.headers],
            "body": request.body.decode("latin-1"),
        }
        headers = [
            ("Content-Type", "application/json"),
            ("WWW-Authenticate", 'Bearer trusted_issuers="x"'),
            ("WWW-Authenticate", 'MsRtcOAuth href="https://h/WebTicket/oauthtoken"'),
        ]
        return FakeResponse(200, headers, json.dumps(doc).encode()), None, True
