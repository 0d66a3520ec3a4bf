"""Keep a real TURN server's users equal to the live credentials of a UCWA fake.

coturn never asks the fake: it reads its SQLite user database. So the database is rewritten
whenever the answer may have changed, which the fake reports through
:meth:`~pytest_relaytokens.ucwa.credentials.IssuedCredentials.observe`: a token issued or
revoked, or the test's clock moved (``advance``, ``set``, ``freeze``). Time that merely flows
(a flowing clock, time-machine travel) is caught by :meth:`CredentialSync.sync`, which
``relaytokens serve --turn`` calls every second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..ucwa.credentials import IssuedCredentials
from ..ucwa.models import MediaRelayAccessToken
from .coturn import CoturnServer
from .userdb import TurnCredentialError, check_credentials

__all__ = ["CredentialSync", "ServedTurn"]


class CredentialSync:
    """Point ``credentials``' relays at ``server`` and keep its users in step until
    :meth:`detach`. ``refused`` maps each user name coturn cannot hold to the reason."""

    def __init__(self, server: CoturnServer, credentials: IssuedCredentials) -> None:
        self.server = server
        self.credentials = credentials
        self.refused: dict[str, str] = {}
        #: the credentials the server held after the last sync
        self.live: set[str] = set()
        self._lock = threading.Lock()
        self._forget: Callable[[], None] | None = None

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        """The UDP and TCP port (the ``udpPort`` and ``tcpPort`` of every relay)."""
        return self.server.port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``, as a TURN client takes it."""
        return self.server.host, self.server.port

    @property
    def realm(self) -> str:
        return self.server.realm

    def attach(self) -> CredentialSync:
        """Start pointing and syncing (the tokens issued before count too)."""
        self.credentials.endpoint = self.server.endpoint
        self._forget = self.credentials.observe(self._changed)
        self.sync()
        return self

    def detach(self) -> None:
        """Stop syncing, stop pointing, and leave the server without users."""
        if self._forget is not None:
            self._forget()
            self._forget = None
        self.credentials.endpoint = None
        if self.server.running:
            with self._lock:
                self.server.users.replace({})
                self.server.cancel_sessions(self.live)
                self.live = set()

    def sync(self) -> set[str]:
        """Make the server's users the fake's live credentials now; returns their names."""
        with self._lock:
            wanted: dict[str, str] = {}
            for name, password in self.credentials.live().items():
                try:
                    check_credentials(name, password)
                except TurnCredentialError as exc:
                    self.refused[name] = str(exc)
                    continue
                wanted[name] = password
            self.server.users.replace(wanted)
            # coturn keeps the key of an allocation made before: end those of dead credentials
            self.server.cancel_sessions(self.live - set(wanted))
            self.live = set(wanted)
            return set(wanted)

    def _changed(self, token: MediaRelayAccessToken | None) -> None:
        self.sync()
        if token is not None and token.user_name in self.refused:
            raise TurnCredentialError(
                f"the TURN server cannot accept this token: {self.refused[token.user_name]}"
            )


class ServedTurn:
    """``relaytokens serve --turn``: one coturn for the server's life, synced with the UCWA
    fake of the moment (a control-plane reset builds a new one: :meth:`attach` it)."""

    #: How often (real seconds) :meth:`tick` re-reads the live credentials: the served clock
    #: flows, so tokens expire without any event.
    SYNC_EVERY = 1.0

    def __init__(self, max_seconds: float) -> None:
        self.server = CoturnServer(max_seconds=max_seconds)
        self.current: CredentialSync | None = None
        self._next = 0.0

    def start(self) -> ServedTurn:
        self.server.start()
        return self

    def attach(self, credentials: IssuedCredentials) -> None:
        """Point ``credentials`` (a new fake's) at the server instead of the previous fake's."""
        if self.current is not None:
            self.current.detach()
        self.current = CredentialSync(self.server, credentials).attach()

    def tick(self) -> None:
        """Sync when :data:`SYNC_EVERY` has passed since the last time."""
        now = time.monotonic()
        if self.current is not None and now >= self._next:
            self._next = now + self.SYNC_EVERY
            self.current.sync()

    def banner(self) -> list[str]:
        server = self.server
        return [
            f"TURN   coturn on {server.host}:{server.port} (UDP and TCP), realm {server.realm}",
            "  every mediaRelay points here; it accepts exactly the live tokens the UCWA fake",
            "  issued (401 for expired, revoked or unknown ones)",
            "",
        ]

    def stop(self) -> None:
        if self.current is not None and self.server.running:
            self.current.detach()
        self.current = None
        self.server.stop()
