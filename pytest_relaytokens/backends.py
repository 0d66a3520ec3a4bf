"""Where the token fixtures get their values: the fake (default), a cassette, or a live server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .clock import Clock
    from .core import FakeResponse, TokenPolicy
    from .relay.models import RelayAccessToken
    from .ucwa.models import MediaRelayAccessToken
    from .ucwa.wire import UcwaQuirks

__all__ = ["relay_token_for", "ucwa_token_for", "ucwa_token_response_for"]

UCWA_CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
}


def ucwa_token_for(
    request: pytest.FixtureRequest, seed: int, clock: Clock, policy: TokenPolicy
) -> MediaRelayAccessToken:
    from .ucwa.factories import UcwaTokenFactory

    return UcwaTokenFactory(seed, clock, policy).build()


def relay_token_for(
    request: pytest.FixtureRequest, seed: int, clock: Clock, policy: TokenPolicy
) -> RelayAccessToken:
    from .relay.factories import RelayTokenFactory

    return RelayTokenFactory(seed, clock, policy).build()


def ucwa_token_response_for(
    request: pytest.FixtureRequest, token: MediaRelayAccessToken, fmt: str, quirks: UcwaQuirks
) -> FakeResponse:
    from .core import FakeResponse
    from .ucwa.wire import render

    body = render(token, fmt, quirks)  # type: ignore[arg-type]
    headers: list[tuple[str, Any]] = [
        ("Cache-Control", "no-cache"),
        ("Pragma", "no-cache"),
        ("Content-Type", UCWA_CONTENT_TYPES[fmt]),
        ("Expires", "-1"),
        ("Server", "Microsoft-IIS/8.5"),
        ("X-MS-UcwaVersion", "1.7"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-MS-Server-Fqdn", "FE1.contoso.com"),
        ("X-AspNet-Version", "4.0.30319"),
        ("X-Powered-By", "ASP.NET"),
        ("Content-Length", str(len(body))),
    ]
    return FakeResponse(200, headers, body)
