"""Leak scan: known secrets (also re-encoded), user patterns, and unredacted secret fields."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit
from xml.sax.saxutils import escape as xml_escape

import yaml

from ..errors import RelayTokensError
from .redaction import (
    _FORM_RE,
    MIN_TRACKED_LENGTH,
    SECRET_BODY_KEYS,
    SECRET_FORM_FIELDS,
    SECRET_HEADERS,
    SECRET_QUERY_PARAMS,
    _b64_variants,
    _json_escape,
    is_placeholder,
)

__all__ = ["Finding", "SecretLeakError", "find_unredacted", "scan"]

_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_JSON_KEY_RE = re.compile(r'"(' + "|".join(SECRET_BODY_KEYS) + r')"\s*:\s*"((?:[^"\\]|\\.)*)"')
_XML_RE = re.compile(
    r"<property\b[^>]*?\bname\s*=\s*[\"']("
    + "|".join(SECRET_BODY_KEYS)
    + r")[\"'][^>]*>([^<]*)</property>"
)


@dataclass(frozen=True)
class Finding:
    """One leak: ``where`` (``interaction 2 request.headers.Authorization`` or ``line 17``),
    ``kind`` (``secret:base64``, ``pattern:...``, ``unredacted``) and a masked ``excerpt``."""

    where: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.excerpt}"


class SecretLeakError(RelayTokensError):
    """A cassette would contain secrets; nothing was written."""

    def __init__(self, path: str, findings: Iterable[Finding]) -> None:
        self.path = path
        self.findings = list(findings)
        lines = "\n".join(f"  - {f}" for f in self.findings)
        super().__init__(
            f"refusing to write cassette {path}: {len(self.findings)} secret(s) found "
            f"(nothing was written; redact them or add a Redactor extra_secrets/extra_patterns):"
            f"\n{lines}"
        )


def _mask(text: str, start: int, end: int, context: int = 16) -> str:
    left = text[max(0, start - context) : start].replace("\n", " ")
    right = text[end : end + context].replace("\n", " ")
    hidden = text[start:end]
    return f"{left}[{hidden[:2]}***{end - start} chars]{right}"


@functools.lru_cache(maxsize=4096)
def _variants(secret: str) -> tuple[tuple[str, str], ...]:
    """(encoded form, kind) pairs, raw first."""
    kinds: dict[str, str] = {secret: "secret"}
    for variant in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        kinds.setdefault(variant, "secret:percent-encoded")
    for variant in (_json_escape(secret), _json_escape(secret).replace("/", "\\/")):
        kinds.setdefault(variant, "secret:json-escaped")
    for variant in (xml_escape(secret, {'"': "&quot;", "'": "&apos;"}), xml_escape(secret)):
        kinds.setdefault(variant, "secret:xml-escaped")
    for i, variant in enumerate(_b64_variants(secret)):
        kinds.setdefault(variant, "secret:base64" if i % 2 == 0 else "secret:base64url")
    return tuple(kinds.items())


def _decoded_runs(text: str) -> Iterator[tuple[int, int, str]]:
    """Base64/base64url runs of ``text`` decoded to text (for ``Basic user:pass`` and such)."""
    for match in _B64_RUN.finditer(text):
        run = match.group(0)
        for candidate in (run, run.replace("-", "+").replace("_", "/")):
            padded = candidate + "=" * (-len(candidate) % 4)
            try:
                decoded = base64.b64decode(padded, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                continue
            yield match.start(), match.end(), decoded
            break


def _scan_string(
    value: str,
    secrets: list[str],
    patterns: list[re.Pattern[str]],
) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, kind, secret-or-pattern) for every hit in one string."""
    for secret in secrets:
        for variant, kind in _variants(secret):
            start = value.find(variant)
            if start >= 0:
                yield start, start + len(variant), kind, secret
                break
        else:
            for start, end, decoded in _decoded_runs(value):
                if secret in decoded:
                    kind = "secret:basic-auth" if ":" in decoded else "secret:base64"
                    yield start, end, kind, secret
                    break
    for pattern in patterns:
        match = pattern.search(value)
        if match is not None and not is_placeholder(match.group(0)):
            yield match.start(), match.end(), f"pattern:{pattern.pattern}", pattern.pattern


def _walk(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, (list, tuple)):
        if len(node) == 1:
            yield from _walk(node[0], path)
        else:
            for i, value in enumerate(node):
                yield from _walk(value, f"{path}[{i}]")
    elif isinstance(node, bytes):
        yield path, node.decode("utf-8", "replace")
    elif isinstance(node, str):
        yield path, node


