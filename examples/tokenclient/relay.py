"""Relay client: exchange Basic credentials for an access token, cache it, send it as
``X-Access-Token`` (or ``?accesstoken=``), and get a new one after a 401."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import requests


class RelayError(Exception):
    def __init__(self, status: int, name: str | None, message: str | None) -> None:
        super().__init__(f"Relay {status} {name}: {message}")
        self.status, self.name, self.message = status, name, message


def _error(response: Any) -> RelayError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    return RelayError(response.status_code, body.get("errorName"), body.get("errorMessage"))


def _expiry(body: dict[str, Any]) -> dt.datetime | None:
    ms = body.get("expirationDate")
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


class RelayClient:
    """A ``requests`` client of the Relay API."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        session: requests.Session | None = None,
        in_query: bool = False,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = (username, password)
        self.session = session or requests.Session()
        self.in_query = in_query
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.token: str | None = None
        self.expires_at: dt.datetime | None = None
        self.refreshes = 0

    def create_token(
        self,
        *,
        roles: str | None = None,
        duration_ms: int | None = None,
        client_name: str | None = "tokenclient",
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if roles:
            params["roles"] = roles
        if duration_ms is not None:
            params["duration"] = duration_ms
        if client_name:
            params["clientname"] = client_name
        response = self.session.post(
            f"{self.base_url}/api/auth/accesstokens", params=params, auth=self.auth
        )
        if response.status_code != 200:
            raise _error(response)
        body: dict[str, Any] = response.json()
        self.token, self.expires_at = body["accessToken"], _expiry(body)
        return body

    def _valid_token(self) -> str:
        if self.token is None or (self.expires_at is not None and self.now() >= self.expires_at):
            self.create_token()
            self.refreshes += 1
        assert self.token is not None
        return self.token

    def _get(self, path: str) -> requests.Response:
        token = self._valid_token()
        if self.in_query:
            return self.session.get(f"{self.base_url}{path}", params={"accesstoken": token})
        return self.session.get(f"{self.base_url}{path}", headers={"X-Access-Token": token})

    def enterprise(self) -> dict[str, Any]:
        """``GET /api/enterprises/self``, getting a new token once after a 401."""
        response = self._get("/api/enterprises/self")
        if response.status_code == 401:
            self.token = None
            response = self._get("/api/enterprises/self")
        if response.status_code != 200:
            raise _error(response)
        result: dict[str, Any] = response.json()
        return result


class AsyncRelayClient:
    """An ``httpx.AsyncClient`` client of the Relay API."""

    def __init__(
        self, base_url: str, username: str, password: str, client: httpx.AsyncClient | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = (username, password)
        self.client = client or httpx.AsyncClient()
        self.token: str | None = None

    async def create_token(self) -> dict[str, Any]:
        response = await self.client.post(f"{self.base_url}/api/auth/accesstokens", auth=self.auth)
        if response.status_code != 200:
            raise _error(response)
        body: dict[str, Any] = response.json()
        self.token = body["accessToken"]
        return body

    async def enterprise(self) -> dict[str, Any]:
        if self.token is None:
            await self.create_token()
        response = await self.client.get(
            f"{self.base_url}/api/enterprises/self", headers={"X-Access-Token": self.token or ""}
        )
        if response.status_code == 401:
            await self.create_token()
            response = await self.client.get(
                f"{self.base_url}/api/enterprises/self",
                headers={"X-Access-Token": self.token or ""},
            )
        if response.status_code != 200:
            raise _error(response)
        result: dict[str, Any] = response.json()
        return result
