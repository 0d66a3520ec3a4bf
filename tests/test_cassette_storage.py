"""The persister: atomic writes, safe loads, clear errors, vcrpy-compatible files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_relaytokens.cassettes.storage import (
    CassetteError,
    CassetteStore,
    atomic_write_text,
    load_interactions,
)
from pytest_relaytokens.errors import RelayTokensError


def _cassette_dict() -> dict[str, Any]:
    from vcr.request import Request

    request = Request(
        "GET",
        "https://relay.bluejeans.com/api/enterprises/self",
        None,
        {"Accept": "application/json"},
    )
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": ["application/json"]},
        "body": {"string": b'{"name": "myenterprise"}'},
    }
    return {"requests": [request], "responses": [response]}


def _save(path: Path) -> None:
    from vcr.serializers import yamlserializer

    CassetteStore.save_cassette(path, _cassette_dict(), yamlserializer)


def test_saved_cassette_is_plain_vcrpy_with_metadata(tmp_path: Path) -> None:
    from vcr.persisters.filesystem import FilesystemPersister
    from vcr.serializers import yamlserializer

    path = tmp_path / "sub" / "c.yaml"
    _save(path)
    data = yaml.safe_load(path.read_text())
    assert data["version"] == 1 and data["relaytokens"]["version"] == 1
    # vcrpy's own persister reads it (the extra top-level key is ignored).
    requests, responses = FilesystemPersister.load_cassette(path, yamlserializer)[:2]
    assert requests[0].uri.endswith("/api/enterprises/self")
    assert responses[0]["body"]["string"] == b'{"name": "myenterprise"}'
    loaded = load_interactions(path)
    assert loaded.recorded_at == data["relaytokens"]["recorded_at"]
    assert loaded.interactions[0][1]["status"]["code"] == 200


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_interrupted_write_leaves_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    path = tmp_path / "c.yaml"
    _save(path)
    before = path.read_bytes()

    def boom(fd: int) -> None:
        raise exc

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(type(exc)):
        _save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    atomic_write_text(path, "a" * 10_000)
    atomic_write_text(path, "short")
    assert path.read_text() == "short"
    assert os.listdir(tmp_path) == ["f.yaml"]


def test_corrupt_yaml_names_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("interactions:\n- request: {method: GET\n  uri: [\n")
    with pytest.raises(CassetteError) as info:
        load_interactions(path)
    assert isinstance(info.value, RelayTokensError)
    assert str(path) in str(info.value)
    assert info.value.line is not None and info.value.column is not None
    with pytest.raises(CassetteError):
        CassetteStore.load_cassette(path, None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- a\n- b\n", "not a vcrpy cassette"),
        ("version: 1\n", "no 'interactions'"),
        ("interactions:\n- request: {method: GET}\n  response: {}\n", "'uri'"),
        (
            "interactions:\n- request: {method: GET, uri: 'http://x/'}\n"
            "  response: {status: {code: ok}, body: {string: ''}}\n",
            "must be an integer",
        ),
        ("interactions: [1]\n", "interaction 0 is not a mapping"),
        ("!!python/object/apply:os.system ['true']\n", "invalid YAML"),
    ],
)
def test_wrong_structure_is_a_cassette_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(CassetteError) as info:
        load_interactions(path)
    assert problem in str(info.value)
    assert str(path) in str(info.value)


def test_missing_or_empty_file_follows_vcrpy_protocol(tmp_path: Path) -> None:
    from vcr.persisters.filesystem import CassetteNotFoundError

    with pytest.raises(CassetteNotFoundError):
        CassetteStore.load_cassette(tmp_path / "nope.yaml", None)
    (tmp_path / "empty.yaml").write_text("\n")
    with pytest.raises(CassetteNotFoundError):
        CassetteStore.load_cassette(tmp_path / "empty.yaml", None)
    with pytest.raises(CassetteError, match="no such cassette"):
        load_interactions(tmp_path / "nope.yaml")


_GOOD_RESPONSE = "  response: {status: {code: 200}, body: {string: ''}}\n"


@pytest.mark.parametrize(
    ("request_text", "response_text", "says"),
    [
        (
            "{method: GET, uri: not a url}",
            _GOOD_RESPONSE,
            "interaction 0 request.uri must be an absolute http or https URL with a host",
        ),
        (
            "{method: GET, uri: '/api/x'}",
            _GOOD_RESPONSE,
            "interaction 0 request.uri must be an absolute http or https URL with a host",
        ),
        (
            "{method: GET, uri: 'http://x/', headers: x}",
            _GOOD_RESPONSE,
            "interaction 0 request.headers must be a mapping",
        ),
        (
            "{method: GET, uri: 'http://x/'}",
            "  response: {status: {code: 200}, body: {string: ''}, headers: [1]}\n",
            "interaction 0 response.headers must be a mapping",
        ),
        (
            "{method: GET, uri: 'http://x/'}",
            "  response: {status: {code: 999}, body: {string: ''}}\n",
            "interaction 0 response.status.code must be an integer from 100 to 599 (got 999)",
        ),
    ],
)
def test_a_bad_field_is_named_once_with_its_side(
    tmp_path: Path, request_text: str, response_text: str, says: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"interactions:\n- request: {request_text}\n{response_text}")
    with pytest.raises(CassetteError) as info:
        load_interactions(path)
    message = str(info.value)
    assert message.startswith(f"cassette {path}: {says}"), message
    assert message.count("interaction 0") == 1, message  # the field is named once
    assert "not a url" not in message  # a URI may carry a token: never echoed
