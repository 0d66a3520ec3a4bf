"""Pydantic models of the Relay AccessToken, Enterprise and error envelope.

Attributes are snake_case; the wire names are camelCase aliases. Dates are epoch-millisecond
JSON integers on the wire and aware UTC :class:`~datetime.datetime` values in Python.
"""

from __future__ import annotations

import base64
import datetime as _dt
import enum
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from ..clock import EPOCH, UTC, bound_now
from ..tokens import TokenModel

__all__ = [
    "ClientDeviceType",
    "RelayAccessToken",
    "RelayCredentials",
    "RelayEnterprise",
    "RelayErrorBody",
    "TokenStore",
    "datetime_from_ms",
    "datetime_to_ms",
]


ROLE_READONLY = "ROLE_READONLY"
ROLE_READWRITE = "ROLE_READWRITE"
ROLE_PAIRINGCODE = "ROLE_PAIRINGCODE"
KNOWN_ROLES = (ROLE_READONLY, ROLE_READWRITE, ROLE_PAIRINGCODE)


class ClientDeviceType(str, enum.Enum):
    """The documented ``clientDeviceType`` values."""

    IOS_NATIVE = "IOS_NATIVE"
    IOS = "IOS"
    ANDROID = "ANDROID"
    MOBILE = "MOBILE"
    TABLET = "TABLET"
    NORMAL = "NORMAL"
    UNKNOWN = "UNKNOWN"


def datetime_from_ms(ms: int) -> _dt.datetime:
    """Epoch milliseconds to an aware UTC datetime."""
    return EPOCH + _dt.timedelta(milliseconds=ms)


def datetime_to_ms(when: _dt.datetime) -> int:
    """An aware (or naive = UTC) datetime to epoch milliseconds (floored)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _coerce_epoch_ms(value: object) -> _dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(microsecond=value.microsecond - value.microsecond % 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError(
            "epoch_ms",
            "dates must be JSON integers of epoch milliseconds, not {kind}",
            {"kind": type(value).__name__},
        )
    try:
        return datetime_from_ms(value)
    except OverflowError:
        raise PydanticCustomError(
            "epoch_ms_range", "epoch milliseconds out of range for a date", {}
        ) from None


class _WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=False
    )


class RelayAccessToken(_WireModel, TokenModel):
    """A Relay AccessToken (``POST /api/auth/accesstokens`` and ``auth.getAccessToken``)."""

    access_token: StrictStr
    client_name: StrictStr | None = None
    creation_date: _dt.datetime
    enterprise_name: StrictStr
    expiration_date: _dt.datetime | None = None
    roles: list[StrictStr] = Field(default_factory=list)
    creator: StrictStr | None = None
    seam_id: StrictStr | None = None
    client_device_type: ClientDeviceType | None = None
    first_name: StrictStr | None = None
    last_name: StrictStr | None = None
    username: StrictStr | None = None
    pairing_code_id: StrictStr | None = None
    pairing_code_endpoint_id: StrictStr | None = None

    @field_validator("creation_date", mode="before")
    @classmethod
    def _creation_ms(cls, value: object) -> _dt.datetime:
        result = _coerce_epoch_ms(value)
        if result is None:
            raise PydanticCustomError("epoch_ms_null", "creationDate must not be null", {})
        return result

    @field_validator("expiration_date", mode="before")
    @classmethod
    def _expiration_ms(cls, value: object) -> _dt.datetime | None:
        return _coerce_epoch_ms(value)

    @property
    def expires_at(self) -> _dt.datetime | None:
        """When the token expires; None for a never-expiring token (``duration=-1``)."""
        return self.expiration_date

    @property
    def never_expires(self) -> bool:
        return self.expiration_date is None

    def is_expired(self, now: _dt.datetime | None = None) -> bool:
        """True once ``now`` (default: the system clock) reaches the expiration date."""
        if self.expiration_date is None:
            return False
        return self._now(now) >= self.expiration_date

    def remaining(self, now: _dt.datetime | None = None) -> _dt.timedelta | None:
        """Time left before expiry; negative once expired; None for a never-expiring token."""
        if self.expiration_date is None:
            return None
        return self.expiration_date - self._now(now)

    def _now(self, now: _dt.datetime | None) -> _dt.datetime:
        return _aware(bound_now(self) if now is None else now)

    @property
    def creation_ms(self) -> int:
        return datetime_to_ms(self.creation_date)

    @property
    def expiration_ms(self) -> int | None:
        return None if self.expiration_date is None else datetime_to_ms(self.expiration_date)


class RelayEnterprise(_WireModel):
    """The caller's Enterprise (``GET /api/enterprises/self``)."""

    id: StrictStr
    name: StrictStr
    label: StrictStr | None = None
    password: StrictStr | None = None
    tags: list[Any] = Field(default_factory=list)
    public_key: StrictStr | None = None
    point_of_contact: StrictStr | None = None


class RelayErrorBody(_WireModel):
    """The service-wide four-key error envelope."""

    error_code: StrictInt
    error_name: StrictStr
    error_message: StrictStr
    error_details: dict[str, Any] = Field(default_factory=dict)


def _aware(now: _dt.datetime) -> _dt.datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RelayCredentials:
    """What a test needs to call the fake: Basic login, a Seam token, pre-issued tokens."""

    username: str
    password: str
    seam_token: str
    enterprise_name: str
    access_token: str
    readonly_access_token: str
    pairing_code: str

    @property
    def basic_authorization(self) -> str:
        """The ``Authorization`` header value for the Basic login."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


class TokenStore:
    """The tokens the fake issued (by value, and in order) and the ones a test revoked."""

    def __init__(self) -> None:
        self.issued: list[RelayAccessToken] = []
        self.by_value: dict[str, RelayAccessToken] = {}
        self.revoked: set[str] = set()

    def add(self, token: RelayAccessToken) -> None:
        self.by_value[token.access_token] = token
        self.issued.append(token)

    def get(self, value: str) -> RelayAccessToken | None:
        """The issued token ``value`` names, revoked or not."""
        return self.by_value.get(value)

    def live(self, value: str) -> RelayAccessToken | None:
        """The issued token ``value`` names, unless it was revoked (expiry is the caller's)."""
        return None if value in self.revoked else self.by_value.get(value)
