"""Workarounds for known bugs of the vcrpy versions we support.

vcrpy before 9 hands ``requests`` (through urllib3 2.x) its replayed or freshly recorded
response with an ``http.client.HTTPMessage`` as ``headers``; ``requests`` copies it with
``message[name]``, which keeps only the first of repeated headers (the UCWA 401's two
``WWW-Authenticate`` challenges arrive as one). vcrpy 9 wraps them in urllib3's
``HTTPHeaderDict`` (repeated values joined with ", ", as on a live response); this does the same
for the older versions. Nothing is changed where vcrpy already does it or urllib3 is 1.x (whose
``HTTPResponse.from_httplib`` reads every header itself).
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from typing import Any

__all__ = ["apply", "unfixed_stubs"]

_MARK = "_relaytokens_repeated_headers"


def unfixed_stubs() -> list[type[Any]]:
    """vcrpy's urllib3 connection stubs whose ``getresponse`` is vcrpy's plain one, returning
    ``HTTPMessage`` headers (none with urllib3 1.x; with vcrpy 9 only the ``requests_stubs``
    pair, which its ``urllib3_stubs`` supersede: wrapping them too is harmless)."""
    if int(importlib.metadata.version("urllib3").split(".", 1)[0]) < 2:
        return []
    from vcr import stubs

    found: list[type[Any]] = []
    for module_name in ("vcr.stubs.requests_stubs", "vcr.stubs.urllib3_stubs"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # that stub module is absent in this vcrpy
            continue
        for name in ("VCRRequestsHTTPConnection", "VCRRequestsHTTPSConnection"):
            stub = getattr(module, name, None)
            if stub is None or getattr(stub.getresponse, _MARK, False):
                continue
            if stub.getresponse in (
                stubs.VCRHTTPConnection.getresponse,
                stubs.VCRHTTPSConnection.getresponse,
            ):  # vcrpy's own getresponse, not wrapped the way vcrpy 9 does it
                found.append(stub)
    return found


def _keep_repeated_headers(getresponse: Callable[..., Any]) -> Callable[..., Any]:
    from urllib3 import HTTPHeaderDict

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        response = getresponse(self, *args, **kwargs)
        response.headers = HTTPHeaderDict(response.getheaders())
        return response

    setattr(wrapped, _MARK, True)
    wrapped.__doc__ = getresponse.__doc__
    return wrapped


def apply() -> None:
    """Wrap the unfixed stubs' ``getresponse`` once (idempotent; nothing to do on vcrpy 9)."""
    for stub in unfixed_stubs():
        stub.getresponse = _keep_repeated_headers(stub.getresponse)
