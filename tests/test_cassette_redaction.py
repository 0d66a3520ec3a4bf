"""Redaction keeps formats (length, alphabet, base64 validity, prefixes) and is deterministic."""

from __future__ import annotations

import base64
import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_relaytokens.cassettes.redaction import Redactor, is_placeholder

B32 = "0123456789abcdefghijklmnopqrstuv"
HEX = "0123456789abcdef"
B64 = string.ascii_letters + string.digits + "+/"


def test_relay_token_stays_base32_of_same_length() -> None:
    redactor = Redactor()
    secret = "i0gni52qmhtdsht5pvpu68dv96gqvil6"
    placeholder = redactor.redact_header("X-Access-Token", secret)
    assert placeholder != secret
    assert len(placeholder) == 32 and set(placeholder) <= set(B32)
    assert is_placeholder(placeholder) and not is_placeholder(secret)


def test_hex_seam_token_stays_hex() -> None:
    placeholder = Redactor().redact_uri(
        "https://relay.bluejeans.com/api/auth/accesstokens?seamaccesstoken="
        "c2d18e8adbe7461c837ae187287a1261&roles=ROLE_READONLY"
    )
    value = placeholder.split("seamaccesstoken=")[1].split("&")[0]
    assert len(value) == 32 and set(value) <= set(HEX)
    assert value != "c2d18e8adbe7461c837ae187287a1261"
    assert placeholder.endswith("&roles=ROLE_READONLY")


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=4, max_size=64))
def test_base64_stays_valid_base64_of_same_length(raw: bytes) -> None:
    secret = base64.b64encode(raw).decode()
    body = json.dumps({"userName": secret, "password": secret, "rel": "x"})
    out = json.loads(Redactor().redact_text(body, "application/json"))
    placeholder = out["userName"]
    assert placeholder == out["password"]  # same secret, same placeholder
    assert placeholder != secret and len(placeholder) == len(secret)
    assert placeholder.count("=") == secret.count("=")
    decoded = base64.b64decode(placeholder, validate=True)
    assert len(decoded) == len(raw)
    assert base64.b64encode(decoded).decode() == placeholder  # canonical


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=B32, min_size=6, max_size=40))
def test_base32_alphabet_and_length_kept(secret: str) -> None:
    redactor = Redactor()
    placeholder = redactor.placeholder_for(secret)
    assert len(placeholder) == len(secret)
    assert set(placeholder) <= set(B32)
    assert redactor.placeholder_for(secret) == placeholder


def test_cwt_prefix_kept_and_bearer_matches_issued_token() -> None:
    redactor = Redactor()
    ticket = "cwt=AAEBHAEFAAAAAAAFFQAAALtG-_PbWw6QXNzZXJ0aW9u"
    body = json.dumps({"access_token": ticket, "token_type": "Bearer"}).encode()
    response = redactor.redact_response(
        {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["application/json"]},
            "body": {"string": body},
        }
    )
    issued = json.loads(response["body"]["string"])["access_token"]
    assert issued.startswith("cwt=") and len(issued) == len(ticket)
    assert set(issued[4:]) <= set(string.ascii_letters + string.digits + "-_")
    assert redactor.redact_header("Authorization", f"Bearer {ticket}") == f"Bearer {issued}"


def test_basic_stays_basic_with_same_length() -> None:
    redactor = Redactor()
    credential = base64.b64encode("alice@contoso.com:pässword!".encode()).decode()
    redacted = redactor.redact_header("Authorization", f"Basic {credential}")
    assert redacted.startswith("Basic ")
    blob = redacted[len("Basic ") :]
    assert len(blob) == len(credential)
    user, _, password = base64.b64decode(blob, validate=True).decode().partition(":")
    assert is_placeholder(user) and is_placeholder(password)
    assert "pässword!" in redactor.secrets
    assert is_placeholder(redacted)


def test_form_password_and_xml_properties() -> None:
    redactor = Redactor()
    form = redactor.redact_text("grant_type=password&username=bob&password=s%40cret%21123")
    assert form.startswith("grant_type=password&username=bob&password=")
    assert "s%40cret" not in form
    xml = redactor.redact_text(
        '<resource><property name="userName">AgAAJBQGZ8kB/abc=</property>'
        '<property name="password">a&amp;bcdefgh</property>'
        '<property name="duration">480</property></resource>'
    )
    assert "AgAAJBQGZ8kB" not in xml and "a&amp;bcdefgh" not in xml
    assert '<property name="duration">480</property>' in xml
    assert {"AgAAJBQGZ8kB/abc=", "a&bcdefgh", "s@cret!123"} <= redactor.secrets


def test_redaction_is_idempotent_on_placeholders() -> None:
    redactor = Redactor()
    once = redactor.redact_text('{"accessToken": "i0gni52qmhtdsht5pvpu68dv96gqvil6"}')
    assert redactor.redact_text(once) == once  # a second pass changes nothing
    fresh = Redactor()
    fresh.adopt_placeholders(redactor.placeholders)  # as when a cassette is loaded
    assert fresh.redact_text(once) == once
    assert fresh.secrets == frozenset()


def test_a_value_shaped_like_a_placeholder_is_still_a_secret() -> None:
    redactor = Redactor()
    out = redactor.redact_uri("https://x.test/cb?code=000042&state=1")
    assert "000042" not in out and out.endswith("&state=1")


def test_distinct_secrets_get_distinct_placeholders() -> None:
    redactor = Redactor()
    a = redactor.placeholder_for("i0gni52qmhtdsht5pvpu68dv96gqvil6")
    b = redactor.placeholder_for("43gkhuhciq4p00000000059vpti5ln01")
    assert a != b


def test_extra_secrets_and_patterns_are_replaced_everywhere() -> None:
    redactor = Redactor(extra_secrets=["tenant-secret-42"], extra_patterns=[r"sig=(\w{10,})"])
    text = redactor.redact_text('{"note": "tenant-secret-42", "link": "x?sig=abcdefghijklmn"}')
    assert "tenant-secret-42" not in text and "abcdefghijklmn" not in text
