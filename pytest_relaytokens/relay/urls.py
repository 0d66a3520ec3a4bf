"""The Relay fake's URL table: the paths it serves itself and their methods. A trailing slash
is optional (Relay clients send both forms); user routes add their own paths."""

from __future__ import annotations

import re

__all__ = ["KNOWN_PATHS", "TOKENS_PATH", "TOKEN_RE", "known_methods", "normal_path"]

TOKENS_PATH = "/api/auth/accesstokens"
#: ``auth.getAccessToken``: one issued token by value.
TOKEN_RE = re.compile(r"^/api/auth/accesstokens/([^/]+)$")
#: Fixed path -> its methods.
KNOWN_PATHS: dict[str, tuple[str, ...]] = {
    TOKENS_PATH: ("POST",),
    "/api/enterprises/self": ("GET",),
    "/api/endpoints": ("GET", "POST"),
}


def normal_path(path: str) -> str:
    """A path without its trailing slash (Relay clients send both forms)."""
    return path.rstrip("/") or "/"


def known_methods(path: str) -> tuple[str, ...] | None:
    """The methods the fake itself serves at ``path`` (normalised); None elsewhere."""
    return KNOWN_PATHS.get(path) or (("GET",) if TOKEN_RE.match(path) else None)
