"""A stateful UCWA fake: autodiscover, WebTicket password grant, applications and the
``mediaRelayAccessToken`` / ``mediaRelay`` resources, with bearer and application expiry.

Links in bodies are built from the request's scheme and host, so the same fake works behind
``responses``, ``httpx`` or the loopback server on any port.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ..clock import Clock
from ..core import FakeRequest, FakeResponse, FakeService, Fault, Responder, TokenPolicy
from ..errors import WireFormatError
from . import DEFAULT_BASE_URL
from .catalogue import lookup_ucwa_error, ucwa_headers, unauthorized_response
from .factories import UcwaTokenFactory
from .models import MediaRelay, MediaRelayAccessToken
from .wire import (
    UcwaQuirks,
    dump_json,
    dump_xml,
    parse_input,
    relay_resource,
    render_json,
    render_xml,
)

__all__ = ["UcwaCredentials", "UcwaService"]

Format = Literal["json", "xml"]
Dispatched = tuple[FakeResponse, str | None, bool]

AUTODISCOVER_ROOT = "/autodiscover/autodiscoverservice.svc/root"
AUTODISCOVER_USER = AUTODISCOVER_ROOT + "/oauth/user"
WEBTICKET_PATH = "/WebTicket/oauthtoken"
BEARER_LIFETIME = _dt.timedelta(hours=8)
#: Idle time after which an application is gone (404 ApplicationNotFound). Inferred.
APPLICATION_IDLE_LIFETIME = _dt.timedelta(minutes=15)
TOKEN_PATH_PATTERN = r"(?i)/mediaRelayAccessToken/?$"

_APP_RE = re.compile(
    r"^/ucwa/(?P<prefix>(?:oauth/|psanon/)?v1)/applications"
    r"(?:/(?P<app>[^/]+)(?P<rest>/.*?)?)?/?$",
    re.IGNORECASE,
)
_MEDIA_TYPES: dict[str, Format] = {
    "application/json": "json",
    "application/vnd.microsoft.com.ucwa+json": "json",
    "application/xml": "xml",
    "application/vnd.microsoft.com.ucwa+xml": "xml",
    "application/vnd.microsoft.ucwa+xml": "xml",
    "text/xml": "xml",
}
_FIRST_NAMES = ("Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi")


@dataclass
class UcwaCredentials:
    """What a test needs to talk to the fake: the WebTicket user, a pre-issued valid bearer
    (``cwt=...``), a pre-created application id and the user's SIP URI."""

    username: str
    password: str
    bearer: str
    application_id: str
    sip_uri: str


@dataclass
class _Application:
    id: str
    prefix: str
    user_agent: str
    endpoint_id: str
    culture: str
    last_seen: _dt.datetime
    relays: list[MediaRelay] = field(default_factory=list)
    etag: str = "1"


