"""Seeded chaos: which requests get a broken answer, drawn from the test's seed.

A :class:`ChaosPlan` holds a probability per kind; the n-th request a service answers gets
the kind drawn from ``Random(f"{seed}:{n}")``, so the same seed and the same sequence of
requests give the same chaos on every run. The transports carry it out
(``FakeResponse.chaos``), each as far as it can (see ``docs/lifecycle.md``).
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from .messages import FakeResponse

__all__ = ["CHAOS_KINDS", "ChaosPlan", "cut_short", "truncated_length"]

#: What a broken answer can be, as the transports spell it.
CHAOS_KINDS: dict[str, str] = {
    "truncate": "the body ends early (Content-Length promises more), then the connection closes",
    "reset": "the connection is reset in the middle of the body",
    "dribble": "the body arrives a few bytes at a time",
    "bad_chunked": "chunked framing with a malformed chunk-size line",
    "slow_headers": "the status line and headers arrive late",
}
#: How long ``slow_headers`` waits and the pause between two ``dribble`` pieces (seconds):
#: short, so a test stays fast; a client's read timeout below them still trips.
SLOW_HEADERS_SECONDS = 0.05
DRIBBLE_PAUSE_SECONDS = 0.002
DRIBBLE_PIECE = 7


def truncated_length(size: int) -> int:
    """How many bytes of a ``size``-byte body a truncated or reset answer sends."""
    return size // 2


def cut_short(response: FakeResponse) -> FakeResponse:
    """A copy of ``response`` whose body stops halfway while its ``Content-Length`` still
    promises all of it: how a transport without a socket shows a truncated body (the
    client's HTTP library then raises its incomplete-read error)."""
    short = response.copy()
    size = len(response.body)
    short.headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
    short.headers.append(("Content-Length", str(size)))
    short.body = response.body[: truncated_length(size)]
    return short


@dataclass
class ChaosPlan:
    """Probabilities per kind (0..1, summing to at most 1), an optional ``path`` regular
    expression limiting the requests concerned, and the seed; ``chosen`` lists
    ``(request number, method, path, kind)`` for every request that got chaos."""

    seed: int
    odds: Mapping[str, float]
    path: str | None = None
    chosen: list[tuple[int, str, str, str]] = field(default_factory=list)
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.odds) - set(CHAOS_KINDS))
        if unknown:
            raise ValueError(f"unknown chaos kind(s) {unknown}; known: {sorted(CHAOS_KINDS)}")
        for kind, p in self.odds.items():
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ValueError(f"chaos {kind}= must be a probability from 0 to 1, got {p!r}")
        if sum(self.odds.values()) > 1 + 1e-9:
            raise ValueError(f"chaos probabilities add up to more than 1: {dict(self.odds)}")
        if self.path is not None:
            re.compile(self.path)

    def pick(self, method: str, path: str, *, has_body: bool = True) -> str | None:
        """The kind of chaos for the next request (None: answer normally). An answer without
        a body cannot be cut or dribbled: it keeps its draw (the numbering stays the same)
        and is answered normally unless its kind is ``slow_headers``."""
        if self.path is not None and re.search(self.path, path) is None:
            return None
        with self._lock:
            number = self._count
            self._count += 1
        draw = random.Random(f"{self.seed}:{number}").random()
        for kind in CHAOS_KINDS:  # a fixed order: the same draw, the same kind
            draw -= self.odds.get(kind, 0.0)
            if draw < 0:
                if not has_body and kind != "slow_headers":
                    return None
                with self._lock:
                    self.chosen.append((number, method, path, kind))
                return kind
        return None
