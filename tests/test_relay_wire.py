"""Relay models and wire format: seed round-trips, epoch-ms dates, malformed input."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.errors import WireFormatError
from pytest_relaytokens.relay import wire
from pytest_relaytokens.relay.factories import RelayTokenFactory
from pytest_relaytokens.relay.models import ClientDeviceType, RelayAccessToken

UTC = _dt.timezone.utc

# Verbatim from /work/shared/seeds/relay-auth.createAccessToken.txt (S1) and reference S3.
SEED_BASIC = """{
"accessToken": "DFG67SD876DFG76SDF5",
"clientName": null,
"creationDate": 1418375348052,
"enterpriseName": "myenterprise",
"expirationDate": 1419584948052,
"roles": [ "ROLE_READONLY", "ROLE_READWRITE" ]
}"""
SEED_NEVER = """{
"accessToken": "DFG67SD876DFG76SDF5",
"clientName": "my_relay_client_app",
"creationDate": 1418375348052,
"enterpriseName": "myenterprise",
"expirationDate": null,
"roles": [ "ROLE_READONLY" ]
}"""
SEED_S3 = (
    '{"accessToken": "i0gni52qmhtdsht5pvpu68dv96gqvil6", "clientName": "My Client App", '
    '"creationDate": 1691017391046, "creator": null, "enterpriseName": "myenterprise", '
    '"expirationDate": 1692226991046, "roles": ["ROLE_READONLY", "ROLE_READWRITE"], '
    '"seamId": null}'
)
SEED_ENTERPRISE = """{
"id": "53aa2cafe4b044cc59538612",
"name": "myenterprise",
"label": "My Enterprise",
"password": null,
"tags": [],
"publicKey": null,
"pointOfContact": "relay-admin@corp.com"
}"""
SEED_ERROR = (
    '{"errorCode": 1780355652, "errorDetails": {"causes": ["HTTP 401 Unauthorized"], '
    '"command": "Invitation", "listenerServiceId": "123", "remoteAddress": "1.2.3.4"}, '
    '"errorMessage": "Authentication failed from My Endpoint (1.2.3.4)", '
    '"errorName": "AuthenticationFailed"}'
)


def ordered(data: bytes | str) -> list[tuple[str, Any]]:
    return list(json.loads(data).items())


@pytest.mark.parametrize("seed", [SEED_BASIC, SEED_NEVER, SEED_S3], ids=["S1", "never", "S3"])
def test_seed_tokens_round_trip_with_same_keys_order_and_values(seed: str) -> None:
    rendered = wire.render_token(wire.parse_token(seed))
    assert ordered(rendered) == ordered(seed)


def test_s3_renders_byte_identical_in_default_compact_style() -> None:
    assert wire.render_token(wire.parse_token(SEED_S3)) == SEED_S3.encode()


def test_indent_option_pretty_prints_same_document() -> None:
    token = wire.parse_token(SEED_BASIC)
    pretty = wire.render_token(token, indent=2)
    assert b"\n  " in pretty
    assert ordered(pretty) == ordered(SEED_BASIC)


def test_enterprise_and_error_round_trip() -> None:
    assert ordered(wire.render_enterprise(wire.parse_enterprise(SEED_ENTERPRISE))) == ordered(
        SEED_ENTERPRISE
    )
    assert wire.render_error(wire.parse_error(SEED_ERROR)) == SEED_ERROR.encode()


def test_dates_are_aware_utc_with_milliseconds() -> None:
    token = wire.parse_token(SEED_BASIC)
    assert token.creation_date == _dt.datetime(2014, 12, 12, 9, 9, 8, 52000, tzinfo=UTC)
    assert token.expires_at is not None
    assert token.expires_at - token.creation_date == _dt.timedelta(milliseconds=1_209_600_000)
    assert token.creation_ms == 1418375348052


def test_expiry_helpers() -> None:
    token = wire.parse_token(SEED_BASIC)
    before = _dt.datetime(2014, 12, 20, tzinfo=UTC)
    after = _dt.datetime(2014, 12, 27, tzinfo=UTC)
    assert not token.is_expired(before)
    assert token.is_expired(after)
    assert token.is_expired(token.expiration_date)
    assert token.remaining(before) == token.expiration_date - before  # type: ignore[operator]
    remaining_after = token.remaining(after)
    assert remaining_after is not None and remaining_after < _dt.timedelta(0)
    never = wire.parse_token(SEED_NEVER)
    assert never.expires_at is None
    assert not never.is_expired(_dt.datetime(9999, 1, 1, tzinfo=UTC))
    assert never.remaining(after) is None
    assert ordered(wire.render_token(never))[4] == ("expirationDate", None)


def test_optional_fields_render_only_when_set_and_in_alphabetical_order() -> None:
    token = wire.parse_token(SEED_BASIC)
    assert "seamId" not in json.loads(wire.render_token(token))
    richer = RelayAccessToken.model_validate(
        {**json.loads(wire.render_token(token)), "clientDeviceType": "IOS", "username": "jdoe"}
    )
    assert richer.client_device_type is ClientDeviceType.IOS
    keys = list(json.loads(wire.render_token(richer)))
    assert keys == sorted(keys)
    assert json.loads(wire.render_token(richer))["clientDeviceType"] == "IOS"


def test_python_side_uses_snake_case_and_accepts_datetimes() -> None:
    token = RelayAccessToken(
        access_token="abc",
        creation_date=_dt.datetime(2020, 1, 1, 0, 0, 0, 123456),
        enterprise_name="acme",
        expiration_date=None,
        roles=["ROLE_READONLY"],
    )
    assert token.creation_date.tzinfo is not None
    assert token.creation_ms == 1577836800123


@pytest.mark.parametrize(
    ("body", "field", "quoted"),
    [
        ('{"accessToken":"x","creationDate":1.5,"enterpriseName":"e"}', "creationDate", "1.5"),
        (
            '{"accessToken":"x","creationDate":"1418375348052","enterpriseName":"e"}',
            "creationDate",
            "'1418375348052'",
        ),
        (
            '{"accessToken":"x","creationDate":1,"enterpriseName":"e","expirationDate":2.0}',
            "expirationDate",
            "2.0",
        ),
        ('{"accessToken":"x","creationDate":true,"enterpriseName":"e"}', "creationDate", "True"),
        ('{"accessToken":"x","creationDate":1,"enterpriseName":"e","roles":[7]}', "roles[0]", "7"),
        (
            '{"accessToken":"x","creationDate":1,"enterpriseName":"e","clientDeviceType":"PHONE"}',
            "clientDeviceType",
            "'PHONE'",
        ),
        ('{"accessToken":5,"creationDate":1,"enterpriseName":"e"}', "accessToken", "5"),
    ],
)
def test_bad_values_name_the_field_and_quote_the_value(body: str, field: str, quoted: str) -> None:
    with pytest.raises(WireFormatError) as info:
        wire.parse_token(body, source="cassette.yaml")
    assert info.value.field == field
    assert quoted in str(info.value)
    assert "cassette.yaml" in str(info.value)


def test_float_date_message_explains_epoch_ms() -> None:
    with pytest.raises(WireFormatError, match="integers of epoch milliseconds, not float"):
        wire.parse_token('{"accessToken":"x","creationDate":1.5,"enterpriseName":"e"}')


def test_missing_field_and_null_creation_date() -> None:
    with pytest.raises(WireFormatError) as info:
        wire.parse_token('{"creationDate":1,"enterpriseName":"e"}')
    assert info.value.field == "accessToken"
    with pytest.raises(WireFormatError, match="must not be null") as info:
        wire.parse_token('{"accessToken":"x","creationDate":null,"enterpriseName":"e"}')
    assert info.value.field == "creationDate"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'{"accessToken":', "malformed JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"null", "expected a JSON object"),
    ],
)
def test_malformed_documents_raise_wire_format_error(data: bytes, match: str) -> None:
    with pytest.raises(WireFormatError, match=match):
        wire.parse_token(data)


def test_body_size_cap() -> None:
    huge = b'{"accessToken": "' + b"a" * (wire.MAX_BODY_BYTES + 1) + b'"}'
    with pytest.raises(WireFormatError, match="limit"):
        wire.parse_token(huge)


def test_error_body_rejects_non_integer_code() -> None:
    with pytest.raises(WireFormatError) as info:
        wire.parse_error('{"errorCode":"401","errorName":"X","errorMessage":"m","errorDetails":{}}')
    assert info.value.field == "errorCode"


def test_parse_tokens_reports_index() -> None:
    with pytest.raises(WireFormatError) as info:
        wire.parse_tokens(f"[{SEED_S3}, {{}}]")
    assert info.value.field == "[1].accessToken"
    assert len(wire.parse_tokens(f"[{SEED_S3}, {SEED_BASIC}]")) == 2


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    start_ms=st.integers(min_value=0, max_value=4_102_444_800_000),
    kind=st.sampled_from(["default", "pairing", "never"]),
    indent=st.sampled_from([None, 2]),
)
def test_factory_output_round_trips(
    seed: int, start_ms: int, kind: str, indent: int | None
) -> None:
    clock = Clock(_dt.datetime.fromtimestamp(start_ms / 1000, UTC), frozen=True)
    factory = RelayTokenFactory(seed, clock)
    token = {
        "default": factory.build,
        "pairing": factory.build_pairing,
        "never": factory.build_never_expiring,
    }[kind]()
    rendered = wire.render_token(token, indent=indent)
    again = wire.parse_token(rendered)
    assert again == token
    assert wire.render_token(again, indent=indent) == rendered
    enterprise = factory.build_enterprise()
    assert wire.parse_enterprise(wire.render_enterprise(enterprise)) == enterprise
