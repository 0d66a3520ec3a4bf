"""Leak scan on the normalised view of a cassette: known secrets in every encoded form,
user patterns, and secret positions that do not hold an issued placeholder.

Each interaction is decoded (content codings, charset) and walked (URLs, forms, cookies,
Basic credentials, JSON, XML, backslash and entity escapes, base64 runs); the serialized
file is searched too. Findings never quote a secret: they name it by a fingerprint.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RelayTokensError
from ..http.headers import media_type
from .forms import Matcher, encoded_forms, fingerprint
from .loading import CassetteError, iter_cassette
from .normalise import UndecodableBodyError, decode_body, header_text, unescape_backslashes
from .redaction import MIN_DECLARED_LENGTH, MIN_TRACKED_LENGTH, TOKEN_PREFIXES, is_placeholder
from .structure import (
    CHALLENGE_HEADERS,
    base64_minimum,
    base64_runs,
    basic_parts,
    challenge_secret_values,
    cookie_values,
    is_parsed,
    is_secret_name,
    is_valid_json,
    json_leaves,
    json_secret_spans,
    jsonish_secret_values,
    multipart_secret_parts,
    parse_json_exact,
    percent_forms,
    rewrite_params,
    semicolon_params,
    split_authorization,
    xml_leaves,
    xmlish_secret_values,
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


def _base64_runs(text: str, minimum: int) -> Iterator[str]:
    """Text decoded from every base64/base64url run of ``minimum``+ characters."""
    for run in base64_runs(text.encode("utf-8", "surrogatepass"), minimum):
        yield run.text


def _derived(text: str, minimum: int = 8) -> list[str]:
    """``text`` with its escapes undone in each way a secret could be hidden by them."""
    out = [text]
    if "\\" in text:
        out.append(unescape_backslashes(text))
    if "&" in text:
        out.append(html.unescape(text))
    out.extend(percent_forms(text))
    for form in list(out):
        out.extend(_base64_runs(form, minimum))
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
    if lname in CHALLENGE_HEADERS:
        return challenge_secret_values(value)
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
    media = media_type(content_type)
    _spans(view, text, multipart_secret_parts(text, content_type) or (), "declared multipart")
    # the recorder's order (Redactor.redact_text): JSON (a line at a time for NDJSON), with
    # its text fallback, then XML, with its text fallback when declared
    lines = text.splitlines() if any(k in media for k in _LINE_JSON) else [text]
    for line in lines:
        spans = json_secret_spans(line) if is_valid_json(line) else None
        if spans is not None:  # the recorder's fast path: the same positions, no walk
            _spans(view, line, spans, "JSON", True, named=False)
            continue
        node = parse_json_exact(line)
        if is_parsed(node):
            _json_positions(node, view, 0)
        elif (len(lines) > 1 and line.strip()) or "json" in media or line.lstrip()[:1] in "{[":
            _spans(view, line, jsonish_secret_values(line), "declared or looks like JSON", True)
    leaves = xml_leaves(text)
    if leaves is None and "xml" in media:
        _spans(view, text, xmlish_secret_values(text), "declared XML")
    for secret, value in leaves or ():
        view.leaves.append(("body", value))
        _param_positions(value, view, "body")
        if secret and value.strip():
            view.positions.append(("body", value.strip()))
    return view


_LINE_JSON = ("ndjson", "jsonl", "json-seq")


def _spans(
    view: _View,
    text: str,
    found: Iterable[tuple[str, int, int]],
    declared: str,
    unescape: bool = False,
    named: bool = True,
) -> None:
    """The ``(name, start, end)`` values a text fallback found, as positions; one that
    cannot be delimited is a problem (the recorder refuses such a body)."""
    for name, start, end in found:
        if start < 0:
            view.problems.append(
                (
                    f"body.{name}",
                    f"is {declared} but does not parse, and the value of its secret field "
                    "cannot be delimited",
                )
            )
            continue
        raw = text[start:end]
        label = f"body.{name}" if named else "body"
        view.positions.append((label, unescape_backslashes(raw) if unescape else raw))


def interaction_views(index: int, interaction: Any) -> list[_View]:
    """The normalised views of one interaction's request and response."""
    if not isinstance(interaction, Mapping):
        return []
    views: list[_View] = []
    for side in ("request", "response"):
        part = interaction.get(side)
        if isinstance(part, Mapping):
            view = _view(part, f"interaction {index} {side}", side == "request")
            status = part.get("status")
            if isinstance(status, Mapping) and isinstance(status.get("message"), str):
                view.leaves.append(("status.message", status["message"]))
            views.append(view)
    return views


