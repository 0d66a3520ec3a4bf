"""How replay matches a request to a recorded one, and how a miss is explained.

A request's *shape* is what replay compares: method, scheme, host, port, path, query,
Accept family and body fields. Secret values (the names :func:`.structure.is_secret_name`
calls secret, the one rule the redactor and the scan use) are masked to one placeholder on
both sides, so a live credential matches the placeholder recorded in its place. Form and
JSON bodies are compared field by field; other bodies are not compared (inferred: their
secrets have no field names to mask by).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from ..http import FakeRequest
from ..http.headers import media_type
from .structure import is_secret_name, rewrite_params

__all__ = [
    "ALWAYS_MATCHED",
    "MATCH_FIELDS",
    "Matcher",
    "Shape",
    "check_match_on",
    "differences",
    "recorded_shape",
    "request_shape",
]

#: Every field a shape has, in the order a difference is reported.
MATCH_FIELDS = ("method", "scheme", "host", "port", "path", "query", "accept", "body")
#: The fields every match compares, whatever ``match_on`` says.
ALWAYS_MATCHED = frozenset({"method", "path"})
SECRET_MARK = "<secret>"
_DEFAULT_PORTS = {"http": 80, "https": 443}

Matcher = Callable[[FakeRequest, Mapping[str, Any]], bool]
"""A user's extra check: ``(request, recorded request dict) -> bool`` (the recorded dict as
the cassette stores it: ``method``, ``uri``, ``headers``, ``body``)."""

Pairs = tuple[tuple[str, str], ...]


class Shape(NamedTuple):
    """What replay compares of one request (secret values masked)."""

    method: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: Pairs
    accept: str
    body: Pairs

    def key(self, fields: Iterable[str]) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in fields)

    def shown(self) -> str:
        """``METHOD /path?query (origin)``: secret query values are already masked."""
        query = "&".join(f"{k}={v}" for k, v in self.query)
        port = "" if self.port == _DEFAULT_PORTS.get(self.scheme) else f":{self.port}"
        path = _shown_path(self.path)
        accept = f", Accept {self.accept}" if self.accept else ""
        return (
            f"{self.method} {path}{'?' + query if query else ''} "
            f"({self.scheme}://{self.host}{port}{accept})"
        )


def check_match_on(fields: Iterable[str]) -> tuple[str, ...]:
    """The fields replay matches on: :data:`ALWAYS_MATCHED` plus ``fields``, in
    :data:`MATCH_FIELDS` order (ValueError names an unknown one). ``match_on`` narrows only
    the optional fields: a GET is never answered with a recorded POST."""
    chosen = set(fields)
    for name in sorted(chosen - set(MATCH_FIELDS)):
        raise ValueError(f"unknown match field {name!r}; valid: {', '.join(MATCH_FIELDS)}")
    return tuple(f for f in MATCH_FIELDS if f in chosen or f in ALWAYS_MATCHED)


def _accept_family(accept: str | None) -> str:
    accept = (accept or "").lower()
    if "json" in accept:
        return "json"
    if "xml" in accept:
        return "xml"
    return ""


def _masked(pairs: Iterable[tuple[str, str]], where: str) -> Pairs:
    return tuple(sorted((k, SECRET_MARK if is_secret_name(k, where) else v) for k, v in pairs))


def _json_fields(node: Any, prefix: str, secret: bool, out: list[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            _json_fields(value, name, is_secret_name(str(key), "body"), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _json_fields(value, f"{prefix}[{index}]", secret, out)
    else:
        # the JSON type is part of the value: "1" and 1 differ
        out.append((prefix, SECRET_MARK if secret else json.dumps(node)))


def body_fields(body: bytes | str | None, content_type: str | None) -> Pairs:
    """A form or JSON body's fields, secret values masked; ``()`` for other bodies."""
    if not body:
        return ()
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    kind = media_type(content_type)
    if kind == "application/x-www-form-urlencoded":
        return _masked(parse_qsl(text, keep_blank_values=True), "form")
    if kind == "application/json" or kind.endswith("+json"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return (("<body>", "not JSON"),)
        out: list[tuple[str, str]] = []
        _json_fields(parsed, "", False, out)
        return tuple(sorted(out))
    return ()


def _shape(method: str, url: str, accept: str | None, body: Pairs) -> Shape:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return Shape(
        method.upper(),
        scheme,
        (parts.hostname or "").lower(),
        port,
        parts.path or "/",
        _masked(parse_qsl(parts.query, keep_blank_values=True), "query"),
        _accept_family(accept),
        body,
    )


def request_shape(request: FakeRequest) -> Shape:
    body = body_fields(request.body, request.header("Content-Type"))
    return _shape(request.method, request.url, request.header("Accept"), body)


def recorded_header(headers: Mapping[str, Any], name: str) -> str | None:
    """One header of a recorded request (vcrpy stores each as a list)."""
    for key, values in headers.items():
        if key.lower() == name:
            if isinstance(values, list):
                return str(values[0]) if values else None
            return str(values)
    return None


def recorded_shape(request: Mapping[str, Any]) -> Shape:
    headers = request.get("headers") or {}
    body = request.get("body")
    if isinstance(body, Mapping):
        body = body.get("string")
    fields = body_fields(
        body if isinstance(body, (bytes, str)) else None,
        recorded_header(headers, "content-type"),
    )
    return _shape(
        str(request["method"]), str(request["uri"]), recorded_header(headers, "accept"), fields
    )


def _names(pairs: Pairs) -> set[str]:
    return {name for name, _ in pairs}


def _pair_diff(label: str, got: Pairs, recorded: Pairs) -> str | None:
    """Which names differ: only in the request, only recorded, or with another value."""
    if got == recorded:
        return None
    mine, theirs = dict(got), dict(recorded)
    parts = []
    if extra := sorted(_names(got) - _names(recorded)):
        parts.append(f"sent but not recorded: {', '.join(extra)}")
    if missing := sorted(_names(recorded) - _names(got)):
        parts.append(f"recorded but not sent: {', '.join(missing)}")
    if changed := sorted(n for n in _names(got) & _names(recorded) if mine[n] != theirs[n]):
        parts.append(f"different value: {', '.join(changed)}")
    return f"{label} fields " + "; ".join(parts or ["differ in repetition or order"])


def _shown_path(path: str) -> str:
    """A path fit for a message: a segment after a secret collection hidden."""
    return rewrite_params(path, lambda _name, _raw, _value: "<hidden>")


def differences(got: Shape, recorded: Shape, fields: Iterable[str] = MATCH_FIELDS) -> list[str]:
    """The fields in which ``got`` differs from ``recorded``: values for method, scheme, host,
    port, path and Accept; names only for query and body (never a value there)."""
    found = []
    for name in fields:
        mine, theirs = getattr(got, name), getattr(recorded, name)
        if mine == theirs or (name == "accept" and not (mine and theirs)):
            continue  # an Accept family on one side only is no difference (see replay.py)
        if name in ("query", "body"):
            found.append(_pair_diff(name, mine, theirs) or name)
        elif name == "path":
            found.append(f"path {_shown_path(mine)!r} (recorded {_shown_path(theirs)!r})")
        else:
            found.append(f"{name} {mine!r} (recorded {theirs!r})")
    return found


def nearest(
    got: Shape, candidates: Iterable[Shape], fields: Iterable[str] = MATCH_FIELDS
) -> tuple[Shape, list[str]] | None:
    """The candidate differing from ``got`` in the fewest of ``fields``, and those
    differences."""
    compared = tuple(fields)
    best: tuple[Shape, list[str]] | None = None
    for candidate in candidates:
        diff = differences(got, candidate, compared)
        if best is None or len(diff) < len(best[1]):
            best = (candidate, diff)
    return best
