"""A small Relay client in two builds, for the token-lifecycle scenarios: ``naive=True``
makes the mistakes real clients make, ``naive=False`` does it right.

The mistakes, one per scenario:

- refresh: every caller that finds the token stale fetches its own (no single-flight);
- dead token: after a 401 it refreshes, then retries with the headers it built before;
- Retry-After: it retries a 429 at once (or sleeps on the real clock: ``sleep=time.sleep``);
- skew: it compares ``expirationDate`` with its own clock (``trust="local"``) or corrects
  its clock by the ``Date`` header (``trust="date"``) instead of keeping the lifetime the
  server granted (``expirationDate - creationDate``) from the moment it received the token;
- chaos: it reads each answer once and gives up on a broken connection.

It speaks through anything with ``request(method, url, params=, headers=, auth=)``: a
``requests.Session`` or an ``httpx.Client``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import threading
from collections.abc import Callable
from typing import Any

import httpx
import requests

TOKENS = "/api/auth/accesstokens"
#: What a broken connection raises, per library: worth a retry of an idempotent request.
TRANSPORT_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
TRANSPORT_ERRORS += (httpx.TransportError,)  # type: ignore[assignment]


def _ms(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc)


class LifecycleClient:
    """List Relay endpoints with a cached access token (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        http: Any,
        now: Callable[[], dt.datetime],
        sleep: Callable[[float], object],
        naive: bool = False,
        trust: str = "issued",
        attempts: int = 4,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = (username, password)
        self.http, self.now, self.sleep = http, now, sleep
        self.naive, self.trust, self.attempts = naive, trust, attempts
        self.token: str | None = None
        self.expires_at: dt.datetime | None = None
        self._lock = threading.Lock()

    # the token -------------------------------------------------------------------------
    def _fetch(self) -> None:
        response = self.http.request("POST", self.base_url + TOKENS, auth=self.auth)
        response.raise_for_status()
        body = response.json()
        received = self.now()
        if self.trust == "local":  # mistake: the server's timestamps read on our clock
            expires = _ms(body["expirationDate"])
        elif self.trust == "date":  # mistake: our clock corrected by a proxy's Date header
            offset = email.utils.parsedate_to_datetime(response.headers["Date"]) - received
            expires = _ms(body["expirationDate"]) - offset
        else:  # the lifetime granted, from when we got it
            granted = _ms(body["expirationDate"]) - _ms(body["creationDate"])
            expires = received + granted
        self.token, self.expires_at = body["accessToken"], expires

    def _stale(self) -> bool:
        return self.token is None or self.expires_at is None or self.now() >= self.expires_at

    def token_now(self, *, after_401: str | None = None) -> str:
        """A token good to send: refreshed when stale (or when ``after_401`` was refused)."""
        if self.naive:  # mistake: no lock, every stale caller fetches
            if self._stale() or after_401 is not None:
                self._fetch()
        else:
            with self._lock:  # single-flight: one fetch, the others use its token
                if self._stale() or (after_401 is not None and after_401 == self.token):
                    self._fetch()
        assert self.token is not None
        return self.token

    # calls -----------------------------------------------------------------------------
    def endpoints(self) -> list[dict[str, Any]]:
        """``GET /api/endpoints``: refresh once after a 401, honour Retry-After, retry a
        broken connection (the correct build)."""
        headers = {"X-Access-Token": self.token_now()}
        for attempt in range(self.attempts):
            try:
                response = self.http.request(
                    "GET", self.base_url + "/api/endpoints", headers=headers
                )
                if response.status_code == 401 and attempt == 0:
                    fresh = self.token_now(after_401=headers["X-Access-Token"])
                    if not self.naive:  # mistake when naive: the old headers are sent again
                        headers = {"X-Access-Token": fresh}
                    continue
                if response.status_code == 429:
                    if not self.naive:
                        self.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                response.raise_for_status()
                return list(response.json())
            except TRANSPORT_ERRORS:
                if self.naive or attempt == self.attempts - 1:
                    raise
        raise RuntimeError(f"gave up after {self.attempts} attempts")


class AsyncLifecycleClient:
    """The async build of the refresh scenario: ``httpx.AsyncClient``, an ``asyncio.Lock``."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        http: httpx.AsyncClient,
        now: Callable[[], dt.datetime],
        naive: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = (username, password)
        self.http, self.now, self.naive = http, now, naive
        self.token: str | None = None
        self.expires_at: dt.datetime | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        response = await self.http.post(self.base_url + TOKENS, auth=self.auth)
        response.raise_for_status()
        body = response.json()
        granted = _ms(body["expirationDate"]) - _ms(body["creationDate"])
        self.token, self.expires_at = body["accessToken"], self.now() + granted

    def _stale(self) -> bool:
        return self.token is None or self.expires_at is None or self.now() >= self.expires_at

    async def endpoints(self) -> list[dict[str, Any]]:
        if self.naive:
            if self._stale():
                await self._fetch()
        else:
            async with self._lock:
                if self._stale():
                    await self._fetch()
        response = await self.http.get(
            self.base_url + "/api/endpoints", headers={"X-Access-Token": str(self.token)}
        )
        response.raise_for_status()
        return list(response.json())
