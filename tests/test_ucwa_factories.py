"""UCWA factories: seeded, realistic, policy-aware; output round-trips in every quirk."""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_relaytokens._seeded import SeededRandom
from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import TokenPolicy
from pytest_relaytokens.ucwa import wire
from pytest_relaytokens.ucwa.factories import UcwaTokenFactory
from pytest_relaytokens.ucwa.timestamps import format_iso, truncate_ms

UTC = dt.timezone.utc
START = dt.datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def frozen() -> Clock:
    return Clock(START, frozen=True)


def test_same_seed_same_objects_and_different_seed_differs() -> None:
    a = UcwaTokenFactory(42, frozen()).build()
    b = UcwaTokenFactory(42, frozen()).build()
    c = UcwaTokenFactory(43, frozen()).build()
    assert a == b and a != c
    # an int seed names a SeededRandom stream; any random.Random can be drawn from instead
    assert UcwaTokenFactory(SeededRandom(5)).bearer_token() == UcwaTokenFactory(5).bearer_token()
    assert UcwaTokenFactory(random.Random(5)).bearer_token() == (
        UcwaTokenFactory(random.Random(5)).bearer_token()
    )


def test_realistic_values() -> None:
    factory = UcwaTokenFactory(1, frozen())
    token = factory.build()
    assert token.duration == 480
    assert truncate_ms(token.valid_until) == START + dt.timedelta(minutes=480)
    assert len(token.user_name) == 76 and token.user_name.startswith("AgAAJ")
    assert token.user_name.endswith("=") and not token.user_name.endswith("==")
    raw = base64.b64decode(token.user_name)
    assert len(raw) == 56 and raw[:4] == b"\x02\x00\x00\x24"
    assert len(token.password) == 28 and token.password.endswith("=")
    assert token.uri is not None and re.fullmatch(r"sip:[a-z]+\.[a-z]+@[a-z]+\.com", token.uri)
    relay = token.media_relays[0]
    assert (relay.location, relay.tcp_port, relay.udp_port) == ("Internet", 443, 3478)
    assert relay.ipv4 is not None and relay.ipv4.startswith("203.0.113.")
    assert relay.ipv6 is not None and relay.ipv6.startswith("2001:db8:")
    assert relay.host is not None and "edge" in relay.host
    assert token.href is not None and token.href.endswith("/communication/mediaRelayAccessToken")
    assert relay.href == token.href.replace("mediaRelayAccessToken", "mediaRelay")
    bearer = factory.bearer_token()
    assert bearer.startswith("cwt=AAEB") and len(bearer) > 200
    assert re.fullmatch(r"cwt=[A-Za-z0-9_-]+", bearer)
    assert re.fullmatch(r"1\d{11}", factory.application_id())


def test_overrides_use_field_names_and_unknown_ones_are_rejected() -> None:
    factory = UcwaTokenFactory(2, frozen())
    token = factory.build(duration=10, uri=None, user_name="u")
    assert token.duration == 10 and token.uri is None and token.user_name == "u"
    assert truncate_ms(token.valid_until) == START + dt.timedelta(minutes=10)
    assert factory.build_relay(location="Intranet", tcp_port=-1).tcp_port == -1
    with pytest.raises(TypeError, match="valid fields: duration"):
        factory.build(userName="x")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (TokenPolicy(already_expired=True), START - dt.timedelta(minutes=1)),
        (TokenPolicy(lifetime=dt.timedelta(minutes=5)), START + dt.timedelta(minutes=5)),
        (
            TokenPolicy(server_skew=dt.timedelta(seconds=30)),
            START + dt.timedelta(minutes=480, seconds=30),
        ),
        (TokenPolicy(never_expires=True), START + dt.timedelta(days=180)),
    ],
)
def test_policy_sets_valid_until(policy: TokenPolicy, expected: dt.datetime) -> None:
    token = UcwaTokenFactory(3, frozen(), policy).build()
    assert truncate_ms(token.valid_until) == expected  # the ms /Date(ms)/ carries
    assert token.is_expired(START) == (expected <= START)


def test_remaining_may_be_negative() -> None:
    token = UcwaTokenFactory(3, frozen(), TokenPolicy(already_expired=True)).build()
    assert token.remaining(START) == dt.timedelta(minutes=-1)  # to validUntil's millisecond


