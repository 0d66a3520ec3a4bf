"""Marker definitions, their validation and what they mean for a test.

Validation runs at collection time; a wrong argument becomes a :class:`pytest.UsageError`
naming the marker, the test and the valid values. Nothing heavy is imported unless a test
actually carries an error marker.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["MARKERS", "MarkerSettings", "read_markers"]

FORMATS = ("json", "xml")
URI_KEYS = ("Uri", "uri")
TIMESTAMP_FORMS = ("utc_ms", "ms_offset", "iso")
RELAY_LOCATIONS = ("Internet", "Intranet", "All")
BACKENDS = ("fake", "replay", "live")

MARKERS: dict[str, str] = {
    "token_expired": "token_expired: every token handed out or issued is already expired; "
    "the fakes answer its use with the real expiry response.",
    "token_expires_in": "token_expires_in(seconds): tokens are valid now and expire that many "
    "seconds after issue on relaytokens_clock.",
    "token_never_expires": "token_never_expires: Relay tokens are issued with duration -1 "
    "(expirationDate: null).",
    "token_clock_skew": "token_clock_skew(seconds): the fake servers' clock runs that many seconds "
    "ahead of (negative: behind) relaytokens_clock.",
    "ucwa_error": "ucwa_error(code, subcode=None, times=None): the UCWA fake answers with that "
    "catalogued error (times=None: always).",
    "relay_error": "relay_error(name, times=None): the Relay fake answers with that catalogued "
    "error (times=None: always).",
    "ucwa_format": 'ucwa_format("json" | "xml"): the UCWA representation fixtures and the fake '
    "default to.",
    "ucwa_quirks": 'ucwa_quirks(uri_key="Uri"|"uri", timestamps="utc_ms"|"ms_offset"|"iso", '
    'offset="-07:00", location="Internet"|"Intranet"|"All"): the UCWA wire quirks and the '
    "relays' location.",
    "relaytokens_errors": "relaytokens_errors(*selectors): keep only these rows in the "
    'ucwa_error / relay_error fan-out ("5xx", "409", "mediaRelayAccessToken", "generic", '
    "an error name or id).",
    "relaytokens_backend": 'relaytokens_backend("fake" | "replay" | "live"): where this test\'s '
    "token fixtures come from.",
    "relaytokens_cassette": "relaytokens_cassette(path): the cassette file this test replays "
    "or records (relative to the test module's folder).",
}


@dataclass
class MarkerSettings:
    """What the relaytokens markers closest to a test ask for (None: not set by a marker)."""

    already_expired: bool = False
    lifetime: _dt.timedelta | None = None
    never_expires: bool = False
    server_skew: _dt.timedelta = _dt.timedelta(0)
    #: (catalogue id, times) of each error marker, resolved at collection
    ucwa_errors: list[tuple[str, int | None]] = field(default_factory=list)
    relay_errors: list[tuple[str, int | None]] = field(default_factory=list)
    ucwa_format: str | None = None
    ucwa_quirks: dict[str, str] = field(default_factory=dict)
    error_selectors: tuple[str, ...] | None = None
    backend: str | None = None
    cassette: str | None = None

    @property
    def any_token_policy(self) -> bool:
        return (
            self.already_expired
            or self.lifetime is not None
            or self.never_expires
            or bool(self.server_skew)
        )


def _fail(item: pytest.Item, marker: str, problem: str, valid: str) -> pytest.UsageError:
    return pytest.UsageError(
        f"{item.nodeid}: @pytest.mark.{marker}: {problem}; valid values: {valid}"
    )


def _bind(
    item: pytest.Item, mark: pytest.Mark, names: tuple[str, ...], required: int
) -> dict[str, Any]:
    """Bind a marker's positional and keyword arguments to ``names``."""
    if len(mark.args) > len(names):
        raise _fail(
            item,
            mark.name,
            f"takes at most {len(names)} arguments, got {len(mark.args)}",
            ", ".join(names),
        )
    bound: dict[str, Any] = dict(zip(names, mark.args, strict=False))
    for key, value in mark.kwargs.items():
        if key not in names:
            raise _fail(item, mark.name, f"unknown keyword argument {key!r}", ", ".join(names))
        if key in bound:
            raise _fail(item, mark.name, f"argument {key!r} given twice", ", ".join(names))
        bound[key] = value
    missing = [n for n in names[:required] if n not in bound]
    if missing:
        raise _fail(item, mark.name, f"missing argument {missing[0]!r}", ", ".join(names))
    return bound


