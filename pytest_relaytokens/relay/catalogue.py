# ruff: noqa: E501  (the error table below keeps one entry per line)
"""Every documented Relay error (reference §3) plus the few inferred ones the fake needs.

Each entry answers with the service-wide four-key envelope. Every entry names its ``source``;
``inferred`` marks an entry whose status or code the documentation does not give, and
``inferred_parts`` lists every part we chose (status, code, message, details, headers) with
the reason. Documented messages are the S5 catalogue's example texts, verbatim. Inferred
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
    """One error of the catalogue: its envelope, HTTP status and provenance.

    ``inferred``: the status or ``errorCode`` is not documented (the entry is ours).
    ``source``: where the documented parts come from. ``inferred_parts``: every part the
    documents do not give (``status``, ``errorCode``, ``message``, ``details``, ``headers``),
    each with the reason for our choice.
    """

    name: str
    status: int
    error_code: int
    message: str
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    inferred: bool = False
    source: str = "relay.md §3 (S5)"
    inferred_parts: tuple[tuple[str, str], ...] = ()
    extra_headers: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.status}-{self.name}"

    @property
    def note(self) -> str:
        """The inferred parts and their reasons as one line ("" when all is documented)."""
        return "; ".join(f"{part}: {why}" for part, why in self.inferred_parts)

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
_HASH = -1  # errorCode column: abs(Java hashCode) of the name (inferred codes)

# Reasons shared by several rows (the "inferred parts" column).
_VALUES = ("details", "keys documented (S5); the values are ours, consistent with the message")
_CODE = ("errorCode", "not documented: abs(Java String.hashCode(errorName)), deterministic")
_BODY = ("message", "not documented: a Spring-style sentence of ours")


def _row(
    name: str,
    status: int,
    error_code: int,
    inferred: bool,
    source: str,
    message: str,
    details: dict[str, Any],
    inferred_parts: tuple[tuple[str, str], ...],
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> RelayErrorEntry:
    """One row of the table below, in its column order."""
    code = java_hash_code(name) if error_code == _HASH else error_code
    return RelayErrorEntry(
        name, status, code, message, details, inferred, source, inferred_parts, extra_headers
    )


# fmt: off
RELAY_ERRORS: tuple[RelayErrorEntry, ...] = (
    # name, status, errorCode, inferred, source, message, errorDetails, inferred parts (part, why)[, extra headers]
    _row("AuthenticationFailed",    502, 1780355652, False, "relay.md §3 (S5 example, all values)",                "Authentication failed from My Endpoint (1.2.3.4); it is probably provisioned incorrectly.", {"causes": ["HTTP 401 Unauthorized"], "command": "Invitation", "listenerServiceId": "123", "remoteAddress": "1.2.3.4", "remoteId": "abc", "remoteName": "My Endpoint", "remoteRequest": "GET http://1.2.3.4/ HTTP/1.1\nAuthorization: Basic [redacted]", "remoteResponse": "HTTP/1.1 401 Unauthorized"}, ()),
    _row("BadCommand",              500, 47328961,   False, "relay.md §3 (S5 catalog)",                           "Listener Service could not parse the command; upgrade it to the latest version.", {"commandName": "Dial", "causes": ["Unrecognized command Dial"], "listenerServiceId": _LISTENER}, (_VALUES,)),
    _row("BadCredentialsException", 401, 1285563821, False, "relay.md §3 (S5 catalog)",                           "Not Authorized.", {"errorMessage": "Not Authorized.", "errorCode": 1285563821}, (_VALUES,)),
    _row("CalendarServerException", 502, 187263818,  False, "relay.md §3 (S5 catalog)",                           "Unable to retrieve details from calendar server for ID [unknown]: java.lang.RuntimeException (null)", {"calendarId": "[unknown]", "message": "java.lang.RuntimeException (null)"}, (_VALUES,)),
    _row("CommandTimedOut",         504, 1331991805, False, "relay.md §3 (S5 catalog)",                           "Request timed out to Listener Service; it may be offline or an old version.", {"commandName": "Dial", "causes": ["No response within 30000 ms"], "listenerServiceId": _LISTENER}, (_VALUES,)),
    _row("DuplicateCalendarId",     400, 1782937294, False, "relay.md §3 (S5 catalog)",                           "Duplicate calendarID!", {"message": "Duplicate calendarID!", "causeMessage": "E11000 duplicate key error index: relay.endpoints.$calendarId_1"}, (_VALUES,)),
    _row("ListenerOffline",         503, 208581637,  True,  "relay.md §3 (S11 README: code, message, details keys)", "The Listener Service is offline.", {"listenerServiceId": _LISTENER}, (("status", "only seen inside a stored Failure record; 503 is what an offline backend gets"),)),
    _row("EncryptionUpdated",       409, _HASH,      True,  "relay.md §3 (S5 catalog: name and message)",         "Public key for endpoint password encryption has been updated, deleted, or added. Re-enter Password!", {"enterpriseId": "53aa2cafe4b044cc59538612", "message": "Public key changed"}, (("status", "cut off in the stored S5 page; 409: the stored password conflicts with the new key"), _CODE, ("details", "cut off in the stored S5 page; keys and values are ours"))),
    _row("AccessTokenNotFound",     404, _HASH,      True,  "relay.md §2.5 (S4: auth.getAccessToken answers 404)", "Access token not found.", {"accessToken": "i0gni52qmhtdsht5pvpu68dv96gqvil6"}, (("status", "404 documented (S4), the name is ours"), _CODE, _BODY, ("details", "the 404 body is not shown (S4)"))),
    _row("TooManyRequests",         429, _HASH,      True,  "relay.md §1 (S6: keep below 2/s, else 429)",          "Rate limit exceeded: keep below 2 requests per second.", {"limit": 2, "period": "1s"}, (("status", "429 documented (S6), the name is ours"), _CODE, _BODY, ("details", "the 429 body is not documented"), ("headers", "Retry-After: 1 (one second, the documented window)")), (("Retry-After", "1"),)),
    _row("AccessDeniedException",   403, _HASH,      True,  "relay.md §2.4 (S3: roles), Spring Security's name",   "Access is denied.", {"requiredRole": "ROLE_READWRITE", "roles": ["ROLE_READONLY"]}, (("status", "a 403 for too-weak roles is not documented; Spring Security's AccessDeniedException"), _CODE, ("message", "Spring Security's default text"), ("details", "ours"))),
    _row("InvalidParameter",        400, _HASH,      True,  "relay.md §2.1 (S1: duration, roles, code inputs)",    "Invalid value for parameter 'duration'.", {"parameter": "duration", "value": "-2"}, (("status", "validation of duration/roles/code is not documented"), _CODE, _BODY, ("details", "ours"))),
    _row("ResourceNotFound",        404, _HASH,      True,  "relay.md §3 (S5: the service-wide envelope)",         "No resource at /api/unknown.", {"path": "/api/unknown"}, (("status", "the envelope for unknown paths is not documented"), _CODE, _BODY, ("details", "ours"))),
    _row("MethodNotAllowed",        405, _HASH,      True,  "relay.md §3 (S5: the service-wide envelope)",         "Request method 'DELETE' not supported.", {"method": "DELETE", "path": "/api/auth/accesstokens"}, (("status", "the envelope for unsupported methods is not documented"), _CODE, ("message", "Spring MVC's default text"), ("details", "ours"))),
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
