"""Origins and hosts: the one loopback check and the CORS-origin check."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = [
    "MAX_ORIGIN_LENGTH",
    "check_origin",
    "check_origins",
    "http_url_problem",
    "is_loopback",
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP literal, brackets allowed, no port) is loopback.

    Loopback is ``localhost`` in any case (RFC 6761 §6.3: it always resolves to loopback),
    any IPv4 address in 127.0.0.0/8 (RFC 6890 §2.2.2 and RFC 5735 §3: the whole block is
    loopback, so ``127.0.0.2`` is too), ``::1`` (RFC 4291 §2.5.3) and an IPv4-mapped
    ``::ffff:127.x.y.z`` (RFC 4291 §2.5.5.2). Every other name is not: it may resolve
    anywhere.
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


#: An origin longer than this is refused (a browser never sends one near it).
MAX_ORIGIN_LENGTH = 2048


def check_origin(value: object) -> str:
    """``value`` as an allowed CORS origin: ``"*"`` or ``scheme://host[:port]`` (RFC 6454
    §6.1; http or https, nothing after the authority but one ``/``, which is dropped), scheme
    and host lower-cased as browsers send them. Raises ``ValueError`` naming the value and
    what is valid."""
    valid = "'*' or an origin such as 'https://app.example.com' or 'http://localhost:3000'"
    if not isinstance(value, str):
        raise ValueError(f"CORS origin must be a string, got {value!r}; valid: {valid}")
    if value == "*":
        return value
    shown = value if len(value) <= 80 else value[:77] + "..."
    if len(value) > MAX_ORIGIN_LENGTH or not value.isascii() or not value.isprintable():
        raise ValueError(f"bad CORS origin {shown!r}; valid: {valid}")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError(f"bad CORS origin {shown!r} (bad port); valid: {valid}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if (
        scheme not in ("http", "https")
        or not host
        or " " in value
        or parts.username is not None
        or parts.password is not None
        or port == 0
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or value.endswith(("?", "#"))
    ):
        raise ValueError(f"bad CORS origin {shown!r}; valid: {valid}")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def check_origins(values: Iterable[object]) -> tuple[str, ...]:
    """Every origin checked (see :func:`check_origin`), duplicates dropped, order kept."""
    if isinstance(values, (str, bytes)):
        raise ValueError(
            f"CORS origins must be a list of origins, not the single string {values!r}"
        )
    return tuple(dict.fromkeys(check_origin(v) for v in values))


def http_url_problem(value: object) -> str | None:
    """Why ``value`` is not an absolute ``http``/``https`` URL with a host (RFC 9110 §4.2),
    or None when it is one: ``"not an http(s) URL"``, ``"no host"``, ``"bad port"``..."""
    if not isinstance(value, str) or not value:
        return "not a URL string"
    if not value.isascii() or not value.isprintable() or " " in value:
        return "not a URL (spaces or control characters)"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as error:
        return f"not a URL ({error})"
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http(s) URL (no http:// or https:// scheme)"
    if not parts.hostname:
        return "no host"
    return None
