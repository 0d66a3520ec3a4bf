"""Secrets a stranger's probe found reaching the disk, each now learnt where it sits.

Recorded with ``record()`` through requests and httpx against a loopback server: the secret
sits in a secret position of one request (a multipart part with a mixed-case boundary, a
JSON body the stdlib cannot parse, an Authorization scheme with parameters, a folded
header, a ``;`` query parameter) and the same value is then sent in a header that is not a
secret's place (``X-Client-Note``): if the recorder never learnt it, the copy is on disk.
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pytest_relaytokens.cassettes import verify
from pytest_relaytokens.cassettes.normalise import UndecodableBodyError
from pytest_relaytokens.cassettes.recording import record
from pytest_relaytokens.cassettes.redaction import Redactor
from pytest_relaytokens.cassettes.secrets import SecretLeakError, scan_cassette

TOKEN = "probeSecretValue_9Z8Y7X6W5V"


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@contextmanager
def _server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/enterprises/self"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


Send = Callable[[str, str, dict[str, str], bytes | None], None]


def _requests(method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
    with requests.Session() as http:
        http.trust_env = False
        http.request(method, url, headers=headers, data=body)


def _httpx(method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
    with httpx.Client(trust_env=False) as http:
        http.request(method, url, headers=headers, content=body)


CLIENTS = pytest.mark.parametrize("send", [_requests, _httpx], ids=["requests", "httpx"])


def _record_with_echo(
    path: Path,
    send: Send,
    method: str,
    headers: dict[str, str],
    body: bytes | None = None,
    query: str = "",
) -> dict[str, Any]:
    """Record the request, then the same token in a header that is no secret's place."""
    with _server() as url, record(path, mode="once"):
        send(method, url + query, headers, body)
        send("GET", url, {"X-Client-Note": TOKEN}, None)
    text = path.read_text(encoding="utf-8")
    assert TOKEN not in text
    assert scan_cassette(text, [TOKEN]) == []
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _request_body(data: dict[str, Any]) -> str:
    body = data["interactions"][0]["request"]["body"]
    body = body.get("string") if isinstance(body, dict) else body
    return body.decode() if isinstance(body, bytes) else str(body)


# 1. multipart boundaries are case-sensitive ------------------------------------------------
@CLIENTS
@pytest.mark.parametrize("boundary", ["MixedCaseBoundary42", "lowercaseboundary42", "X-Y_Z"])
def test_multipart_with_any_boundary_case_is_redacted_byte_for_byte(
    send: Send, boundary: str, tmp_path: Path
) -> None:
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="access_token"\r\n\r\n'
        f"{TOKEN}\r\n--{boundary}--\r\n"
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    data = _record_with_echo(tmp_path / "mp.yaml", send, "POST", headers, body.encode())
    stored = _request_body(data)
    placeholder = stored.split("\r\n\r\n")[2].split("\r\n")[0]
    assert placeholder != TOKEN and len(placeholder) == len(TOKEN)
    assert stored == body.replace(TOKEN, placeholder)  # the close delimiter is kept
    assert placeholder in data["relaytokens"]["placeholders"]


@settings(max_examples=60, deadline=None)
@given(
    boundary=st.text(
        alphabet="abcdefghijKLMNOPQRSTuvwxyz0123456789'()+_,-./:=?", min_size=1, max_size=40
    ).filter(lambda b: not b.endswith(" ")),
    secret=st.text(alphabet="abcdefXYZ0123456789_-", min_size=6, max_size=30),
)
def test_multipart_redaction_only_changes_the_secret(boundary: str, secret: str) -> None:
    assume("--" + boundary not in secret)  # RFC 2046: the boundary is not in the content
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n{secret}\r\n'
        f"--{boundary}--\r\n"
    )
    redactor = Redactor()
    request = {
        "method": "POST",
        "uri": "http://127.0.0.1/api",
        "headers": {"Content-Type": [f'multipart/form-data; boundary="{boundary}"']},
        "body": body.encode(),
    }
    response = {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b""}}
    redactor.redact_interaction(request, response)
    placeholder = redactor.replacements[secret]
    assert request["body"] == body.replace(secret, placeholder).encode()


def test_multipart_whose_parts_cannot_be_found_is_refused(tmp_path: Path) -> None:
    body = f'--other\r\nContent-Disposition: form-data; name="password"\r\n\r\n{TOKEN}\r\n'
    path = tmp_path / "mp.yaml"
    refused = (UndecodableBodyError, SecretLeakError)
    with pytest.raises(refused, match="'password'"), _server() as url, record(path, mode="once"):
        _requests("POST", url, {"Content-Type": "multipart/form-data; boundary=b"}, body.encode())
    assert not path.exists()


