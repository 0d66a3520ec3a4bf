"""Every encoded form a secret may take in a cassette, and a fingerprint to name one safely."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape

__all__ = ["TRANSFORMS", "Matcher", "encoded_forms", "fingerprint"]


def fingerprint(text: str | bytes) -> str:
    """A safe stand-in for a secret or a body in messages: its length and a short sha256."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    unit = "chars" if isinstance(text, str) else "bytes"
    return f"<{len(text)} {unit}, sha256:{hashlib.sha256(data).hexdigest()[:12]}>"


def _lower_percent(text: str) -> str:
    if "%" not in text:
        return text
    head, *rest = text.split("%")
    return head + "".join("%" + part[:2].lower() + part[2:] for part in rest)


class _CharTable(dict[int, str]):
    """A ``str.translate`` table filled on demand: each character converted once."""

    def __init__(self, convert: Callable[[str], str]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, code: int) -> str:
        value = self.convert(chr(code))
        self[code] = value
        return value


_ALWAYS_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def _percent_char(plus: bool, lower: bool) -> Callable[[str], str]:
    def convert(char: str) -> str:
        if char in _ALWAYS_SAFE:
            return char
        if plus and char == " ":
            return "+"
        text = "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        return text.lower() if lower else text

    return convert


def _percent(encoding: str, plus: bool, lower: bool) -> Callable[[str], str | None]:
    ascii_table = _CharTable(_percent_char(plus, lower))

    def transform(value: str) -> str | None:
        if value.isascii():  # the same in every encoding: one C-speed pass
            return value.translate(ascii_table)
        try:
            out = (quote_plus if plus else quote)(value, safe="", encoding=encoding)
        except UnicodeEncodeError:
            return None
        return _lower_percent(out) if lower else out

    return transform


def _u_escape(char: str, upper: bool) -> str:
    code = ord(char)
    if code >= 0x10000:
        code -= 0x10000
        pair = (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))
        text = "".join(f"\\u{unit:04x}" for unit in pair)
    else:
        text = f"\\u{code:04x}"
    return text.upper().replace("\\U", "\\u") if upper else text


def _upper_u(text: str) -> str:
    head, *rest = text.split("\\u")
    return head + "".join("\\u" + part[:4].upper() + part[4:] for part in rest)


def _json(ascii_only: bool, upper: bool, everything: bool) -> Callable[[str], str | None]:
    table = _CharTable(lambda c: c if c.isascii() and c.isalnum() else _u_escape(c, upper))

    def transform(value: str) -> str | None:
        if everything:  # .NET / JavaScript style: all but [A-Za-z0-9] as \uXXXX
            return value.translate(table)
        out = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        return _upper_u(out) if upper else out

    return transform


def _xml_refs(hexadecimal: bool, everything: bool) -> Callable[[str], str | None]:
    def convert(char: str) -> str:
        if not everything and char.isascii() and (char.isalnum() or char in "-_.~/+="):
            return char
        return f"&#x{ord(char):x};" if hexadecimal else f"&#{ord(char)};"

    table = _CharTable(convert)

    def transform(value: str) -> str | None:
        return value.translate(table)

    return transform


def _base64(encoding: str, url: bool, padded: bool) -> Callable[[str], str | None]:
    def transform(value: str) -> str | None:
        try:
            raw = value.encode(encoding)
        except UnicodeEncodeError:
            return None
        out = (base64.urlsafe_b64encode if url else base64.b64encode)(raw).decode("ascii")
        return out if padded else out.rstrip("=")

    return transform


def _backslash_slash(value: str) -> str | None:
    return json.dumps(value)[1:-1].replace("/", "\\/")


TRANSFORMS: tuple[tuple[str, Callable[[str], str | None]], ...] = (
    ("secret", lambda value: value),
    *(
        ("secret:percent-encoded", _percent(encoding, plus, lower))
        for encoding in ("utf-8", "latin-1")
        for plus in (False, True)
        for lower in (False, True)
    ),
    ("secret:percent-encoded", lambda value: quote(value)),
    ("secret:json-escaped", _json(True, False, False)),
    ("secret:json-escaped", _json(True, True, False)),
    ("secret:json-escaped", _json(False, False, False)),
    ("secret:json-escaped", _backslash_slash),
    ("secret:json-escaped", _json(True, False, True)),
    ("secret:json-escaped", _json(True, True, True)),
    ("secret:xml-escaped", lambda value: xml_escape(value, {'"': "&quot;", "'": "&apos;"})),
    ("secret:xml-escaped", lambda value: xml_escape(value)),
    # the minimal escape many serializers write in attributes and text: "&" and "<" only
    ("secret:xml-escaped", lambda value: value.replace("&", "&amp;").replace("<", "&lt;")),
    (
        "secret:xml-escaped",
        lambda value: value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;"),
    ),
    ("secret:xml-escaped", _xml_refs(False, False)),
    ("secret:xml-escaped", _xml_refs(True, False)),
    ("secret:xml-escaped", _xml_refs(False, True)),
    ("secret:xml-escaped", _xml_refs(True, True)),
    *(
        ("secret:base64url" if url else "secret:base64", _base64(encoding, url, padded))
        for encoding in ("utf-8", "latin-1")
        for url in (False, True)
        for padded in (True, False)
    ),
)
"""(kind, transform) pairs; a transform returns None when the value cannot take that form."""


LONG_SECRET = 4096
"""Past this length only the C-speed forms (raw, percent, base64) are made."""
_SLOW_KINDS = ("secret:json-escaped", "secret:xml-escaped")
_SLOW = frozenset(id(t) for k, t in TRANSFORMS if k in _SLOW_KINDS)


