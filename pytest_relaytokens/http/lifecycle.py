"""What a test's client did with its tokens, as every transport sees it: token requests and
sign-ins (with the real and the test's time of each), the tokens issued, dead tokens carried
after a fresh one existed, ``Retry-After`` answers and the retries that followed them.

Each :class:`~pytest_relaytokens.http.service.FakeService` owns a :class:`Lifecycle` and
hands it every exchange it answers; the pytest layer reads it (``relaytokens_lifecycle``,
the teardown checks) and the serve control plane reads :meth:`Lifecycle.to_dict`. Tokens
are named by :func:`fingerprint` only, never written out.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import hashlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from .chaos import ChaosPlan
from .messages import Exchange, FakeResponse

__all__ = [
    "TOKEN_REQUESTS",
    "DeadToken",
    "EarlyRetry",
    "Lifecycle",
    "Observed",
    "describe_token_requests",
    "fingerprint",
    "retry_after_seconds",
]

#: Which requests ask for a token, per service: (method or None for any, path regular
#: expression, kind). A sign-in gets a bearer; a token request a Relay or media-relay token.
TOKEN_REQUESTS: dict[str, tuple[tuple[str | None, re.Pattern[str], str], ...]] = {
    "relay": (("POST", re.compile(r"^/api/auth/accesstokens/?$", re.I), "token"),),
    "ucwa": (
        ("POST", re.compile(r"^/WebTicket/oauthtoken/?$", re.I), "sign-in"),
        ("POST", re.compile(r"^/common/oauth2/token/?$", re.I), "sign-in"),
        (None, re.compile(r"/mediaRelayAccessToken/?$", re.I), "token"),
    ),
}
#: How many (method, path) pairs a ledger remembers the token kind of (cleared when full).
_MAX_KINDS = 256
#: Where an issued credential sits in a token answer (JSON, or UCWA's XML ``<property>``).
_ISSUED = re.compile(rb'"(?:accessToken|access_token)"\s*:\s*"([^"]+)"')


def fingerprint(token: str) -> str:
    """How a report names a token: a short sha256 prefix (the token itself never)."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:12]


