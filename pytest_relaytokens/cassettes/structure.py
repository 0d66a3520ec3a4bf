"""Where secrets sit: names, query strings, forms, cookies, JSON and XML, walked as structure.

The redactor rewrites through these walkers and the leak scan reads through the same ones,
so the two always agree on what a secret position is. Everything is tokenised by hand
(``str.split``/``str.find``/``str.translate``): linear time, no backtracking.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from ..http.headers import challenges
from ..http.multipart import boundary_of, disposition_name, split_parts
from .normalise import unescape_backslashes

__all__ = [
    "CHALLENGE_HEADERS",
    "SECRET_BODY_KEYS",
    "SECRET_FORM_FIELDS",
    "SECRET_HEADERS",
    "SECRET_QUERY_PARAMS",
    "SECRET_WORDS",
    "attribute_is_secret",
    "auth_parts",
    "base64_minimum",
    "basic_parts",
    "challenge_secret_values",
    "cookie_values",
    "dump_json_exact",
    "element_is_secret",
    "is_parsed",
    "is_secret_name",
    "is_valid_json",
    "json_leaves",
    "json_secret_spans",
    "jsonish_secret_values",
    "multipart_secret_parts",
    "parse_json_exact",
    "rewrite_cookie_header",
    "rewrite_json_exact",
    "rewrite_params",
    "safe_url",
    "semicolon_params",
    "split_authorization",
    "xml_leaves",
    "xmlish_secret_values",
]

SECRET_HEADERS = ("authorization", "proxy-authorization", "x-access-token", "cookie", "set-cookie")
SECRET_QUERY_PARAMS = ("accesstoken", "seamaccesstoken", "code")
SECRET_FORM_FIELDS = ("password",)
SECRET_BODY_KEYS = ("userName", "password", "accessToken", "access_token")
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "clientsecret",
        "apikey",
        "apitoken",
        "token",
        "accesstoken",
        "seamaccesstoken",
        "refreshtoken",
        "idtoken",
        "authtoken",
        "sessiontoken",
        "privatekey",
    }
)
"""Names (lower case, without ``-``, ``_``, ``.``) that are secret everywhere; names ending
in ``token``, ``password`` or ``secret`` are too."""
_SECRET_SUFFIXES = ("token", "password", "secret", "apikey")
_PATH_WORDS = tuple(SECRET_WORDS | set(_SECRET_SUFFIXES))
_NOT_SECRET_HEADERS = frozenset({"wwwauthenticate", "proxyauthenticate", "authenticationinfo"})
_COOKIE_ATTRIBUTES = frozenset(
    {
        "expires",
        "max-age",
        "domain",
        "path",
        "secure",
        "httponly",
        "samesite",
        "priority",
        "partitioned",
        "version",
        "comment",
    }
)
_WORD_DELIMITERS = " \t\r\n\f\v\"'<>`\\|^{}"
_WORD_TABLE = str.maketrans(dict.fromkeys(_WORD_DELIMITERS, "\x00"))


def _normal(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(".", "").strip()


def is_secret_name(name: str, where: str) -> bool:
    """Is a value named ``name`` a secret? ``where`` is ``query``, ``form``, ``body`` (JSON
    keys, XML properties, elements and attributes) or ``header``."""
    normal = _normal(name)
    if not normal:
        return False
    if where == "header":
        if normal in ("authorization", "proxyauthorization", "cookie", "setcookie"):
            return True
        if normal in _NOT_SECRET_HEADERS:
            return False
    if normal in SECRET_WORDS or normal.endswith(_SECRET_SUFFIXES):
        return True
    if where in ("query", "form") and normal == "code":
        return True
    return where == "body" and normal == "username"


# --- query strings and forms ---------------------------------------------------------------
ParamRewrite = Callable[[str, str, str], "str | None"]
"""``(name, raw value, decoded value) -> new raw value`` (None keeps the value)."""


def _rewrite_pairs(params: str, on_secret: ParamRewrite, depth: int) -> str:
    parts = params.split("&")
    changed = False
    for index, part in enumerate(parts):
        key, sep, value = part.partition("=")
        if not sep or not value:
            continue
        name = unquote_plus(key)
        if name.startswith("amp;"):  # an XML/HTML-escaped separator
            name = name[4:]
        decoded = unquote_plus(value)
        if is_secret_name(name, "query"):
            new = on_secret(name, value, decoded)
        elif depth < 2 and "=" in decoded and decoded != value:  # a URL inside a parameter
            inner = rewrite_params(decoded, on_secret, depth + 1)
            new = quote(inner, safe="") if inner != decoded else None
        else:
            new = None
        if new is not None and new != value:
            parts[index] = f"{key}={new}"
            changed = True
    return "&".join(parts) if changed else params


def _is_secret_collection(segment: str) -> bool:
    """``accesstokens`` in ``/api/auth/accesstokens/<token>``: the next segment is secret."""
    name = unquote(segment)
    if is_secret_name(name, "path"):
        return True
    return name.lower().endswith("s") and is_secret_name(name[:-1], "path")


def _may_name_secret(path: str) -> bool:
    """False when no segment of ``path`` can be a secret name: each normalised segment is
    a piece of the normalised path, so a secret word must show up in it (C-speed ``in``)."""
    if "%" in path:
        return True
    normal = _normal(path)
    return any(word in normal for word in _PATH_WORDS)


def _rewrite_path(path: str, on_secret: ParamRewrite) -> str:
    if not _may_name_secret(path):
        return path
    segments = path.split("/")
    changed = False
    for index in range(1, len(segments)):
        value = segments[index]
        if value and _is_secret_collection(segments[index - 1]):
            new = on_secret(segments[index - 1], value, unquote(value))
            if new is not None and new != value:
                segments[index] = new
                changed = True
    return "/".join(segments) if changed else path


def _rewrite_word(word: str, on_secret: ParamRewrite, depth: int) -> str:
    cut = len(word)
    for mark in ("?", "#"):
        found = word.find(mark)
        if 0 <= found < cut:
            cut = found
    if "/" in word[:cut]:
        word = _rewrite_path(word[:cut], on_secret) + word[cut:]
    if "=" not in word:
        return word
    cut = len(word)
    for mark in ("?", "#"):
        found = word.find(mark)
        if 0 <= found < cut:
            cut = found
    if cut == len(word):  # no URL: a form body or a bare ``name=value``
        return _rewrite_pairs(word, on_secret, depth)
    head, rest = word[: cut + 1], word[cut + 1 :]
    query, hash_mark, fragment = rest.partition("#")
    query = _rewrite_pairs(query, on_secret, depth)
    if hash_mark:
        fragment = _rewrite_pairs(fragment, on_secret, depth)
    return head + query + hash_mark + fragment


def rewrite_params(text: str, on_secret: ParamRewrite, depth: int = 0) -> str:
    """Every ``name=value`` of every query string, fragment and form in ``text`` (URLs in
    headers and bodies included) whose name is secret, passed through ``on_secret``."""
    if "=" not in text and "/" not in text:
        return text
    masked = text.translate(_WORD_TABLE)  # delimiters as NUL: words are what is between
    spans: list[tuple[int, int, str]] = []
    starts: dict[int, int] = {}
    for mark in ("=", "/"):  # only the words holding one are read (C-speed finds)
        position = masked.find(mark)
        while position >= 0:
            start = masked.rfind("\x00", 0, position) + 1
            end = masked.find("\x00", position)
            end = len(masked) if end < 0 else end
            starts[start] = end
            position = masked.find(mark, end)
    for start in sorted(starts):
        word = text[start : starts[start]]
        new = _rewrite_word(word, on_secret, depth)
        if new != word:
            spans.append((start, starts[start], new))
    return splice(text, spans)


def splice(text: str, spans: list[tuple[int, int, str]]) -> str:
    """``text`` with each ``(start, end, new)`` span (in order, not overlapping) replaced by
    ``new``, built in one pass."""
    if not spans:
        return text
    out: list[str] = []
    position = 0
    for start, end, new in spans:
        out.append(text[position:start])
        out.append(new)
        position = end
    out.append(text[position:])
    return "".join(out)


# --- cookies and Basic -----------------------------------------------------------------------
def rewrite_cookie_header(name: str, value: str, on_secret: Callable[[str], str]) -> str:
    """A ``Cookie`` or (repeated, folded) ``Set-Cookie`` value with every cookie value
    passed through ``on_secret`` (attributes such as ``Path`` and ``Expires`` are kept)."""
    set_cookie = name.lower() == "set-cookie"
    pieces: list[str] = []
    for segment in value.split(";"):
        sub = segment.split(",") if set_cookie else [segment]
        rewritten = []
        for pair in sub:
            key, sep, cookie = pair.partition("=")
            stripped = cookie.strip().strip('"')
            if (
                not sep
                or not stripped
                or (set_cookie and key.strip().lower() in _COOKIE_ATTRIBUTES)
            ):
                rewritten.append(pair)
                continue
            rewritten.append(key + sep + cookie.replace(stripped, on_secret(stripped), 1))
        pieces.append(",".join(rewritten))
    return ";".join(pieces)


def cookie_values(name: str, value: str) -> list[str]:
    """The cookie values of a ``Cookie`` or ``Set-Cookie`` header value."""
    found: list[str] = []

    def keep(cookie: str) -> str:
        found.append(cookie)
        return cookie

    rewrite_cookie_header(name, value, keep)
    return found


def basic_parts(credential: str) -> tuple[str, str, str] | None:
    """``(user, password, encoding)`` of a Basic credential (UTF-8, else latin-1 as
    ``requests`` sends it), or None when it is not base64 of ``user:password``."""
    try:
        raw = base64.b64decode(credential.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    for encoding in ("utf-8", "latin-1"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        user, sep, password = text.partition(":")
        if sep:
            return user, password, encoding
        return None
    return None


# --- JSON ------------------------------------------------------------------------------------
class Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs: repeated keys are kept."""