def test_multipart_redaction_is_linear() -> None:
    """Secret parts: one replace over the whole body per part was quadratic (the probe
    measured 28 s for 1 MiB). 4x the parts cost at most 8x the CPU (quadratic: 16x); a
    ratio of CPU times, so a busy machine slows both sides alike."""

    def body(parts: int) -> str:
        return (
            "".join(
                f'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\npw{i:08d}\r\n'
                for i in range(parts)
            )
            + "--b--\r\n"
        )

    def cpu(text: str) -> float:
        best = float("inf")
        for _ in range(2):
            started = time.process_time()
            redacted = Redactor().redact_text(text, "multipart/form-data; boundary=b")
            best = min(best, time.process_time() - started)
        assert "pw00000001" not in redacted and len(redacted) == len(text)
        return max(best, 1e-3)

    ratio = cpu(body(4_000)) / cpu(body(1_000))
    assert ratio <= 8, f"4x the secret parts took {ratio:.1f}x the CPU"


# 2. JSON the stdlib refuses, NDJSON, JSON-like text ----------------------------------------
@CLIENTS
def test_json_with_an_integer_past_the_digit_limit_is_parsed_exactly(
    send: Send, tmp_path: Path
) -> None:
    huge = "1" + "0" * 5000
    body = '{"x": HUGE, "y": 1.50e3, "access_token": "TOKEN"}'
    body = body.replace("HUGE", huge).replace("TOKEN", TOKEN)
    headers = {"Content-Type": "application/json"}
    data = _record_with_echo(tmp_path / "j.yaml", send, "POST", headers, body.encode())
    stored = _request_body(data)
    assert f'"x": {huge}, "y": 1.50e3, "access_token": "' in stored


@CLIENTS
def test_ndjson_is_redacted_line_by_line(send: Send, tmp_path: Path) -> None:
    body = '{"a":1}\n{"access_token": "TOKEN"}\n{"b": [2, 3]}\n'.replace("TOKEN", TOKEN)
    headers = {"Content-Type": "application/x-ndjson"}
    data = _record_with_echo(tmp_path / "n.yaml", send, "POST", headers, body.encode())
    lines = _request_body(data).split("\n")
    assert lines[0] == '{"a":1}' and lines[2] == '{"b": [2, 3]}'


@CLIENTS
@pytest.mark.parametrize(
    "body",
    [
        '{"access_token": "%s"} trailing',
        "{'access_token': '%s'}",
        '{"refresh_token": "%s", "x": NaN,}',
        '{"seamAccessToken": "%s" "broken": 1}',
        '[{"password": "%s"}, ]',
    ],
    ids=["trailing-garbage", "single-quotes", "trailing-comma", "missing-comma", "array"],
)
def test_json_that_does_not_parse_has_its_secret_fields_redacted_in_the_text(
    send: Send, body: str, tmp_path: Path
) -> None:
    headers = {"Content-Type": "application/json"}
    data = _record_with_echo(tmp_path / "g.yaml", send, "POST", headers, (body % TOKEN).encode())
    stored = _request_body(data)
    assert len(stored) == len(body % TOKEN)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", '{"access_token": "%s'),
        ("application/json", '{"password": '),
        ("text/plain", '{"password": "%s\\"'),
        ("application/x-ndjson", '{"a": 1}\n{"access_token": "%s\n'),
    ],
    ids=["unterminated", "no-value", "sniffed-unterminated", "ndjson-line"],
)
def test_json_whose_secret_value_cannot_be_delimited_is_refused(
    content_type: str, body: str, tmp_path: Path
) -> None:
    path = tmp_path / "r.yaml"
    refused = (UndecodableBodyError, SecretLeakError)
    payload = body.replace("%s", TOKEN).encode()
    with pytest.raises(refused) as info, _server() as url, record(path, mode="once"):
        _requests("POST", url, {"Content-Type": content_type}, payload)
    assert not path.exists()
    message = str(info.value)
    assert "request body of POST" in message and "cannot be delimited" in message
    assert TOKEN not in message


@CLIENTS
@pytest.mark.parametrize(
    "body",
    [
        "<r><password>TOKEN</password><broken></r>",
        '<r><a:apiKey xmlns:a="u"><![CDATA[TOKEN]]></a:apiKey>',
        '<resource><property name="password">TOKEN</property>&nbsp;',
        '<user id="1" refresh_token="TOKEN"><unclosed>',
    ],
    ids=["element", "cdata", "property", "attribute"],
)
def test_xml_that_does_not_parse_has_its_secret_fields_redacted_in_the_text(
    send: Send, body: str, tmp_path: Path
) -> None:
    headers = {"Content-Type": "application/xml"}
    payload = body.replace("TOKEN", TOKEN)
    data = _record_with_echo(tmp_path / "x.yaml", send, "POST", headers, payload.encode())
    assert len(_request_body(data)) == len(payload)