MIN_PLACEHOLDER_LENGTH = 4
"""A value this long with the redactor's placeholder shape is a placeholder; shorter values
have no shape to tell them by."""
MIN_MASKED_LENGTH = 8
"""A placeholder this long is unambiguous enough to be masked inside other text."""


def trusted_placeholder(value: str) -> bool:
    """Has ``value`` the exact shape the redactor issues (a marker, zeros, a counter; see
    :func:`~pytest_relaytokens.cassettes.redaction.is_placeholder`), at least
    :data:`MIN_PLACEHOLDER_LENGTH` long? A Basic credential counts when both its parts do.
    A hand-edited list cannot make anything else a placeholder."""
    if len(value) >= MIN_PLACEHOLDER_LENGTH and is_placeholder(value):
        return True
    parts = basic_parts(value) if len(value) >= 8 else None
    return parts is not None and all(
        len(p) < MIN_PLACEHOLDER_LENGTH or is_placeholder(p) for p in parts[:2]
    )


def cassette_placeholders(data: Any) -> frozenset[str]:
    """The entries of a cassette's ``relaytokens.placeholders`` that verify accepts: those
    with the placeholder shape (:func:`trusted_placeholder`), and values too short to have
    one (accepted only as the whole value of a secret position, never masked)."""
    meta = data.get("relaytokens") if isinstance(data, Mapping) else None
    return _listed(meta)


def _listed(meta: Any) -> frozenset[str]:
    values = meta.get("placeholders") if isinstance(meta, Mapping) else None
    if not isinstance(values, list):
        return frozenset()
    return frozenset(
        v
        for v in values
        if isinstance(v, str) and v and (len(v) < MIN_PLACEHOLDER_LENGTH or trusted_placeholder(v))
    )


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


class _Finder:
    """Which secrets, in which encoded form, a text holds (one indexed pass when many)."""

    def __init__(self, secrets: list[str], raw_only: bool = False) -> None:
        self.secrets: list[str] = []
        self.raw_only = raw_only
        self.matcher: Matcher | None = None
        self.kinds: dict[str, tuple[str, str]] = {}
        self._known: set[str] = set()
        self.add(secrets)

    def _forms(self, secret: str) -> Iterable[tuple[str, str]]:
        return [(secret, "secret")] if self.raw_only else encoded_forms(secret)

    def add(self, secrets: Iterable[str]) -> None:
        """Search for ``secrets`` too (grows the index in place)."""
        fresh = [s for s in dict.fromkeys(secrets) if s not in self._known]
        self._known.update(fresh)
        self.secrets.extend(fresh)
        if self.matcher is None and len(self.secrets) <= 16:
            return
        if self.matcher is None:
            self.matcher, fresh = Matcher(), self.secrets
        pairs = []
        for secret in fresh:
            for form, kind in self._forms(secret):
                self.kinds.setdefault(form, (kind, secret))
                pairs.append((form, form))
        self.matcher.add(pairs)

    def hits(self, text: str, by_shape: bool = False) -> Iterator[tuple[str, str]]:
        """``(kind, secret)`` for each secret some form of which ``text`` holds; with
        ``by_shape``, an occurrence inside a placeholder-shaped word does not count."""
        if self.matcher is None:
            for secret in self.secrets:
                for form, kind in self._forms(secret):
                    if form in text and (not by_shape or _outside_placeholders(text, form)):
                        yield kind, secret
                        break
            return
        seen: set[str] = set()
        for position, form in self.matcher.find(text):
            kind, secret = self.kinds[form]
            if secret in seen:
                continue
            if by_shape and _in_placeholder(text, position, position + len(form)):
                continue
            seen.add(secret)
            yield kind, secret


