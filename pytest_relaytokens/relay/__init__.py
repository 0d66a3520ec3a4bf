"""The BlueJeans Relay part: AccessToken models, wire format, error catalogue, factories and
the stateful fake of ``POST /api/auth/accesstokens``.

Submodules load lazily so importing this package stays cheap.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: Where the fake answers unless told otherwise (the host of the documentation samples).
DEFAULT_BASE_URL = "https://relay.bluejeans.com"

__all__ = [
    "RELAY_ERRORS",
    "RelayAccessToken",
    "RelayEnterprise",
    "RelayErrorBody",
    "RelayErrorEntry",
    "RelayService",
    "RelayTokenFactory",
    "UserRoute",
    "lookup_relay_error",
]

_EXPORTS = {
    "RelayAccessToken": "models",
    "RelayEnterprise": "models",
    "RelayErrorBody": "models",
    "RELAY_ERRORS": "catalogue",
    "RelayErrorEntry": "catalogue",
    "lookup_relay_error": "catalogue",
    "RelayTokenFactory": "factories",
    "RelayService": "service",
    "UserRoute": "service",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
