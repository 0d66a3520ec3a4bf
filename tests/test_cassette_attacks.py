"""Secrets hidden the way a hostile or careless server hides them never reach a cassette.

Recorded through ``record()`` with requests and with httpx against a loopback server; the
same answers written by plain vcrpy (no redactor) are each reported by ``verify``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import requests
import yaml
from cassette_attack_server import (
    Secrets,
    _every_form,
    assert_no_secret_on_disk,
    attack_server,
    routes,
)

from pytest_relaytokens.cassettes import verify
from pytest_relaytokens.cassettes.normalise import UndecodableBodyError
from pytest_relaytokens.cassettes.recording import record
from pytest_relaytokens.cassettes.replay import ReplayService
from pytest_relaytokens.cassettes.secrets import SecretLeakError
from pytest_relaytokens.http import FakeRequest

SECRETS = Secrets(
    token="i0gni52qmhtdsht5pvpu68dv96gqvil6",
    password="pä+ss/wörd<1>&Xy",
    declared="tenant-Secret+/42",
)
PATHS = sorted(p for p in routes(SECRETS) if p != "/echo/basic")


def _requests_client(base: str) -> None:
    with requests.Session() as http:
        http.trust_env = False
        for path in PATHS:
            http.get(base + path, allow_redirects=False)
        # requests sends a str Basic password as latin-1; the server echoes it in the body
        http.get(base + "/echo/basic", auth=("alice", SECRETS.password))


def _httpx_client(base: str) -> None:
    with httpx.Client(trust_env=False) as http:
        for path in PATHS:
            http.get(base + path)
        http.get(base + "/echo/basic", auth=("alice", SECRETS.password))


@pytest.mark.parametrize("client", [_requests_client, _httpx_client], ids=["requests", "httpx"])
def test_no_hiding_place_reaches_the_cassette(client: object, tmp_path: Path) -> None:
    path = tmp_path / "attack.yaml"
    secrets = [SECRETS.password, SECRETS.declared]
    with attack_server(SECRETS) as base, record(path, extra_secrets=secrets):
        client(base)  # type: ignore[operator]
    assert_no_secret_on_disk(path, SECRETS.all)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for interaction in data["interactions"]:
        headers = {k.lower() for k in interaction["response"]["headers"]}
        assert "content-encoding" not in headers  # stored decoded, readable
    # verify agrees: the cassette is clean, even when told the secrets
    args = [str(path), "--no-schema"]
    for secret in SECRETS.all:
        args += ["--secret", secret]
    assert _verify(*args) == (0, "")


def test_compressed_bodies_are_stored_decoded_and_replay_the_same(tmp_path: Path) -> None:
    path = tmp_path / "gzip.yaml"
    with attack_server(SECRETS) as base, record(path), httpx.Client(trust_env=False) as http:
        original = http.get(base + "/compressed/stacked").json()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    (interaction,) = data["interactions"]
    stored = interaction["response"]["body"]["string"]
    stored_text = stored.decode() if isinstance(stored, bytes) else stored
    assert json.loads(stored_text)["clientName"] is None
    length = interaction["response"]["headers"].get("Content-Length")
    assert length in (None, [str(len(stored_text.encode()))])
    replayed = ReplayService(path).handle(FakeRequest("GET", base + "/compressed/stacked"))
    assert json.loads(replayed.body)["accessToken"] != original["accessToken"]
    assert set(json.loads(replayed.body)) == set(original)


def test_an_undecodable_body_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    from vcr.serializers import yamlserializer

    from pytest_relaytokens.cassettes.redaction import Redactor
    from pytest_relaytokens.cassettes.storage import CassetteStore

    redactor = Redactor()
    broken = b"\x1f\x8b\x08\x00garbage" + SECRETS.token.encode()
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-encoding": ["GZIP"]},
        "body": {"string": broken},
    }
    with pytest.raises(UndecodableBodyError) as info:
        redactor.redact_response(response)
    assert SECRETS.token not in str(info.value)
    path = tmp_path / "broken.yaml"
    with pytest.raises(SecretLeakError, match="undecodable"):
        CassetteStore.bind(redactor).save_cassette(
            path, {"requests": [], "responses": []}, yamlserializer
        )
    assert list(tmp_path.iterdir()) == []
    # brotli without a decoder installed is refused the same way, never stored encoded
    response = {"status": {"code": 200}, "headers": {"Content-Encoding": ["br"]}, "body": {}}
    response["body"] = {"string": b"\x8b\x02\x80" + SECRETS.token.encode() + b"\x03"}
    try:
        import brotli  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        with pytest.raises(UndecodableBodyError, match="brotli"):
            Redactor().redact_response(response)


def test_a_placeholder_shaped_real_value_is_still_redacted(tmp_path: Path) -> None:
    path = tmp_path / "code.yaml"
    with attack_server(SECRETS) as base, record(path), requests.Session() as http:
        http.trust_env = False
        http.get(base + "/urls/location", allow_redirects=False)
    text = path.read_text(encoding="utf-8")
    assert "code=000042" not in text


def _verify(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    verify.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    status = verify.run(parser.parse_args(list(argv)), out=out, err=err)
    assert SECRETS.password not in out.getvalue() + err.getvalue()
    assert SECRETS.token not in out.getvalue() + err.getvalue()
    return status, out.getvalue()


def test_plain_vcrpy_cassettes_are_each_reported_by_verify(tmp_path: Path) -> None:
    """The same answers recorded by plain vcrpy (compressed bodies kept) leak; verify
    reports each hiding place."""
    import vcr

    with attack_server(SECRETS) as base:
        for path in [*PATHS, "/echo/basic"]:
            recorder = vcr.VCR(record_mode="all")
            name = path.strip("/").replace("/", "-") + ".yaml"
            with recorder.use_cassette(str(tmp_path / name)), httpx.Client() as http:
                http.get(base + path, auth=("alice", SECRETS.password))
    for file in sorted(tmp_path.glob("*.yaml")):
        args = [str(file), "--no-schema"]
        for secret in SECRETS.all:
            args += ["--secret", secret]
        status, out = _verify(*args)
        assert status == 1, file.name
        assert out.count("\n") >= 1
        assert "secret" in out


def test_verify_decodes_a_gzip_body_written_by_vcrpy(tmp_path: Path) -> None:
    import gzip

    body = gzip.compress(json.dumps({"note": SECRETS.token}).encode())
    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "uri": "http://h/x", "body": None, "headers": {}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Encoding": ["gzip"]},
                    "body": {"string": body},
                },
            }
        ],
    }
    path = tmp_path / "vcrpy.yaml"
    path.write_text(yaml.safe_dump(cassette))
    status, out = _verify(str(path), "--secret", SECRETS.token, "--no-schema")
    assert status == 1 and "interaction 0: response.body: secret" in out
    status, out = _verify(str(path), "--no-schema")  # an unknown token: nothing to find
    assert status == 0
    # a compressed body that cannot be decoded cannot be checked: that is a finding
    cassette["interactions"][0]["response"]["body"]["string"] = b"\x1f\x8bnot gzip"  # type: ignore[index]
    path.write_text(yaml.safe_dump(cassette))
    status, out = _verify(str(path), "--no-schema")
    assert status == 1 and "undecodable" in out


def test_secret_query_values_in_any_header_url_are_found(tmp_path: Path) -> None:
    token = quote(SECRETS.token, safe="")
    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "uri": "http://h/x", "body": None, "headers": {}},
                "response": {
                    "status": {"code": 302, "message": "Found"},
                    "headers": {"Location": [f"/cb?x=1&access_token={token}"]},
                    "body": {"string": ""},
                },
            }
        ],
    }
    path = tmp_path / "location.yaml"
    path.write_text(yaml.safe_dump(cassette))
    status, out = _verify(str(path), "--no-schema")
    assert status == 1
    assert "response.headers.Location?access_token: secret not redacted" in out


def test_basic_latin1_credential_is_redacted_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "basic.yaml"
    with attack_server(SECRETS) as base, record(path), requests.Session() as http:
        http.trust_env = False
        http.get(base + "/echo/basic", auth=("alice", SECRETS.password))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    (auth,) = data["interactions"][0]["request"]["headers"]["Authorization"]
    _, _, password = base64.b64decode(auth.split(" ")[1]).decode("latin-1").partition(":")
    assert password != SECRETS.password and len(password) == len(SECRETS.password)
    assert password in data["relaytokens"]["placeholders"]


def test_recording_keeps_vcrpy_and_client_logs_free_of_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    before = logging.getLogger("vcr").level
    path = tmp_path / "logged.yaml"
    with attack_server(SECRETS) as base:
        with record(path), httpx.Client(trust_env=False) as http:
            http.get(base + "/urls/links?accesstoken=" + quote(SECRETS.token, safe=""))
            logging.getLogger("vcr.cassette").info("would log %s", SECRETS.token)
        with record(tmp_path / "requests.yaml"), requests.Session() as http:
            http.trust_env = False
            http.get(base + "/compressed/gzip?accesstoken=" + quote(SECRETS.token, safe=""))
    for form in _every_form(SECRETS.token):
        assert form not in caplog.text
    # the levels are restored afterwards
    assert logging.getLogger("vcr").level == before


def test_a_pattern_group_is_the_secret_for_redaction_and_scan(tmp_path: Path) -> None:
    from vcr.request import Request
    from vcr.serializers import yamlserializer

    from pytest_relaytokens.cassettes.redaction import Redactor
    from pytest_relaytokens.cassettes.storage import CassetteStore

    redactor = Redactor(extra_patterns=[r"sig=(\w{10,})"])
    request = Request("GET", "https://x.test/a?sig=abcdefghijklmn", None, {})
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": ["application/json"]},
        "body": {"string": b'{"next": "https://x.test/b?sig=abcdefghijklmn"}'},
    }
    redactor.redact_request(request)
    redactor.redact_response(response)
    path = tmp_path / "sig.yaml"
    store = CassetteStore.bind(redactor, redactor.patterns)
    store.save_cassette(path, {"requests": [request], "responses": [response]}, yamlserializer)
    text = path.read_text(encoding="utf-8")
    assert "abcdefghijklmn" not in text
    assert text.count("sig=") == 2  # only the group was replaced


def test_a_token_only_in_a_url_path_is_redacted_and_reported(tmp_path: Path) -> None:
    from vcr.request import Request

    from pytest_relaytokens.cassettes.redaction import Redactor

    uri = f"https://relay.test/api/auth/accesstokens/{SECRETS.token}"
    request = Request("DELETE", uri, None, {})
    Redactor().redact_request(request)
    assert SECRETS.token not in request.uri
    assert request.uri.startswith("https://relay.test/api/auth/accesstokens/")
    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "DELETE", "uri": uri, "body": None, "headers": {}},
                "response": {
                    "status": {"code": 204, "message": "No Content"},
                    "body": {"string": ""},
                },
            }
        ],
    }
    path = tmp_path / "path.yaml"
    path.write_text(yaml.safe_dump(cassette))
    status, out = _verify(str(path), "--no-schema")
    assert status == 1 and "request.uri?accesstokens: secret not redacted" in out


def test_multipart_fields_and_json_inside_json_are_secret_positions(tmp_path: Path) -> None:
    from pytest_relaytokens.cassettes.secrets import find_unredacted

    path = tmp_path / "multipart.yaml"
    inner = json.dumps({"password": "abc", "accessToken": SECRETS.token})
    with attack_server(SECRETS) as base, record(path):
        requests.post(base + "/echo/none", files={"password": (None, "s3cr3t-multipart")})
        httpx.post(base + "/echo/none", data={"client_secret": "abc123xyz"}, files={"f": b"x"})
        requests.post(base + "/echo/none", json={"data": inner})
    text = path.read_text(encoding="utf-8")
    for secret in ("s3cr3t-multipart", "abc123xyz", SECRETS.token, '\\"abc\\"'):
        assert secret not in text
    # the same bodies, unredacted, are reported by position
    boundary = "b0undary"
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\nxyz\r\n--{boundary}--\r\n'
    data = {
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "http://h/x",
                    "headers": {"Content-Type": [f"multipart/form-data; boundary={boundary}"]},
                    "body": body,
                },
                "response": {
                    "status": {"code": 200},
                    "headers": {},
                    "body": {"string": json.dumps({"data": inner})},
                },
            }
        ]
    }
    wheres = sorted(f.where for f in find_unredacted(data))
    assert wheres == [
        "interaction 0 request.body.password",
        "interaction 0 response.body",
        "interaction 0 response.body",
    ]


def test_a_hand_edited_placeholder_list_does_not_hide_a_secret(tmp_path: Path) -> None:
    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "GET",
                    "uri": f"http://h/x?accesstoken={SECRETS.token}",
                    "body": None,
                    "headers": {"X-Access-Token": ["REDACTED0000000000000001"]},
                },
                "response": {"status": {"code": 200, "message": "OK"}, "body": {"string": ""}},
            }
        ],
        "relaytokens": {
            "version": 1,
            "placeholders": [SECRETS.token, "REDACTED0000000000000001"],
        },
    }
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(cassette))
    status, out = _verify(str(path), "--no-schema")
    assert status == 1 and out.count("\n") == 1
    assert "request.uri?accesstoken: secret not redacted" in out
    status, out = _verify(str(path), "--no-schema", "--secret", SECRETS.token)
    assert status == 1 and "request.uri: secret" in out


def test_a_refused_body_fails_one_save_not_every_later_cassette(tmp_path: Path) -> None:
    from vcr.serializers import yamlserializer

    from pytest_relaytokens.cassettes.redaction import Redactor
    from pytest_relaytokens.cassettes.storage import CassetteStore

    redactor = Redactor()
    store = CassetteStore.bind(redactor)
    broken = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Encoding": ["gzip"]},
        "body": {"string": b"\x1f\x8b\x08\x00garbage" + SECRETS.token.encode()},
    }
    with pytest.raises(UndecodableBodyError):
        redactor.redact_response(broken)
    empty: dict[str, list[object]] = {"requests": [], "responses": []}
    with pytest.raises(SecretLeakError, match="undecodable") as info:
        store.save_cassette(tmp_path / "first.yaml", empty, yamlserializer)
    assert SECRETS.token not in str(info.value)
    store.save_cassette(tmp_path / "second.yaml", empty, yamlserializer)
    assert [p.name for p in tmp_path.iterdir()] == ["second.yaml"]
