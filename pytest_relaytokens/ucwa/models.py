"""Pydantic models of the UCWA ``mediaRelayAccessToken``, ``mediaRelay`` and error bodies.

Attributes are snake_case; the wire names (``userName``, ``validUntil``, ``tcpPort``) are
aliases and either spelling is accepted (``populate_by_name``). ``valid_until`` is always
aware UTC; a timestamp string (``/Date(ms)/`` or ISO 8601) is accepted too.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

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

from ..clock import bound_now
from ..tokens import TokenModel
from .timestamps import parse_timestamp, truncate_ms

__all__ = [
    "Application",
    "ApplicationStore",
    "Bearer",
    "Channel",
    "MediaRelay",
    "MediaRelayAccessToken",
    "RelayLocation",
    "UcwaCredentials",
    "UcwaErrorBody",
]

UTC = _dt.timezone.utc
RelayLocation = Literal["Internet", "Intranet", "All"]
_LOCATIONS: dict[str, RelayLocation] = {
    "internet": "Internet",
    "intranet": "Intranet",
    "all": "All",
}


def _port_field(name: str, wire: str) -> Any:
    """A TURN port field: ``-1`` when unset, else 0-65535; read under either name."""
    return Field(
        default=-1,
        validation_alias=AliasChoices(name, wire),
        serialization_alias=wire,
        ge=-1,
        le=65535,
    )


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
    tcp_port: int = _port_field("tcp_port", "tcpPort")
    udp_port: int = _port_field("udp_port", "udpPort")
    href: str | None = None

    @field_validator("location", mode="before")
    @classmethod
    def _location_any_case(cls, value: object) -> object:
        if isinstance(value, str):
            return _LOCATIONS.get(value.strip().lower(), value)
        return value


class MediaRelayAccessToken(TokenModel):
    """Credentials for the A/V media relay (TURN) handed out by UCWA.

    ``duration`` is in minutes; ``valid_until`` is when the credentials stop working.
    ``valid_until_ticks`` keeps the 100 ns digit an XML timestamp (or the factory) may carry
    beyond the microsecond, so a parsed document renders back byte for byte.
    """

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
        """True once ``now`` (default: the bound clock, else the system's) reaches
        ``valid_until``'s millisecond."""
        return self.remaining(now) <= _dt.timedelta(0)

    def remaining(self, now: _dt.datetime | None = None) -> _dt.timedelta:
        """Time left until ``valid_until``'s millisecond (what ``/Date(ms)/`` and the test
        clock resolve); negative once expired (how long ago it expired)."""
        if now is None:
            now = bound_now(self)
        elif now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return truncate_ms(self.valid_until) - now


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


@dataclass
class UcwaCredentials:
    """What a test needs to talk to the fake: the WebTicket user, a pre-issued valid bearer
    (``cwt=...``, a JWT when online), a pre-created application id, the user's SIP URI and
    the meeting an anonymous client joins (``conference_uri`` with key ``conference_key``)."""

    username: str
    password: str
    bearer: str
    application_id: str
    sip_uri: str
    conference_uri: str = ""
    conference_key: str = ""


@dataclass
class Bearer:
    """An issued bearer: when it expires (None: never), whether it is an anonymous
    meeting-join one, the JWT audience it is for (online) and whether it was revoked."""

    expires: _dt.datetime | None
    anonymous: bool = False
    audience: str | None = None
    revoked: bool = False


@dataclass
class Channel:
    """One event channel (one per ``instanceId``): the next batch number, what is queued,
    the last batch sent (re-sent when the client repeats its ack) and which P-GET is the
    current one (a newer one releases the older with 409 PGetReplaced)."""

    ack: int = 1
    pending: list[dict[str, Any]] = field(default_factory=list)
    last: tuple[int, dict[str, Any]] | None = None
    generation: int = 0


@dataclass
class Application:
    """One registered application and everything the fake remembers about it."""

    id: str
    prefix: str
    user_agent: str
    endpoint_id: str
    culture: str
    type: str
    owner: str
    created: _dt.datetime
    last_seen: _dt.datetime
    relays: list[MediaRelay] = field(default_factory=list)
    etag: int = 1
    anonymous: bool = False
    available: bool = False
    sign_in_as: str = "Online"
    last_release: _dt.datetime | None = None
    instances: set[str] = field(default_factory=set)
    channels: dict[str, Channel] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"/ucwa/{self.prefix}/applications/{self.id}"

    def channel(self, instance: str) -> Channel:
        if instance not in self.channels:
            self.channels[instance] = Channel()
        return self.channels[instance]


class ApplicationStore:
    """The live applications by id, and why each ended one ended (the latest
    ``MAX_TOMBSTONES``: a later request for it gets 410 with that reason)."""

    MAX_TOMBSTONES = 1000

    def __init__(self, on_end: Callable[[], None] = lambda: None) -> None:
        self.apps: dict[str, Application] = {}
        self.ended: dict[str, str] = {}
        self._on_end = on_end  # wakes pending event P-GETs

    def taken(self, app_id: str) -> bool:
        return app_id in self.apps or app_id in self.ended

    def owned_by(self, owner: str) -> list[Application]:
        return [a for a in list(self.apps.values()) if a.owner == owner]

    def add(self, app: Application, limit: int | None) -> None:
        """Store ``app``; at ``limit`` its owner's least recently used application ends
        with ``TooManyApplications``."""
        mine = self.owned_by(app.owner)
        if limit is not None and len(mine) >= limit:
            oldest = min(mine, key=lambda a: a.last_release or a.last_seen)
            self.end(oldest.id, "TooManyApplications")
        self.apps[app.id] = app

    def end(self, app_id: str, reason: str) -> None:
        self.apps.pop(app_id, None)
        self.ended[app_id] = reason
        while len(self.ended) > self.MAX_TOMBSTONES:
            del self.ended[next(iter(self.ended))]
        self._on_end()

    def find(
        self,
        app_id: str,
        now: _dt.datetime,
        idle: _dt.timedelta | None,
        owner: str | None = None,
    ) -> tuple[Application | None, str]:
        """The live application (its ``last_seen`` now ``now``), or None and the catalogue
        error to answer with; one idle longer than ``idle`` ends here. With ``owner``, another
        owner's application answers as one that does not exist (404 ApplicationNotFound,
        untouched). Inferred: a server resolves an application among its caller's own, and
        hiding it (rather than 403) tells a stranger nothing (reference ucwa.md §3.3)."""
        if app_id in self.ended:
            return None, f"410-Gone-{self.ended[app_id]}"
        app = self.apps.get(app_id)
        if app is None or (owner is not None and app.owner != owner):
            return None, "ApplicationNotFound"
        since = app.last_release or app.last_seen
        if idle is not None and now - since > idle:
            self.end(app_id, "InactiveApplicationExpired")
            return None, "410-Gone-InactiveApplicationExpired"
        app.last_seen = now
        return app, ""