@pytest.mark.parametrize("policy", [TokenPolicy(), TokenPolicy(lifetime=dt.timedelta(minutes=9))])
def test_xml_valid_until_carries_seeded_sub_millisecond_ticks(policy: TokenPolicy) -> None:
    """A 100 ns server clock read within the test clock's millisecond: seven digits in XML,
    the same for the same seed, whole milliseconds in JSON."""

    def stamps(seed: int) -> list[str]:
        factory = UcwaTokenFactory(seed, frozen(), policy)
        return [
            re.search(r'validUntil">[^<]*\.(\d{7})', wire.render_xml(factory.build()).decode())[1]  # type: ignore[index]
            for _ in range(20)
        ]

    digits = stamps(4)
    assert digits == stamps(4) and digits != stamps(5)
    assert all(d.startswith("123") for d in digits)  # START's millisecond, then the ticks
    assert len({d[3:] for d in digits}) > 15 and sum(d.endswith("0000") for d in digits) <= 1
    token = UcwaTokenFactory(4, frozen(), policy).build()
    ms = int(re.search(r"Date\((\d+)\)", wire.render_json(token).decode())[1])  # type: ignore[index]
    assert dt.datetime.fromtimestamp(ms / 1000, UTC) == truncate_ms(token.valid_until)
    explicit = START + dt.timedelta(minutes=3)  # an explicit validUntil is kept as given
    assert UcwaTokenFactory(4, frozen(), policy).build(valid_until=explicit).valid_until == explicit


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    start_ms=st.integers(0, 4_102_444_800_000),
    uri_key=st.sampled_from(["Uri", "uri"]),
    stamps=st.sampled_from(["utc_ms", "ms_offset", "iso"]),
    offset=st.sampled_from(["-07:00", "+05:30", "Z", "+00:00"]),
    fmt=st.sampled_from(["json", "xml"]),
    pretty=st.booleans(),
)
def test_factory_output_round_trips_in_every_quirk(
    seed: int, start_ms: int, uri_key: str, stamps: str, offset: str, fmt: str, pretty: bool
) -> None:
    clock = Clock(dt.datetime.fromtimestamp(start_ms / 1000, UTC), frozen=True)
    token = UcwaTokenFactory(seed, clock).build()
    quirks = wire.UcwaQuirks(uri_key=uri_key, timestamps=stamps, offset=offset)  # type: ignore[arg-type]
    sent = wire.at_wire_precision(token, fmt, quirks)  # type: ignore[arg-type]
    if fmt == "json":
        body = wire.render_json(token, quirks, pretty=pretty)
        assert wire.parse(body, "application/json") == sent
    else:
        body = wire.render_xml(token, quirks)
        assert wire.parse(body) == sent == token  # XML keeps the 100 ns tick
    assert wire.parse(body, source="x") == sent
    assert wire.render(wire.parse(body), fmt, quirks) == wire.render(token, fmt, quirks)  # type: ignore[arg-type]


class _MethodsOnly(random.Random):
    """A Random subclass: the factory draws through its methods instead of directly."""


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(-(2**70), 2**70),
    policy=st.sampled_from(
        [
            TokenPolicy(),
            TokenPolicy(already_expired=True),
            TokenPolicy(server_skew=dt.timedelta(seconds=3, microseconds=1234)),
        ]
    ),
)
def test_direct_draws_match_the_random_methods(seed: int, policy: TokenPolicy) -> None:
    """The fast path (plain Random, one draw for several values) gives exactly what the
    ``random.Random`` methods give, so the same seed keeps giving the same tokens."""
    fast = UcwaTokenFactory(random.Random(seed), frozen(), policy)
    slow = UcwaTokenFactory(_MethodsOnly(seed), frozen(), policy)
    assert fast.build() == slow.build()
    assert wire.render_xml(fast.build()) == wire.render_xml(slow.build())
    assert fast.build_relay() == slow.build_relay()
    assert fast.bearer_token() == slow.bearer_token()
    assert fast.user_name(START) == slow.user_name(START)


def test_default_build_is_what_validation_makes_of_it() -> None:
    """Default tokens skip re-validation; they must equal a validated copy, fields set included."""
    from pytest_relaytokens.ucwa.models import MediaRelay, MediaRelayAccessToken

    factory = UcwaTokenFactory(11, frozen(), TokenPolicy(lifetime=dt.timedelta(minutes=7)))
    token = factory.build()
    values = token.model_dump()  # validUntil as the wire spells it, 100 ns digit included
    values["valid_until"] = format_iso(token.valid_until, "Z", token.valid_until_ticks)
    again = MediaRelayAccessToken.model_validate(values)
    assert token == again and token.model_fields_set == again.model_fields_set
    assert token.valid_until.tzinfo is UTC and again.valid_until_ticks == token.valid_until_ticks
    relay = factory.build_relay()
    assert relay == MediaRelay.model_validate(relay.model_dump())
    assert relay.model_fields_set == set(MediaRelay.model_fields)


class _Str(str):
    pass


@pytest.mark.parametrize(
    "overrides",
    [
        {"uri": "sip:ann@contoso.com", "href": "/ucwa/v1/applications/1/x"},
        {"uri": None, "href": None, "media_relays": []},
        {"uri": _Str("sip:x@y")},  # look-alikes of what a service passes: validated
        {"media_relays": [{"location": "internet", "host": "h"}]},
    ],
    ids=["strings", "nones", "str-subclass", "relay-dicts"],
)
def test_service_overrides_build_what_validation_makes_of_them(overrides: dict[str, Any]) -> None:
    """What a service overrides (``uri``, ``href``, relays it built) skips re-validation when
    validation would keep it as it is: the token equals a validated one, fields set included,
    and holds plain values; anything else is validated as before."""
    from pytest_relaytokens.ucwa.models import MediaRelayAccessToken

    factory = UcwaTokenFactory(11, frozen())
    overrides = {
        "media_relays": [factory.build_relay(), factory.build_relay(href="/r")],
        **overrides,
    }
    token = UcwaTokenFactory(11, frozen()).build(**overrides)
    again = MediaRelayAccessToken.model_validate({**token.model_dump(), **overrides})
    again._set_ticks(token.valid_until_ticks)
    assert token == again and token.model_fields_set == again.model_fields_set
    assert type(token.uri) in (str, type(None)) and type(token.href) in (str, type(None))
    assert all(type(relay).__name__ == "MediaRelay" for relay in token.media_relays)


