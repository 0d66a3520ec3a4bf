"""Leak scan on the normalised view of a cassette: known secrets in every encoded form,
user patterns, and secret positions that do not hold an issued placeholder.

Each interaction is decoded (content codings, charset) and walked (URLs, forms, cookies,
Basic credentials, JSON, XML, backslash and entity escapes, base64 runs); the serialized
file is searched too. Findings never quote a secret: they name it by a fingerprint.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RelayTokensError
from .forms import Matcher, encoded_forms, fingerprint
from .loading import CassetteError, load_yaml
from .normalise import UndecodableBodyError, decode_body, header_text, unescape_backslashes
from .redaction import MIN_DECLARED_LENGTH, MIN_TRACKED_LENGTH, TOKEN_PREFIXES, is_placeholder
from .structure import (
    base64_runs,
    basic_parts,
    cookie_values,
    is_parsed,
    is_secret_name,
    json_leaves,
    multipart_secret_parts,
    parse_json_exact,
    percent_forms,
    rewrite_params,
    semicolon_params,
    split_authorization,
    xml_leaves,
)

__all__ = [
    "Finding",
    "SecretLeakError",
    "cassette_placeholders",
    "find_unredacted",
    "fingerprint",
    "scan",
    "scan_cassette",
]

_BYTE_VIEWS = (
    ("utf-8", 0),
    ("latin-1", 0),
    *((f"utf-16-{order}", offset) for order in ("le", "be") for offset in (0, 1)),
    *((f"utf-32-{order}", offset) for order in ("le", "be") for offset in range(4)),
)
"""A body's bytes read as each text encoding at each alignment: a secret stored in
UTF-16/32 inside an undeclared or binary body is still found."""
_MASK = "\uffff"
_SEPARATOR = "\ufffe"


@dataclass(frozen=True)
class Finding:
    """One leak: ``where`` (``interaction 2 request.headers.Authorization`` or ``line 17``),
    ``kind`` (``secret:base64``, ``pattern:...``, ``unredacted``) and ``excerpt``, a
    fingerprint of the value (its length and a short sha256), never the value."""

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


# --- the normalised view ------------------------------------------------------------------
@dataclass
class _View:
    """What one request or response holds, decoded."""

    where: str
    leaves: list[tuple[str, str]] = field(default_factory=list)
    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    positions: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def _base64_runs(text: str) -> Iterator[str]:
    """Text decoded from every base64/base64url run of 8+ characters in ``text``."""
    for run in base64_runs(text.encode("utf-8", "surrogatepass")):
        yield run.text


def _derived(text: str) -> list[str]:
    """``text`` with its escapes undone in each way a secret could be hidden by them."""
    out = [text]
    if "\\" in text:
        out.append(unescape_backslashes(text))
    if "&" in text:
        out.append(html.unescape(text))
    out.extend(percent_forms(text))
    for form in list(out):
        out.extend(_base64_runs(form))
    return out


def _without_prefix(value: str) -> str:
    for prefix in TOKEN_PREFIXES:
        if value.startswith(prefix) and len(value) > len(prefix):
            return value[len(prefix) :]
    return value


def _credential_positions(name: str, value: str) -> list[str]:
    lname = name.lower()
    if lname in ("authorization", "proxy-authorization"):
        scheme, credential, values = split_authorization(value)
        if scheme.strip().lower() == "basic":
            parts = basic_parts(credential)
            if parts is not None:
                return [parts[0], parts[1]]
        if values is not None:  # a token68, or each auth-param value
            return [v for _, _, v in values if v]
        for prefix in TOKEN_PREFIXES:
            if credential.startswith(prefix) and len(credential) > len(prefix):
                return [credential[len(prefix) :]]
        return [credential]
    if lname in ("cookie", "set-cookie"):
        return cookie_values(lname, value)
    if is_secret_name(lname, "header"):  # folded: each comma-separated element
        return [v.strip() for v in value.split(",") if v.strip()]
    return []


def _param_positions(text: str, view: _View, label: str) -> None:
    def collect(name: str, raw: str, decoded: str) -> None:
        view.positions.append((f"{label}?{name}", decoded))

    rewrite_params(text, collect)
    if ";" in text:  # the legacy ``;`` query separator
        for name, _, _, value in semicolon_params(text):
            view.positions.append((f"{label};{name}", value))


def _body_bytes(body: Any) -> bytes | None:
    if isinstance(body, Mapping):
        body = body.get("string")
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return None


def _json_positions(node: Any, view: _View, depth: int) -> None:
    for secret, value in json_leaves(node):
        view.leaves.append(("body", value))
        _param_positions(value, view, "body")
        if secret:
            view.positions.append(("body", value))
        elif depth < 3 and value[:1] in ("{", "["):  # a JSON document inside a string
            inner = parse_json_exact(value)
            if is_parsed(inner):
                _json_positions(inner, view, depth + 1)


def _view(side: Mapping[str, Any], where: str, with_uri: bool) -> _View:
    view = _View(where)
    headers = side.get("headers") if isinstance(side.get("headers"), Mapping) else {}
    assert isinstance(headers, Mapping)
    if with_uri and isinstance(side.get("uri"), str):
        uri = side["uri"]
        view.leaves.append(("uri", uri))
        _param_positions(uri, view, "uri")
    for name, values in headers.items():
        items = values if isinstance(values, (list, tuple)) else [values]
        for value in items:
            text = header_text(value)
            label = f"headers.{name}"
            view.leaves.append((label, text))
            view.positions.extend((label, v) for v in _credential_positions(str(name), text))
            _param_positions(text, view, label)
    body = _body_bytes(side.get("body"))
    if not body:
        return view
    try:
        decoded_body, content_type, decoded = decode_body(body, headers)
    except UndecodableBodyError as error:
        view.problems.append(("body", f"cannot be decoded, so cannot be checked ({error})"))
        view.bodies.append(("body", body))
        return view
    view.bodies.append(("body", decoded_body))
    if decoded is None:
        view.leaves.append(("body", decoded_body.decode("latin-1")))
        return view
    text = decoded[0]
    view.leaves.append(("body", text))
    _param_positions(text, view, "body")
    for name, start, end in multipart_secret_parts(text, content_type) or ():
        if start >= 0:
            view.positions.append((f"body.{name}", text[start:end]))
    node = parse_json_exact(text)
    if is_parsed(node):
        _json_positions(node, view, 0)
        return view
    if any(kind in content_type.lower() for kind in ("ndjson", "jsonl", "json-seq")):
        for line in text.splitlines():  # one JSON document a line
            node = parse_json_exact(line)
            if is_parsed(node):
                _json_positions(node, view, 0)
        return view
    leaves = xml_leaves(text)
    for secret, value in leaves or ():
        view.leaves.append(("body", value))
        _param_positions(value, view, "body")
        if secret and value.strip():
            view.positions.append(("body", value.strip()))
    return view


def _views(data: Any) -> list[_View]:
    interactions = data.get("interactions") if isinstance(data, Mapping) else None
    if not isinstance(interactions, list):
        return []
    views: list[_View] = []
    for index, interaction in enumerate(interactions):
        if not isinstance(interaction, Mapping):
            continue
        for side in ("request", "response"):
            part = interaction.get(side)
            if isinstance(part, Mapping):
                views.append(_view(part, f"interaction {index} {side}", side == "request"))
    return views


def _issued_shape(value: str) -> bool:
    if len(value) < 4 or is_placeholder(value):
        return True
    parts = basic_parts(value)
    return parts is not None and all(len(p) < 4 or is_placeholder(p) for p in parts[:2])


def cassette_placeholders(data: Any) -> frozenset[str]:
    """The placeholders a cassette's redactor issued (its ``relaytokens.placeholders``).

    The list is what makes a value a placeholder; as a guard against a hand-edited list,
    an entry is trusted only when it also has the shape our redactor gives placeholders.
    """
    meta = data.get("relaytokens") if isinstance(data, Mapping) else None
    values = meta.get("placeholders") if isinstance(meta, Mapping) else None
    if not isinstance(values, list):
        return frozenset()
    return frozenset(v for v in values if isinstance(v, str) and v and _issued_shape(v))


def _utf16(secret: str) -> bytes:
    return secret.encode("utf-16-le", "surrogatepass")


def _byte_views(body: bytes, wide_need_nul: bool) -> list[tuple[str, int]]:
    """The views of ``body`` worth decoding. UTF-32 puts a zero byte in every character
    and UTF-16 one in every character below U+0100: a body without a zero byte cannot
    hold such a secret in those encodings. A pure-ASCII body reads the same as UTF-8 and
    latin-1."""
    views = list(_BYTE_VIEWS)
    if body.isascii():
        views.remove(("latin-1", 0))
    if b"\x00" not in body:
        views = [v for v in views if not v[0].startswith("utf-32")]
        if wide_need_nul:
            views = [v for v in views if not v[0].startswith("utf-16")]
    return views


# --- searching ------------------------------------------------------------------------------
class _Masker:
    """Replaces every issued placeholder of a text by one mask character, so that a
    secret found inside a placeholder is not reported."""

    def __init__(self, placeholders: Collection[str]) -> None:
        many = len(placeholders) > 16
        self.matcher = Matcher((p, _MASK) for p in placeholders) if many else None
        width = self.matcher.width if self.matcher else 1 << 30
        self.short = sorted((p for p in placeholders if len(p) < width), key=len, reverse=True)

    def mask(self, text: str) -> str:
        if self.matcher is not None:
            text = self.matcher.replace(text)
        for placeholder in self.short:
            if placeholder in text:
                text = text.replace(placeholder, _MASK)
        return text


def _pattern_hits(
    text: str, patterns: Iterable[re.Pattern[str]], placeholders: Collection[str]
) -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        for match in pattern.finditer(text):
            value = match.group(1) if pattern.groups else match.group(0)
            if value and value not in placeholders and _MASK not in value:
                yield f"pattern:{pattern.pattern}", value
                break


class _Finder:
    """Which secrets, in which encoded form, a text holds (one indexed pass when many)."""

    def __init__(self, secrets: list[str], raw_only: bool = False) -> None:
        self.secrets = secrets
        self.raw_only = raw_only
        self.matcher: Matcher | None = None
        if len(secrets) > 16:
            pairs = []
            self.kinds: dict[str, tuple[str, str]] = {}
            for secret in secrets:
                forms = [(secret, "secret")] if raw_only else encoded_forms(secret)
                for form, kind in forms:
                    self.kinds.setdefault(form, (kind, secret))
                    pairs.append((form, form))
            self.matcher = Matcher(pairs)

    def hits(self, text: str) -> Iterator[tuple[str, str]]:
        if self.matcher is None:
            for secret in self.secrets:
                forms = [(secret, "secret")] if self.raw_only else encoded_forms(secret)
                for form, kind in forms:
                    if form in text:
                        yield kind, secret
                        break
            return
        seen: set[str] = set()
        for _, form in self.matcher.find(text):
            kind, secret = self.kinds[form]
            if secret not in seen:
                seen.add(secret)
                yield kind, secret

    def lines(self, lines: list[str]) -> set[int]:
        """The indexes of ``lines`` holding some form of some secret (a superset): one
        pass over the joined text instead of one search per line."""
        joined = "\n".join(lines)
        starts: list[int] = []
        position = 0
        for line in lines:
            starts.append(position)
            position += len(line) + 1
        suspects: set[int] = set()

        def mark(start: int, end: int) -> int:
            """Mark the lines ``joined[start:end]`` touches; the start of the next line."""
            first = bisect.bisect_right(starts, start) - 1
            last = bisect.bisect_right(starts, end - 1) - 1
            suspects.update(range(first, last + 1))
            return starts[last + 1] if last + 1 < len(starts) else len(joined)

        if self.matcher is not None:
            # a hit may hide an overlapping one: it starts on a line this hit touches
            for found, form in self.matcher.find(joined):
                mark(found, found + len(form))
            return suspects
        for secret in self.secrets:
            forms = [(secret, "")] if self.raw_only else encoded_forms(secret)
            for form, _ in forms:
                found = joined.find(form)
                while found >= 0:
                    found = joined.find(form, mark(found, found + len(form)))
        return suspects


def _secret_hits(text: str, secrets: list[str] | _Finder) -> Iterator[tuple[str, str]]:
    finder = secrets if isinstance(secrets, _Finder) else _Finder(secrets)
    return finder.hits(text)


def _compile(patterns: Iterable[str | re.Pattern[str]]) -> list[re.Pattern[str]]:
    return [p if isinstance(p, re.Pattern) else re.compile(p) for p in patterns]


def _wanted(secrets: Iterable[str]) -> list[str]:
    return sorted({s for s in secrets if len(s) >= MIN_DECLARED_LENGTH}, key=len, reverse=True)


def scan_data(
    data: Any,
    secrets: Iterable[str],
    patterns: Iterable[str | re.Pattern[str]] = (),
    placeholders: Collection[str] | None = None,
    *,
    positions: bool = True,
) -> list[Finding]:
    """Every finding in a parsed cassette: secrets, patterns, unredacted positions and
    bodies that cannot be decoded (and so cannot be checked)."""
    issued = cassette_placeholders(data) if placeholders is None else frozenset(placeholders)
    views = _views(data)
    declared = list(secrets)
    learned = _learned(views, issued, declared) if positions else []
    # as the recorder does: what a secret position holds is searched for everywhere
    wanted = _Finder(_wanted([*declared, *learned]))
    # a value the caller calls secret is never a placeholder
    issued = issued - set(wanted.secrets)
    return _scan_data(views, wanted, _compile(patterns), issued, positions, set(learned))


def _field(label: str) -> str:
    """The field a position's label is in (``uri?code`` is in ``uri``)."""
    for mark in ("?", ";"):
        label = label.partition(mark)[0]
    return "body" if label.startswith("body.") else label


