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
import json
import re
import string
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import unescape as xml_unescape

__all__ = [
    "SECRET_BODY_KEYS",
    "SECRET_FORM_FIELDS",
    "SECRET_HEADERS",
    "SECRET_QUERY_PARAMS",
    "Redactor",
    "is_placeholder",
]

SECRET_HEADERS = ("authorization", "proxy-authorization", "x-access-token", "cookie", "set-cookie")
SECRET_QUERY_PARAMS = ("accesstoken", "seamaccesstoken", "code")
SECRET_FORM_FIELDS = ("password",)
SECRET_BODY_KEYS = ("userName", "password", "accessToken", "access_token")
TOKEN_PREFIXES = ("cwt=", "psat=")
MIN_TRACKED_LENGTH = 6
"""Shorter secrets are replaced where they sit but not searched for elsewhere."""

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
_B64_RE = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_JSON_KEY_RE = re.compile(r'"(' + "|".join(SECRET_BODY_KEYS) + r')"(\s*:\s*)"((?:[^"\\]|\\.)*)"')
_XML_PROPERTY_RE = re.compile(
    r"(<property\b[^>]*?\bname\s*=\s*[\"'](?:"
    + "|".join(SECRET_BODY_KEYS)
    + r")[\"'][^>]*>)([^<]*)(</property>)"
)
_FORM_RE = re.compile(r"^[\w.%+*~-]+=[^&]*(?:&[\w.%+*~-]+=?[^&]*)*$")


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
    """True when ``value`` looks like a placeholder this module makes (any known prefix)."""
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


def _json_escape(value: str) -> str:
    return json.dumps(value)[1:-1]


def _b64_variants(value: str) -> list[str]:
    raw = value.encode("utf-8")
    std = base64.b64encode(raw).decode("ascii")
    url = base64.urlsafe_b64encode(raw).decode("ascii")
    return [std, url, std.rstrip("="), url.rstrip("=")]


def encoded_variants(value: str) -> list[str]:
    """``value`` as it may appear re-encoded in a cassette (raw first, no duplicates)."""
    variants = [
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        _json_escape(value),
        _json_escape(value).replace("/", "\\/"),
        xml_escape(value, {'"': "&quot;", "'": "&apos;"}),
        xml_escape(value),
        *_b64_variants(value),
    ]
    seen: list[str] = []
    for variant in variants:
        if variant and variant not in seen:
            seen.append(variant)
    return seen


def _header_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):
        return _header_text(value[0]) if value else ""
    return str(value)


