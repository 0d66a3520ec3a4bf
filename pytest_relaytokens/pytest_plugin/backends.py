"""Where the token fixtures and API fixtures get their answers: three backends behind one
small protocol (:class:`Backend`).

- :class:`FakeBackend` (default): the seeded factories and the stateful fakes; never touches
  the network.
- :class:`ReplayBackend`: cassettes, served by
  :class:`~pytest_relaytokens.cassettes.replay.ReplayService` (the test's own cassette, else the
  shipped library), with the clock pinned to the recording time (or expiry re-based to now).
- :class:`LiveBackend`: a real server named by ``RELAYTOKENS_*`` environment variables, each
  exchange forwarded (and, with a record mode other than ``none``, recorded into the cassette).

A backend gets everything it needs as one :class:`TestInputs`; it never reads pytest objects.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import functools
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ..errors import RelayTokensError
from ..http import FakeRequest, FakeResponse, FakeService
from ..http.messages import body_digest
from ..ucwa.online import CREDENTIAL_HOSTS_VARIABLE, SignInError, sign_in_to_token
from .factory_tokens import factory_token, located
from .markers import MarkedError
from .strict import arm_errors, ucwa_client_answer

if TYPE_CHECKING:
    from ..cassettes.replay import ReplayOptions
    from ..cassettes.storage import Cassette
    from ..clock import Clock
    from ..http import TokenPolicy
    from ..relay.models import RelayAccessToken
    from ..ucwa.models import MediaRelayAccessToken
    from ..ucwa.wire import UcwaQuirks

__all__ = [
    "ENVIRONMENT",
    "Backend",
    "BackendError",
    "FakeBackend",
    "LiveBackend",
    "LiveCredentials",
    "LiveService",
    "MissingEnvironment",
    "ReplayBackend",
    "TestInputs",
    "make_backend",
    "retime",
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

_RELAY_TOKEN_PATH = r"/api/auth/accesstokens$"


class BackendError(RelayTokensError):
    """A backend cannot serve this test (missing cassette, missing environment variable,
    a server answering something unusable)."""


class MissingEnvironment(BackendError):
    """The live backend's environment variables are not set."""


@dataclass
class TestInputs:
    """Everything a backend needs about one test, resolved once by the test's context."""

    __test__ = False  # not a test class

    nodeid: str
    seed: int
    clock: Clock
    policy: TokenPolicy
    format_source: Callable[[], str]
    quirks_source: Callable[[], UcwaQuirks]
    cassette: Path
    ucwa_errors: list[MarkedError] = field(default_factory=list)
    relay_errors: list[MarkedError] = field(default_factory=list)
    rebase: bool = False
    record_mode: str = "none"
    secret_patterns: list[re.Pattern[str]] = field(default_factory=list)
    #: the cassette is shared on purpose by several tests (the marker)
    shared: bool = False
    #: identifies this run across xdist workers (a shared cassette is rewritten once a run)
    run_id: str = ""
    #: APIs whose handed-out credentials are revoked on the fakes (``token_revoked``)
    revoked: tuple[str, ...] = ()
    #: the fakes' CORS allowed origins (None: CORS off) and the UCWA online deployment
    cors_origins: tuple[str, ...] | None = None
    ucwa_online: bool = False
    #: replay strictness and cassette age: ReplayOptions arguments (marker over ini/CLI)
    replay: dict[str, Any] = field(default_factory=dict)
    #: whether the ucwa_format / ucwa_quirks markers were given (replay re-renders for them)
    marked_ucwa: tuple[bool, bool] = (False, False)
    #: api -> the token already handed to the test before its backend existed
    tokens: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def replay_options(self) -> ReplayOptions:
        from ..cassettes.replay import ReplayOptions

        return ReplayOptions.checked(**self.replay)

    @functools.cached_property
    def ucwa_format(self) -> str:
        return self.format_source()

    @functools.cached_property
    def quirks(self) -> UcwaQuirks:
        return self.quirks_source()

    def location(self) -> str | None:
        return self.quirks.location


class Backend(Protocol):
    """What the fixtures ask a backend for."""

    name: str

    def ucwa_token(self) -> MediaRelayAccessToken: ...

    def ucwa_token_response(self) -> FakeResponse: ...

    def relay_token(self) -> RelayAccessToken: ...

    def api_service(self, api: str) -> FakeService: ...

    def teardown_problems(self, allow_unplayed: bool) -> list[str]: ...

    def close(self) -> None: ...


