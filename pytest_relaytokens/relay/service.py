"""A stateful fake of the Relay token API and a few token-protected endpoints.

Routes: ``POST /api/auth/accesstokens`` (Basic or ``?seamaccesstoken=``),
``GET /api/auth/accesstokens/{token}``, ``GET /api/enterprises/self``,
``GET /api/endpoints`` (READONLY) and ``POST /api/endpoints`` (READWRITE), plus the user
routes added with :meth:`RelayService.route` (authenticated like every other route).
Everything not documented (validation, 403, 404 bodies, rate-limit body) follows the
inferred catalogue entries in :mod:`pytest_relaytokens.relay.catalogue`.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as _dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, bind_clock
from ..http import (
    Dispatched,
    FakeRequest,
    FakeResponse,
    FakeService,
    Fault,
    Responder,
    TokenPolicy,
    UserRoute,
)
from . import DEFAULT_BASE_URL
from .catalogue import json_headers, lookup_relay_error
from .factories import DEFAULT_LIFETIME, PAIRING_LIFETIME, RelayTokenFactory
from .models import (
    KNOWN_ROLES,
    ROLE_PAIRINGCODE,
    ROLE_READONLY,
    ROLE_READWRITE,
    RelayAccessToken,
    RelayCredentials,
    TokenStore,
)
from .responses import RelayResponses
from .urls import TOKEN_RE, TOKENS_PATH, known_methods, normal_path
from .wire import render_enterprise, render_json, render_token

__all__ = ["RelayService", "UserRoute", "decode_basic"]

_DURATION_RE = re.compile(r"[+-]?\d{1,19}")
_LONG_MAX = 2**63 - 1
_RATE_LIMIT = 2
_RATE_WINDOW = _dt.timedelta(seconds=1)


_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def decode_basic(encoded: str) -> str | None:
    """The ``user:password`` text of Basic credentials (RFC 7617), or None when they are not
    base64 as ``java.util.Base64.getDecoder()`` reads it (Spring Security's
    ``BasicAuthenticationConverter``): the standard alphabet only; padding optional, but when
    present exactly what the last unit needs, and nothing after it. The padding is checked
    here, so every Python decodes alike (3.13's ``b64decode`` refuses excess padding that
    3.10-3.12 accept); then UTF-8."""
    text = encoded.strip(" \t")
    data = text.rstrip("=")
    padding = len(text) - len(data)
    if not data or not set(data) <= _BASE64_ALPHABET:
        return None
    if len(data) % 4 == 1:  # Java: "Last unit does not have enough valid bits"
        return None
    if padding and (len(text) % 4 or padding != -len(data) % 4):
        return None  # Java: "Input byte array has incorrect ending byte" (or wrong padding)
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


@dataclass
class _Caller:
    kind: str | None
    roles: frozenset[str]


class _Reject(Exception):
    def __init__(self, response: FakeResponse, kind: str | None) -> None:
        super().__init__(response.status)
        self.response = response
        self.kind = kind


class RelayService(RelayResponses, FakeService):
    """The Relay fake. See the module docstring for the routes."""

    name = "relay"
    #: Routing prefix when Relay shares a host with the UCWA fake (matched case-insensitively).
    path_prefix = "/api/"
    #: Relay ran on Spring Boot, whose response compression is off unless configured: no
    #: gzip, whatever the client accepts (inferred).
    compress_responses = False

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        clock: Clock | None = None,
        seed: int = 0,
        policy: TokenPolicy | None = None,
        rate_limit: bool = False,
        cors_origins: tuple[str, ...] | list[str] | None = None,
    ) -> None:
        super().__init__(base_url=base_url, clock=clock, cors_origins=cors_origins)
        self.policy = policy or TokenPolicy()
        self.rate_limit = rate_limit
        self.factory = RelayTokenFactory(seed, self.clock, self.policy)
        self.enterprise = self.factory.build_enterprise()
        self.tokens = TokenStore()
        self._recent: collections.deque[_dt.datetime] = collections.deque()
        self._seam_tokens = {self.factory.seam_token()}
        pairing_code = self.factory.pairing_code()
        self._pairing_codes = {pairing_code: (self.factory.object_id(), self.factory.object_id())}
        self.endpoints: list[dict[str, Any]] = [self._endpoint(n) for n in ("Board Room", "Lobby")]
        password = "".join(self.factory.rng.choices("abcdefghjkmnpqrstuvwxyz23456789", k=16))
        full = self.issue_token(client_name="pytest-relaytokens")
        readonly = self.issue_token(roles=[ROLE_READONLY], client_name="pytest-relaytokens")
        self.credentials = RelayCredentials(
            username=f"{self.enterprise.name}-admin",
            password=password,
            seam_token=next(iter(self._seam_tokens)),
            enterprise_name=self.enterprise.name,
            access_token=full.access_token,
            readonly_access_token=readonly.access_token,
            pairing_code=pairing_code,
        )

    # public helpers ----------------------------------------------------------------------
    @property
    def issued_tokens(self) -> list[RelayAccessToken]:
        """Every token issued so far, oldest first (the two pre-issued ones come first)."""
        with self._lock:
            return list(self.tokens.issued)

    def server_now(self) -> _dt.datetime:
        """The fake server's clock: the shared clock plus the policy's server skew."""
        return self.clock.now() + self.policy.server_skew

    def token_url(self, **query: str) -> str:
        """The absolute create URL, with optional query parameters."""
        from urllib.parse import urlencode

        suffix = f"?{urlencode(query)}" if query else ""
        return f"{self.base_url}{TOKENS_PATH}{suffix}"

    def lookup_token(self, token: str) -> RelayAccessToken | None:
        with self._lock:
            return self.tokens.get(token)

    def issue_token(
        self,
        *,
        roles: list[str] | None = None,
        duration_ms: int = 0,
        client_name: str | None = None,
    ) -> RelayAccessToken:
        """Issue and record a token as the create call would (``duration_ms``: 0 default,
        -1 never, else milliseconds)."""
        if duration_ms < -1:
            raise ValueError(f"duration_ms must be -1, 0 or positive, got {duration_ms}")
        unknown = [r for r in roles or () if r not in KNOWN_ROLES]
        if unknown:
            raise ValueError(f"unknown roles {unknown}; valid: {list(KNOWN_ROLES)}")
        with self._lock:
            return self._issue(
                sorted(set(roles or (ROLE_READONLY, ROLE_READWRITE))), duration_ms, client_name
            )

    def route_key(self, path: str) -> str:
        """Routes live under ``/api/`` (e.g. ``GET /api/failures/``); a trailing slash is
        optional for the client. A route behind a role (any of ``roles``) answers 403 to a
        token without one; the fake's own 401 comes first."""
        if not isinstance(path, str) or not path.startswith("/api/"):
            raise ValueError(f"route(): path must start with '/api/', got {path!r}")
        if "?" in path or "#" in path:
            raise ValueError(f"route(): path must not carry a query or fragment, got {path!r}")
        return normal_path(path)

    def route_roles(self, roles: Iterable[str] | None) -> frozenset[str] | None:
        if roles is None:
            return None
        if isinstance(roles, str):
            raise TypeError(f"route(): roles must be a list of role names, got {roles!r}")
        unknown = [r for r in roles if r not in KNOWN_ROLES]
        if unknown:
            raise ValueError(f"route(): unknown roles {unknown}; valid: {list(KNOWN_ROLES)}")
        return frozenset(roles)

    def revoke(self, token: str | RelayAccessToken) -> RelayAccessToken:
        """Revoke an issued token: later requests carrying it get the same 401 as an unknown
        token, and ``GET /api/auth/accesstokens/{token}`` answers 404. A test-side control:
        Relay documents no revocation endpoint."""
        value = token.access_token if isinstance(token, RelayAccessToken) else token
        with self._lock:
            found = self.tokens.get(value) if isinstance(value, str) else None
            if found is None:
                raise LookupError(
                    f"revoke(): {str(value)[:8]!r}... is not a token this fake issued"
                )
            self.tokens.revoked.add(found.access_token)
            return found

    def is_revoked(self, token: str) -> bool:
        with self._lock:
            return token in self.tokens.revoked

    def allowed_methods(self, path: str) -> frozenset[str] | None:
        """The methods served at ``path`` (built-in and user routes); None elsewhere."""
        normal = normal_path(path)
        methods = set(self.user_route("GET", normal)[1])
        methods.update(known_methods(normal) or ())
        return frozenset(methods) if methods else None

    def carried_token(self, request: FakeRequest) -> str | None:
        """The issued token the request carries (``X-Access-Token`` or ``?accesstoken=``)."""
        for candidate in (request.header("X-Access-Token"), request.query_value("accesstoken")):
            if candidate is not None and self.tokens.get(candidate) is not None:
                return candidate
        return None

    def error_responder(self, name: str) -> Responder:
        """A responder answering with the catalogue error ``name`` (a name or an id)."""
        entry = lookup_relay_error(name)
        return lambda request: entry.response(when=self.server_now())

    def arm_error(
        self,
        name: str,
        *,
        times: int | None = 1,
        path: str | None = None,
        optional: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching requests with the catalogue error ``name``.
        Strict: unless ``optional``, a request must take it (``times=None``: at least one)."""
        entry = lookup_relay_error(name)
        return self.arm(
            self.error_responder(entry.id),
            times=times,
            path=path,
            label=f"relay error {entry.id}",
            optional=optional,
        )

    # dispatch ----------------------------------------------------------------------------
    def dispatch(self, request: FakeRequest) -> Dispatched:
        response, kind, matched = self._dispatch(request)
        if response.token is None:
            carried = self.carried_token(request)
            if carried is not None:
                response = response.copy()
                response.token = carried
        return response, kind, matched

    def _dispatch(self, request: FakeRequest) -> Dispatched:
        path = normal_path(request.path)
        method = request.method.upper()
        token_match = TOKEN_RE.match(path)
        user_route, user_methods = self.user_route(method, path)
        known = known_methods(path)
        if user_methods:
            known = tuple(sorted(user_methods.union(known or ())))
        if self.rate_limit:
            limited = self._rate_limited()
            if limited is not None:
                return limited, None, known is not None and method in known
        if known is None:
            return (
                self._error("ResourceNotFound", f"No resource at {path}.", {"path": path}),
                None,
                False,
            )
        if method not in known:
            return (
                self._error(
                    "MethodNotAllowed",
                    f"Request method '{method}' not supported.",
                    {"method": method, "path": path, "allowed": list(known)},
                ),
                None,
                False,
            )
        creating = path == TOKENS_PATH and method == "POST"
        kind: str | None = None
        try:
            caller = self._authenticate(request, creating=creating and user_route is None)
            kind = caller.kind
            if user_route is not None:
                if user_route.roles is not None:
                    self._require(caller, *sorted(user_route.roles))
                response = self._serve_route(user_route, request)
            elif creating:
                response = self._create(request, caller)
            elif token_match:
                response = self._get_token(token_match.group(1))
            elif path == "/api/enterprises/self":
                response = self._ok(render_enterprise(self.enterprise))
            elif method == "GET":
                self._require(caller, ROLE_READONLY, ROLE_READWRITE)
                response = self._ok(render_json(self.endpoints))
            else:
                self._require(caller, ROLE_READWRITE)
                response = self._create_endpoint(request)
        except _Reject as reject:
            return reject.response, reject.kind or kind, True
        return response, kind, True

    # authentication ----------------------------------------------------------------------
    def _authenticate(self, request: FakeRequest, *, creating: bool) -> _Caller:
        seam = request.query_value("seamaccesstoken")
        if creating and seam is not None:
            return self._check(seam in self._seam_tokens, "seamaccesstoken", self._admin_roles)
        authorization = request.header("Authorization")
        if authorization is not None and authorization[:6].lower() == "basic ":
            return self._check(self._basic_ok(authorization[6:]), "basic", self._admin_roles)
        for kind, token in (
            ("accesstoken-query", request.query_value("accesstoken")),
            ("x-access-token", request.header("X-Access-Token")),
        ):
            if token is None:
                continue
            found = self.tokens.get(token)
            live = self.tokens.live(token)
            valid = not creating and live is not None and not live.is_expired(self.server_now())
            return self._check(valid, kind, frozenset(found.roles) if found else frozenset())
        raise _Reject(self._unauthorized(), "seamaccesstoken" if seam is not None else None)

    _admin_roles = frozenset({ROLE_READONLY, ROLE_READWRITE})

    def _check(self, valid: bool, kind: str, roles: frozenset[str]) -> _Caller:
        if not valid:
            raise _Reject(self._unauthorized(), kind)
        return _Caller(kind, roles)

    def _basic_ok(self, encoded: str) -> bool:
        raw = decode_basic(encoded)
        if raw is None:
            return False
        username, sep, password = raw.partition(":")
        creds = getattr(self, "credentials", None)
        return (
            bool(sep)
            and creds is not None
            and (username, password) == (creds.username, creds.password)
        )

    def _require(self, caller: _Caller, *any_of: str) -> None:
        if not caller.roles.intersection(any_of):
            raise _Reject(
                self._error(
                    "AccessDeniedException",
                    "Access is denied.",
                    {"requiredRole": " or ".join(any_of), "roles": sorted(caller.roles)},
                ),
                caller.kind,
            )

    # handlers ----------------------------------------------------------------------------
    def _create(self, request: FakeRequest, caller: _Caller) -> FakeResponse:
        code = request.query_value("code")
        roles = self._parse_roles(
            request.query_value("roles"), pairing=code is not None, kind=caller.kind
        )
        duration = self._parse_duration(request.query_value("duration"), caller.kind)
        client_name = request.query_value("clientname")
        if code is None:
            token = self._issue(roles, duration, client_name)
            return self._ok(render_token(token))
        if caller.kind != "seamaccesstoken":
            raise _Reject(
                self._invalid("code", code, "a pairing code needs seamaccesstoken credentials"),
                caller.kind,
            )
        pairing = self._pairing_codes.get(code)
        if pairing is None:
            raise _Reject(self._unauthorized(), caller.kind)
        token = self._issue([ROLE_PAIRINGCODE], duration, client_name, pairing=pairing)
        return self._ok(render_token(token))

    def _parse_roles(self, raw: str | None, *, pairing: bool, kind: str | None) -> list[str]:
        if pairing:
            return [ROLE_PAIRINGCODE]
        roles = [r.strip() for r in (raw or "").split(",") if r.strip()]
        if not roles:
            return [ROLE_READONLY, ROLE_READWRITE]
        bad = [r for r in roles if r not in (ROLE_READONLY, ROLE_READWRITE)]
        if bad:
            hint = (
                "ROLE_PAIRINGCODE needs a Zero Touch code"
                if bad == [ROLE_PAIRINGCODE]
                else "valid roles: ROLE_READONLY, ROLE_READWRITE"
            )
            raise _Reject(self._invalid("roles", raw or "", hint), kind)
        return sorted(set(roles))

    def _parse_duration(self, raw: str | None, kind: str | None) -> int:
        if raw is None or raw == "":
            return 0
        text = raw.strip()
        hint = "milliseconds: 0 for the default two weeks, -1 for never, or a positive number"
        if not _DURATION_RE.fullmatch(text):
            raise _Reject(self._invalid("duration", raw, f"expected {hint}"), kind)
        value = int(text)
        if value < -1 or value > _LONG_MAX:
            raise _Reject(self._invalid("duration", raw, f"expected {hint}"), kind)
        try:
            self.server_now() + _dt.timedelta(milliseconds=max(value, 0))
        except OverflowError:
            raise _Reject(self._invalid("duration", raw, "too long for a date"), kind) from None
        return value

    def _get_token(self, token: str) -> FakeResponse:
        found = self.tokens.live(token)
        if found is None:
            raise _Reject(
                self._error(
                    "AccessTokenNotFound", "Access token not found.", {"accessToken": token}
                ),
                None,
            )
        return self._ok(render_token(found))

    def _create_endpoint(self, request: FakeRequest) -> FakeResponse:
        try:
            document = json.loads(request.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _Reject(
                self._invalid(
                    "body", request.body[:60].decode("utf-8", "replace"), f"malformed JSON: {exc}"
                ),
                None,
            ) from None
        if not isinstance(document, dict) or not isinstance(document.get("name", ""), str):
            raise _Reject(
                self._invalid(
                    "body", str(document)[:60], "expected a JSON object with a string name"
                ),
                None,
            )
        endpoint = self._endpoint(document.get("name") or "New Endpoint")
        endpoint.update({k: v for k, v in document.items() if k not in ("id", "password")})
        self.endpoints.append(endpoint)
        response = self._ok(render_json(endpoint), status=201)
        response.headers.append(("Location", f"/api/endpoints/{endpoint['id']}"))
        return response

    def _serve_route(self, route: UserRoute, request: FakeRequest) -> FakeResponse:
        def base_headers(content_type: str) -> list[tuple[str, str]]:
            headers = json_headers(self.server_now())
            if content_type.startswith("application/json"):
                return headers
            return [(k, v) for k, v in headers if k.lower() != "content-type"] + [
                ("Content-Type", content_type)
            ]

        return route.answer(request, base_headers, render_json)

    # building blocks ---------------------------------------------------------------------
    def _issue(
        self,
        roles: list[str],
        duration_ms: int,
        client_name: str | None,
        pairing: tuple[str, str] | None = None,
    ) -> RelayAccessToken:
        created = self.server_now()
        if duration_ms == -1:
            default: _dt.timedelta | None = None
        elif duration_ms > 0:
            default = _dt.timedelta(milliseconds=duration_ms)
        else:
            default = PAIRING_LIFETIME if pairing else DEFAULT_LIFETIME
        fields: dict[str, Any] = {
            "access_token": self._fresh_token_string(),
            "client_name": client_name,
            "creation_date": created,
            "enterprise_name": self.enterprise.name,
            "expiration_date": self.policy.expiry(created, default),
            "roles": roles,
        }
        if pairing is not None:
            fields["pairing_code_id"], fields["pairing_code_endpoint_id"] = pairing
        token = RelayAccessToken.model_validate(fields)
        bind_clock(token, self.clock)
        self.tokens.add(token)
        return token

    def _fresh_token_string(self) -> str:
        while True:
            candidate = self.factory.access_token_string()
            if self.tokens.get(candidate) is None:
                return candidate

    def _endpoint(self, name: str) -> dict[str, Any]:
        octets = [str(self.factory.rng.randrange(2, 250)) for _ in range(2)]
        return {
            "id": self.factory.object_id(),
            "name": name,
            "addressStyle": "IP_ADDRESS",
            "controlProtocol": "TANDBERG_HTTP",
            "signalingProtocol": "H323",
            "dialStyle": "ANNEX_O",
            "ipAddress": "10.20." + ".".join(octets),
            "listenerServiceId": "527ca9e2776a7e02dd2e15fe",
            "password": None,
            "username": "admin",
        }

    def _rate_limited(self) -> FakeResponse | None:
        now = self.server_now()
        while self._recent and (now - self._recent[0] >= _RATE_WINDOW or self._recent[0] > now):
            self._recent.popleft()
        if len(self._recent) >= _RATE_LIMIT:
            return lookup_relay_error("TooManyRequests").response(when=now)
        self._recent.append(now)
        return None
