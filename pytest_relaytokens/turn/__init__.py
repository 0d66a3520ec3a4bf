"""A real TURN server (coturn) checking the credentials the UCWA fake issues.

:class:`~.coturn.CoturnServer` runs coturn on 127.0.0.1; :class:`~.sync.CredentialSync`
points the fake's ``mediaRelay`` entries at it and keeps its users equal to the fake's live
tokens. See docs/turn.md.
"""

from __future__ import annotations

from .coturn import INSTALL_HINT, CoturnServer, TurnServerError, TurnServerMissing
from .sync import CredentialSync
from .userdb import TurnCredentialError

__all__ = [
    "INSTALL_HINT",
    "CoturnServer",
    "CredentialSync",
    "TurnCredentialError",
    "TurnServerError",
    "TurnServerMissing",
]
