"""pytest-relaytokens: realistic fakes, fixtures and safe cassettes for two token APIs.

Importing this package is cheap: the names below load their modules on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

#: The public names, by the module (under this package) that defines them.
_BY_MODULE: dict[str, tuple[str, ...]] = {
    ".clock": ("Clock",),
    ".errors": ("NetworkBlockedError", "RelayTokensError", "WireFormatError"),
    ".http": ("FakeRequest", "FakeResponse", "TokenPolicy"),
    ".ucwa.models": ("MediaRelay", "MediaRelayAccessToken", "UcwaErrorBody"),
    ".ucwa.wire": ("UcwaQuirks",),
    ".ucwa.catalogue": ("UCWA_ERRORS", "UcwaErrorEntry", "lookup_ucwa_error"),
    ".ucwa.factories": ("UcwaTokenFactory",),
    ".ucwa.service": ("UcwaService",),
    ".relay.models": ("RelayAccessToken", "RelayEnterprise", "RelayErrorBody"),
    ".relay.catalogue": ("RELAY_ERRORS", "RelayErrorEntry", "lookup_relay_error"),
    ".relay.factories": ("RelayTokenFactory",),
    ".relay.service": ("RelayService",),
    ".fakedata": ("RelayTokensProvider",),
}
_EXPORTS = {name: module for module, names in _BY_MODULE.items() for name in names}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:  # pragma: no cover  (what type checkers see; "as" marks a re-export)
    from .clock import Clock as Clock
    from .errors import NetworkBlockedError as NetworkBlockedError
    from .errors import RelayTokensError as RelayTokensError
    from .errors import WireFormatError as WireFormatError
    from .fakedata import RelayTokensProvider as RelayTokensProvider
    from .http import FakeRequest as FakeRequest
    from .http import FakeResponse as FakeResponse
    from .http import TokenPolicy as TokenPolicy
    from .relay.catalogue import RELAY_ERRORS as RELAY_ERRORS
    from .relay.catalogue import RelayErrorEntry as RelayErrorEntry
    from .relay.catalogue import lookup_relay_error as lookup_relay_error
    from .relay.factories import RelayTokenFactory as RelayTokenFactory
    from .relay.models import RelayAccessToken as RelayAccessToken
    from .relay.models import RelayEnterprise as RelayEnterprise
    from .relay.models import RelayErrorBody as RelayErrorBody
    from .relay.service import RelayService as RelayService
    from .ucwa.catalogue import UCWA_ERRORS as UCWA_ERRORS
    from .ucwa.catalogue import UcwaErrorEntry as UcwaErrorEntry
    from .ucwa.catalogue import lookup_ucwa_error as lookup_ucwa_error
    from .ucwa.factories import UcwaTokenFactory as UcwaTokenFactory
    from .ucwa.models import MediaRelay as MediaRelay
    from .ucwa.models import MediaRelayAccessToken as MediaRelayAccessToken
    from .ucwa.models import UcwaErrorBody as UcwaErrorBody
    from .ucwa.service import UcwaService as UcwaService
    from .ucwa.wire import UcwaQuirks as UcwaQuirks

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
