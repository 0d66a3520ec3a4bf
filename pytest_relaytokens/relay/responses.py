"""The Relay fake's HTTP answers: JSON bodies under Relay's headers and the four-key error
envelope of the catalogue, dated by the server's clock."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..http import FakeResponse
from .catalogue import json_headers, lookup_relay_error

__all__ = ["RelayResponses"]


class RelayResponses:
    """The answers a :class:`~pytest_relaytokens.relay.service.RelayService` builds."""

    def server_now(self) -> _dt.datetime:
        raise NotImplementedError

    def _ok(self, body: bytes, status: int = 200) -> FakeResponse:
        return FakeResponse(status, json_headers(self.server_now()), body)

    def _error(
        self, name: str, message: str | None = None, details: dict[str, Any] | None = None
    ) -> FakeResponse:
        return lookup_relay_error(name).response(
            message=message, details=details, when=self.server_now()
        )

    def _unauthorized(self) -> FakeResponse:
        return self._error("BadCredentialsException")

    def _invalid(self, parameter: str, value: str, hint: str) -> FakeResponse:
        return self._error(
            "InvalidParameter",
            f"Invalid value for parameter '{parameter}': {value!r} ({hint}).",
            {"parameter": parameter, "value": value, "message": hint},
        )