def make_backend(name: str, inputs: TestInputs) -> Backend:
    """The backend called ``name`` ("fake", "replay" or "live") for one test."""
    kinds: dict[str, type[FakeBackend] | type[ReplayBackend] | type[LiveBackend]] = {
        "fake": FakeBackend,
        "replay": ReplayBackend,
        "live": LiveBackend,
    }
    if name == "replay" and _re_record(inputs):
        inputs.record_mode = "rewrite"
        return LiveBackend(inputs)
    return kinds[name](inputs)


def _re_record(inputs: TestInputs) -> bool:
    """Whether an expired cassette is re-recorded (``on_expiry="re-record"``) on the live
    backend, which must be configured (else a clear error naming what to set)."""
    options = inputs.replay_options
    if options.max_age is None or options.on_expiry != "re-record":
        return False
    if not inputs.cassette.is_file():
        return False
    from ..cassettes.age import age_problem
    from ..cassettes.storage import load_interactions

    problem = age_problem(
        inputs.cassette, load_interactions(inputs.cassette).recorded_at, options.max_age
    )
    if problem is None:
        return False
    if not any(os.environ.get(api["url"]) for api in ENVIRONMENT.values()):
        raise BackendError(
            f"{inputs.nodeid}: {problem}, and on_expiry='re-record' needs a live backend: set "
            f"{' or '.join(api['url'] for api in ENVIRONMENT.values())} with its credentials "
            "(or use on_expiry='warn' or 'fail')"
        )
    return True


# ---------------------------------------------------------------------------- fake
class FakeBackend:
    """The stateful fakes of one test: one UcwaService and one RelayService, created on
    first use, with the test's error markers armed; tokens are issued by them."""

    name = "fake"

    def __init__(self, inputs: TestInputs) -> None:
        self.inputs = inputs
        self.services: dict[str, FakeService] = {}
        self._tokens: dict[str, Any] = inputs.tokens
        self.rendered_errors: set[tuple[str, str]] = set()
        #: every ucwa_token_response handed to the test (strict.py counts it as served)
        self.rendered: list[FakeResponse] = []

    def api_service(self, api: str) -> FakeService:
        service = self.services.get(api)
        if service is not None:
            return service
        inputs = self.inputs
        if api == "ucwa":
            from ..ucwa.service import UcwaService

            ucwa = UcwaService(
                clock=inputs.clock,
                seed=inputs.seed,
                policy=inputs.policy,
                quirks=inputs.quirks,
                online=inputs.ucwa_online,
                cors_origins=inputs.cors_origins,
            )
            ucwa.default_format = "xml" if inputs.ucwa_format == "xml" else "json"
            arm_errors(ucwa, inputs.ucwa_errors)  # strict: each must reach a client
            if "ucwa" in inputs.revoked:  # the bearer a client presents, handed out at setup
                ucwa.revoke(ucwa.credentials.bearer)
            service = ucwa
        else:
            from ..relay.service import RelayService

            relay = RelayService(
                clock=inputs.clock,
                seed=inputs.seed ^ 0x5A5A,
                policy=inputs.policy,
                cors_origins=inputs.cors_origins,
            )
            arm_errors(relay, inputs.relay_errors)
            if "relay" in inputs.revoked:  # the pre-issued access tokens
                relay.revoke(relay.credentials.access_token)
                relay.revoke(relay.credentials.readonly_access_token)
            service = relay
        self.services[api] = service
        return service

    def ucwa_token(self) -> MediaRelayAccessToken:
        token: MediaRelayAccessToken = self._token("ucwa", self._issue_ucwa_token)
        return token

    def relay_token(self) -> RelayAccessToken:
        token: RelayAccessToken = self._token("relay", self._issue_relay_token)
        return token

    def _token(self, api: str, issue: Callable[[], Any]) -> Any:
        """The test's one ``api`` token, issued on first use."""
        token = self._tokens.get(api)
        if token is None:
            token = self._tokens[api] = issue()
        return token

    def _issue_ucwa_token(self) -> MediaRelayAccessToken:
        inputs = self.inputs
        service: Any = self.services.get("ucwa")
        if service is None:
            built: MediaRelayAccessToken = factory_token(
                "ucwa", inputs.seed, inputs.clock, inputs.policy, inputs.location()
            )
            return built
        token: MediaRelayAccessToken = located(service.factory.build(), inputs.location())
        token = service.media_credentials.issue(token)  # relays at an attached TURN server
        if "ucwa" in inputs.revoked:  # its TURN credential too
            service.media_credentials.revoke(token)
        return token

    def ucwa_token_response(self) -> FakeResponse:
        """What a client gets for ``GET .../mediaRelayAccessToken`` (see
        :func:`~.strict.ucwa_client_answer`): an armed error, the 401 of an expired or revoked
        bearer, else ``ucwa_token`` rendered in the test's format and quirks."""
        inputs = self.inputs
        dead = inputs.policy.already_expired or "ucwa" in inputs.revoked
        if inputs.ucwa_errors or dead or self.services.get("ucwa") is not None:
            answer = ucwa_client_answer(self.api_service("ucwa"), inputs.ucwa_format, dead)
            if answer is not None:
                if answer.error_id:  # the error-coverage report counts it as exercised
                    self.rendered_errors.add(("ucwa", answer.error_id))
                self.rendered.append(answer)
                return answer
        rendered = render_ucwa_response(self.ucwa_token(), inputs.ucwa_format, inputs.quirks)
        self.rendered.append(rendered)
        return rendered

    def _issue_relay_token(self) -> RelayAccessToken:
        inputs = self.inputs
        service: Any = self.services.get("relay")
        if service is not None:
            token: RelayAccessToken = service.issue_token(
                duration_ms=-1 if inputs.policy.never_expires else 0
            )
            if "relay" in inputs.revoked:
                service.revoke(token)
            return token
        built: RelayAccessToken = factory_token("relay", inputs.seed, inputs.clock, inputs.policy)
        return built

    def teardown_problems(self, allow_unplayed: bool) -> list[str]:
        return []

    def close(self) -> None:
        self.services.clear()


