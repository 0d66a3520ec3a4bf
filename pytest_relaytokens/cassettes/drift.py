"""Drift: replay a cassette's requests against the live API and report what changed shape.

Each recorded request is sent again (to ``base_url``, with the live credentials in place of
the recorded placeholders, and each placeholder a recorded answer issued replaced by what
the live answer issued at the same place), and the live answer's JSON fields are compared
with the recorded one's: fields added, removed, or changed in type. Only field names, types
and status codes are reported: never a value, so never a secret. Nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..http import FakeRequest, FakeResponse
from .matching import recorded_header, recorded_shape
from .redaction import is_placeholder
from .replay import recorded_response
from .storage import load_interactions
from .structure import basic_parts, is_secret_name

__all__ = ["Drift", "LiveLogin", "drift", "field_types", "render_report"]

Send = Callable[[FakeRequest], FakeResponse]
#: Headers a resent request leaves out (the sender sets them, or they pin a recorded body).
_DROPPED = frozenset({"host", "content-length", "accept-encoding", "connection", "cookie"})


class LiveLogin(NamedTuple):
    """The live credentials the recorded placeholders stand for."""

    username: str
    password: str
    basic_authorization: str


class Drift(NamedTuple):
    """One interaction: its request line, both statuses and the field changes."""

    number: int
    request: str
    recorded_status: int
    live_status: int
    changes: list[str]
    note: str | None = None

    @property
    def drifted(self) -> bool:
        return bool(self.changes) or self.recorded_status != self.live_status

    def describe(self) -> str:
        head = f"#{self.number} {self.request}: "
        if not self.drifted:
            return head + "no drift" + (f" ({self.note})" if self.note else "")
        parts = []
        if self.recorded_status != self.live_status:
            parts.append(f"status {self.live_status} (recorded {self.recorded_status})")
        parts.extend(self.changes)
        if self.note:
            parts.append(self.note)
        return head + "\n    " + "\n    ".join(parts)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def field_types(node: Any, prefix: str = "") -> dict[str, str]:
    """Every field path of a JSON document with its type (array items as ``path[]``)."""
    found: dict[str, str] = {}
    stack: list[tuple[str, Any]] = [(prefix, node)]
    while stack:
        path, value = stack.pop()
        kind = _type_name(value)
        if path:
            earlier = found.get(path)
            found[path] = kind if earlier in (None, kind) else f"{earlier}|{kind}"
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[]", item) for item in value)
    return found


def _json(response: FakeResponse) -> Any:
    try:
        return json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def compare(recorded: Any, live: Any) -> list[str]:
    """Fields added, removed or changed in type between two JSON documents."""
    before, after = field_types(recorded), field_types(live)
    changes = [f"added: {p} ({after[p]})" for p in sorted(after.keys() - before.keys())]
    changes += [f"removed: {p} ({before[p]})" for p in sorted(before.keys() - after.keys())]
    changes += [
        f"changed type: {p} {before[p]} -> {after[p]}"
        for p in sorted(before.keys() & after.keys())
        if before[p] != after[p]
    ]
    return changes


def _issued(
    recorded: Any, live: Any, placeholder: Callable[[str], bool]
) -> Iterator[tuple[str, str]]:
    """``(recorded, live)`` strings at the same place of both answers where the recorded one
    is a placeholder (a token the next request presents) or a path (a link with a new id)."""
    stack = [(recorded, live)]
    while stack:
        before, after = stack.pop()
        if isinstance(before, dict) and isinstance(after, dict):
            stack.extend((v, after[k]) for k, v in before.items() if k in after)
        elif isinstance(before, list) and isinstance(after, list):
            stack.extend(zip(before, after, strict=False))
        elif (
            isinstance(before, str)
            and isinstance(after, str)
            and before != after
            # a placeholder the next request presents, or a link it follows (an id in a path)
            and (placeholder(before) or (before.startswith("/") and after.startswith("/")))
        ):
            yield before, after


def _login_values(login: LiveLogin, recorded_basic: str | None) -> dict[str, str]:
    """The recorded credential placeholders and the live values they stand for."""
    known: dict[str, str] = {}
    encoded = (recorded_basic or "").partition(" ")[2].strip()
    parts = basic_parts(encoded) if encoded else None
    if parts is not None:
        user, password, _ = parts
        known[encoded] = login.basic_authorization.partition(" ")[2]
        known.update({user: login.username, password: login.password})
    return known


def _substitute(text: str, known: Mapping[str, str]) -> str:
    for placeholder in sorted(known, key=len, reverse=True):
        if placeholder and placeholder in text:
            text = text.replace(placeholder, known[placeholder])
    return text


def _body(request: Mapping[str, Any], login: LiveLogin, known: Mapping[str, str]) -> bytes:
    body = request.get("body")
    if isinstance(body, Mapping):
        body = body.get("string")
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return b""
    kind = (recorded_header(request.get("headers") or {}, "content-type") or "").lower()
    if "x-www-form-urlencoded" in kind:  # the sign-in form: the live user and password
        pairs = []
        for name, value in parse_qsl(body, keep_blank_values=True):
            if is_secret_name(name, "form") and "password" in name.lower():
                value = login.password
            elif is_secret_name(name, "body") and "user" in name.lower():
                value = login.username
            pairs.append((name, _substitute(value, known)))
        return urlencode(pairs).encode()
    return _substitute(str(body), known).encode("utf-8")


def _resend(
    request: Mapping[str, Any], base_url: str, login: LiveLogin, known: dict[str, str]
) -> FakeRequest:
    parts = urlsplit(str(request["uri"]))
    url = base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    headers = []
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in _DROPPED:
            continue
        for value in values if isinstance(values, list) else [values]:
            headers.append((str(name), _substitute(str(value), known)))
    return FakeRequest.build(
        str(request["method"]), _substitute(url, known), headers, _body(request, login, known)
    )


def drift(cassette: Path, base_url: str, login: LiveLogin, send: Send) -> list[Drift]:
    """Resend every recorded request of ``cassette`` with ``send`` and compare the answers."""
    loaded = load_interactions(cassette)
    listed = loaded.metadata.get("placeholders")
    exact = {str(p) for p in listed} if isinstance(listed, list) else None

    def placeholder(value: str) -> bool:  # holds one of the cassette's own, else the shape
        if exact is None:
            return is_placeholder(value)
        return any(p in value for p in exact)  # "cwt=<placeholder>" too

    known: dict[str, str] = {}
    report: list[Drift] = []
    for number, (request, recorded) in enumerate(loaded.interactions, 1):
        authorization = recorded_header(request.get("headers") or {}, "authorization") or ""
        if authorization.lower().startswith("basic "):
            known.update(_login_values(login, authorization))
        before = recorded_response(recorded)
        after = send(_resend(request, base_url, login, known))
        old, new = _json(before), _json(after)
        note = None
        changes: list[str] = []
        if old is not None and new is not None:
            changes = compare(old, new)
            known.update(_issued(old, new, placeholder))
        elif before.body or after.body:
            note = "not JSON: fields not compared"
        report.append(
            Drift(
                number, recorded_shape(request).shown(), before.status, after.status, changes, note
            )
        )
    return report


def render_report(cassette: Path, base_url: str, report: list[Drift]) -> str:
    drifted = sum(d.drifted for d in report)
    lines = [f"drift of {cassette} against {base_url}: {drifted} of {len(report)} drifted"]
    lines.extend(d.describe() for d in report)
    return "\n".join(lines) + "\n"
