"""Render and parse Relay JSON bodies (AccessToken, Enterprise, error envelope).

Rendering keeps the documented key order and the documented number style (epoch-ms
integers). AccessToken keys come out in alphabetical order, which is the order of every
documented example (S1 shows the six core keys, S3 adds ``creator`` and ``seamId`` in
between); optional fields appear only when set or when a parsed document carried them.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import WireFormatError
from ..tokens import load_json_text
from .models import RelayAccessToken, RelayEnterprise, RelayErrorBody, datetime_to_ms

__all__ = [
    "MAX_BODY_BYTES",
    "enterprise_to_dict",
    "error_to_dict",
    "parse_enterprise",
    "parse_error",
    "parse_token",
    "parse_tokens",
    "render_enterprise",
    "render_error",
    "render_json",
    "render_token",
    "retime_token",
    "token_to_dict",
]

MAX_BODY_BYTES = 1024 * 1024

_CORE_TOKEN_FIELDS = frozenset(
    {"access_token", "client_name", "creation_date", "enterprise_name", "expiration_date", "roles"}
)
_ENTERPRISE_ORDER = ("id", "name", "label", "password", "tags", "public_key", "point_of_contact")

M = TypeVar("M", bound=BaseModel)


def render_json(document: Any, indent: int | None = None) -> bytes:
    """``json.dumps`` style: compact one line by default, or pretty with ``indent``."""
    return json.dumps(document, indent=indent, ensure_ascii=False).encode("utf-8")


def _wire_value(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return datetime_to_ms(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [_wire_value(v) for v in value]
    return value


def token_to_dict(token: RelayAccessToken) -> dict[str, Any]:
    """The wire dict: core keys always, optional keys when set (or explicitly given)."""
    fields = RelayAccessToken.model_fields
    out: dict[str, Any] = {}
    keys = []
    for name, info in fields.items():
        value = getattr(token, name)
        if name in _CORE_TOKEN_FIELDS or value is not None or name in token.model_fields_set:
            keys.append((info.alias or name, name))
    for alias, name in sorted(keys):
        out[alias] = _wire_value(getattr(token, name))
    return out


def enterprise_to_dict(enterprise: RelayEnterprise) -> dict[str, Any]:
    fields = RelayEnterprise.model_fields
    return {fields[n].alias or n: _wire_value(getattr(enterprise, n)) for n in _ENTERPRISE_ORDER}


def error_to_dict(error: RelayErrorBody) -> dict[str, Any]:
    """The envelope in the documented (alphabetical) key order."""
    return {
        "errorCode": error.error_code,
        "errorDetails": error.error_details,
        "errorMessage": error.error_message,
        "errorName": error.error_name,
    }


def render_token(token: RelayAccessToken, indent: int | None = None) -> bytes:
    return render_json(token_to_dict(token), indent)


def render_enterprise(enterprise: RelayEnterprise, indent: int | None = None) -> bytes:
    return render_json(enterprise_to_dict(enterprise), indent)


def render_error(error: RelayErrorBody, indent: int | None = None) -> bytes:
    return render_json(error_to_dict(error), indent)


def _load(data: bytes | str, source: str | None) -> Any:
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise WireFormatError(
                f"body is not valid Unicode ({exc.reason} at index {exc.start})", source=source
            ) from None
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        raise WireFormatError(
            f"expected bytes or str, not {type(data).__name__}", value=data, source=source
        )
    if len(raw) > MAX_BODY_BYTES:
        raise WireFormatError(
            f"body is {len(raw)} bytes, over the {MAX_BODY_BYTES}-byte limit",
            value=raw[:60],
            source=source,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireFormatError(
            f"body is not UTF-8 ({exc.reason} at byte {exc.start})",
            value=raw[max(0, exc.start - 20) : exc.start + 20],
            source=source,
        ) from None
    return load_json_text(text, source)


def _loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int) and parts:
            parts[-1] = f"{parts[-1]}[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts)


def _validate(model: type[M], document: Any, what: str, source: str | None, prefix: str = "") -> M:
    if not isinstance(document, dict):
        raise WireFormatError(
            f"expected a JSON object for {what}, got {type(document).__name__}",
            field=prefix.rstrip(".") or None,
            value=document,
            source=source,
        )
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = exc.error_count() - 1
        message = f"{what}: {first['msg']}"
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        field = prefix + _loc(first["loc"])
        value = first.get("input") if first["type"] != "missing" else None
        raise WireFormatError(message, field=field, value=value, source=source) from None


def parse_token(data: bytes | str, source: str | None = None) -> RelayAccessToken:
    """Parse one AccessToken JSON body."""
    return _validate(RelayAccessToken, _load(data, source), "AccessToken", source)


def parse_tokens(data: bytes | str, source: str | None = None) -> list[RelayAccessToken]:
    """Parse a JSON array of AccessTokens."""
    document = _load(data, source)
    if not isinstance(document, list):
        raise WireFormatError(
            f"expected a JSON array of AccessTokens, got {type(document).__name__}",
            value=document,
            source=source,
        )
    return [
        _validate(RelayAccessToken, item, "AccessToken", source, prefix=f"[{index}].")
        for index, item in enumerate(document)
    ]


def parse_enterprise(data: bytes | str, source: str | None = None) -> RelayEnterprise:
    """Parse an Enterprise JSON body (``GET /api/enterprises/self``)."""
    return _validate(RelayEnterprise, _load(data, source), "Enterprise", source)


def parse_error(data: bytes | str, source: str | None = None) -> RelayErrorBody:
    """Parse the four-key error envelope."""
    return _validate(RelayErrorBody, _load(data, source), "error envelope", source)


_DATE_VALUE = {
    key: re.compile(rb'("' + key.encode() + rb'"\s*:\s*)(-?\d+|null)')
    for key in ("creationDate", "expirationDate")
}


def retime_token(
    body: bytes, creation_date: _dt.datetime, expiration_date: _dt.datetime | None
) -> bytes:
    """A recorded AccessToken body with only ``creationDate`` and ``expirationDate``
    replaced (epoch ms, or ``null`` for a token that never expires), every other byte kept:
    unknown keys, order and spacing. Raises :class:`WireFormatError` when either key is not
    there exactly once."""
    values = {
        "creationDate": str(datetime_to_ms(creation_date)).encode(),
        "expirationDate": b"null"
        if expiration_date is None
        else str(datetime_to_ms(expiration_date)).encode(),
    }
    for key, pattern in _DATE_VALUE.items():
        count = len(pattern.findall(body))
        if count != 1:
            raise WireFormatError(f"expected one {key} to re-time, found {count}", field=key)
        value = values[key]

        def replace(match: re.Match[bytes], value: bytes = value) -> bytes:
            return match[1] + value

        body = pattern.sub(replace, body, count=1)
    return body