def test_xml_whose_secret_value_cannot_be_delimited_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    refused = (UndecodableBodyError, SecretLeakError)
    payload = f"<r><password>{TOKEN}".encode()
    with pytest.raises(refused, match="'password'"), _server() as url, record(path, mode="once"):
        _requests("POST", url, {"Content-Type": "text/xml"}, payload)
    assert not path.exists()


# 3. Authorization parameters, folded headers, ``;`` query parameters -----------------------
@CLIENTS
@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f'Token token="{TOKEN}"'},
        {"Authorization": f"Token token={TOKEN}"},
        {"Authorization": f'OAuth oauth_token="{TOKEN}", oauth_signature="sig123456789"'},
        {"Authorization": f'Digest username="me", realm="r", response="{TOKEN}"'},
        {"Proxy-Authorization": f'Custom a=1, key="{TOKEN}"'},
        {"Authorization": f"Bearer {TOKEN}"},
        {"Authorization": f"Bearer cwt={TOKEN}"},
        {"X-Access-Token": f"aaaaaaaaaaaa, {TOKEN}"},
    ],
    ids=["token-quoted", "token-bare", "oauth", "digest", "proxy", "bearer", "cwt", "folded"],
)
def test_every_credential_value_is_learnt(
    send: Send, headers: dict[str, str], tmp_path: Path
) -> None:
    data = _record_with_echo(tmp_path / "a.yaml", send, "GET", headers)
    (name,) = headers
    recorded = data["interactions"][0]["request"]["headers"]
    (stored,) = [v for k, v in recorded.items() if k.lower() == name.lower()]
    stored = stored[0] if isinstance(stored, list) else stored
    assert len(stored) == len(headers[name])
    if "authorization" in name.lower():  # the scheme and parameter names are kept
        assert stored.split(" ")[0] == headers[name].split(" ")[0]
        assert stored.count("=") == headers[name].count("=")


@CLIENTS
@pytest.mark.parametrize("query", [f"?x=1;accesstoken={TOKEN}", f"?x=1;AccessToken={TOKEN};y=2"])
def test_semicolon_separated_query_secret_is_learnt(send: Send, query: str, tmp_path: Path) -> None:
    data = _record_with_echo(tmp_path / "q.yaml", send, "GET", {}, query=query)
    uri = data["interactions"][0]["request"]["uri"]
    stored = "?" + uri.split("?", 1)[1]
    placeholder = stored[query.index(TOKEN) : query.index(TOKEN) + len(TOKEN)]
    assert stored == query.replace(TOKEN, placeholder) and placeholder != TOKEN


# 5. verify learns from secret positions and searches everywhere ----------------------------
def test_verify_reports_every_copy_of_a_value_in_a_secret_position(tmp_path: Path) -> None:
    token = "plantedRelayTok_0123456789abcdef"
    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "body": None,
                    "headers": {"X-Access-Token": [token]},
                    "method": "GET",
                    "uri": "https://relay.bluejeans.com/api/enterprises/self",
                },
                "response": {
                    "body": {"string": '{"ok": true}'},
                    "headers": {},
                    "status": {"code": 200, "message": "OK"},
                },
            },
            {
                "request": {
                    "body": None,
                    "headers": {"X-Trace": [token]},
                    "method": "GET",
                    "uri": f"https://relay.bluejeans.com/api/x?note={token}",
                },
                "response": {
                    "body": {"string": f"seen {token.encode().hex()} and {token}"},
                    "headers": {"Location": [f"/x?n={token.replace('_', '%5F')}"]},
                    "status": {"code": 200, "message": "OK"},
                },
            },
        ],
    }
    path = tmp_path / "planted.yaml"
    path.write_text(yaml.safe_dump(cassette), encoding="utf-8")
    parser = argparse.ArgumentParser()
    verify.add_arguments(parser)
    out = io.StringIO()
    status = verify.run(parser.parse_args([str(path), "--no-schema"]), out=out, err=io.StringIO())
    report = out.getvalue()
    assert status == 1 and token not in report
    for where in (
        "interaction 0: request.headers.X-Access-Token",
        "interaction 1: request.uri",
        "interaction 1: request.headers.X-Trace",
        "interaction 1: response.body",
        "interaction 1: response.headers.Location",
    ):
        assert where in report, (where, report)