# --- XML -------------------------------------------------------------------------------------
def _local(name: str) -> str:
    return name.rpartition("}")[2].rpartition(":")[2]


def xml_leaves(text: str) -> list[tuple[bool, str]] | None:
    """``(in a secret position, text)`` for every element text, tail and attribute value
    of an XML body (CDATA and namespaces included), or None when it is not XML."""
    stripped = text.lstrip()
    if not stripped.startswith("<"):
        return None
    if stripped.startswith("<?xml"):
        end = stripped.find("?>")
        stripped = stripped[end + 2 :] if end >= 0 else stripped
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(stripped.encode("utf-8"))
    except (ElementTree.ParseError, DefusedXmlException, ValueError, RecursionError):
        return None
    leaves: list[tuple[bool, str]] = []
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        attributes = {_local(name): value for name, value in element.attrib.items()}
        secret = element_is_secret(_local(tag), attributes)
        if element.text:
            leaves.append((secret, element.text))
        if element.tail:
            leaves.append((False, element.tail))
        for attribute, value in attributes.items():
            if value:
                leaves.append((attribute_is_secret(attribute, secret), value))
    return leaves


_NAMING_ATTRIBUTES = ("name", "key")
"""``<property name="password">``, ``<add key="password" value="..."/>``: the element is
named by this attribute, not by its tag."""
_VALUE_ATTRIBUTES = ("value",)