def transforms_for(value: str) -> list[tuple[str, Callable[[str], str | None]]]:
    """The transforms worth applying to ``value`` (all of them unless it is very long)."""
    if len(value) <= LONG_SECRET:
        return list(TRANSFORMS)
    return [(k, t) for k, t in TRANSFORMS if id(t) not in _SLOW]


@functools.lru_cache(maxsize=4096)
def encoded_forms(value: str) -> tuple[tuple[str, str], ...]:
    """``(form, kind)`` for every distinct encoded form of ``value``, raw first."""
    seen: dict[str, str] = {}
    for kind, transform in transforms_for(value):
        form = transform(value)
        if form and form not in seen:
            seen[form] = kind
    return tuple(seen.items())


_TIERS = ((64, 24), (16, 9))
"""(head, step): candidates at least ``head`` long are found by looking at every
``step``-th position of a text (see :class:`_Tier`)."""
_BLOCK = 8
_FEW = 16


class _Tier:
    """Candidates of ``head`` characters or more, found by looking up the block of
    ``_BLOCK`` characters at every ``step``-th position of a text only (Wu-Manber)."""

    def __init__(self, head: int, step: int) -> None:
        assert step <= head - _BLOCK + 1
        self.head, self.step = head, step
        self.blocks: dict[str, int] = {}
        """block -> the offsets (< ``step``) it starts at in a candidate, as a bit mask"""
        self.heads: dict[str, list[int]] = {}
        """head (first ``head`` characters) -> candidate lengths, longest first"""

    def add(self, candidate: str) -> None:
        lengths = self.heads.setdefault(candidate[: self.head], [])
        if len(candidate) not in lengths:
            lengths.append(len(candidate))
            lengths.sort(reverse=True)
        blocks = self.blocks
        get = blocks.get
        for offset in range(self.step):
            block = candidate[offset : offset + _BLOCK]
            blocks[block] = get(block, 0) | 1 << offset

    def hits(self, text: str, table: dict[str, str], hits: list[tuple[int, int]]) -> None:
        head, step = self.head, self.step
        get_block, get_head = self.blocks.get, self.heads.get
        # a candidate at ``start`` holds exactly one sampled position in
        # [start, start + step - 1], whose block (inside the candidate's head, as
        # step <= head - _BLOCK + 1) names ``start`` by its offset
        for position in range(step - 1, len(text) - _BLOCK + 1, step):
            offsets = get_block(text[position : position + _BLOCK])
            while offsets:
                low = offsets & -offsets
                offsets ^= low
                start = position - low.bit_length() + 1
                lengths = get_head(text[start : start + head]) if start >= 0 else None
                if lengths is None:
                    continue
                for length in lengths:
                    if text[start : start + length] in table:
                        hits.append((start, -length))


class Matcher:
    """Finds and replaces many literal strings in one left-to-right pass.

    Candidates of 16 characters or more are found Wu-Manber style (:class:`_Tier`): only
    every 9th (24th for candidates of 64 or more) position of the text is looked up, and a
    block of 8 characters seen there names the few starts worth checking. Shorter
    candidates are found with ``str.find`` (a few of them) or a lookup at every position.
    Linear in the text for any number of candidates (no regular expression). Hits are
    non-overlapping, left to right, the longest candidate winning at a position;
    candidates shorter than ``width`` are ignored. :meth:`add` grows it in place.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]] = (), width: int = 4) -> None:
        self.width = width
        self.table: dict[str, str] = {}
        self.index: dict[str, list[int]] = {}
        """prefix (``width`` characters) -> the distinct lengths of short candidates under
        it, longest first"""
        self._short: list[str] = []
        self._tiers = [_Tier(head, step) for head, step in _TIERS]
        self.add(pairs)

    def __len__(self) -> int:
        return len(self.table)

    def add(self, pairs: Iterable[tuple[str, str]]) -> None:
        for old, new in pairs:
            if len(old) < self.width or old in self.table:
                continue
            self.table[old] = new
            tier = next((t for t in self._tiers if len(old) >= t.head), None)
            if tier is not None:
                tier.add(old)
                continue
            self._short.append(old)
            lengths = self.index.setdefault(old[: self.width], [])
            if len(old) not in lengths:
                lengths.append(len(old))
                lengths.sort(reverse=True)

    def _short_hits(self, text: str, hits: list[tuple[int, int]]) -> None:
        if len(self._short) <= _FEW:
            for candidate in self._short:
                position = text.find(candidate)
                while position >= 0:
                    hits.append((position, -len(candidate)))
                    position = text.find(candidate, position + 1)
            return
        width, index, table = self.width, self.index, self.table
        get = index.get
        for position in range(len(text) - width + 1):
            lengths = get(text[position : position + width])
            if lengths is not None:
                for length in lengths:
                    if text[position : position + length] in table:
                        hits.append((position, -length))

    def find(self, text: str) -> Iterator[tuple[int, str]]:
        """``(position, candidate)`` for each non-overlapping hit, left to right."""
        if not self.table or len(text) < self.width:
            return
        hits: list[tuple[int, int]] = []
        for tier in self._tiers:
            if tier.heads and len(text) >= tier.head:
                tier.hits(text, self.table, hits)
        if self._short:
            self._short_hits(text, hits)
        hits.sort()
        end = 0
        for position, length in hits:
            if position >= end:
                end = position - length
                yield position, text[position:end]

    def replace(self, text: str) -> str:
        pieces: list[str] = []
        start = 0
        for position, candidate in self.find(text):
            pieces.append(text[start:position])
            pieces.append(self.table[candidate])
            start = position + len(candidate)
        if not pieces:
            return text
        pieces.append(text[start:])
        return "".join(pieces)
