"""Seeded, fast factories of realistic UCWA media relay tokens and related values.

Values follow reference §7: 480-minute tokens, 76-character base64 ``userName`` (MS-TURN
v2 token blob + HMAC, starts ``AgAAJ``), 28-character base64 ``password``, A/V edge host
names, TURN TCP 443 / UDP 3478, documentation-range addresses.
"""

from __future__ import annotations

import base64
import datetime as _dt
from binascii import b2a_base64
from typing import Any

from .._prebuilt import Prebuilt
from ..clock import bind_clock
from ..tokens import SeededFactory
from .models import MediaRelay, MediaRelayAccessToken
from .timestamps import TICKS_PER_MS, within_ms

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
_EDGE_PATTERNS = ("av-edge{n:02d}", "sipedge", "edge-av{n}", "atl-edge-{n:03d}", "avedge{n}.dmz")
_HREF_HEAD = "/ucwa/oauth/v1/applications/"
_DEFAULT_LIFETIME = _dt.timedelta(minutes=DEFAULT_DURATION)
#: The bytes one ``build()`` draws at once (see ``_TOKEN_LAYOUT``).
_TOKEN_BYTES = 88


def _already_valid(overrides: dict[str, Any]) -> bool:
    """Whether ``overrides`` set only ``uri``/``href`` (a ``str`` or None) and ``media_relays``
    (a list of :class:`MediaRelay`): what validation keeps as it is (pydantic does not
    revalidate model instances), as the services pass them (tests pin it to validation)."""
    for name, value in overrides.items():
        if name in ("uri", "href"):
            kept = value is None or type(value) is str
        else:
            kept = name == "media_relays" and type(value) is list
            kept = kept and all(type(relay) is MediaRelay for relay in value)
        if not kept:
            return False
    return True


