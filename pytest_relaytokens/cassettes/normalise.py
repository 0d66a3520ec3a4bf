"""A normalised view of a recorded message: content codings undone, text decoded by charset.

Redaction and the leak scan both work on this view, so a secret cannot hide behind
``Content-Encoding: gzip``, a UTF-16 body or an escape style. Every helper here runs in
linear time (no regular expressions).
"""

from __future__ import annotations

import codecs
import contextlib
import importlib
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import RelayTokensError
from ..http.headers import content_type_param, media_type
from ..http.multipart import MAX_PARAMETERS_LENGTH

__all__ = [
    "MAX_BODY_BYTES",
    "UndecodableBodyError",
    "charset_of",
    "content_codings",
    "decode_body",
    "decode_content",
    "decode_text",
    "header_values",
    "sniffed_coding",
    "unescape_backslashes",
]

MAX_BODY_BYTES = 16 * 1024 * 1024
"""Largest body (after decompression) that is recorded, scanned or loaded."""

_IDENTITY = ("", "identity")


class UndecodableBodyError(RelayTokensError, ValueError):
    """A body whose content coding cannot be undone: it is refused, never written."""


def header_text(value: object) -> str:
    """One header value as text (bytes are latin-1, as on the wire)."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def header_values(headers: Mapping[str, Any] | None, name: str) -> list[str]:
    """Every value of header ``name`` (any case, repeated or listed)."""
    out: list[str] = []
    for key, values in (headers or {}).items():
        if str(key).lower() != name:
            continue
        items = values if isinstance(values, (list, tuple)) else [values]
        out.extend(header_text(v) for v in items)
    return out


def content_codings(headers: Mapping[str, Any] | None) -> list[str]:
    """The content codings applied to a body, in the order they were applied."""
    codings: list[str] = []
    for value in header_values(headers, "content-encoding"):
        for part in value.split(","):
            coding = part.strip().lower()
            if coding not in _IDENTITY:
                codings.append(coding)
    return codings


def _inflate(data: bytes, wbits: int, where: str) -> bytes:
    out = bytearray()
    while True:
        engine = zlib.decompressobj(wbits)
        try:
            out += engine.decompress(data, MAX_BODY_BYTES + 1 - len(out))
        except zlib.error as error:
            raise UndecodableBodyError(f"{where}: body is not valid ({error})") from None
        if len(out) > MAX_BODY_BYTES or engine.unconsumed_tail:
            raise UndecodableBodyError(
                f"{where}: decoded body is larger than {MAX_BODY_BYTES} bytes"
            )
        if not engine.eof:
            raise UndecodableBodyError(f"{where}: body is truncated")
        data = engine.unused_data
        if wbits != 31 or not data.strip(b"\x00"):  # gzip may hold several members
            return bytes(out)


def _optional_decoder(names: Iterable[str]) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _decode_one(data: bytes, coding: str, where: str) -> bytes:
    if coding in ("gzip", "x-gzip"):
        return _inflate(data, 31, where)
    if coding == "deflate":
        try:
            return _inflate(data, 15, where)
        except UndecodableBodyError as error:
            if "larger than" in str(error):
                raise
            return _inflate(data, -15, where)  # raw deflate, as some servers send
    if coding == "br":
        module = _optional_decoder(("brotli", "brotlicffi"))
        if module is None:
            raise UndecodableBodyError(
                f"{where}: body is brotli-compressed and no brotli decoder is installed "
                "(pip install brotli)"
            )
        try:
            decoded: bytes = module.decompress(data)
        except Exception as error:  # the decoders raise their own error types
            raise UndecodableBodyError(f"{where}: body is not valid brotli ({error})") from None
        if len(decoded) > MAX_BODY_BYTES:
            raise UndecodableBodyError(f"{where}: decoded body is larger than {MAX_BODY_BYTES}")
        return decoded
    raise UndecodableBodyError(f"{where}: unsupported Content-Encoding {coding!r}")


def _looks_encoded(body: bytes, coding: str) -> bool:
    """Does ``body`` look like data in ``coding`` (rather than already decoded text)?"""
    if coding in ("gzip", "x-gzip"):
        return body[:2] == b"\x1f\x8b"
    if coding == "deflate" and len(body) >= 2:
        zlib_header = body[0] & 0x0F == 8 and (body[0] * 256 + body[1]) % 31 == 0
        if zlib_header:
            return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def decode_content(body: bytes, codings: list[str], where: str = "body") -> bytes:
    """``body`` with every content coding undone (last applied, first undone).

    Some recorders hand over a body their HTTP client already decoded, with the
    ``Content-Encoding`` header still on it: a body that does not decode but does not
    look encoded either (no gzip magic, no zlib header, valid UTF-8) is taken as decoded.
    Anything else that does not decode raises :class:`UndecodableBodyError`.
    """
    for coding in reversed(codings):
        try:
            body = _decode_one(body, coding, where)
        except UndecodableBodyError as error:
            if "larger than" in str(error) or _looks_encoded(body, coding):
                raise
            return body
    return body


def sniffed_coding(body: bytes, where: str = "body") -> str | None:
    """``gzip`` or ``deflate`` when a body sent without ``Content-Encoding`` starts with that
    format's magic (gzip ``1f 8b``, RFC 1952 §2.3.1; a zlib header, RFC 1950 §2.2) and
    decodes as it; else None. A body that decodes past :data:`MAX_BODY_BYTES` raises."""
    if body[:2] == b"\x1f\x8b":
        coding = "gzip"
    elif len(body) >= 2 and body[0] & 0x0F == 8 and body[0] >> 4 <= 7:
        if (body[0] * 256 + body[1]) % 31 or body[1] & 0x20:  # FCHECK; no preset dictionary
            return None
        coding = "deflate"
    else:
        return None
    try:
        _inflate(body, 31 if coding == "gzip" else 15, where)
    except UndecodableBodyError as error:
        if "larger than" in str(error):
            raise
        return None
    return coding


def decode_body(
    body: bytes, headers: Mapping[str, Any] | None, where: str = "body"
) -> tuple[bytes, str, tuple[str, str, bytes] | None]:
    """``(bytes, content type, text)`` of a recorded body: its content codings undone (at
    most :data:`MAX_BODY_BYTES`), the Content-Type as sent (a multipart boundary keeps its
    case) and :func:`decode_text` of it (None when it is not text).
    :class:`UndecodableBodyError` names ``where``."""
    codings = content_codings(headers)
    if not codings:
        sniffed = sniffed_coding(body, where)
        codings = [sniffed] if sniffed else []
    raw = decode_content(body, codings, where)
    if len(raw) > MAX_BODY_BYTES:
        raise UndecodableBodyError(f"{where}: body is larger than {MAX_BODY_BYTES} bytes")
    content_type = (header_values(headers, "content-type") or [""])[0]
    return raw, content_type, decode_text(raw, content_type.lower())


def charset_of(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type value, if any (an over-long value is
    not read: decoding then falls back to sniffing)."""
    if len(content_type) > MAX_PARAMETERS_LENGTH:
        return None
    value = (content_type_param(content_type, "charset") or "").strip("'").strip()
    return value or None


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _sniff_wide(body: bytes) -> str | None:
    """UTF-16/32 without a BOM, from the NUL pattern of the first characters."""
    head = body[:4]
    if len(head) < 4:
        head = body[:2]
        if len(head) == 2:
            if head[0] == 0 and head[1]:
                return "utf-16-be"
            if head[1] == 0 and head[0]:
                return "utf-16-le"
        return None
    if head[:3] == b"\x00\x00\x00" and head[3]:
        return "utf-32-be"
    if head[0] and head[1:] == b"\x00\x00\x00":
        return "utf-32-le"
    if head[0] == 0 and head[1] and head[2] == 0:
        return "utf-16-be"
    if head[0] and head[1] == 0 and head[3] == 0:
        return "utf-16-le"
    return None


