"""The BlueJeans Relay part: AccessToken models, wire format, error catalogue, factories and
the stateful fake of ``POST /api/auth/accesstokens``.

Submodules load lazily so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "RELAY_ERRORS",
    "RelayAccessToken",
    "RelayEnterprise",
    "RelayErrorBody",
    "RelayErrorEntry",
    "RelayService",
    "RelayTokenFactory",
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
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
