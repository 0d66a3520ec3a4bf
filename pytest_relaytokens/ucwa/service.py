"""A stateful UCWA fake: the whole sign-in surface a real client walks around
``mediaRelayAccessToken``.

Discovery (the lyncdiscover root ``/`` and the autodiscover forms, case-insensitive as on
IIS), the ``user`` resource before and after authentication, WebTicket grants (``password``
and ``urn:microsoft.rtc:anonmeeting``) or, as the ``online=True`` deployment, an Azure AD
token endpoint issuing JWT bearers; applications (re-registration returns the existing one),
``makeMeAvailable``, ``reportMyActivity``, an event channel, the token and relay resources,
user routes under an application, and revocation as a test-side control.

Links in bodies are built from the request's scheme and host, so the same fake works behind
``responses``, ``httpx`` or the loopback server on any port.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .._prebuilt import Prebuilt
from ..clock import Clock
from ..errors import WireFormatError
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
from .batch import BatchError, boundary_of, parse_batch, render_batch
from .catalogue import lookup_ucwa_error, ucwa_headers
from .credentials import IssuedCredentials
from .factories import UcwaTokenFactory
from .models import (
    Application,
    ApplicationStore,
    Bearer,
    MediaRelay,
    MediaRelayAccessToken,
    UcwaCredentials,
)
from .online import JwtClaims, aad_token_body, encode_jwt
from .responses import UcwaResponses, application_base
from .surface import (
    BLANK_PHOTO,
    XFRAME_HTML,
    application_doc,
    domain_of,
    down_level_logon,
    events_href,
    leaf_doc,
    make_me_available_events,
    origin_of,
    root_doc,
    user_doc,
)
from .urls import (
    AAD_AUTHORIZE_PATH,
    REPLACEABLE,
    SUBRESOURCES,
    TOKEN_PATH_PATTERN,
    WEBTICKET_PATH,
    app_path,
    fixed_path,
    parse_path,
    split_path,
    subresource,
)
from .wire import (
    UcwaQuirks,
    parse_input,
    relay_resource,
    render_json,
    render_xml,
)

__all__ = ["UcwaService", "UcwaUserRoute"]

BEARER_LIFETIME = _dt.timedelta(hours=8)
#: Anonymous meeting-join tokens live one hour (reference §6.1).
ANONYMOUS_BEARER_LIFETIME = _dt.timedelta(hours=1)
#: Azure AD access tokens live about an hour (``expires_in`` "3599").
ONLINE_BEARER_LIFETIME = _dt.timedelta(seconds=3599)
#: An application ends this long after its last event-channel release, or, if it never
#: polled events, after its last request (documented: 15 minutes).
APPLICATION_IDLE_LIFETIME = _dt.timedelta(minutes=15)
#: How many live applications one user may have before the least recently used one ends
#: with 410 TooManyApplications. Inferred (the limit is undocumented).
MAX_APPLICATIONS = 25
#: Longest real time an event P-GET holds a thread (the client's ``timeout`` is honoured on
#: the fake's clock, but never held for longer than this in real seconds). Inferred.
EVENT_HOLD_SECONDS = 1.0
EVENT_TIMEOUT_DEFAULT = 180
#: The documented range of ``timeout``; values outside it are clamped (inferred).
EVENT_TIMEOUT_MIN, EVENT_TIMEOUT_MAX = 180, 1800
_MAX_CODES = 1000
#: Highest ``X-MS-RequiresMinResourceVersion`` the fake serves.
RESOURCE_VERSION = 2.0

#: A resource version as clients send it (``2``, ``2.0``): plain decimal digits, no sign,
#: exponent, hex, ``nan``/``inf`` or inner spaces (inferred; see docs/errors.md).
_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def version_too_high(value: str) -> bool | None:
    """Whether an ``X-MS-RequiresMinResourceVersion`` value asks for more than
    :data:`RESOURCE_VERSION`; None when it is not a plain decimal number (-> 400). The
    whitespace HTTP allows around a field value (SP, HTAB) is not part of it."""
    value = value.strip(" \t")
    if _VERSION.fullmatch(value) is None:
        return None
    return Decimal(value) > Decimal(str(RESOURCE_VERSION))


_FIRST_NAMES = ("Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi")
_ALLOWED_MODALITIES = frozenset({"messaging", "phoneaudio"})
_ANON_GRANT = "urn:microsoft.rtc:anonmeeting"


#: A route a test added under every application (see :meth:`UcwaService.route`).
UcwaUserRoute = UserRoute


_NEW_RELAY = Prebuilt(MediaRelay)


def _parse_body(request: FakeRequest) -> dict[str, Any] | None:
    """The body as a flat dict; a JSON object with one trailing comma (as in the docs' own
    sample) is accepted."""
    content_type = request.header("Content-Type")
    try:
        return parse_input(request.body, content_type, "request body")
    except WireFormatError:
        text = request.body.decode("utf-8", "replace").rstrip()
        if not text.endswith("}"):
            raise
        inner = text[:-1].rstrip()
        if not inner.endswith(","):
            raise
        return parse_input(inner[:-1] + "}", content_type, "request body")


def _server_clock(service: UcwaService) -> Callable[[], _dt.datetime]:
    """``service.server_now`` for the credentials the service owns, without a reference to
    the service: a bound method would close a cycle (service, credentials, method), so a
    finished test's service and every exchange it logged would wait for the garbage
    collector's full pass instead of going when the test lets go of them."""
    alive = weakref.ref(service)
    clock = service.clock

    def now() -> _dt.datetime:
        found = alive()
        return clock.now() if found is None else found.server_now()

    return now