def decode_text(body: bytes, content_type: str = "") -> tuple[str, str, bytes] | None:
    """``(text, encoding, bom)`` for a text body, or None when it is not text.

    The order: a byte-order mark, the ``charset=`` parameter, UTF-8, then UTF-16/32 told
    from the NUL pattern. ``text.encode(encoding)`` with ``bom`` in front gives the body back.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            try:
                return body[len(bom) :].decode(encoding), encoding, bom
            except UnicodeDecodeError:
                return None
    declared_name: str | None = None
    declared = charset_of(content_type)
    if declared:
        with contextlib.suppress(LookupError):
            declared_name = codecs.lookup(declared).name
    wide = _sniff_wide(body)
    candidates: list[str] = []
    if declared_name and declared_name.startswith(("utf-16", "utf-32")):
        candidates.append(declared_name)
    if wide:
        candidates.append(wide)
    # Valid UTF-8 beats a declared 8-bit charset: servers often declare latin-1 and echo
    # UTF-8 (httpx sends Basic credentials as UTF-8), and reading it as latin-1 would hide
    # a secret from the redactor.
    candidates.append("utf-8")
    if declared_name and declared_name not in candidates:
        candidates.append(declared_name)
    if _declares_structure(content_type) and "latin-1" not in candidates:
        # declared JSON/XML that is not valid in its charset: read byte for byte, so the
        # text fallbacks still find its secret-named fields (and it round-trips exactly)
        candidates.append("latin-1")
    for encoding in candidates:
        try:
            return body.decode(encoding), encoding, b""
        except (UnicodeDecodeError, LookupError):
            continue
    return None


def _declares_structure(content_type: str) -> bool:
    media = media_type(content_type)
    return "json" in media or "xml" in media


_SIMPLE_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "'": "'",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _hex_at(text: str, start: int, size: int) -> int | None:
    chunk = text[start : start + size]
    if len(chunk) != size or not _HEX_DIGITS.issuperset(chunk):
        return None
    return int(chunk, 16)


def unescape_backslashes(text: str) -> str:
    """JSON, JavaScript and .NET backslash escapes (``\\u003C``, ``\\x2b``, ``\\/``) undone,
    in one pass; unknown escapes are kept as they are."""
    if "\\" not in text:
        return text
    out: list[str] = []
    position = 0
    size = len(text)
    while True:
        index = text.find("\\", position)
        if index < 0 or index + 1 >= size:
            out.append(text[position:])
            break
        out.append(text[position:index])
        kind = text[index + 1]
        if kind in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[kind])
            position = index + 2
            continue
        width = 4 if kind == "u" else 2 if kind == "x" else 0
        code = _hex_at(text, index + 2, width) if width else None
        if code is None:
            out.append("\\")
            position = index + 1
            continue
        position = index + 2 + width
        if 0xD800 <= code < 0xDC00 and text.startswith("\\u", position):
            low = _hex_at(text, position + 2, 4)
            if low is not None and 0xDC00 <= low < 0xE000:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                position += 6
        out.append(chr(code) if not 0xD800 <= code < 0xE000 else "\ufffd")
    return "".join(out)
