"""A Faker provider for both token APIs, backed by the seeded factories.

``fake.add_provider(RelayTokensProvider)`` then ``fake.ucwa_media_relay_access_token()``,
``fake.relay_access_token()``, ``fake.cwt_bearer_token()``, ... Values follow the Faker
instance's seed (``fake.seed_instance(n)``).
"""

from __future__ import annotations

from typing import Any

from faker.providers import BaseProvider

from .relay.factories import RelayTokenFactory
from .relay.models import RelayAccessToken, RelayEnterprise
from .ucwa.factories import UcwaTokenFactory
from .ucwa.models import MediaRelay, MediaRelayAccessToken

__all__ = ["RelayTokensProvider"]


class RelayTokensProvider(BaseProvider):
    """Faker methods for UCWA media relay tokens and Relay access tokens."""

    def _ucwa(self) -> UcwaTokenFactory:
        return UcwaTokenFactory(self.generator.random)

    def _relay(self) -> RelayTokenFactory:
        return RelayTokenFactory(self.generator.random)

    def ucwa_media_relay_access_token(self, **overrides: Any) -> MediaRelayAccessToken:
        return self._ucwa().build(**overrides)

    def ucwa_media_relay(self, **overrides: Any) -> MediaRelay:
        return self._ucwa().build_relay(**overrides)

    def cwt_bearer_token(self) -> str:
        return self._ucwa().bearer_token()

    def ucwa_application_id(self) -> str:
        return self._ucwa().application_id()

    def relay_access_token(self, **overrides: Any) -> RelayAccessToken:
        return self._relay().build(**overrides)

    def relay_enterprise(self, **overrides: Any) -> RelayEnterprise:
        return self._relay().build_enterprise(**overrides)

    def relay_access_token_string(self) -> str:
        return self._relay().access_token_string()

    def seam_access_token(self) -> str:
        return self._relay().seam_token()

    def relay_object_id(self) -> str:
        return self._relay().object_id()
