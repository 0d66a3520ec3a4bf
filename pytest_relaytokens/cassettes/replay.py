"""Serve recorded interactions as a fake: parsed once, indexed, each played once.

Strict like vcrpy's default: a recorded interaction answers one request; a second request
for it is a miss unless ``allow_playback_repeats`` (vcrpy's name) is set. Matching compares
the fields of :mod:`.matching` (method, scheme, host, port, path, query, Accept family,
form/JSON body fields, secrets masked), plus an optional user ``matcher``. Every miss is
answered 404 and kept in :attr:`ReplayService.misses` with the nearest recorded request.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ..clock import Clock
from ..http import FakeRequest, FakeResponse, FakeService
from ..http.urls import is_loopback
from .age import check_on_expiry, parse_max_age
from .matching import (
    MATCH_FIELDS,
    Matcher,
    Shape,
    check_match_on,
    nearest,
    recorded_shape,
    request_shape,
)
from .storage import Cassette, load_interactions
from .structure import safe_url

__all__ = ["Miss", "Recorded", "ReplayOptions", "ReplayService", "recorded_response"]

_ORIGIN = ("scheme", "host", "port")


class Recorded(NamedTuple):
    """One recorded interaction as replay indexes it."""

    shape: Shape
    request: dict[str, Any]
    response: FakeResponse


class Miss(NamedTuple):
    """A request replay could not answer: why, and the nearest recorded request."""

    shape: Shape
    reason: str
    nearest: Shape | None
    differing: list[str]

    def describe(self) -> str:
        lines = [f"  {self.shape.shown()}: {self.reason}"]
        if self.nearest is not None:
            lines.append(f"    nearest recorded: {self.nearest.shown()}")
            if self.differing:
                lines.append(f"    differs in: {'; '.join(self.differing)}")
        return "\n".join(lines)


class ReplayOptions(NamedTuple):
    """How strictly one test replays (the ``relaytokens_replay`` marker over ini/CLI)."""

    allow_playback_repeats: bool = False
    match_on: tuple[str, ...] = MATCH_FIELDS
    matcher: Matcher | None = None
    max_age: _dt.timedelta | None = None
    on_expiry: str = "fail"

    @classmethod
    def checked(
        cls,
        allow_playback_repeats: object = False,
        match_on: object = MATCH_FIELDS,
        matcher: object = None,
        max_age: object = None,
        on_expiry: object = "fail",
    ) -> ReplayOptions:
        """The options, each checked (ValueError names the argument and what is valid)."""
        if not isinstance(allow_playback_repeats, bool):
            raise ValueError(
                f"allow_playback_repeats must be True or False, got {allow_playback_repeats!r}"
            )
        if isinstance(match_on, str):
            match_on = [f.strip() for f in match_on.split(",") if f.strip()]
        if not isinstance(match_on, (list, tuple)) or not all(isinstance(f, str) for f in match_on):
            raise ValueError(f"match_on must be field names, got {match_on!r}")
        if matcher is not None and not callable(matcher):
            raise ValueError(
                f"matcher must be a callable (request, recorded_request) -> bool, got {matcher!r}"
            )
        return cls(
            allow_playback_repeats,
            check_match_on(match_on),
            matcher,
            None if max_age is None else parse_max_age(max_age),
            check_on_expiry(on_expiry),
        )


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
    """A fake answering from cassettes (see the module docstring).

    Credentials are not checked (they are placeholders the cassette itself issued). Several
    interactions with one key are served in recorded order. A request to the service's own
    ``base_url`` or to a loopback host no interaction names (``relaytokens serve``, the
    loopback server) is matched on everything but scheme, host and port.
    """

    name = "replay"
    #: Serve the bodies as recorded (recording stores them decoded), never re-gzipped.
    compress_responses = False

    def __init__(
        self,
        *cassettes: str | os.PathLike[str] | Cassette,
        base_url: str | None = None,
        clock: Clock | None = None,
        allow_playback_repeats: bool = False,
        match_on: Iterable[str] = MATCH_FIELDS,
        matcher: Matcher | None = None,
    ) -> None:
        if not cassettes:
            raise ValueError("ReplayService needs at least one cassette path")
        self.cassettes: list[Cassette] = [
            c if isinstance(c, Cassette) else load_interactions(Path(c)) for c in cassettes
        ]
        self.allow_playback_repeats = allow_playback_repeats
        self.match_on = check_match_on(match_on)
        self.matcher = matcher
        #: every recorded interaction, in recorded order, and how often each was played
        self.recorded: list[Recorded] = [
            Recorded(recorded_shape(request), request, recorded_response(response))
            for cassette in self.cassettes
            for request, response in cassette.interactions
        ]
        self.plays: list[int] = [0] * len(self.recorded)
        #: requests no interaction answered (each got a 404)
        self.misses: list[Miss] = []
        self._lock = threading.RLock()
        self._origins = {r.shape.key(_ORIGIN) for r in self.recorded}
        self._loose = tuple(f for f in self.match_on if f not in _ORIGIN and f != "accept")
        self._index: dict[tuple[Any, ...], list[int]] = {}
        for number, entry in enumerate(self.recorded):
            self._index.setdefault(entry.shape.key(self._loose), []).append(number)
        if base_url is None:
            first = self.recorded[0].request["uri"] if self.recorded else "http://replay.invalid"
            parts = urlsplit(str(first))
            base_url = f"{parts.scheme}://{parts.netloc}"
        super().__init__(base_url=base_url, clock=clock)
        self._own_origin = request_shape(FakeRequest.build("GET", self.base_url)).key(_ORIGIN)

    @property
    def recorded_at(self) -> str | None:
        """When the (first) cassette was recorded (ISO 8601), if it says."""
        return self.cassettes[0].recorded_at

    def unplayed(self) -> list[str]:
        """The recorded requests never replayed, one line each."""
        return [r.shape.shown() for r, n in zip(self.recorded, self.plays, strict=True) if not n]

    def mark_played(self, request: dict[str, Any]) -> None:
        """Count an interaction used outside :meth:`dispatch` (the token fixtures)."""
        for number, entry in enumerate(self.recorded):
            if entry.request is request:
                self.plays[number] += 1
                return

    def _describe(self) -> str:
        return "\n".join(f"  {r.shape.shown()}" for r in self.recorded) or "  (nothing)"

    def _origin_counts(self, shape: Shape) -> bool:
        """Whether the request's scheme, host and port take part in matching."""
        origin = shape.key(_ORIGIN)
        if origin in self._origins:
            return True
        if origin == self._own_origin:
            return False
        return not is_loopback(shape.host)

    def _candidates(self, shape: Shape, request: FakeRequest) -> list[int]:
        numbers = self._index.get(shape.key(self._loose), [])
        if self._origin_counts(shape):
            wanted = shape.key(f for f in _ORIGIN if f in self.match_on)
            fields = [f for f in _ORIGIN if f in self.match_on]
            numbers = [n for n in numbers if self.recorded[n].shape.key(fields) == wanted]
        if "accept" in self.match_on:
            # a request without an Accept family takes any; one recorded without a family
            # answers any request; otherwise the families must agree
            exact = [n for n in numbers if self.recorded[n].shape.accept == shape.accept]
            numbers = exact or [
                n for n in numbers if not shape.accept or not self.recorded[n].shape.accept
            ]
        if self.matcher is not None:
            numbers = [n for n in numbers if self.matcher(request, self.recorded[n].request)]
        return numbers

    def _miss(self, shape: Shape, reason: str, among: list[int] | None = None) -> Miss:
        # a request whose origin is not matched (serve, loopback) differs in no origin field
        fields = [f for f in self.match_on if f not in _ORIGIN or self._origin_counts(shape)]
        pool = [self.recorded[n].shape for n in among] if among else None
        found = nearest(shape, pool or [r.shape for r in self.recorded], fields)
        if found is None:
            return Miss(shape, reason, None, [])
        return Miss(shape, reason, found[0], found[1])

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        shape = request_shape(request)
        with self._lock:
            numbers = self._candidates(shape, request)
            fresh = [n for n in numbers if not self.plays[n]]
            if fresh:
                chosen: int | None = fresh[0]
            elif numbers and self.allow_playback_repeats:
                chosen = numbers[-1]
            else:
                chosen = None
            if chosen is not None:
                self.plays[chosen] += 1
                return self.recorded[chosen].response.copy(), _credential(request), True
            if numbers:
                reason = (
                    f"its recorded interaction was already played ({len(numbers)} recorded, "
                    "each plays once; allow repeats with allow_playback_repeats=True)"
                )
                miss = self._miss(shape, reason, numbers)
            elif self.matcher is not None and self._index.get(shape.key(self._loose)):
                miss = self._miss(shape, "the custom matcher refused every candidate")
            else:
                miss = self._miss(shape, "no recorded interaction matches")
            self.misses.append(miss)
        # the request's own URL may carry a real token (?accesstoken=): never repeat it
        message = (
            f"no recorded interaction for {request.method} {safe_url(request.url)}"
            f"; the cassette(s) {', '.join(str(c.path) for c in self.cassettes)} hold:\n"
            f"{self._describe()}\n{miss.describe()}\n"
        )
        return (
            FakeResponse(
                404, [("Content-Type", "text/plain; charset=utf-8")], message.encode("utf-8")
            ),
            _credential(request),
            False,
        )

    def miss_report(self) -> str | None:
        """Every miss, with its nearest recorded request and the fields that differ."""
        if not self.misses:
            return None
        listed = "\n".join(m.describe() for m in self.misses)
        return (
            f"replay ({', '.join(str(c.path) for c in self.cassettes)}): "
            f"{len(self.misses)} request(s) got a 404 from replay:\n{listed}"
        )
