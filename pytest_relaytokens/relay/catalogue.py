# ruff: noqa: E501  (the error table below keeps one entry per line)
"""Every documented Relay error (reference §3) plus the few inferred ones the fake needs.

Each entry answers with the service-wide four-key envelope. Entries marked ``inferred`` are
not in the documentation: their status, code, message or details were chosen by us. Inferred
``errorCode`` values are ``abs(Java String.hashCode(errorName))`` so they are deterministic
and look like the documented hash-like codes (the documented codes are *not* computed this way).
"""

from __future__ import annotations

import copy
import datetime as _dt
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from ..http import FakeResponse

if TYPE_CHECKING:  # loaded on first use: the end-of-run report needs only the entries
    from .models import RelayErrorBody

__all__ = [
    "RELAY_ERRORS",
    "RelayErrorEntry",
    "java_hash_code",
    "json_headers",
    "lookup_relay_error",
]


def java_hash_code(text: str) -> int:
    """``abs(text.hashCode())`` as Java computes it (32-bit signed, UTF-16 units)."""
    value = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        value = (31 * value + int.from_bytes(data[i : i + 2], "big")) & 0xFFFFFFFF
    if value >= 0x80000000:
        value -= 0x100000000
    return abs(value)


def json_headers(when: _dt.datetime | None = None) -> list[tuple[str, str]]:
    """The headers every Relay JSON answer carries (Spring-style cache headers are inferred)."""
    headers = [
        ("Content-Type", "application/json"),
        ("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
        ("Pragma", "no-cache"),
        ("Expires", "0"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if when is not None:
        headers.insert(0, ("Date", format_datetime(when.astimezone(_dt.timezone.utc), usegmt=True)))
    return headers


@dataclass(frozen=True)
class RelayErrorEntry:
    """One error of the catalogue: its envelope, HTTP status and provenance."""

    name: str
    status: int
    error_code: int
    message: str
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    inferred: bool = False
    source: str = "reference §3 (S5)"
    note: str = ""
    extra_headers: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.status}-{self.name}"

    def body_model(
        self, *, message: str | None = None, details: dict[str, Any] | None = None
    ) -> RelayErrorBody:
        from .models import RelayErrorBody

        return RelayErrorBody(
            error_code=self.error_code,
            error_name=self.name,
            error_message=self.message if message is None else message,
            error_details=copy.deepcopy(self.details) if details is None else details,
        )

    def response(
        self,
        *,
        message: str | None = None,
        details: dict[str, Any] | None = None,
        when: _dt.datetime | None = None,
    ) -> FakeResponse:
        """A full HTTP answer; ``message``/``details`` replace the defaults, ``when`` adds Date."""
        from .wire import render_error

        body = render_error(self.body_model(message=message, details=details))
        headers = json_headers(when)
        headers.extend(self.extra_headers)
        return FakeResponse(self.status, headers, body, error_id=self.id)


_LISTENER = "527ca9e2776a7e02dd2e15fe"
_ENDPOINT = "550c9289e4b0c0c6485f4cfa"


_HASH = -1  # errorCode column: abs(Java hashCode) of the name (inferred codes)


def _row(
    name: str,
    status: int,
    error_code: int,
    inferred: bool,
    source: str,
    message: str,
    details: dict[str, Any],
    note: str,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> RelayErrorEntry:
    """One row of the table below, in its column order."""
    code = java_hash_code(name) if error_code == _HASH else error_code
    return RelayErrorEntry(
        name, status, code, message, details, inferred, source, note, extra_headers
    )


# fmt: off
RELAY_ERRORS: tuple[RelayErrorEntry, ...] = (
    # name, status, errorCode, inferred, source, message, errorDetails, note[, extra headers]
    _row("AuthenticationFailed",    502, 1780355652, False, "reference §3 (S5)",         "Authentication failed from Board Room (10.20.30.40); check the Endpoint's username and password.", {"causes": ["HTTP 401 Unauthorized"], "command": "Invitation", "listenerServiceId": _LISTENER, "remoteAddress": "10.20.30.40", "remoteId": _ENDPOINT, "remoteName": "Board Room", "remoteRequest": "POST /putxml HTTP/1.1", "remoteResponse": "HTTP/1.1 401 Unauthorized"}, ""),
    _row("BadCommand",              500, 47328961,   False, "reference §3 (S5)",         "The Listener Service rejected the command Dial.", {"commandName": "Dial", "causes": ["Unsupported command for TANDBERG_HTTP"], "listenerServiceId": _LISTENER}, ""),
    _row("BadCredentialsException", 401, 1285563821, False, "reference §3 (S5)",         "Not Authorized.", {"errorMessage": "Not Authorized.", "errorCode": 1285563821}, "errorDetails values inferred (keys documented)"),
    _row("CalendarServerException", 502, 187263818,  False, "reference §3 (S5)",         "The calendar server could not be reached.", {"calendarId": "board-room@corp.com", "message": "Calendar server answered 503 Service Unavailable"}, ""),
    _row("CommandTimedOut",         504, 1331991805, False, "reference §3 (S5)",         "The Listener Service did not answer the command Dial in time.", {"commandName": "Dial", "causes": ["No response within 30000 ms"], "listenerServiceId": _LISTENER}, ""),
    _row("DuplicateCalendarId",     400, 1782937294, False, "reference §3 (S5)",         "Another Endpoint already uses this calendar id.", {"message": "Calendar id board-room@corp.com is already in use", "causeMessage": "E11000 duplicate key error index: relay.endpoints.$calendarId_1"}, ""),
    _row("ListenerOffline",         503, 208581637,  True,  "reference §3 (S11 README)", "The Listener Service is offline.", {"listenerServiceId": _LISTENER}, "HTTP status 503 inferred (only seen inside a Failure record)"),
    _row("EncryptionUpdated",       409, _HASH,      True,  "inferred",                  "The Enterprise's encryption key was updated; re-encrypt Endpoint passwords.", {"enterpriseId": "53aa2cafe4b044cc59538612", "message": "Public key changed"}, "listed in S5 but cut off: status 409, code, message and details inferred"),
    _row("AccessTokenNotFound",     404, _HASH,      True,  "inferred",                  "Access token not found.", {"accessToken": "i0gni52qmhtdsht5pvpu68dv96gqvil6"}, "auth.getAccessToken documents a 404 without its body"),
    _row("TooManyRequests",         429, _HASH,      True,  "inferred",                  "Rate limit exceeded: keep below 2 requests per second.", {"limit": 2, "period": "1s"}, "429 documented (S6); name, code, body and Retry-After inferred", (("Retry-After", "1"),)),
    _row("AccessDeniedException",   403, _HASH,      True,  "inferred",                  "Access is denied.", {"requiredRole": "ROLE_READWRITE", "roles": ["ROLE_READONLY"]}, "a 403 for too-weak roles is not documented"),
    _row("InvalidParameter",        400, _HASH,      True,  "inferred",                  "Invalid value for parameter 'duration'.", {"parameter": "duration", "value": "-2"}, "validation of duration/roles/code is not documented"),
    _row("ResourceNotFound",        404, _HASH,      True,  "inferred",                  "No resource at /api/unknown.", {"path": "/api/unknown"}, "the envelope for unknown paths is not documented"),
    _row("MethodNotAllowed",        405, _HASH,      True,  "inferred",                  "Request method 'DELETE' not supported.", {"method": "DELETE", "path": "/api/auth/accesstokens"}, "the envelope for unsupported methods is not documented"),
)
# fmt: on

_BY_NAME = {entry.name.lower(): entry for entry in RELAY_ERRORS}
_BY_ID = {entry.id.lower(): entry for entry in RELAY_ERRORS}
assert len(_BY_ID) == len(RELAY_ERRORS), "catalogue ids must be unique"


def lookup_relay_error(name: str) -> RelayErrorEntry:
    """The entry named ``name`` (an errorName or an id like ``401-BadCredentialsException``)."""
    key = name.strip().lower()
    entry = _BY_NAME.get(key) or _BY_ID.get(key)
    if entry is None:
        valid = ", ".join(e.name for e in RELAY_ERRORS)
        raise LookupError(f"unknown Relay error {name!r}; valid names: {valid}")
    return entry
