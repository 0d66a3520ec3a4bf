"""Sign-in, both sides: the one client that signs in to a UCWA server and walks to its token
(:func:`sign_in_to_token`, used by the live backend and the library recorder), and the SfB
Online sign-in the UCWA fake answers with (the Azure AD token endpoint's JSON, JWT bearers).

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlencode, urljoin, urlsplit

from ..errors import RelayTokensError
from ..http import FakeRequest, FakeResponse
from ..http.headers import challenge_params
from ..http.messages import body_digest
from ..http.urls import is_loopback
from .urls import AUTODISCOVER_ROOT

__all__ = [
    "CREDENTIAL_HOSTS_VARIABLE",
    "JwtClaims",
    "SignInError",
    "SignedIn",
    "aad_token_body",
    "decode_jwt",
    "encode_jwt",
    "sign_in_to_token",
]


# --- the client ------------------------------------------------------------------------------
_JSON = "application/json"


class SignInError(RelayTokensError):
    """A UCWA server answered the sign-in walk with something unusable."""


@dataclass(frozen=True)
class SignedIn:
    """The end of the walk: the bearer, and the answer to the token request."""

    bearer: str
    token: FakeResponse


def sign_in_to_token(
    send: Callable[[FakeRequest], FakeResponse],
    base_url: str,
    username: str,
    password: str,
    *,
    accept: str = _JSON,
    endpoint_id: str = "pytest-relaytokens",
    credential_hosts: Iterable[str] = (),
) -> SignedIn:
    """Walk a UCWA server as a client does: autodiscover, the user resource's 401 and its
    ``MsRtcOAuth`` challenge, the WebTicket password grant, the application, the media relay
    token (asked for with ``accept``; its answer is returned whatever its status).

    The password goes only to ``base_url``'s origin (scheme, host and port), or to a host in
    ``credential_hosts`` (``host`` or ``host:port``, for deployments whose WebTicket host
    differs), over https or to loopback: a challenge ``href`` pointing elsewhere is refused.
    Every other step must succeed (2xx; the challenge a 401), else :class:`SignInError` names
    the step and the status (never the body).
    """
    base = base_url.rstrip("/")
    allowed = [_host_and_port(entry) for entry in credential_hosts if entry.strip()]

    def call(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> FakeResponse:
        return send(FakeRequest.build(method, urljoin(base + "/", url), headers, body))

    def document(response: FakeResponse, step: str, status: int | None = None) -> Any:
        wanted = response.status == status if status else 200 <= response.status < 300
        try:
            found = response.json() if wanted else None
        except ValueError:
            found = None
        if found is None:
            raise SignInError(
                f"UCWA server at {base}: {step} answered {response.status} "
                f"({body_digest(response.body)})"
            )
        return found

    def link(doc: Any, *keys: str) -> str:
        for key in keys:
            doc = doc.get(key) if isinstance(doc, dict) else None
        if not isinstance(doc, str):
            raise SignInError(f"UCWA server at {base}: no {'.'.join(keys)} link")
        return doc

    root = document(call("GET", AUTODISCOVER_ROOT, {"Accept": _JSON}), "autodiscover")
    user_url = urljoin(base + "/", link(root, "_links", "user", "href"))
    challenge = call("GET", user_url, {"Accept": _JSON})
    params = challenge_params(challenge.header_all("WWW-Authenticate"), "MsRtcOAuth")
    if challenge.status != 401 or params is None or not params.get("href"):
        raise SignInError(
            f"UCWA server at {base}: no MsRtcOAuth challenge on {user_url} "
            f"(answered {challenge.status})"
        )
    grant_url = urljoin(user_url, params["href"])
    target = urlsplit(grant_url)
    secure = target.scheme == "https" or (
        target.scheme == "http" and is_loopback(target.hostname or "")
    )
    if not secure or not _may_receive_password(target, urlsplit(base), allowed):
        raise SignInError(
            f"UCWA server at {base}: refusing to send the password to "
            f"{target.scheme}://{target.netloc.rpartition('@')[2]} (the MsRtcOAuth href must be "
            "on the configured origin, scheme, host and port, or a host listed in "
            f"{CREDENTIAL_HOSTS_VARIABLE}, over https or loopback)"
        )
    form = urlencode({"grant_type": "password", "username": username, "password": password})
    grant = call(
        "POST",
        grant_url,
        {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8", "Accept": _JSON},
        form.encode(),
    )
    bearer = link(document(grant, "WebTicket"), "access_token")
    auth = {"Authorization": f"Bearer {bearer}", "Accept": _JSON}
    user = document(call("GET", user_url, auth), "user")
    apps_url = urljoin(user_url, link(user, "_links", "applications", "href"))
    body = json.dumps(
        {"UserAgent": "pytest-relaytokens", "EndpointId": endpoint_id, "Culture": "en-US"}
    ).encode()
    app = document(
        call("POST", apps_url, {**auth, "Content-Type": _JSON}, body), "applications", 201
    )
    token_href = link(app, "_embedded", "communication", "_links", "mediaRelayAccessToken", "href")
    token = call("GET", urljoin(apps_url, token_href), {**auth, "Accept": accept})
    return SignedIn(bearer, token)


CREDENTIAL_HOSTS_VARIABLE = "RELAYTOKENS_UCWA_CREDENTIAL_HOSTS"
"""The environment variable listing extra hosts the live password may go to."""
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port that is no number: matches nothing
        return -1


def _host_and_port(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or an https URL, as ``(host, port or None for any)``."""
    entry = entry.strip()
    parts = urlsplit(entry if "//" in entry else f"//{entry}")
    port = _port(parts) if parts.scheme else (parts.port if parts.netloc else None)
    return (parts.hostname or "").lower().rstrip("."), port


def _may_receive_password(
    target: SplitResult, home: SplitResult, allowed: list[tuple[str, int | None]]
) -> bool:
    """Same origin as ``home`` (RFC 6454: scheme, host and port), or a listed host."""
    host = (target.hostname or "").lower().rstrip(".")
    if not host:
        return False
    if (
        target.scheme.lower() == home.scheme.lower()
        and host == (home.hostname or "").lower().rstrip(".")
        and _port(target) == _port(home)
    ):
        return True
    return any(host == name and port in (None, _port(target)) for name, port in allowed)


# --- the fake's SfB Online sign-in -----------------------------------------------------------


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