_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_LONGEST_WORD = 1024


def _in_placeholder(text: str, start: int, end: int) -> bool:
    """Does ``text[start:end]`` lie inside a placeholder-shaped word (letters and digits,
    then ``=`` padding) of :data:`MIN_MASKED_LENGTH` characters or more?"""
    left, right = start, end
    while left > 0 and start - left < _LONGEST_WORD and text[left - 1] in _WORD:
        left -= 1
    while right < len(text) and right - end < _LONGEST_WORD and text[right] in _WORD:
        right += 1
    while right < len(text) and text[right] == "=" and right - end < _LONGEST_WORD:
        right += 1
    word = text[left:right]
    # a word that is exactly what was found is that value, not a placeholder holding it
    return len(word) > end - start and len(word) >= MIN_MASKED_LENGTH and is_placeholder(word)


def _outside_placeholders(text: str, form: str) -> bool:
    """Does ``form`` occur in ``text`` somewhere other than inside a placeholder?"""
    position = text.find(form)
    while position >= 0:
        if not _in_placeholder(text, position, position + len(form)):
            return True
        position = text.find(form, position + 1)
    return False


def _compile(patterns: Iterable[str | re.Pattern[str]]) -> list[re.Pattern[str]]:
    return [p if isinstance(p, re.Pattern) else re.compile(p) for p in patterns]


def _field(label: str) -> str:
    """The field a position's label is in (``uri?code`` is in ``uri``)."""
    for mark in ("?", ";"):
        label = label.partition(mark)[0]
    return "body" if label.startswith("body.") else label


def _stripped(value: str) -> str:
    return _without_prefix(value.strip().strip('"'))