class UcwaService(UcwaResponses, FakeService):
    """The UCWA front end (``fe1.contoso.com``) as a stateful fake.

    ``online=True`` is the SfB Online deployment: the 401 challenge carries
    ``authorization_uri`` (on this fake's own host), users sign in at the Azure AD token
    endpoint ``/common/oauth2/token`` and carry JWT bearers whose ``aud`` must be this host;
    WebTicket then takes only the anonymous grant. See "The UCWA surface" in docs/transports.md.
    """

    name = "ucwa"

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        clock: Clock | None = None,
        seed: int = 0,
        policy: TokenPolicy | None = None,
        quirks: UcwaQuirks | None = None,
        online: bool = False,
        cors_origins: tuple[str, ...] | list[str] | None = None,
    ) -> None:
        super().__init__(base_url=base_url, clock=clock, cors_origins=cors_origins)
        self.policy = policy or TokenPolicy()
        self.quirks = quirks or UcwaQuirks()
        self.online = online
        self.factory = UcwaTokenFactory(seed, self.clock, self.policy)
        self.application_idle_lifetime: _dt.timedelta | None = APPLICATION_IDLE_LIFETIME
        self.max_applications: int | None = MAX_APPLICATIONS
        self.event_hold_seconds = EVENT_HOLD_SECONDS
        self.pretty = False
        self.issued_tokens: list[MediaRelayAccessToken] = []
        #: the TURN credentials issued (live or not) and where their relays point
        self.media_credentials = IssuedCredentials(
            self.issued_tokens, _server_clock(self), self.clock
        )
        self._fqdn: tuple[str, str] = ("", "")
        self._events_changed = threading.Condition(self._lock)
        self._bearers: dict[str, Bearer] = {}
        self.applications = ApplicationStore(self._events_changed.notify_all)
        self._codes: dict[str, tuple[str, str]] = {}
        self._surface_rng = random.Random(f"ucwa-surface-{seed}")
        self._jwt_key = self._surface_rng.randbytes(32)
        self.tenant_id = str(uuid.UUID(int=self._surface_rng.getrandbits(128), version=4))
        sip = self.factory.sip_uri()
        first = self.factory.rng.choice(_FIRST_NAMES)
        password = f"{first}-{self.factory.rng.randint(1000, 9999)}!"
        conference_id = "".join(self._surface_rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ", k=8))
        self.credentials = UcwaCredentials(
            username=sip.removeprefix("sip:"),
            password=password,
            bearer="",
            application_id="",
            sip_uri=sip,
            conference_uri=f"{sip};gruu;opaque=app:conf:focus:id:{conference_id}",
            conference_key=str(self._surface_rng.randint(1_000_000, 9_999_999)),
        )
        self.credentials.bearer = self.issue_bearer()
        self.credentials.application_id = self.create_application()

    # --- helpers a test calls ---------------------------------------------------------------
    @property
    def fqdn(self) -> str:
        cached = self._fqdn
        if cached[0] != self.base_url:  # base_url is reassigned when a server starts
            cached = (self.base_url, urlsplit(self.base_url).hostname or "fe1.contoso.com")
            self._fqdn = cached
        return cached[1]

    @property
    def discovery_hosts(self) -> tuple[str, str]:
        """``lyncdiscoverinternal.<domain>`` and ``lyncdiscover.<domain>`` for the user's SIP
        domain: the hosts clients build to discover this pool (the plugin serves them too)."""
        domain = domain_of(self.credentials.sip_uri).lower()
        return f"lyncdiscoverinternal.{domain}", f"lyncdiscover.{domain}"

    def server_now(self) -> _dt.datetime:
        """The server's clock: the shared clock plus ``policy.server_skew``."""
        return self.clock.now() + self.policy.server_skew

    def token_path(self, application_id: str | None = None) -> str:
        """``/ucwa/oauth/v1/applications/{id}/communication/mediaRelayAccessToken``."""
        app = application_id or self.credentials.application_id
        return f"/ucwa/oauth/v1/applications/{app}/communication/mediaRelayAccessToken"

    def token_url(self, application_id: str | None = None) -> str:
        return self.base_url + self.token_path(application_id)

    def issue_bearer(self, *, audience: str | None = None) -> str:
        """A new bearer valid for 8 hours (or as the token policy says): ``cwt=...``, or
        online a JWT for ``audience`` (default: this fake's base URL) valid about an hour."""
        with self._lock:
            now = self.server_now()
            if not self.online:
                token = self.factory.bearer_token()
                self._bearers[token] = Bearer(self.policy.expiry(now, BEARER_LIFETIME))
                return token
            expires = self.policy.expiry(now, ONLINE_BEARER_LIFETIME) or now + _dt.timedelta(
                days=365
            )
            claims = JwtClaims(
                audience=audience or self.base_url,
                issued_at=now,
                expires_at=expires,
                tenant_id=self.tenant_id,
                upn=self.credentials.username,
                client_id=str(uuid.UUID(int=self._surface_rng.getrandbits(128), version=4)),
                object_id=str(uuid.UUID(int=self._surface_rng.getrandbits(128), version=4)),
            )
            token = encode_jwt(claims, self._jwt_key)
            self._bearers[token] = Bearer(expires, audience=claims.audience)
            return token

    def revoke(self, bearer: str | MediaRelayAccessToken) -> None:
        """Revoke an issued bearer: later requests carrying it get the same 401 as an
        unknown or expired one; or an issued ``MediaRelayAccessToken``: its TURN credential
        stops working. A test-side control: UCWA documents no revocation endpoint."""
        if isinstance(bearer, MediaRelayAccessToken):
            self.media_credentials.revoke(bearer)
            return
        with self._lock:
            record = self._bearers.get(bearer)
            if record is None:
                raise KeyError(
                    f"cannot revoke {bearer[:16]!r}...: this fake never issued that bearer"
                )
            record.revoked = True

    def create_application(
        self,
        *,
        user_agent: str = "pytest-relaytokens/0.1",
        endpoint_id: str | None = None,
        culture: str = "en-US",
        prefix: str = "oauth/v1",
    ) -> str:
        """Register a new application for the user and return its id."""
        with self._lock:
            return self._register(user_agent, endpoint_id, culture, prefix, "Browser", "user").id

    def end_application(
        self, application_id: str, reason: str = "InactiveApplicationExpired"
    ) -> None:
        """End an application as the server does: later requests get 410 Gone with
        ``reason`` (``InactiveApplicationExpired``, ``TooManyApplications`` or
        ``UserAgentNotAllowed``)."""
        allowed = ("InactiveApplicationExpired", "TooManyApplications", "UserAgentNotAllowed")
        if reason not in allowed:
            raise ValueError(f"reason must be one of {', '.join(allowed)}, got {reason!r}")
        with self._lock:
            if application_id not in self.applications.apps:
                raise KeyError(f"no live application {application_id!r}")
            self.applications.end(application_id, reason)

    def push_events(self, application_id: str, sender: Mapping[str, Any]) -> None:
        """Queue one ``sender`` entry (``{"rel", "href", "events": [...]}``) on every event
        channel of the application and wake its pending P-GETs."""
        with self._lock:
            app = self.applications.apps.get(application_id)
            if app is None:
                raise KeyError(f"no live application {application_id!r}")
            self._queue(app, [dict(sender)])

    def route_key(self, path: str) -> str:
        """Routes live under every application of the user
        (``/ucwa/oauth/v1/applications/{id}/<path>``): the key is ``<path>`` lower-cased,
        never a resource the fake serves itself."""
        if not isinstance(path, str) or not split_path(path.split("?")[0]):
            raise ValueError(
                f"route(): path must be a non-empty path below an application, got {path!r}"
            )
        relative = "/" + "/".join(split_path(path.split("?")[0])).lower()
        if relative in SUBRESOURCES and relative not in REPLACEABLE:
            raise ValueError(f"route(): {path!r} is a resource the fake already serves")
        return relative

    def route_roles(self, roles: Iterable[str] | None) -> frozenset[str] | None:
        if roles is not None:
            raise ValueError("UCWA bearers carry no roles: route(roles=...) is for the Relay fake")
        return None

    def allowed_methods(self, path: str) -> frozenset[str] | None:
        """The methods served on ``path`` (None: no such resource). HEAD and OPTIONS are the
        HTTP layer's business."""
        low, parsed = parse_path(path.split("?")[0])
        fixed = fixed_path(low, self.online)
        if fixed is not None:
            return fixed.methods
        if parsed is None:
            return None
        _, app_id, rest = parsed
        if app_id is None:
            return frozenset({"GET", "POST"})
        methods = set(self.user_route("GET", rest)[1])  # routes may replace placeholders
        methods.update(SUBRESOURCES.get(subresource(rest), ()))
        return frozenset(methods) or None

    def arm_error(
        self,
        code_or_name: str,
        subcode: str | None = None,
        *,
        times: int | None = 1,
        path: str | None = None,
        method: str | None = None,
        optional: bool = False,
    ) -> Fault:
        """Answer with a catalogue error in the format the request negotiated.

        By default the error hits the endpoint its row belongs to (``entry.endpoint``): the
        ``mediaRelayAccessToken`` resource, or for a ``webticket`` row the sign-in ``POST
        /WebTicket/oauthtoken``. ``path`` (a regex searched in the request path; ``""``: every
        path) and ``method`` override it. Strict: unless ``optional``, a request must take it
        (``times=None``: at least one) by teardown.
        """
        entry = lookup_ucwa_error(code_or_name, subcode)
        if path is None:
            path, method = entry.endpoint.path, method or entry.endpoint.method
        return self.arm(
            self.error_responder(entry.id),
            times=times,
            path=path,
            method=method,
            label=f"ucwa {entry.id}",
            optional=optional,
        )

    def password_grant_request(self) -> FakeRequest:
        """The sign-in a password-grant client posts (the test user's WebTicket grant)."""
        form = {"grant_type": "password", "username": self.credentials.username}
        form["password"] = self.credentials.password
        return FakeRequest.build(
            "POST",
            self.base_url + WEBTICKET_PATH,
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode(form),
        )

    def error_responder(self, name: str, subcode: str | None = None) -> Responder:
        """A responder answering with catalogue error ``name`` (id, generic name or code) in
        the format the request negotiated; the auth entry answers the bearer 401."""
        entry = lookup_ucwa_error(name, subcode)

        def respond(request: FakeRequest) -> FakeResponse:
            if entry.group == "auth":
                response = self._unauthorized(request)
                response.error_id = entry.id
            else:
                response = entry.response(
                    self._negotiate(request) or "json",
                    fqdn=self.fqdn,
                    authorization_uri=origin_of(request) + AAD_AUTHORIZE_PATH,
                )
            return self._stamp(request, response)

        return respond

    def arm_unauthorized(
        self, times: int | None = 1, *, path: str | None = None, optional: bool = False
    ) -> Fault:
        """Answer with the bearer 401 (both challenges) as if the token had been revoked."""
        return self.arm(
            lambda request: self._stamp(request, self._unauthorized(request)),
            times=times,
            path=TOKEN_PATH_PATTERN if path is None else path,
            label="ucwa 401",
            optional=optional,
        )

    # --- plumbing ---------------------------------------------------------------------------
    def _carried(self, request: FakeRequest) -> str | None:
        header = request.header("Authorization")
        if header is None:
            return None
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or value not in self._bearers:
            return None
        return value

    def carried_token(self, request: FakeRequest) -> str | None:
        """The issued bearer ``request`` carries (for the request log)."""
        with self._lock:
            return self._carried(request)

    def preflight_refused(self, request: FakeRequest, allow: str) -> FakeResponse:
        """A stock 2015 server answers a CORS preflight it does not allow with 400 and
        ``X-Ms-diagnostics: 28020`` (ucwa-client-surface sheet, CORS [B2])."""
        response = self.error_responder("400-BadRequest-28020")(request)
        response.headers.append(("Allow", allow))
        return response

    def _stamp(self, request: FakeRequest, response: FakeResponse) -> FakeResponse:
        """Record on the response which issued bearer the request carried."""
        with self._lock:
            carried = self._carried(request)
        if carried is not None:
            response.token = carried
        return response

    def _authenticate(
        self, request: FakeRequest, now: _dt.datetime | None = None
    ) -> tuple[Bearer | None, str | None]:
        """The bearer record when the request carries a live one, and the credential kind
        (``now``: the server's clock, when the caller already read it)."""
        header = request.header("Authorization")
        if header is None:
            return None, None
        scheme, _, value = header.strip().partition(" ")
        record = self._bearers.get(value.strip()) if scheme.lower() == "bearer" else None
        if record is None or record.revoked:
            return None, "bearer"
        if record.expires is not None and (now or self.server_now()) >= record.expires:
            return None, "bearer"
        return record, "bearer"

    def _audience_ok(self, record: Bearer, request: FakeRequest) -> bool:
        if record.audience is None:
            return True
        origin = origin_of(request)
        wanted = {origin.lower(), urlsplit(origin).netloc.lower(), self.base_url.lower()}
        return record.audience.rstrip("/").lower() in wanted

    # --- dispatch ---------------------------------------------------------------------------
    def dispatch(self, request: FakeRequest) -> Dispatched:
        with self._lock:  # an event P-GET waits on a condition of this lock
            response, kind, expected = self._dispatch(request)
        return self._stamp(request, response), kind, expected

    def _dispatch(self, request: FakeRequest) -> Dispatched:
        low, parsed = parse_path(request.path)
        fixed = fixed_path(low, self.online)
        if fixed is not None:
            if request.method not in fixed.methods:
                return self._method_not_allowed(request, fixed.methods), None, True
            handler: Callable[[FakeRequest], Dispatched] = getattr(self, fixed.handler)
            return handler(request)
        if parsed is not None:
            return self._ucwa(request, *parsed)
        return self._error(request, "ResourceNotFound"), None, False

    def _links_origin(self, request: FakeRequest) -> str:
        """Where discovery links point: the host asked, or from ``lyncdiscover[internal].``
        the pool's web services (``base_url``), as a real discovery answer does."""
        if (request.parts.hostname or "") in self.discovery_hosts:
            return self.base_url
        return origin_of(request)

    def _root(self, request: FakeRequest) -> Dispatched:
        domain = request.query_value("originalDomain") or domain_of(self.credentials.sip_uri)
        origin = self._links_origin(request)
        return self._json(200, root_doc(origin, quote(domain, safe=".-_"))), None, True

    def _xframe(self, request: FakeRequest) -> Dispatched:
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Server", "Microsoft-IIS/7.5")]
        return FakeResponse(200, headers, XFRAME_HTML.encode("utf-8")), None, True

    def _user(self, request: FakeRequest) -> Dispatched:
        record, kind = self._authenticate(request)
        if record is None:
            return self._unauthorized(request), kind, True
        if not self._audience_ok(record, request):
            return self._error(request, "403-Forbidden-28055"), kind, True
        return self._json(200, user_doc(self._links_origin(request))), kind, True

    # --- WebTicket ----------------------------------------------------------------------------
    def _webticket(self, request: FakeRequest) -> Dispatched:
        form = {k.lower(): v[0] for k, v in request.form().items() if v}
        grant = form.get("grant_type")
        if grant is None:
            return self._grant_error("invalid_request"), "password-grant", True
        if grant == _ANON_GRANT:
            return self._anonymous_grant(form), "anonmeeting-grant", True
        if form.get("scope", "all") != "all":  # "the only supported value is all" (D4)
            return self._grant_error("invalid_scope"), "password-grant", True
        if grant == "urn:microsoft.rtc:passive":  # no security token: the documented 28020
            return self._grant_error("PassiveAuthRequired"), "password-grant", True
        if grant != "password" or self.online:
            return self._grant_error("unsupported_grant_type"), "password-grant", True
        user, password = form.get("username", ""), form.get("password", "")
        valid_users = {
            self.credentials.username.lower(),
            self.credentials.sip_uri.lower(),
            down_level_logon(self.credentials.username).lower(),  # DOMAIN\user (C8; C5#9)
        }
        if user.lower() not in valid_users or password != self.credentials.password:
            return self._grant_error("invalid_grant"), "password-grant", True
        bearer = self.issue_bearer()
        return self._ticket(bearer, BEARER_LIFETIME, "local"), "password-grant", True

    def _anonymous_grant(self, form: dict[str, str]) -> FakeResponse:
        uri = form.get("ms_rtc_conferenceuri") or form.get("msrtc_conferenceuri")
        if not uri:
            return self._grant_error("invalid_request")
        if uri != self.credentials.conference_uri or form.get("password", "") != (
            self.credentials.conference_key
        ):
            return self._grant_error("invalid_grant")
        now = self.server_now()
        token = self.factory.bearer_token()
        self._bearers[token] = Bearer(
            self.policy.expiry(now, ANONYMOUS_BEARER_LIFETIME), anonymous=True
        )
        return self._ticket(token, ANONYMOUS_BEARER_LIFETIME, "anonymous")

    def _ticket(self, bearer: str, default: _dt.timedelta, scope: str) -> FakeResponse:
        expiry = self._bearers[bearer].expires
        expires_in = (
            int(default.total_seconds())
            if expiry is None
            else max(0, int((expiry - self.server_now()).total_seconds()))
        )
        body = {
            "access_token": bearer,
            "expires_in": expires_in,
            "ms_rtc_identityscope": scope,
            "token_type": "Bearer",
        }
        return FakeResponse(200, self._grant_headers(), json.dumps(body).encode())

    # --- Azure AD (online) --------------------------------------------------------------------
    def _aad_token(self, request: FakeRequest) -> Dispatched:
        return self._aad_grant(request), "aad", True

    def _aad_grant(self, request: FakeRequest) -> FakeResponse:
        form = {k.lower(): v[0] for k, v in request.form().items() if v}
        grant = form.get("grant_type")
        resource = form.get("resource") or self.base_url
        if grant == "password":
            user, password = form.get("username", ""), form.get("password", "")
            if user.lower() != self.credentials.username.lower() or (
                password != self.credentials.password
            ):
                return self._aad_error("invalid_grant", 50126, "Invalid username or password.")
        elif grant == "authorization_code":
            issued = self._codes.pop(form.get("code", ""), None)
            if issued is None:
                return self._aad_error(
                    "invalid_grant", 70000, "The provided authorization code is invalid."
                )
            resource = form.get("resource") or issued[1]
        elif grant is None:
            return self._aad_error(
                "invalid_request", 900144, "The request body must contain grant_type."
            )
        else:
            return self._aad_error(
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type {grant!r}.",
            )
        if not resource.lower().startswith(("https://", "http://")):
            resource = "https://" + resource
        bearer = self.issue_bearer(audience=resource.rstrip("/"))
        claims = JwtClaims(
            audience=resource.rstrip("/"),
            issued_at=self.server_now(),
            expires_at=self._bearers[bearer].expires or self.server_now(),
            tenant_id=self.tenant_id,
            upn=self.credentials.username,
            client_id=form.get("client_id", ""),
            object_id="",
        )
        body = aad_token_body(bearer, claims, self.server_now())
        headers = [
            ("Cache-Control", "no-store, no-cache"),
            ("Pragma", "no-cache"),
            ("Content-Type", "application/json; charset=utf-8"),
        ]
        return FakeResponse(200, headers, json.dumps(body).encode())

    def _aad_authorize(self, request: FakeRequest) -> Dispatched:
        return self._aad_sign_in(request), None, True

    def _aad_sign_in(self, request: FakeRequest) -> FakeResponse:
        """Sign the fake's user in without a page: 302 to ``redirect_uri`` with a ``code``
        (``response_type=code``) or the token in the fragment (``response_type=token``)."""
        redirect = request.query_value("redirect_uri") or ""
        response_type = (request.query_value("response_type") or "").lower()
        if not redirect.lower().startswith(("https://", "http://")):
            return self._aad_error(
                "invalid_request", 50011, "The redirect_uri is missing or not http(s)."
            )
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in redirect) or response_type not in (
            "code",
            "token",
        ):
            return self._aad_error(
                "unsupported_response_type", 700054, "response_type must be code or token."
            )
        resource = request.query_value("resource") or self.base_url
        state = request.query_value("state")
        if response_type == "code":
            code = self._surface_rng.randbytes(24).hex()
            self._codes[code] = (redirect, resource)
            while len(self._codes) > _MAX_CODES:
                del self._codes[next(iter(self._codes))]
            params = {"code": code} | ({"state": state} if state else {})
            location = redirect + ("&" if "?" in redirect else "?") + urlencode(params)
        else:
            bearer = self.issue_bearer(audience=resource.rstrip("/"))
            expiry = self._bearers[bearer].expires or self.server_now()
            params = {
                "access_token": bearer,
                "token_type": "Bearer",
                "expires_in": str(max(0, int((expiry - self.server_now()).total_seconds()))),
            } | ({"state": state} if state else {})
            location = redirect.split("#")[0] + "#" + urlencode(params)
        return FakeResponse(302, [("Location", location), ("Cache-Control", "no-store")])

    # --- /ucwa/... ---------------------------------------------------------------------------
    def _ucwa(self, request: FakeRequest, prefix: str, app_id: str | None, rest: str) -> Dispatched:
        now = self.server_now()
        record, kind = self._authenticate(request, now)
        if record is None:
            return self._unauthorized(request), kind, True
        if not self._audience_ok(record, request):
            return self._error(request, "403-Forbidden-28055"), kind, True
        version = request.header("X-MS-RequiresMinResourceVersion")
        if version is not None:
            too_high = version_too_high(version)
            if too_high is None:
                return self._error(request, "ParameterValidationFailure"), kind, True
            if too_high:
                return self._error(request, "VersionNotSupported"), kind, True
        owner = self._owner(request, record)
        if app_id is None:
            if request.method == "POST":
                return self._create(request, prefix, record, owner), kind, True
            if request.method == "GET":
                return self._list(request, owner), kind, True
            return self._method_not_allowed(request, ["GET", "POST"]), kind, True
        app, ended = self._live_app(app_id, now, owner)  # ownership: the creator's bearer only
        if app is None:
            return self._error(request, ended), kind, True
        user_route = self._user_route(request, rest)
        if user_route is not None:
            return user_route, kind, True
        allowed = SUBRESOURCES.get(subresource(rest))
        if allowed is None:
            return self._error(request, "ResourceNotFound"), kind, False
        if request.method not in allowed:
            return self._method_not_allowed(request, allowed), kind, True
        return self._app_resource(request, app, rest), kind, True

    def _owner(self, request: FakeRequest, record: Bearer) -> str:
        """Whose applications these are: the user, or one anonymous guest per bearer."""
        return f"anonymous:{self._carried(request)}" if record.anonymous else "user"

    def _app_resource(self, request: FakeRequest, app: Application, rest: str) -> FakeResponse:
        sip = self.credentials.sip_uri
        if rest == "":
            if request.method == "DELETE":
                del self.applications.apps[app.id]
                return self._no_content()
            return self._resource(request, application_doc(app, sip, self._instance(request)))
        if rest == "/me/makemeavailable":
            return self._make_me_available(request, app)
        if rest in ("/me/reportmyactivity", "/reportmyactivity"):  # both documented hrefs
            return self._report_activity(request, app)
        if rest.endswith("invitations"):  # startMessaging & co.: conversations not modelled
            if app.anonymous:
                return self._error(request, "403-Forbidden-AnonymousNotAllowed")
            if not app.available:
                return self._error(request, "409-Conflict-MakeMeAvailableRequired")
            return self._error(request, "403-Forbidden-OperationNotSupported")
        if rest.startswith("/photos/"):
            headers = [("Content-Type", "image/png"), ("Cache-Control", "private, max-age=3600")]
            return FakeResponse(200, headers, BLANK_PHOTO)
        if rest == "/events":
            return self._events(request, app)
        if rest == "/batch":
            return self._batch(request)
        if rest.endswith("/mediarelay"):
            relay = self.media_credentials.point(app.relays)[0].model_copy(
                update={"href": request.path}
            )
            return self._resource(request, relay_resource(relay))
        if rest.endswith("/mediarelayaccesstoken"):
            return self._token(request, app)
        if rest in ("/me/presence", "/me/note", "/me/location") and not app.available:
            if app.anonymous:
                return self._error(request, "403-Forbidden-AnonymousNotAllowed")
            return self._error(request, "409-Conflict-MakeMeAvailableRequired")
        return self._resource(request, leaf_doc(app, rest, sip))

    @staticmethod
    def _instance(request: FakeRequest) -> str:
        return (request.query_value("instanceId") or "").strip()

    # --- application lifetime -----------------------------------------------------------------
    def _live_app(
        self, app_id: str, now: _dt.datetime | None = None, owner: str | None = None
    ) -> tuple[Application | None, str]:
        """The live application (``owner``'s only), or None and the error to answer with."""
        return self.applications.find(
            app_id, now or self.server_now(), self.application_idle_lifetime, owner
        )

    def _register(
        self,
        user_agent: str,
        endpoint_id: str | None,
        culture: str,
        prefix: str,
        app_type: str,
        owner: str,
        *,
        anonymous: bool = False,
    ) -> Application:
        app_id = self.factory.application_id()
        while self.applications.taken(app_id):
            app_id = self.factory.application_id()
        now = self.server_now()
        app = Application(
            id=app_id,
            prefix=prefix,
            user_agent=user_agent,
            endpoint_id=endpoint_id or str(uuid.UUID(int=self.factory.rng.getrandbits(128))),
            culture=culture,
            type=app_type,
            owner=owner,
            created=now,
            last_seen=now,
            relays=[self.factory.build_relay()],
            anonymous=anonymous,
        )
        self.applications.add(app, self.max_applications)
        return app

    def _create(
        self, request: FakeRequest, prefix: str, record: Bearer, owner: str
    ) -> FakeResponse:
        lowered = self._input(request)
        if isinstance(lowered, FakeResponse):
            return lowered
        user_agent = lowered.get("useragent")
        endpoint_id = lowered.get("endpointid")
        culture = lowered.get("culture") or "en-US"
        app_type = lowered.get("type") or "Browser"
        instance = lowered.get("instanceid") or ""
        texts = (user_agent, endpoint_id, culture, app_type, instance)
        if (
            not isinstance(user_agent, str)
            or not user_agent.strip()
            or len(user_agent) > 100
            or not isinstance(endpoint_id, str)
            or not endpoint_id.strip()
            or not all(isinstance(t, str) and len(t) <= 256 for t in texts)
        ):
            return self._error(request, "ParameterValidationFailure")
        assert isinstance(culture, str) and isinstance(app_type, str) and isinstance(instance, str)
        existing = next(
            (
                a
                for a in self.applications.owned_by(owner)
                if a.endpoint_id.lower() == endpoint_id.lower()
                and a.user_agent == user_agent
                and a.culture.lower() == culture.lower()
                and a.type.lower() == app_type.lower()
                and self._live_app(a.id)[0] is not None
            ),
            None,
        )
        if existing is not None and (not instance or instance in existing.instances):
            return self._resource(
                request, application_doc(existing, self.credentials.sip_uri, instance)
            )
        if existing is not None:
            app = existing
            status = 201
        else:
            app = self._register(
                user_agent,
                endpoint_id,
                culture,
                prefix,
                app_type,
                owner,
                anonymous=record.anonymous,
            )
            status = 201
        if instance:
            app.instances.add(instance)
        response = self._resource(
            request, application_doc(app, self.credentials.sip_uri, instance), status=status
        )
        if response.status == 201:
            response.headers.append(("Location", app.base))
            response.headers.append(
                ("Set-Cookie", f"cwt_ucwa={app.id}; path={app.base}/photos; secure; HttpOnly")
            )
        return response

    def _list(self, request: FakeRequest, owner: str) -> FakeResponse:
        sip = self.credentials.sip_uri
        mine = self.applications.owned_by(owner)
        live = [a for a in mine if self._live_app(a.id)[0] is not None]
        doc = {
            "rel": "applications",
            "_links": {"self": {"href": "/ucwa/oauth/v1/applications"}},
            "_embedded": {"application": [application_doc(a, sip) for a in live]},
        }
        return self._resource(request, doc)

    def _input(
        self, request: FakeRequest, *, empty_ok: bool = False
    ) -> dict[str, Any] | FakeResponse:
        """The body's properties with lower-cased names, or the error answering it: 400
        DeserializationFailure for an unreadable body, 415 for one neither JSON nor XML
        (``empty_ok``: an empty body has no properties)."""
        if empty_ok and not request.body.strip():
            return {}
        try:
            values = _parse_body(request)
        except WireFormatError:
            return self._error(request, "DeserializationFailure")
        if values is None:
            return self._error(request, "UnsupportedMediaType")
        return {str(k).lower(): v for k, v in values.items()}

    # --- me ---------------------------------------------------------------------------------
    def _make_me_available(self, request: FakeRequest, app: Application) -> FakeResponse:
        if app.anonymous:
            return self._error(request, "403-Forbidden-AnonymousNotAllowed")
        lowered = self._input(request, empty_ok=True)
        if isinstance(lowered, FakeResponse):
            return lowered
        modalities = lowered.get("supportedmodalities")
        if modalities is not None:
            if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
                return self._error(request, "ParameterValidationFailure")
            if any(m.lower() not in _ALLOWED_MODALITIES for m in modalities):
                return self._error(request, "403-Forbidden")
        sign_in_as = lowered.get("signinas")
        if sign_in_as is not None and not isinstance(sign_in_as, str):
            return self._error(request, "ParameterValidationFailure")
        if app.available:
            return self._error(request, "409-Conflict-AlreadyExists")
        app.available = True
        app.sign_in_as = sign_in_as or "Online"
        app.etag += 1
        self._queue(app, make_me_available_events(app, self.credentials.sip_uri))
        return self._no_content()

    def _report_activity(self, request: FakeRequest, app: Application) -> FakeResponse:
        if app.anonymous:
            return self._error(request, "403-Forbidden-AnonymousNotAllowed")
        if not app.available:
            return self._error(request, "409-Conflict-MakeMeAvailableRequired")
        return self._no_content()

    # --- events -------------------------------------------------------------------------------
    def _queue(self, app: Application, senders: list[dict[str, Any]]) -> None:
        if not app.channels:
            app.channel("")
        for channel in app.channels.values():
            channel.pending.extend(senders)
        self._events_changed.notify_all()

    def _events(self, request: FakeRequest, app: Application) -> FakeResponse:
        if self._accepted(request, json_only=True) is None:  # events are JSON only
            return self._error(request, "NotAcceptable")
        instance = self._instance(request)
        if instance and instance not in app.instances:
            return self._error(request, "ApplicationNotFound")
        channel = app.channel(instance)
        try:
            ack = int(request.query_value("ack") or "")
        except ValueError:
            ack = -1
        try:
            timeout = int(request.query_value("timeout") or EVENT_TIMEOUT_DEFAULT)
        except ValueError:
            timeout = EVENT_TIMEOUT_DEFAULT
        timeout = min(max(timeout, EVENT_TIMEOUT_MIN), EVENT_TIMEOUT_MAX)  # as the JS sample
        if channel.last is not None and ack == channel.last[0]:
            return self._json(200, channel.last[1])
        if ack != channel.ack:
            resync = {"_links": {"resync": {"href": events_href(app, channel.ack, instance)}}}
            return self._json(200, resync)
        channel.generation += 1
        mine = channel.generation
        self._events_changed.notify_all()
        started = self.server_now()
        hold = max(0.0, min(float(timeout), self.event_hold_seconds))
        deadline = time.monotonic() + hold
        while not channel.pending:
            if channel.generation != mine:
                return self._error(request, "PGetReplaced")
            if app.id not in self.applications.apps:
                return self._error(request, self._live_app(app.id)[1])
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.server_now() - started >= _dt.timedelta(seconds=timeout):
                break
            self._events_changed.wait(min(remaining, 0.05))
        number = channel.ack
        body: dict[str, Any] = {
            "_links": {
                "self": {"href": events_href(app, number, instance)},
                "next": {"href": events_href(app, number + 1, instance)},
            },
            "sender": list(channel.pending),
        }
        channel.pending.clear()
        channel.last = (number, body)
        channel.ack = number + 1
        app.last_release = self.server_now()
        return self._json(200, body)

    # --- batch ---------------------------------------------------------------------------------
    def _batch(self, request: FakeRequest) -> FakeResponse:
        """Answer each part as if it came alone (with the batch's bearer when the part has
        none); nested batches, events and photos are refused part by part with 400."""
        try:
            parts = parse_batch(request.body, boundary_of(request.header("Content-Type")))
        except OverflowError:
            return self._error(request, "TooManyRequests")
        except BatchError:
            return self._error(request, "BadRequest")
        origin = origin_of(request)
        authorization = request.header("Authorization")
        answers = []
        for part in parts:
            url = part.target if "://" in part.target else origin + part.target
            headers = list(part.headers)
            if authorization and not any(k.lower() == "authorization" for k, _ in headers):
                headers.append(("Authorization", authorization))
            inner = FakeRequest.build(part.method, url, headers, part.body)
            parsed = app_path(split_path(inner.path))
            refused = (
                origin_of(inner).lower() != origin.lower()
                or parsed is None
                or parsed[2] in ("/batch", "/events")
                or parsed[2].startswith("/photos")
            )
            answers.append(
                self._error(inner, "BadRequest") if refused else self._dispatch(inner)[0]
            )
        boundary = str(uuid.UUID(int=self._surface_rng.getrandbits(128), version=4))
        headers = ucwa_headers(f'multipart/batching; boundary="{boundary}"', self.fqdn)
        return FakeResponse(200, headers, render_batch(answers, boundary))

    # --- user routes ---------------------------------------------------------------------------
    def _user_route(self, request: FakeRequest, rest: str) -> FakeResponse | None:
        chosen, methods = self.user_route(request.method, rest)
        if not methods:
            return None
        if chosen is None:
            return self._method_not_allowed(request, methods)
        return chosen.answer(
            request,
            lambda content_type: ucwa_headers(content_type, self.fqdn),
            lambda document: json.dumps(document).encode("utf-8"),
        )

    # --- token ---------------------------------------------------------------------------------
    @staticmethod
    def _relays_for(app: Application, path: str = "") -> list[MediaRelay]:
        """Copies of the application's relays linked under its base as the request ``path``
        spells it (what ``model_copy`` with a new ``href`` gives, without its machinery)."""
        href = f"{application_base(path, app.base)}/communication/mediaRelay"
        return [_NEW_RELAY({**r.__dict__, "href": href}) for r in app.relays]

    def _token(self, request: FakeRequest, app: Application) -> FakeResponse:
        chosen = self._accepted(request)
        if chosen is None:
            return self._error(request, "NotAcceptable")
        fmt, media = chosen
        token = self.factory.build(
            uri=self.credentials.sip_uri,
            href=request.path,
            media_relays=self._relays_for(app, request.path),
        )
        token = self.media_credentials.issue(token)
        if fmt == "xml":
            body = render_xml(token, self.quirks)
        else:
            body = render_json(token, self.quirks, pretty=self.pretty)
        return FakeResponse(200, ucwa_headers(f"{media}; charset=utf-8", self.fqdn), body)
