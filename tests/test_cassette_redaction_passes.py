"""How many times a recording walks a message: once in the vcrpy hook, and again at save
time only when the redactor learnt a secret after that message was redacted."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from pytest_relaytokens.cassettes.recording import record
from pytest_relaytokens.cassettes.redaction import Redactor

LATE = "q8Zr2Lm5Vx7Kp3Nw"  # first seen in a plain field, later as a bearer token
TOKEN = "c2d18e8adbe7461c837ae187287a1261"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path == "/first":
            body = {"id": LATE, "note": "nothing here is named as a secret"}
        elif self.path == "/token":
            body = {"access_token": TOKEN, "padding": "x" * 4096}
        else:
            body = {"ok": self.headers.get("Authorization") == f"Bearer {LATE}"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def url() -> Iterator[str]:
    """A loopback server answering /first, /second and /token."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_value_learnt_in_a_later_interaction_is_redacted_where_it_was_seen_first(
    url: str, tmp_path: Path
) -> None:
    path = tmp_path / "late.yaml"
    with record(path, mode="all"):
        assert requests.get(url + "/first").json()["id"] == LATE
        answer = requests.get(url + "/second", headers={"Authorization": f"Bearer {LATE}"})
        assert answer.json() == {"ok": True}
    text = path.read_text()
    assert LATE not in text
    first = yaml.safe_load(text)["interactions"][0]["response"]["body"]["string"]
    placeholder = json.loads(first)["id"]
    assert placeholder != LATE and len(placeholder) == len(LATE)


def test_a_settled_response_is_walked_once(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[str] = []
    original = Redactor.redact_text

    def counting(self: Redactor, text: str, content_type: str = "") -> str:
        walked.append(text)
        return original(self, text, content_type)

    monkeypatch.setattr(Redactor, "redact_text", counting)
    path = tmp_path / "once.yaml"
    with record(path, mode="all"):
        assert requests.get(url + "/token").json()["access_token"] == TOKEN
    assert TOKEN not in path.read_text()
    bodies = [text for text in walked if "access_token" in text]
    assert len(bodies) == 1, f"the response body was walked {len(bodies)} times"


def test_an_interaction_the_hooks_did_not_see_is_not_settled() -> None:
    from vcr.request import Request

    redactor = Redactor()
    assert redactor.is_settled(Request("GET", "http://h.test/", None, {})) == (False, False)
    assert redactor.is_settled(object()) == (False, False)


def test_the_settled_generations_are_per_side() -> None:
    """A request redacted before its response taught the redactor a token is not
    settled; the response is."""
    from vcr.request import Request

    redactor = Redactor()
    request = redactor.redact_request(Request("GET", "http://h.test/token", None, {}))
    response: dict[str, Any] = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": ["application/json"]},
        "body": {"string": json.dumps({"access_token": TOKEN}).encode()},
    }
    redactor.redact_response(response)
    assert redactor.is_settled(request) == (False, True)
