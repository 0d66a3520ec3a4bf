"""Seeded, fast factories of realistic Relay values (no Faker on the hot path).

Same seed (and same clock reading) gives the same objects. Shapes follow reference §5:
32-character ``[0-9a-v]`` access tokens, UUIDv4-like 32-hex Seam tokens, MongoDB ObjectIds
whose first 8 hex digits are the creation second, epoch-ms dates, two-week default lifetime
(one day for Zero Touch pairing-code tokens).
"""

from __future__ import annotations

import base64
import datetime as _dt
from typing import Any, cast

from .._prebuilt import Prebuilt
from ..clock import bind_clock
from ..tokens import SeededFactory
from .models import (
    ROLE_PAIRINGCODE,
    ROLE_READONLY,
    ROLE_READWRITE,
    RelayAccessToken,
    RelayEnterprise,
    datetime_from_ms,
)

__all__ = [
    "ACCESS_TOKEN_ALPHABET",
    "DEFAULT_LIFETIME",
    "PAIRING_LIFETIME",
    "RelayTokenFactory",
]

ACCESS_TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuv"
DEFAULT_LIFETIME = _dt.timedelta(milliseconds=1_209_600_000)
PAIRING_LIFETIME = _dt.timedelta(milliseconds=86_400_000)
DEFAULT_ROLES = (ROLE_READONLY, ROLE_READWRITE)

_ENTERPRISE_BASES = (
    "acme",
    "globex",
    "initech",
    "contoso",
    "fabrikam",
    "northwind",
    "tailspin",
    "wingtip",
    "litware",
    "adatum",
    "proseware",
    "woodgrove",
    "lucerne",
    "humongous",
    "alpine",
    "bluesky",
    "cascade",
    "summit",
    "harbor",
    "redwood",
)
_ENTERPRISE_SUFFIXES = ("", "", "corp", "labs", "health", "bank", "edu", "group", "media")
_CLIENT_NAMES = (
    "My Client App",
    "my_relay_client_app",
    "Relay Dashboard",
    "Room Scheduler",
    "calendar-sync",
    "Crestron Panel",
    "Zero Touch Onboarding",
    "Helpdesk Console",
    "provisioning-script",
    "relay-cli",
    "Endpoint Monitor",
    "Failure Reporter",
)
_TOKEN_FIELDS = frozenset(RelayAccessToken.model_fields)
_ENTERPRISE_FIELDS = frozenset(RelayEnterprise.model_fields)
_UTC = _dt.timezone.utc
_NEW_TOKEN = Prebuilt(RelayAccessToken)
#: the fields a default token sets (the others stay unset: rendering omits them)
_DEFAULT_SET = frozenset(
    ("access_token", "client_name", "creation_date", "enterprise_name", "expiration_date", "roles")
)
_NEW_ENTERPRISE = Prebuilt(RelayEnterprise)
#: RFC 4648 base 32 -> the token alphabet, digit for digit.
_TOKEN_CHARS = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ACCESS_TOKEN_ALPHABET.encode())


