"""UCWA timestamps: JSON ``/Date(ms)/`` (optionally ``/Date(ms+hhmm)/``) and XML ISO 8601.

The ``/Date()/`` number is always UTC milliseconds; an offset suffix is informational.
XML dates carry seven fractional digits (100 ns ticks); Python keeps microseconds, so the
parsers also return the left-over tick (0-9) and the formatters accept it back.
"""

from __future__ import annotations

import datetime as _dt
import re

from ..errors import WireFormatError

__all__ = [
    "format_iso",
    "format_ms_date",
    "parse_iso",
    "parse_ms_date",
    "parse_offset",
    "parse_timestamp",
]

UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)

_MS_DATE = re.compile(r"\\?/Date\((-?\d{1,15})(?:([+-])(\d{2})(\d{2}))?\)\\?/")
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?"
)
_OFFSET = re.compile(r"(Z|z)|([+-])(\d{2}):?(\d{2})")


def _fail(message: str, text: object, field: str, source: str | None) -> WireFormatError:
    return WireFormatError(message, field=field, value=text, source=source)


def parse_offset(text: str) -> _dt.timezone:
    """``-07:00``, ``-0700``, ``+01:00`` or ``Z`` as a fixed :class:`datetime.timezone`."""
    if not isinstance(text, str):
        raise _fail("expected a UTC offset string like -07:00 or Z", text, "offset", None)
    match = _OFFSET.fullmatch(text.strip())
    if match is None:
        raise _fail("not a UTC offset like -07:00 or Z", text, "offset", None)
    if match.group(1):
        return UTC
    hours, minutes = int(match.group(3)), int(match.group(4))
    if hours > 23 or minutes > 59:
        raise _fail("UTC offset out of range", text, "offset", None)
    delta = _dt.timedelta(hours=hours, minutes=minutes)
    return _dt.timezone(-delta if match.group(2) == "-" else delta)


def _to_utc_ms(value: _dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_ms_date(
    text: str, *, field: str = "validUntil", source: str | None = None
) -> _dt.datetime:
    """``/Date(1474932027265)/`` (slashes escaped or not, optional ``±hhmm``) as aware UTC."""
    if not isinstance(text, str):
        raise _fail("expected a /Date(ms)/ string", text, field, source)
    match = _MS_DATE.fullmatch(text.strip())
    if match is None:
        raise _fail("not a /Date(ms)/ timestamp", text, field, source)
    if match.group(2) and (int(match.group(3)) > 23 or int(match.group(4)) > 59):
        raise _fail("UTC offset out of range in /Date()/", text, field, source)
    try:
        return _EPOCH + _dt.timedelta(milliseconds=int(match.group(1)))
    except OverflowError:
        raise _fail("/Date()/ milliseconds out of range", text, field, source) from None


def format_ms_date(value: _dt.datetime, offset: str | None = None) -> str:
    """``/Date(ms)/`` or, with ``offset`` (``-07:00``), ``/Date(ms-0700)/`` (unescaped)."""
    ms = _to_utc_ms(value)
    if offset is None:
        return f"/Date({ms})/"
    tz = parse_offset(offset)
    total = int(tz.utcoffset(None).total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total), 60)
    return f"/Date({ms}{sign}{hours:02d}{minutes:02d})/"


def parse_iso(
    text: str, *, field: str = "validUntil", source: str | None = None
) -> tuple[_dt.datetime, int]:
    """An ISO 8601 instant as (aware UTC datetime truncated to µs, extra 100 ns ticks 0-9).

    Accepts ``Z`` or a numeric offset, and zero to nine fractional digits; a missing offset
    is read as UTC.
    """
    if not isinstance(text, str):
        raise _fail("expected an ISO 8601 string", text, field, source)
    match = _ISO.fullmatch(text.strip())
    if match is None:
        raise _fail(
            "not an ISO 8601 timestamp like 2016-09-26T16:20:27.2948002-07:00", text, field, source
        )
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or "").ljust(9, "0")
    micro, ticks = int(fraction[:6]), int(fraction[6])
    tz = UTC
    if match.group(8):
        try:
            tz = parse_offset(match.group(8))
        except WireFormatError:
            raise _fail("UTC offset out of range", text, field, source) from None
    try:
        local = _dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise _fail(f"impossible date ({exc})", text, field, source) from None
    try:
        return local.astimezone(UTC), ticks
    except OverflowError:
        raise _fail("date out of range once converted to UTC", text, field, source) from None


def format_iso(value: _dt.datetime, offset: str = "-07:00", ticks: int = 0) -> str:
    """``2016-09-26T16:20:27.2948002-07:00``: seven fractional digits, the given offset."""
    if not 0 <= ticks <= 9:
        raise ValueError(f"ticks must be 0-9 (100 ns beyond the microsecond), got {ticks!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    tz = parse_offset(offset)
    local = value.astimezone(tz)
    suffix = "Z" if offset in ("Z", "z") else local.strftime("%z")
    if suffix != "Z":
        suffix = f"{suffix[:3]}:{suffix[3:]}"
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond:06d}{ticks}{suffix}"


def parse_timestamp(
    value: object, *, field: str = "validUntil", source: str | None = None
) -> tuple[_dt.datetime, int]:
    """Either form (or epoch ms as a number) as (aware UTC datetime, extra ticks)."""
    if isinstance(value, bool):
        raise _fail("expected a timestamp", value, field, source)
    if isinstance(value, int):
        try:
            return _EPOCH + _dt.timedelta(milliseconds=value), 0
        except OverflowError:
            raise _fail("epoch milliseconds out of range", value, field, source) from None
    if isinstance(value, str) and "Date(" in value:
        return parse_ms_date(value, field=field, source=source), 0
    if isinstance(value, str):
        return parse_iso(value, field=field, source=source)
    raise _fail("expected a /Date(ms)/ or ISO 8601 timestamp", value, field, source)
