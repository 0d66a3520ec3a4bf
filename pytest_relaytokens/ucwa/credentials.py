"""The TURN credentials the UCWA fake issued, and who is told when they change.

A ``mediaRelayAccessToken`` is a long-term TURN credential (``userName``, ``password``) for
the relays it lists, valid until ``validUntil`` on the server's clock. This module keeps which
of them are live (issued, not revoked, not expired) and tells observers (a real TURN server's
user store, see :mod:`pytest_relaytokens.turn`) whenever that may have changed: a token is
issued or revoked, or the clock moves.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import Clock
from .models import MediaRelay, MediaRelayAccessToken

__all__ = ["CredentialObserver", "IssuedCredentials", "RelayEndpoint"]

#: Called with the token just issued, or with None when a token was revoked or the clock moved.
CredentialObserver = Callable[["MediaRelayAccessToken | None"], None]


@dataclass(frozen=True)
class RelayEndpoint:
    """Where every ``mediaRelay`` entry the fake issues points (a real TURN server)."""

    host: str
    udp_port: int
    tcp_port: int

    def apply(self, relay: MediaRelay) -> MediaRelay:
        """``relay`` pointed here: host and ports replaced, the addresses dropped (an ``ipv4``
        a client prefers over ``host`` would lead elsewhere)."""
        update = {
            "host": self.host,
            "ipv4": self.host if relay.ipv4 is not None else None,
            "ipv6": None,
            "udp_port": self.udp_port,
            "tcp_port": self.tcp_port,
        }
        return relay.model_copy(update=update)


class IssuedCredentials:
    """The media relay tokens a :class:`~pytest_relaytokens.ucwa.service.UcwaService` issued.

    ``tokens`` is the service's ``issued_tokens`` list; ``now`` its server clock. Observers
    are told after every change; ``endpoint`` (when set) is where issued relays point.
    """

    def __init__(
        self, tokens: list[MediaRelayAccessToken], now: Callable[[], _dt.datetime], clock: Clock
    ) -> None:
        self.tokens = tokens
        self.revoked: set[str] = set()
        self.endpoint: RelayEndpoint | None = None
        self._now = now
        self._clock = clock
        self._observers: list[CredentialObserver] = []
        self._unwatch: Callable[[], None] | None = None
        self._lock = threading.RLock()

    def point(self, relays: list[MediaRelay]) -> list[MediaRelay]:
        """``relays`` pointed at ``endpoint`` (unchanged when none is set)."""
        endpoint = self.endpoint
        return relays if endpoint is None else [endpoint.apply(r) for r in relays]

    def issue(self, token: MediaRelayAccessToken) -> MediaRelayAccessToken:
        """Record ``token`` as issued (its relays pointed at ``endpoint``) and tell observers;
        returns the token as handed out."""
        if self.endpoint is not None:
            token = token.model_copy(update={"media_relays": self.point(token.media_relays)})
        with self._lock:
            self.tokens.append(token)
        self._tell(token)
        return token

    def revoke(self, token: MediaRelayAccessToken | str) -> None:
        """Revoke an issued token (or its ``userName``): its TURN credential stops working."""
        name = token if isinstance(token, str) else token.user_name
        with self._lock:
            if not any(t.user_name == name for t in self.tokens):
                raise KeyError(f"cannot revoke {name[:16]!r}...: this fake never issued that token")
            self.revoked.add(name)
        self._tell(None)

    def live(self) -> dict[str, str]:
        """``{userName: password}`` of the tokens issued, not revoked and not past
        ``validUntil`` on the server clock; a later token with the same ``userName`` wins."""
        now = self._now()
        with self._lock:
            return {
                t.user_name: t.password
                for t in self.tokens
                if t.user_name not in self.revoked and not t.is_expired(now)
            }

    def observe(self, observer: CredentialObserver) -> Callable[[], None]:
        """Tell ``observer`` of every change (the clock moving too) until the returned
        function is called."""
        with self._lock:
            self._observers.append(observer)
            if self._unwatch is None:
                self._unwatch = self._clock.watch(lambda: self._tell(None))

        def forget() -> None:
            with self._lock:
                if observer in self._observers:
                    self._observers.remove(observer)
                if not self._observers and self._unwatch is not None:
                    self._unwatch()
                    self._unwatch = None

        return forget

    def _tell(self, token: MediaRelayAccessToken | None) -> None:
        for observer in list(self._observers):
            observer(token)
