"""Hand-edited cassettes with wrong types, duplicate keys or a Content-Encoding their body
does not have are refused at load with a CassetteError naming file, interaction and field."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path

import pytest

from pytest_relaytokens.cassettes import CassetteError, ReplayService, load_interactions
from pytest_relaytokens.library import scenario_path

GOOD = """interactions:
- request:
    body: null
    headers:
      Accept: [application/json]
    method: POST
    uri: https://relay.bluejeans.com/api/auth/accesstokens
  response:
    body: {string: '{"accessToken": "x"}'}
    headers:
      Content-Type: [application/json]
    status: {code: 200, message: OK}
version: 1
"""


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            'string: \'{"accessToken": "x"}\'',
            "string: [a, b]",
            "interaction 0 response.body.string",
        ),
        ('string: \'{"accessToken": "x"}\'', "string: 12345", "interaction 0 response.body.string"),
        ("method: POST", "method: null", "interaction 0 request.method"),
        ("method: POST", "method: [POST]", "interaction 0 request.method"),
        (
            "uri: https://relay.bluejeans.com/api/auth/accesstokens",
            "uri: 12345",
            "interaction 0 request.uri",
        ),
        (
            "Content-Type: [application/json]",
            "Content-Type: [12]",
            "interaction 0 response.headers 'Content-Type'",
        ),
        (
            "Accept: [application/json]",
            "12: [application/json]",
            "interaction 0 request.headers name 12",
        ),
        ("message: OK", "message: [OK]", "interaction 0 response.status.message"),
        (
            "Content-Type: [application/json]",
            "Content-Type: [application/json]\n      Content-Encoding: [gzip]",
            "interaction 0 response.headers.Content-Encoding",
        ),
    ],
)
def test_wrong_types_name_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    path = tmp_path / "c.yaml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new))
    for load in (load_interactions, ReplayService):
        with pytest.raises(CassetteError) as info:
            load(path)
        assert info.value.field == field
        assert str(path) in str(info.value) and "interaction 0" in str(info.value)


def test_duplicate_keys_are_refused_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD.replace("    method: POST\n", "    method: POST\n    method: GET\n"))
    with pytest.raises(CassetteError, match=r"c\.yaml:7:5: invalid YAML: duplicate key 'method'"):
        load_interactions(path)


def test_an_encoded_body_under_its_content_encoding_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    body = gzip.compress(b'{"accessToken": "x"}')
    encoded = base64.b64encode(body).decode()
    text = GOOD.replace('{string: \'{"accessToken": "x"}\'}', f"{{string: !!binary '{encoded}'}}")
    text = text.replace(
        "[application/json]\n    status",
        "[application/json]\n      Content-Encoding: [gzip]\n    status",
    )
    path.write_text(text)
    assert load_interactions(path).interactions[0][1]["body"]["string"] == body


def test_every_shipped_cassette_still_loads() -> None:
    root = scenario_path("relay/token-basic").parents[1]
    files = sorted(root.rglob("*.yaml"))
    assert files
    for path in files:
        if path.name != "README.yaml":
            load_interactions(path)
