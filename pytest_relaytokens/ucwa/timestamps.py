"""UCWA timestamps: JSON ``/Date(ms)/`` (optionally ``/Date(ms+hhmm)/``) and XML ISO 8601.

The ``/Date()/`` number is always UTC milliseconds; an offset suffix is informational.
XML dates carry seven fractional digits (100 ns ticks); Python keeps microseconds, so the
parsers also return the left-over tick (0-9) and the formatters accept it back.

Every instant of .NET's ``DateTime`` range (``0001-01-01T00:00:00`` to
``9999-12-31T23:59:59.9999999``, the same years as :mod:`datetime`) renders and parses; a
value that leaves the range once shifted to an offset raises :class:`WireFormatError`
naming the field. An offset is ``Z``, ``±hh:mm`` or an IANA zone name
(``America/Los_Angeles``) whose offset follows daylight saving.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import zoneinfo

from ..errors import WireFormatError

__all__ = [
    "DOTNET_MAX_MS",
    "DOTNET_MIN_MS",
    "TICKS_PER_MS",
    "format_iso",
    "format_ms_date",
    "offset_at",
    "parse_iso",
    "parse_ms_date",
    "parse_offset",
    "parse_timestamp",
    "truncate_ms",
    "within_ms",
    "zone",
]

UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
#: ``/Date()/`` milliseconds of .NET ``DateTime.MinValue`` and ``MaxValue``.
DOTNET_MIN_MS = -62_135_596_800_000
DOTNET_MAX_MS = 253_402_300_799_999
#: 100 ns ticks in a millisecond.
TICKS_PER_MS = 10_000

_MS_DATE = re.compile(r"\\?/Date\((-?\d{1,15})(?:([+-])(\d{2})(\d{2}))?\)\\?/")
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?"
)
_OFFSET = re.compile(r"(Z|z)|([+-])(\d{2}):?(\d{2})")
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)+|UTC")


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


@functools.lru_cache(maxsize=64)
def zone(text: str) -> _dt.tzinfo:
    """An offset (``Z``, ``±hh:mm``) as a fixed zone, or an IANA name as a :class:`ZoneInfo`.

    Raises :class:`WireFormatError` (field ``offset``) naming what is accepted.
    """
    if isinstance(text, str) and _ZONE_NAME.fullmatch(text.strip()):
        try:
            return zoneinfo.ZoneInfo(text.strip())
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise _fail(
                "unknown IANA time zone (expected -07:00, Z or a name like America/Los_Angeles)",
                text,
                "offset",
                None,
            ) from None
    return parse_offset(text)


def offset_at(value: _dt.datetime, offset: str) -> _dt.timedelta:
    """The UTC offset ``offset`` (fixed or IANA) has at the instant ``value``."""
    tz = zone(offset)
    if isinstance(tz, _dt.timezone):
        delta = tz.utcoffset(None)
        return delta
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        local = value.astimezone(tz)
    except OverflowError:  # the last or first hours of the range: the zone's standard offset
        local = value.replace(tzinfo=None).replace(tzinfo=tz)
    return local.utcoffset() or _dt.timedelta(0)


def _to_utc_ms(value: _dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def truncate_ms(value: _dt.datetime) -> _dt.datetime:
    """``value`` cut to its whole millisecond: what ``/Date(ms)/`` carries (.NET truncates)."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def within_ms(value: _dt.datetime, ticks: int) -> tuple[_dt.datetime, int]:
    """``value``'s whole millisecond plus ``ticks`` (0-9999) 100 ns ticks, as a 100 ns tick
    clock read within that millisecond gives it: (datetime to the µs, the 7th digit)."""
    if not 0 <= ticks < TICKS_PER_MS:
        raise ValueError(f"ticks must be 0-{TICKS_PER_MS - 1} within a millisecond, got {ticks!r}")
    micro, digit = divmod(ticks, 10)  # micro < 1000: stays inside value's millisecond
    # a positional timedelta: datetime.replace(microsecond=) parses keywords, at 3x the cost
    return value + _dt.timedelta(0, 0, micro - value.microsecond % 1000), digit


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
    ms = int(match.group(1))
    if not DOTNET_MIN_MS <= ms <= DOTNET_MAX_MS:
        raise _fail(
            "/Date()/ milliseconds outside .NET DateTime's range (years 1-9999)",
            text,
            field,
            source,
        )
    return _EPOCH + _dt.timedelta(milliseconds=ms)


def _sign_hhmm(delta: _dt.timedelta, colon: bool) -> str:
    total = int(delta.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def format_ms_date(
    value: _dt.datetime, offset: str | None = None, *, field: str = "validUntil"
) -> str:
    """``/Date(ms)/`` or, with ``offset`` (``-07:00``, ``Z`` or an IANA name),
    ``/Date(ms-0700)/`` (unescaped); the number is UTC either way."""
    ms = _to_utc_ms(value)
    if not DOTNET_MIN_MS <= ms <= DOTNET_MAX_MS:  # pragma: no cover - datetime's own range
        raise _fail("instant outside .NET DateTime's range", value, field, None)
    if offset is None:
        return f"/Date({ms})/"
    return f"/Date({ms}{_sign_hhmm(offset_at(value, offset), colon=False)})/"


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
        raise _fail(
            "instant outside .NET DateTime's range (years 1-9999) once converted to UTC",
            text,
            field,
            source,
        ) from None


def format_iso(
    value: _dt.datetime, offset: str = "-07:00", ticks: int = 0, *, field: str = "validUntil"
) -> str:
    """``2016-09-26T16:20:27.2948002-07:00``: seven fractional digits, in ``offset``
    (``±hh:mm``, ``Z`` or an IANA zone name, written as its numeric offset at ``value``)."""
    if not 0 <= ticks <= 9:
        raise ValueError(f"ticks must be 0-9 (100 ns beyond the microsecond), got {ticks!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    z = isinstance(offset, str) and offset.strip() in ("Z", "z")
    delta = offset_at(value, offset)
    try:
        local = (value + delta).replace(tzinfo=None)
    except OverflowError:
        raise _fail(
            f"instant outside .NET DateTime's range (years 1-9999) at offset {offset}",
            value.isoformat(),
            field,
            None,
        ) from None
    suffix = "Z" if z else _sign_hhmm(delta, colon=True)
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}:{local.minute:02d}"
        f":{local.second:02d}.{local.microsecond:06d}{ticks}{suffix}"
    )


def parse_timestamp(
    value: object, *, field: str = "validUntil", source: str | None = None
) -> tuple[_dt.datetime, int]:
    """Either form (or epoch ms as a number) as (aware UTC datetime, extra ticks)."""
    if isinstance(value, bool):
        raise _fail("expected a timestamp", value, field, source)
    if isinstance(value, int):
        if not DOTNET_MIN_MS <= value <= DOTNET_MAX_MS:
            raise _fail("epoch milliseconds out of range", value, field, source)
        return _EPOCH + _dt.timedelta(milliseconds=value), 0
    if isinstance(value, str) and "Date(" in value:
        return parse_ms_date(value, field=field, source=source), 0
    if isinstance(value, str):
        return parse_iso(value, field=field, source=source)
    raise _fail("expected a /Date(ms)/ or ISO 8601 timestamp", value, field, source)
