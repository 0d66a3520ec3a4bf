"""The HTTP core every fake and transport shares: messages, the fake-service base with its
faults, the router, HTTP semantics (HEAD, OPTIONS, CORS, gzip), header and URL helpers.

It imports nothing of the package but :mod:`pytest_relaytokens.clock` and
:mod:`pytest_relaytokens.errors`.
"""

from __future__ import annotations

from .messages import Dispatched, Exchange, FakeRequest, FakeResponse
from .router import FakeRouter
from .service import FakeService, Fault, Responder, TokenPolicy, UserRoute

__all__ = [
    "Dispatched",
    "Exchange",
    "FakeRequest",
    "FakeResponse",
    "FakeRouter",
    "FakeService",
    "Fault",
    "Responder",
    "TokenPolicy",
    "UserRoute",
]
