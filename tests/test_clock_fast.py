"""The frozen clock's fast paths: a cached ``now()`` and a cheap frozen start must answer
exactly what the general path answers, under moves, time travel and threads."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_relaytokens.clock import Clock

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=UTC)


def general(start: dt.datetime) -> Clock:
    """The general path: a clock frozen now, then set to ``start``."""
    clock = Clock(frozen=True)
    clock.set(start)
    return clock


@settings(max_examples=40, deadline=None)
@given(
    start=st.datetimes(
        min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.none()
    ),
    zone=st.sampled_from([None, UTC, dt.timezone(dt.timedelta(hours=-7, minutes=-30))]),
    moves=st.lists(st.integers(-(10**6), 10**6), max_size=4),
)
def test_frozen_start_is_the_same_as_setting_it(
    start: dt.datetime, zone: dt.tzinfo | None, moves: list[int]
) -> None:
    start = start if zone is None else start.replace(tzinfo=zone)
    fast, slow = Clock(start, frozen=True), general(start)
    assert fast.now() == slow.now() and fast.now().tzinfo is UTC
    for seconds in moves:
        assert fast.advance(seconds) == slow.advance(seconds)
        assert fast.now_ms() == slow.now_ms()


def test_cached_now_follows_every_move() -> None:
    clock = Clock(START, frozen=True)
    first = clock.now()
    assert clock.now() is first  # answered from the cache
    assert clock.advance(1) == first + dt.timedelta(seconds=1)
    clock.set(dt.datetime(2030, 1, 1, tzinfo=UTC))
    assert clock.now() == dt.datetime(2030, 1, 1, tzinfo=UTC)
    flowing = Clock()
    flowing.freeze()
    frozen_at = flowing.now()
    assert flowing.now() == frozen_at
    with pytest.raises(TypeError, match=r"Clock\(start=...\) takes a datetime"):
        Clock("2026-01-01", frozen=True)  # type: ignore[arg-type]


def test_cached_now_still_follows_time_travel() -> None:
    clock = Clock(START, frozen=True)
    assert clock.now() == START.replace(microsecond=123000)  # cached before travelling
    wall = dt.datetime.now(UTC)
    with time_machine.travel(wall + dt.timedelta(days=3), tick=False):
        assert clock.now() - START.replace(microsecond=123000) >= dt.timedelta(days=3) - (
            dt.timedelta(seconds=1)
        )
    assert clock.now() == START.replace(microsecond=123000)  # back: the cache answers again


def test_threads_moving_and_reading_never_leave_a_stale_now() -> None:
    clock = Clock(START, frozen=True)
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            clock.now()

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for _ in range(2000):
            clock.advance(dt.timedelta(milliseconds=1))
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert clock.now() == START.replace(microsecond=123000) + dt.timedelta(seconds=2)
