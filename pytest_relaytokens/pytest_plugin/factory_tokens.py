"""A token built as the fakes build it, for a test that takes a token and no fake.

The factories load on first use through the ``ucwa`` and ``relay`` packages' lazy exports
(PEP 562): importing this module stays cheap, and after the first token each lookup is a
module attribute, not an ``import`` statement run again (about 10k instructions each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import relay, ucwa

if TYPE_CHECKING:
    from ..clock import Clock
    from ..http import TokenPolicy
    from ..ucwa.models import MediaRelayAccessToken

__all__ = ["factory_token", "located"]


def factory_token(
    api: str, seed: int, clock: Clock, policy: TokenPolicy, location: str | None = None
) -> Any:
    """``api``'s token built by its factory, as a fake with no service issues it (the UCWA
    relays at the quirks' ``location``): all a token-only test needs, no backend."""
    if api == "relay":
        return relay.RelayTokenFactory(seed, clock, policy).build()
    return located(ucwa.UcwaTokenFactory(seed, clock, policy).build(), location)


def located(token: MediaRelayAccessToken, location: str | None) -> MediaRelayAccessToken:
    """``token`` with its media relays at ``location`` (None: as built)."""
    if location is None:
        return token
    relays = [r.model_copy(update={"location": location}) for r in token.media_relays]
    return token.model_copy(update={"media_relays": relays})
