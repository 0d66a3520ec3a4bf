"""Relay Basic credentials decode the same way on every supported Python, as Spring's
``java.util.Base64`` decoder reads them; a Relay token answers only its enterprise and roles
(issue 19). CI's py310 and py313 cells run these same tests."""

from __future__ import annotations

import base64
import datetime as _dt

import pytest

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.relay.service import RelayService, decode_basic

BASE = "https://relay.bluejeans.com"
CREATE = f"{BASE}/api/auth/accesstokens"


@pytest.fixture
def relay() -> RelayService:
    clock = Clock(_dt.datetime(2024, 1, 2, tzinfo=_dt.timezone.utc), frozen=True)
    return RelayService(clock=clock, seed=1)  # credentials that need padding


def create(relay: RelayService, authorization: str) -> FakeResponse:
    return relay.handle(FakeRequest.build("POST", CREATE, {"Authorization": authorization}))


def encoded(relay: RelayService) -> str:
    creds = relay.credentials
    return base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


def test_canonical_and_unpadded_credentials_work(relay: RelayService) -> None:
    """Java's decoder takes a final unit without its padding (inferred: Spring Security's
    ``BasicAuthenticationConverter`` uses ``Base64.getDecoder()``)."""
    text = encoded(relay)
    assert text.endswith("==")
    assert create(relay, "Basic " + text).status == 200
    assert create(relay, "Basic " + text.rstrip("=")).status == 200


@pytest.mark.parametrize("seed", [1, 3], ids=["padded", "unpadded"])
@pytest.mark.parametrize("extra", ["=", "==", "===", "===="])
def test_excess_padding_is_refused_on_every_python(seed: int, extra: str) -> None:
    """3.10-3.12's ``b64decode(validate=True)`` accepts padding after a complete unit, 3.13's
    refuses it: the fake's own padding check answers the same 401 everywhere."""
    relay = RelayService(seed=seed)
    assert encoded(relay).endswith("=") == (seed == 1)
    answer = create(relay, "Basic " + encoded(relay) + extra)
    assert answer.status == 401
    assert answer.json()["errorName"] == "BadCredentialsException"


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("YWJjOmRlZg==", "abc:def"),
        ("YWJjOmRlZg", "abc:def"),
        ("YWJjOmRlZmc=", "abc:defg"),
        ("YWJjOmRlZmdo", "abc:defgh"),
        ("YWJjOmRlZmdo=", None),  # padding after a complete unit
        ("YWJjOmRlZmdo==", None),  # accepted by b64decode(validate=True) on 3.11
        ("YWJjOmRlZg===", None),
        ("YWJjOmRlZmc==", None),  # wrong amount of padding
        ("YWJjOmRlZ", None),  # a unit of one character
        ("YWJ=jOmRl", None),  # padding inside
        ("=YWJj", None),
        ("YWJj-_8=", None),  # the URL-safe alphabet is not Basic's
        ("YWJj\nOmRl", None),
        ("", None),
        ("/w==", None),  # not UTF-8
    ],
)
def test_decode_basic_is_javas_strict_decoder(text: str, decoded: str | None) -> None:
    assert decode_basic(text) == decoded


def test_a_token_of_another_enterprise_is_refused(relay: RelayService) -> None:
    other = RelayService(seed=99)
    assert other.enterprise.name != relay.enterprise.name
    foreign = other.credentials.access_token
    answer = relay.handle(
        FakeRequest.build("GET", f"{BASE}/api/enterprises/self", {"X-Access-Token": foreign})
    )
    assert answer.status == 401


def test_a_token_answers_only_its_roles(relay: RelayService) -> None:
    pairing = relay.issue_token(roles=["ROLE_PAIRINGCODE"]).access_token
    readonly = relay.credentials.readonly_access_token
    endpoints = f"{BASE}/api/endpoints"

    def status(method: str, token: str) -> int:
        headers = {"X-Access-Token": token, "Content-Type": "application/json"}
        body = b'{"name": "x"}' if method == "POST" else b""
        return relay.handle(FakeRequest.build(method, endpoints, headers, body)).status

    assert status("GET", pairing) == 403
    assert status("POST", readonly) == 403
    assert status("GET", readonly) == 200