def test_a_bad_service_override_is_still_refused() -> None:
    with pytest.raises(ValueError, match=r"media_relays|mediaRelay"):
        UcwaTokenFactory(11, frozen()).build(href="/a", media_relays="relays")


def test_user_name_layout() -> None:
    """v2 blob: version 2, size 0x24, expiry in 100 ns ticks little-endian, then random bytes."""
    name = UcwaTokenFactory(5, frozen()).user_name(START)
    raw = base64.b64decode(name)
    assert len(raw) == 56 and raw[:4] == bytes([2, 0, 0, 0x24])
    assert int.from_bytes(raw[4:12], "little") == int(START.timestamp()) * 10_000_000


def test_prebuilt_keeps_validating_when_the_shortcut_would_differ() -> None:
    """``Prebuilt`` checks its shortcut against ``model_validate`` once; a model whose
    validators change values is validated on every call."""
    from pydantic import BaseModel, PrivateAttr, field_validator

    from pytest_relaytokens._prebuilt import Prebuilt

    class Shouting(BaseModel):
        word: str
        tags: list[str] = []

        @field_validator("word")
        @classmethod
        def _upper(cls, value: str) -> str:
            return value.upper()

    class Plain(BaseModel):
        word: str
        tags: list[str] = []
        _seen: int = PrivateAttr(3)

    shouting = Prebuilt(Shouting)
    assert [shouting({"word": "hi"}).word for _ in range(3)] == ["HI", "HI", "HI"]
    plain = Prebuilt(Plain)
    first, second = plain({"word": "a"}), plain({"word": "b"})
    assert first == Plain(word="a") and second == Plain(word="b")
    assert second.model_fields_set == {"word"} and second._seen == 3 and second.tags == []
    assert plain({"word": "c"}).tags is not plain({"word": "d"}).tags  # a mutable default, copied
    whole = plain.whole({"word": "w", "tags": ["t"]})  # every field, in order: taken as given
    assert whole == Plain(word="w", tags=["t"]) and whole.model_fields_set == {"word", "tags"}
    assert whole._seen == 3 and whole.__pydantic_private__ is not second.__pydantic_private__
    assert shouting.whole({"word": "a", "tags": []}).word == "A"  # untrusted: validated


@pytest.mark.parametrize(
    ("policy", "duration"),
    [
        (TokenPolicy(), 480),
        (TokenPolicy(server_skew=dt.timedelta(seconds=30)), 480),
        (TokenPolicy(never_expires=True), 180 * 24 * 60),  # validUntil = now + 180 days
        (TokenPolicy(lifetime=dt.timedelta(minutes=5)), 5),
        (TokenPolicy(lifetime=dt.timedelta(seconds=90)), 1),
        (TokenPolicy(lifetime=dt.timedelta(seconds=30)), 0),
        (TokenPolicy(already_expired=True), 0),
    ],
)
def test_duration_is_the_whole_minutes_left_until_valid_until(
    policy: TokenPolicy, duration: int
) -> None:
    """``duration`` and ``validUntil`` agree as on a server: duration is what is left, in
    whole minutes rounded down, so an expiry computed from it is never past validUntil."""
    token = UcwaTokenFactory(3, frozen(), policy).build()
    assert token.duration == duration
    issued = START + policy.server_skew
    if not policy.already_expired:
        slack = token.valid_until - (issued + dt.timedelta(minutes=token.duration))
        assert dt.timedelta(0) <= slack < dt.timedelta(minutes=1)
    overridden = UcwaTokenFactory(3, frozen(), policy).build(
        valid_until=issued + dt.timedelta(minutes=42, seconds=59)
    )
    assert overridden.duration == 42


@settings(max_examples=50, deadline=None)
@given(lifetime_ms=st.integers(1, 10 * 365 * 86_400_000), start_ms=st.integers(0, 999))
def test_an_expiry_computed_from_duration_is_never_after_valid_until(
    lifetime_ms: int, start_ms: int
) -> None:
    clock = Clock(START.replace(microsecond=start_ms * 1000), frozen=True)
    policy = TokenPolicy(lifetime=dt.timedelta(milliseconds=lifetime_ms))
    token = UcwaTokenFactory(5, clock, policy).build()
    parsed = wire.parse(wire.render_json(token))  # validUntil on the wire is whole ms
    client_expiry = clock.now() + dt.timedelta(minutes=parsed.duration)
    assert client_expiry <= parsed.valid_until < client_expiry + dt.timedelta(minutes=1)