class UcwaService(FakeService):
    """The UCWA front end (``fe1.contoso.com``) as a stateful fake.

    Routes: ``GET /autodiscover/autodiscoverservice.svc/root`` and ``.../root/oauth/user``;
    ``POST /WebTicket/oauthtoken`` (password grant); ``POST /ucwa/oauth/v1/applications``;
    ``GET|DELETE .../applications/{id}``; ``GET .../applications/{id}[/communication]``
    ``/mediaRelayAccessToken`` and ``/mediaRelay`` (also under ``/ucwa/v1/`` and
    ``/ucwa/psanon/v1/``). Accept picks JSON (default) or XML; anything else gets 406.
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
    ) -> None:
        super().__init__(base_url=base_url, clock=clock)
        self.policy = policy or TokenPolicy()
        self.quirks = quirks or UcwaQuirks()
        self.factory = UcwaTokenFactory(seed, self.clock, self.policy)
        self.application_idle_lifetime: _dt.timedelta | None = APPLICATION_IDLE_LIFETIME
        self.pretty = False
        self.issued_tokens: list[MediaRelayAccessToken] = []
        self._bearers: dict[str, _dt.datetime | None] = {}
        self._apps: dict[str, _Application] = {}
        sip = self.factory.sip_uri()
        first = self.factory.rng.choice(_FIRST_NAMES)
        password = f"{first}-{self.factory.rng.randint(1000, 9999)}!"
        self.credentials = UcwaCredentials(
            username=sip.removeprefix("sip:"),
            password=password,
            bearer=self.issue_bearer(),
            application_id=self.create_application(),
            sip_uri=sip,
        )

    # --- helpers a test calls ---------------------------------------------------------------
    @property
    def fqdn(self) -> str:
        return urlsplit(self.base_url).hostname or "fe1.contoso.com"

    def server_now(self) -> _dt.datetime:
        """The server's clock: the shared clock plus ``policy.server_skew``."""
        return self.clock.now() + self.policy.server_skew

    def token_path(self, application_id: str | None = None) -> str:
        """``/ucwa/oauth/v1/applications/{id}/communication/mediaRelayAccessToken``."""
        app = application_id or self.credentials.application_id
        return f"/ucwa/oauth/v1/applications/{app}/communication/mediaRelayAccessToken"

    def token_url(self, application_id: str | None = None) -> str:
        return self.base_url + self.token_path(application_id)

    def issue_bearer(self) -> str:
        """A new ``cwt=`` bearer, valid for 8 hours (or as the token policy says)."""
        with self._lock:
            token = self.factory.bearer_token()
            self._bearers[token] = self.policy.expiry(self.server_now(), BEARER_LIFETIME)
            return token

    def bearer_expires_at(self, bearer: str) -> _dt.datetime | None:
        """When ``bearer`` expires (server clock); None when it never does."""
        with self._lock:
            if bearer not in self._bearers:
                raise KeyError(f"unknown bearer {bearer[:16]!r}...")
            return self._bearers[bearer]

    def create_application(
        self,
        *,
        user_agent: str = "pytest-relaytokens/0.1",
        endpoint_id: str | None = None,
        culture: str = "en-US",
        prefix: str = "oauth/v1",
    ) -> str:
        """Register a new application and return its id."""
        with self._lock:
            app_id = self.factory.application_id()
            while app_id in self._apps:
                app_id = self.factory.application_id()
            self._apps[app_id] = _Application(
                app_id,
                prefix,
                user_agent,
                endpoint_id or str(uuid.UUID(int=self.factory.rng.getrandbits(128))),
                culture,
                self.server_now(),
                [self.factory.build_relay()],
            )
            return app_id

    def arm_error(
        self,
        code_or_name: str,
        subcode: str | None = None,
        *,
        times: int | None = 1,
        path: str | None = None,
    ) -> Fault:
        """Answer with a catalogue error in the format the request negotiated.

        ``path`` is a regex searched in the request path; by default the error hits the
        ``mediaRelayAccessToken`` resource only (``path=""`` hits every path).
        """
        entry = lookup_ucwa_error(code_or_name, subcode)
        return self.arm(
            self.error_responder(entry.id),
            times=times,
            path=TOKEN_PATH_PATTERN if path is None else path,
            label=f"ucwa {entry.id}",
        )

    def error_responder(self, name: str, subcode: str | None = None) -> Responder:
        """A responder answering with catalogue error ``name`` (id, generic name or code) in
        the format the request negotiated; the auth entry answers the bearer 401."""
        entry = lookup_ucwa_error(name, subcode)

        def respond(request: FakeRequest) -> FakeResponse:
            if entry.group == "auth":
                response = self._unauthorized(request)
                response.error_id = entry.id
                return response
            return entry.response(self._negotiate(request) or "json", fqdn=self.fqdn)

        return respond

    def arm_unauthorized(self, times: int | None = 1, *, path: str | None = None) -> Fault:
        """Answer with the bearer 401 (both challenges) as if the token had been revoked."""
        return self.arm(
            self._unauthorized,
            times=times,
            path=TOKEN_PATH_PATTERN if path is None else path,
            label="ucwa 401",
        )

    # --- plumbing ---------------------------------------------------------------------------
    @staticmethod
    def _origin(request: FakeRequest) -> str:
        parts = urlsplit(request.url)
        return f"{parts.scheme or 'https'}://{parts.netloc}"

    def _unauthorized(self, request: FakeRequest) -> FakeResponse:
        return unauthorized_response(
            fqdn=self.fqdn, webticket_url=self._origin(request) + WEBTICKET_PATH
        )

    #: What ``Accept: */*`` (or no Accept) gets: "json" or "xml" (the ``ucwa_format`` marker).
    default_format: Format = "json"

    def _accepted(self, request: FakeRequest) -> tuple[Format, str] | None:
        default: tuple[Format, str] = (
            ("xml", "application/xml")
            if self.default_format == "xml"
            else ("json", "application/json")
        )
        accept = request.header("Accept")
        if accept is None or not accept.strip():
            return default
        ranges: list[tuple[float, int, str]] = []
        for index, item in enumerate(accept.split(",")):
            media, *params = (p.strip() for p in item.split(";"))
            quality = 1.0
            for param in params:
                if param.lower().startswith("q="):
                    try:
                        quality = float(param[2:])
                    except ValueError:
                        quality = 0.0
            if quality > 0:
                ranges.append((-quality, index, media.lower()))
        for _, _, media in sorted(ranges):
            if media in _MEDIA_TYPES:
                return _MEDIA_TYPES[media], media
            if media in ("*/*", "application/*"):
                return default
        return None

    def _negotiate(self, request: FakeRequest) -> Format | None:
        chosen = self._accepted(request)
        return chosen[0] if chosen else None

    def _error(self, request: FakeRequest, name: str, subcode: str | None = None) -> FakeResponse:
        entry = lookup_ucwa_error(name, subcode)
        return entry.response(self._negotiate(request) or "json", fqdn=self.fqdn)

    def _resource(
        self, request: FakeRequest, document: dict[str, Any], status: int = 200
    ) -> FakeResponse:
        chosen = self._accepted(request)
        if chosen is None:
            return self._error(request, "NotAcceptable")
        fmt, media = chosen
        body = dump_xml(document) if fmt == "xml" else dump_json(document, pretty=self.pretty)
        return FakeResponse(status, ucwa_headers(f"{media}; charset=utf-8", self.fqdn), body)

    def _bearer(self, request: FakeRequest) -> tuple[bool, str | None]:
        header = request.header("Authorization")
        if header is None:
            return False, None
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return False, "bearer"
        value = value.strip()
        if value not in self._bearers:
            return False, "bearer"
        expiry = self._bearers[value]
        return expiry is None or self.server_now() < expiry, "bearer"

    # --- dispatch ---------------------------------------------------------------------------
    def dispatch(self, request: FakeRequest) -> Dispatched:
        low = request.path.rstrip("/").lower() or "/"
        if low == AUTODISCOVER_ROOT:
            return self._autodiscover_root(request)
        if low == AUTODISCOVER_USER:
            return self._autodiscover_user(request)
        if low == WEBTICKET_PATH.lower():
            return self._webticket(request)
        match = _APP_RE.match(request.path)
        if match is not None:
            return self._ucwa(
                request,
                match.group("prefix").lower(),
                match.group("app"),
                (match.group("rest") or "").lower().rstrip("/"),
            )
        return self._error(request, "ResourceNotFound"), None, False

    def _method_not_allowed(self, request: FakeRequest, allowed: str) -> Dispatched:
        response = self._error(request, "MethodNotAllowed")
        response.headers.append(("Allow", allowed))
        return response, None, False

    def _autodiscover_root(self, request: FakeRequest) -> Dispatched:
        if request.method != "GET":
            return self._method_not_allowed(request, "GET")
        origin = self._origin(request)
        domain = self.credentials.sip_uri.rpartition("@")[2]
        doc = {
            "_links": {
                "self": {"href": f"{origin}{AUTODISCOVER_ROOT}?originalDomain={domain}"},
                "user": {"href": f"{origin}{AUTODISCOVER_USER}?originalDomain={domain}"},
                "xframe": {"href": f"{origin}/autodiscover/XFrame/XFrame.html"},
            }
        }
        return self._json(200, doc), None, True

    def _json(self, status: int, doc: dict[str, Any]) -> FakeResponse:
        return FakeResponse(
            status,
            ucwa_headers("application/json; charset=utf-8", self.fqdn),
            dump_json(doc, pretty=False),
        )

    def _autodiscover_user(self, request: FakeRequest) -> Dispatched:
        if request.method != "GET":
            return self._method_not_allowed(request, "GET")
        ok, kind = self._bearer(request)
        if not ok:
            return self._unauthorized(request), kind, True
        origin = self._origin(request)
        doc = {
            "_links": {
                "self": {"href": f"{origin}{AUTODISCOVER_USER}"},
                "applications": {"href": f"{origin}/ucwa/oauth/v1/applications"},
                "xframe": {"href": f"{origin}/Autodiscover/XFrame/XFrame.html"},
            }
        }
        return self._json(200, doc), kind, True

    def _webticket(self, request: FakeRequest) -> Dispatched:
        if request.method != "POST":
            return self._method_not_allowed(request, "POST")
        form = {k.lower(): v[0] for k, v in request.form().items() if v}
        grant = form.get("grant_type")
        kind = "password-grant"
        if grant is None:
            return self._grant_error("invalid_request"), kind, True
        if grant != "password":
            return (
                self._grant_error(
                    "unsupported_grant_type", 28029, "Authentication type not allowed"
                ),
                kind,
                True,
            )
        user, password = form.get("username", ""), form.get("password", "")
        valid_users = {self.credentials.username.lower(), self.credentials.sip_uri.lower()}
        if user.lower() not in valid_users or password != self.credentials.password:
            return self._grant_error("invalid_grant"), kind, True
        bearer = self.issue_bearer()
        expiry = self._bearers[bearer]
        expires_in = (
            int(BEARER_LIFETIME.total_seconds())
            if expiry is None
            else max(0, int((expiry - self.server_now()).total_seconds()))
        )
        body = {
            "access_token": bearer,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ms_rtc_identityscope": "local",
        }
        headers = [
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
            ("Content-Type", "application/json"),
            ("Server", "Microsoft-IIS/7.5"),
            ("X-MS-Server-Fqdn", self.fqdn),
            ("X-Powered-By", "ASP.NET"),
        ]
        return FakeResponse(200, headers, json.dumps(body).encode()), kind, True

    def _grant_error(
        self, error: str, diagnostic: int | None = None, reason: str = ""
    ) -> FakeResponse:
        headers = [
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
            ("Content-Type", "application/json"),
            ("Server", "Microsoft-IIS/7.5"),
        ]
        if diagnostic is not None:
            headers.append(
                ("X-Ms-diagnostics", f'{diagnostic};source="{self.fqdn}";reason="{reason}"')
            )
        return FakeResponse(400, headers, json.dumps({"error": error}).encode())

    # --- /ucwa/... ---------------------------------------------------------------------------
    def _live_app(self, app_id: str) -> _Application | None:
        app = self._apps.get(app_id)
        if app is None:
            return None
        now = self.server_now()
        idle = self.application_idle_lifetime
        if idle is not None and now - app.last_seen > idle:
            del self._apps[app_id]
            return None
        app.last_seen = now
        return app

    def _ucwa(self, request: FakeRequest, prefix: str, app_id: str | None, rest: str) -> Dispatched:
        ok, kind = self._bearer(request)
        if not ok:
            return self._unauthorized(request), kind, True
        if app_id is None:
            if request.method != "POST":
                return self._method_not_allowed(request, "POST")[0], kind, False
            return self._create(request, prefix), kind, True
        app = self._live_app(app_id)
        if app is None:
            return self._error(request, "ApplicationNotFound"), kind, True
        base = f"/ucwa/{prefix}/applications/{app.id}"
        routes = {
            "": "application",
            "/communication": "communication",
            "/mediarelayaccesstoken": "token",
            "/communication/mediarelayaccesstoken": "token",
            "/mediarelay": "relay",
            "/communication/mediarelay": "relay",
        }
        target = routes.get(rest)
        if target is None:
            return self._error(request, "ResourceNotFound"), kind, False
        if target == "application" and request.method == "DELETE":
            del self._apps[app.id]
            return (
                FakeResponse(204, ucwa_headers("application/json; charset=utf-8", self.fqdn)),
                kind,
                True,
            )
        if request.method != "GET":
            allowed = "GET, DELETE" if target == "application" else "GET"
            return self._method_not_allowed(request, allowed)[0], kind, False
        if target == "application":
            return self._resource(request, self._application_doc(app, base)), kind, True
        if target == "communication":
            return self._resource(request, self._communication_doc(app, base)), kind, True
        if target == "relay":
            relay = app.relays[0].model_copy(update={"href": request.path})
            return self._resource(request, relay_resource(relay)), kind, True
        return self._token(request, app, base), kind, True

    def _token(self, request: FakeRequest, app: _Application, base: str) -> FakeResponse:
        chosen = self._accepted(request)
        if chosen is None:
            return self._error(request, "NotAcceptable")
        fmt, media = chosen
        relays = [
            r.model_copy(update={"href": f"{base}/communication/mediaRelay"}) for r in app.relays
        ]
        token = self.factory.build(
            uri=self.credentials.sip_uri, href=request.path, media_relays=relays
        )
        self.issued_tokens.append(token)
        if fmt == "xml":
            body = render_xml(token, self.quirks)
        else:
            body = render_json(token, self.quirks, pretty=self.pretty)
        return FakeResponse(200, ucwa_headers(f"{media}; charset=utf-8", self.fqdn), body)

    def _create(self, request: FakeRequest, prefix: str) -> FakeResponse:
        try:
            values = self._input(request)
        except WireFormatError:
            return self._error(request, "DeserializationFailure")
        if values is None:
            return self._error(request, "UnsupportedMediaType")
        lowered = {k.lower(): v for k, v in values.items()}
        if not lowered.get("useragent") or not lowered.get("endpointid"):
            return self._error(request, "ParameterValidationFailure")
        app_id = self.create_application(
            user_agent=str(lowered["useragent"]),
            endpoint_id=str(lowered["endpointid"]),
            culture=str(lowered.get("culture") or "en-US"),
            prefix=prefix,
        )
        app = self._apps[app_id]
        base = f"/ucwa/{prefix}/applications/{app_id}"
        response = self._resource(request, self._application_doc(app, base), status=201)
        if response.status == 201:
            response.headers.append(("Location", base))
        return response

    @staticmethod
    def _input(request: FakeRequest) -> dict[str, Any] | None:
        return parse_input(request.body, request.header("Content-Type"), "request body")

    def _communication_doc(self, app: _Application, base: str) -> dict[str, Any]:
        comm = f"{base}/communication"
        return {
            "rel": "communication",
            str(
                uuid.UUID(int=int(app.id) if app.id.isdigit() else 0)
            ): "please pass this in a PUT request",
            "supportedModalities": [],
            "supportedMessageFormats": ["Plain"],
            "etag": app.etag,
            "_links": {
                "self": {"href": comm},
                "conversations": {"href": f"{comm}/conversations?filter=active"},
                "startMessaging": {"href": f"{comm}/messagingInvitations"},
                "mediaRelayAccessToken": {"href": f"{comm}/mediaRelayAccessToken"},
                "mediaRelay": {"href": f"{comm}/mediaRelay"},
            },
        }

    def _application_doc(self, app: _Application, base: str) -> dict[str, Any]:
        user = self.credentials.sip_uri.removeprefix("sip:")
        name = user.split("@")[0].replace(".", " ").title()
        return {
            "rel": "application",
            "culture": app.culture,
            "userAgent": app.user_agent,
            "type": "Application",
            "endpointId": app.endpoint_id,
            "instanceId": app.id,
            "etag": app.etag,
            "_links": {
                "self": {"href": base},
                "policies": {"href": f"{base}/policies"},
                "batch": {"href": f"{base}/batch"},
                "events": {"href": f"{base}/events?ack=1"},
            },
            "_embedded": {
                "me": {
                    "rel": "me",
                    "name": name,
                    "uri": self.credentials.sip_uri,
                    "emailAddresses": [user],
                    "_links": {
                        "self": {"href": f"{base}/me"},
                        "makeMeAvailable": {"href": f"{base}/me/makeMeAvailable"},
                    },
                },
                "people": {
                    "rel": "people",
                    "_links": {
                        "self": {"href": f"{base}/people"},
                        "myContacts": {"href": f"{base}/people/contacts"},
                    },
                },
                "communication": self._communication_doc(app, base),
            },
        }
