"""The leak scan finds secrets however they are encoded, and the store refuses to write them."""

from __future__ import annotations

import base64
import json
import string
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from cassette_attack_server import format_words, in_format_words
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pytest_relaytokens.cassettes.secrets import SecretLeakError, find_unredacted, scan
from pytest_relaytokens.cassettes.storage import CassetteStore

SECRETS = st.text(
    alphabet=string.ascii_letters + string.digits + "!@#$%&*/+=-_.:~ ", min_size=8, max_size=40
).filter(lambda s: s.strip() == s and "REDACT" not in s)


def _cassette(
    request_headers: dict[str, list[str]] | None = None,
    uri: str = "https://h/api",
    request_body: str | None = None,
    response_body: str = "{}",
    content_type: str = "application/json",
) -> str:
    data = {
        "interactions": [
            {
                "request": {
                    "method": "GET",
                    "uri": uri,
                    "body": request_body,
                    "headers": request_headers or {},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Type": [content_type]},
                    "body": {"string": response_body},
                },
            }
        ],
        "version": 1,
    }
    return yaml.safe_dump(data)


def _placements(secret: str) -> dict[str, str]:
    basic = base64.b64encode(f"user:{secret}".encode()).decode()
    return {
        "header": _cassette({"X-Access-Token": [secret]}),
        "basic": _cassette({"Authorization": [f"Basic {basic}"]}),
        "query": _cassette(uri=f"https://h/api?accesstoken={quote(secret, safe='')}"),
        "form": _cassette(request_body=f"grant_type=password&password={quote(secret)}"),
        "json": _cassette(response_body=json.dumps({"accessToken": secret})),
        "json-slash": _cassette(response_body=json.dumps({"x": secret}).replace("/", "\\/")),
        "xml": _cassette(
            response_body=(
                '<property name="password">'
                + secret.replace("&", "&amp;").replace("<", "&lt;")
                + "</property>"
            ),
            content_type="application/xml",
        ),
        "percent": _cassette(response_body=f"next=https://x/?t={quote(secret, safe='')}"),
        "base64": _cassette(response_body=base64.b64encode(secret.encode()).decode()),
        "base64url": _cassette(response_body=base64.urlsafe_b64encode(secret.encode()).decode()),
    }


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SECRETS)
def test_scan_finds_secret_in_every_placement(secret: str) -> None:
    for place, text in _placements(secret).items():
        findings = scan(text, [secret])
        assert findings, f"{place}: {secret!r} not found"
        assert all(secret not in f.excerpt for f in findings)


def test_finding_names_the_interaction_field() -> None:
    text = _cassette({"X-Access-Token": ["i0gni52qmhtdsht5pvpu68dv96gqvil6"]})
    (finding,) = scan(text, ["i0gni52qmhtdsht5pvpu68dv96gqvil6"])
    assert finding.where == "interaction 0 request.headers.X-Access-Token"
    assert finding.kind == "secret"


def test_scan_reports_line_for_comment_only_leak() -> None:
    text = "# token i0gni52qmhtdsht5pvpu68dv96gqvil6\n" + _cassette()
    (finding,) = scan(text, ["i0gni52qmhtdsht5pvpu68dv96gqvil6"])
    assert finding.where == "line 1"


def test_scan_user_patterns_and_clean_text() -> None:
    text = _cassette(response_body='{"note": "AKIAABCDEFGHIJKLMNOP"}')
    assert scan(text, ["not-in-there-123"]) == []
    findings = scan(text, [], [r"AKIA[A-Z0-9]{16}"])
    assert [f.kind for f in findings] == ["pattern:AKIA[A-Z0-9]{16}"]


def test_find_unredacted_flags_real_values_not_placeholders() -> None:
    dirty = yaml.safe_load(_cassette({"Authorization": ["Bearer cwt=AAEBHAEFAAAAAAAF"]}))
    clean = yaml.safe_load(_cassette({"Authorization": ["Bearer cwt=REDACTED00000001"]}))
    assert [f.where for f in find_unredacted(dirty)] == [
        "interaction 0 request.headers.Authorization"
    ]
    # A placeholder is known because the cassette's redactor issued it, not by its shape:
    assert [f.kind for f in find_unredacted(clean)] == ["unredacted"]
    assert find_unredacted(clean, {"REDACTED00000001"}) == []
    clean["relaytokens"] = {"version": 1, "placeholders": ["REDACTED00000001"]}
    assert find_unredacted(clean) == []


def _cassette_dict(secret: str) -> dict[str, object]:
    from vcr.request import Request

    request = Request("GET", f"https://h/api?x={quote(secret, safe='')}", None, {})
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {},
        "body": {"string": json.dumps({"note": secret}).encode()},
    }
    return {"requests": [request], "responses": [response]}


@settings(max_examples=25, deadline=None)
@given(SECRETS)
@example("placehol")  # found by hypothesis: part of the metadata's "placeholders" key
@example("zz-secret-zz")
def test_store_refuses_and_leaves_file_unchanged(secret: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        _check_refusal(Path(directory), secret)


def _check_refusal(tmp_path: Path, secret: str) -> None:
    from vcr.serializers import yamlserializer

    from pytest_relaytokens.cassettes.redaction import Redactor

    redactor = Redactor(extra_secrets=[secret])
    target = tmp_path / "c.yaml"
    target.write_text("previous")
    # A store that knows the secret (but has no redactor) refuses; the file is unchanged.
    knowing = CassetteStore.bind(extra_secrets=[secret])
    with pytest.raises(SecretLeakError) as info:
        knowing.save_cassette(target, _cassette_dict(secret), yamlserializer)
    assert str(target) in str(info.value)
    assert target.read_text() == "previous"
    absent = tmp_path / "absent.yaml"
    with pytest.raises(SecretLeakError):
        knowing.save_cassette(absent, _cassette_dict(secret), yamlserializer)
    assert not absent.exists()
    assert list(tmp_path.iterdir()) == [target]
    # With the redactor bound, its final pass removes the secret and the write succeeds,
    # unless the secret is part of the format's own words ("placehol" of the metadata's
    # "placeholders" key): then the file cannot be told apart from a leak and is refused.
    harmless = tmp_path / "harmless.yaml"
    CassetteStore.bind(Redactor(extra_secrets=["zz-harmless-zz"])).save_cassette(
        harmless, _cassette_dict("zz-harmless-zz"), yamlserializer
    )
    if in_format_words([secret], format_words(harmless.read_text())):
        with pytest.raises(SecretLeakError):
            CassetteStore.bind(redactor).save_cassette(
                absent, _cassette_dict(secret), yamlserializer
            )
        assert not absent.exists()
        return
    CassetteStore.bind(redactor).save_cassette(absent, _cassette_dict(secret), yamlserializer)
    assert secret not in absent.read_text()
