"""pytest-relaytokens: realistic fakes, fixtures and safe cassettes for two token APIs.

Importing this package is cheap: the names below load their modules on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Clock": "pytest_relaytokens.clock",
    "RelayTokensError": "pytest_relaytokens.errors",
    "WireFormatError": "pytest_relaytokens.errors",
    "NetworkBlockedError": "pytest_relaytokens.pytest_plugin.network",
    "FakeRequest": "pytest_relaytokens.core",
    "FakeResponse": "pytest_relaytokens.core",
    "TokenPolicy": "pytest_relaytokens.core",
    # UCWA
    "MediaRelayAccessToken": "pytest_relaytokens.ucwa.models",
    "MediaRelay": "pytest_relaytokens.ucwa.models",
    "UcwaErrorBody": "pytest_relaytokens.ucwa.models",
    "UcwaQuirks": "pytest_relaytokens.ucwa.wire",
    "UcwaErrorEntry": "pytest_relaytokens.ucwa.catalogue",
    "UCWA_ERRORS": "pytest_relaytokens.ucwa.catalogue",
    "lookup_ucwa_error": "pytest_relaytokens.ucwa.catalogue",
    "UcwaTokenFactory": "pytest_relaytokens.ucwa.factories",
    "UcwaService": "pytest_relaytokens.ucwa.service",
    # Relay
    "RelayAccessToken": "pytest_relaytokens.relay.models",
    "RelayEnterprise": "pytest_relaytokens.relay.models",
    "RelayErrorBody": "pytest_relaytokens.relay.models",
    "RelayErrorEntry": "pytest_relaytokens.relay.catalogue",
    "RELAY_ERRORS": "pytest_relaytokens.relay.catalogue",
    "lookup_relay_error": "pytest_relaytokens.relay.catalogue",
    "RelayTokenFactory": "pytest_relaytokens.relay.factories",
    "RelayService": "pytest_relaytokens.relay.service",
    # Faker
    "RelayTokensProvider": "pytest_relaytokens.fakedata",
}

__all__ = [
    "RELAY_ERRORS",
    "UCWA_ERRORS",
    "Clock",
    "FakeRequest",
    "FakeResponse",
    "MediaRelay",
    "MediaRelayAccessToken",
    "NetworkBlockedError",
    "RelayAccessToken",
    "RelayEnterprise",
    "RelayErrorBody",
    "RelayErrorEntry",
    "RelayService",
    "RelayTokenFactory",
    "RelayTokensError",
    "RelayTokensProvider",
    "TokenPolicy",
    "UcwaErrorBody",
    "UcwaErrorEntry",
    "UcwaQuirks",
    "UcwaService",
    "UcwaTokenFactory",
    "WireFormatError",
    "__version__",
    "lookup_relay_error",
    "lookup_ucwa_error",
]

if TYPE_CHECKING:  # pragma: no cover
    from .clock import Clock
    from .core import FakeRequest, FakeResponse, TokenPolicy
    from .errors import RelayTokensError, WireFormatError
    from .fakedata import RelayTokensProvider
    from .pytest_plugin.network import NetworkBlockedError
    from .relay.catalogue import RELAY_ERRORS, RelayErrorEntry, lookup_relay_error
    from .relay.factories import RelayTokenFactory
    from .relay.models import RelayAccessToken, RelayEnterprise, RelayErrorBody
    from .relay.service import RelayService
    from .ucwa.catalogue import UCWA_ERRORS, UcwaErrorEntry, lookup_ucwa_error
    from .ucwa.factories import UcwaTokenFactory
    from .ucwa.models import MediaRelay, MediaRelayAccessToken, UcwaErrorBody
    from .ucwa.service import UcwaService
    from .ucwa.wire import UcwaQuirks

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
