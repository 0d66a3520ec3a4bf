"""Seeded Relay factories: shapes, determinism, lifetimes and the token policy."""

from __future__ import annotations

import datetime as _dt
import random
import re
from collections.abc import Callable

import pytest

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import TokenPolicy
from pytest_relaytokens.relay.factories import RelayTokenFactory
from pytest_relaytokens.relay.models import datetime_to_ms

UTC = _dt.timezone.utc
START = _dt.datetime(2023, 8, 2, 23, 3, 11, 46000, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(START, frozen=True)


def test_same_seed_same_objects(clock: Clock) -> None:
    a, b = RelayTokenFactory(7, clock), RelayTokenFactory(7, clock)
    assert [a.build() for _ in range(5)] == [b.build() for _ in range(5)]
    assert a.build_enterprise() == b.build_enterprise()
    assert RelayTokenFactory(8, clock).build() != RelayTokenFactory(7, clock).build()


def test_accepts_a_random_instance(clock: Clock) -> None:
    a = RelayTokenFactory(random.Random(3), clock).access_token_string()
    assert a == RelayTokenFactory(random.Random(3), clock).access_token_string()


def test_value_shapes(clock: Clock) -> None:
    factory = RelayTokenFactory(1, clock)
    for _ in range(200):
        assert re.fullmatch(r"[0-9a-v]{32}", factory.access_token_string())
        seam = factory.seam_token()
        assert re.fullmatch(r"[0-9a-f]{32}", seam)
        assert seam[12] == "4" and seam[16] in "89ab"
        oid = factory.object_id()
        assert re.fullmatch(r"[0-9a-f]{24}", oid)
        assert int(oid[:8], 16) == int(START.timestamp())
        assert re.fullmatch(r"\d{6}", factory.pairing_code())


def test_object_ids_often_carry_e4b0(clock: Clock) -> None:
    factory = RelayTokenFactory(2, clock)
    ids = [factory.object_id() for _ in range(400)]
    share = sum(i[8:12] == "e4b0" for i in ids) / len(ids)
    assert 0.6 < share < 0.9
    at = _dt.datetime(2014, 6, 25, 1, 58, 7, tzinfo=UTC)
    assert factory.object_id(at).startswith("53aa2caf")


def test_default_token_lasts_two_weeks_from_clock(clock: Clock) -> None:
    token = RelayTokenFactory(0, clock).build()
    assert token.creation_date == START
    assert token.expiration_ms is not None
    assert token.expiration_ms - token.creation_ms == 1_209_600_000
    assert token.roles == ["ROLE_READONLY", "ROLE_READWRITE"]
    assert re.fullmatch(r"[a-z]+", token.enterprise_name)


def test_pairing_token_lasts_one_day(clock: Clock) -> None:
    token = RelayTokenFactory(0, clock).build_pairing()
    assert token.roles == ["ROLE_PAIRINGCODE"]
    assert token.expiration_ms is not None
    assert token.expiration_ms - token.creation_ms == 86_400_000
    assert token.pairing_code_id and token.pairing_code_endpoint_id


def test_never_expiring(clock: Clock) -> None:
    token = RelayTokenFactory(0, clock).build_never_expiring()
    assert token.expiration_date is None
    assert not token.is_expired(START + _dt.timedelta(days=10_000))


def test_overrides_and_unknown_override(clock: Clock) -> None:
    factory = RelayTokenFactory(0, clock)
    token = factory.build(
        client_name="My Client App", roles=["ROLE_READONLY"], creation_date=1691017391046
    )
    assert token.client_name == "My Client App"
    assert token.roles == ["ROLE_READONLY"]
    assert token.expiration_ms == 1691017391046 + 1_209_600_000
    with pytest.raises(TypeError, match="clientname"):
        factory.build(clientname="x")
    with pytest.raises(TypeError, match="labl"):
        factory.build_enterprise(labl="x")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (TokenPolicy(already_expired=True), START - _dt.timedelta(minutes=1)),
        (TokenPolicy(lifetime=_dt.timedelta(minutes=5)), START + _dt.timedelta(minutes=5)),
        (TokenPolicy(never_expires=True), None),
    ],
)
def test_policy_sets_every_expiry(
    clock: Clock, policy: TokenPolicy, expected: _dt.datetime | None
) -> None:
    factory = RelayTokenFactory(0, clock, policy)
    assert factory.build().expiration_date == expected
    assert factory.build_pairing().expiration_date == expected


