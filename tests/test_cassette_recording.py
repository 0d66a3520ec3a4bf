"""Recording through vcrpy + requests against a loopback server: redacted, scanned, replayable."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml

from pytest_relaytokens.cassettes.recording import CassetteKeptWarning, cassette_path_for, record
from pytest_relaytokens.cassettes.redaction import Redactor
from pytest_relaytokens.cassettes.replay import ReplayService
from pytest_relaytokens.cassettes.secrets import SecretLeakError
from pytest_relaytokens.cassettes.storage import CassetteError, load_interactions
from pytest_relaytokens.http import FakeRequest

USERNAME = "alice@contoso.com"
PASSWORD = "Sup3r-S3cret!pw"
BEARER = "cwt=AAEBHAEFAAAAAAAFFQAAALtGx9Qk-_PbWw6QXNzZXJ0aW9u"
MRAS_USER = "AgAAJBQGZ8kBzIuhDVq0mQo2nqxPPd3t0nXG6f8Ayi0="
MRAS_PASSWORD = "rBqk4Sh5ttSQr6o2XkTvcj3Ndx0="
RELAY_TOKEN = "i0gni52qmhtdsht5pvpu68dv96gqvil6"
SEAM_TOKEN = "c2d18e8adbe7461c837ae187287a1261"
SECRETS = (PASSWORD, BEARER[4:], MRAS_USER, MRAS_PASSWORD, RELAY_TOKEN, SEAM_TOKEN)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 200 and self.path.startswith("/WebTicket"):
            self.send_header("Set-Cookie", f"session={SEAM_TOKEN}; Path=/; HttpOnly")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        url = urlsplit(self.path)
        if url.path == "/WebTicket/oauthtoken":
            if form.get("password") != [PASSWORD]:
                return self._send(400, b'{"error":"invalid_grant"}')
            body = {"access_token": BEARER, "token_type": "Bearer", "expires_in": 28800}
            return self._send(200, json.dumps(body).encode())
        if url.path == "/api/auth/accesstokens":
            basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            query = parse_qs(url.query)
            if self.headers.get("Authorization") != f"Basic {basic}" and query.get(
                "seamaccesstoken"
            ) != [SEAM_TOKEN]:
                return self._send(401, b'{"errorCode":1285563821}')
            body = {"accessToken": RELAY_TOKEN, "clientName": None, "roles": ["ROLE_READONLY"]}
            return self._send(200, json.dumps(body).encode())
        return self._send(404, b"{}")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.endswith("/mediaRelayAccessToken"):
            if self.headers.get("Authorization") != f"Bearer {BEARER}":
                return self._send(401, b"<html>401</html>", "text/html")
            if "xml" in (self.headers.get("Accept") or ""):
                xml = (
                    '<resource rel="mediaRelayAccessToken"><property name="userName">'
                    f'{MRAS_USER}</property><property name="password">{MRAS_PASSWORD}'
                    "</property></resource>"
                )
                return self._send(200, xml.encode(), "application/xml")
            body = {
                "rel": "mediaRelayAccessToken",
                "userName": MRAS_USER,
                "password": MRAS_PASSWORD,
                "validUntil": "\\/Date(1474932027265)\\/",
            }
            return self._send(200, json.dumps(body).encode())
        if url.path == "/api/enterprises/self":
            if (
                parse_qs(url.query).get("accesstoken") != [RELAY_TOKEN]
                and self.headers.get("X-Access-Token") != RELAY_TOKEN
            ):
                return self._send(401, b'{"errorCode":1285563821}')
            return self._send(200, b'{"id":"53aa2cafe4b044cc59538612","name":"myenterprise"}')
        return self._send(404, b"{}")


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _flow(base: str, accept: str = "application/json") -> dict[str, object]:
    session = requests.Session()
    ticket = session.post(
        f"{base}/WebTicket/oauthtoken",
        data={"grant_type": "password", "username": USERNAME, "password": PASSWORD},
    )
    ticket.raise_for_status()
    bearer = ticket.json()["access_token"]
    token = session.get(
        f"{base}/ucwa/v1/applications/192/mediaRelayAccessToken",
        headers={"Authorization": f"Bearer {bearer}", "Accept": accept},
    )
    token.raise_for_status()
    relay = session.post(
        f"{base}/api/auth/accesstokens?clientname=t", auth=(USERNAME, PASSWORD), json={}
    )
    relay.raise_for_status()
    access = relay.json()["accessToken"]
    enterprise = session.get(f"{base}/api/enterprises/self", params={"accesstoken": access})
    enterprise.raise_for_status()
    by_header = session.get(f"{base}/api/enterprises/self", headers={"X-Access-Token": access})
    by_header.raise_for_status()
    return {"bearer": bearer, "access": access, "mras": token.text, "enterprise": enterprise.json()}


def test_recording_writes_no_secret_and_replays(server: str, tmp_path: Path) -> None:
    cassette = tmp_path / "flow.yaml"
    with record(cassette, mode="once"):
        live = _flow(server)
    assert live["access"] == RELAY_TOKEN
    text = cassette.read_text()
    for secret in (*SECRETS, USERNAME):
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode() not in text
    data = yaml.safe_load(text)
    assert len(data["interactions"]) == 5
    assert "recorded_at" in data["relaytokens"]
    # The issued token and the later header/query carrying it redact to the same value.
    replayed = load_interactions(cassette)
    issued = json.loads(replayed.interactions[2][1]["body"]["string"])["accessToken"]
    assert len(issued) == len(RELAY_TOKEN)
    assert f"accesstoken={issued}" in replayed.interactions[3][0]["uri"]
    assert replayed.interactions[4][0]["headers"]["X-Access-Token"] == [issued]
    ticket = json.loads(replayed.interactions[0][1]["body"]["string"])["access_token"]
    assert replayed.interactions[1][0]["headers"]["Authorization"] == [f"Bearer {ticket}"]

    # Replay in mode "none": vcrpy answers; the placeholders the cassette issued round-trip.
    with record(cassette, mode="none") as used:
        again = _flow(server)
    assert used.play_count == 5
    assert again["access"] == issued
    assert again["enterprise"] == live["enterprise"]


def test_replay_service_serves_recorded_flow(server: str, tmp_path: Path) -> None:
    cassette = tmp_path / "flow.yaml"
    with record(cassette, mode="once"):
        _flow(server)
    service = ReplayService(cassette, allow_playback_repeats=True)  # repeats: an opt-in
    assert service.recorded_at is not None
    for _ in range(3):
        response = service.handle(
            FakeRequest.build("GET", f"{server}/api/enterprises/self?accesstoken=whatever")
        )
        assert response.status == 200
        assert response.json()["name"] == "myenterprise"


def test_mode_none_without_cassette_names_file_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(CassetteError) as info, record(missing, mode="none"):
        pass
    assert str(missing) in str(info.value)
    assert "--relaytokens-record-mode=once" in str(info.value)


def test_rewrite_keeps_old_cassette_when_test_fails(server: str, tmp_path: Path) -> None:
    cassette = tmp_path / "flow.yaml"
    with record(cassette, mode="once"):
        _flow(server)
    before = cassette.read_bytes()
    kept = pytest.warns(CassetteKeptWarning, match="the recording block raised RuntimeError")
    with kept, pytest.raises(RuntimeError), record(cassette, mode="rewrite"):
        requests.get(f"{server}/api/enterprises/self", params={"accesstoken": RELAY_TOKEN})
        raise RuntimeError("test failed")
    assert cassette.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.yaml"]
    with record(cassette, mode="rewrite"):
        requests.get(f"{server}/api/enterprises/self", params={"accesstoken": RELAY_TOKEN})
    assert len(load_interactions(cassette).interactions) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.yaml"]


def test_leak_through_unknown_field_refuses_to_write(server: str, tmp_path: Path) -> None:
    cassette = tmp_path / "leak.yaml"
    redactor = Redactor()
    with (
        pytest.raises(SecretLeakError) as info,
        record(cassette, mode="once", redactor=redactor, extra_patterns=[r"myenterprise"]),
    ):
        _flow(server)
    assert not cassette.exists()
    assert str(cassette) in str(info.value)
    assert "pattern:myenterprise" in str(info.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("test_plain", "test_plain.yaml"),
        ("test_x[json-401]", "test_x-json-401.yaml"),
    ],
)
def test_cassette_path_for(tmp_path: Path, name: str, expected: str) -> None:
    module = tmp_path / "tests" / "test_api.py"
    path = cassette_path_for(module, name)
    assert path == tmp_path / "tests" / "cassettes" / "test_api" / expected
    assert cassette_path_for(module, name, tmp_path / "c") == tmp_path / "c" / "test_api" / expected


def test_cassette_path_for_sanitises_and_keeps_ids_distinct(tmp_path: Path) -> None:
    module = tmp_path / "test_api.py"
    a = cassette_path_for(module, "test_x[a/b]")
    b = cassette_path_for(module, "test_x[a_b]")
    c = cassette_path_for(module, "test_x[../../etc]")
    assert a != b
    for path in (a, b, c):
        assert path.parent == tmp_path / "cassettes" / "test_api"
        assert "/" not in path.name and ".." not in path.stem.split("-")[0]
