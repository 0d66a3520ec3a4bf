"""SfB Online sign-in for the UCWA fake: the Azure AD token endpoint's JSON and JWT bearers.

A bearer is ``header.payload.signature``, each part base64url without padding. The payload
carries what clients and proxies read (``aud``, ``iss``, ``iat``, ``nbf``, ``exp``, ``upn``,
``tid``, ``appid``, ``scp``). Real Azure AD signs with RS256 and a rotating key; the fake
signs with HMAC-SHA256 under a per-service key and says so in ``alg`` (inferred: clients do
not verify access tokens, they only decode them).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["JwtClaims", "aad_token_body", "decode_jwt", "encode_jwt"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class JwtClaims:
    """The claims of one issued bearer."""

    audience: str
    issued_at: _dt.datetime
    expires_at: _dt.datetime
    tenant_id: str
    upn: str
    client_id: str
    object_id: str

    def payload(self) -> dict[str, Any]:
        iat = int(self.issued_at.timestamp())
        return {
            "aud": self.audience,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": iat,
            "nbf": iat,
            "exp": int(self.expires_at.timestamp()),
            "appid": self.client_id,
            "oid": self.object_id,
            "scp": "Contacts.ReadWrite Conversations.Initiate Conversations.Receive "
            "Meetings.ReadWrite User.ReadWrite",
            "tid": self.tenant_id,
            "unique_name": self.upn,
            "upn": self.upn,
            "ver": "1.0",
        }


def encode_jwt(claims: JwtClaims, key: bytes) -> str:
    """``header.payload.signature`` (HS256 under ``key``)."""
    header = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims.payload(), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = _b64url(hmac.new(key, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def decode_jwt(token: str, key: bytes) -> dict[str, Any] | None:
    """The payload of a bearer this key signed, else None (wrong shape or signature)."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        return None
    header, payload, signature = parts
    expected = _b64url(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        decoded = json.loads(_unb64url(payload))
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def aad_token_body(token: str, claims: JwtClaims, now: _dt.datetime) -> dict[str, str]:
    """The Azure AD v1 token endpoint's JSON, as captured: numbers as strings
    (``"expires_in":"3599"``), ``scope`` space-separated."""
    remaining = max(0, int((claims.expires_at - now).total_seconds()))
    return {
        "token_type": "Bearer",
        "scope": str(claims.payload()["scp"]),
        "expires_in": str(remaining),
        "ext_expires_in": str(remaining),
        "expires_on": str(int(claims.expires_at.timestamp())),
        "not_before": str(int(claims.issued_at.timestamp())),
        "resource": claims.audience,
        "access_token": token,
    }
