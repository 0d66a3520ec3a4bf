"""The injectable clock every fake, factory and fixture reads.

It follows the wall clock as seen through :mod:`datetime` and :func:`time.time` (so
time-machine and freezegun travel moves it too) plus an offset that :meth:`Clock.advance` and
:meth:`Clock.set` change. It patches nothing, so event loops and their monotonic clock are
unaffected.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import threading
import time as _time
from collections.abc import Callable
from time import monotonic as _real_monotonic  # bound now: later patches of time.* don't apply
from typing import Protocol, TypeVar

__all__ = ["Clock", "bind_clock", "bound_now"]

T = TypeVar("T")
#: Where :func:`bind_clock` keeps the clock: in ``__dict__``, beside a model's fields.
_BOUND_CLOCK = "_relaytokens_clock"

UTC = _dt.timezone.utc
#: The Unix epoch, aware UTC (both APIs count milliseconds from it).
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = _dt.timedelta(0)


def _system_now() -> _dt.datetime:
    # Looked up through the module at call time so freezegun/time-machine patches apply.
    return _dt.datetime.now(UTC)


class Clock:
    """A UTC clock: ``now()``, ``advance(seconds | timedelta)``, ``set(datetime)``.

    ``frozen=True`` stops it flowing: ``now()`` returns the same instant until moved, except
    while the wall clock has jumped by more than real elapsed time explains (time-machine or
    freezegun travel of half a second or more) it follows the travelled wall clock.
    """

    TRAVEL_THRESHOLD_SECONDS = 0.5
    #: Called after ``advance``/``set``/``freeze`` (see :meth:`watch`); most clocks have none.
    _watchers: tuple[Callable[[], None], ...] = ()

    # Until first changed, read from the class (a clock per test: fewer stores each).
    _offset = _ZERO
    #: ``(generation, instant)``: what a frozen clock answers while the wall clock is not
    #: travelling; every change bumps ``_gen`` after the change, so a stale entry is ignored
    _gen = 0
    _still: tuple[int, _dt.datetime] | None = None

    def __init__(self, start: _dt.datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._frozen = frozen
        # to the millisecond now() answers in (a frozen clock then has nothing to cut); the
        # travel check's threshold is 500 times that
        self._anchor_wall_s = int(_time.time() * 1000) / 1000
        self._anchor_mono = _real_monotonic()
        if start is not None:
            if not isinstance(start, _dt.datetime):
                raise TypeError(f"Clock(start=...) takes a datetime, got {start!r}")
            if frozen:  # the same as set(start) on a clock frozen now, without the arithmetic
                self._frozen_at = (
                    start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
                )
                return
        self._frozen_at = _dt.datetime.fromtimestamp(self._anchor_wall_s, UTC)  # _anchor_wall
        if start is not None:
            self.set(start)

    @property
    def _anchor_wall(self) -> _dt.datetime:
        """The wall clock's reading when the clock was made or last frozen."""
        return _dt.datetime.fromtimestamp(self._anchor_wall_s, UTC)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def _travelling(self) -> bool:
        """Whether the wall clock was moved by something other than the passing of time."""
        elapsed = _real_monotonic() - self._anchor_mono
        jump = _time.time() - self._anchor_wall_s - elapsed  # time.time looked up now: patchable
        return abs(jump) >= self.TRAVEL_THRESHOLD_SECONDS

    def _base(self) -> _dt.datetime:
        if not self._frozen:
            return _system_now()
        if self._travelling():  # follow the travelled wall clock from the frozen point
            return _system_now() + (self._frozen_at - self._anchor_wall)
        return self._frozen_at

    def now(self) -> _dt.datetime:
        """The current instant, timezone-aware UTC, millisecond precision."""
        gen = self._gen  # read before the state it describes (see __init__)
        still = self._still
        if still is not None and still[0] == gen and not self._travelling():
            return still[1]  # frozen, and nothing moved it since
        offset = self._offset
        if self._frozen and not self._travelling():  # _base(), answered once: kept for later
            value = self._frozen_at + offset if offset else self._frozen_at
            if value.microsecond % 1000:  # cut to the millisecond
                value -= _dt.timedelta(0, 0, value.microsecond % 1000)
            self._still = (gen, value)
            return value
        value = self._base() + offset
        # a positional timedelta: datetime.replace(microsecond=) parses keywords, at 3x the cost
        return value - _dt.timedelta(0, 0, value.microsecond % 1000)

    def now_ms(self) -> int:
        """The current instant as epoch milliseconds."""
        now = self.now()
        return int(now.timestamp()) * 1000 + now.microsecond // 1000

    def advance(self, delta: float | _dt.timedelta) -> _dt.datetime:
        """Move the clock forward (or back, with a negative value) and return the new now."""
        if not isinstance(delta, _dt.timedelta):
            if isinstance(delta, bool) or not isinstance(delta, (int, float)):
                raise TypeError(f"advance() takes seconds or a timedelta, got {delta!r}")
            delta = _dt.timedelta(seconds=delta)
        with self._lock:
            self._offset += delta
            self._gen += 1
        self._moved()
        return self.now()

    def set(self, when: _dt.datetime) -> None:
        """Jump to ``when`` (naive datetimes are taken as UTC)."""
        if not isinstance(when, _dt.datetime):
            raise TypeError(f"set() takes a datetime, got {when!r}")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        base = self._base()
        with self._lock:
            self._offset = when.astimezone(UTC) - base
            self._gen += 1
        self._moved()

    def freeze(self) -> None:
        """Stop the clock at its current instant."""
        now = self.now()
        with self._lock:
            self._frozen = True
            self._frozen_at = now
            self._anchor_wall_s = _system_now().timestamp()
            self._anchor_mono = _real_monotonic()
            self._offset = _ZERO
            self._gen += 1
        self._moved()

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every ``advance``/``set``/``freeze`` (not when time
        merely flows or the wall clock travels) until the returned function is called."""
        with self._lock:
            self._watchers = (*self._watchers, callback)

        def unwatch() -> None:
            with self._lock:
                self._watchers = tuple(w for w in self._watchers if w is not callback)

        return unwatch

    def _moved(self) -> None:
        for callback in self._watchers:
            callback()

    def __repr__(self) -> str:
        return f"Clock(now={self.now().isoformat()}, frozen={self._frozen})"


class NowSource(Protocol):
    """Anything with ``now()`` (a :class:`Clock`, or a test's own)."""

    def now(self) -> _dt.datetime: ...


def bind_clock(token: T, clock: NowSource) -> T:
    """Let ``token`` answer ``is_expired()``/``remaining()`` without an argument on ``clock``.

    The clock sits in ``__dict__`` beside the fields, so equality and serialisation ignore it;
    an object without a ``__dict__`` is returned unbound.
    """
    attributes = getattr(token, "__dict__", None)
    if isinstance(attributes, dict):
        attributes[_BOUND_CLOCK] = clock
    return token


def bound_now(token: object) -> _dt.datetime:
    """``now()`` of the clock bound to ``token``, else the system clock's (aware UTC)."""
    clock = getattr(token, "__dict__", {}).get(_BOUND_CLOCK)
    return clock.now() if clock is not None else _system_now()


#: Seconds per unit of a duration written as text (``"90"``, ``"-50s"``, ``"+2h"``, ``"30d"``).
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_TEXT = re.compile(r"([+-]?)(\d+(?:\.\d+)?)\s*([smhdw]?)")
#: Ten years: the longest duration any option takes (a longer one is a typo).
LONGEST_SECONDS = 10 * 365 * 86400


def duration_seconds(value: object) -> float | None:
    """Seconds from a timedelta, a number, or text such as ``"-50s"``, ``"+2h"``, ``"30d"``
    (units s, m, h, d, w; none means seconds); None when ``value`` is none of these or is not
    finite (the caller words the error for its own option)."""
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION_TEXT.fullmatch(value.strip().lower())):
        sign, number, unit = found.groups()
        seconds = float(number) * DURATION_UNITS[unit or "s"] * (-1 if sign == "-" else 1)
    else:
        return None
    return seconds if math.isfinite(seconds) else None
