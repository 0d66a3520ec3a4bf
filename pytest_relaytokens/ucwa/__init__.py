"""The UCWA 2.0 ``mediaRelayAccessToken`` fake: models, wire formats, errors, factory, service.

Submodules load on first attribute access so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "MediaRelay": "models",
    "MediaRelayAccessToken": "models",
    "UcwaErrorBody": "models",
    "UcwaQuirks": "wire",
    "UcwaErrorEntry": "catalogue",
    "UCWA_ERRORS": "catalogue",
    "lookup_ucwa_error": "catalogue",
    "unauthorized_response": "catalogue",
    "UcwaTokenFactory": "factories",
    "UcwaService": "service",
    "UcwaCredentials": "service",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
