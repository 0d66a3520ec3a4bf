"""Cassette age: how old a recording may be before replaying it is a false green.

``max_age`` is a duration (``"30d"``, ``"12h"``, ``"90m"``, ``"45s"``, ``"2w"`` or a number of
seconds); ``on_expiry`` says what an older cassette does: ``warn``, ``fail`` or
``re-record`` (against the live backend, which must be configured). A cassette's age is the
wall clock minus its ``recorded_at`` (the test's clock is pinned to the recording time, so
it cannot say how old the recording is).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from ..clock import LONGEST_SECONDS, duration_seconds
from ..errors import RelayTokensError

__all__ = [
    "ON_EXPIRY",
    "CassetteExpiredWarning",
    "ExpiredCassette",
    "age_problem",
    "format_age",
    "parse_max_age",
]

ON_EXPIRY = ("warn", "fail", "re-record")


class ExpiredCassette(RelayTokensError):
    """A cassette is older than its ``max_age`` and ``on_expiry`` is ``fail``."""


class CassetteExpiredWarning(UserWarning):
    """A cassette is older than its ``max_age`` and ``on_expiry`` is ``warn``."""


def parse_max_age(value: object) -> _dt.timedelta:
    """``value`` as a positive duration; ValueError says what is accepted."""
    seconds = duration_seconds(value)
    if seconds is None or not 0 < seconds <= LONGEST_SECONDS:
        raise ValueError(
            f"max_age {value!r} is not a duration; valid: a positive number of seconds or "
            "'<n>s', '<n>m', '<n>h', '<n>d', '<n>w' (at most 10 years), e.g. '30d'"
        )
    return _dt.timedelta(seconds=seconds)


def check_on_expiry(value: object) -> str:
    if value not in ON_EXPIRY:
        raise ValueError(f"on_expiry {value!r} is not one of {', '.join(ON_EXPIRY)}")
    return str(value)


def format_age(age: _dt.timedelta) -> str:
    days, rest = divmod(int(age.total_seconds()), 86400)
    return f"{days} day(s)" if days else f"{rest // 3600} hour(s) {rest % 3600 // 60} minute(s)"


def recorded_instant(recorded_at: str | None) -> _dt.datetime | None:
    if not recorded_at:
        return None
    try:
        moment = _dt.datetime.fromisoformat(recorded_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def age_problem(
    path: Path,
    recorded_at: str | None,
    max_age: _dt.timedelta,
    now: _dt.datetime | None = None,
) -> str | None:
    """Why the cassette at ``path`` is too old (or has no usable ``recorded_at``), or None."""
    moment = recorded_instant(recorded_at)
    if moment is None:
        return (
            f"cassette {path} says nothing usable about when it was recorded "
            f"(relaytokens.recorded_at is {recorded_at!r}), so its max_age "
            f"({format_age(max_age)}) cannot be checked"
        )
    now = now or _dt.datetime.now(_dt.timezone.utc)
    age = now - moment
    if age <= max_age:
        return None
    return (
        f"cassette {path} was recorded {format_age(age)} ago ({moment.date().isoformat()}), "
        f"older than its max_age of {format_age(max_age)}"
    )
