"""Header values with parameters: one parser each for Content-Type parameters, q-values and
auth-params.

Rules (RFC 9110 unless said otherwise):

- A media type is ``type "/" subtype *( OWS ";" OWS parameter )`` (§8.3.1); type, subtype and
  parameter names are case-insensitive, parameter values keep their case (a multipart
  ``boundary`` is case-sensitive, RFC 2046 §5.1.1). A value is a token or a quoted-string
  (§5.6.4, backslash escapes undone). Parsing is :class:`email.message.Message`'s, which also
  reads RFC 2231 continuations. It is quadratic on hostile quoting, so a value longer than
  ``MAX_PARAMETERS_LENGTH`` is not read for parameters (no real Content-Type comes near it).
- A q-value is ``"0" ["." 0*3DIGIT] / "1" ["." 0*3"0"]`` (§12.4.2). Inferred, as IIS does: a
  q-value outside that grammar makes its item unacceptable (q=0) rather than an error.
- A challenge is ``auth-scheme [ 1*SP ( token68 / #auth-param ) ]``, an auth-param
  ``token BWS "=" BWS ( token / quoted-string )`` (§11.2, §11.6.1). One ``WWW-Authenticate``
  value may hold several challenges separated by commas; the scheme and parameter names are
  case-insensitive. Inferred, as clients' regular expressions do: an unquoted value runs to
  the next space or comma even where it is no token (``href=/WebTicket/oauthtoken``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from email.message import Message
from email.utils import collapse_rfc2231_value

__all__ = [
    "MAX_PARAMETERS_LENGTH",
    "challenge_params",
    "challenges",
    "content_type_param",
    "media_type",
    "weighted",
]


def media_type(value: str | None) -> str:
    """The ``type/subtype`` of a Content-Type value, lower-cased ("" for none)."""
    return (value or "").partition(";")[0].strip().lower()


MAX_PARAMETERS_LENGTH = 4096
#: Values this long or shorter are parsed once and remembered (clients repeat the same few).
_CACHED_MAX = 256


def _params(value: str) -> dict[str, str]:
    message = Message()
    message["Content-Type"] = value
    found: dict[str, str] = {}
    for name, raw in (message.get_params(header="Content-Type", unquote=True) or [])[1:]:
        if name and name not in found:  # the first of a repeated parameter wins
            found[name] = collapse_rfc2231_value(raw)
    return found


def content_type_param(value: str | None, name: str) -> str | None:
    """The parameter ``name`` (any case) of a Content-Type value, unquoted, its case kept;
    None when absent. ``content_type_param('text/html; charset="UTF-8"', "charset")`` is
    ``"UTF-8"``."""
    if not value or ";" not in value or len(value) > MAX_PARAMETERS_LENGTH:
        return None
    params = _params_cached(value) if len(value) <= _CACHED_MAX else _params(value)
    return params.get(name.lower())


_params_cached = functools.lru_cache(maxsize=128)(_params)


_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\Z")


def _quality(raw: str) -> float:
    raw = raw.strip()
    return float(raw) if _QVALUE.match(raw) else 0.0


def _weighted(value: str) -> tuple[tuple[str, float], ...]:
    items: list[tuple[str, float]] = []
    for item in value.split(","):
        name, *params = item.split(";")
        name = name.strip().lower()
        if not name:
            continue
        quality = 1.0
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip().lower() == "q":
                quality = _quality(raw)
        items.append((name, quality))
    return tuple(items)


_weighted_cached = functools.lru_cache(maxsize=128)(_weighted)


def _weighted_one(value: str) -> tuple[tuple[str, float], ...]:
    return _weighted_cached(value) if len(value) <= _CACHED_MAX else _weighted(value)


def weighted(values: str | Iterable[str]) -> tuple[tuple[str, float], ...]:
    """The items of an ``Accept``-style header (``Accept``, ``Accept-Encoding``), lower-cased,
    each with its q-value, in the client's order; ``values`` is one header value or all of them
    (repeated headers are one comma-separated list, §5.3)."""
    if isinstance(values, str):
        return _weighted_one(values)
    return tuple(item for value in values for item in _weighted_one(value))


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_GAP = re.compile(r"[\s,]*")
_SCHEME = re.compile(_TOKEN)
#: an unquoted value runs to the next space, comma or quote: a superset of a token
_PARAM = re.compile(rf"[\s,]*({_TOKEN})[ \t]*=[ \t]*({_QUOTED}|[^\s,\"]+)")
_TOKEN68 = re.compile(r"[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*(?:,|\Z)")
_UNESCAPE = re.compile(r"\\(.)")


def _gap_end(value: str, position: int) -> int:
    gap = _GAP.match(value, position)
    return position if gap is None else gap.end()


def challenges(values: str | Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    """Every challenge of ``WWW-Authenticate`` values: ``(scheme, params)``, the scheme as
    sent, parameter names lower-cased, values unquoted. A token68 challenge (``Basic
    abc==``) has no params. Text that is not a challenge is skipped, never raised on."""
    found: list[tuple[str, dict[str, str]]] = []
    for value in [values] if isinstance(values, str) else values:
        position = 0
        while (position := _gap_end(value, position)) < len(value):
            scheme = _SCHEME.match(value, position)
            if scheme is None:  # not a challenge: skip to the next comma
                comma = value.find(",", position)
                position = len(value) if comma < 0 else comma
                continue
            position = scheme.end()
            params: dict[str, str] = {}
            token68 = _TOKEN68.match(value, position)
            if token68 is not None:  # never a param: one ends in a value after its "="
                position = token68.end()
            while (param := _PARAM.match(value, position)) is not None:
                raw = param.group(2)
                if raw.startswith('"'):
                    raw = _UNESCAPE.sub(r"\1", raw[1:-1])
                params.setdefault(param.group(1).lower(), raw)
                position = param.end()
            found.append((scheme.group(), params))
    return found


def challenge_params(values: str | Iterable[str], scheme: str) -> dict[str, str] | None:
    """The params of the first ``scheme`` challenge (any case) among ``values``, or None."""
    wanted = scheme.lower()
    return next((p for s, p in challenges(values) if s.lower() == wanted), None)
