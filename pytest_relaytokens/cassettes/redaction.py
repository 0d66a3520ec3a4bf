"""Format-keeping, deterministic redaction of vcrpy interactions before they reach disk.

A secret is replaced by a placeholder of the same length drawn from the same alphabet
class (digits, hex, ``[0-9a-v]``, alphanumerics, base64...), with ``=`` padding and known
prefixes (``cwt=``, ``psat=``, ``Bearer``, ``Basic``) kept, so parsers of the replayed
bodies still accept them. Placeholders start with a readable marker (``redacted``,
``REDACTED``, ``7edac7ed`` for hex, ``0000`` for digits) followed by zeros and a counter;
the same secret always gets the same placeholder within one :class:`Redactor`.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import string
import threading
import weakref
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from ..http.headers import media_type
from .forms import Matcher, encoded_forms, transforms_for
from .normalise import (
    UndecodableBodyError,
    content_codings,
    decode_body,
    header_text,
    sniffed_coding,
    unescape_backslashes,
)
from .structure import (
    CHALLENGE_HEADERS,
    SECRET_BODY_KEYS,
    SECRET_FORM_FIELDS,
    SECRET_HEADERS,
    SECRET_QUERY_PARAMS,
    base64_minimum,
    base64_runs,
    basic_parts,
    challenge_secret_values,
    dump_json_exact,
    is_parsed,
    is_secret_name,
    is_valid_json,
    json_secret_spans,
    jsonish_secret_values,
    multipart_secret_parts,
    parse_json_exact,
    rewrite_cookie_header,
    rewrite_json_exact,
    rewrite_params,
    semicolon_params,
    splice,
    split_authorization,
    xml_leaves,
    xmlish_secret_values,
)

__all__ = [
    "SECRET_BODY_KEYS",
    "SECRET_FORM_FIELDS",
    "SECRET_HEADERS",
    "SECRET_QUERY_PARAMS",
    "Redactor",
    "encoded_variants",
    "is_placeholder",
]

TOKEN_PREFIXES = ("cwt=", "psat=")
MIN_TRACKED_LENGTH = 6
"""Shorter secrets are replaced where they sit but not searched for elsewhere."""
MIN_DECLARED_LENGTH = 4
"""Declared secrets (``extra_secrets``, pattern matches) are searched for from this length."""

_DIGITS = string.digits
_CLASSES: tuple[tuple[str, str], ...] = (
    (_DIGITS, "0000"),
    (_DIGITS + "abcdef", "7edac7ed"),
    (_DIGITS + "ABCDEF", "7EDAC7ED"),
    (_DIGITS + "abcdefghijklmnopqrstuv", "redacted"),
    (_DIGITS + string.ascii_lowercase, "redacted"),
    (_DIGITS + string.ascii_uppercase, "REDACTED"),
    (_DIGITS + string.ascii_letters, "REDACTED"),
    (_DIGITS + string.ascii_letters + "-_", "REDACTED"),
    (_DIGITS + string.ascii_letters + "+/", "REDACTED"),
)
_FALLBACK = (_DIGITS + string.ascii_letters, "REDACTED")
_B64 = string.ascii_uppercase + string.ascii_lowercase + _DIGITS + "+/"


def _alphabet_class(value: str) -> tuple[str, str]:
    chars = set(value)
    for alphabet, marker in _CLASSES:
        if chars <= set(alphabet):
            return alphabet, marker
    return _FALLBACK


def _split_padding(value: str) -> tuple[str, str]:
    body = value.rstrip("=")
    return body, value[len(body) :]


def _looks_like_marker_body(body: str) -> bool:
    if not body:
        return False
    _, marker = _alphabet_class(body)
    need = min(len(marker), 4, len(body) - 1)
    for k in range(min(len(marker), len(body) - 1), max(need, 1) - 1, -1):
        if body.startswith(marker[:k]) and body[k:].isdigit():
            return True
    return False


def is_placeholder(value: str) -> bool:
    """True when ``value`` has the shape of a placeholder this module makes.

    Only a hint for people: redaction and the leak scan never trust a shape; they know
    the exact placeholders a :class:`Redactor` issued (``000042`` may be a real code)."""
    value = value.strip()
    scheme, sep, rest = value.partition(" ")
    if sep and scheme.lower() == "basic":
        return _is_basic_placeholder(rest.strip())
    if sep and scheme.lower() in ("bearer", "token", "msrtcoauth"):
        value = rest.strip()
    for prefix in TOKEN_PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    body, _ = _split_padding(value)
    if _looks_like_marker_body(body):
        return True
    return len(body) > 1 and not body[-1].isdigit() and _looks_like_marker_body(body[:-1])


def _is_basic_placeholder(credential: str) -> bool:
    try:
        text = base64.b64decode(credential, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return is_placeholder(credential)
    user, sep, password = text.partition(":")
    return bool(sep) and is_placeholder(user) and is_placeholder(password)


def encoded_variants(value: str) -> list[str]:
    """``value`` as it may appear re-encoded in a cassette (raw first, no duplicates)."""
    return [form for form, _ in encoded_forms(value)]


def _is_base64(value: str) -> bool:
    body = value.rstrip("=")
    return bool(body) and len(value) - len(body) <= 2 and set(body) <= _B64_CHARS


_B64_CHARS = frozenset(_B64)


class Redactor:
    """Replaces secrets in vcrpy requests and responses, remembering each one it saw.

    Use ``redact_request`` as vcrpy's ``before_record_request`` and ``redact_response`` as
    ``before_record_response``. Each message is normalised first (content codings undone,
    text decoded by charset), then its structure is walked: headers, URLs, forms, JSON,
    XML, cookies. ``extra_secrets`` are literal values replaced wherever they appear;
    ``extra_patterns`` are regular expressions whose match (group 1 when the pattern has
    groups) is a secret. :attr:`secrets` is what the leak scan looks for, and
    :attr:`placeholders` the exact values this redactor issued.
    """

    def __init__(
        self,
        extra_secrets: Iterable[str] = (),
        extra_patterns: Iterable[str | re.Pattern[str]] = (),
    ) -> None:
        self._map: dict[tuple[str, int], str] = {}
        self._placeholders: set[str] = set()
        self._tracked: dict[str, str] = {}
        self._variants: dict[str, list[tuple[str, str]]] = {}
        self._counter = 0
        self._sorted: list[str] | None = []
        self._nested = False
        self._unstepped: list[str] = []
        """placeholders issued since the matchers last learnt to step over them"""
        self._secret_matcher = Matcher()  # every tracked secret, to keep placeholders clear
        self._byte_matcher = Matcher()  # their encoded bytes, read as latin-1
        self._byte_forms: dict[str, list[tuple[str, str]]] = {}
        self._depth = 0
        self._minimum = (-1, 8)
        """(how many secrets were tracked, the shortest base64 run that can hold one)"""
        self._local = threading.local()
        self._generations: weakref.WeakKeyDictionary[Any, tuple[int, int]] = (
            weakref.WeakKeyDictionary()
        )
        """hooked request -> the generations its request and response were redacted at"""
        self._raw_matcher = Matcher()  # used once there are many secrets
        self._form_matcher = Matcher()
        self._where = "body"
        self._context = ""
        """the request being redacted (named when a body is refused)"""
        self.refused: list[str] = []
        """Why a message could not be redacted (the store then refuses to write)."""
        self.patterns: tuple[re.Pattern[str], ...] = tuple(
            p if isinstance(p, re.Pattern) else re.compile(p) for p in extra_patterns
        )
        self.declared: tuple[str, ...] = tuple(s for s in extra_secrets if s)
        self._reserved: set[str] = set()
        self.declare(self.declared)

    def declare(self, secrets: Iterable[str]) -> None:
        """Make ``secrets`` known secrets. All are reserved before any gets its placeholder,
        so no placeholder can equal or hold another declared secret (``00000000`` must not
        become ``00000001`` when ``00000001`` is declared too)."""
        fresh = [s for s in secrets if s]
        self._reserved.update(fresh)
        for secret in fresh:
            self.placeholder_for(secret, force=True, declared=True)

    def __deepcopy__(self, memo: dict[int, Any]) -> Redactor:
        return self  # pytest-recording deep-copies vcr_config: keep one redactor

    def __copy__(self) -> Redactor:
        return self

    # Public views ----------------------------------------------------------------------
    @property
    def secrets(self) -> frozenset[str]:
        """Every secret value seen so far (long enough to be searched for)."""
        return frozenset(self._tracked)

    @property
    def replacements(self) -> dict[str, str]:
        """Secret -> placeholder for every tracked secret."""
        return dict(self._tracked)

    @property
    def placeholders(self) -> frozenset[str]:
        """Every placeholder this redactor issued (or adopted from a loaded cassette)."""
        return frozenset(self._placeholders)

    def is_placeholder(self, value: str) -> bool:
        """True only for a value this redactor issued or adopted (never by its shape)."""
        return value in self._placeholders

    def adopt_placeholders(self, values: Iterable[str]) -> None:
        """Treat ``values`` (a loaded cassette's placeholders) as issued by this redactor."""
        for value in values:
            if isinstance(value, str) and value and value not in self._tracked:
                self._placeholders.add(value)
                self._unstepped.append(value)

    # Placeholders ----------------------------------------------------------------------
    def placeholder_for(
        self,
        secret: str,
        *,
        length: int | None = None,
        track: bool = True,
        force: bool = False,
        declared: bool = False,
    ) -> str:
        """The placeholder standing for ``secret`` (made on first use).

        ``length`` overrides the placeholder length (used for byte lengths inside Basic);
        ``force`` treats ``secret`` as a secret even when this redactor issued it.
        """
        if not secret or (not force and secret in self._placeholders):
            return secret
        size = len(secret) if length is None else length
        key = (secret, size)
        placeholder = self._map.get(key)
        if placeholder is None:
            placeholder = self._make(secret, size)
            self._map[key] = placeholder
            self._placeholders.add(placeholder)
            self._unstepped.append(placeholder)
        if track:
            self._track(secret, placeholder, declared)
        return placeholder

    def _track(self, secret: str, placeholder: str, declared: bool = False) -> None:
        minimum = MIN_DECLARED_LENGTH if declared else MIN_TRACKED_LENGTH
        if len(secret) < minimum or secret in self._tracked:
            return
        self._tracked[secret] = placeholder
        self._placeholders.discard(secret)
        pairs: list[tuple[str, str]] = []
        for _, transform in transforms_for(secret):
            variant, replacement = transform(secret), transform(placeholder)
            pair = (variant, replacement)
            if variant and replacement is not None and variant != replacement and pair not in pairs:
                pairs.append((variant, replacement))
        self._variants[secret] = pairs
        self._sorted = None
        self._raw_matcher.add([(secret, placeholder)])
        self._form_matcher.add(pairs)
        self._secret_matcher.add([(secret, secret)])
        if not self._nested and (
            len(self._tracked) > _MANY or any(secret in issued for issued in self._placeholders)
        ):
            # a placeholder issued earlier holds this secret (or there are too many secrets
            # to check each time): from now on every replacement runs in one pass that steps
            # over issued placeholders instead of editing them
            self._nested = True
            self._unstepped = list(self._placeholders)
        if self._nested and self._unstepped:
            fresh = [(p, p) for p in self._unstepped if p in self._placeholders]
            self._raw_matcher.add(fresh)
            self._form_matcher.add(fresh)
            self._unstepped = []

    def _make(self, secret: str, size: int) -> str:
        body, padding = _split_padding(secret)
        if len(secret) != size:  # a byte length was asked for: no padding logic
            body, padding = secret, ""
        n = size - len(padding)
        alphabet, marker = _alphabet_class(body)
        tail = ""
        if padding and n % 4 in (2, 3) and _is_base64(secret):
            canonical = "AQgw" if n % 4 == 2 else "AEIMQUYcgkosw048"
            usable = [c for c in canonical if c in alphabet]
            tail = usable[0] if usable else body[-1:]
        room = n - len(tail)
        candidate = ""
        for attempt in range(1000):
            self._counter += 1
            counter = str(self._counter)
            filler = _FILLERS[attempt // 10 % len(_FILLERS)] if attempt >= 10 else "0"
            if filler not in alphabet:
                filler = "0"
            if room >= len(marker) + len(counter):
                core = marker + filler * (room - len(marker) - len(counter)) + counter
            elif room > len(counter):
                # keep the marker is_placeholder() looks for (up to 4 characters): a counter
                # grown by collisions is cut to its last digits (uniqueness is checked below)
                keep = min(len(marker), 4, room - 1)
                if room - len(counter) < keep:
                    counter = counter[-(room - keep) :]
                core = marker[: room - len(counter)] + counter
            else:
                core = counter[-room:] if room > 0 else ""
            candidate = core + tail + padding
            if (
                candidate not in self._placeholders
                and candidate not in self._tracked
                and secret not in candidate
                and not self._holds_secret(candidate)
                and not any(reserved in candidate for reserved in self._reserved)
            ):
                break
        return candidate

    def _holds_secret(self, text: str) -> bool:
        if len(self._tracked) <= _MANY:
            return any(known in text for known in self._tracked)
        return next(iter(self._secret_matcher.find(text)), None) is not None

    def _token(self, value: str, *, track: bool = True) -> str:
        for prefix in TOKEN_PREFIXES:
            if value.startswith(prefix) and len(value) > len(prefix):
                return prefix + self.placeholder_for(value[len(prefix) :], track=track)
        return self.placeholder_for(value, track=track)

    def _basic(self, credential: str) -> str:
        if credential in self._placeholders:
            return credential
        parts = basic_parts(credential)
        if parts is None:
            return self.placeholder_for(credential)
        user, password, encoding = parts
        size = len(user.encode(encoding)), len(password.encode(encoding))
        new_user = self.placeholder_for(user, length=size[0], track=False)
        new_password = self.placeholder_for(password, length=size[1])
        pair = f"{new_user}:{new_password}"
        encoded = base64.b64encode(pair.encode("ascii", "replace")).decode("ascii")
        self._map[(credential, len(credential))] = encoded
        self._placeholders.add(encoded)
        self._unstepped.append(encoded)
        self._track(f"{user}:{password}", pair)
        self._track(credential, encoded)
        return encoded

    # Field-level redaction ---------------------------------------------------------------
    def redact_header(self, name: str, value: str) -> str:
        """The redacted value of one header (unchanged when it is not a secret header)."""
        lname = name.lower()
        if lname in ("authorization", "proxy-authorization"):
            scheme, credential, parts = split_authorization(value)
            if not credential:
                return value
            if scheme.strip().lower() == "basic":
                return f"{scheme}{self._basic(credential)}"
            if parts is None:  # neither a token68 nor auth-params: one secret
                return scheme + self._token(credential)
            # every auth-param value (``token="T"``, ``oauth_token="T"``, Digest's
            # ``response="T"``) and a token68 is a secret of its own, learnt and replaced
            return scheme + _splice(credential, parts, self._token)
        if lname in ("cookie", "set-cookie"):
            return rewrite_cookie_header(lname, value, self._token)
        if lname in CHALLENGE_HEADERS:
            for secret in challenge_secret_values(value):
                new = self._token(secret)
                for form in (f'"{secret}"', f"={secret}"):
                    value = value.replace(form, form.replace(secret, new))
            return self.redact_urls(value)
        if is_secret_name(lname, "header"):
            if not value.strip():
                return value
            # a folded header (``X-Access-Token: a, T``): each element is a secret
            return ",".join(
                piece.replace(piece.strip(), self._token(piece.strip()), 1)
                if piece.strip()
                else piece
                for piece in value.split(",")
            )
        return self.redact_urls(value)

    def _param(self, name: str, raw: str, decoded: str) -> str:
        placeholder = self._token(decoded)
        return quote(placeholder, safe="") if "%" in raw else placeholder

    def redact_urls(self, text: str) -> str:
        """Secret-named values of every query string, fragment or form in ``text``."""
        text = rewrite_params(text, self._param)
        if ";" not in text:
            return text
        # the legacy ``;`` separator (``?x=1;accesstoken=T``)
        spans = [
            (start, end, self._param(name, text[start:end], value))
            for name, start, end, value in semicolon_params(text)
        ]
        return _splice(text, spans, lambda new: new)

    def redact_uri(self, uri: str) -> str:
        return self.redact_urls(uri)

    def _patterns(self, text: str) -> str:
        for pattern in self.patterns:
            found: list[str] = []
            for match in pattern.finditer(text):
                value = match.group(1) if pattern.groups else match.group(0)
                if value and value not in self._placeholders:
                    found.append(value)
            for value in sorted(set(found), key=len, reverse=True):
                placeholder = self.placeholder_for(value, force=True, declared=True)
                text = text.replace(value, placeholder)
        return text

    def _string(self, text: str) -> str:
        """One decoded string leaf: JSON inside it, URLs, patterns, then known secrets."""
        if text[:1] in ("{", "[") and self._depth < 3:  # a JSON document inside a string
            self._depth += 1
            try:
                text = self._json(text)
            finally:
                self._depth -= 1
        text = self.redact_urls(text)
        text = self._patterns(text)
        return self._replace_raw(text)

    def _replace_raw(self, text: str) -> str:
        if self._nested or len(self._tracked) > _MANY:
            return self._raw_matcher.replace(text)
        for secret in self._sorted_secrets():
            if secret in text:
                text = text.replace(secret, self._tracked[secret])
        return text

    def _sorted_secrets(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self._tracked, key=len, reverse=True)
        return self._sorted

    def _xml(self, text: str, declared: bool = False) -> str:
        leaves = xml_leaves(text)
        if leaves is None:
            return self._xmlish(text) if declared else text
        for secret, value in leaves:
            if secret and value.strip():
                stripped = value.strip()
                placeholder = self.placeholder_for(stripped)
                if stripped != placeholder and stripped not in self._tracked:
                    # too short to be searched for: replace it where it sits
                    for form in (stripped, xml_escape_text(stripped)):
                        text = text.replace(f">{form}<", f">{placeholder}<")
                        text = text.replace(f"[CDATA[{form}]]", f"[CDATA[{placeholder}]]")
                        text = text.replace(f'"{form}"', f'"{placeholder}"')
            else:
                self._patterns(value)
                self.redact_urls(value)
        return text

    def _xmlish(self, text: str) -> str:
        """A body declared XML that does not parse: the text of every secret-named element
        (or ``<property name=...>``) and every secret-named attribute value."""
        return self._unparsed(text, xmlish_secret_values(text), "declared XML", self._xml_value)

    def _xml_value(self, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            return value
        return value.replace(stripped, self.placeholder_for(stripped), 1)

    def _refuse(self, why: str) -> None:
        raise UndecodableBodyError(f"{self._where}{self._context}: {why}")

    def _jsonish(self, text: str) -> str:
        """A body declared or sniffed as JSON that does not parse: every secret-named
        ``"key": value``."""
        found = jsonish_secret_values(text)
        return self._unparsed(text, found, "declared or looks like JSON", self._token, True)

    def _unparsed(
        self,
        text: str,
        found: Iterable[tuple[str, int, int]],
        declared: str,
        replace: Callable[[str], str],
        unescape: bool = False,
    ) -> str:
        """The ``(name, start, end)`` values a linear text scan ``found`` replaced in one
        pass; a value that cannot be delimited (``start < 0``) is refused (fail closed)."""
        spans: list[tuple[int, int, str]] = []
        for name, start, end in found:
            if start < 0:
                self._refuse(
                    f"is {declared} but does not parse, and the value of its secret field "
                    f"{name!r} cannot be delimited"
                )
            raw = text[start:end]
            spans.append((start, end, unescape_backslashes(raw) if unescape else raw))
        return _splice(text, spans, replace)

    def _ndjson(self, text: str) -> str:
        return "".join(
            self._json(line, declared=bool(line.strip())) for line in text.splitlines(True)
        )

    def _json(self, text: str, declared: bool = False) -> str:
        if is_valid_json(text):
            spans = json_secret_spans(text)
            if spans is not None:  # the secret positions, without a walk of every leaf
                return self._unparsed(text, spans, "JSON", self._token, True)
        node = parse_json_exact(text)
        if not is_parsed(node):
            if declared or text.lstrip()[:1] in ("{", "["):
                return self._jsonish(text)
            return text

        def secret(value: str) -> str:
            if value in self._placeholders:
                return value
            return self._token(value)

        new = rewrite_json_exact(node, secret, self._string, False)
        if new == node:
            return text
        # Keep the server's own formatting (``\/``, spacing) when substituting the secrets
        # learnt from the structure into the text gives the same document.
        candidate = self.substitute(self.redact_urls(text))
        if parse_json_exact(candidate) == new:
            return candidate
        compact = '": ' not in text and '", "' not in text
        return dump_json_exact(new, compact)

    def redact_text(self, text: str, content_type: str = "") -> str:
        """Redact a decoded body: forms, URLs, JSON and XML secret positions, patterns,
        then every known secret in every encoded form."""
        text = self.redact_urls(text)
        text = self._multipart(text, content_type)
        media = media_type(content_type)
        if "ndjson" in media or "jsonl" in media or "json-seq" in media:
            text = self._ndjson(text)
        else:
            text = self._json(text, declared="json" in media)
        text = self._xml(text, declared="xml" in media)
        text = self._patterns(text)
        return self.substitute(text)

    def _multipart(self, text: str, content_type: str) -> str:
        """Secret-named parts of a ``multipart/*`` body replaced in one pass; one whose
        parts cannot be found is refused when it names a secret field."""
        found = multipart_secret_parts(text, content_type) or ()
        return self._unparsed(text, found, "declared multipart", self.placeholder_for)

    def substitute(self, text: str) -> str:
        """Replace every tracked secret (and its encoded forms) in ``text``, also inside
        base64 runs that hold more than the secret (``base64("pw=" + secret)``)."""
        if self._nested or len(self._tracked) > _MANY:
            text = self._form_matcher.replace(text)
        else:
            for secret in self._sorted_secrets():
                for variant, replacement in self._variants[secret]:
                    if variant in text:
                        text = text.replace(variant, replacement)
        return self._substitute_base64(text) if self._tracked else text

    def _substitute_base64(self, text: str) -> str:
        data = text.encode("utf-8", "surrogatepass")
        pieces: list[bytes] = []
        position = 0
        for run in base64_runs(data, self._base64_minimum()):
            decoded = self._replace_raw(run.text)
            if decoded != run.text:
                pieces.append(data[position : run.start])
                pieces.append(run.encode(decoded))
                position = run.end
        if not pieces:
            return text
        pieces.append(data[position:])
        return b"".join(pieces).decode("utf-8", "surrogatepass")

    def _base64_minimum(self) -> int:
        if self._minimum[0] != len(self._tracked):
            self._minimum = (len(self._tracked), base64_minimum(self._tracked))
        return self._minimum[1]

    def _substitute_bytes(self, body: bytes) -> bytes:
        """Replace every tracked secret stored in ``body`` in any common encoding, in one
        pass (the bytes read as latin-1, one character per byte)."""
        if len(self._byte_forms) < len(self._tracked):
            for secret in self._sorted_secrets():
                if secret in self._byte_forms:
                    continue
                placeholder = self._tracked[secret]
                pairs = []
                for encoding in _BYTE_ENCODINGS:
                    try:
                        raw, new = secret.encode(encoding), placeholder.encode(encoding)
                    except UnicodeEncodeError:
                        continue
                    pairs.append((raw.decode("latin-1"), new.decode("latin-1")))
                self._byte_forms[secret] = pairs
                self._byte_matcher.add(pairs)
        if not self._byte_matcher:
            return body
        return self._byte_matcher.replace(body.decode("latin-1")).encode("latin-1")

    def _redact_body(self, body: Any, headers: dict[str, list[str]], where: str) -> Any:
        """A body redacted on its normalised view; ``headers`` are fixed in place."""
        if body is None or body == b"" or body == "":
            return body
        as_text = isinstance(body, str)
        raw = body.encode("utf-8") if isinstance(body, str) else body
        if not isinstance(raw, (bytes, bytearray)):
            return body
        raw = bytes(raw)
        original = raw
        codings = content_codings(headers)
        sniffed = None if codings else sniffed_coding(raw, where)
        raw, content_type, decoded = decode_body(raw, headers, where)
        if codings:
            for name in [n for n in headers if n.lower() == "content-encoding"]:
                del headers[name]
            as_text = False
        if decoded is None:
            new = self._substitute_bytes(raw)
        else:
            text, encoding, bom = decoded
            self._where = where
            try:
                redacted = self.redact_text(text, content_type)
            finally:
                self._where = "body"
            try:
                new = bom + redacted.encode(encoding)
            except UnicodeEncodeError:
                new = bom + redacted.encode("utf-8")
        if sniffed is not None:
            # compressed without a Content-Encoding (a gzip file, a zlib blob): redacted
            # inside and compressed again the same way, so the client still gets that format
            if new == raw:
                return body
            new = gzip.compress(new, mtime=0) if sniffed == "gzip" else zlib.compress(new)
            as_text = False
            decoded = None
        if new != bytes(body if isinstance(body, bytes) else original) or codings:
            for name in [n for n in headers if n.lower() == "content-length"]:
                headers[name] = [str(len(new))]
        return new.decode("utf-8") if as_text and decoded is not None else new

    def _headers(self, headers: Mapping[str, Any]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, values in headers.items():
            items = values if isinstance(values, (list, tuple)) else [values]
            out[str(name)] = [header_text(v) for v in items]
        return out

    def _redact_message(
        self, headers: dict[str, list[str]], body: Any, where: str
    ) -> tuple[dict[str, list[str]], Any, int]:
        """``(headers, body, generation)``: secret positions of the headers first, then the
        body (which ends with a substitution of every secret known), then every header
        substituted. The message holds none of the first ``generation`` secrets learnt."""
        for name, values in headers.items():
            headers[name] = [self.redact_header(name, v) for v in values]
        try:
            body = self._redact_body(body, headers, where)
        except UndecodableBodyError as error:
            self.refused.append(str(error))
            raise
        generation = self.generation
        for name, values in headers.items():
            headers[name] = [self.substitute(v) for v in values]
        return headers, body, generation

    @property
    def generation(self) -> int:
        """How many secrets this redactor has learnt (it never forgets one)."""
        return len(self._tracked)

    def is_settled(self, request: Any) -> tuple[bool, bool]:
        """Whether the request and the response of an interaction recorded through the
        vcrpy hooks (``request`` is the hooked request) were redacted with every secret
        known now; False for an interaction the hooks did not see."""
        try:
            generations = self._generations.get(request)
        except TypeError:  # not a hooked request (it cannot be weakly referenced)
            generations = None
        if generations is None:
            return False, False
        now = self.generation
        return generations[0] >= now, generations[1] >= now

    # vcrpy hooks --------------------------------------------------------------------------
    def redact_request(self, request: Any) -> Any:
        """vcrpy ``before_record_request``: redact a (copied) ``vcr.request.Request``."""
        headers = self._headers(request.headers)
        request.uri = self.redact_uri(request.uri)
        self._context = f" of {getattr(request, 'method', '?')} {request.uri}"
        headers, body, generation = self._redact_message(headers, request.body, "request body")
        request.uri = self.substitute(self._patterns(request.uri))
        for name in list(request.headers.keys()):
            if name not in headers:
                del request.headers[name]
        for name, values in headers.items():
            request.headers[name] = values[0] if len(values) == 1 else values
        request.body = body
        # vcrpy hooks an interaction's request, then its response, in the same thread
        self._local.request = (request, generation)
        return request

    def redact_response(self, response: dict[str, Any]) -> dict[str, Any]:
        """vcrpy ``before_record_response``: redact a response dict in place and return it."""
        headers = self._headers(response.get("headers") or {})
        body = response.get("body")
        if isinstance(body, dict) and "string" in body:
            headers, body["string"], generation = self._redact_message(
                headers, body["string"], "response body"
            )
        else:
            headers, _, generation = self._redact_message(headers, None, "response body")
        for name, values in headers.items():
            headers[name] = [self._patterns(v) for v in values]
        if "headers" in response:
            response["headers"] = headers
        status = response.get("status")
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            status["message"] = self.substitute(self._patterns(status["message"]))
        pending = getattr(self._local, "request", None)
        self._local.request = None
        if pending is not None:
            request, request_generation = pending
            self._generations[request] = (request_generation, generation)
        return response

    def redact_interaction(
        self,
        request: dict[str, Any],
        response: dict[str, Any],
        *,
        sides: tuple[bool, bool] = (True, True),
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Redact a serialized interaction (cassette dict form) in place; ``sides`` says
        whether to redact its request and its response."""
        if sides[0]:
            self._redact_request_dict(request)
        if sides[1]:
            self.redact_response(response)
        if sides[0]:
            if isinstance(request.get("uri"), str):
                request["uri"] = self.substitute(self._patterns(request["uri"]))
            for name, values in request["headers"].items():
                request["headers"][name] = [self.substitute(v) for v in values]
        return request, response

    def _redact_request_dict(self, request: dict[str, Any]) -> None:
        headers = self._headers(request.get("headers") or {})
        if isinstance(request.get("uri"), str):
            request["uri"] = self.redact_uri(request["uri"])
            self._context = f" of {request.get('method', '?')} {request['uri']}"
        headers, request["body"], _ = self._redact_message(
            headers, request.get("body"), "request body"
        )
        request["headers"] = {n: [self._patterns(v) for v in vs] for n, vs in headers.items()}


_FILLERS = "0123456789"


def _splice(text: str, spans: list[tuple[int, int, str]], replace: Callable[[str], str]) -> str:
    """``text`` with each ``(start, end, value)`` span (in order, not overlapping)
    replaced by ``replace(value)``, built in one pass."""
    return splice(text, [(s, e, replace(v) if v else text[s:e]) for s, e, v in spans])


_MANY = 16
"""With more tracked secrets than this, one indexed pass replaces them all."""
_BYTE_ENCODINGS = ("utf-8", "latin-1", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def xml_escape_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
