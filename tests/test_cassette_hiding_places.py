"""Issue 20: every place a secret can sit, in each encoding. The recorder never writes it and
``verify`` finds it in the same answer written without redaction (one definition, read by
both). The property test runs bounded by default; ``RELAYTOKENS_HYPOTHESIS=heavy`` or
``-m heavy`` runs many more examples."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pytest_relaytokens.cassettes.normalise import UndecodableBodyError
from pytest_relaytokens.cassettes.recording import record
from pytest_relaytokens.cassettes.redaction import is_placeholder
from pytest_relaytokens.cassettes.secrets import SecretLeakError
from pytest_relaytokens.cassettes.verify import check_cassette

URI = "https://fe1.contoso.com/ucwa/oauth/v1/applications/1/things"


@dataclass(frozen=True)
class Place:
    """One hiding place: the response (headers, body) holding ``secret``; ``auth`` puts the
    secret in the request's Authorization too (then it is known before the body)."""

    name: str
    build: Callable[[str], tuple[dict[str, list[str]], bytes]]
    status: int = 200
    auth: bool = False


def _json(content_type: str, template: str) -> Callable[[str], tuple[dict[str, list[str]], bytes]]:
    def build(secret: str) -> tuple[dict[str, list[str]], bytes]:
        return {"Content-Type": [content_type]}, template.replace("{S}", secret).encode("latin-1")

    return build


PLACES = [
    Place(
        "xml-property-value-attribute",
        _json(
            "application/xml", '<properties><property name="password" value="{S}"/></properties>'
        ),
    ),
    Place(
        "xml-appsettings-add-key",
        _json("text/xml", '<appSettings><add key="clientSecret" value="{S}" /></appSettings>'),
    ),
    Place(
        "xml-property-value-unclosed",
        _json("application/xml", '<properties><property value="{S}" name="apiKey">'),
    ),
    Place("xml-unclosed-element", _json("application/xml", "<root><password>{S}</password>")),
    Place(
        "www-authenticate-token-param",
        lambda s: ({"WWW-Authenticate": [f'Bearer realm="r", token="{s}"']}, b""),
        status=401,
    ),
    Place(
        "proxy-authenticate-two-challenges",
        lambda s: ({"Proxy-Authenticate": [f'Basic realm="x", Bearer access_token={s}']}, b""),
        status=407,
    ),
    Place("json-invalid-utf8", _json("application/json", '\xff{"accessToken":"{S}"}')),
    Place(
        "json-invalid-utf8-latin1",
        _json("application/json; charset=latin-1", '\xff{"accessToken":"{S}"}'),
    ),
    Place("json-trailing-comma", _json("application/json", '{"accessToken": "{S}",}')),
    Place(
        "gzip-without-content-encoding",
        lambda s: (
            {"Content-Type": ["application/octet-stream"]},
            gzip.compress(f'{{"echo": "{s}"}}'.encode()),
        ),
        auth=True,
    ),
    Place(
        "zlib-without-content-encoding",
        lambda s: ({}, zlib.compress(f"seen {s} here".encode())),
        auth=True,
    ),
]


def _response(place: Place, secret: str) -> dict[str, object]:
    headers, body = place.build(secret)
    return {
        "status": {"code": place.status, "message": "x"},
        "headers": headers,
        "body": {"string": body},
    }


