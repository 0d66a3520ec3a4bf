"""Where the token fixtures and API fixtures get their answers.

- ``fake`` (default): the seeded factories and the stateful fakes; never touches the network.
- ``replay``: cassettes, served by :class:`~pytest_relaytokens.cassettes.replay.ReplayService`
  (the test's own cassette, else the shipped library), with the clock pinned to the recording
  time (or expiry re-based to now with ``--relaytokens-rebase-expiry=true``).
- ``live``: a real server named by environment variables, each exchange forwarded (and, with a
  record mode other than ``none``, recorded through vcrpy into the test's cassette, redacted).
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .core import FakeRequest, FakeResponse, FakeService
from .errors import RelayTokensError

if TYPE_CHECKING:
    from .cassettes.storage import Cassette
    from .clock import Clock
    from .core import TokenPolicy
    from .relay.models import RelayAccessToken
    from .ucwa.models import MediaRelayAccessToken
    from .ucwa.wire import UcwaQuirks

__all__ = [
    "ENVIRONMENT",
    "BackendError",
    "LiveCredentials",
    "LiveService",
    "relay_token_for",
    "ucwa_token_for",
    "ucwa_token_response_for",
]

UCWA_CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
}

#: Environment variables the live backend reads, per API.
ENVIRONMENT: dict[str, dict[str, str]] = {
    "ucwa": {
        "url": "RELAYTOKENS_UCWA_URL",
        "username": "RELAYTOKENS_UCWA_USERNAME",
        "password": "RELAYTOKENS_UCWA_PASSWORD",
    },
    "relay": {
        "url": "RELAYTOKENS_RELAY_URL",
        "username": "RELAYTOKENS_RELAY_USERNAME",
        "password": "RELAYTOKENS_RELAY_PASSWORD",
        "seam_token": "RELAYTOKENS_RELAY_SEAM_TOKEN",
    },
}

CASSETTE_KEY = pytest.StashKey[Path]()
UCWA_RESPONSE_KEY = pytest.StashKey[FakeResponse]()


class BackendError(RelayTokensError):
    """A backend cannot serve this test (missing cassette, missing environment variable)."""


# ---------------------------------------------------------------------------- settings
def backend_of(request: pytest.FixtureRequest) -> str:
    from .context import SETTINGS_KEY, STATE_KEY, overridden
    from .markers import MarkerSettings

    settings: MarkerSettings | None = request.node.stash.get(SETTINGS_KEY, None)
    if settings is not None and settings.backend is not None:
        return settings.backend
    if overridden(request, "relaytokens_backend"):
        value: str = request.getfixturevalue("relaytokens_backend")
        return value
    return request.config.stash[STATE_KEY].backend


def cassette_path(request: pytest.FixtureRequest) -> Path:
    """This test's cassette: the ``relaytokens_cassette`` marker, else the per-test file."""
    from .cassettes.recording import cassette_path_for
    from .context import SETTINGS_KEY
    from .markers import MarkerSettings
    from .settings import get_option

    settings: MarkerSettings | None = request.node.stash.get(SETTINGS_KEY, None)
    module_path = Path(str(request.node.path))
    if settings is not None and settings.cassette is not None:
        if settings.cassette.startswith("library:"):
            from .library import scenario_path

            return scenario_path(settings.cassette.split(":", 1)[1])
        marked = Path(settings.cassette)
        return marked if marked.is_absolute() else module_path.parent / marked
    folder = get_option(request.config, "cassette_dir")
    base = None if folder is None else Path(request.config.rootpath, folder)
    return cassette_path_for(module_path, request.node.name, base)


def _record_mode(request: pytest.FixtureRequest) -> str:
    from .settings import get_option

    return get_option(request.config, "record_mode") or "none"


def _rebase(request: pytest.FixtureRequest) -> bool:
    from .settings import get_option

    return get_option(request.config, "rebase_expiry") == "true"


# ---------------------------------------------------------------------------- cassettes
def _load(request: pytest.FixtureRequest, path: Path) -> Cassette:
    from .cassettes.storage import load_interactions
    from .context import note_cassette

    if not path.is_file():
        raise BackendError(
            f"{request.node.nodeid}: replay backend: no cassette at {path}. Record it against a "
            "live server with `pytest --relaytokens-backend=live --relaytokens-record-mode=once` "
            f"(environment: {', '.join(v for api in ENVIRONMENT.values() for v in api.values())}),"
            " or point @pytest.mark.relaytokens_cassette(...) at an existing file or a shipped "
            "scenario such as 'library:ucwa/token-json'."
        )
    note_cassette(request, path)
    return load_interactions(path)


