"""The UCWA 2.0 ``mediaRelayAccessToken`` fake: models, wire formats, errors, factory, service.

Submodules load on first attribute access so importing this package stays cheap.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: Where the fake answers unless told otherwise (the host of the documentation samples).
DEFAULT_BASE_URL = "https://fe1.contoso.com"

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
    "UcwaCredentials": "models",
    "UcwaUserRoute": "service",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
