"""Render and parse UCWA bodies: the token in JSON and XML, and error (``reason``) bodies.

JSON uses the docs sample's layout (``"key" : value``, two-space indent, ``\\/Date(ms)\\/``);
``pretty=False`` gives a compact document. XML uses ``<resource>``/``<property>`` exactly as
the docs sample. Parsers are tolerant (``Uri``/``uri``, any timestamp form, one embedded relay
or a list, missing addresses) and raise :class:`WireFormatError` on anything else.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

import defusedxml
import defusedxml.ElementTree as SafeET
from pydantic import BaseModel, ValidationError

from ..errors import WireFormatError
from ..http.headers import media_type
from ..tokens import load_json_text
from .models import MediaRelay, MediaRelayAccessToken, UcwaErrorBody
from .timestamps import format_iso, format_ms_date, parse_timestamp, truncate_ms, zone

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_XML_DEPTH",
    "UCWA_NS",
    "UcwaQuirks",
    "at_wire_precision",
    "dump_json",
    "dump_xml",
    "parse",
    "parse_error",
    "parse_input",
    "parse_json",
    "parse_xml",
    "relay_resource",
    "render",
    "render_error",
    "render_json",
    "render_xml",
    "retime",
    "token_resource",
]

UCWA_NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
MAX_BODY_BYTES = 1 << 20
MAX_XML_DEPTH = 32
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
Format = Literal["json", "xml"]


@dataclass(frozen=True)
class UcwaQuirks:
    """How a rendered token looks where servers (or the docs) may differ.

    - ``uri_key``: ``"Uri"`` as in both docs samples, or ``"uri"`` as in the property table.
    - ``timestamps`` (JSON only; XML is always ISO 8601): ``"utc_ms"`` ``\\/Date(ms)\\/``,
      ``"ms_offset"`` ``\\/Date(ms-0700)\\/``, ``"iso"`` an ISO 8601 string.
    - ``offset``: the local UTC offset used by ISO timestamps and the ``ms_offset`` suffix:
      ``"-07:00"``, ``"Z"`` (ISO ``...Z``; ``+0000`` in ``/Date()/``) or an IANA zone name
      (``"America/Los_Angeles"``: ``-08:00`` in December, ``-07:00`` in July).
    - ``location``: every relay's ``location`` (``"Internet"``, ``"Intranet"``, ``"All"``)
      whatever the token holds (None: as the token holds; the JSON sample says ``Internet``,
      the XML one ``Intranet``).
    - ``pretty``: JSON laid out as the docs samples (``"key" : value``, two-space indent);
      None leaves it to the caller (``render_json(pretty=...)``, the fake's compact default).
    """

    uri_key: Literal["Uri", "uri"] = "Uri"
    timestamps: Literal["utc_ms", "ms_offset", "iso"] = "utc_ms"
    offset: str = "-07:00"
    location: Literal["Internet", "Intranet", "All"] | None = None
    pretty: bool | None = None

    def __post_init__(self) -> None:
        zone(self.offset)  # a bad offset or zone name fails here, naming the field
        if self.pretty is not None and not isinstance(self.pretty, bool):
            raise WireFormatError("expected True, False or None", field="pretty", value=self.pretty)


_DEFAULT_QUIRKS = UcwaQuirks()
_MS_OFFSET = re.compile(rb"Date\(-?\d+([+-])(\d\d)(\d\d)\)")
_ISO_OFFSET = re.compile(rb"T\d\d:\d\d:\d\d(?:\.\d+)?(Z|z|[+-]\d\d:\d\d)(?=[<\"])")


def detect_quirks(body: bytes) -> tuple[UcwaQuirks, bool]:
    """The quirks a rendered token body was written with (``Z`` or the numeric offset it
    shows), and whether it was pretty-printed, so a changed token renders back the same way."""
    uri_key: Literal["Uri", "uri"] = "uri" if b'"uri"' in body or b'name="uri"' in body else "Uri"
    timestamps: Literal["utc_ms", "ms_offset", "iso"]
    offset = _DEFAULT_QUIRKS.offset
    if match := _MS_OFFSET.search(body):
        timestamps = "ms_offset"
        offset = f"{match[1].decode()}{match[2].decode()}:{match[3].decode()}"
    else:
        timestamps = "utc_ms" if b"Date(" in body or body.lstrip().startswith(b"<") else "iso"
        if iso := _ISO_OFFSET.search(body):
            offset = iso.group(1).decode().upper()
    pretty = b"\n" in body.strip()
    return UcwaQuirks(uri_key, timestamps, offset, pretty=pretty), pretty


# ---------------------------------------------------------------------------------------
# Generic resource documents (dicts in the JSON shape) -> JSON / XML text
# ---------------------------------------------------------------------------------------

_MS_DATE_JSON = re.compile(r'"/Date\((-?\d+(?:[+-]\d{4})?)\)/"')


_encode_str = json.encoder.encode_basestring  # the C encoder's, as ensure_ascii=False uses
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class _Unusual(Exception):
    """A value the fast layout does not handle; ``json.dumps`` takes over."""


def _scalar(value: object) -> str:
    """One JSON scalar exactly as ``json.dumps`` writes it."""
    if isinstance(value, str):
        return _encode_str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return json.dumps(value)
    raise _Unusual


def _pretty(value: object, pad: str) -> str:
    """``json.dumps(value, indent=2, separators=(",", " : "), ensure_ascii=False)`` for
    dicts with string keys, lists and scalars, without the pure-Python encoder."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = pad + "  "
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Unusual
            items.append(f"{inner}{_encode_str(key)} : {_pretty(item, inner)}")
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = pad + "  "
        return "[\n" + ",\n".join(inner + _pretty(item, inner) for item in value) + "\n" + pad + "]"
    return _scalar(value)


def _json_text(document: Mapping[str, Any], pretty: bool) -> str:
    if not pretty:
        return _COMPACT(document)
    try:
        return _pretty(document, "")
    except (_Unusual, RecursionError):
        return json.dumps(document, indent=2, separators=(",", " : "), ensure_ascii=False)


def _escape_ms_dates(text: str) -> bytes:
    if '"/Date(' in text:  # what the pattern starts with
        text = _MS_DATE_JSON.sub(r'"\\/Date(\1)\\/"', text)
    return text.encode("utf-8")


def dump_json(document: Mapping[str, Any], *, pretty: bool = True) -> bytes:
    """A resource dict as UCWA JSON: the docs layout, ``/Date()/`` slashes escaped as ``\\/``."""
    return _escape_ms_dates(_json_text(document, pretty))


def _xml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _xml_lines(document: Mapping[str, Any], indent: int, *, root: bool) -> list[str]:
    pad = "  " * indent
    links = dict(document.get("_links") or {})
    self_link = links.pop("self", None)
    attrs = f" rel={quoteattr(str(document.get('rel', '')))}"
    if isinstance(self_link, Mapping) and self_link.get("href") is not None:
        attrs += f" href={quoteattr(str(self_link['href']))}"
    if root:
        attrs += f' xmlns="{UCWA_NS}"'
    lines = [f"{pad}<resource{attrs}>"]
    inner = "  " * (indent + 1)
    for key, value in document.items():
        if key in ("_links", "_embedded"):
            continue
        if isinstance(value, list):
            lines.append(f"{inner}<propertyList name={quoteattr(key)}>")
            lines.extend(f"{inner}  <item>{_xml_value(v)}</item>" for v in value)
            lines.append(f"{inner}</propertyList>")
        elif value is not None:
            lines.append(f"{inner}<property name={quoteattr(key)}>{_xml_value(value)}</property>")
    for rel, link in links.items():
        for item in link if isinstance(link, list) else [link]:
            extra = "".join(f" {k}={quoteattr(str(v))}" for k, v in item.items() if k != "href")
            lines.append(
                f"{inner}<link rel={quoteattr(rel)} href={quoteattr(str(item['href']))}{extra} />"
            )
    for embedded in (document.get("_embedded") or {}).values():
        for item in embedded if isinstance(embedded, list) else [embedded]:
            lines.extend(_xml_lines(item, indent + 1, root=False))
    lines.append(f"{pad}</resource>")
    return lines


def dump_xml(document: Mapping[str, Any]) -> bytes:
    """A resource dict (JSON shape) as UCWA XML: ``<resource>``, ``<property>``, ``<link>``."""
    return "\n".join([XML_DECLARATION, *_xml_lines(document, 0, root=True)]).encode("utf-8")


# ---------------------------------------------------------------------------------------
# Token rendering
# ---------------------------------------------------------------------------------------


def relay_resource(relay: MediaRelay, location: str | None = None) -> dict[str, Any]:
    """One relay as a ``mediaRelay`` resource dict in JSON shape."""
    doc: dict[str, Any] = {"rel": "mediaRelay"}
    for key in ("host", "ipv4", "ipv6"):
        value = getattr(relay, key)
        if value is not None:
            doc[key] = value
    doc["location"] = location or relay.location
    doc["tcpPort"] = relay.tcp_port
    doc["udpPort"] = relay.udp_port
    if relay.href is not None:
        doc["_links"] = {"self": {"href": relay.href}}
    return doc


def token_resource(
    token: MediaRelayAccessToken, quirks: UcwaQuirks = _DEFAULT_QUIRKS, fmt: Format = "json"
) -> dict[str, Any]:
    """The token as a resource dict in JSON shape (what :func:`render` serialises)."""
    if fmt == "xml" or quirks.timestamps == "iso":
        valid_until = format_iso(token.valid_until, quirks.offset, token.valid_until_ticks)
    elif quirks.timestamps == "ms_offset":
        valid_until = format_ms_date(token.valid_until, quirks.offset)
    else:
        valid_until = format_ms_date(token.valid_until)
    doc: dict[str, Any] = {"rel": "mediaRelayAccessToken", "duration": token.duration}
    if token.uri is not None:
        doc[quirks.uri_key] = token.uri
    doc["password"] = token.password
    doc["userName"] = token.user_name
    doc["validUntil"] = valid_until
    if token.href is not None:
        doc["_links"] = {"self": {"href": token.href}}
    if token.media_relays:
        doc["_embedded"] = {
            "mediaRelay": [relay_resource(r, quirks.location) for r in token.media_relays]
        }
    return doc


def render_json(
    token: MediaRelayAccessToken,
    quirks: UcwaQuirks = _DEFAULT_QUIRKS,
    *,
    pretty: bool | None = None,
) -> bytes:
    """The token as UCWA JSON: the docs sample's layout unless ``pretty=False``; when the
    argument is left out or False, ``quirks.pretty=True`` still asks for that layout."""
    if quirks.pretty or (pretty is None and quirks.pretty is None) or pretty:
        return dump_json(token_resource(token, quirks, "json"), pretty=True)
    try:
        return _escape_ms_dates(_compact_token(token, quirks))
    except _Unusual:  # a field assigned something odd after validation: the generic path
        return dump_json(token_resource(token, quirks, "json"), pretty=False)


def _valid_until_json(token: MediaRelayAccessToken, quirks: UcwaQuirks) -> str:
    """``validUntil`` as a JSON string; ``/Date()/`` already escaped as ``\\/Date()\\/``
    (what :func:`_escape_ms_dates` makes of it: the form always matches its pattern)."""
    if quirks.timestamps == "iso":
        return _scalar(format_iso(token.valid_until, quirks.offset, token.valid_until_ticks))
    if quirks.timestamps == "ms_offset":
        text = format_ms_date(token.valid_until, quirks.offset)
    else:
        text = format_ms_date(token.valid_until)
    return '"\\' + text[:-1] + '\\/"'  # "/Date(ms)/" -> "\/Date(ms)\/"


def _self_link(href: str) -> str:
    return f'"_links":{{"self":{{"href":{_scalar(href)}}}}}'


def _compact_relay(relay: MediaRelay, location: str | None) -> str:
    parts = ['{"rel":"mediaRelay"']
    for key in ("host", "ipv4", "ipv6"):
        value = getattr(relay, key)
        if value is not None:
            parts.append(f',"{key}":{_scalar(value)}')
    parts.append(
        f',"location":{_scalar(location or relay.location)}'
        f',"tcpPort":{_scalar(relay.tcp_port)},"udpPort":{_scalar(relay.udp_port)}'
    )
    if relay.href is not None:
        parts.append("," + _self_link(relay.href))
    parts.append("}")
    return "".join(parts)


def _compact_token(token: MediaRelayAccessToken, quirks: UcwaQuirks) -> str:
    """What ``json.dumps(token_resource(token), separators=(",", ":"))`` gives, written
    directly (field order as :func:`token_resource`)."""
    parts = [f'{{"rel":"mediaRelayAccessToken","duration":{_scalar(token.duration)}']
    if token.uri is not None:
        parts.append(f',"{quirks.uri_key}":{_scalar(token.uri)}')
    parts.append(
        f',"password":{_scalar(token.password)},"userName":{_scalar(token.user_name)}'
        f',"validUntil":{_valid_until_json(token, quirks)}'
    )
    if token.href is not None:
        parts.append("," + _self_link(token.href))
    if token.media_relays:
        relays = ",".join(_compact_relay(r, quirks.location) for r in token.media_relays)
        parts.append(f',"_embedded":{{"mediaRelay":[{relays}]}}')
    parts.append("}")
    return "".join(parts)


def render_xml(token: MediaRelayAccessToken, quirks: UcwaQuirks = _DEFAULT_QUIRKS) -> bytes:
    """The token as UCWA XML, laid out like the docs sample."""
    return dump_xml(token_resource(token, quirks, "xml"))


def at_wire_precision(
    token: MediaRelayAccessToken, fmt: Format = "json", quirks: UcwaQuirks = _DEFAULT_QUIRKS
) -> MediaRelayAccessToken:
    """``token`` as a client parsing it rendered in ``fmt`` gets it: ``/Date(ms)/`` keeps the
    whole millisecond (.NET truncates), ISO 8601 (XML, ``timestamps="iso"``) the 100 ns tick."""
    if fmt == "xml" or quirks.timestamps == "iso":
        return token
    copy = token.model_copy(update={"valid_until": truncate_ms(token.valid_until)})
    copy._set_ticks(0)
    return copy


def render(
    token: MediaRelayAccessToken, fmt: Format = "json", quirks: UcwaQuirks = _DEFAULT_QUIRKS
) -> bytes:
    """The token in ``fmt`` (``"json"`` or ``"xml"``)."""
    if fmt == "xml":
        return render_xml(token, quirks)
    if fmt == "json":
        return render_json(token, quirks)
    raise ValueError(f"fmt must be 'json' or 'xml', got {fmt!r}")


# ---------------------------------------------------------------------------------------
# Re-timing a recorded body
# ---------------------------------------------------------------------------------------

_JSON_VALID_UNTIL = re.compile(rb'("validUntil"\s*:\s*")((?:[^"\\]|\\.)*)(")')
_JSON_DURATION = re.compile(rb'("duration"\s*:\s*)(-?\d+)')
_XML_VALID_UNTIL = re.compile(rb'(<property\s+name="validUntil"\s*>)([^<]*)(</property>)')
_XML_DURATION = re.compile(rb'(<property\s+name="duration"\s*>)(\s*\d+\s*)(</property>)')
_ISO_SHAPE = re.compile(r"(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:?\d\d)?")
_MS_SHAPE = re.compile(r"(\\?/Date\()(-?\d+)([+-]\d{4})?(\)\\?/)")


def _same_shape(old: str, valid_until: _dt.datetime, ticks: int) -> str:
    """``valid_until`` written exactly as ``old`` was: ``/Date()/`` with its escaping and
    offset suffix kept, or ISO 8601 with its offset text and number of fractional digits."""
    if ms := _MS_SHAPE.fullmatch(old):
        stamp = format_ms_date(valid_until)[len("/Date(") : -len(")/")]
        return f"{ms[1]}{stamp}{ms[3] or ''}{ms[4]}"
    iso = _ISO_SHAPE.fullmatch(old)
    if iso is None:
        raise WireFormatError("not a timestamp this can re-time", field="validUntil", value=old)
    suffix = iso[3] or ""
    offset = "Z" if suffix in ("", "Z", "z") else f"{suffix[:3]}:{suffix[-2:]}"
    text = format_iso(valid_until, offset, ticks)  # 2016-09-26T16:20:27.2948002-07:00
    head, _, rest = text.partition(".")
    digits = rest[:7] + "00"  # nine digits at most, as parse_iso reads
    fraction = f".{digits[: len(iso[2])]}" if iso[2] is not None else ""
    return f"{head}{fraction}{suffix}"


def retime(
    body: bytes,
    content_type: str | None,
    valid_until: _dt.datetime,
    duration: int | None = None,
    *,
    ticks: int = 0,
) -> bytes:
    """A recorded ``mediaRelayAccessToken`` body with only ``validUntil`` (and ``duration``
    when given) replaced, byte for byte otherwise: unknown properties (``etag``), order,
    spacing, the timestamp's form, offset and precision are all kept.

    The one function replay (an expiry marker, ``--relaytokens-rebase``, clock skew) uses to
    move a recorded token. Raises :class:`WireFormatError` when the body has no single
    ``validUntil`` to replace.
    """
    xml = _sniff(body, content_type) == "xml"
    stamp, number = (
        (_XML_VALID_UNTIL, _XML_DURATION) if xml else (_JSON_VALID_UNTIL, _JSON_DURATION)
    )
    found = stamp.findall(body)
    if len(found) != 1:
        raise WireFormatError(
            f"expected one validUntil to re-time, found {len(found)}", field="validUntil"
        )

    def new_stamp(match: re.Match[bytes]) -> bytes:
        old = match[2].decode("utf-8")
        return match[1] + _same_shape(old.strip(), valid_until, ticks).encode() + match[3]

    body = stamp.sub(new_stamp, body, count=1)
    if duration is not None and len(number.findall(body)) == 1:

        def new_duration(match: re.Match[bytes]) -> bytes:
            old = match[2]
            text = str(duration).encode()
            if xml:  # keep the XML whitespace around the number
                text = old[: len(old) - len(old.lstrip())] + text + old[len(old.rstrip()) :]
            return match[1] + text + (match[3] if xml else b"")

        body = number.sub(new_duration, body, count=1)
    return body


# ---------------------------------------------------------------------------------------
# Parsing helpers
# ---------------------------------------------------------------------------------------


def _text(data: bytes | str, source: str | None) -> str:
    if isinstance(data, str):
        size = len(data.encode("utf-8", "surrogatepass"))
    elif isinstance(data, (bytes, bytearray)):
        size = len(data)
    else:
        raise WireFormatError("body must be bytes or str", value=type(data).__name__, source=source)
    if size > MAX_BODY_BYTES:
        raise WireFormatError(
            f"body of {size} bytes is over the {MAX_BODY_BYTES}-byte limit", source=source
        )
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates: no server could have sent them
            raise WireFormatError(
                f"body is not valid Unicode ({exc.reason} at index {exc.start})", source=source
            ) from None
        return data
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WireFormatError(
            f"body is not UTF-8 ({exc.reason} at byte {exc.start})",
            value=bytes(data[max(0, exc.start - 10) : exc.start + 10]),
            source=source,
        ) from None


def _load_json(data: bytes | str, source: str | None) -> Any:
    return load_json_text(_text(data, source), source)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _load_xml(data: bytes | str, source: str | None) -> Element:
    text = _text(data, source)
    try:
        root = SafeET.fromstring(text, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise WireFormatError(f"refused unsafe XML ({type(exc).__name__})", source=source) from None
    except ParseError as exc:
        raise WireFormatError(f"invalid XML: {exc}", value=text[:80], source=source) from None
    except UnicodeError as exc:  # a str holding lone surrogates cannot be encoded
        raise WireFormatError(f"body is not valid Unicode ({exc})", source=source) from None
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_XML_DEPTH:
            raise WireFormatError(
                f"XML nested deeper than {MAX_XML_DEPTH} levels",
                field=_local(element.tag),
                source=source,
            )
        stack.extend((child, depth + 1) for child in element)
    return root


def _validation_error(
    exc: ValidationError, prefix: str, raw: Mapping[str, Any], source: str | None
) -> WireFormatError:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    field = ".".join([prefix, *loc] if prefix else loc) or prefix or None
    value = error.get("input")
    if error["type"] == "missing":
        return WireFormatError("required field is missing", field=field, source=source)
    return WireFormatError(
        error["msg"], field=field, value=value if value is not None else raw, source=source
    )


def _validate(model: type[BaseModel], raw: dict[str, Any], prefix: str, source: str | None) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _validation_error(exc, prefix, raw, source) from None


def _kind(value: object) -> str:
    """What a JSON value is, in JSON's words, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


#: Integer fields of the token and its relays: (lowest, highest, what the number is). A
#: duration is minutes in a .NET Int32; a port is 0-65535, or -1 when unset (reference §2).
_INTEGERS: dict[str, tuple[int, int, str]] = {
    "duration": (0, 2**31 - 1, "minutes"),
    "tcpPort": (-1, 65535, "a port (0-65535, or -1 when unset)"),
    "udpPort": (-1, 65535, "a port (0-65535, or -1 when unset)"),
}
_XML_SPACE = " \t\r\n"
_XML_DIGITS = re.compile(r"[0-9]+")


def _strict_integers(values: dict[str, Any], prefix: str, source: str | None, *, xml: bool) -> None:
    """Check and convert ``values``' integer fields in place: a JSON integer (never a string,
    boolean or fraction), or in XML plain decimal digits (``-1`` only for a port), in range."""
    for key, (low, high, what) in _INTEGERS.items():
        if key not in values:
            continue
        value = values[key]
        field = f"{prefix}.{key}" if prefix else key
        if xml:
            text = str(value).strip(_XML_SPACE)
            if _XML_DIGITS.fullmatch(text) is not None:
                number = int(text) if len(text) <= 20 else high + 1  # no int() of 5000 digits
            elif text == "-1" and low < 0:
                number = -1
            else:
                raise WireFormatError(
                    f"expected {what} as plain decimal digits",
                    field=field,
                    value=value,
                    source=source,
                )
        elif isinstance(value, bool) or not isinstance(value, int):
            raise WireFormatError(
                f"expected a JSON integer ({what}), not {_kind(value)}",
                field=field,
                value=value,
                source=source,
            )
        else:
            number = value
        if not low <= number <= high:
            raise WireFormatError(
                f"{what} out of range {low}..{high}", field=field, value=value, source=source
            )
        values[key] = number


def _href(links: object) -> str | None:
    if isinstance(links, Mapping):
        self_link = links.get("self")
        if isinstance(self_link, list) and self_link:
            self_link = self_link[0]
        if isinstance(self_link, Mapping) and isinstance(self_link.get("href"), str):
            return str(self_link["href"])
    return None


def _relay_from_json(raw: object, field: str, source: str | None) -> MediaRelay:
    if not isinstance(raw, Mapping):
        raise WireFormatError("expected a mediaRelay object", field=field, value=raw, source=source)
    values = {
        k: v
        for k, v in raw.items()
        if k in ("host", "ipv4", "ipv6", "location", "tcpPort", "udpPort")
    }
    _strict_integers(values, field, source, xml=False)
    values["href"] = _href(raw.get("_links"))
    relay: MediaRelay = _validate(MediaRelay, values, field, source)
    return relay


def _token_from_values(
    values: dict[str, Any], relays: list[MediaRelay], source: str | None
) -> MediaRelayAccessToken:
    if "validUntil" not in values:
        raise WireFormatError("required field is missing", field="validUntil", source=source)
    valid_until, ticks = parse_timestamp(values["validUntil"], field="validUntil", source=source)
    values["validUntil"] = valid_until
    values["mediaRelay"] = relays
    token: MediaRelayAccessToken = _validate(MediaRelayAccessToken, values, "", source)
    token._set_ticks(ticks)
    return token


def _token_values(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The token's own properties of a JSON object or XML property bag (``Uri`` in any of
    the three spellings seen on the wire)."""
    values = {k: doc[k] for k in ("duration", "password", "userName", "validUntil") if k in doc}
    for key in ("Uri", "uri", "URI"):
        if key in doc:
            values["uri"] = doc[key]
            break
    return values


def parse_json(data: bytes | str, source: str | None = None) -> MediaRelayAccessToken:
    """A ``mediaRelayAccessToken`` JSON body as a model (tolerant of the known quirks)."""
    doc = _load_json(data, source)
    if not isinstance(doc, dict):
        raise WireFormatError("expected a JSON object", value=doc, source=source)
    values = _token_values(doc)
    _strict_integers(values, "", source, xml=False)
    if "validUntil" in values and not isinstance(values["validUntil"], str):
        raise WireFormatError(
            "expected a /Date(ms)/ or ISO 8601 string, not " + _kind(values["validUntil"]),
            field="validUntil",
            value=values["validUntil"],
            source=source,
        )
    values["href"] = _href(doc.get("_links"))
    embedded = doc.get("_embedded") or {}
    if not isinstance(embedded, Mapping):
        raise WireFormatError(
            "expected an object", field="_embedded", value=embedded, source=source
        )
    raw_relays = embedded.get("mediaRelay", [])
    relays: list[MediaRelay] = []
    if isinstance(raw_relays, list):
        for index, raw in enumerate(raw_relays):
            relays.append(_relay_from_json(raw, f"_embedded.mediaRelay[{index}]", source))
    elif raw_relays is not None:
        relays.append(_relay_from_json(raw_relays, "_embedded.mediaRelay", source))
    return _token_from_values(values, relays, source)


def _properties(element: Element) -> dict[str, str]:
    return {
        str(child.get("name")): (child.text or "")
        for child in element
        if _local(child.tag) == "property" and child.get("name") is not None
    }


def parse_xml(data: bytes | str, source: str | None = None) -> MediaRelayAccessToken:
    """A ``mediaRelayAccessToken`` XML body (``<resource>`` form) as a model."""
    root = _load_xml(data, source)
    if _local(root.tag) != "resource":
        raise WireFormatError(
            "expected a <resource> root element",
            field="resource",
            value=_local(root.tag),
            source=source,
        )
    props = _properties(root)
    values = _token_values(props)
    _strict_integers(values, "", source, xml=True)
    values["href"] = root.get("href")
    relays: list[MediaRelay] = []
    nested = [
        child
        for child in root
        if _local(child.tag) == "resource" and child.get("rel") == "mediaRelay"
    ]
    for index, child in enumerate(nested):
        field = f"resource[mediaRelay][{index}]"
        raw: dict[str, Any] = {
            k: v
            for k, v in _properties(child).items()
            if k in ("host", "ipv4", "ipv6", "location", "tcpPort", "udpPort")
        }
        _strict_integers(raw, field, source, xml=True)
        raw["href"] = child.get("href")
        relays.append(_validate(MediaRelay, raw, field, source))
    return _token_from_values(values, relays, source)


def parse_input(
    data: bytes | str, content_type: str | None, source: str | None = None
) -> dict[str, Any] | None:
    """A POST/PUT body as a flat dict (JSON object, or XML ``<property>`` children);
    None when the content type is neither JSON nor XML."""
    ctype = media_type(content_type or "application/json")
    if ctype.endswith("json"):
        doc = _load_json(data or b"{}", source)
        if not isinstance(doc, dict):
            raise WireFormatError("expected a JSON object", value=doc, source=source)
        return doc
    if ctype.endswith("xml"):
        return dict(_properties(_load_xml(data, source)))
    return None


def _sniff(data: bytes | str, content_type: str | None) -> Format:
    ctype = media_type(content_type)
    if ctype.endswith("xml"):
        return "xml"
    if ctype.endswith("json"):
        return "json"
    head = (
        data[:64].decode("utf-8", "replace")
        if isinstance(data, (bytes, bytearray))
        else str(data)[:64]
    ).lstrip("\ufeff \t\r\n")
    return "xml" if head.startswith("<") else "json"


def parse(
    data: bytes | str, content_type: str | None = None, source: str | None = None
) -> MediaRelayAccessToken:
    """A token body in either format, chosen by ``content_type`` or by sniffing."""
    if _sniff(data, content_type) == "xml":
        return parse_xml(data, source)
    return parse_json(data, source)


# ---------------------------------------------------------------------------------------
# Error bodies
# ---------------------------------------------------------------------------------------

_REASON_OPEN = (
    '<reason xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xmlns="{UCWA_NS}">'
)


def _bag_xml(name: str, bag: Mapping[str, str] | None) -> str:
    if not bag:
        return f"  <{name} />"
    items = "".join(
        f"<property name={quoteattr(k)}>{escape(str(v))}</property>" for k, v in bag.items()
    )
    return f"  <{name}>{items}</{name}>"


def render_error(body: UcwaErrorBody, fmt: Format = "json", *, pretty: bool = False) -> bytes:
    """An error body: JSON ``{"code","subcode"?,"message"?,...}`` or XML ``<reason>``."""
    if fmt == "json":
        doc: dict[str, Any] = {"code": body.code}
        if body.subcode is not None:
            doc["subcode"] = body.subcode
        if body.message is not None:
            doc["message"] = body.message
        if body.link is not None:
            doc["link"] = body.link
        if body.parameters is not None:
            doc["parameters"] = body.parameters
        if body.debug_info is not None:
            doc["debugInfo"] = body.debug_info
        return dump_json(doc, pretty=pretty)
    if fmt != "xml":
        raise ValueError(f"fmt must be 'json' or 'xml', got {fmt!r}")
    lines = [XML_DECLARATION, _REASON_OPEN, f"  <code>{escape(body.code)}</code>"]
    if body.subcode is not None:
        lines.append(f"  <subcode>{escape(body.subcode)}</subcode>")
    if body.message is not None:
        lines.append(f"  <message>{escape(body.message)}</message>")
    if body.link is not None:
        lines.append(f"  <link href={quoteattr(body.link)} />")
    lines.append(_bag_xml("debugInfo", body.debug_info))
    lines.append(_bag_xml("parameters", body.parameters))
    lines.append("</reason>")
    return "\n".join(lines).encode("utf-8")


def _bag_from_xml(element: Element | None) -> dict[str, str] | None:
    if element is None or len(element) == 0:
        return None
    return {str(child.get("name") or _local(child.tag)): (child.text or "") for child in element}


def parse_error(
    data: bytes | str, content_type: str | None = None, source: str | None = None
) -> UcwaErrorBody:
    """A UCWA error body (JSON object or XML ``<reason>``) as :class:`UcwaErrorBody`."""
    if _sniff(data, content_type) == "xml":
        root = _load_xml(data, source)
        if _local(root.tag) not in ("reason", "error"):
            raise WireFormatError(
                "expected a <reason> root element",
                field="reason",
                value=_local(root.tag),
                source=source,
            )
        children = {_local(child.tag): child for child in root}
        raw: dict[str, Any] = {
            k: (children[k].text or "") for k in ("code", "subcode", "message") if k in children
        }
        if "link" in children:
            raw["link"] = children["link"].get("href") or children["link"].text
        raw["debugInfo"] = _bag_from_xml(children.get("debugInfo"))
        raw["parameters"] = _bag_from_xml(children.get("parameters"))
    else:
        doc = _load_json(data, source)
        if not isinstance(doc, dict):
            raise WireFormatError("expected a JSON object", value=doc, source=source)
        raw = dict(doc)
        link = raw.get("link")
        if isinstance(link, Mapping):
            raw["link"] = link.get("href")
        for bag in ("debugInfo", "parameters"):
            if isinstance(raw.get(bag), Mapping):
                raw[bag] = {str(k): str(v) for k, v in raw[bag].items()}
    body: UcwaErrorBody = _validate(UcwaErrorBody, raw, "", source)
    return body