class CassetteScanner:
    """The leak scan of one cassette, fed as it is read: :meth:`interaction` for each
    interaction, :meth:`lines` for the lines of the file, :meth:`metadata` for its
    ``relaytokens`` key; :meth:`finish` gives the findings. Memory is bounded by the largest
    interaction (plus the findings and the values learnt).

    ``placeholders`` given (the recorder's own check): exactly those are placeholders. Not
    given (``verify``): a value is a placeholder when it has the redactor's shape
    (:func:`trusted_placeholder`) and the file's list names it; the list alone makes nothing
    a placeholder, except a value too short to have a shape, as the whole value of a secret
    position. A secret found only inside a placeholder-shaped word of
    :data:`MIN_MASKED_LENGTH` characters or more is not reported.

    What a secret position holds is learnt and searched for in that interaction and every
    later one (a file is read once: an earlier copy is not reported again; the position is).
    """

    def __init__(
        self,
        secrets: Iterable[str] = (),
        patterns: Iterable[str | re.Pattern[str]] = (),
        placeholders: Collection[str] | None = None,
        *,
        positions: bool = True,
    ) -> None:
        self.declared = _wanted(secrets)
        self._declared = frozenset(self.declared)
        self.patterns = _compile(patterns)
        self.explicit = None if placeholders is None else frozenset(placeholders)
        self.explicit = self.explicit - set(self.declared) if self.explicit else self.explicit
        self.positions = positions
        self.findings: list[Finding] = []
        self._learned: set[str] = set()
        self._wanted = _Finder(list(self.declared))
        self._raw = _Finder(list(self.declared), raw_only=True)
        self._lines = self._wanted  # the file's lines: the same index (learnt values too)
        self._masker = _Masker(self.explicit or ())
        self._deferred: dict[str, list[Any]] = {}
        """value -> [where of its first position, how many positions]: placeholder-shaped
        or short values, judged once the file's list is read (it comes last)"""
        self._line_findings: list[Finding] = []
        self._listed: frozenset[str] = frozenset()
        self.last_line = 0

    # what counts as a placeholder ---------------------------------------------------------
    def _accepted(self, value: str) -> bool:
        if self.explicit is not None:
            return value in self.explicit
        return value not in self._declared and trusted_placeholder(value)

    def _learn(self, values: Iterable[str]) -> None:
        fresh = [
            v
            for v in values
            if len(v) >= MIN_TRACKED_LENGTH
            and v not in self._learned
            and v not in self._declared
            and not self._accepted(v)
        ]
        if fresh:
            self._learned.update(fresh)
            self._wanted.add(fresh)
            self._raw.add(fresh)

    # feeding --------------------------------------------------------------------------------
    def interaction(self, index: int, interaction: Any) -> None:
        """Scan one interaction (its views, positions and bodies)."""
        views = interaction_views(index, interaction)
        stripped = [_stripped(v) for view in views for _, v in view.positions]
        if self.positions:
            self._learn(stripped)
        for view in views:
            self._scan_view(view)

    def lines(self, first: int, lines: list[str]) -> None:
        """Search lines of the file (``first`` is the number of the first) for the declared
        secrets and the patterns: one search of the block, line by line only on a hit."""
        self.last_line = first + len(lines) - 1
        if not self._wanted.secrets and not self.patterns:
            return
        block = "".join(lines)
        masked = self._masker.mask(block) if self.explicit else block
        by_shape = self.explicit is None
        if not any(self._lines.hits(masked, by_shape)) and not any(
            pattern.search(masked) for pattern in self.patterns
        ):
            return
        for number, line in enumerate(lines, start=first):
            masked = self._masker.mask(line) if self.explicit else line
            hits = [*self._lines.hits(masked, by_shape)]
            hits.extend(self._pattern_hits(masked))
            for kind, value in hits:
                self._line_findings.append(Finding(f"line {number}", kind, fingerprint(value)))

    def metadata(self, meta: Any) -> None:
        """The cassette's ``relaytokens`` key (its placeholder list)."""
        self._listed = _listed(meta)

    def finish(self) -> list[Finding]:
        """Every finding, the file's lines last (a value found in an interaction is not
        reported again by line)."""
        for value, (where, count) in self._deferred.items():
            if value not in self._listed:
                more = f" (and {count - 1} more position(s))" if count > 1 else ""
                self.findings.append(Finding(where, "unredacted", fingerprint(value) + more))
        self._deferred = {}
        found = {f.excerpt for f in self.findings}
        for finding in self._line_findings:
            if finding.excerpt not in found:
                found.add(finding.excerpt)
                self.findings.append(finding)
        self._line_findings = []
        return self.findings

    # searching ------------------------------------------------------------------------------
    def _pattern_hits(self, text: str) -> Iterator[tuple[str, str]]:
        for pattern in self.patterns:
            for match in pattern.finditer(text):
                value = match.group(1) if pattern.groups else match.group(0)
                if value and _MASK not in value and not self._accepted(_stripped(value)):
                    yield f"pattern:{pattern.pattern}", value
                    break

    def _scan_view(self, view: _View) -> None:
        own = {
            (_field(label), stripped)
            for label, value in view.positions
            if (stripped := _stripped(value)) in self._learned
        }
        seen: set[tuple[str, str, str]] = set()
        findings = self.findings

        def add(label: str, kind: str, value: str) -> None:
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
        searching = bool(self._wanted.secrets) or bool(self.patterns)
        by_shape = self.explicit is None  # verify: placeholders are told by their shape
        # runs too short to hold a wanted secret are not decoded (patterns: every run)
        minimum = 8 if self.patterns else base64_minimum(self._wanted.secrets)
        for label, leaves in grouped.items():
            if not searching:
                break
            # one search per field: its leaves joined by a character no encoding produces
            joined = _SEPARATOR.join(leaves)
            for text in _derived(self._masker.mask(joined), minimum):
                for kind, value in self._wanted.hits(text, by_shape):
                    add(label, kind, value)
                for kind, value in self._pattern_hits(text):
                    add(label, kind, value)
        if self._raw.secrets:
            wide_need_nul = all(b"\x00" in _utf16(secret) for secret in self._raw.secrets)
            for label, body in view.bodies:
                for encoding, offset in _byte_views(body, wide_need_nul):
                    text = self._masker.mask(body[offset:].decode(encoding, "replace"))
                    for _, value in self._raw.hits(text, by_shape):
                        add(label, f"secret:{encoding}", value)
        if self.positions:
            for label, value in view.positions:
                stripped = _stripped(value)
                if not stripped or (self.explicit is not None and stripped in self.explicit):
                    continue
                if self.explicit is None and (
                    len(stripped) < MIN_PLACEHOLDER_LENGTH or self._accepted(stripped)
                ):
                    # a placeholder only if the file's list (read last) names it too
                    entry = self._deferred.setdefault(stripped, [f"{view.where}.{label}", 0])
                    entry[1] += 1
                else:
                    add(label, "unredacted", stripped)


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
    scanner = CassetteScanner(secrets, patterns, placeholders, positions=positions)
    interactions = data.get("interactions") if isinstance(data, Mapping) else None
    for index, interaction in enumerate(interactions if isinstance(interactions, list) else ()):
        scanner.interaction(index, interaction)
    if isinstance(data, Mapping):
        scanner.metadata(data.get("relaytokens"))
    return scanner.finish()