def _seconds(item: pytest.Item, marker: str, value: Any, *, allow_negative: bool) -> float:
    if isinstance(value, _dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(
            item,
            marker,
            f"seconds must be a number, got {value!r}",
            "a number of seconds or a timedelta",
        )
    if not allow_negative and value < 0:
        raise _fail(
            item,
            marker,
            f"seconds must not be negative, got {value!r}",
            "a number of seconds >= 0 or a timedelta",
        )
    return float(value)


def _times(item: pytest.Item, marker: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(
            item,
            marker,
            f"times must be a positive integer or None, got {value!r}",
            "None (always) or 1, 2, ...",
        )
    return value


def _choice(item: pytest.Item, marker: str, what: str, value: Any, valid: tuple[str, ...]) -> str:
    if value not in valid:
        raise _fail(item, marker, f"unknown {what} {value!r}", ", ".join(map(repr, valid)))
    return str(value)


def read_markers(item: pytest.Item) -> MarkerSettings:
    """Validate and read the closest relaytokens markers of ``item``."""
    settings = MarkerSettings()
    if item.get_closest_marker("token_expired") is not None:
        settings.already_expired = True
    mark = item.get_closest_marker("token_expires_in")
    if mark is not None:
        seconds = _seconds(
            item, mark.name, _bind(item, mark, ("seconds",), 1)["seconds"], allow_negative=False
        )
        settings.lifetime = _dt.timedelta(seconds=seconds)
    if item.get_closest_marker("token_never_expires") is not None:
        settings.never_expires = True
    if settings.already_expired and (settings.lifetime is not None or settings.never_expires):
        raise _fail(
            item,
            "token_expired",
            "cannot be combined with token_expires_in or token_never_expires",
            "one expiry marker per test",
        )
    mark = item.get_closest_marker("token_clock_skew")
    if mark is not None:
        seconds = _seconds(
            item, mark.name, _bind(item, mark, ("seconds",), 1)["seconds"], allow_negative=True
        )
        settings.server_skew = _dt.timedelta(seconds=seconds)

    for mark in item.iter_markers("ucwa_error"):
        args = _bind(item, mark, ("code", "subcode", "times"), 1)
        code, subcode = args["code"], args.get("subcode")
        error_id = _ucwa_error_id(item, code, subcode)
        settings.ucwa_errors.append((error_id, _times(item, mark.name, args.get("times"))))
    for mark in item.iter_markers("relay_error"):
        args = _bind(item, mark, ("name", "times"), 1)
        error_id = _relay_error_id(item, args["name"])
        settings.relay_errors.append((error_id, _times(item, mark.name, args.get("times"))))

    mark = item.get_closest_marker("ucwa_format")
    if mark is not None:
        fmt = _bind(item, mark, ("fmt",), 1)["fmt"]
        settings.ucwa_format = _choice(item, mark.name, "format", fmt, FORMATS)
    mark = item.get_closest_marker("ucwa_quirks")
    if mark is not None:
        if mark.args:
            raise _fail(
                item, mark.name, "takes keyword arguments only", "uri_key=..., timestamps=..."
            )
        args = _bind(item, mark, ("uri_key", "timestamps", "offset", "location"), 0)
        if "uri_key" in args:
            _choice(item, mark.name, "uri_key", args["uri_key"], URI_KEYS)
        if "timestamps" in args:
            _choice(item, mark.name, "timestamps", args["timestamps"], TIMESTAMP_FORMS)
        if "offset" in args:
            _check_offset(item, mark.name, args["offset"])
        if "location" in args:
            _choice(item, mark.name, "location", args["location"], RELAY_LOCATIONS)
        settings.ucwa_quirks = {k: str(v) for k, v in args.items()}
    mark = item.get_closest_marker("relaytokens_errors")
    if mark is not None:
        if not mark.args or mark.kwargs:
            raise _fail(
                item,
                mark.name,
                "needs one or more selectors as positional arguments",
                '"4xx", "5xx", "409", a group, an error name or id',
            )
        settings.error_selectors = tuple(str(a) for a in mark.args)
    mark = item.get_closest_marker("relaytokens_backend")
    if mark is not None:
        backend = _bind(item, mark, ("backend",), 1)["backend"]
        settings.backend = _choice(item, mark.name, "backend", backend, BACKENDS)
    mark = item.get_closest_marker("relaytokens_cassette")
    if mark is not None:
        path = _bind(item, mark, ("path",), 1)["path"]
        if not isinstance(path, str) or not path:
            raise _fail(
                item,
                mark.name,
                f"path must be a non-empty string, got {path!r}",
                "a relative or absolute .yaml path",
            )
        settings.cassette = path
    return settings


def _check_offset(item: pytest.Item, marker: str, value: Any) -> None:
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[+-]\d\d:\d\d", value):
        raise _fail(
            item, marker, f"offset must look like '-07:00', got {value!r}", "'+hh:mm' or '-hh:mm'"
        )


def _ucwa_error_id(item: pytest.Item, code: Any, subcode: Any) -> str:
    from .ucwa.catalogue import UCWA_ERRORS, lookup_ucwa_error

    try:
        return lookup_ucwa_error(code, subcode).id
    except (LookupError, TypeError):
        valid = ", ".join(e.id for e in UCWA_ERRORS)
        shown = f"{code!r}" + (f", {subcode!r}" if subcode is not None else "")
        raise _fail(item, "ucwa_error", f"unknown UCWA error {shown}", valid) from None


def _relay_error_id(item: pytest.Item, name: Any) -> str:
    from .relay.catalogue import RELAY_ERRORS, lookup_relay_error

    try:
        return lookup_relay_error(name).id
    except (LookupError, TypeError):
        valid = ", ".join(e.name for e in RELAY_ERRORS)
        raise _fail(item, "relay_error", f"unknown Relay error {name!r}", valid) from None
