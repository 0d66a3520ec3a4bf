"""Issue 20: ``verify`` as a CI gate. Placeholders cannot be forged by a hand-edited list,
each file is parsed once and streamed, vcrpy's JSON cassettes are read, ``--json`` gives
the findings as data and the exit status says clean (0), findings (1) or unreadable (2)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_relaytokens.cassettes import loading, verify

URI = "https://relay.example.com/api/auth/accesstokens"


def _cassette(
    body: str, placeholders: list[str] | None = None, status: int = 500
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "uri": URI, "body": None, "headers": {}},
                "response": {
                    "status": {"code": status, "message": "x"},
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {"string": body},
                },
            }
        ],
    }
    if placeholders is not None:
        data["relaytokens"] = {"version": 1, "placeholders": placeholders}
    return data


def _run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    verify.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    status = verify.run(parser.parse_args(list(argv)), out=out, err=err)
    return status, out.getvalue()


@pytest.mark.parametrize("listed", [["S"], ["S", "Sup3r-S3cr3t-pw"], ["up3r"], ["Sup3r"], []])
def test_a_hand_edited_placeholder_list_hides_nothing(tmp_path: Path, listed: list[str]) -> None:
    path = tmp_path / "forged.yaml"
    body = json.dumps({"error": "bad", "password": "Sup3r-S3cr3t-pw"})
    path.write_text(yaml.safe_dump(_cassette(body, listed)))
    status, out = _run(str(path), "--no-schema", "--secret", "Sup3r-S3cr3t-pw")
    assert status == 1
    assert "response.body: secret not redacted" in out
    assert "Sup3r-S3cr3t-pw" not in out


def test_a_placeholder_shaped_value_counts_only_when_listed(tmp_path: Path) -> None:
    body = json.dumps({"password": "REDACTED00000001"})
    listed = tmp_path / "listed.yaml"
    listed.write_text(yaml.safe_dump(_cassette(body, ["REDACTED00000001"])))
    assert _run(str(listed), "--no-schema") == (0, "")
    unlisted = tmp_path / "unlisted.yaml"
    unlisted.write_text(yaml.safe_dump(_cassette(body, [])))
    assert _run(str(unlisted), "--no-schema")[0] == 1


def test_verify_reads_vcrpy_json_cassettes(tmp_path: Path) -> None:
    from vcr.serializers import jsonserializer

    body = json.dumps({"accessToken": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "note": "\U0001f600"})
    path = tmp_path / "cassettes" / "relay.json"
    path.parent.mkdir()
    path.write_text(jsonserializer.serialize(_cassette(body, status=200)))
    status, out = _run(str(path.parent), "--no-schema")  # found in a folder too
    assert status == 1
    assert f"{path}: interaction 0: response.body: secret not redacted" in out
    clean = tmp_path / "clean.json"
    text = json.dumps({"accessToken": "redacted000000000000000000000001", "n": "\U0001f600"})
    data = _cassette(text, ["redacted000000000000000000000001"], status=200)
    clean.write_text(jsonserializer.serialize(data))
    assert _run(str(clean), "--no-schema") == (0, "")


def test_each_file_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "one.yaml"
    data = _cassette(json.dumps({"password": "Sup3r-S3cr3t-pw"}))
    data["interactions"] = [json.loads(json.dumps(data["interactions"][0])) for _ in range(50)]
    path.write_text(yaml.safe_dump(data))
    loaders: list[object] = []
    real = loading._LOADER

    def counting(stream: object) -> object:
        loaders.append(stream)
        return real(stream)

    monkeypatch.setattr(loading, "_LOADER", counting)
    monkeypatch.setattr(yaml, "load", lambda *a, **k: pytest.fail("a second parse"))
    monkeypatch.setattr(yaml, "parse", lambda *a, **k: pytest.fail("a second parse"))
    status, out = _run(str(path), "--no-schema")
    assert status == 1 and len(out.splitlines()) == 50  # each position, one parse
    assert len(loaders) == 1


def test_json_output_and_documented_exit_codes(tmp_path: Path) -> None:
    dirty = tmp_path / "dirty.yaml"
    dirty.write_text(yaml.safe_dump(_cassette(json.dumps({"password": "Sup3r-S3cr3t-pw"}))))
    clean = tmp_path / "clean.yaml"
    clean.write_text(yaml.safe_dump(_cassette(json.dumps({"error": "none"}))))
    broken = tmp_path / "broken.yaml"
    broken.write_bytes(b"interactions:\n- \xff\xfe\n")

    status, out = _run(str(clean), "--json", "--no-schema")
    assert status == verify.EXIT_CLEAN == 0
    assert json.loads(out) == {"cassettes": 1, "findings": [], "exit_status": 0}

    status, out = _run(str(dirty), "--json", "--no-schema")
    assert status == verify.EXIT_FINDINGS == 1
    document = json.loads(out)
    (finding,) = document["findings"]
    assert finding["file"] == str(dirty)
    assert finding["interaction"] == 0
    assert finding["field"] == "response.body"
    assert finding["kind"] == "unredacted"
    assert finding["fingerprint"].startswith("<15 chars, sha256:")
    assert "Sup3r" not in out

    status, out = _run(str(dirty), str(broken), "--json")
    assert status == verify.EXIT_UNREADABLE == 2
    kinds = {f["file"]: f["kind"] for f in json.loads(out)["findings"]}
    assert kinds[str(broken)] == "unreadable"