def _learned(views: list[_View], issued: Collection[str], declared: Collection[str]) -> list[str]:
    """The values sitting in secret positions that are not placeholders (long enough to be
    searched for, as the recorder searches for what it learns)."""
    learned: set[str] = set()
    for view in views:
        for _, value in view.positions:
            stripped = _without_prefix(value.strip().strip('"'))
            if (
                len(stripped) >= MIN_TRACKED_LENGTH
                and stripped not in issued
                and stripped not in declared
            ):
                learned.add(stripped)
    return sorted(learned)


def _scan_data(
    views: list[_View],
    wanted: _Finder,
    compiled: list[re.Pattern[str]],
    issued: frozenset[str],
    positions: bool,
    learned: set[str],
) -> list[Finding]:
    masker = _Masker(issued)
    raw = _Finder(wanted.secrets, raw_only=True)
    wide_need_nul = all(b"\x00" in _utf16(secret) for secret in wanted.secrets)
    findings: list[Finding] = []
    for view in views:
        # a learnt value is reported once where it sits (unredacted), then at every copy
        own = {
            (_field(label), stripped)
            for label, value in view.positions
            if (stripped := _without_prefix(value.strip().strip('"'))) in learned
        }
        seen: set[tuple[str, str, str]] = set()

        def add(
            label: str,
            kind: str,
            value: str,
            view: _View = view,
            seen: set[tuple[str, str, str]] = seen,
            own: set[tuple[str, str]] = own,
        ) -> None:
            key = (label, kind, value)
            if kind != "unredacted" and (_field(label), value) in own:
                return  # the position itself, reported as "unredacted" below
            if key not in seen:
                seen.add(key)
                findings.append(Finding(f"{view.where}.{label}", kind, fingerprint(value)))

        for label, problem in view.problems:
            findings.append(Finding(f"{view.where}.{label}", "undecodable", problem))
        grouped: dict[str, list[str]] = {}
        for label, leaf in view.leaves:
            grouped.setdefault(label, []).append(leaf)
        for label, leaves in grouped.items():
            # one search per field: its leaves joined by a character no encoding produces
            joined = _SEPARATOR.join(leaves)
            for text in _derived(masker.mask(joined)):
                for kind, value in _secret_hits(text, wanted):
                    add(label, kind, value)
                for kind, value in _pattern_hits(text, compiled, issued):
                    add(label, kind, value)
        for label, body in view.bodies:
            for encoding, offset in _byte_views(body, wide_need_nul):
                text = masker.mask(body[offset:].decode(encoding, "replace"))
                for _, value in raw.hits(text):
                    add(label, f"secret:{encoding}", value)
        if positions:
            for label, value in view.positions:
                stripped = _without_prefix(value.strip().strip('"'))
                if stripped and stripped not in issued:
                    add(label, "unredacted", stripped)
    return findings