def element_is_secret(local: str, attributes: Mapping[str, str]) -> bool:
    """Is the text (and the ``value`` attribute) of an element with this local tag name and
    these attributes (local names) a secret position?"""
    if is_secret_name(local, "body"):
        return True
    return any(
        is_secret_name(value, "body")
        for name, value in attributes.items()
        if name.lower() in _NAMING_ATTRIBUTES
    )


def attribute_is_secret(local: str, element_secret: bool) -> bool:
    """Is an attribute (local name) a secret position: by its own name, or ``value`` of a
    secret element (``<property name="password" value="..."/>``)?"""
    if is_secret_name(local, "body"):
        return True
    return element_secret and local.lower() in _VALUE_ATTRIBUTES


_HEX_TABLE = bytes(
    ord("h") if chr(b) in "0123456789abcdefABCDEF" else b if b == ord("%") else ord(".")
    for b in range(256)
)


def has_percent_escape(text: str) -> bool:
    """Does ``text`` hold a ``%XX`` escape? (one C-speed pass, no regular expression)"""
    if "%" not in text:
        return False
    return b"%hh" in text.encode("utf-8", "surrogatepass").translate(_HEX_TABLE)


def percent_forms(text: str) -> list[str]:
    """``text`` percent-decoded (``%xx`` and ``+``), when that changes it."""
    candidates: list[str] = []
    if has_percent_escape(text):
        utf8 = unquote(text)
        candidates += [utf8, unquote_plus(text)]
        if "\ufffd" in utf8:
            candidates.append(unquote(text, encoding="latin-1"))
    elif "+" in text:
        candidates.append(text.replace("+", " "))
    out: list[str] = []
    for decoded in candidates:
        if decoded != text and decoded not in out:
            out.append(decoded)
    return out