def remaining_minutes(valid_until: _dt.datetime, now: _dt.datetime) -> int:
    """``duration`` for a token valid until ``valid_until``, issued at ``now``: the whole
    minutes left, rounded down (0 once expired), so an expiry computed from ``duration`` is
    never later than ``validUntil`` (inferred)."""
    if valid_until.tzinfo is None:
        valid_until = valid_until.replace(tzinfo=_UTC)
    return max(0, int((valid_until - now).total_seconds() // 60))


def _sub_ms(drawn: bytes) -> int:
    """The 100 ns ticks (0-9999) a server's tick clock read within the millisecond the test
    clock names, from the last two drawn MAC bytes: seeded, no extra draw (inferred)."""
    return (drawn[78] | drawn[79] << 8) % TICKS_PER_MS


def _check(overrides: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise TypeError(
            f"{what} got unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(allowed)}"
        )


def _user_name(expiry: _dt.datetime, drawn: bytes) -> str:
    """The v2 blob (head, expiry in 100 ns ticks, 44 drawn bytes) in base64: 76 chars."""
    ticks = int(expiry.timestamp()) * 10_000_000
    return base64.b64encode(_BLOB_HEAD + ticks.to_bytes(8, "little", signed=True) + drawn).decode(
        "ascii"
    )


#: domain -> every Edge host name a relay can get there (pattern x number), made once
_EDGE_HOSTS = {
    domain: tuple(
        f"{pattern.format(n=n)}.{domain}" for n in range(1, 5) for pattern in _EDGE_PATTERNS
    )
    for domain in _DOMAINS
}
_IPV4 = tuple(f"203.0.113.{n}" for n in range(1, 255))  # documentation range, no .0/.255


def _edge_host(drawn: bytes, domain: str) -> str:
    """An A/V Edge FQDN from a drawn byte."""
    hosts = _EDGE_HOSTS.get(domain)
    if hosts is None:  # a domain set by hand
        hosts = tuple(f"{p.format(n=n)}.{domain}" for n in range(1, 5) for p in _EDGE_PATTERNS)
    return hosts[drawn[0] % len(hosts)]


def _ipv6(drawn: bytes) -> str:
    """A documentation-range address from four drawn bytes."""
    high = 1 + (drawn[0] | drawn[1] << 8) % 0xFFFF
    low = 1 + (drawn[2] | drawn[3] << 8) % 0xFFFF
    return f"2001:db8:{high:x}::{low:x}"


class UcwaTokenFactory(SeededFactory):
    """Builds :class:`MediaRelayAccessToken` values; the same seed gives the same objects.

    ``seed`` is an int (or str/bytes), drawn from through a :class:`SeededRandom`, or any
    :class:`random.Random` to draw from. ``valid_until`` is ``clock.now() + duration`` through
    ``policy.expiry`` (so expiry markers apply), plus seeded sub-millisecond ticks; every
    token answers ``is_expired()``/``remaining()`` on ``clock``. ``build(**overrides)`` takes
    model field names (``user_name=``, ``duration=``...); overrides are validated as the model does.
    """

    def _start(self) -> None:
        self.domain = _DOMAINS[self._take(1)[0] % len(_DOMAINS)]

    # --- draws ---------------------------------------------------------------------------
    def _pick(self, options: tuple[str, ...]) -> str:
        return options[int.from_bytes(self._take(4), "little") % len(options)]

    def _between(self, low: int, high: int) -> int:
        return low + int.from_bytes(self._take(8), "little") % (high - low + 1)

    def _bytes(self, count: int) -> bytes:
        return self._take(count)

    # --- single values ------------------------------------------------------------------
    def user_name(self, expires_at: _dt.datetime | None = None) -> str:
        """Base64 of a 36-byte v2 token blob + 20-byte HMAC-SHA1: 76 chars, ``AgAAJ...=``.

        The blob: version 2, size 0x24, the expiry in 100 ns ticks (little-endian), 4 bytes of
        flags and a 20-byte client id; the MAC is random bytes standing in for the HMAC-SHA1.
        """
        return _user_name(expires_at or self.clock.now(), self._bytes(44))

    def password(self) -> str:
        """Base64 of 20 bytes (an HMAC-SHA1 on a real Edge): 28 chars ending ``=``."""
        return base64.b64encode(self._bytes(20)).decode("ascii")

    def sip_uri(self) -> str:
        """``sip:first.last@domain``."""
        return f"sip:{self._pick(_FIRST)}.{self._pick(_LAST)}@{self.domain}"

    def edge_host(self) -> str:
        """An A/V Edge FQDN such as ``av-edge01.contoso.com`` or ``sipedge.fabrikam.com``."""
        return _edge_host(self._bytes(1), self.domain)

    def ipv4(self) -> str:
        """An address in the documentation range 203.0.113.0/24."""
        return f"203.0.113.{self._between(1, 254)}"

    def ipv6(self) -> str:
        """An address in the documentation range 2001:db8::/32."""
        return _ipv6(self._bytes(4))

    def bearer_token(self) -> str:
        """``cwt=`` + base64url of an opaque web ticket (~240 chars, like ``cwt=AAEBHAEF...``)."""
        raw = b"\x00\x01\x01\x1c\x01\x05" + self._bytes(self._between(170, 190))
        return "cwt=" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def application_id(self) -> str:
        """A 12-digit decimal application id like ``102150809602``."""
        return str(self._between(100_000_000_000, 119_999_999_999))

    # --- objects ------------------------------------------------------------------------
    def _relay_values(self, href: str | None, drawn: bytes | None = None) -> dict[str, Any]:
        """One relay's fields from 8 drawn bytes (drawn now when not given)."""
        if drawn is None:
            drawn = self._bytes(8)
        high = 1 + (drawn[4] | drawn[5] << 8) % 0xFFFF
        low = 1 + (drawn[6] | drawn[7] << 8) % 0xFFFF
        return {
            "host": _edge_host(drawn, self.domain),
            "ipv4": _IPV4[(drawn[2] | drawn[3] << 8) % 254],
            "ipv6": f"2001:db8:{high:x}::{low:x}",
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
        now = self.clock.now()
        if policy.server_skew:
            now += policy.server_skew
        if not (overrides or policy.already_expired or policy.never_expires) and (
            policy.lifetime is None
        ):  # the common case: the default lifetime
            return self._build_default(now + _DEFAULT_LIFETIME)
        duration = overrides.get("duration")
        valid_until = overrides.get("valid_until")
        # One draw for every random part: application id (8 bytes), names (2 x 4), password
        # (20), user name (44), relay (8).
        drawn = self._take(_TOKEN_BYTES)
        tick = 0
        if valid_until is None:  # computed on the server's 100 ns clock: seeded sub-ms digits
            lifetime = _DEFAULT_LIFETIME if duration is None else _dt.timedelta(minutes=duration)
            expiry = policy.expiry(now, lifetime)
            valid_until = expiry if expiry is not None else now + NEVER_EXPIRES_LIFETIME
            valid_until, tick = within_ms(valid_until, _sub_ms(drawn))
        if duration is None:  # what is left of valid_until, in whole minutes rounded down
            duration = remaining_minutes(valid_until, now)
        application = 100_000_000_000 + int.from_bytes(drawn[0:8], "little") % 20_000_000_000
        first = _FIRST[int.from_bytes(drawn[8:12], "little") % len(_FIRST)]
        last = _LAST[int.from_bytes(drawn[12:16], "little") % len(_LAST)]
        base = f"{_HREF_HEAD}{application}/communication"
        values: dict[str, Any] = {
            "duration": duration,
            "uri": f"sip:{first}.{last}@{self.domain}",
            "password": base64.b64encode(drawn[16:36]).decode("ascii"),
            "user_name": _user_name(valid_until, drawn[36:80]),
            "valid_until": valid_until,
            "href": f"{base}/mediaRelayAccessToken",
        }
        relay = self._relay_values(f"{base}/mediaRelay", drawn[80:88])
        if not overrides or _already_valid(overrides):  # validation would change nothing
            if valid_until.tzinfo is not _UTC:
                values["valid_until"] = valid_until.astimezone(_UTC)
            values["media_relays"] = [_NEW_RELAY.whole(relay)]
            values.update(overrides)
            token = _NEW_TOKEN.whole(values)
        else:
            if "media_relays" not in overrides:
                values["media_relays"] = [relay]
            values.update(overrides)
            token = MediaRelayAccessToken.model_validate(values)
        if tick:
            token._set_ticks(tick)
        bind_clock(token, self.clock)
        return token

    def _build_default(self, valid_until: _dt.datetime) -> MediaRelayAccessToken:
        """``build()`` with no override and the default lifetime: the same draws and values
        as the general path, in fewer steps."""
        if valid_until.tzinfo is not _UTC:
            valid_until = valid_until.astimezone(_UTC)
        drawn = self._take(_TOKEN_BYTES)  # laid out as in build()
        valid_until, tick = within_ms(valid_until, _sub_ms(drawn))
        application = 100_000_000_000 + int.from_bytes(drawn[0:8], "little") % 20_000_000_000
        first = _FIRST[int.from_bytes(drawn[8:12], "little") % len(_FIRST)]
        last = _LAST[int.from_bytes(drawn[12:16], "little") % len(_LAST)]
        ticks = int(valid_until.timestamp()) * 10_000_000
        blob = _BLOB_HEAD + ticks.to_bytes(8, "little", signed=True) + drawn[36:80]
        base = f"{_HREF_HEAD}{application}/communication"
        domain = self.domain
        hosts = _EDGE_HOSTS.get(domain)
        high = 1 + (drawn[84] | drawn[85] << 8) % 0xFFFF
        low = 1 + (drawn[86] | drawn[87] << 8) % 0xFFFF
        relay = _NEW_RELAY.whole(
            {
                "host": hosts[drawn[80] % 20] if hosts else _edge_host(drawn[80:], domain),
                "ipv4": _IPV4[(drawn[82] | drawn[83] << 8) % 254],
                "ipv6": f"2001:db8:{high:x}::{low:x}",
                "location": "Internet",
                "tcp_port": 443,
                "udp_port": 3478,
                "href": f"{base}/mediaRelay",
            }
        )
        token = _NEW_TOKEN.whole(
            {
                "duration": DEFAULT_DURATION,
                "uri": f"sip:{first}.{last}@{domain}",
                "password": b2a_base64(drawn[16:36], newline=False).decode("ascii"),
                "user_name": b2a_base64(blob, newline=False).decode("ascii"),
                "valid_until": valid_until,
                "href": f"{base}/mediaRelayAccessToken",
                "media_relays": [relay],
            },
            private={"_ticks": tick, "_ticks_for": valid_until} if tick else None,
        )
        bind_clock(token, self.clock)
        return token
