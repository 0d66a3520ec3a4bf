"""A small downstream client of both token APIs: what pytest-relaytokens is for testing."""

from .relay import AsyncRelayClient, RelayClient, RelayError
from .ucwa import MediaRelayCredentials, UcwaClient, UcwaError

__all__ = [
    "AsyncRelayClient",
    "MediaRelayCredentials",
    "RelayClient",
    "RelayError",
    "UcwaClient",
    "UcwaError",
]
