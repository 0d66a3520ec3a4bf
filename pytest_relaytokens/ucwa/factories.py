"""Seeded, fast factories of realistic UCWA media relay tokens and related values.

Values follow reference §7: 480-minute tokens, 76-character base64 ``userName`` (MS-TURN
v2 token blob + HMAC, starts ``AgAAJ``), 28-character base64 ``password``, A/V edge host
names, TURN TCP 443 / UDP 3478, documentation-range addresses.
"""

from __future__ import annotations

import base64
import datetime as _dt
import random
import struct
from typing import Any

from ..clock import Clock
from ..core import TokenPolicy
from .models import MediaRelay, MediaRelayAccessToken

__all__ = ["DEFAULT_DURATION", "NEVER_EXPIRES_LIFETIME", "UcwaTokenFactory"]

DEFAULT_DURATION = 480
#: ``never_expires`` has no UCWA equivalent: such tokens get the Edge's maximum lifetime.
NEVER_EXPIRES_LIFETIME = _dt.timedelta(days=180)

_DOMAINS = ("contoso.com", "fabrikam.com", "litwareinc.com", "adatum.com", "northwindtraders.com")
_FIRST = (
    "alice",
    "bob",
    "carol",
    "dan",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
)
_LAST = (
    "smith",
    "jones",
    "garcia",
    "miller",
    "davis",
    "lopez",
    "wilson",
    "anderson",
    "thomas",
    "moore",
    "martin",
    "lee",
    "perez",
    "white",
    "harris",
    "clark",
    "lewis",
    "young",
)
_TOKEN_FIELDS = ("duration", "uri", "password", "user_name", "valid_until", "href", "media_relays")
_RELAY_FIELDS = ("host", "ipv4", "ipv6", "location", "tcp_port", "udp_port", "href")


def _check(overrides: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise TypeError(
            f"{what} got unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(allowed)}"
        )


class UcwaTokenFactory:
    """Builds :class:`MediaRelayAccessToken` values; the same seed gives the same objects.

    ``valid_until`` is ``clock.now() + duration`` through ``policy.expiry`` (so expiry markers
    apply). ``build(**overrides)`` takes model field names (``user_name=``, ``duration=``...).
    """

    def __init__(
        self,
        seed: int | random.Random = 0,
        clock: Clock | None = None,
        policy: TokenPolicy | None = None,
    ) -> None:
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)
        self.clock = clock or Clock()
        self.policy = policy or TokenPolicy()
        self.domain = self.rng.choice(_DOMAINS)

    # --- single values ------------------------------------------------------------------
    def _bytes(self, count: int) -> bytes:
        return self.rng.getrandbits(8 * count).to_bytes(count, "big")

    def user_name(self, expires_at: _dt.datetime | None = None) -> str:
        """Base64 of a 36-byte v2 token blob + 20-byte HMAC-SHA1: 76 chars, ``AgAAJ...=``."""
        expiry = int((expires_at or self.clock.now()).timestamp())
        blob = (
            bytes([0x02, 0x00, 0x00, 0x24])
            + struct.pack("<Q", expiry * 10_000_000)
            + self._bytes(4)
            + self._bytes(20)
        )  # version, size, expiry, flags, client id
        mac = self._bytes(20)  # stands in for the HMAC-SHA1 (looks the same, 10x cheaper)
        return base64.b64encode(blob + mac).decode("ascii")

    def password(self) -> str:
        """Base64 of 20 bytes (an HMAC-SHA1 on a real Edge): 28 chars ending ``=``."""
        return base64.b64encode(self._bytes(20)).decode("ascii")

    def sip_uri(self) -> str:
        """``sip:first.last@domain``."""
        return f"sip:{self.rng.choice(_FIRST)}.{self.rng.choice(_LAST)}@{self.domain}"

    def edge_host(self) -> str:
        """An A/V Edge FQDN such as ``av-edge01.contoso.com`` or ``sipedge.fabrikam.com``."""
        n = self.rng.randint(1, 4)
        pattern = self.rng.choice(
            ("av-edge{n:02d}", "sipedge", "edge-av{n}", "atl-edge-{n:03d}", "avedge{n}.dmz")
        )
        return f"{pattern.format(n=n)}.{self.domain}"

    def ipv4(self) -> str:
        """An address in the documentation range 203.0.113.0/24."""
        return f"203.0.113.{self.rng.randint(1, 254)}"

    def ipv6(self) -> str:
        """An address in the documentation range 2001:db8::/32."""
        return f"2001:db8:{self.rng.randint(1, 0xFFFF):x}::{self.rng.randint(1, 0xFFFF):x}"

    def bearer_token(self) -> str:
        """``cwt=`` + base64url of an opaque web ticket (~240 chars, like ``cwt=AAEBHAEF...``)."""
        raw = b"\x00\x01\x01\x1c\x01\x05" + self._bytes(self.rng.randint(170, 190))
        return "cwt=" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def application_id(self) -> str:
        """A 12-digit decimal application id like ``102150809602``."""
        return str(self.rng.randint(100_000_000_000, 119_999_999_999))

    # --- objects ------------------------------------------------------------------------
    def build_relay(self, **overrides: Any) -> MediaRelay:
        """One ``Internet`` relay on TCP 443 / UDP 3478 (override any field)."""
        _check(overrides, _RELAY_FIELDS, "build_relay()")
        values: dict[str, Any] = {
            "host": self.edge_host(),
            "ipv4": self.ipv4(),
            "ipv6": self.ipv6(),
            "location": "Internet",
            "tcp_port": 443,
            "udp_port": 3478,
            "href": None,
        }
        values.update(overrides)
        return MediaRelay.model_validate(values)

    def build(self, **overrides: Any) -> MediaRelayAccessToken:
        """A token valid from the clock's now for ``duration`` minutes (policy permitting)."""
        _check(overrides, _TOKEN_FIELDS, "build()")
        now = self.clock.now() + self.policy.server_skew
        duration = overrides.get("duration")
        if duration is None:
            duration = DEFAULT_DURATION
            if self.policy.lifetime is not None and not self.policy.already_expired:
                duration = max(0, int(self.policy.lifetime.total_seconds() // 60))
        valid_until = overrides.get("valid_until")
        if valid_until is None:
            expiry = self.policy.expiry(now, _dt.timedelta(minutes=duration))
            valid_until = expiry if expiry is not None else now + NEVER_EXPIRES_LIFETIME
        base = f"/ucwa/oauth/v1/applications/{self.application_id()}/communication"
        values: dict[str, Any] = {
            "duration": duration,
            "uri": self.sip_uri(),
            "password": self.password(),
            "user_name": self.user_name(valid_until),
            "valid_until": valid_until,
            "href": f"{base}/mediaRelayAccessToken",
        }
        if "media_relays" not in overrides:
            values["media_relays"] = [self.build_relay(href=f"{base}/mediaRelay")]
        values.update(overrides)
        return MediaRelayAccessToken.model_validate(values)