def test_server_skew_moves_creation(clock: Clock) -> None:
    skew = _dt.timedelta(minutes=3)
    token = RelayTokenFactory(0, clock, TokenPolicy(server_skew=skew)).build()
    assert token.creation_date == START + skew


def test_enterprise_shape(clock: Clock) -> None:
    enterprise = RelayTokenFactory(4, clock).build_enterprise()
    assert re.fullmatch(r"[a-z]+", enterprise.name)
    assert enterprise.label and enterprise.label[0].isupper()
    assert enterprise.password is None and enterprise.public_key is None
    assert enterprise.tags == []
    assert enterprise.point_of_contact and "@" in enterprise.point_of_contact
    assert int(enterprise.id[:8], 16) < int(START.timestamp())


def test_build_is_fast(clock: Clock, count_calls: Callable[[Callable[[], object]], int]) -> None:
    """A token costs a few dozen calls (about 35), the same for the 500th as for the first:
    counted work, not time."""
    factory = RelayTokenFactory(0, clock)
    first = count_calls(lambda: [factory.build() for _ in range(50)])
    count_calls(lambda: [factory.build() for _ in range(400)])
    last = count_calls(lambda: [factory.build() for _ in range(50)])
    assert first <= 50 * 100 and last <= first * 1.2, (first, last)
    assert datetime_to_ms(START) == 1691017391046


class _MethodsOnly(random.Random):
    """A Random subclass: the factory draws through its methods instead of directly."""


@pytest.mark.parametrize("seed", [0, 1, 7, 2**40 + 3, -9])
def test_direct_draws_match_the_random_methods(clock: Clock, seed: int) -> None:
    """The fast path (the 32 token characters from one draw) gives exactly what
    ``random.Random.choices`` and friends give, so the same seed keeps giving the same tokens."""
    fast = RelayTokenFactory(random.Random(seed), clock)
    slow = RelayTokenFactory(_MethodsOnly(seed), clock)
    assert [fast.build() for _ in range(20)] == [slow.build() for _ in range(20)]
    assert fast.build_pairing() == slow.build_pairing()
    assert fast.build_enterprise() == slow.build_enterprise()
    assert fast.access_token_string() == slow.access_token_string()
    assert fast.pairing_code() == slow.pairing_code()
    assert fast.client_name() == slow.client_name()


def test_default_build_is_what_validation_makes_of_it() -> None:
    """Default tokens skip re-validation; they must equal a validated copy, with the same
    fields set (rendering omits unset optional fields) and dates in UTC, floored to the ms."""
    from pytest_relaytokens.relay.models import RelayAccessToken, RelayEnterprise

    skewed = TokenPolicy(server_skew=_dt.timedelta(microseconds=1999))
    token = RelayTokenFactory(4, Clock(START, frozen=True), skewed).build()
    again = RelayAccessToken.model_validate(token.model_dump(exclude_unset=True))
    assert token == again and token.model_fields_set == again.model_fields_set
    assert token.creation_date == START + _dt.timedelta(milliseconds=1)
    assert token.creation_date.tzinfo is UTC
    enterprise = RelayTokenFactory(4, Clock(START, frozen=True)).build_enterprise()
    assert enterprise == RelayEnterprise.model_validate(enterprise.model_dump())


def test_creation_date_override_of_zero_is_the_epoch(clock: Clock) -> None:
    token = RelayTokenFactory(1, clock).build(creation_date=0)
    assert token.creation_date == _dt.datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("service", ["relay", "ucwa"])
def test_a_bound_clock_answers_expiry_and_is_not_part_of_equality(service: str) -> None:
    from pytest_relaytokens.clock import bind_clock
    from pytest_relaytokens.ucwa.factories import UcwaTokenFactory

    start = _dt.datetime(2030, 1, 1, tzinfo=_dt.timezone.utc)
    factory_type = RelayTokenFactory if service == "relay" else UcwaTokenFactory
    token = factory_type(3, Clock(start, frozen=True)).build()
    copy = type(token).model_validate(token.model_dump())  # parsed: no clock bound
    assert copy == token
    later = Clock(start + _dt.timedelta(days=400), frozen=True)
    assert bind_clock(copy, later) is copy
    assert copy.is_expired() and not token.is_expired()
    assert copy == token  # the clock sits beside the fields
    assert "_relaytokens_clock" not in copy.model_dump()
    assert bind_clock(7, later) == 7  # nothing to bind to: returned as is