def render_ucwa_response(
    token: MediaRelayAccessToken, fmt: str, quirks: UcwaQuirks
) -> FakeResponse:
    """The full HTTP 200 answer of ``GET .../mediaRelayAccessToken`` for ``token``."""
    from ..ucwa.catalogue import ucwa_headers
    from ..ucwa.wire import render

    body = render(token, fmt, quirks)  # type: ignore[arg-type]
    headers = [
        (k, v) for k, v in ucwa_headers(UCWA_CONTENT_TYPES[fmt]) if k.lower() != "content-length"
    ]
    headers.append(("Content-Length", str(len(body))))
    return FakeResponse(200, headers, body)


# ---------------------------------------------------------------------------- replay
class ReplayBackend:
    """Cassettes: the test's own, else (for token fixtures) the shipped library."""

    name = "replay"

    def __init__(self, inputs: TestInputs) -> None:
        self.inputs = inputs
        self.services: dict[str, FakeService] = {}
        self.used: list[Path] = []
        #: the recorded requests (by identity) the token fixtures answered from
        self.played: set[int] = set()
        self._cassette: Cassette | None = None
        self._ucwa_response: FakeResponse | None = None

    def _load(self, path: Path) -> Cassette:
        from ..cassettes.storage import load_interactions, resolve_cassette_path

        if not path.is_file():
            resolve_cassette_path(path)  # a directory, FIFO or symlink loop: say so
            names = ", ".join(v for api in ENVIRONMENT.values() for v in api.values())
            raise BackendError(
                f"{self.inputs.nodeid}: replay backend: no cassette at {path}. Record it against "
                "a live server with `pytest --relaytokens-backend=live "
                f"--relaytokens-record-mode=once` (environment: {names}), or point "
                "@pytest.mark.relaytokens_cassette(...) at an existing file or a shipped "
                "scenario such as 'library:ucwa/token-json'."
            )
        if path not in self.used:
            self.used.append(path)
        return load_interactions(path)

    def _own(self) -> Cassette:
        if self._cassette is None:
            self._cassette = self._load(self.inputs.cassette)
            self._check_age(self._cassette)
            self._pin_clock(self._cassette)
        return self._cassette

    def _check_age(self, cassette: Cassette) -> None:
        """``max_age``: an older cassette warns or fails (re-record: see make_backend)."""
        options = self.inputs.replay_options
        if options.max_age is None:
            return
        from ..cassettes.age import CassetteExpiredWarning, ExpiredCassette, age_problem

        problem = age_problem(cassette.path, cassette.recorded_at, options.max_age)
        if problem is None:
            return
        advice = (
            f"{problem}. Re-record it with `pytest --relaytokens-backend=live "
            "--relaytokens-record-mode=rewrite`, check it with `relaytokens drift`, or raise "
            "max_age (@pytest.mark.relaytokens_replay(max_age=...), --relaytokens-max-age)"
        )
        if options.on_expiry == "warn":
            import warnings

            warnings.warn(CassetteExpiredWarning(advice), stacklevel=2)
            return
        raise ExpiredCassette(f"{self.inputs.nodeid}: {advice}")

    def _own_or_library(self, scenario: str) -> Cassette:
        # a named cassette (the marker) is never replaced by the library: missing, it fails
        if self.inputs.cassette.exists() or self.inputs.shared:
            return self._own()
        from ..library import scenario_path

        cassette = self._load(scenario_path(scenario))
        self._pin_clock(cassette)
        return cassette

    def _pin_clock(self, cassette: Cassette) -> None:
        recorded = _recorded_at(cassette)
        if not self.inputs.rebase and recorded is not None:
            self.inputs.clock.set(recorded)

    def _answer(self, cassette: Cassette, path_pattern: str, path: str) -> FakeResponse:
        inputs = self.inputs
        family = self.inputs.ucwa_format if "mediaRelay" in path_pattern else "json"
        request, recorded = _recorded(cassette, path_pattern, family)
        if cassette is self._cassette:
            self.played.add(id(request))
        timed = retime(
            recorded,
            path,
            inputs.clock.now(),
            _recorded_at(cassette),
            inputs.policy,
            inputs.rebase,
        )
        return rerender(timed, path, inputs)

    def ucwa_token_response(self) -> FakeResponse:
        if self._ucwa_response is None:
            scenario = _ucwa_scenario(self.inputs.ucwa_format, self.inputs.quirks)
            cassette = self._own_or_library(scenario)
            self._ucwa_response = self._answer(
                cassette, r"mediaRelayAccessToken$", "/mediaRelayAccessToken"
            )
        return self._ucwa_response

    def ucwa_token(self) -> MediaRelayAccessToken:
        from ..ucwa import wire

        response = self.ucwa_token_response()
        return wire.parse(response.body, response.content_type, source="replayed token response")

    def relay_token(self) -> RelayAccessToken:
        from ..relay import wire

        scenario = (
            "relay/token-never-expires"
            if self.inputs.policy.never_expires
            else ("relay/token-basic")
        )
        response = self._answer(
            self._own_or_library(scenario), _RELAY_TOKEN_PATH, "/api/auth/accesstokens"
        )
        if response.status != 200:
            raise BackendError(
                f"replay backend: the recorded Relay token answer is {response.status} "
                f"({body_digest(response.body)})"
            )
        return wire.parse_token(response.body, source="replayed POST /api/auth/accesstokens")

    def api_service(self, api: str) -> FakeService:
        service = self.services.get(api)
        if service is not None:
            return service
        cassette = self._own()
        uris = [str(req["uri"]) for req, _ in cassette.interactions]
        chosen = [u for u in uris if ("/api/" in u) == (api == "relay")]
        from ..relay import DEFAULT_BASE_URL as relay_default
        from ..ucwa import DEFAULT_BASE_URL as ucwa_default

        base = relay_default if api == "relay" else ucwa_default
        if chosen:
            parts = urlsplit(chosen[0])
            if parts.scheme and parts.netloc:
                base = f"{parts.scheme}://{parts.netloc}"
        service = self.services[api] = _replay_service(cassette, base, self.inputs)
        return service

    def teardown_problems(self, allow_unplayed: bool) -> list[str]:
        if allow_unplayed or self._cassette is None or not self.services:
            return []  # token fixtures alone pick one answer; a conversation must be whole
        from ..cassettes.matching import recorded_shape

        played = set(self.played)
        for service in self.services.values():
            for entry, count in zip(
                getattr(service, "recorded", ()), getattr(service, "plays", ()), strict=True
            ):
                if count:
                    played.add(id(entry.request))
        left = [
            f"  {recorded_shape(request).shown()}"
            for request, _ in self._cassette.interactions
            if id(request) not in played
        ]
        if not left:
            return []
        return [
            f"cassette {self.inputs.cassette}: {len(left)} recorded interaction(s) never "
            "replayed:\n" + "\n".join(left) + "\nAllow this with "
            "@pytest.mark.relaytokens_allow(unplayed=True) or --relaytokens-allow-unplayed=true "
            "(ini relaytokens_allow_unplayed = true)."
        ]

    def close(self) -> None:
        self.services.clear()


