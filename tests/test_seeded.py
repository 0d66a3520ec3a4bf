"""The seeded stream behind the factories: cheap, reproducible, a full ``random.Random``."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_relaytokens._seeded import SeededRandom, SeedStream, seed_bytes
from pytest_relaytokens.clock import Clock
from pytest_relaytokens.relay.factories import RelayTokenFactory
from pytest_relaytokens.ucwa.factories import UcwaTokenFactory

START = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(-(2**80), 2**80), sizes=st.lists(st.integers(0, 150), max_size=8))
def test_same_seed_same_stream_however_it_is_cut(seed: int, sizes: list[int]) -> None:
    """Draws in any sizes read the same bytes as one big draw (the stream is a byte string)."""
    whole = SeedStream(seed).take(sum(sizes))
    stream = SeedStream(seed)
    assert b"".join(stream.take(n) for n in sizes) == whole
    assert len(whole) == sum(sizes)


def test_kinds_of_seed_are_different_streams_and_bad_seeds_are_named() -> None:
    drawn = {SeedStream(s).take(16) for s in (1, "1", b"1", -1, 0, 256)}
    assert len(drawn) == 6
    assert SeededRandom(True).getrandbits(64) == SeededRandom(1).getrandbits(64)
    assert seed_bytes(bytearray(b"x")) == seed_bytes(b"x")
    with pytest.raises(TypeError, match=r"seed must be an int, str or bytes, got float: 1\.5"):
        SeededRandom(1.5)


def test_every_random_method_draws_from_the_stream() -> None:
    a, b = SeededRandom(7), SeededRandom(7)
    for rng in (a, b):
        rng.values = [  # type: ignore[attr-defined]
            rng.randint(1, 6),
            rng.choice("abcdef"),
            rng.choices("xyz", k=5),
            rng.random(),
            rng.randbytes(5),
            rng.getrandbits(13),
            rng.sample(range(100), 4),
            rng.gauss(0, 1),
            rng.randrange(10, 1000, 7),
        ]
    assert a.values == b.values  # type: ignore[attr-defined]
    assert 0 <= a.getrandbits(13) < 2**13 and a.getrandbits(0) == 0
    assert 0.0 <= a.random() < 1.0
    with pytest.raises(ValueError, match="non-negative"):
        a.getrandbits(-1)
    with pytest.raises(ValueError, match="non-negative"):
        a.randbytes(-1)


def test_state_copy_and_pickle_continue_the_stream() -> None:
    rng = SeededRandom("state")
    rng.randbytes(70)  # mid-block
    for other in (copy.deepcopy(rng), pickle.loads(pickle.dumps(rng))):
        assert other.randbytes(100) == copy.deepcopy(rng).randbytes(100)
    state = rng.getstate()
    first = rng.randbytes(40)
    rng.setstate(state)
    assert rng.randbytes(40) == first
    with pytest.raises(ValueError, match="not a SeededRandom state"):
        rng.setstate(random.Random(1).getstate())
    rng.seed(3)
    assert rng.randbytes(8) == SeedStream(3).take(8)


def test_factory_seed_and_its_rng_share_one_stream() -> None:
    """``factory.rng`` (what the fakes draw credentials from) continues the factory's own
    stream: nothing is drawn twice, and an int seed is the SeededRandom it names."""
    factory = UcwaTokenFactory(11, Clock(START, frozen=True))
    token = factory.build()
    after = factory.rng.randbytes(32)
    again = UcwaTokenFactory(SeededRandom(11), Clock(START, frozen=True))
    assert again.build() == token
    assert again.rng.randbytes(32) == after
    relay = RelayTokenFactory(11, Clock(START, frozen=True))
    relay_token = relay.build()
    assert relay.rng.randbytes(8) == (
        (lambda f: (f.build(), f.rng.randbytes(8))[1])(
            RelayTokenFactory(SeededRandom(11), Clock(START, frozen=True))
        )
    )
    assert relay_token == RelayTokenFactory(11, Clock(START, frozen=True)).build()


def test_factories_give_realistic_spread() -> None:
    """Modulo draws still reach every choice (no value stuck, no choice missing)."""
    clock = Clock(START, frozen=True)
    tokens = [UcwaTokenFactory(n, clock).build() for n in range(300)]
    assert len({t.uri.split("@")[1] for t in tokens if t.uri}) == 5  # every domain
    assert len({t.media_relays[0].host.split(".")[0] for t in tokens if t.media_relays[0].host}) > 8
    assert len({t.password for t in tokens}) == 300
    relay = [RelayTokenFactory(n, clock).build() for n in range(300)]
    named = sum(t.client_name is not None for t in relay)
    assert 130 < named < 230  # ~60%
    assert len({t.access_token for t in relay}) == 300
    assert set("".join(t.access_token for t in relay)) == set("0123456789abcdefghijklmnopqrstuv")


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**40),
    skew_us=st.integers(-(10**7), 10**7),
    start_us=st.integers(0, 10**6 - 1),
)
def test_default_builds_equal_the_general_path(seed: int, skew_us: int, start_us: int) -> None:
    """``build()`` with nothing to override takes a short path; an override that changes
    nothing takes the general (validating) one: both give the same token."""
    from pytest_relaytokens.http import TokenPolicy
    from pytest_relaytokens.relay.factories import DEFAULT_ROLES
    from pytest_relaytokens.relay.wire import render_token
    from pytest_relaytokens.ucwa import wire

    clock = Clock(START.replace(microsecond=start_us), frozen=True)
    policy = TokenPolicy(server_skew=dt.timedelta(microseconds=skew_us))
    fast = UcwaTokenFactory(seed, clock, policy).build()
    general = UcwaTokenFactory(seed, clock, policy).build(duration=480)
    assert fast == general and fast.model_fields_set == general.model_fields_set
    assert wire.render_json(fast) == wire.render_json(general)
    relay_fast = RelayTokenFactory(seed, clock, policy).build()
    relay_general = RelayTokenFactory(seed, clock, policy).build(roles=list(DEFAULT_ROLES))
    assert relay_fast == relay_general
    assert relay_fast.model_fields_set == relay_general.model_fields_set
    assert render_token(relay_fast) == render_token(relay_general)