def _request_headers(place: Place, secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"} if place.auth else {}


def _on_disk(path: Path) -> bytes:
    """The file, and every compressed body in it opened (a secret must not hide there)."""
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    pieces = [raw]
    for interaction in data["interactions"]:
        body = interaction["response"]["body"]["string"]
        if isinstance(body, bytes) and body[:2] == b"\x1f\x8b":
            pieces.append(gzip.decompress(body))
        elif isinstance(body, bytes) and body[:1] == b"x":
            pieces.append(zlib.decompress(body))
    return b"\n".join(pieces)


def recorded(place: Place, secret: str, path: Path) -> bytes | None:
    """The cassette the recorder writes for this answer (None when it refused to write)."""
    from vcr.request import Request

    try:
        with record(path, mode="all") as tape:
            tape.append(
                Request("GET", URI, None, _request_headers(place, secret)),
                _response(place, secret),
            )
    except (SecretLeakError, UndecodableBodyError):  # refused: nothing may be written
        assert not path.exists()
        return None
    return _on_disk(path)


def unredacted(place: Place, secret: str, path: Path) -> Path:
    """The same answer written as plain vcrpy would, without redaction."""
    request = {
        "method": "GET",
        "uri": URI,
        "body": None,
        "headers": {k: [v] for k, v in _request_headers(place, secret).items()},
    }
    data = {
        "version": 1,
        "interactions": [{"request": request, "response": _response(place, secret)}],
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _secret_forms(secret: str) -> list[bytes]:
    return [secret.encode("utf-8"), secret.encode("latin-1", "ignore")]


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_the_recorder_never_writes_it_and_verify_finds_it(place: Place, tmp_path: Path) -> None:
    secret = "Sup3r-S3cr3t-pw"
    written = recorded(place, secret, tmp_path / "recorded.yaml")
    assert written is None or not any(form in written for form in _secret_forms(secret))
    problems = check_cassette(unredacted(place, secret, tmp_path / "plain.yaml"), schema=False)
    assert problems, f"verify found nothing in {place.name}"
    assert all(secret not in str(p) for p in problems)
    if written is not None:  # what the recorder wrote passes verify
        assert check_cassette(tmp_path / "recorded.yaml", schema=False) == []


def test_a_compressed_body_is_redacted_inside_and_stays_compressed(tmp_path: Path) -> None:
    place = next(p for p in PLACES if p.name == "gzip-without-content-encoding")
    recorded(place, "Sup3r-S3cr3t-pw", tmp_path / "c.yaml")
    body = yaml.safe_load((tmp_path / "c.yaml").read_text())["interactions"][0]["response"]
    assert "Content-Encoding" not in body["headers"]
    assert gzip.decompress(body["body"]["string"]).startswith(b'{"echo": "')
    problems = check_cassette(
        unredacted(place, "Sup3r-S3cr3t-pw", tmp_path / "p.yaml"), schema=False
    )
    assert any(p.field == "response.body" for p in problems)  # the copy inside the gzip


_HEAVY = os.environ.get("RELAYTOKENS_HYPOTHESIS") == "heavy"
_SECRET = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="\"\\<>&,='")
    | st.characters(min_codepoint=0xA1, max_codepoint=0xFF),
    min_size=8,
    max_size=40,
).filter(lambda s: not is_placeholder(s))  # a placeholder-shaped value is one (documented)


def _property(place: Place, secret: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        written = recorded(place, secret, Path(folder, "recorded.yaml"))
        assert written is None or not any(form in written for form in _secret_forms(secret))
        assert check_cassette(unredacted(place, secret, Path(folder, "plain.yaml")), schema=False)


@settings(
    max_examples=400 if _HEAVY else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(place=st.sampled_from(PLACES), secret=_SECRET)
def test_property_every_place_every_encoding(place: Place, secret: str) -> None:
    _property(place, secret)


@pytest.mark.heavy
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(PLACES), secret=_SECRET)
def test_property_every_place_every_encoding_heavy(place: Place, secret: str) -> None:
    _property(place, secret)


_KEYS = st.sampled_from(
    [
        "id",
        "name",
        "token",
        "accessToken",
        "user_name",
        "api-key",
        "Password",
        "tokenType",
        "note",
        "private.key",
        "secrets",
        "x" * 300 + "password",
    ]
)
_PLAIN = st.text(st.characters(min_codepoint=0x20, blacklist_characters='"\\'), max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _PLAIN | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200 if _HEAVY else 60, deadline=None)
@example(
    document={
        "accessToken": "T1",
        "Password": 12345,
        "user_name": "u",
        "tokenType": "Bearer",
        "nested": {"api-key": "k", "private.key": None, "token": {"password": "x"}},
        "note": "password: y",
    },
    indent=2,
    ascii_only=True,
)
@given(
    document=st.dictionaries(_KEYS, _JSON, max_size=5),
    indent=st.sampled_from([None, 2]),
    ascii_only=st.booleans(),
)
def test_the_json_fast_path_finds_what_the_walk_finds(
    document: object, indent: int | None, ascii_only: bool
) -> None:
    """Pins the fast path (secret-name words found in the text) to the walk of every leaf."""
    import json

    from pytest_relaytokens.cassettes.normalise import unescape_backslashes
    from pytest_relaytokens.cassettes.structure import (
        json_leaves,
        json_secret_spans,
        parse_json_exact,
    )

    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    spans = json_secret_spans(text)
    if spans is None:  # the walk is used
        assert "\\u" in text or '\\"' in text or "[" in text or len(text) > 256
        return
    fast = sorted(unescape_backslashes(text[start:end]) for _, start, end in spans)
    walked = sorted(v for secret, v in json_leaves(parse_json_exact(text)) if secret and v)
    assert [v for v in fast if v] == walked