class Redactor:
    """Replaces secrets in vcrpy requests and responses, remembering each one it saw.

    Use ``redact_request`` as vcrpy's ``before_record_request`` and ``redact_response`` as
    ``before_record_response``. ``extra_secrets`` are literal values replaced wherever they
    appear; ``extra_patterns`` are regular expressions whose match (group 1 when the
    pattern has groups) is a secret. :attr:`secrets` is what the leak scan looks for.
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
        self.patterns: tuple[re.Pattern[str], ...] = tuple(
            p if isinstance(p, re.Pattern) else re.compile(p) for p in extra_patterns
        )
        for secret in extra_secrets:
            self.placeholder_for(secret, force=True)

    # Public views ----------------------------------------------------------------------
    @property
    def secrets(self) -> frozenset[str]:
        """Every secret value seen so far (long enough to be searched for)."""
        return frozenset(self._tracked)

    @property
    def replacements(self) -> dict[str, str]:
        """Secret -> placeholder for every tracked secret."""
        return dict(self._tracked)

    def is_placeholder(self, value: str) -> bool:
        return value in self._placeholders or is_placeholder(value)

    # Placeholders ----------------------------------------------------------------------
    def placeholder_for(
        self, secret: str, *, length: int | None = None, track: bool = True, force: bool = False
    ) -> str:
        """The placeholder standing for ``secret`` (made on first use).

        ``length`` overrides the placeholder length (used for byte lengths inside Basic);
        ``force`` treats ``secret`` as a secret even when it looks like a placeholder.
        """
        if not secret or (not force and self.is_placeholder(secret)):
            self._placeholders.add(secret)
            return secret
        size = len(secret) if length is None else length
        key = (secret, size)
        placeholder = self._map.get(key)
        if placeholder is None:
            placeholder = self._make(secret, size)
            self._map[key] = placeholder
            self._placeholders.add(placeholder)
        if track:
            self._track(secret, placeholder)
        return placeholder

    def _track(self, secret: str, placeholder: str) -> None:
        if len(secret) < MIN_TRACKED_LENGTH or secret in self._tracked:
            return
        self._tracked[secret] = placeholder
        pairs = zip(encoded_variants(secret), encoded_variants(placeholder), strict=False)
        self._variants[secret] = [(a, b) for a, b in pairs if a != b]

    def _make(self, secret: str, size: int) -> str:
        body, padding = _split_padding(secret)
        if len(secret) != size:  # a byte length was asked for: no padding logic
            body, padding = secret, ""
        n = size - len(padding)
        alphabet, marker = _alphabet_class(body)
        tail = ""
        if padding and n % 4 in (2, 3) and _B64_RE.match(secret):
            canonical = "AQgw" if n % 4 == 2 else "AEIMQUYcgkosw048"
            usable = [c for c in canonical if c in alphabet]
            tail = usable[0] if usable else body[-1:]
        room = n - len(tail)
        candidate = ""
        for _ in range(1000):
            self._counter += 1
            counter = str(self._counter)
            if room >= len(marker) + len(counter):
                core = marker + "0" * (room - len(marker) - len(counter)) + counter
            elif room > len(counter):
                core = marker[: room - len(counter)] + counter
            else:
                core = counter[-room:] if room > 0 else ""
            candidate = core + tail + padding
            if candidate not in self._placeholders and candidate != secret:
                break
        return candidate

    def _token(self, value: str, *, track: bool = True) -> str:
        for prefix in TOKEN_PREFIXES:
            if value.startswith(prefix):
                return prefix + self.placeholder_for(value[len(prefix) :], track=track)
        return self.placeholder_for(value, track=track)

    def _basic(self, credential: str) -> str:
        try:
            text = base64.b64decode(credential, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return self.placeholder_for(credential)
        user, sep, password = text.partition(":")
        if not sep:
            return self.placeholder_for(credential)
        if self.is_placeholder(user) and self.is_placeholder(password):
            return credential
        new_user = self.placeholder_for(user, length=len(user.encode("utf-8")), track=False)
        new_password = self.placeholder_for(password, length=len(password.encode("utf-8")))
        encoded = base64.b64encode(f"{new_user}:{new_password}".encode()).decode("ascii")
        self._map[(credential, len(credential))] = encoded
        self._placeholders.add(encoded)
        self._track(text, f"{new_user}:{new_password}")
        self._track(credential, encoded)
        return encoded

    # Field-level redaction ---------------------------------------------------------------
    def redact_header(self, name: str, value: str) -> str:
        """The redacted value of one header (unchanged when it is not a secret header)."""
        lname = name.lower()
        if lname in ("authorization", "proxy-authorization"):
            scheme, sep, credential = value.strip().partition(" ")
            if not sep:
                return self._token(value)
            credential = credential.strip()
            if scheme.lower() == "basic":
                return f"{scheme} {self._basic(credential)}"
            return f"{scheme} {self._token(credential)}"
        if lname == "x-access-token":
            return self._token(value.strip())
        if lname == "cookie":
            return "; ".join(self._cookie_pair(p) for p in value.split(";"))
        if lname == "set-cookie":
            first, sep, attributes = value.partition(";")
            return self._cookie_pair(first) + sep + attributes
        return value

    def _cookie_pair(self, pair: str) -> str:
        name, sep, value = pair.partition("=")
        if not sep:
            return pair
        stripped = value.strip().strip('"')
        decoded = unquote(stripped)
        if decoded != stripped:  # a percent-encoded cookie: its decoded form is the secret too
            self.placeholder_for(decoded)
        return name + sep + value.replace(stripped, self.placeholder_for(stripped), 1)

    def redact_params(self, encoded: str, names: Iterable[str]) -> str:
        """Redact the values of ``names`` in a ``k=v&k2=v2`` string, keeping its encoding."""
        wanted = {n.lower() for n in names}
        parts = encoded.split("&")
        for i, part in enumerate(parts):
            key, sep, value = part.partition("=")
            if not sep or unquote_plus(key).lower() not in wanted or not value:
                continue
            placeholder = self._token(unquote_plus(value))
            parts[i] = f"{key}={quote(placeholder, safe='') if '%' in value else placeholder}"
        return "&".join(parts)

    def redact_uri(self, uri: str) -> str:
        base, sep, rest = uri.partition("?")
        if not sep:
            return uri
        query, hsep, fragment = rest.partition("#")
        return f"{base}?{self.redact_params(query, SECRET_QUERY_PARAMS)}{hsep}{fragment}"

    def redact_text(self, text: str, content_type: str = "") -> str:
        """Redact a body: form fields, JSON and XML secret keys, extra patterns, known secrets."""
        stripped = text.strip()
        if "x-www-form-urlencoded" in content_type or (
            stripped and "=" in stripped and _FORM_RE.match(stripped)
        ):
            text = self.redact_params(text, SECRET_FORM_FIELDS + SECRET_QUERY_PARAMS)
        text = _JSON_KEY_RE.sub(self._json_match, text)
        text = _XML_PROPERTY_RE.sub(self._xml_match, text)
        return self.substitute(self._learn_patterns(text))

    def _json_match(self, match: re.Match[str]) -> str:
        raw = match.group(3)
        try:
            secret = json.loads(f'"{raw}"')
        except ValueError:
            secret = raw
        placeholder = self._token(secret)
        return f'"{match.group(1)}"{match.group(2)}"{_json_escape(placeholder)}"'

    def _xml_match(self, match: re.Match[str]) -> str:
        secret = xml_unescape(match.group(2), {"&quot;": '"', "&apos;": "'"})
        if not secret.strip():
            return match.group(0)
        return match.group(1) + xml_escape(self._token(secret)) + match.group(3)

    def _learn_patterns(self, text: str) -> str:
        for pattern in self.patterns:
            for match in pattern.finditer(text):
                value = match.group(1) if pattern.groups else match.group(0)
                if value:
                    self.placeholder_for(value)
        return text

    def substitute(self, text: str) -> str:
        """Replace every tracked secret (and its encodings) in ``text``."""
        for secret in sorted(self._tracked, key=len, reverse=True):
            text = text.replace(secret, self._tracked[secret])
            for variant, replacement in self._variants[secret]:
                text = text.replace(variant, replacement)
        return text

    def _redact_body(self, body: Any, content_type: str) -> Any:
        if isinstance(body, bytes):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                return body
            return self.redact_text(text, content_type).encode("utf-8")
        if isinstance(body, str):
            return self.redact_text(body, content_type)
        return body

    # vcrpy hooks --------------------------------------------------------------------------
    def redact_request(self, request: Any) -> Any:
        """vcrpy ``before_record_request``: redact a (copied) ``vcr.request.Request``."""
        headers = request.headers
        content_type = ""
        for name in list(headers.keys()):
            value = _header_text(headers[name])
            if name.lower() == "content-type":
                content_type = value.lower()
            headers[name] = self.redact_header(name, value)
        request.uri = self.redact_uri(request.uri)
        before = request.body
        request.body = self._redact_body(before, content_type)
        if isinstance(before, bytes) and request.body != before and "Content-Length" in headers:
            headers["Content-Length"] = str(len(request.body))
        # Second pass: secrets learnt from the body may also sit in the URI or headers.
        request.uri = self.substitute(request.uri)
        for name in list(headers.keys()):
            headers[name] = self.substitute(_header_text(headers[name]))
        return request

    def redact_response(self, response: dict[str, Any]) -> dict[str, Any]:
        """vcrpy ``before_record_response``: redact a response dict in place and return it."""
        headers: Mapping[str, Any] = response.get("headers") or {}
        content_type = ""
        for name, values in headers.items():
            if name.lower() == "content-type" and values:
                content_type = _header_text(values).lower()
        body = response.get("body")
        if isinstance(body, dict) and "string" in body:
            body["string"] = self._redact_body(body["string"], content_type)
        new_headers: dict[str, Any] = {}
        for name, values in headers.items():
            items = values if isinstance(values, list) else [values]
            new_headers[name] = [
                self.substitute(self.redact_header(name, _header_text(v))) for v in items
            ]
        if "headers" in response:
            response["headers"] = new_headers
        return response

    def redact_interaction(
        self, request: dict[str, Any], response: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Redact a serialized interaction (cassette dict form) in place."""
        headers = request.get("headers") or {}
        content_type = ""
        for name, values in headers.items():
            items = values if isinstance(values, list) else [values]
            if name.lower() == "content-type" and items:
                content_type = str(items[0]).lower()
            headers[name] = [self.redact_header(name, _header_text(v)) for v in items]
        if isinstance(request.get("uri"), str):
            request["uri"] = self.redact_uri(request["uri"])
        request["body"] = self._redact_body(request.get("body"), content_type)
        self.redact_response(response)
        if isinstance(request.get("uri"), str):
            request["uri"] = self.substitute(request["uri"])
        for name, values in headers.items():
            headers[name] = [self.substitute(_header_text(v)) for v in values]
        request["body"] = self._redact_body(request.get("body"), content_type)
        return request, response