def retry_after_seconds(value: str, sent: _dt.datetime) -> float | None:
    """``Retry-After`` as seconds after ``sent``: delay-seconds or an HTTP-date (RFC 9110
    section 10.2.3); None when it is neither."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - sent).total_seconds())


@dataclass(frozen=True)
class Observed:
    """One exchange with the real (monotonic) time it was answered and, for a token
    request, its kind and the credential it issued."""

    exchange: Exchange
    real: float
    kind: str | None = None
    issued: str | None = None

    @property
    def at(self) -> _dt.datetime:
        return self.exchange.at

    @property
    def line(self) -> str:
        request = self.exchange.request
        return f"{request.method} {request.path} -> {self.exchange.response.status}"


@dataclass(frozen=True)
class DeadToken:
    """A request carrying a token that was dead (answered 401) after ``fresh`` was issued."""

    observed: Observed
    token: str
    fresh: str

    def describe(self) -> str:
        return (
            f"  {self.observed.line} at {self.observed.at.isoformat()} carried "
            f"{fingerprint(self.token)} after {fingerprint(self.fresh)} was issued"
        )


@dataclass(frozen=True)
class EarlyRetry:
    """A retry sent before the ``Retry-After`` of an earlier answer allowed it."""

    answer: Observed
    retry: Observed
    allowed_at: _dt.datetime
    seconds: float

    @property
    def slept_real_time(self) -> bool:
        """Whether the client waited long enough on the real clock (the test's did not move)."""
        return self.retry.real - self.answer.real >= self.seconds

    def describe(self) -> str:
        text = (
            f"  {self.answer.line} at {self.answer.at.isoformat()} said Retry-After "
            f"{self.seconds:g} s (retry allowed from {self.allowed_at.isoformat()}), but "
            f"{self.retry.line} came at {self.retry.at.isoformat()} on the test's clock"
        )
        if self.slept_real_time:
            text += (
                f" after {self.retry.real - self.answer.real:.2f} s of real time: the client "
                "slept on the real clock while the test's clock is frozen; let it sleep "
                "through the test's clock (e.g. relaytokens_clock.advance(seconds) in the "
                "client's sleep function) instead of time.sleep"
            )
        return text


class Lifecycle:
    """A service's lifecycle ledger (thread-safe): see the module docstring.

    ``chaos`` (a :class:`ChaosPlan`) breaks answers; ``date_skew`` moves the ``Date``
    header of every answer that far from the token timestamps (a proxy with a wrong clock).
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._rules = TOKEN_REQUESTS.get(service, ())
        #: what :meth:`token_kind` found, by method and path
        self._kinds: dict[tuple[str, str], str | None] = {}
        self._observed: list[Observed] = []
        self._lock = threading.Lock()
        self.chaos: ChaosPlan | None = None
        self.date_skew: _dt.timedelta | None = None
        #: set by the pytest layer once it configured this ledger (markers read)
        self.configured = False

    def token_kind(self, method: str, path: str) -> str | None:
        """``"sign-in"``, ``"token"`` or None for a request that asks for no token."""
        key = (method, path)
        try:  # a client asks the same few: each is matched once
            return self._kinds[key]
        except KeyError:
            pass
        found = None
        for wanted, pattern, kind in self._rules:
            if (wanted is None or wanted == method) and pattern.search(path) is not None:
                found = kind
                break
        if len(self._kinds) >= _MAX_KINDS:
            self._kinds.clear()
        self._kinds[key] = found
        return found

    def observe(self, exchange: Exchange, sent: FakeResponse) -> FakeResponse:
        """Record ``exchange``; return ``sent`` (the answer going on the wire) with the
        ``Date`` skew and the chaos this request gets."""
        request = exchange.request
        kind = self.token_kind(request.method, request.path)
        issued = None
        response = exchange.response
        if kind is not None and 200 <= response.status < 300:
            found = _ISSUED.search(response.body)
            issued = found.group(1).decode("utf-8", "replace") if found else None
        entry = Observed(exchange, time.monotonic(), kind, issued)
        with self._lock:
            self._observed.append(entry)
        skew, chaos = self.date_skew, self.chaos
        if skew is None and chaos is None:
            return sent
        sent = sent.copy()
        if skew is not None:
            sent.headers = [
                (k, _shift_date(v, skew) if k.lower() == "date" else v) for k, v in sent.headers
            ]
        if chaos is not None and not sent.drop_connection:
            has_body = bool(sent.body) and request.method != "HEAD"
            sent.chaos = chaos.pick(request.method, request.path, has_body=has_body)
        return sent

    # what the checks read --------------------------------------------------------------
    def __iter__(self) -> Iterator[Observed]:
        with self._lock:
            return iter(list(self._observed))

    def token_requests(self, kind: str | None = None) -> list[Observed]:
        """The token requests and sign-ins (``kind``: only those), in order."""
        return [o for o in self if o.kind is not None and (kind is None or o.kind == kind)]

    def dead_tokens(self) -> list[DeadToken]:
        """Requests whose token was dead (401) while a fresher one had been issued."""
        found: list[DeadToken] = []
        fresh: str | None = None
        for entry in self:
            if entry.issued is not None:
                fresh = entry.issued
                continue
            carried = entry.exchange.token
            if (
                fresh is not None
                and carried is not None
                and carried != fresh
                and entry.exchange.response.status == 401
            ):
                found.append(DeadToken(entry, carried, fresh))
        return found

    def dead_presented(self) -> list[Observed]:
        """Requests that carried a known token the fake refused (401: expired or revoked),
        with or without a fresher one issued: where dead-token reuse could be checked."""
        return [
            o for o in self if o.exchange.token is not None and o.exchange.response.status == 401
        ]

    def early_retries(self) -> list[EarlyRetry]:
        """Retries (the next request with the same method and path) sent before the
        ``Retry-After`` of the answer before them allowed, on the test's clock."""
        entries = list(self)
        found: list[EarlyRetry] = []
        for index, entry in enumerate(entries):
            header = entry.exchange.response.header("Retry-After")
            if header is None:
                continue
            seconds = retry_after_seconds(header, entry.at)
            if seconds is None:
                continue
            allowed = entry.at + _dt.timedelta(seconds=seconds)
            request = entry.exchange.request
            retry = next(
                (
                    later
                    for later in entries[index + 1 :]
                    if later.exchange.request.method == request.method
                    and later.exchange.request.path == request.path
                ),
                None,
            )
            if retry is not None and retry.at < allowed:
                found.append(EarlyRetry(entry, retry, allowed, seconds))
        return found

    def retry_after_answers(self) -> list[Observed]:
        return [o for o in self if o.exchange.response.header("Retry-After") is not None]

    def to_dict(self) -> dict[str, object]:
        """A plain, JSON-ready view (tokens as fingerprints) for a control plane."""
        start = next(iter(self), None)
        zero = start.real if start is not None else 0.0
        return {
            "service": self.service,
            "token_requests": [
                {
                    "kind": o.kind,
                    "request": o.line,
                    "at": o.at.isoformat(),
                    "real_ms": round((o.real - zero) * 1000, 1),
                    "issued": fingerprint(o.issued) if o.issued else None,
                }
                for o in self.token_requests()
            ],
            "dead_tokens": [d.describe().strip() for d in self.dead_tokens()],
            "retry_after": [
                {
                    "request": o.line,
                    "at": o.at.isoformat(),
                    "retry_after": o.exchange.response.header("Retry-After"),
                }
                for o in self.retry_after_answers()
            ],
            "early_retries": [e.describe().strip() for e in self.early_retries()],
            "chaos": [
                {"request": n, "method": m, "path": p, "kind": k}
                for n, m, p, k in (self.chaos.chosen if self.chaos else [])
            ],
        }


def _shift_date(value: str, skew: _dt.timedelta) -> str:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return value
    return email.utils.format_datetime((when + skew).astimezone(_dt.timezone.utc), usegmt=True)


def describe_token_requests(entries: list[Observed]) -> str:
    """The token requests as report lines: test-clock time and real offset of each."""
    if not entries:
        return "  (none)"
    zero = entries[0].real
    return "\n".join(
        f"  {o.kind}: {o.line} at {o.at.isoformat()} (+{(o.real - zero) * 1000:.1f} ms real)"
        for o in entries
    )