# --- base64 runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Base64Run:
    """A base64 run of a text: its byte span in the UTF-8 text, what it decodes to, and
    how to encode a replacement the same way."""

    start: int
    end: int
    text: str
    encoding: str
    urlsafe: bool
    padded: bool

    def encode(self, text: str) -> bytes:
        raw = text.encode(self.encoding, "replace")
        out = base64.urlsafe_b64encode(raw) if self.urlsafe else base64.b64encode(raw)
        return out if self.padded else out.rstrip(b"=")


def base64_minimum(secrets: Iterable[str]) -> int:
    """The shortest base64 run that can hold one of ``secrets`` (at any alignment, after
    any prefix): shorter runs need not be decoded. At least 8."""
    shortest = min((len(s.encode("utf-8", "surrogatepass")) for s in secrets), default=0)
    if not shortest:
        return 8
    # the characters that encode only the secret's own bits, over the three alignments
    core = min((8 * (k + shortest)) // 6 - -(-8 * k // 6) for k in range(3))
    return max(8, core)


_B64 = rb"A-Za-z0-9+/\-_="


@functools.lru_cache(maxsize=64)
def _long_runs(minimum: int) -> re.Pattern[bytes]:
    """Each whole run of ``minimum`` or more base64 characters (group 1). The lookbehind
    lets a match start only where a run starts, so a short run is read once and the search
    stays linear (no possessive quantifiers: Python 3.10 has none)."""
    b64 = _B64
    return re.compile(rb"(?<![%s])([%s]{%d,})" % (b64, b64, minimum))


def base64_runs(data: bytes, minimum: int = 8) -> Iterator[Base64Run]:
    """Every run of ``minimum``+ base64/base64url characters of UTF-8 ``data`` that
    decodes to text."""
    for found in _long_runs(max(2, minimum)).finditer(data):
        start, end = found.span(1)
        run = found[1]
        token = run.rstrip(b"=")
        urlsafe = b"-" in token or b"_" in token
        candidate = token.replace(b"-", b"+").replace(b"_", b"/") if urlsafe else token
        try:
            raw = base64.b64decode(candidate + b"=" * (-len(candidate) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if not raw:
            continue
        for encoding in ("utf-8", "latin-1"):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            yield Base64Run(start, end, text, encoding, urlsafe, run != token)
            break


# --- JSON, exact (no int-digit limit) ---------------------------------------------------------
class JsonNumber:
    """A JSON number (or ``NaN``/``Infinity``) kept as its text: parsing never converts it,
    so an integer of any length parses and re-renders byte for byte."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"JsonNumber({self.text!r})"


_NOT_PARSED = object()


def parse_json_exact(text: str) -> Any:
    """The parsed document (objects as ``Pairs``, numbers as :class:`JsonNumber`), or
    ``_NOT_PARSED`` when ``text`` is not one JSON object or array."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return _NOT_PARSED
    try:
        return json.loads(
            text,
            object_pairs_hook=Pairs,
            parse_int=JsonNumber,
            parse_float=JsonNumber,
            parse_constant=JsonNumber,
        )
    except (ValueError, RecursionError):
        return _NOT_PARSED


_ANCHORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    *((word, (word,)) for word in ("token", "passw", "pwd", "passphrase", "secret")),
    *(
        (b, tuple(f"{a}{sep}{b}" for sep in ("", "-", "_", ".")))
        for a, b in (("api", "key"), ("private", "key"), ("user", "name"))
    ),
)
"""Every secret name (:func:`is_secret_name`, ``body``) holds one of these words,
lower-cased; each group is looked for only when its guard word is in the text."""
_VALUE_END = frozenset(",}] \t\r\n")


def json_secret_spans(text: str) -> list[tuple[str, int, int]] | None:
    """``(key, start, end)`` of the value of every secret-named key of a *valid* JSON
    document, found from the secret words in C-speed passes instead of a walk of every
    leaf (a string's span excludes its quotes); None when the document must be walked:
    a ``\\u`` escape (a key may be spelt with one), an escaped quote (a JSON document
    inside a string), or a secret name holding an array. The same values as
    :func:`json_leaves` gives in a secret position, whose names hold an anchor word."""
    if "\\u" in text or '\\"' in text:
        return None
    lowered = text.lower()
    if len(lowered) != len(text):  # a character whose lower case is longer: walk it
        return None
    found: dict[int, tuple[str, int, int]] = {}
    anchors = [a for guard, group in _ANCHORS if guard in lowered for a in group]
    for anchor in anchors:
        position = lowered.find(anchor)
        while position >= 0:
            opening = text.rfind('"', max(0, position - 256), position)
            closing = text.find('"', position + len(anchor))
            if opening < 0 or closing < 0:  # a very long string: walk it
                return None
            if opening not in found:
                colon = closing + 1
                while colon < len(text) and text[colon] in " \t\r\n":
                    colon += 1
                key = text[opening + 1 : closing]
                if text.startswith(":", colon) and is_secret_name(key, "body"):
                    span = _json_value_span(text, colon + 1)
                    if span is None:
                        return None
                    if span[0] >= 0:
                        found[opening] = (key, *span)
            position = lowered.find(anchor, position + 1)
    return [found[k] for k in sorted(found)]


def _json_value_span(text: str, position: int) -> tuple[int, int] | None:
    """The span of the string or number value starting at ``position`` (after blanks);
    ``(-1, -1)`` for a value that is no secret (an object, true, false, null); None for an
    array (its strings are secret too: walk the document)."""
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    first = text[position : position + 1]
    if first == '"':
        return position + 1, text.find('"', position + 1)
    if first == "[":
        return None
    if first and first in "-0123456789NI":
        end = position
        while end < len(text) and text[end] not in _VALUE_END:
            end += 1
        return position, end
    return -1, -1


def is_valid_json(text: str) -> bool:
    """Is ``text`` one JSON object or array (the C parser, no hooks)?"""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def is_parsed(node: Any) -> bool:
    return node is not _NOT_PARSED


def json_leaves(node: Any) -> Iterator[tuple[bool, str]]:
    """``(in a secret position, string)`` for every key and string value of what
    :func:`parse_json_exact` returned (a number under a secret name as its text)."""
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        current, secret = stack.pop()
        if isinstance(current, Pairs):
            for key, value in current:
                yield False, key
                stack.append((value, is_secret_name(key, "body")))
        elif isinstance(current, list):
            stack.extend((item, secret) for item in current)
        elif isinstance(current, str):
            yield secret, current
        elif secret and isinstance(current, JsonNumber):
            yield True, current.text


def rewrite_json_exact(
    node: Any, on_secret: Callable[[str], str], on_string: Callable[[str], str], secret: bool
) -> Any:
    if isinstance(node, Pairs):  # a secret name covers its value, not a nested object's
        out = Pairs()
        for key, value in node:
            inner = is_secret_name(key, "body")
            out.append((on_string(key), rewrite_json_exact(value, on_secret, on_string, inner)))
        return out
    if isinstance(node, list):
        return [rewrite_json_exact(item, on_secret, on_string, secret) for item in node]
    if isinstance(node, str):
        return on_secret(node) if secret and node else on_string(node)
    if secret and isinstance(node, JsonNumber):
        return on_secret(node.text)
    return node


def dump_json_exact(node: Any, compact: bool) -> str:
    item, key = (",", ":") if compact else (", ", ": ")
    parts: list[str] = []
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (_Text, JsonNumber)):
            parts.append(current.text)
        elif isinstance(current, Pairs):
            pieces: list[Any] = [_Text("{")]
            for index, (name, value) in enumerate(current):
                if index:
                    pieces.append(_Text(item))
                pieces.append(_Text(json.dumps(name, ensure_ascii=False) + key))
                pieces.append(value)
            pieces.append(_Text("}"))
            stack.extend(reversed(pieces))
        elif isinstance(current, list):
            pieces = [_Text("[")]
            for index, value in enumerate(current):
                if index:
                    pieces.append(_Text(item))
                pieces.append(value)
            pieces.append(_Text("]"))
            stack.extend(reversed(pieces))
        else:
            parts.append(json.dumps(current, ensure_ascii=False))
    return "".join(parts)


class _Text:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


# A quoted key followed by ``:``. Bounded, and its two alternatives start with different
# characters, so a failed attempt costs at most the bound: the search is linear.
_JSONISH_KEY = re.compile(r"""(["'])((?:[^"'\\\r\n]|\\[^\r\n]){1,256})\1[ \t\r\n]*:[ \t\r\n]*""")
_BARE_VALUE = re.compile(r"[^\s,}\]]+")


def _unescape_key(raw: str) -> str:
    return unescape_backslashes(raw) if "\\" in raw else raw


def _string_end(text: str, start: int, quote_char: str) -> int:
    """Index of the quote closing a string whose content starts at ``start``, or -1."""
    position = start
    while True:
        end = text.find(quote_char, position)
        if end < 0:
            return -1
        slashes = 0
        while end - slashes - 1 >= start and text[end - slashes - 1] == "\\":
            slashes += 1
        if slashes % 2 == 0:
            return end
        position = end + 1


def jsonish_secret_values(text: str) -> Iterator[tuple[str, int, int]]:
    """``(key, start, end)`` of the value of every secret-named ``"key": value`` (or
    ``'key': value``) in a text that is not valid JSON, found in one linear pass. A value
    that cannot be delimited (an unterminated string, nothing after the colon) is yielded
    with ``start == end == -1``; an object or array value is skipped (its keys are found)."""
    position = 0
    while True:
        match = _JSONISH_KEY.search(text, position)
        if match is None:
            return
        key = _unescape_key(match.group(2))
        position = match.end()
        if not is_secret_name(key, "body"):
            position = match.end(1)  # the closing quote may open the next key
            continue
        if position >= len(text):
            yield key, -1, -1
            return
        first = text[position]
        if first in "\"'":
            end = _string_end(text, position + 1, first)
            if end < 0:
                yield key, -1, -1
                return
            yield key, position + 1, end
            position = end  # in broken JSON a closing quote may also open the next key
        elif first in "{[":
            continue
        else:
            bare = _BARE_VALUE.match(text, position)
            if bare is None:
                yield key, -1, -1
                continue
            yield key, position, bare.end()
            position = bare.end()


# Names are bounded and attributes cannot cross "<", so an attempt reads at most to the next
# "<": the search is linear.
_XML_TAG = re.compile(r"<([A-Za-z_][\w.:\-]{0,200})([ \t\r\n][^<>]*)?(/?)>")
_XML_ATTRIBUTE = re.compile(r"([A-Za-z_][\w.:\-]{0,200})[ \t\r\n]*=[ \t\r\n]*([\"'])")


def xmlish_secret_values(text: str) -> Iterator[tuple[str, int, int]]:
    """``(name, start, end)`` of the text of every secret-named element (or
    ``<property name="...">``) and of every secret-named attribute value in a text that is
    not well-formed XML (CDATA unwrapped); ``start == end == -1`` when it cannot be
    delimited."""
    for tag in _XML_TAG.finditer(text):
        local = tag.group(1).rpartition(":")[2]
        attributes = tag.group(2) or ""
        offset = tag.start(2)
        found: list[tuple[str, int, int]] = []
        named: dict[str, str] = {}
        position = 0
        while True:
            attribute = _XML_ATTRIBUTE.search(attributes, position)
            if attribute is None:
                break
            quote_char = attribute.group(2)
            end = attributes.find(quote_char, attribute.end())
            attribute_name = attribute.group(1).rpartition(":")[2]
            if end < 0:
                found.append((attribute_name, -1, -1))
                break
            named.setdefault(attribute_name, attributes[attribute.end() : end])
            found.append((attribute_name, offset + attribute.end(), offset + end))
            position = end + 1
        secret = element_is_secret(local, named)
        for attribute_name, start, end in found:
            if attribute_is_secret(attribute_name, secret) and (start < 0 or end > start):
                yield attribute_name, start, end
        if not secret or tag.group(3):
            continue
        name = next((v for k, v in named.items() if k.lower() in _NAMING_ATTRIBUTES and v), local)
        start = tag.end()
        if text.startswith("<![CDATA[", start):
            close = text.find("]]>", start + 9)
            if close < 0:
                yield name, -1, -1
                continue
            yield name, start + 9, close
            continue
        end = text.find("<", start)
        if end < 0:
            yield name, -1, -1
            continue
        yield name, start, end


_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_AUTH_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def auth_parts(credential: str) -> list[tuple[int, int, str]] | None:
    """``(start, end, value)`` of each value in ``credential`` (what follows the scheme of
    an ``Authorization`` header): the token68, or every auth-param value (quoted values
    unquoted), or None when it is neither (then the whole is one secret)."""
    if _TOKEN68.fullmatch(credential):
        return [(0, len(credential), credential)]
    parts: list[tuple[int, int, str]] = []
    position, size = 0, len(credential)
    while position < size:
        while position < size and credential[position] in " \t,":
            position += 1
        if position >= size:
            break
        name = _AUTH_NAME.match(credential, position)
        if name is None:
            return None
        position = name.end()
        while position < size and credential[position] in " \t":
            position += 1
        if position >= size or credential[position] != "=":
            return None
        position += 1
        while position < size and credential[position] in " \t":
            position += 1
        if position < size and credential[position] == '"':
            end = _string_end(credential, position + 1, '"')
            if end < 0:
                return None
            raw = credential[position + 1 : end]
            value = re.sub(r"\\(.)", r"\1", raw) if "\\" in raw else raw
            parts.append((position + 1, end, value))
            position = end + 1
        else:
            end = position
            while end < size and credential[end] not in " \t,":
                end += 1
            parts.append((position, end, credential[position:end]))
            position = end
    return parts or None


CHALLENGE_HEADERS = frozenset({"www-authenticate", "proxy-authenticate", "authentication-info"})
"""Auth headers a server sends: not secret as a whole, but a secret-named auth-param
(``Bearer realm="r", token="T"``) is."""


def challenge_secret_values(value: str) -> list[str]:
    """The value of every secret-named auth-param of every challenge in a
    ``WWW-Authenticate``/``Proxy-Authenticate`` (or ``Authentication-Info``) value, read
    by :func:`~pytest_relaytokens.http.headers.challenges` (RFC 9110 §11.6.1)."""
    found: list[str] = []
    for _scheme, params in challenges(value):
        for name, param in params.items():
            if param and is_secret_name(name, "query") and param not in found:
                found.append(param)
    if not found and "=" in value:  # Authentication-Info is a bare #auth-param list
        for _scheme, params in challenges("x " + value):
            found.extend(v for k, v in params.items() if v and is_secret_name(k, "query"))
    return found


def split_authorization(value: str) -> tuple[str, str, list[tuple[int, int, str]] | None]:
    """``(scheme and the space after it, credential, its values)`` of an Authorization
    value; with no space the whole value is the credential."""
    stripped = value.strip()
    scheme, sep, credential = stripped.partition(" ")
    if not sep:
        return "", stripped, [(0, len(stripped), stripped)] if stripped else []
    credential = credential.strip()
    return scheme + " ", credential, auth_parts(credential)


def semicolon_params(text: str) -> Iterator[tuple[str, int, int, str]]:
    """``(name, start, end, decoded value)`` of every ``;name=value`` parameter (the legacy
    query separator) whose name is secret; the value ends at ``;``, ``&``, ``#`` or a
    character that ends a URL. One pass: a name or value never crosses the next ``;``."""
    position = text.find(";")
    while position >= 0:
        name = _PARAM_RUN.match(text, position + 1)
        assert name is not None  # the pattern matches the empty string
        equals = name.end()
        if text.startswith("=", equals):
            value = _VALUE_RUN.match(text, equals + 1)
            assert value is not None
            key = unquote_plus(name.group())
            if value.end() > equals + 1 and is_secret_name(key, "query"):
                yield key, equals + 1, value.end(), unquote_plus(value.group())
            equals = value.end()
        position = text.find(";", equals)


_PARAM_RUN = re.compile(r"[^;&#= \t\r\n\"'<>`\\|^{}]*")
_VALUE_RUN = re.compile(r"[^;&# \t\r\n\"'<>`\\|^{}]*")
"""a parameter name, value: one character class each, so no backtracking"""


def multipart_secret_parts(text: str, content_type: str) -> list[tuple[str, int, int]] | None:
    """``(name, start, end)`` of the value of each secret-named part of a ``multipart/*``
    body (the boundary is case-sensitive); None when ``content_type`` is not multipart.
    When no part can be found, every secret-named ``Content-Disposition`` line is given
    with ``start == end == -1`` (the caller cannot delimit it)."""
    if "multipart/" not in content_type.lower():
        return None
    boundary = boundary_of(content_type)
    parts = split_parts(text, boundary) if boundary else []
    if not parts:
        names = (
            disposition_name(line)
            for line in text.splitlines()
            if line.lstrip()[:19].lower() == "content-disposition"
        )
        return [(name, -1, -1) for name in names if is_secret_name(name, "form")]
    found: list[tuple[str, int, int]] = []
    for part in parts:
        name = disposition_name(part.head)
        if part.end > part.start and is_secret_name(name, "form"):
            found.append((name, part.start, part.end))
    return found


def safe_url(url: str) -> str:
    """``url`` fit for a message: no user info, every query value hidden (a Relay token
    travels as ``?accesstoken=``), a path segment after a secret collection hidden
    (``/api/auth/accesstokens/<hidden>``), no fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    keys = [pair.split("=", 1)[0] for pair in parts.query.split("&") if pair]
    query = "&".join(f"{key}=<hidden>" for key in keys)
    path = rewrite_params(parts.path, lambda _name, _raw, _value: "<hidden>")
    return f"{parts.scheme}://{host}{path}" + (f"?{query}" if query else "")
