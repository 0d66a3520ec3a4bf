"""Pydantic models of the UCWA ``mediaRelayAccessToken``, ``mediaRelay`` and error bodies.

Attributes are snake_case; the wire names (``userName``, ``validUntil``, ``tcpPort``) are
aliases and either spelling is accepted (``populate_by_name``). ``valid_until`` is always
aware UTC; a timestamp string (``/Date(ms)/`` or ISO 8601) is accepted too.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import ModelWrapValidatorHandler

from .timestamps import parse_timestamp

__all__ = ["MediaRelay", "MediaRelayAccessToken", "RelayLocation", "UcwaErrorBody", "bind_clock"]

T = TypeVar("T", bound=BaseModel)

UTC = _dt.timezone.utc
RelayLocation = Literal["Internet", "Intranet", "All"]
_LOCATIONS: dict[str, RelayLocation] = {
    "internet": "Internet",
    "intranet": "Intranet",
    "all": "All",
}


def _system_now() -> _dt.datetime:
    return _dt.datetime.now(UTC)


class MediaRelay(BaseModel):
    """One A/V edge relay: host and/or addresses, where it is reachable from, TURN ports.

    Ports are ``-1`` when unset (as UCWA documents). ``location`` is read case-insensitively
    (MRAS itself says ``internet``/``intranet``).
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    host: str | None = None
    ipv4: str | None = None
    ipv6: str | None = None
    location: RelayLocation
    tcp_port: int = Field(
        default=-1,
        validation_alias=AliasChoices("tcp_port", "tcpPort"),
        serialization_alias="tcpPort",
        ge=-1,
        le=65535,
    )
    udp_port: int = Field(
        default=-1,
        validation_alias=AliasChoices("udp_port", "udpPort"),
        serialization_alias="udpPort",
        ge=-1,
        le=65535,
    )
    href: str | None = None

    @field_validator("location", mode="before")
    @classmethod
    def _location_any_case(cls, value: object) -> object:
        if isinstance(value, str):
            return _LOCATIONS.get(value.strip().lower(), value)
        return value


class MediaRelayAccessToken(BaseModel):
    """Credentials for the A/V media relay (TURN) handed out by UCWA.

    ``duration`` is in minutes; ``valid_until`` is when the credentials stop working.
    ``valid_until_ticks`` keeps the 100 ns digit an XML timestamp may carry beyond the
    microsecond, so a parsed document renders back byte for byte.
    """

    def __eq__(self, other: object) -> bool:
        """Field by field: the clock :func:`bind_clock` attaches is not a field (pydantic
        before 2.6 compares the whole ``__dict__``, which would hold it)."""
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]  # mutable, as pydantic's own models

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    duration: int
    uri: str | None = Field(default=None, validation_alias=AliasChoices("uri", "Uri", "URI"))
    password: str
    user_name: str = Field(
        validation_alias=AliasChoices("user_name", "userName"), serialization_alias="userName"
    )
    valid_until: _dt.datetime = Field(
        validation_alias=AliasChoices("valid_until", "validUntil"), serialization_alias="validUntil"
    )
    href: str | None = None
    media_relays: list[MediaRelay] = Field(
        default_factory=list,
        validation_alias=AliasChoices("media_relays", "mediaRelay"),
        serialization_alias="mediaRelay",
    )

    _ticks: int = PrivateAttr(0)
    _ticks_for: _dt.datetime | None = PrivateAttr(None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_ticks(
        cls, data: Any, handler: ModelWrapValidatorHandler[MediaRelayAccessToken]
    ) -> MediaRelayAccessToken:
        ticks = 0
        if isinstance(data, dict):
            raw = data.get("validUntil", data.get("valid_until"))
            if isinstance(raw, str):
                try:
                    ticks = parse_timestamp(raw)[1]
                except ValueError:
                    ticks = 0  # the field validator reports the error
        model = handler(data)
        if ticks:
            model._set_ticks(ticks)
        return model

    @field_validator("valid_until", mode="before")
    @classmethod
    def _read_timestamp(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_timestamp(value)[0]
        return value

    @field_validator("valid_until")
    @classmethod
    def _as_utc(cls, value: _dt.datetime) -> _dt.datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def _set_ticks(self, ticks: int) -> None:
        self._ticks = ticks
        self._ticks_for = self.valid_until if ticks else None

    @property
    def valid_until_ticks(self) -> int:
        """The 100 ns digit (0-9) beyond ``valid_until``'s microsecond, if one was parsed."""
        return self._ticks if self._ticks_for == self.valid_until else 0

    @property
    def expires_at(self) -> _dt.datetime:
        """Alias of ``valid_until`` (aware UTC)."""
        return self.valid_until

    def is_expired(self, now: _dt.datetime | None = None) -> bool:
        """True once ``now`` (default: the system clock) reaches ``valid_until``."""
        return self.remaining(now) <= _dt.timedelta(0)

    def remaining(self, now: _dt.datetime | None = None) -> _dt.timedelta:
        """Time left until ``valid_until``; negative once expired (how long ago it expired)."""
        if now is None:
            clock = self.__dict__.get("_relaytokens_clock")  # bound by the plugin's fixtures
            now = clock.now() if clock is not None else _system_now()
        elif now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return self.valid_until - now


class UcwaErrorBody(BaseModel):
    """A UCWA ``reason`` (error) body: only ``code`` is required."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    code: str
    subcode: str | None = None
    message: str | None = None
    debug_info: dict[str, str] | None = Field(
        default=None,
        validation_alias=AliasChoices("debug_info", "debugInfo"),
        serialization_alias="debugInfo",
    )
    parameters: dict[str, str] | None = None
    link: str | None = None


def bind_clock(token: T, clock: Any) -> T:
    """Let ``token`` answer ``is_expired()``/``remaining()`` without an argument on ``clock``
    (anything with ``now()``). Kept beside the fields: equality and serialisation ignore it."""
    token.__dict__["_relaytokens_clock"] = clock
    return token