def _pin_clock(request: pytest.FixtureRequest, clock: Clock, cassette: Cassette) -> None:
    if _rebase(request) or not cassette.recorded_at:
        return
    clock.set(_dt.datetime.fromisoformat(cassette.recorded_at.replace("Z", "+00:00")))


def _recorded(cassette: Cassette, path_pattern: str) -> FakeResponse:
    from .cassettes.replay import recorded_response

    for request, response in reversed(cassette.interactions):
        path = str(request["uri"]).split("?", 1)[0]
        if re.search(path_pattern, path) and int(response["status"]["code"]) < 300:
            return recorded_response(response)
    raise BackendError(
        f"cassette {cassette.path} has no successful answer for a path matching {path_pattern!r}"
    )


def _library_or_own(request: pytest.FixtureRequest, scenario: str) -> Path:
    own = cassette_path(request)
    if own.is_file():
        return own
    from .library import scenario_path

    return scenario_path(scenario)


# ---------------------------------------------------------------------------- re-timing
def _new_expiry(
    now: _dt.datetime,
    lifetime: _dt.timedelta | None,
    policy: TokenPolicy,
    rebase: bool,
) -> tuple[bool, _dt.datetime | None]:
    if policy.already_expired or policy.lifetime is not None or policy.never_expires:
        return True, policy.expiry(now, lifetime)
    if rebase:
        return True, None if lifetime is None else now + lifetime
    return False, None


def retime(
    response: FakeResponse,
    path: str,
    now: _dt.datetime,
    recorded_at: _dt.datetime | None,
    policy: TokenPolicy,
    rebase: bool,
) -> FakeResponse:
    """A recorded token answer with its expiry moved as the policy or re-basing asks."""
    if response.status >= 300 or not response.body:
        return response
    if path.endswith("mediaRelayAccessToken"):
        from .ucwa import wire

        token = wire.parse(response.body, response.content_type)
        issued = recorded_at or token.valid_until - _dt.timedelta(minutes=token.duration)
        changed, expiry = _new_expiry(now, token.valid_until - issued, policy, rebase)
        if not changed:
            return response
        expiry = expiry or now + _dt.timedelta(days=180)
        updated = token.model_copy(update={"valid_until": expiry})
        quirks, pretty = wire.detect_quirks(response.body)
        if "xml" in response.content_type:
            body = wire.render_xml(updated, quirks)
        else:
            body = wire.render_json(updated, quirks, pretty=pretty)
    elif re.search(r"/api/auth/accesstokens$", path):
        from .relay import wire as relay_wire

        relay_token = relay_wire.parse_token(response.body)
        lifetime = (
            None
            if relay_token.expiration_date is None
            else relay_token.expiration_date - relay_token.creation_date
        )
        changed, expiry = _new_expiry(now, lifetime, policy, rebase)
        if not changed:
            return response
        updated_relay = relay_token.model_copy(
            update={"creation_date": now, "expiration_date": expiry}
        )
        body = relay_wire.render_token(updated_relay)
    else:
        return response
    headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    return FakeResponse(response.status, headers, body, response.delay, response.drop_connection)


