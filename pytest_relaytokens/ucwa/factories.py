"""Seeded, fast factories of realistic UCWA media relay tokens and related values.

Values follow reference §7: 480-minute tokens, 76-character base64 ``userName`` (MS-TURN
v2 token blob + HMAC, starts ``AgAAJ``), 28-character base64 ``password``, A/V edge host
names, TURN TCP 443 / UDP 3478, documentation-range addresses.
"""

from __future__ import annotations

import base64
import datetime as _dt
import random
from typing import Any

from .._prebuilt import Prebuilt
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


_BLOB_HEAD = bytes([0x02, 0x00, 0x00, 0x24])  # v2 token blob: version, reserved, size
_UTC = _dt.timezone.utc
_NEW_RELAY = Prebuilt(MediaRelay)
_NEW_TOKEN = Prebuilt(MediaRelayAccessToken)
_MASK32 = (1 << 32) - 1
_MASK160 = (1 << 160) - 1
_EDGE_PATTERNS = ("av-edge{n:02d}", "sipedge", "edge-av{n}", "atl-edge-{n:03d}", "avedge{n}.dmz")


def _check(overrides: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise TypeError(
            f"{what} got unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(allowed)}"
        )


class UcwaTokenFactory:
    """Builds :class:`MediaRelayAccessToken` values; the same seed gives the same objects.

    ``valid_until`` is ``clock.now() + duration`` through ``policy.expiry`` (so expiry markers
    apply); every token answers ``is_expired()``/``remaining()`` on ``clock``.
    ``build(**overrides)`` takes model field names (``user_name=``, ``duration=``...).
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
        # A plain Random is drawn from directly (same values as its methods, fewer calls).
        self._plain = type(self.rng) is random.Random
        self.domain = self._pick(_DOMAINS)

    # --- draws ---------------------------------------------------------------------------
    def _pick(self, options: tuple[str, ...]) -> str:
        if self._plain:  # what choice() draws, without its checks and calls
            n = len(options)
            k = n.bit_length()
            draw = self.rng.getrandbits
            r = draw(k)
            while r >= n:
                r = draw(k)
            return options[r]
        return self.rng.choice(options)

    def _between(self, low: int, high: int) -> int:
        if self._plain:  # what randint() draws, without its checks and calls
            n = high - low + 1
            k = n.bit_length()
            draw = self.rng.getrandbits
            r = draw(k)
            while r >= n:
                r = draw(k)
            return low + r
        return self.rng.randint(low, high)

    def _bytes(self, count: int) -> bytes:
        return self.rng.getrandbits(8 * count).to_bytes(count, "big")

    # --- single values ------------------------------------------------------------------
    def user_name(self, expires_at: _dt.datetime | None = None) -> str:
        """Base64 of a 36-byte v2 token blob + 20-byte HMAC-SHA1: 76 chars, ``AgAAJ...=``."""
        expiry = int((expires_at or self.clock.now()).timestamp())
        # flags (4 bytes), client id (20) and the MAC (20) in one draw; getrandbits fills
        # 32-bit words from the low end, so this splits into what three draws would give.
        drawn = self.rng.getrandbits(352)
        blob = (
            _BLOB_HEAD
            + (expiry * 10_000_000).to_bytes(8, "little")
            + (drawn & _MASK32).to_bytes(4, "big")
            + ((drawn >> 32) & _MASK160).to_bytes(20, "big")
            + (drawn >> 192).to_bytes(20, "big")  # stands in for the HMAC-SHA1
        )
        return base64.b64encode(blob).decode("ascii")

    def password(self) -> str:
        """Base64 of 20 bytes (an HMAC-SHA1 on a real Edge): 28 chars ending ``=``."""
        return base64.b64encode(self._bytes(20)).decode("ascii")

    def sip_uri(self) -> str:
        """``sip:first.last@domain``."""
        return f"sip:{self._pick(_FIRST)}.{self._pick(_LAST)}@{self.domain}"

    def edge_host(self) -> str:
        """An A/V Edge FQDN such as ``av-edge01.contoso.com`` or ``sipedge.fabrikam.com``."""
        n = self._between(1, 4)
        return f"{self._pick(_EDGE_PATTERNS).format(n=n)}.{self.domain}"

    def ipv4(self) -> str:
        """An address in the documentation range 203.0.113.0/24."""
        return f"203.0.113.{self._between(1, 254)}"

    def ipv6(self) -> str:
        """An address in the documentation range 2001:db8::/32."""
        return f"2001:db8:{self._between(1, 0xFFFF):x}::{self._between(1, 0xFFFF):x}"

    def bearer_token(self) -> str:
        """``cwt=`` + base64url of an opaque web ticket (~240 chars, like ``cwt=AAEBHAEF...``)."""
        raw = b"\x00\x01\x01\x1c\x01\x05" + self._bytes(self._between(170, 190))
        return "cwt=" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def application_id(self) -> str:
        """A 12-digit decimal application id like ``102150809602``."""
        return str(self._between(100_000_000_000, 119_999_999_999))

    # --- objects ------------------------------------------------------------------------
    def _relay_values(self, href: str | None) -> dict[str, Any]:
        return {
            "host": self.edge_host(),
            "ipv4": self.ipv4(),
            "ipv6": self.ipv6(),
            "location": "Internet",
            "tcp_port": 443,
            "udp_port": 3478,
            "href": href,
        }

    def build_relay(self, **overrides: Any) -> MediaRelay:
        """One ``Internet`` relay on TCP 443 / UDP 3478 (override any field)."""
        if not overrides:
            return _NEW_RELAY(self._relay_values(None))
        _check(overrides, _RELAY_FIELDS, "build_relay()")
        values = self._relay_values(None)
        values.update(overrides)
        return MediaRelay.model_validate(values)

    def build(self, **overrides: Any) -> MediaRelayAccessToken:
        """A token valid from the clock's now for ``duration`` minutes (policy permitting)."""
        if overrides:
            _check(overrides, _TOKEN_FIELDS, "build()")
        policy = self.policy
        now = self.clock.now() + policy.server_skew
        duration = overrides.get("duration")
        if duration is None:
            duration = DEFAULT_DURATION
            if policy.lifetime is not None and not policy.already_expired:
                duration = max(0, int(policy.lifetime.total_seconds() // 60))
        valid_until = overrides.get("valid_until")
        if valid_until is None:
            expiry = policy.expiry(now, _dt.timedelta(minutes=duration))
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
        if not overrides:  # every value is already what validation would make of it
            if valid_until.tzinfo is not _UTC:
                values["valid_until"] = valid_until.astimezone(_UTC)
            values["media_relays"] = [_NEW_RELAY(self._relay_values(f"{base}/mediaRelay"))]
            token = _NEW_TOKEN(values)
        else:
            if "media_relays" not in overrides:
                values["media_relays"] = [self._relay_values(f"{base}/mediaRelay")]
            values.update(overrides)
            token = MediaRelayAccessToken.model_validate(values)
        token.__dict__["_relaytokens_clock"] = self.clock  # is_expired() reads this clock
        return token