def _utc_ms(value: _dt.datetime) -> _dt.datetime:
    """What the model's date validators make of an aware datetime: UTC, floored to the ms."""
    if value.tzinfo is not _UTC:
        value = value.astimezone(_UTC)
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def _check_overrides(overrides: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise TypeError(f"unknown {what} field(s) {unknown}; valid: {sorted(allowed)}")


class RelayTokenFactory(SeededFactory):
    """Builds :class:`RelayAccessToken` and :class:`RelayEnterprise` objects and raw values.

    ``seed`` is an int or a :class:`random.Random`; ``clock`` (default: a flowing
    :class:`Clock`) gives creation dates; ``policy`` sets every token's expiry and the server
    skew added to creation dates. Every token answers ``is_expired()``/``remaining()`` on
    ``clock``.
    """

    def _start(self) -> None:
        base, suffix = self._enterprise_parts()
        self.enterprise_name = base + suffix
        self._enterprise_suffix = suffix
        self._enterprise_base = base

    @property
    def enterprise_label(self) -> str:
        """The Enterprise's display label, e.g. ``Acme Labs``."""
        parts = (self._enterprise_base, self._enterprise_suffix)
        return " ".join(p.capitalize() for p in parts if p)

    # raw values --------------------------------------------------------------------------
    def access_token_string(self) -> str:
        """32 lower-case base-32 characters (``[0-9a-v]``), as in the S3 example."""
        # base 32 of 20 drawn bytes, then the RFC 4648 alphabet mapped onto [0-9a-v]
        return base64.b32encode(self._take(20)).translate(_TOKEN_CHARS).decode("ascii")

    def seam_token(self) -> str:
        """32 hex characters shaped like ``uuid4().hex`` (13th is ``4``, 17th in ``89ab``)."""
        value = int.from_bytes(self._take(16), "little")
        value &= ~(0xF000 << 64)
        value |= 0x4000 << 64
        value &= ~(0xC000 << 48)
        value |= 0x8000 << 48
        return f"{value:032x}"

    def object_id(self, at: _dt.datetime | None = None) -> str:
        """A 24-hex MongoDB ObjectId; the first 8 hex digits are ``at`` (default now) in seconds.

        Three in four carry ``e4b0`` at hex positions 9-12, like most documented ids.
        """
        when = self.server_now() if at is None else at
        seconds = int(when.timestamp()) & 0xFFFFFFFF
        drawn = int.from_bytes(self._take(8), "little")  # 1 byte: e4b0?, 2: machine, 5: count
        machine = "e4b0" if drawn & 0xFF < 192 else f"{(drawn >> 8) & 0xFFFF:04x}"
        return f"{seconds:08x}{machine}{(drawn >> 24) & 0xFFFF_FFFF_FFFF:012x}"

    def pairing_code(self) -> str:
        """A Zero Touch pairing code: six digits (the real format is not documented)."""
        return f"{self._below(1_000_000):06d}"

    def client_name(self) -> str:
        return _CLIENT_NAMES[self._below(len(_CLIENT_NAMES))]

    def _below(self, n: int) -> int:
        """A number in ``range(n)`` from 4 drawn bytes (n is small: the bias is negligible)."""
        return int.from_bytes(self._take(4), "little") % n

    def server_now(self) -> _dt.datetime:
        """The clock reading plus the policy's server skew."""
        return self.clock.now() + self.policy.server_skew

    # models -----------------------------------------------------------------------------
    def build(self, **overrides: Any) -> RelayAccessToken:
        """A token as ``POST /api/auth/accesstokens`` returns it; any field may be overridden.

        The expiry follows the policy: two weeks by default, one day when ``roles`` holds
        ``ROLE_PAIRINGCODE`` (then the pairing fields are filled in too).
        """
        policy = self.policy
        if not (overrides or policy.already_expired or policy.never_expires) and (
            policy.lifetime is None
        ):  # the common case, the same values in fewer steps
            return self._build_default()
        if overrides:
            _check_overrides(overrides, _TOKEN_FIELDS, "RelayAccessToken")
        creation = overrides["creation_date"] if "creation_date" in overrides else self.server_now()
        if isinstance(creation, int) and not isinstance(creation, bool):
            creation = datetime_from_ms(creation)
        roles = list(overrides.get("roles", DEFAULT_ROLES))
        pairing = ROLE_PAIRINGCODE in roles
        data: dict[str, Any] = {
            "access_token": self.access_token_string(),
            "client_name": self.client_name() if self._take(1)[0] < 154 else None,  # 60%
            "creation_date": creation,
            "enterprise_name": self.enterprise_name,
            "roles": roles,
        }
        if "expiration_date" not in overrides and isinstance(creation, _dt.datetime):
            lifetime = PAIRING_LIFETIME if pairing else DEFAULT_LIFETIME
            data["expiration_date"] = self.policy.expiry(creation, lifetime)
        else:
            data["expiration_date"] = None
        if pairing:
            data["pairing_code_id"] = self.object_id()
            data["pairing_code_endpoint_id"] = self.object_id()
        if not overrides:  # every value is already what validation would make of it
            data["creation_date"] = _utc_ms(cast(_dt.datetime, creation))
            expiry = data["expiration_date"]
            data["expiration_date"] = None if expiry is None else _utc_ms(expiry)
            token = _NEW_TOKEN(data)
        else:
            data.update(overrides)
            token = RelayAccessToken.model_validate(data)
        bind_clock(token, self.clock)
        return token

    def _build_default(self) -> RelayAccessToken:
        """``build()`` with no override and the default lifetime: what the general path
        makes, in its draw order (token, client name, then nothing else)."""
        creation = self.server_now()
        if creation.tzinfo is not _UTC or creation.microsecond % 1000:
            creation = _utc_ms(creation)
        token = _NEW_TOKEN.whole(
            {  # every field in the model's order; the first six are set
                "access_token": self.access_token_string(),
                "client_name": self.client_name() if self._take(1)[0] < 154 else None,
                "creation_date": creation,
                "enterprise_name": self.enterprise_name,
                "expiration_date": creation + DEFAULT_LIFETIME,
                "roles": list(DEFAULT_ROLES),
                "creator": None,
                "seam_id": None,
                "client_device_type": None,
                "first_name": None,
                "last_name": None,
                "username": None,
                "pairing_code_id": None,
                "pairing_code_endpoint_id": None,
            },
            _DEFAULT_SET,
        )
        bind_clock(token, self.clock)
        return token

    def build_pairing(self, **overrides: Any) -> RelayAccessToken:
        """A Zero Touch token: ``[ROLE_PAIRINGCODE]``, one day, pairing ids set."""
        overrides.setdefault("roles", [ROLE_PAIRINGCODE])
        return self.build(**overrides)

    def build_never_expiring(self, **overrides: Any) -> RelayAccessToken:
        """A ``duration=-1`` token (``expirationDate: null``)."""
        overrides.setdefault("expiration_date", None)
        return self.build(**overrides)

    def build_enterprise(self, **overrides: Any) -> RelayEnterprise:
        """The factory's Enterprise as ``GET /api/enterprises/self`` returns it."""
        if overrides:
            _check_overrides(overrides, _ENTERPRISE_FIELDS, "RelayEnterprise")
        created = self.server_now() - _dt.timedelta(days=30 + self._below(2970))
        data: dict[str, Any] = {
            "id": self.object_id(created),
            "name": self.enterprise_name,
            "label": self.enterprise_label,
            "password": None,
            "tags": [],
            "public_key": None,
            "point_of_contact": f"relay-admin@{self._enterprise_base}.com",
        }
        if not overrides:
            return _NEW_ENTERPRISE(data)
        data.update(overrides)
        return RelayEnterprise.model_validate(data)

    def _enterprise_parts(self) -> tuple[str, str]:
        base = _ENTERPRISE_BASES[self._below(len(_ENTERPRISE_BASES))]
        return base, _ENTERPRISE_SUFFIXES[self._below(len(_ENTERPRISE_SUFFIXES))]