def _scan(
    text: str,
    secrets: Iterable[str],
    patterns: Iterable[str | re.Pattern[str]],
    placeholders: Collection[str] | None,
    positions: bool,
) -> list[Finding]:
    compiled = _compile(patterns)
    try:
        data = load_yaml(text)
    except CassetteError:
        data = None
    issued = cassette_placeholders(data) if placeholders is None else frozenset(placeholders)
    views = _views(data) if data else []
    declared = list(secrets)
    learned = _learned(views, issued, declared) if positions else []
    # as the recorder does: what a secret position holds is searched for everywhere
    wanted = _Finder(_wanted([*declared, *learned]))
    issued = issued - set(wanted.secrets)
    findings = _scan_data(views, wanted, compiled, issued, positions, set(learned)) if data else []
    found = {f.excerpt for f in findings}
    masker = _Masker(issued)
    lines = masker.mask(text).splitlines()
    suspects = wanted.lines(lines)
    for number, masked in enumerate(lines, start=1):
        # decoded forms were searched leaf by leaf; here the file text, line by line
        hits = [*_secret_hits(masked, wanted)] if number - 1 in suspects else []
        hits.extend(_pattern_hits(masked, compiled, issued))
        for kind, value in hits:
            stamp = fingerprint(value)
            if stamp not in found:
                found.add(stamp)
                findings.append(Finding(f"line {number}", kind, stamp))
    return findings


def scan(
    text: str,
    secrets: Iterable[str],
    patterns: Iterable[str | re.Pattern[str]] = (),
    placeholders: Collection[str] | None = None,
) -> list[Finding]:
    """Every place in a serialized cassette where a secret or a pattern shows up.

    Secrets are searched in every decoded leaf of every interaction and in the file text,
    raw and re-encoded (percent upper/lower, base64/base64url, JSON/.NET ``\\u`` escapes,
    XML entities). ``placeholders`` (default: the cassette's own list) are never reported.
    """
    return _scan(text, secrets, patterns, placeholders, positions=False)


def find_unredacted(data: Any, placeholders: Collection[str] | None = None) -> list[Finding]:
    """Secret positions (auth headers, cookies, secret-named query/form/JSON/XML values)
    holding something that is not a placeholder issued for this cassette."""
    return scan_data(data, (), (), placeholders, positions=True)


def scan_cassette(
    text: str,
    secrets: Iterable[str] = (),
    patterns: Iterable[str | re.Pattern[str]] = (),
    placeholders: Collection[str] | None = None,
) -> list[Finding]:
    """:func:`scan` plus :func:`find_unredacted` on one serialized cassette."""
    return _scan(text, secrets, patterns, placeholders, positions=True)
