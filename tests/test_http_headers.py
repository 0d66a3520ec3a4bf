"""The one parser each for Content-Type parameters, q-values and auth-params."""

from __future__ import annotations

import pytest

from pytest_relaytokens.http.headers import (
    MAX_PARAMETERS_LENGTH,
    challenge_params,
    challenges,
    content_type_param,
    media_type,
    weighted,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Application/JSON; charset=utf-8", "application/json"),
        ("  text/xml ", "text/xml"),
        ("", ""),
        (None, ""),
    ],
)
def test_media_type_is_the_lower_cased_type_and_subtype(value: str | None, expected: str) -> None:
    assert media_type(value) == expected


@pytest.mark.parametrize(
    ("value", "name", "expected"),
    [
        ('multipart/batching; boundary="Ab;C"', "boundary", "Ab;C"),  # case kept, ; quoted
        ("multipart/mixed; BOUNDARY=xYz", "boundary", "xYz"),  # names any case
        ('text/plain; charset="UTF-8"', "CHARSET", "UTF-8"),
        (r'text/plain; title="a \"b\" c"', "title", 'a "b" c'),  # quoted-pair undone
        ("text/plain; title*=us-ascii'en'This%20is", "title", "This is"),  # RFC 2231
        ("text/plain; charset=a; charset=b", "charset", "a"),  # the first wins
        ("text/plain; charset=utf-8", "boundary", None),
        ("text/plain", "charset", None),
        (None, "charset", None),
    ],
)
def test_content_type_param(value: str | None, name: str, expected: str | None) -> None:
    assert content_type_param(value, name) == expected


def test_an_overlong_content_type_is_not_read_for_parameters() -> None:
    value = "multipart/mixed; boundary=b; x=" + '";' * MAX_PARAMETERS_LENGTH
    assert content_type_param(value, "boundary") is None
    assert content_type_param("multipart/mixed; boundary=b", "boundary") == "b"


@pytest.mark.parametrize(
    ("raw", "quality"),
    [
        ("1", 1.0),
        ("1.000", 1.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("0.123", 0.123),
        ("1.001", 0.0),  # above 1
        ("0.1234", 0.0),  # four decimals
        (".5", 0.0),
        ("2", 0.0),
        ("-0", 0.0),
        ("nan", 0.0),
        ("inf", 0.0),
        ("abc", 0.0),
        ("", 0.0),
    ],
)
def test_a_q_value_outside_the_rfc_grammar_makes_its_item_unacceptable(
    raw: str, quality: float
) -> None:
    assert weighted(f"gzip;q={raw}") == (("gzip", quality),)


def test_weighted_keeps_the_clients_order_and_reads_every_header_value() -> None:
    assert weighted("Text/HTML, application/json ; Q=0.9,, */*;q=0") == (
        ("text/html", 1.0),
        ("application/json", 0.9),
        ("*/*", 0.0),
    )
    assert weighted(["gzip;q=0.5", "br"]) == (("gzip", 0.5), ("br", 1.0))


def test_challenges_split_one_value_holding_several() -> None:
    value = (
        'Bearer trusted_issuers="", client_id="00000004-0000-0ff1-ce00-000000000000", '
        'MsRtcOAuth href="https://fe1.contoso.com/WebTicket/oauthtoken?a=1,b",'
        'grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"'
    )
    assert challenges([value, "Basic abc==, Negotiate"]) == [
        ("Bearer", {"trusted_issuers": "", "client_id": "00000004-0000-0ff1-ce00-000000000000"}),
        (
            "MsRtcOAuth",
            {
                "href": "https://fe1.contoso.com/WebTicket/oauthtoken?a=1,b",
                "grant_type": "urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password",
            },
        ),
        ("Basic", {}),
        ("Negotiate", {}),
    ]


def test_challenge_params_finds_a_scheme_in_any_case_with_unquoted_values() -> None:
    values = ['Digest realm="a\\"b"', "msrtcoauth HREF=/WebTicket/oauthtoken"]
    assert challenge_params(values, "MsRtcOAuth") == {"href": "/WebTicket/oauthtoken"}
    assert challenge_params(values, "Digest") == {"realm": 'a"b'}
    assert challenge_params(values, "Bearer") is None


@pytest.mark.parametrize(
    "hostile",
    [
        'MsRtcOAuth href="' + "," * 65536,  # an unterminated quote
        '"' * 65536,
        "@" * 65536,
        "a " * 32768,
        "=" * 65536,
        "\\" * 65536,
    ],
)
def test_challenges_read_hostile_values_without_raising(hostile: str) -> None:
    found = challenges(hostile + ", Bearer realm=x")
    assert found[-1] == ("Bearer", {"realm": "x"})