def _interaction_strings(data: Any) -> Iterator[tuple[str, str]]:
    if isinstance(data, Mapping) and isinstance(data.get("interactions"), list):
        for index, interaction in enumerate(data["interactions"]):
            for path, value in _walk(interaction, ""):
                yield f"interaction {index} {path}", value
        for key, value in data.items():
            if key != "interactions":
                yield from _walk(value, str(key))
    else:
        yield from _walk(data, "")


def scan(
    text: str, secrets: Iterable[str], patterns: Iterable[str | re.Pattern[str]] = ()
) -> list[Finding]:
    """Every place in a serialized cassette where a secret or a pattern shows up.

    Secrets are searched raw and re-encoded (percent, base64/base64url, JSON- and
    XML-escaped, inside base64 ``user:pass``). Hits are located per interaction field
    when ``text`` parses as YAML, and by line number otherwise (or when only the raw
    text shows them, e.g. in a comment).
    """
    wanted = sorted(
        {s for s in secrets if len(s) >= MIN_TRACKED_LENGTH},
        key=len,
        reverse=True,
    )
    compiled = [p if isinstance(p, re.Pattern) else re.compile(p) for p in patterns]
    findings: list[Finding] = []
    found: set[tuple[str, str]] = set()
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        data = None
    if data is not None and not isinstance(data, str):
        for where, value in _interaction_strings(data):
            for start, end, kind, what in _scan_string(value, wanted, compiled):
                findings.append(Finding(where, kind, _mask(value, start, end)))
                found.add((kind, what))
    for number, line in enumerate(text.splitlines(), start=1):
        for start, end, kind, what in _scan_string(line, wanted, compiled):
            if (kind, what) not in found:
                findings.append(Finding(f"line {number}", kind, _mask(line, start, end)))
    return findings


def _values(headers: Any, name: str) -> list[str]:
    if not isinstance(headers, Mapping):
        return []
    out: list[str] = []
    for key, values in headers.items():
        if str(key).lower() == name:
            items = values if isinstance(values, list) else [values]
            out.extend(str(v) for v in items)
    return out


def _secret_header_values(name: str, value: str) -> list[str]:
    if name in ("cookie", "set-cookie"):
        pairs = value.split(";") if name == "cookie" else value.split(";")[:1]
        return [p.partition("=")[2].strip().strip('"') for p in pairs if "=" in p]
    return [value]


def _text(body: Any) -> str:
    if isinstance(body, Mapping):
        body = body.get("string")
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return body if isinstance(body, str) else ""


def find_unredacted(data: Any) -> list[Finding]:
    """Secret positions (auth headers, token query values, passwords, token body keys)
    holding something that is not a placeholder."""
    findings: list[Finding] = []
    interactions = data.get("interactions") if isinstance(data, Mapping) else None
    if not isinstance(interactions, list):
        return findings
    for index, interaction in enumerate(interactions):
        if not isinstance(interaction, Mapping):
            continue
        for side in ("request", "response"):
            part = interaction.get(side)
            if not isinstance(part, Mapping):
                continue
            where = f"interaction {index} {side}"
            for header in SECRET_HEADERS:
                for value in _values(part.get("headers"), header):
                    for secret in _secret_header_values(header, value):
                        if secret and not is_placeholder(secret):
                            findings.append(
                                Finding(
                                    f"{where}.headers.{header}",
                                    "unredacted",
                                    _mask(value, 0, len(value), 0),
                                )
                            )
            uri = part.get("uri")
            if isinstance(uri, str):
                for key, value in parse_qsl(urlsplit(uri).query, keep_blank_values=True):
                    if key.lower() in SECRET_QUERY_PARAMS and value and not is_placeholder(value):
                        findings.append(
                            Finding(
                                f"{where}.uri?{key}", "unredacted", _mask(value, 0, len(value), 0)
                            )
                        )
            body = _text(part.get("body"))
            if _FORM_RE.match(body.strip()):
                for key, value in parse_qsl(body, keep_blank_values=True):
                    if key.lower() in SECRET_FORM_FIELDS and value and not is_placeholder(value):
                        findings.append(
                            Finding(
                                f"{where}.body.{key}", "unredacted", _mask(value, 0, len(value), 0)
                            )
                        )
            for regex in (_JSON_KEY_RE, _XML_RE):
                for match in regex.finditer(body):
                    value = match.group(2)
                    if value.strip() and not is_placeholder(value.replace("\\/", "/")):
                        findings.append(
                            Finding(
                                f"{where}.body.{match.group(1)}",
                                "unredacted",
                                _mask(value, 0, len(value), 0),
                            )
                        )
    return findings
