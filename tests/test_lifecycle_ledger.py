"""The lifecycle ledger every fake keeps (http/lifecycle.py), read without pytest."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeRequest
from pytest_relaytokens.http.lifecycle import fingerprint, retry_after_seconds
from pytest_relaytokens.pytest_plugin.lifecycle import parse_skew, skew_id
from pytest_relaytokens.relay.service import RelayService

SENT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def _basic(service: RelayService) -> tuple[str, str]:
    creds = service.credentials
    raw = f"{creds.username}:{creds.password}".encode()
    return ("Authorization", "Basic " + base64.b64encode(raw).decode())


def _create(service: RelayService) -> str:
    url = service.base_url + "/api/auth/accesstokens"
    answer = service.handle(FakeRequest.build("POST", url, [_basic(service)]))
    token: str = json.loads(answer.body)["accessToken"]
    return token


def _get(service: RelayService, token: str) -> int:
    url = service.base_url + "/api/endpoints"
    return service.handle(FakeRequest.build("GET", url, [("X-Access-Token", token)])).status


def test_fingerprints_are_short_and_never_the_token() -> None:
    print_ = fingerprint("secret-token-value")
    assert print_.startswith("sha256:") and len(print_) == len("sha256:") + 12
    assert "secret" not in print_
    assert fingerprint("a") != fingerprint("b")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), (" 0 ", 0.0), ("Fri, 02 Jan 2026 03:05:05 GMT", 60.0), ("soon", None)],
)
def test_retry_after_as_seconds_or_an_http_date(value: str, seconds: float | None) -> None:
    assert retry_after_seconds(value, SENT) == seconds


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (-50, "skew=-50s"),
        ("0", "skew=0s"),
        ("+2h", "skew=+2h"),
        ("-90m", "skew=-90m"),
        (dt.timedelta(days=15), "skew=+15d"),
        (1.5, "skew=+1.5s"),
        ("+3600s", "skew=+1h"),
    ],
)
def test_skew_ids_read_well(given: object, shown: str) -> None:
    assert skew_id(parse_skew(given)) == shown


@pytest.mark.parametrize("bad", ["tomorrow", True, None, float("inf"), "99999d"])
def test_bad_skews_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="skew"):
        parse_skew(bad)


def test_the_ledger_counts_token_requests_and_finds_a_dead_token() -> None:
    service = RelayService(clock=Clock(SENT, frozen=True))
    first = _create(service)
    assert _get(service, first) == 200
    service.revoke(first)
    fresh = _create(service)
    assert _get(service, first) == 401  # the dead one, after the fresh one was issued
    assert _get(service, fresh) == 200
    ledger = service.lifecycle
    assert [o.kind for o in ledger.token_requests()] == ["token", "token"]
    [dead] = ledger.dead_tokens()
    assert (dead.token, dead.fresh) == (first, fresh)
    text = json.dumps(ledger.to_dict())
    assert first not in text and fresh not in text
    assert fingerprint(first) in text and fingerprint(fresh) in text


def test_a_401_before_any_refresh_is_no_reuse() -> None:
    service = RelayService(clock=Clock(SENT, frozen=True))
    token = _create(service)
    service.revoke(token)
    assert _get(service, token) == 401
    assert service.lifecycle.dead_tokens() == []


def test_an_early_retry_names_both_times_and_a_waited_one_passes() -> None:
    clock = Clock(SENT, frozen=True)
    service = RelayService(clock=clock, rate_limit=True)
    token = _create(service)
    assert [_get(service, token) for _ in range(2)] == [200, 429]
    clock.advance(0.5)
    assert _get(service, token) == 429  # too early: half a second of the one asked for
    clock.advance(1)
    assert _get(service, token) == 200
    [early] = service.lifecycle.early_retries()
    assert early.allowed_at == SENT + dt.timedelta(seconds=1)
    assert early.retry.at == SENT + dt.timedelta(seconds=0.5)
    assert not early.slept_real_time
    assert "said Retry-After 1 s" in early.describe()