def _replay_service(cassette: Cassette, base_url: str, inputs: TestInputs) -> FakeService:
    from ..cassettes.replay import ReplayService

    recorded_at = _recorded_at(cassette)

    class TimeAwareReplay(ReplayService):
        def dispatch(self, req: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
            response, credential, matched = super().dispatch(req)
            if matched:
                response = retime(
                    response,
                    req.path,
                    inputs.clock.now(),
                    recorded_at,
                    inputs.policy,
                    inputs.rebase,
                )
                response = rerender(response, req.path, inputs)
                if response.status >= 400 and response.error_id is None:
                    response.error_id = _catalogue_id(req.path, response)
            return response, credential, matched

    options = inputs.replay_options
    service = TimeAwareReplay(
        cassette,
        base_url=base_url,
        clock=inputs.clock,
        allow_playback_repeats=options.allow_playback_repeats,
        match_on=options.match_on,
        matcher=options.matcher,
    )
    service.credentials = LiveCredentials("replayed-user", "replayed-password")  # type: ignore[attr-defined]
    return service


def _catalogue_id(path: str, response: FakeResponse) -> str | None:
    """The catalogue id a replayed error answer stands for (for the coverage report)."""
    try:
        if path.startswith("/api/"):
            from ..relay import wire as relay_wire
            from ..relay.catalogue import lookup_relay_error

            body = relay_wire.parse_error(response.body)
            return lookup_relay_error(body.error_name).id
        from ..ucwa import wire
        from ..ucwa.catalogue import lookup_ucwa_error

        error = wire.parse_error(response.body, response.content_type)
        return lookup_ucwa_error(error.code, error.subcode).id
    except (RelayTokensError, LookupError, ValueError, TypeError):
        return None


def _recorded_at(cassette: Cassette) -> _dt.datetime | None:
    if not cassette.recorded_at:
        return None
    try:
        return _dt.datetime.fromisoformat(cassette.recorded_at.replace("Z", "+00:00"))
    except ValueError:
        return None


def _recorded(
    cassette: Cassette, path_pattern: str, family: str
) -> tuple[dict[str, Any], FakeResponse]:
    """The recorded successful answer for a path: the first one whose request asked for
    ``family`` (what the token fixtures ask for), else the last one."""
    from ..cassettes.matching import recorded_header as _first
    from ..cassettes.replay import recorded_response

    found = [
        (request, response)
        for request, response in cassette.interactions
        if re.search(path_pattern, str(request["uri"]).split("?", 1)[0])
        and int(response["status"]["code"]) < 300
    ]
    for request, response in found:
        if family in (_first(request.get("headers") or {}, "accept") or "").lower():
            return request, recorded_response(response)
    if found:
        return found[-1][0], recorded_response(found[-1][1])
    raise BackendError(
        f"cassette {cassette.path} has no successful answer for a path matching {path_pattern!r}"
    )


def _ucwa_scenario(fmt: str, quirks: UcwaQuirks) -> str:
    name = f"ucwa/token-{fmt}"
    if quirks.uri_key == "uri":
        name += "-uri"
    if fmt == "json" and quirks.timestamps != "utc_ms":
        name += f"-{quirks.timestamps}"
    return name


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


#: Parsed recorded token bodies and re-rendered ones, so a replayed GET costs a lookup,
#: not a parse/render round trip. Bounded: cleared when full (a cassette holds few tokens).
_PARSED: dict[tuple[str, bytes, str], tuple[Any, Any, bool]] = {}
_RENDERED: dict[tuple[str, bytes, str, str, str | None], bytes] = {}
_CACHE_LIMIT = 512


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def _iso(moment: _dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parsed_ucwa(body: bytes, content_type: str) -> tuple[MediaRelayAccessToken, Any, bool]:
    key = ("ucwa", body, content_type)
    found = _PARSED.get(key)
    if found is None:
        from ..ucwa import wire

        token = wire.parse(body, content_type)
        quirks, pretty = wire.detect_quirks(body)
        found = _remember(_PARSED, key, (token, quirks, pretty))
    return found


def _parsed_relay(body: bytes) -> RelayAccessToken:
    key = ("relay", body, "")
    found = _PARSED.get(key)
    if found is None:
        from ..relay import wire as relay_wire

        found = _remember(_PARSED, key, (relay_wire.parse_token(body), None, False))
    token: RelayAccessToken = found[0]
    return token


def retime(
    response: FakeResponse,
    path: str,
    now: _dt.datetime,
    recorded_at: _dt.datetime | None,
    policy: TokenPolicy,
    rebase: bool,
) -> FakeResponse:
    """A recorded token answer with its expiry moved as the policy or re-basing asks.

    Without an expiry marker or re-basing the answer is served as recorded (no parse).
    """
    if response.status >= 300 or not response.body:
        return response
    moves = rebase or policy.already_expired or policy.never_expires
    if not moves and policy.lifetime is None:
        return response
    if path.endswith("mediaRelayAccessToken"):
        token, _quirks, _pretty = _parsed_ucwa(response.body, response.content_type)
        issued = recorded_at or token.valid_until - _dt.timedelta(minutes=token.duration)
        changed, expiry = _new_expiry(now, token.valid_until - issued, policy, rebase)
        if not changed:
            return response
        expiry = expiry or now + _dt.timedelta(days=180)
        duration = token.duration
        if policy.already_expired or policy.lifetime is not None or policy.never_expires:
            from ..ucwa.factories import remaining_minutes

            duration = remaining_minutes(expiry, now)  # as the fake's factory: they agree
        key: tuple[str, bytes, str, str, str | None] = (
            "ucwa",
            response.body,
            response.content_type,
            expiry.isoformat(),
            str(duration),
        )
        body = _RENDERED.get(key)
        if body is None:
            from ..ucwa import wire

            body = wire.retime(response.body, response.content_type, expiry, duration)
            _remember(_RENDERED, key, body)
    elif re.search(_RELAY_TOKEN_PATH, path):
        relay_token = _parsed_relay(response.body)
        lifetime = (
            None
            if relay_token.expiration_date is None
            else relay_token.expiration_date - relay_token.creation_date
        )
        changed, expiry = _new_expiry(now, lifetime, policy, rebase)
        if not changed:
            return response
        key = ("relay", response.body, "", now.isoformat(), _iso(expiry))
        body = _RENDERED.get(key)
        if body is None:
            from ..relay import wire as relay_wire

            body = _remember(_RENDERED, key, relay_wire.retime_token(response.body, now, expiry))
    else:
        return response
    headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    return FakeResponse(
        response.status,
        headers,
        body,
        response.delay,
        response.drop_connection,
        response.error_id,
        response.token,
    )


def rerender(response: FakeResponse, path: str, inputs: TestInputs) -> FakeResponse:
    """A replayed token answer as the test's markers ask: ``ucwa_format`` and ``ucwa_quirks``
    re-render the recorded UCWA token, ``token_clock_skew`` moves its instants as a server
    clock running that far ahead would; every other recorded byte is left alone."""
    skew = inputs.policy.server_skew
    fmt_marked, quirks_marked = inputs.marked_ucwa
    if response.status >= 300 or not response.body:
        return response
    content_type = response.content_type
    if path.endswith("mediaRelayAccessToken") and (fmt_marked or quirks_marked or skew):
        from ..ucwa import wire

        token, recorded_quirks, pretty = _parsed_ucwa(response.body, content_type)
        recorded_fmt = "xml" if "xml" in content_type else "json"
        fmt = inputs.ucwa_format if fmt_marked else recorded_fmt
        if not (quirks_marked or fmt != recorded_fmt):  # skew alone: only validUntil moves
            body = wire.retime(
                response.body,
                content_type,
                token.valid_until + skew,
                ticks=token.valid_until_ticks,  # the recorded 100 ns digit moves with it
            )
        else:
            quirks = inputs.quirks if quirks_marked else recorded_quirks
            token = token.model_copy(update={"valid_until": token.valid_until + skew})
            if fmt == "xml":
                body = wire.render_xml(token, quirks)
            else:
                body = wire.render_json(token, quirks, pretty=pretty)
            content_type = UCWA_CONTENT_TYPES[fmt] if fmt != recorded_fmt else content_type
    elif skew and re.search(_RELAY_TOKEN_PATH, path):
        from ..relay import wire as relay_wire

        relay_token = _parsed_relay(response.body)
        expiry = relay_token.expiration_date
        body = relay_wire.retime_token(
            response.body,
            relay_token.creation_date + skew,
            None if expiry is None else expiry + skew,
        )
    else:
        return response
    if body == response.body:
        return response
    headers = [
        (k, content_type if k.lower() == "content-type" else v)
        for k, v in response.headers
        if k.lower() != "content-length"
    ]
    headers.append(("Content-Length", str(len(body))))
    answer = response.copy()
    answer.headers, answer.body = headers, body
    return answer


# ---------------------------------------------------------------------------- live
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

    def secrets(self) -> list[str]:
        """The values a recording must never write."""
        pair = f"{self.username}:{self.password}".encode()
        found = [self.password, base64.b64encode(pair).decode("ascii")]
        if self.seam_token:
            found.append(self.seam_token)
        return [v for v in found if v]


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
        try:
            answer = self._pool.request(
                request.method,
                request.url,
                body=request.body or None,
                headers=dict(request.headers),
                redirect=False,
                retries=False,
                timeout=urllib3.Timeout(connect=10, read=30),
            )
        except urllib3.exceptions.HTTPError as exc:
            raise BackendError(
                f"{self.name}: {request.method} {urlsplit(request.url).netloc}"
                f"{request.path} failed: {type(exc).__name__}"
            ) from None
        headers = [
            (k, v)
            for k, v in answer.headers.items()
            if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")
        ]
        headers.append(("Content-Length", str(len(answer.data))))
        return FakeResponse(answer.status, headers, answer.data), None, True


def live_credentials(api: str) -> tuple[str, LiveCredentials]:
    """The base URL and credentials of the live ``api`` server, from the environment."""
    names = ENVIRONMENT[api]
    missing = [names[k] for k in ("url", "username", "password") if not os.environ.get(names[k])]
    if missing:
        raise MissingEnvironment(
            f"live backend for {api}: set the environment variable(s) {', '.join(missing)} "
            "(base URL and credentials of the server to test against), or skip such tests with "
            "--relaytokens-live-missing=skip"
        )
    seam = os.environ.get(names["seam_token"]) if "seam_token" in names else None
    url = os.environ[names["url"]].strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BackendError(f"live backend for {api}: {names['url']} must be an http(s) URL")
    if api == "relay" and parts.path.rstrip("/").endswith("/api"):
        url = url[: -len("/api")]  # the Relay paths already start with /api
    return url, LiveCredentials(os.environ[names["username"]], os.environ[names["password"]], seam)


def live_secrets() -> list[str]:
    """Every live credential set in the environment (for the recorder's secret scan)."""
    found: list[str] = []
    for api in ENVIRONMENT:
        names = ENVIRONMENT[api]
        user = os.environ.get(names["username"], "")
        password = os.environ.get(names["password"], "")
        seam = os.environ.get(names.get("seam_token", ""), "") if "seam_token" in names else ""
        found.extend(LiveCredentials(user, password, seam or None).secrets() if password else [])
        if seam and seam not in found:
            found.append(seam)
    return found


class LiveBackend:
    """A real server: every request forwarded; recorded into the test's cassette unless the
    record mode is ``none``."""

    name = "live"

    def __init__(self, inputs: TestInputs) -> None:
        self.inputs = inputs
        self.services: dict[str, FakeService] = {}
        self._recording: contextlib.ExitStack | None = None
        self._ucwa_response: FakeResponse | None = None
        #: why the recording is incomplete (set by the test's context when the call phase
        #: did not pass); ``rewrite`` then keeps the previous cassette
        self.unfinished: str | None = None

    def _start_recording(self) -> None:
        inputs = self.inputs
        if self._recording is not None or inputs.record_mode == "none":
            return
        from ..cassettes.locking import cassette_lock
        from ..cassettes.recording import record

        secrets = live_secrets()
        stack = contextlib.ExitStack()
        mode = inputs.record_mode
        if inputs.shared:
            # One recorder at a time (xdist workers too); each adds to what is there, and
            # "rewrite" starts afresh only for the run's first test on the cassette.
            stack.enter_context(cassette_lock(inputs.cassette))
            done = _run_marker(inputs.run_id, inputs.cassette)
            if mode == "rewrite" and done.exists():
                mode = "all"
            stack.push(functools.partial(_touch_on_success, done))
        stack.enter_context(
            record(
                inputs.cassette,
                mode=mode,  # type: ignore[arg-type]
                extra_secrets=secrets,
                extra_patterns=inputs.secret_patterns,
            )
        )
        self._recording = stack

    def api_service(self, api: str) -> FakeService:
        service = self.services.get(api)
        if service is None:
            base_url, credentials = live_credentials(api)
            self._start_recording()
            service = self.services[api] = LiveService(
                api, base_url, credentials, self.inputs.clock
            )
        return service

    def ucwa_token_response(self) -> FakeResponse:
        if self._ucwa_response is None:
            self._ucwa_response = live_ucwa_token_response(
                self.api_service("ucwa"), self.inputs.ucwa_format
            )
        return self._ucwa_response

    def ucwa_token(self) -> MediaRelayAccessToken:
        from ..ucwa import wire

        response = self.ucwa_token_response()
        if response.status != 200:
            raise BackendError(
                f"live backend: the UCWA token request answered {response.status} "
                f"({body_digest(response.body)})"
            )
        return wire.parse(response.body, response.content_type, source="live token response")

    def relay_token(self) -> RelayAccessToken:
        from ..relay import wire

        api: Any = self.api_service("relay")
        never = self.inputs.policy.never_expires
        response = api.handle(
            FakeRequest.build(
                "POST",
                api.base_url + "/api/auth/accesstokens" + ("?duration=-1" if never else ""),
                {
                    "Authorization": api.credentials.basic_authorization,
                    "Accept": "application/json",
                },
            )
        )
        if response.status != 200:
            raise BackendError(
                f"live backend: creating a Relay token answered {response.status} "
                f"({body_digest(response.body)})"
            )
        return wire.parse_token(response.body, source="live POST /api/auth/accesstokens")

    def teardown_problems(self, allow_unplayed: bool) -> list[str]:
        return []

    def close(self) -> None:
        stack, self._recording = self._recording, None
        self.services.clear()
        if stack is None:
            return
        if self.unfinished is None:
            stack.close()
            return
        from ..cassettes.recording import RecordingAborted

        # record() sees the failure: "rewrite" keeps the previous cassette (and warns)
        error = RecordingAborted(self.unfinished)
        stack.__exit__(RecordingAborted, error, None)


def _lock_dir() -> Path:
    import tempfile

    folder = (
        Path(tempfile.gettempdir()) / f"relaytokens-{os.getuid() if hasattr(os, 'getuid') else 0}"
    )
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _key(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]


def _run_marker(run_id: str, cassette: Path) -> Path:
    run = hashlib.sha256(run_id.encode()).hexdigest()[:16]
    return _lock_dir() / f"{run}-{_key(cassette)}.recorded"


def _touch_on_success(path: Path, *exc_info: Any) -> bool:
    """An exit callback: the shared cassette counts as rewritten in this run only when
    the recording succeeded (a failed first test kept the previous one)."""
    if exc_info[0] is None:
        path.touch()
    return False


def live_ucwa_token_response(api: FakeService, fmt: str) -> FakeResponse:
    """Walk a live UCWA server to its token (see :func:`sign_in_to_token`)."""
    creds: Any = getattr(api, "credentials")  # noqa: B009
    try:
        signed_in = sign_in_to_token(
            api.handle,
            api.base_url,
            creds.username,
            creds.password,
            accept=f"application/{fmt}",
            credential_hosts=os.environ.get(CREDENTIAL_HOSTS_VARIABLE, "").split(","),
        )
    except SignInError as error:
        raise BackendError(f"live {error}") from None
    return signed_in.token