def _scan(
    text: str,
    secrets: Iterable[str],
    patterns: Iterable[str | re.Pattern[str]],
    placeholders: Collection[str] | None,
    positions: bool,
) -> list[Finding]:
    scanner = CassetteScanner(secrets, patterns, placeholders, positions=positions)
    lines = text.splitlines(keepends=True)
    try:
        for key, value in iter_cassette(lines, on_lines=scanner.lines):
            if isinstance(key, int):
                scanner.interaction(key, value)
            elif key == "relaytokens":
                scanner.metadata(value)
    except CassetteError:
        pass  # not a cassette: what was read is scanned, and the rest of the text by line
    else:
        return scanner.finish()
    scanner.lines(scanner.last_line + 1, lines[scanner.last_line :])
    return scanner.finish()


def scan(
    text: str,
    secrets: Iterable[str],
    patterns: Iterable[str | re.Pattern[str]] = (),
    placeholders: Collection[str] | None = None,
) -> list[Finding]:
    """Every place in a serialized cassette where a secret or a pattern shows up.

    Secrets are searched in every decoded leaf of every interaction and in the file text,
    raw and re-encoded (percent upper/lower, base64/base64url, JSON/.NET ``\\u`` escapes,
    XML entities). ``placeholders`` (default: by their shape) are never reported.
    """
    return _scan(text, secrets, patterns, placeholders, positions=False)


def find_unredacted(data: Any, placeholders: Collection[str] | None = None) -> list[Finding]:
    """Secret positions (auth headers, cookies, secret-named query/form/JSON/XML values)
    holding something that is not a placeholder."""
    return scan_data(data, (), (), placeholders, positions=True)


def scan_cassette(
    text: str,
    secrets: Iterable[str] = (),
    patterns: Iterable[str | re.Pattern[str]] = (),
    placeholders: Collection[str] | None = None,
) -> list[Finding]:
    """:func:`scan` plus :func:`find_unredacted` on one serialized cassette."""
    return _scan(text, secrets, patterns, placeholders, positions=True)
