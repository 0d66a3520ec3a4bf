"""Serve recorded interactions as a fake: parsed once, indexed, repeatable."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from ..clock import Clock
from ..http import FakeRequest, FakeResponse, FakeService
from .redaction import SECRET_QUERY_PARAMS
from .storage import Cassette, load_interactions
from .structure import safe_url

__all__ = ["ReplayService", "recorded_response", "request_key"]

Key = tuple[str, str, tuple[tuple[str, str], ...], str]
_SECRET_MARK = "<secret>"


def _accept_family(accept: str | None) -> str:
    accept = (accept or "").lower()
    if "json" in accept:
        return "json"
    if "xml" in accept:
        return "xml"
    return ""


def _query_key(query: str) -> tuple[tuple[str, str], ...]:
    if not query:
        return ()
    pairs = parse_qsl(query, keep_blank_values=True)
    return tuple(
        sorted((k, _SECRET_MARK if k.lower() in SECRET_QUERY_PARAMS else v) for k, v in pairs)
    )


def request_key(method: str, url: str, accept: str | None) -> Key:
    """The index key: method, path, sorted query (secret values hidden), Accept family."""
    return _key(method, urlsplit(url), accept)


def _key(method: str, parts: SplitResult, accept: str | None) -> Key:
    return (method.upper(), parts.path or "/", _query_key(parts.query), _accept_family(accept))


def _first(headers: dict[str, Any], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name:
            if isinstance(values, list):
                return str(values[0]) if values else None
            return str(values)
    return None


def recorded_response(recorded: dict[str, Any]) -> FakeResponse:
    """A vcrpy-recorded response (status, headers, body string) as a :class:`FakeResponse`."""
    headers: list[tuple[str, str]] = []
    for name, values in (recorded.get("headers") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            headers.append((str(name), str(value)))
    body = recorded.get("body", {}).get("string") or b""
    return FakeResponse(
        int(recorded["status"]["code"]),
        headers,
        body if isinstance(body, bytes) else str(body).encode("utf-8"),
    )


def _credential(request: FakeRequest) -> str | None:
    auth = (request.header("Authorization") or "").split(" ", 1)[0].lower()
    if auth in ("bearer", "basic"):
        return auth
    if request.header("X-Access-Token"):
        return "x-access-token"
    query = request.query
    if "accesstoken" in query:
        return "accesstoken-query"
    if "seamaccesstoken" in query:
        return "seamaccesstoken"
    return None


class ReplayService(FakeService):
    """A fake answering from cassettes, matched by method + path + query + Accept family.

    Credentials are not checked (they are placeholders the cassette itself issued). When
    several interactions share a key they are served in recorded order, then the last
    one repeats. Unmatched requests get 404 (``route_matched`` False) listing what the
    cassettes hold.
    """

    name = "replay"
    #: Serve the bodies as recorded (recording stores them decoded), never re-gzipped.
    compress_responses = False

    def __init__(
        self,
        *cassettes: str | os.PathLike[str] | Cassette,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not cassettes:
            raise ValueError("ReplayService needs at least one cassette path")
        self.cassettes: list[Cassette] = [
            c if isinstance(c, Cassette) else load_interactions(Path(c)) for c in cassettes
        ]
        self._index: dict[Key, list[FakeResponse]] = {}
        self._families: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[Key]] = {}
        self._served: dict[Key, int] = {}
        self._served_lock = threading.Lock()
        first_url: str | None = None
        for cassette in self.cassettes:
            for request, recorded in cassette.interactions:
                uri = str(request["uri"])
                first_url = first_url or uri
                key = request_key(
                    str(request["method"]), uri, _first(request.get("headers") or {}, "accept")
                )
                response = recorded_response(recorded)
                if key not in self._index:
                    self._families.setdefault(key[:3], []).append(key)
                self._index.setdefault(key, []).append(response)
        if base_url is None:
            parts = urlsplit(first_url or "http://replay.invalid")
            base_url = f"{parts.scheme}://{parts.netloc}"
        super().__init__(base_url=base_url, clock=clock)

    @property
    def recorded_at(self) -> str | None:
        """When the (first) cassette was recorded (ISO 8601), if it says."""
        return self.cassettes[0].recorded_at

    @property
    def keys(self) -> list[Key]:
        return list(self._index)

    def _describe(self) -> str:
        lines = []
        for method, path, query, family in self._index:
            q = "&".join(f"{k}={v}" for k, v in query)
            accept = f" (Accept {family})" if family else ""
            lines.append(f"  {method} {path}{'?' + q if q else ''}{accept}")
        return "\n".join(lines) or "  (nothing)"

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        key = _key(request.method, request.parts, request.header("Accept"))
        responses = self._index.get(key)
        if responses is None:
            # No Accept match: a request without a family takes the first recorded one;
            # any request may take an interaction recorded without a family.
            for candidate in self._families.get(key[:3], ()):
                if not key[3] or not candidate[3]:
                    key, responses = candidate, self._index[candidate]
                    break
        if responses is None:
            # the request's own URL may carry a real token (?accesstoken=): never repeat it
            message = (
                f"no recorded interaction for {request.method} {safe_url(request.url)}"
                f"; the cassette(s) "
                f"{', '.join(str(c.path) for c in self.cassettes)} hold:\n"
                f"{self._describe()}\n"
            )
            return (
                FakeResponse(
                    404, [("Content-Type", "text/plain; charset=utf-8")], message.encode("utf-8")
                ),
                _credential(request),
                False,
            )
        with self._served_lock:
            count = self._served.get(key, 0)
            self._served[key] = count + 1
        return responses[min(count, len(responses) - 1)].copy(), _credential(request), True