def _recorded_at(cassette: Cassette) -> _dt.datetime | None:
    if not cassette.recorded_at:
        return None
    return _dt.datetime.fromisoformat(cassette.recorded_at.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------- token fixtures
def ucwa_token_for(
    request: pytest.FixtureRequest,
    seed: int,
    clock: Clock,
    policy: TokenPolicy,
) -> MediaRelayAccessToken:
    backend = backend_of(request)
    if backend == "fake":
        from .context import relay_location
        from .ucwa.factories import UcwaTokenFactory

        token = UcwaTokenFactory(seed, clock, policy).build()
        location = relay_location(request)
        if location is None:
            return token
        relays = [r.model_copy(update={"location": location}) for r in token.media_relays]
        return token.model_copy(update={"media_relays": relays})
    from .ucwa import wire

    response = _ucwa_response(request, clock, policy, backend)
    return wire.parse(response.body, response.content_type, source="ucwa_token_response")


def _ucwa_scenario(fmt: str, quirks: UcwaQuirks) -> str:
    name = f"ucwa/token-{fmt}"
    if quirks.uri_key == "uri":
        name += "-uri"
    if fmt == "json" and quirks.timestamps != "utc_ms":
        name += f"-{quirks.timestamps}"
    return name


def _ucwa_response(
    request: pytest.FixtureRequest, clock: Clock, policy: TokenPolicy, backend: str
) -> FakeResponse:
    cached: FakeResponse | None = request.node.stash.get(UCWA_RESPONSE_KEY, None)
    if cached is not None:
        return cached
    from .context import effective_format, effective_quirks

    fmt = effective_format(request)
    if backend == "replay":
        cassette = _load(
            request, _library_or_own(request, _ucwa_scenario(fmt, effective_quirks(request)))
        )
        _pin_clock(request, clock, cassette)
        response = retime(
            _recorded(cassette, r"mediaRelayAccessToken$"),
            "/mediaRelayAccessToken",
            clock.now(),
            _recorded_at(cassette),
            policy,
            _rebase(request),
        )
    else:
        api = request.getfixturevalue("ucwa_api")
        response = live_ucwa_token_response(api, fmt)
    request.node.stash[UCWA_RESPONSE_KEY] = response
    return response


def ucwa_token_response_for(
    request: pytest.FixtureRequest,
    token: MediaRelayAccessToken,
    fmt: str,
    quirks: UcwaQuirks,
) -> FakeResponse:
    cached: FakeResponse | None = request.node.stash.get(UCWA_RESPONSE_KEY, None)
    if cached is not None:
        return cached
    from .ucwa.catalogue import ucwa_headers
    from .ucwa.wire import render

    body = render(token, fmt, quirks)  # type: ignore[arg-type]
    headers = [
        (k, v) for k, v in ucwa_headers(UCWA_CONTENT_TYPES[fmt]) if k.lower() != "content-length"
    ]
    headers.append(("Content-Length", str(len(body))))
    return FakeResponse(200, headers, body)


def relay_token_for(
    request: pytest.FixtureRequest,
    seed: int,
    clock: Clock,
    policy: TokenPolicy,
) -> RelayAccessToken:
    backend = backend_of(request)
    if backend == "fake":
        from .relay.factories import RelayTokenFactory

        return RelayTokenFactory(seed, clock, policy).build()
    from .relay import wire

    if backend == "replay":
        scenario = "relay/token-never-expires" if policy.never_expires else "relay/token-basic"
        cassette = _load(request, _library_or_own(request, scenario))
        _pin_clock(request, clock, cassette)
        response = retime(
            _recorded(cassette, r"/api/auth/accesstokens$"),
            "/api/auth/accesstokens",
            clock.now(),
            _recorded_at(cassette),
            policy,
            _rebase(request),
        )
    else:
        api = request.getfixturevalue("relay_api")
        response = api.handle(
            FakeRequest.build(
                "POST",
                api.base_url
                + "/api/auth/accesstokens"
                + ("?duration=-1" if policy.never_expires else ""),
                {
                    "Authorization": api.credentials.basic_authorization,
                    "Accept": "application/json",
                },
            )
        )
    if response.status != 200:
        raise BackendError(
            f"{backend} backend: creating a Relay token answered {response.status}: "
            f"{response.text()[:200]}"
        )
    return wire.parse_token(response.body, source=f"{backend} POST /api/auth/accesstokens")


# ---------------------------------------------------------------------------- API fixtures
@dataclass
class LiveCredentials:
    """Credentials of a live (or replayed) server, from the environment (or placeholders)."""

    username: str
    password: str
    seam_token: str | None = None

    @property
    def basic_authorization(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


class LiveService(FakeService):
    """Forwards every request to a real server (recorded by vcrpy when a cassette is active)."""

    def __init__(self, api: str, base_url: str, credentials: LiveCredentials, clock: Clock):
        super().__init__(base_url=base_url, clock=clock)
        self.name = f"live-{api}"
        self.credentials = credentials
        self._pool: Any = None

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        import urllib3

        if self._pool is None:
            self._pool = urllib3.PoolManager()
        answer = self._pool.request(
            request.method,
            request.url,
            body=request.body or None,
            headers=dict(request.headers),
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(connect=10, read=30),
        )
        headers = [
            (k, v)
            for k, v in answer.headers.items()
            if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")
        ]
        headers.append(("Content-Length", str(len(answer.data))))
        return FakeResponse(answer.status, headers, answer.data), None, True


def live_credentials(api: str) -> tuple[str, LiveCredentials]:
    names = ENVIRONMENT[api]
    missing = [names[k] for k in ("url", "username", "password") if not os.environ.get(names[k])]
    if missing:
        raise BackendError(
            f"live backend for {api}: set the environment variable(s) {', '.join(missing)} "
            "(base URL and credentials of the server to test against)"
        )
    seam = os.environ.get(names.get("seam_token", ""), None) if "seam_token" in names else None
    return os.environ[names["url"]].rstrip("/"), LiveCredentials(
        os.environ[names["username"]], os.environ[names["password"]], seam
    )


def api_service(
    request: pytest.FixtureRequest, api: str, clock: Clock, policy: TokenPolicy
) -> FakeService:
    """The replay or live service standing in for ``ucwa_api`` / ``relay_api``."""
    backend = backend_of(request)
    if backend == "live":
        request.getfixturevalue("_relaytokens_recording")
        base_url, credentials = live_credentials(api)
        return LiveService(api, base_url, credentials, clock)
    cassette = _load(request, cassette_path(request))
    _pin_clock(request, clock, cassette)
    relay_paths = [
        str(req["uri"]) for req, _ in cassette.interactions if "/api/" in str(req["uri"])
    ]
    other_paths = [
        str(req["uri"]) for req, _ in cassette.interactions if "/api/" not in str(req["uri"])
    ]
    chosen = relay_paths if api == "relay" else other_paths
    from .relay import DEFAULT_BASE_URL as relay_default
    from .ucwa import DEFAULT_BASE_URL as ucwa_default

    default = relay_default if api == "relay" else ucwa_default
    base = default
    if chosen:
        match = re.match(r"^[a-z]+://[^/]+", chosen[0])
        base = match.group() if match else default
    return _replay_service(request, cassette, base, clock, policy)


def _replay_service(
    request: pytest.FixtureRequest,
    cassette: Cassette,
    base_url: str,
    clock: Clock,
    policy: TokenPolicy,
) -> FakeService:
    from .cassettes.replay import ReplayService

    rebase = _rebase(request)
    recorded_at = _recorded_at(cassette)

    class TimeAwareReplay(ReplayService):
        def dispatch(self, req: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
            response, credential, matched = super().dispatch(req)
            if matched:
                response = retime(response, req.path, clock.now(), recorded_at, policy, rebase)
            return response, credential, matched

    service = TimeAwareReplay(cassette, base_url=base_url, clock=clock)
    service.credentials = LiveCredentials("replayed-user", "replayed-password")  # type: ignore[attr-defined]
    return service


def live_ucwa_token_response(api: FakeService, fmt: str) -> FakeResponse:
    """Walk a live UCWA server to its token: autodiscover, WebTicket, application, token."""
    import json
    from urllib.parse import urljoin

    base = api.base_url
    creds: Any = getattr(api, "credentials")  # noqa: B009

    def call(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> FakeResponse:
        return api.handle(FakeRequest.build(method, urljoin(base + "/", url), headers, body))

    root = call("GET", "/autodiscover/autodiscoverservice.svc/root", {"Accept": "application/json"})
    user_url = urljoin(base + "/", root.json()["_links"]["user"]["href"])
    challenge = call("GET", user_url, {"Accept": "application/json"})
    href = next(
        (
            m.group(1)
            for value in challenge.header_all("WWW-Authenticate")
            if (m := re.search(r'MsRtcOAuth\s+href="?([^",]+)"?', value))
        ),
        None,
    )
    if href is None:
        raise BackendError(f"live UCWA server at {base}: no MsRtcOAuth challenge on {user_url}")
    from urllib.parse import urlencode

    form = urlencode(
        {"grant_type": "password", "username": creds.username, "password": creds.password}
    )
    grant = call(
        "POST",
        href,
        {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
        form.encode(),
    )
    if grant.status != 200:
        raise BackendError(f"live UCWA server: WebTicket answered {grant.status}")
    bearer = {"Authorization": "Bearer " + grant.json()["access_token"]}
    user = call("GET", user_url, {**bearer, "Accept": "application/json"})
    apps_url = urljoin(user_url, user.json()["_links"]["applications"]["href"])
    body = json.dumps(
        {"UserAgent": "pytest-relaytokens", "EndpointId": "pytest-relaytokens", "Culture": "en-US"}
    ).encode()
    app = call(
        "POST",
        apps_url,
        {**bearer, "Content-Type": "application/json", "Accept": "application/json"},
        body,
    )
    links = app.json()["_embedded"]["communication"]["_links"]
    token_url = urljoin(apps_url, links["mediaRelayAccessToken"]["href"])
    return call("GET", token_url, {**bearer, "Accept": f"application/{fmt}"})
