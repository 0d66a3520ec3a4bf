"""``relaytokens verify``: exit 0 clean, 1 on findings, 2 on usage errors; one line each."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
import yaml

from pytest_relaytokens.cassettes import verify

UCWA = "https://fe1.contoso.com/ucwa/v1/applications/192/mediaRelayAccessToken"
RELAY = "https://relay.bluejeans.com/api/auth/accesstokens"
UCWA_BODY = {
    "rel": "mediaRelayAccessToken",
    "duration": 480,
    "Uri": "sip:a@contoso.com",
    "password": "REDACTED000000005A=",
    "userName": "REDACTED00000004",
    "validUntil": "\\/Date(1474932027265)\\/",
    "_links": {"self": {"href": "/ucwa/v1/applications/192/mediaRelayAccessToken"}},
    "_embedded": {
        "mediaRelay": [
            {
                "rel": "mediaRelay",
                "host": "edge.contoso.com",
                "location": "Internet",
                "tcpPort": 443,
                "udpPort": 3478,
            }
        ]
    },
}
RELAY_BODY = {
    "accessToken": "redacted000000000000000000000007",
    "clientName": None,
    "creationDate": 1418375348052,
    "enterpriseName": "myenterprise",
    "expirationDate": 1419584948052,
    "roles": ["ROLE_READONLY"],
}


def _interaction(
    uri: str, body: object, auth: str, method: str = "GET", status: int = 200
) -> dict[str, object]:
    text = json.dumps(body).replace("\\\\/", "\\/")
    return {
        "request": {
            "method": method,
            "uri": uri,
            "body": None,
            "headers": {"Authorization": [auth]},
        },
        "response": {
            "status": {"code": status, "message": "OK"},
            "headers": {"Content-Type": ["application/json"]},
            "body": {"string": text},
        },
    }


PLACEHOLDERS = [
    "REDACTED00000000000001",
    "REDACTED000000005A=",
    "REDACTED00000004",
    "redacted000000000000000000000007",
    "REDACTED000000001",  # the Basic user and password below
    "REDACTE2",
]


def _write(path: Path, interactions: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"version": 1, "placeholders": PLACEHOLDERS}
    path.write_text(
        yaml.safe_dump({"version": 1, "interactions": interactions, "relaytokens": meta})
    )
    return path


def _run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    verify.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    status = verify.run(parser.parse_args(list(argv)), out=out, err=err)
    return status, out.getvalue()


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "cassettes" / "clean.yaml",
        [
            _interaction(UCWA, UCWA_BODY, "Bearer cwt=REDACTED00000000000001"),
            _interaction(RELAY, RELAY_BODY, "Basic UkVEQUNURUQwMDAwMDAwMDE6UkVEQUNURTI=", "POST"),
        ],
    )


def test_clean_cassette_exits_zero(clean: Path) -> None:
    assert _run(str(clean)) == (0, "")
    assert _run(str(clean.parent.parent)) == (0, "")  # directories are searched


def test_secret_in_authorization_is_reported(tmp_path: Path) -> None:
    dirty = _write(
        tmp_path / "dirty.yml",
        [
            _interaction(RELAY, RELAY_BODY, "Basic YWxpY2U6aHVudGVyMg==", "POST"),
        ],
    )
    status, out = _run(str(dirty))
    assert status == 1
    lines = out.splitlines()
    assert len(lines) == 2  # the user and the password, each named by a fingerprint only
    for line in lines:
        assert line.startswith(
            f"{dirty}: interaction 0: request.headers.Authorization: secret not redacted (<"
        )
        assert "sha256:" in line and "hunter2" not in line and "alice" not in line


def test_schema_drift_names_interaction_and_field(tmp_path: Path) -> None:
    drifted = dict(RELAY_BODY, creationDate="yesterday")
    path = _write(
        tmp_path / "drift.yaml",
        [
            _interaction(UCWA, UCWA_BODY, "Bearer cwt=REDACTED00000000000001"),
            _interaction(RELAY, drifted, "Basic UkVEQUNURUQwMDAwMDAwMDE6UkVEQUNURTI=", "POST"),
        ],
    )
    status, out = _run(str(path))
    assert status == 1
    (line,) = out.splitlines()
    assert line.startswith(f"{path}: interaction 1: response.body.creationDate: schema drift")


def test_corrupt_and_foreign_files_are_unreadable_exit_two(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.yaml"
    corrupt.write_text("interactions: [\n")
    foreign = tmp_path / "foreign.yaml"
    foreign.write_text("name: not a cassette\n")
    status, out = _run(str(corrupt), str(foreign))
    assert status == 2
    lines = out.splitlines()
    assert lines[0].startswith(f"{corrupt}: interaction -: format: invalid YAML")
    assert "line" in lines[0]
    assert (
        lines[1] == f"{foreign}: interaction -: format: not a vcrpy cassette: no 'interactions' key"
    )


def test_usage_errors_exit_two(tmp_path: Path) -> None:
    assert _run(str(tmp_path / "missing.yaml"))[0] == 2
    assert _run(str(tmp_path))[0] == 2  # no cassette under it
    assert _run(str(tmp_path), "--pattern", "(")[0] == 2


def test_extra_pattern_and_secret_options(clean: Path) -> None:
    status, out = _run(str(clean), "--pattern", r"edge\.contoso\.com")
    assert status == 1 and "pattern:" in out
    status, out = _run(str(clean), "--secret", "sip:a@contoso.com")
    assert status == 1 and "interaction 0: response.body: secret" in out


def test_cli_entry_point_dispatches(clean: Path) -> None:
    pytest.importorskip("pytest_relaytokens.transports.serve")  # cli imports it eagerly
    from pytest_relaytokens import cli

    assert cli.main(["verify", str(clean)]) == 0


def test_schema_messages_never_echo_a_body_value(tmp_path: Path) -> None:
    leaked = dict(RELAY_BODY, accessToken=12345678901, enterpriseName="tenant-Secret-42")
    path = _write(
        tmp_path / "drift-secret.yaml",
        [_interaction(RELAY, leaked, "Basic UkVEQUNURUQwMDAwMDAwMDE6UkVEQUNURTI=", "POST")],
    )
    status, out = _run(str(path))
    assert status == 1 and "schema drift" in out and "field 'accessToken'" in out
    assert "12345678901" not in out and "sha256:" in out


def test_a_uri_that_is_no_url_is_a_format_finding(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.yaml", [_interaction("not a url", RELAY_BODY, "Basic eDp5")])
    status, out = _run(str(path))
    assert status == 2
    assert out.splitlines()[0].startswith(
        f"{path}: interaction 0: format: request.uri must be an absolute http or https URL"
    ), out
